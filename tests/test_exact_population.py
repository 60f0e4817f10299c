"""Exact population quantities vs Monte Carlo, Bayes optimality and exact boundary limits."""

from functools import lru_cache

import jax
import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st
from scipy.spatial import cKDTree

from toylab import data
from toylab.exact import geometry as geo
from toylab.exact import population as pop
from toylab.exact.boundary import decision_boundary
from toylab.exact.partition import partition
from toylab.models import PIECEWISE_LINEAR, activations

N_MC = 10**6
Z = 4.0  # Monte Carlo agreement within Z standard errors


def _random_net(seed, widths, *, bias=0.5):
    """He-normal weights and N(0, bias^2) biases, float64 (numpy: no JAX compiles per shape)."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a), rng.normal(size=b) * bias)
            for a, b in zip(widths[:-1], widths[1:])]


def _lda(dist):
    """Bayes-optimal logits for shared-covariance single-Gaussian classes (LDA), by hand."""
    P = np.linalg.inv(dist.covs[0])
    W = (dist.means @ P).T
    b = -0.5 * np.einsum("ki,ij,kj->k", dist.means, P, dist.means) + np.log(dist.weights)
    return [(W, b)]


@lru_cache(maxsize=None)
def _bayes(name, **kw):
    dist = data.make(name, **kw)
    return dist, dist.bayes_error_with_bound()


def _within(exact, mc, se, z=Z):
    """|exact - mc| < z se, plus float64 summation rounding of the Monte Carlo average
    (matters only for constant neurons, whose standard error is 0)."""
    slack = 1e-9 * (1 + np.abs(mc))
    np.testing.assert_array_less(np.abs(np.asarray(exact) - mc), z * np.asarray(se) + slack)


# ----------------------------------------------------------------------------- Monte Carlo


@pytest.fixture(scope="module")
def xor_sample():
    dist = data.xor(separation=1.5, std=0.7)
    return dist, dist.sample(0, N_MC)


@pytest.mark.parametrize("activation", PIECEWISE_LINEAR)
def test_moments_match_monte_carlo(activation, xor_sample):
    dist, (X, y, _) = xor_sample
    net = _random_net(3, (2, 6, 5, 2))
    net[0][0][:, 4] = 0.0  # a zero-weight neuron: constant everywhere
    net[0][1][5] = -100.0  # dead for relu/hard_tanh, huge constant for others
    p = pop.population_partition(net, dist, activation=activation)
    with jax.enable_x64(True):  # float64 forward pass, the independent reference
        acts = activations(net, X, activation)
    for layer in range(3):
        Y = np.asarray(acts.post[layer], np.float64)
        m = pop.layer_moments(p, dist, layer)
        _within(m.mean, Y.mean(0), Y.std(0) / np.sqrt(N_MC))
        C = Y - Y.mean(0)
        cov = C.T @ C / N_MC
        var_of_products = (C**2).T @ (C**2) / N_MC - cov**2
        _within(m.cov, cov, np.sqrt(np.maximum(var_of_products, 0) / N_MC))
        assert np.all(m.mean_bound < 1e-6) and np.all(m.cov_bound < 1e-5)
        assert m.mass_outside <= 1e-12
    H = np.asarray(acts.post[0], np.float64)
    for c in range(dist.n_classes):
        Hc = H[y == c, 0]
        ccm = pop.class_conditional_means(p, dist, (0, 0))
        _within(ccm.value[c], Hc.mean(), Hc.std() / np.sqrt(len(Hc)))
    # single-neuron API agrees with the layer API
    m1 = pop.layer_moments(p, dist, 1)
    assert pop.neuron_expectation(p, dist, (1, 2)).value == pytest.approx(m1.mean[2], abs=1e-14)
    assert pop.neuron_variance(p, dist, (1, 2)).value == pytest.approx(m1.cov[2, 2], abs=1e-14)
    # correlation across layers: standard error from 100 batch estimates
    a, b = H[:, 1], np.asarray(acts.post[1], np.float64)[:, 3]
    batches = [np.corrcoef(u, v)[0, 1] for u, v in zip(np.split(a, 100), np.split(b, 100))]
    corr = pop.neuron_correlation(p, dist, (0, 1), (1, 3))
    _within(corr.value, np.corrcoef(a, b)[0, 1], np.std(batches) / 10)
    cov = pop.neuron_covariance(p, dist, (0, 1), (1, 3)).value
    assert corr.value == pytest.approx(
        cov / np.sqrt(pop.neuron_variance(p, dist, (0, 1)).value
                      * pop.neuron_variance(p, dist, (1, 3)).value), rel=1e-12)
    # constant neurons have zero variance; their correlation is undefined
    assert abs(pop.neuron_variance(p, dist, (0, 4)).value) < 1e-12
    assert np.isnan(pop.neuron_correlation(p, dist, (0, 4), (0, 1)).value)
    # accuracy
    acc = pop.population_accuracy(p, dist)
    pred = np.argmax(np.asarray(acts.post[-1]), 1)
    _within(acc.value, np.mean(pred == y), np.sqrt(acc.value * (1 - acc.value) / N_MC))


def test_region_masses_match_monte_carlo_and_cover_the_plane(xor_sample):
    dist, (X, y, _) = xor_sample
    p = pop.population_partition(_random_net(5, (2, 8, 2)), dist, activation="relu")
    rm = pop.region_masses(p, dist)
    assert rm.value.shape == (len(p),) and rm.per_class.shape == (2, len(p))
    np.testing.assert_allclose(rm.per_class.sum(0), rm.value, rtol=0, atol=1e-15)
    assert 0 <= rm.mass_outside <= 1e-12
    assert abs(1 - rm.value.sum() - rm.mass_outside) < 1e-14
    box = np.stack([p.domain.min(0), p.domain.max(0)], 1)
    assert rm.mass_outside <= dist.mass_outside(box) + 1e-15  # union bound is an upper bound
    freq = np.bincount(p.locate(X), minlength=len(p)) / N_MC
    q = np.clip(rm.value, 0, 1)  # far-tail regions: masses ~1e-18 of either sign (rounding)
    _within(rm.value, freq, np.sqrt(q * (1 - q) / N_MC))
    for mass in (0.5, 0.9, 0.99):
        k = pop.regions_carrying(p, dist, mass)
        top = np.sort(rm.value)[::-1]
        assert top[:k].sum() >= mass and (k == 1 or top[: k - 1].sum() < mass)
    with pytest.raises(ValueError, match="mass=1.5"):
        pop.regions_carrying(p, dist, 1.5)


# ----------------------------------------------------------------------------- the object


def _every_quantity(pp, dist):
    """Every population read-out, through the object and through the old functions."""
    out = [pp.accuracy, pp.risk, pp.excess_risk, pp.region_masses, pp.mass_outside,
           pp.regions_carrying(0.9), pp.class_conditional_means((0, 1)),
           pp.neuron_expectation((1, 0)), pp.neuron_variance((0, 2)),
           pp.neuron_covariance((0, 1), (1, 2)), pp.neuron_correlation((0, 1), (1, 2))]
    out += [pp.layer_moments(layer) for layer in range(3)]
    for d in (dist, None):
        out += [pop.population_accuracy(pp, d), pop.population_risk(pp, d),
                pop.excess_risk(pp, d), pop.region_masses(pp, d), pop.domain_mass_outside(pp, d),
                pop.regions_carrying(pp, d, 0.9), pop.class_conditional_means(pp, d, (0, 1)),
                pop.neuron_expectation(pp, d, (1, 0)), pop.neuron_variance(pp, d, (0, 2)),
                pop.neuron_covariance(pp, d, (0, 1), (1, 2)),
                pop.neuron_correlation(pp, d, (0, 1), (1, 2))]
        out += [pop.layer_moments(pp, d, layer) for layer in range(3)]
    return out


def _assert_same(a, b):
    """Bitwise equality of nested tuples of numbers and arrays."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_population_partition_integrates_each_polygon_set_once(monkeypatch):
    """Regions, domain and class cells are integrated once each, however many quantities
    are read (through the object or the old (partition, dist) functions)."""
    from toylab.exact.population import moments

    calls = []
    real = moments.mixture_polygon_moments
    monkeypatch.setattr(moments, "mixture_polygon_moments",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    dist = data.make("blobs", k=3)
    pp = pop.population_partition(_random_net(4, (2, 6, 5, 3)), dist, activation="relu")
    assert isinstance(pp, pop.PopulationPartition) and pp.dist is dist
    first = tuple(_every_quantity(pp, dist))
    assert len(calls) == 3
    second = tuple(_every_quantity(pp, dist))
    assert len(calls) == 3
    _assert_same(first, second)


def test_plain_partition_and_population_partition_agree():
    """The old pair API on a plain Partition gives what the object holds, bitwise; another
    distribution with the same object is integrated afresh for that distribution."""
    dist = data.make("blobs", k=3)
    net = _random_net(6, (2, 6, 5, 3))
    pp = pop.population_partition(net, dist, activation="relu")
    plain = partition(net, pp.domain, activation="relu")
    np.testing.assert_array_equal(plain.vertices, pp.vertices)
    plain.post  # computed arrays are shared with the population view
    view = pop.as_population(plain, dist)
    assert view.post is plain.post and pop.as_population(pp) is pp
    _assert_same(tuple(_every_quantity(view, dist)), tuple(_every_quantity(pp, dist)))
    other = data.make("blobs", k=3, std=1.3)
    moved = pop.as_population(pp, other)
    assert moved.dist is other and moved.accuracy.value != pp.accuracy.value
    assert pop.population_accuracy(pp, other) == pop.population_accuracy(plain, other)
    assert pop.layer_moments(pp, other, 0).mean.tolist() == moved.layer_moments(0).mean.tolist()
    # a PopulationPartition is a Partition: the forward pass through it is the network's
    X = dist.sample(0, 200).X
    with jax.enable_x64(True):
        want = np.asarray(activations(net, X, "relu").post[-1], np.float64)
    np.testing.assert_allclose(pp.evaluate(X), want, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- Bayes


def _shared_cov_unequal_priors():
    return data.GaussianMixture(np.array([[-0.5, 0.2], [0.8, -0.4]]),
                                np.tile([[1.0, 0.4], [0.4, 0.6]], (2, 1, 1)), weights=[0.3, 0.7])


@pytest.mark.parametrize("dist", [data.two_gaussians(separation=2.0), _shared_cov_unequal_priors(),
                                  data.blobs(3), data.overlapping_blobs(4)],
                         ids=lambda d: d.name + str(d.n_components))
def test_lda_network_attains_bayes_error(dist):
    p = pop.population_partition(_lda(dist), dist, activation="linear")
    acc = pop.population_accuracy(p, dist)
    bayes = dist.bayes_error_with_bound()
    gap = abs(acc.value - (1 - bayes.value))
    assert gap <= acc.error_bound + bayes.error_bound + 1e-14 and gap < 1e-9
    ex = pop.excess_risk(p, dist)
    assert abs(ex.value) <= ex.error_bound + 1e-14
    for i, j in [(0, 1), (1, dist.n_classes - 1)]:
        if i != j:
            h = pop.hausdorff_to_bayes(p, dist, i, j)
            assert h.bayes_exact and h.value < 1e-12


def test_abs_network_attains_bayes_error_on_xor():
    """|x+y| - |x-y| has the sign of xy: the Bayes classifier of symmetric XOR (curved,
    multi-component log-odds, traced boundary with a saddle at the origin)."""
    dist, bayes = _bayes("xor", separation=1.0, std=0.8)
    net = [(np.array([[1.0, 1.0], [1.0, -1.0]]), np.zeros(2)),
           (np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2))]
    p = pop.population_partition(net, dist, activation="abs")
    acc = pop.population_accuracy(p, dist)
    assert abs(acc.value - (1 - bayes.value)) <= acc.error_bound + bayes.error_bound + 1e-14
    h = pop.hausdorff_to_bayes(p, dist, tol=1e-8)
    assert not h.bayes_exact and h.value <= h.tolerance


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), activation=st.sampled_from(PIECEWISE_LINEAR),
       hidden=st.lists(st.integers(1, 6), min_size=0, max_size=2),
       name=st.sampled_from(["two_gaussians", "xor"]), zero=st.floats(0, 0.5))
def test_no_network_beats_bayes(seed, activation, hidden, name, zero):
    dist, bayes = _bayes(name, **({"separation": 1.0} if name == "two_gaussians" else
                                  {"separation": 1.0, "std": 0.8}))
    net = _random_net(seed, (2, *hidden, 2))
    rng = np.random.default_rng(seed)
    net = [(W * (rng.random(W.shape) >= zero), b) for W, b in net]  # some zero weights
    p = pop.population_partition(net, dist, activation=activation)
    risk = pop.population_risk(p, dist)
    assert risk.value >= bayes.value - risk.error_bound - bayes.error_bound


def test_tied_logits_predict_the_first_class():
    dist = _shared_cov_unequal_priors()  # priors 0.3, 0.7
    net = [(np.zeros((2, 3)), np.zeros(3)), (np.zeros((3, 2)), np.zeros(2))]
    p = pop.population_partition(net, dist, activation="relu")
    acc = pop.population_accuracy(p, dist)
    assert abs(acc.value - 0.3) <= acc.error_bound + 1e-14
    assert pop.hausdorff_to_bayes(p, dist).value == np.inf  # no learned boundary at all


def _tie(net, mode, rng):
    """Make the output layer's logits tie: ``exact`` copies logit 0 into logit 1, ``near``
    adds ~1e-200 noise to that copy, ``tiny`` scales every logit by 1e-200 (all differences
    ~1e-200, the regression case of nearly tied logits that once lost every class cell)."""
    *hidden, (W, b) = net
    W, b = W.copy(), b.copy()
    if mode == "tiny":
        W, b = W * 1e-200, b * 1e-200
    elif mode != "none":
        noise = 1e-200 * (mode == "near")
        W[:, 1] = W[:, 0] + noise * rng.normal(size=len(W))
        b[1] = b[0] + noise * rng.normal()
    return [*hidden, (W, b)]


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), activation=st.sampled_from(PIECEWISE_LINEAR),
       hidden=st.lists(st.integers(1, 4), min_size=0, max_size=1), n_classes=st.sampled_from([2, 3]),
       mode=st.sampled_from(["none", "exact", "near", "tiny"]))
def test_prediction_cells_cover_the_domain(seed, activation, hidden, n_classes, mode):
    """Every point of the domain is predicted as exactly one class: summed over the cyclic
    relabellings of the components, the accuracies add up to ``P(domain) = 1 - mass_outside``
    (a gap or an overlap of class cells of any area would show)."""
    rng = np.random.default_rng(seed)
    net = _tie(_random_net(seed, (2, *hidden, n_classes)), mode, rng)
    means = rng.normal(size=(n_classes, 2))
    total, out = 0.0, None
    for shift in range(n_classes):
        dist = data.GaussianMixture(means, 1.0, labels=(np.arange(n_classes) + shift) % n_classes)
        acc = pop.population_accuracy(pop.population_partition(net, dist, activation=activation),
                                      dist)
        total, out = total + acc.value, acc.mass_outside
    assert abs(total - (1.0 - out)) < 1e-12


# ----------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("shift", [0.0, 0.3, -1.7])
def test_hausdorff_of_shifted_lda_is_the_shift(shift):
    dist = data.two_gaussians(separation=3.0, std=1.0)  # Bayes boundary x0 = 0
    (W, b), = _lda(dist)
    p = pop.population_partition([(W, b + [0.0, shift])], dist, activation="linear")
    # learned boundary: 3 x0 + shift = 0, a vertical line crossing the whole box
    h = pop.hausdorff_to_bayes(p, dist)
    assert abs(h.value - abs(shift) / 3.0) < 1e-12


def test_hausdorff_curved_matches_dense_sampling():
    """Curved (quadratic) Bayes boundary: the traced result agrees with a brute-force
    Hausdorff distance between densely sampled curves (exact conic roots, spacing 2e-3)."""
    dist, _ = _bayes("curved")
    p = pop.population_partition(_random_net(11, (2, 5, 2), bias=1.0), dist, activation="relu")
    h = pop.hausdorff_to_bayes(p, dist, tol=1e-7)
    box = h.box
    x0, x1 = sympy.symbols("x0:2", real=True)
    f = dist.bayes_boundary(0, 1, symbols=(x0, x1))
    pts = []
    for var, other, k in ((x0, x1, 0), (x1, x0, 1)):  # roots in x1 for given x0, and vice versa
        coeffs = sympy.lambdify(var, sympy.Poly(f, other).all_coeffs())
        for v in np.arange(box[k, 0], box[k, 1], 2e-3):
            for r in np.roots(np.array(coeffs(v), float)):
                if abs(r.imag) < 1e-12:
                    pts.append((v, r.real) if k == 0 else (r.real, v))
    curve = np.array(pts)
    curve = curve[np.all((curve >= box[:, 0]) & (curve <= box[:, 1]), 1)]
    segs, pairs = decision_boundary(p, classes=True)
    learned = geo.clip_segments(segs, *geo.box_halfplanes(box))
    t = np.linspace(0, 1, 2000)[:, None, None]
    dense = (learned[None, :, 0] * (1 - t) + learned[None, :, 1] * t).reshape(-1, 2)
    d_bayes = geo.point_segment_distances(curve, learned).min(1).max()
    d_learned = cKDTree(curve).query(dense)[0].max()
    assert len(learned) > 0 and len(curve) > 1000
    assert abs(h.bayes_to_learned - d_bayes) < 3e-3
    assert abs(h.learned_to_bayes - d_learned) < 3e-3


# ----------------------------------------------------------------------------- bad input


def test_bad_input():
    dist3 = data.two_gaussians(dim=3)
    with pytest.raises(ValueError, match="3-D inputs"):
        pop.population_partition(_random_net(0, (3, 4, 2)), dist3, activation="relu")
    dist = data.two_gaussians()
    p = pop.population_partition(_random_net(0, (2, 4, 2)), dist, activation="relu")
    with pytest.raises(ValueError, match="3-D inputs"):
        pop.region_masses(p, dist3)
    sliced = partition(_random_net(0, (3, 4, 2)), dist.domain, activation="relu",
                       directions=np.eye(3)[:2])
    with pytest.raises(ValueError, match="slice"):
        pop.layer_moments(sliced, dist, 0)
    with pytest.raises(ValueError, match="neuron="):
        pop.neuron_expectation(p, dist, (0, 9))
    with pytest.raises(ValueError, match="mass_outside="):
        pop.population_partition(_random_net(0, (2, 4, 2)), dist, activation="relu",
                                 mass_outside=0.0)
    with pytest.raises(ValueError, match="box="):
        pop.hausdorff_to_bayes(p, dist, box=[[1.0, 0.0], [0.0, 1.0]])
