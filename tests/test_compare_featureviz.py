"""compare.featureviz: the exact maximiser beats every feature-visualisation result and every
forward pass, exact superlevel sets and distances, exact top quantiles vs Monte Carlo (4 SE),
plateaus, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab.compare import featureviz as fv
from toylab.data import GaussianMixture, xor
from toylab.exact import geometry as geo
from toylab.exact import neuron_extrema, partition, superlevel_area
from toylab.exact.gaussian import mixture_polygon_moments, pad_csr
from toylab.exact.population import population_partition

BOX = np.array([[-3.0, 3.0], [-2.0, 2.0]])


def _net(seed, widths=(2, 4, 3, 2), scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * scale, rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


def _forward(net, X, activation):
    """Plain float64 NumPy forward pass: hidden post-activations ``(n, N)``."""
    act = {"relu": lambda z: np.maximum(z, 0), "abs": np.abs,
           "hard_tanh": lambda z: np.clip(z, -1, 1)}[activation]
    h, out = X, []
    for W, b in net[:-1]:
        h = act(h @ W + b)
        out.append(h)
    return np.hstack(out)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), activation=st.sampled_from(["relu", "abs", "hard_tanh"]))
def test_exact_maximum_beats_feature_visualisation_and_every_forward_pass(seed, activation):
    net = _net(seed)
    p = partition(net, BOX, activation=activation)
    pts = fv.feature_visualisation(net, BOX, activation=activation, starts=4, steps=30,
                                   step_size=0.1, seed=seed)
    assert pts.shape == (7, 4, 2)
    assert np.all((pts >= BOX[:, 0]) & (pts <= BOX[:, 1]))
    X = np.random.default_rng(seed).uniform(BOX[:, 0], BOX[:, 1], (2000, 2))
    F = _forward(net, np.vstack([X, pts.reshape(-1, 2)]), activation)
    ids = [(l, i) for l in range(2) for i in range(net[l][0].shape[1])]
    for n, neuron in enumerate(ids):
        ext = neuron_extrema(p, neuron)
        slack = 1e-9 * (1 + abs(ext.max))
        assert F[:, n].max() <= ext.max + slack
        assert p.evaluate(pts[n], neuron[0])[:, neuron[1]].max() <= ext.max + slack
        assert _forward(net, ext.argmax[None], activation)[0, n] == pytest.approx(ext.max,
                                                                                abs=slack)


def test_gradient_ascent_finds_the_corner_of_a_single_relu():
    w, b = np.array([[1.0], [2.0]]), np.array([0.5])
    net = [(w, b), (np.ones((1, 2)), np.zeros(2))]
    pts = fv.feature_visualisation(net, BOX, activation="relu", starts=8, steps=100,
                                   step_size=0.5, seed=1)
    p = partition(net, BOX, activation="relu")
    X0 = BOX[:, 0] + np.random.default_rng(1).random((1, 8, 2)) * (BOX[:, 1] - BOX[:, 0])
    live = (X0[0] @ w[:, 0] + b[0]) > 0  # starts on the dead side have zero gradient
    np.testing.assert_allclose(pts[0, live], np.broadcast_to([3.0, 2.0], (live.sum(), 2)))
    np.testing.assert_allclose(pts[0, ~live], X0[0, ~live], atol=1e-6)
    assert neuron_extrema(p, (0, 0)).argmax.tolist() == [3.0, 2.0]


def test_superlevel_polygons_area_and_distances_are_exact():
    net = [(np.array([[1.0, 0.3], [2.0, -1.0]]), np.array([0.5, 0.1])),
           (np.ones((2, 2)), np.zeros(2))]
    p = partition(net, BOX, activation="relu")
    for t in (0.5, 2.0, 6.0):
        verts, counts = fv.superlevel_polygons(p, (0, 0), t)
        assert geo.polygon_areas(verts, counts).sum() == pytest.approx(
            superlevel_area(p, (0, 0), t), rel=1e-12)
    # first-layer neuron: outside {w.x + b >= t}, the distance is (t - w.x - b) / |w|
    verts, counts = fv.superlevel_polygons(p, (0, 0), 2.0)
    X = np.array([[0.0, 0.0], [-1.0, 0.2], [2.9, 1.9]])
    z = X @ net[0][0][:, 0] + 0.5
    d = fv.distance_to_set(X, verts, counts, z >= 2.0)
    np.testing.assert_allclose(d[:2], (2.0 - z[:2]) / np.sqrt(5.0), rtol=1e-12)
    assert d[2] == 0.0


@pytest.fixture(scope="module")
def quantile_case():
    dist = xor()
    net = _net(3, (2, 5, 2))
    p = population_partition(net, dist, activation="relu")
    smp = dist.sample(7, 400_000)
    return dist, net, p, _forward(net, smp.X, "relu")


@pytest.mark.parametrize("neuron", [0, 1, 2, 3, 4])
def test_top_quantile_matches_monte_carlo_within_4_se(quantile_case, neuron):
    dist, net, p, F = quantile_case
    q = 0.05
    f = F[:, neuron]
    if np.mean(f > 0) < q:  # plateau case, tested separately
        return
    tq = fv.top_quantile(p, dist, (0, neuron), q)
    n = len(f)
    above = f >= tq.threshold
    assert abs(above.mean() - q) <= 4 * np.sqrt(q * (1 - q) / n)
    top = f * above
    assert abs(top.mean() / q - tq.mean) <= 4 * top.std() / np.sqrt(n) / q + 1e-9
    assert fv.mass_in(p, dist, (0, neuron), tq.threshold) == pytest.approx(q, abs=1e-9)


@pytest.mark.parametrize("level", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_superlevel_mass_reusing_region_moments_equals_integrating_the_clipped_set(
        quantile_case, level):
    """Regions wholly above the threshold come from the PopulationPartition's cached moments;
    the independent path clips every region and integrates the polygons afresh."""
    dist, _, p, _ = quantile_case
    for neuron in [(0, i) for i in range(p.widths[1])] + [(1, 0)]:
        ext = neuron_extrema(p, neuron)
        t = ext.min + level * (ext.max - ext.min)
        verts, counts = fv.superlevel_polygons(p, neuron, t)
        direct = (np.asarray(dist.weights) @ mixture_polygon_moments(
            pad_csr(verts, counts), dist).m0).sum() if len(counts) else 0.0
        assert fv.mass_in(p, dist, neuron, t) == pytest.approx(direct, rel=1e-12, abs=1e-15)


def test_top_quantile_on_plateaus():
    dist = GaussianMixture([[0.0, 0.0], [3.0, 0.0]], 1.0)
    # hard_tanh saturates at 1 for x0 > 1: far more than q of the mass sits on the top plateau
    sat = [(np.array([[1.0], [0.0]]), np.zeros(1)), (np.ones((1, 2)), np.zeros(2))]
    tq = fv.top_quantile(population_partition(sat, dist, activation="hard_tanh"), dist,
                         (0, 0), 0.05)
    assert tq.threshold == 1.0 and tq.mean == 1.0
    # relu active on less than q: the threshold is the zero plateau, the mean E[f 1{f>0}] / q
    rare = [(np.array([[1.0], [0.0]]), np.array([-6.0])), (np.ones((1, 2)), np.zeros(2))]
    p = population_partition(rare, dist, activation="relu")
    q = 0.2
    tq = fv.top_quantile(p, dist, (0, 0), q)
    mass, first = fv._superlevel_moments(p, fv._neuron_map(p, (0, 0)), 1e-12)
    assert mass < q and tq.threshold == pytest.approx(0.0, abs=1e-9)
    assert tq.mean == pytest.approx(first / q, rel=1e-6)


def test_score_neurons_on_a_trained_like_net():
    dist = xor()
    net = _net(4, (2, 4, 2))
    net[0] = (net[0][0], np.array([0.1, -0.2, 0.3, -40.0]))  # neuron 3 dead on the box
    pb = partition(net, dist.domain, activation="relu")
    pp = population_partition(net, dist, activation="relu")
    pts = fv.feature_visualisation(net, dist.domain, activation="relu", starts=4, steps=60)
    smp = dist.sample(0, 300)
    sc = fv.score_neurons(pb, pp, dist, pts, smp.X, k=5)
    assert sc.constant.tolist() == [False, False, False, True]
    live = ~sc.constant
    assert np.all(sc.fv_best[live] <= sc.max[live] + 1e-9)
    assert np.all((sc.fv_gap[live] >= 0) & (sc.fv_gap[live] <= 1))
    assert np.all(sc.fv_distance[live][sc.fv_found[live] == 1] == 0)
    assert np.all(sc.topk_max_gap[live] >= -1e-12)
    assert np.all(np.isnan(sc.fv_gap[~live]))


def test_top_examples_and_bad_input():
    assert fv.top_examples(np.array([1.0, 3.0, 2.0, 3.0]), 3).tolist() == [1, 3, 2]
    with pytest.raises(ValueError, match="k=0"):
        fv.top_examples(np.ones(3), 0)
    net = _net(0)
    with pytest.raises(ValueError, match="box="):
        fv.feature_visualisation(net, [[1, 0], [0, 1]], activation="relu")
    with pytest.raises(ValueError, match="step_size"):
        fv.feature_visualisation(net, BOX, activation="relu", step_size=0.0)
    with pytest.raises(ValueError, match="neurons contains"):
        fv.feature_visualisation(net, BOX, activation="relu", neurons=[(2, 0)])
    p = partition(net, BOX, activation="relu")
    with pytest.raises(ValueError, match="q="):
        fv.top_quantile(p, xor(), (0, 0), 1.5)
    with pytest.raises(ValueError, match="fv_points"):
        fv.score_neurons(p, p, xor(), np.zeros((2, 3, 2)), np.zeros((5, 2)))


def test_non_finite_input_is_an_error_not_a_silent_answer():
    """NaN weights used to give NaN feature-visualisation points, a NaN threshold a mass of
    ~1, NaN activations a top-k ranking, a mis-sized mask an IndexError."""
    dist = xor()
    net = _net(0, (2, 3, 2))
    nan_net = [(W.copy(), b.copy()) for W, b in net]
    nan_net[0][0][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite weight values in layer 0 \(first: neuron 2"):
        fv.feature_visualisation(nan_net, dist.domain, activation="relu", starts=2, steps=2)
    p = population_partition(net, dist, activation="relu")
    with pytest.raises(ValueError, match="threshold=nan must be a finite activation level"):
        fv.mass_in(p, dist, (0, 0), np.nan)
    with pytest.raises(ValueError, match="threshold=inf"):
        fv.superlevel_polygons(p, (0, 0), np.inf)
    with pytest.raises(ValueError, match=r"values has shape \(2,\) and 1 NaN"):
        fv.top_examples(np.array([np.nan, 1.0]), 1)
    with pytest.raises(ValueError, match=r"inside has shape \(2,\); pass one bool per point"):
        fv.distance_to_set(np.zeros((3, 2)), np.zeros((0, 2)), np.zeros(0, int), np.zeros(2, bool))
    with pytest.raises(ValueError, match="examples is empty"):
        fv.score_neurons(p, p, dist, np.zeros((3, 2, 2)), np.zeros((0, 2)), k=1)
