"""compare.region_quadrature and compare.neurons: quadrature exactness, target moments vs closed
forms, correlations vs Monte Carlo (4 SE), fold depth, kinds, bad input (segment distances
are tested with toylab.exact.geometry)."""

from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab.compare import neurons as cn
from toylab.compare import region_quadrature as rq
from toylab.data import GaussianMixture, curved, xor
from toylab.exact import folds
from toylab.exact.gaussian import mixture_polygon_moments
from toylab.exact.population import layer_moments, population_partition


def _mixture(angle=30.0, aniso=3.0, sep=2.0):
    a = np.deg2rad(angle)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    cov = R @ np.diag([aniso, 1 / aniso]) @ R.T
    return GaussianMixture([[-sep / 2, 0.0], [sep / 2, 0.0]], [cov, cov])


def _net(seed, widths=(2, 3, 2)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


# ----------------------------------------------------------------------------- quadrature


@settings(max_examples=15, deadline=None)
@given(order=st.integers(1, 6), a=st.integers(0, 10), b=st.integers(0, 10))
def test_triangle_rule_is_exact_up_to_degree_2n_minus_2(order, a, b):
    """On the reference triangle, int x^a y^b = a! b! / (a + b + 2)! (Dirichlet integral)."""
    if a + b > 2 * order - 2:
        return
    rule = rq.triangle_rule(order)
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    X = rule.bary @ tri
    approx = 0.5 * np.sum(rule.weights * X[:, 0] ** a * X[:, 1] ** b)
    exact = factorial(a) * factorial(b) / factorial(a + b + 2)
    assert approx == pytest.approx(exact, rel=1e-12, abs=1e-15)


def test_fan_and_subdivision_tile_the_polygons():
    square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]])
    pent = np.array([[0.0, 0.0], [1.0, 0.0], [1.5, 1.0], [0.5, 2.0], [-0.5, 1.0]])
    verts = np.concatenate([square, pent])
    tris, owner = rq.fan_triangles(verts, np.array([4, 5]))
    assert owner.tolist() == [0, 0, 1, 1, 1]
    def area(t):
        (ax, ay), (bx, by) = (t[:, 1] - t[:, 0]).T, (t[:, 2] - t[:, 0]).T
        return 0.5 * np.abs(ax * by - ay * bx)
    assert area(tris[owner == 0]).sum() == pytest.approx(2.0)
    kids = rq.subdivide(tris)
    assert kids.shape == (4 * len(tris), 3, 2)
    assert area(kids).reshape(-1, 4).sum(1) == pytest.approx(area(tris))


@pytest.mark.parametrize("dist", [_mixture(), curved()], ids=["tilted", "curved"])
def test_region_integrals_match_closed_form_polygon_moments(dist):
    """g = 1 and g = x_0 have closed-form region moments (toylab.exact.gaussian)."""
    p = population_partition(_net(1), dist, activation="relu")
    ri = rq.region_integrals(p, dist, lambda X, r: np.column_stack([np.ones(len(X)), X[:, 0]]),
                             rtol=1e-8)
    mom = mixture_polygon_moments(p.polygons, dist)
    w = np.asarray(dist.weights)
    m0 = w @ mom.m0
    m1 = np.tensordot(w, mom.m1, 1)
    m2 = np.tensordot(w, mom.m2, 1)
    assert ri.converged and ri.neglected_mass < 1e-11
    tol = ri.m0_error.sum(0) + 1e-12
    assert np.abs(ri.m0[:, 0] - m0).sum() <= tol[0] + 1e-11
    assert np.abs(ri.m0[:, 1] - m1[:, 0]).sum() <= tol[1] + 1e-11
    assert np.abs(ri.m1[:, 1] - m2[:, 0]).sum() <= ri.m1_error[:, 1].sum() + 1e-11


def test_mean_log_density_matches_closed_form():
    """E[log N_k(X)] = -log 2pi - log det(S_k)/2 - sum_j w_j [tr(S_k^-1 S_j) + d_jk' S_k^-1 d_jk]/2."""
    dist = curved()
    p = population_partition(_net(2), dist, activation="relu")
    ri = rq.region_integrals(p, dist, lambda X, r: dist.component_log_density(X)
                             - np.log(dist.weights), rtol=1e-9)
    for k, (mk, Sk) in enumerate(zip(dist.means, dist.covs)):
        P = np.linalg.inv(Sk)
        quad = sum(w * (np.trace(P @ Sj) + (mj - mk) @ P @ (mj - mk))
                   for w, mj, Sj in zip(dist.weights, dist.means, dist.covs))
        exact = -np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(Sk)) - 0.5 * quad
        assert abs(ri.m0[:, k].sum() - exact) <= ri.m0_error[:, k].sum() + 1e-10


def test_affine_target_correlation_matches_exact_second_moments():
    """For affine g = u . x + b, E[f g] follows from the exact second polygon moments."""
    dist = _mixture()
    net = _net(3, (2, 4, 3, 2))
    p = population_partition(net, dist, activation="relu")
    u, b0 = np.array([0.7, -1.3]), 0.4
    ri = rq.region_integrals(p, dist, lambda X, r: (X @ u + b0)[:, None], rtol=1e-9)
    mom = mixture_polygon_moments(p.polygons, dist)
    w = np.asarray(dist.weights)
    m0, m1, m2 = w @ mom.m0, np.tensordot(w, mom.m1, 1), np.tensordot(w, mom.m2, 1)
    A, c = p.post[0]
    exact = (np.einsum("rdn,rde,e->n", A, m2, u) + b0 * np.einsum("rdn,rd->n", A, m1)
             + np.einsum("rn,rd,d->n", c, m1, u) + b0 * c.T @ m0)
    approx = np.einsum("rdn,rd->n", A, ri.m1[:, 0]) + c.T @ ri.m0[:, 0]
    bound = np.einsum("rdn,rd->n", np.abs(A), ri.m1_error[:, 0]) + np.abs(c).T @ ri.m0_error[:, 0]
    assert np.all(np.abs(approx - exact) <= bound + 1e-11)


# ----------------------------------------------------------------------------- folds


def test_fold_depth_of_a_first_layer_neuron_is_the_mahalanobis_line_distance():
    """A first-layer fold is the line w . x + b = 0; its Mahalanobis distance from mu is
    |w . mu + b| / sqrt(w' S w) when the foot point lies inside the domain."""
    dist = _mixture()
    net = [(np.array([[1.0, -0.5], [0.3, 2.0]]), np.array([0.4, -0.2])),
           (np.ones((2, 2)), np.zeros(2))]
    p = population_partition(net, dist, activation="relu")
    for i in range(2):
        w, b = net[0][0][:, i], net[0][1][i]
        expect = min(abs(w @ m + b) / np.sqrt(w @ S @ w) for m, S in zip(dist.means, dist.covs))
        assert cn.fold_depth(folds(p, (0, i)), dist) == pytest.approx(expect, rel=1e-9)


# ----------------------------------------------------------------------------- profiles


@pytest.fixture(scope="module")
def small_profile():
    dist = _mixture()
    net = _net(5, (2, 3, 2))
    return dist, net, cn.neuron_profile(net, dist, activation="relu", rtol=1e-6)


def test_correlations_agree_with_monte_carlo_within_4_se(small_profile):
    dist, net, prof = small_profile
    p = population_partition(net, dist, activation="relu")
    tg = cn.targets(p, dist)
    smp = dist.sample(11, 100_000)
    G = tg.evaluate(smp.X, p.locate(smp.X))
    F = p.evaluate(smp.X, 0)
    batches = 50  # SE from batch means: valid without assuming normal data
    for i in range(F.shape[1]):
        if prof.std[i] == 0:
            continue
        for j in range(G.shape[1]):
            rho = np.corrcoef(F[:, i], G[:, j])[0, 1]
            per = [np.corrcoef(f, g)[0, 1] for f, g in
                   zip(np.split(F[:, i], batches), np.split(G[:, j], batches))]
            se = np.std(per, ddof=1) / np.sqrt(batches)
            assert abs(prof.corr[i, j] - rho) <= 4 * se + prof.corr_error[i, j]


def test_profile_moments_are_the_exact_layer_moments(small_profile):
    dist, net, prof = small_profile
    m = layer_moments(population_partition(net, dist, activation="relu"), dist, 0)
    np.testing.assert_allclose(prof.mean, m.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(prof.std, np.sqrt(np.diag(m.cov)), rtol=1e-12, atol=1e-15)


def test_log_odds_and_bayes_distance_correlate_identically_for_shared_covariance(small_profile):
    _, _, prof = small_profile
    lo, db = prof.targets.index("log_odds"), prof.targets.index("distance_bayes")
    live = prof.std > 0
    np.testing.assert_allclose(prof.corr[live, lo], prof.corr[live, db],
                               atol=prof.corr_error[live][:, [lo, db]].sum(1).max() + 1e-9)


def test_dead_and_zero_weight_neurons_are_classified_dead_without_nan_errors():
    dist = _mixture()
    net = [(np.array([[1.0, 0.0, 0.3], [0.5, 0.0, -0.2]]), np.array([0.1, 0.0, -50.0])),
           (np.ones((3, 2)), np.array([0.0, 0.1]))]
    prof = cn.neuron_profile(net, dist, activation="relu", rtol=1e-4)
    assert prof.active_mass[1] == 0 and prof.active_mass[2] < 1e-12  # zero weights, dead
    assert np.all(np.isnan(prof.corr[1:]))
    kinds = cn.classify(prof)
    assert [cn.KINDS[k] for k in kinds.kind[1:]] == ["dead", "dead"]
    assert not kinds.fold_in_data[1]  # no fold at all: depth inf
    fr = cn.kind_fractions(kinds)
    assert sum(fr[k] for k in cn.KINDS) == pytest.approx(1.0)


def test_classify_follows_the_thresholds():
    prof = cn.NeuronProfile(
        neurons=np.array([[0, i] for i in range(5)]), targets=(
            "log_odds", "log_density", "distance_bayes", "distance_learned"),
        mean=np.zeros(5), std=np.ones(5), active_mass=np.array([0.5, 0.5, 0.5, 0.5, 0.001]),
        corr=np.array([[0.95, 0.1, 0.9, 0.2], [0.1, -0.93, 0.0, 0.0], [0.9, 0.9, 0.0, 0.0],
                       [0.5, 0.5, 0.5, -0.5], [0.99, 0.0, 0.0, 0.0]]),
        corr_error=np.zeros((5, 4)), fold_depth=np.array([0.5, 3.0, 1.0, 1.0, 0.1]),
        fold_to_bayes=np.full(5, 0.1), fold_to_learned=np.array([0.1, 0.1, 0.9, np.nan, 0.1]),
        neglected_mass=0.0, converged=True)
    k = cn.classify(prof, cn.KindThresholds(corr=0.9, dead_mass=0.01, fold_depth=2.0,
                                            fold_radius=0.5))
    assert [cn.KINDS[i] for i in k.kind] == ["boundary", "density", "both", "other", "dead"]
    assert k.fold_in_data.tolist() == [True, False, True, True, True]
    assert k.fold_at_boundary.tolist() == [True, False, False, False, True]


# ----------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="order=0"):
        rq.triangle_rule(0)
    with pytest.raises(ValueError, match="corr=2"):
        cn.KindThresholds(corr=2.0)
    with pytest.raises(ValueError, match="dead_mass"):
        cn.KindThresholds(dead_mass=-1.0)
    with pytest.raises(ValueError, match="two-class"):
        cn.neuron_profile(_net(0, (2, 3, 2)), GaussianMixture(
            [[0, 0], [1, 1], [2, 0]], 1.0), activation="relu")
    dist = xor()
    with pytest.raises(ValueError, match="rtol"):
        rq.region_integrals(population_partition(_net(0), dist, activation="relu"), dist,
                            lambda X, r: X, rtol=0.0)
    with pytest.raises(ValueError, match=r"fn returned shape \(\d+, 2\) for \d+ points"):
        rq.region_integrals(population_partition(_net(0), dist, activation="relu"), dist,
                            lambda X, r: X[1:])
    with pytest.raises(ValueError, match="order=0 must be a positive integer"):
        cn.fold_distance(np.ones((1, 2, 2)), dist, np.ones((1, 2, 2)), order=0)
