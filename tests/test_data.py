"""Tests for toylab.data: densities vs scipy, sampling vs the density, Bayes error vs closed form
and Monte Carlo (4 standard errors, fixed seeds), Bayes boundaries vs posteriors, box bounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import brentq

from toylab import data
from toylab.data import DISTRIBUTIONS, GaussianMixture, make
from toylab.data.bayes import bayes_error_quadrature
from toylab.data.quadrature import split_points

Z = 4.0  # standard errors allowed in every statistical check (fixed seeds: deterministic)


# ---- strategies -----------------------------------------------------------------------------


@st.composite
def mixtures(draw, dims=(1, 2, 3), max_components=4, shared_cov=False, n_classes=None):
    """Random labelled mixtures: means in [-3, 3], covariances A A^T + eps I, Dirichlet weights."""
    d = draw(st.sampled_from(dims))
    K = draw(st.integers(n_classes or 1, max_components))
    C = n_classes or draw(st.integers(1, K))
    extra = draw(st.lists(st.integers(0, C - 1), min_size=K - C, max_size=K - C))
    labels = np.array(draw(st.permutations(list(range(C)) + extra)), dtype=np.int64)
    means = draw(arrays(np.float64, (K, d), elements=st.floats(-3, 3)))
    A = draw(arrays(np.float64, (1 if shared_cov else K, d, d), elements=st.floats(-1.5, 1.5)))
    eps = draw(st.floats(0.05, 1.0))
    covs = np.broadcast_to(A @ np.swapaxes(A, 1, 2) + eps * np.eye(d), (K, d, d))
    weights = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).dirichlet(np.ones(K))
    return GaussianMixture(means, covs, weights, labels)


def _mc_error(gm: GaussianMixture, n: int, seed: int) -> tuple[float, float]:
    """Monte Carlo Bayes error and its standard error."""
    s = gm.sample(seed, n)
    p = float(np.mean(gm.bayes_predict(s.X) != s.y))
    return p, max(np.sqrt(p * (1 - p) / n), 1 / n)


# ---- construction, presets, bad input -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_preset_builds_and_validates(name):
    gm = make(name)
    assert isinstance(gm, GaussianMixture) and gm.dim == 2 and name in gm.name and name in repr(gm)
    assert gm.means.shape == (gm.n_components, 2) and gm.covs.shape == (gm.n_components, 2, 2)
    assert np.isclose(gm.weights.sum(), 1) and np.isclose(gm.class_weights.sum(), 1)
    assert sorted(set(gm.labels.tolist())) == list(range(gm.n_classes)) and gm.n_classes >= 2
    assert np.all(np.linalg.eigvalsh(gm.covs) > 0)
    res = gm.bayes_error_with_bound()
    assert 0 <= res.value <= 1 - gm.class_weights.max() and res.error_bound <= 1e-6
    (lo, hi) = gm.domain.T
    assert np.all(lo < gm.means.min(0)) and np.all(gm.means.max(0) < hi)
    g3 = make(name, dim=3)
    assert g3.dim == 3 and np.allclose(g3.means[:, :2], gm.means) and np.allclose(g3.covs[:, :2, :2], gm.covs)


def test_arrays_are_frozen():
    gm = make("xor")
    with pytest.raises(dataclasses.FrozenInstanceError):
        gm.name = "other"
    with pytest.raises(ValueError):
        gm.means[0, 0] = 1.0


def test_covariance_spec_forms_agree():
    means = [[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]
    full = np.array([[2.0, 0.5], [0.5, 1.0]])
    explicit = np.stack([0.5 * np.eye(2), np.diag([1.0, 3.0]), full])
    mixed = GaussianMixture(means, [0.5, [1.0, 3.0], full])
    assert np.array_equal(mixed.covs, explicit)
    assert np.array_equal(GaussianMixture(means, 0.7).covs, np.broadcast_to(0.7 * np.eye(2), (3, 2, 2)))
    assert np.array_equal(GaussianMixture(means, [1.0, 3.0]).covs, np.broadcast_to(np.diag([1.0, 3.0]), (3, 2, 2)))
    assert np.array_equal(GaussianMixture(means, full).covs, np.broadcast_to(full, (3, 2, 2)))
    assert np.array_equal(GaussianMixture(means, [1.0, 2.0, 3.0]).covs[2], 3.0 * np.eye(2))


TWO = [[0.0, 0.0], [1.0, 1.0]]
BAD_INPUTS = [
    ("means", lambda: GaussianMixture([0.0, 1.0], 1.0)),
    ("means", lambda: GaussianMixture([[0.0, np.nan]], 1.0)),
    ("covs", lambda: GaussianMixture(TWO, np.ones((3, 3)))),
    ("covs", lambda: GaussianMixture(TWO, np.eye(2))),  # ambiguous when K == d
    ("covs[1]", lambda: GaussianMixture(TWO, [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])),  # indefinite
    ("ridge", lambda: GaussianMixture(TWO, [np.eye(2), [[1.0, 1.0], [1.0, 1.0]]])),  # singular
    ("covs", lambda: GaussianMixture([[0.0, 0.0]], [[1.0, 0.5], [0.0, 1.0]])),  # not symmetric
    ("covs", lambda: GaussianMixture([[0.0, 0.0]], -1.0)),
    ("weights", lambda: GaussianMixture(TWO, 1.0, weights=[1.2, -0.2])),
    ("0.9", lambda: GaussianMixture(TWO, 1.0, weights=[0.5, 0.4])),
    ("weights", lambda: GaussianMixture(TWO, 1.0, weights=[0.2, 0.3, 0.5])),
    ("labels", lambda: GaussianMixture(TWO, 1.0, labels=[0, 1, 2])),
    ("labels", lambda: GaussianMixture(TWO, 1.0, labels=[0, 2])),
    ("labels", lambda: GaussianMixture(TWO, 1.0, labels=[0.0, 1.0])),
    ("n=0", lambda: make("xor").sample(0, 0)),
    ("n=-3", lambda: make("xor").sample(0, -3)),
    ("seed", lambda: make("xor").sample(1.5, 10)),
    ("X", lambda: make("xor").log_density(np.zeros((4, 3)))),
    ("name", lambda: make("spiral")),
    ("std", lambda: make("blobs", std=-1.0)),
    ("k", lambda: make("blobs", k=1)),
    ("separation", lambda: make("xor", separation=0.0)),
    ("dim", lambda: make("curved", dim=1)),
    ("i=5", lambda: make("xor").bayes_boundary(5, 1)),
    ("j=-1", lambda: make("xor").bayes_boundary(0, -1)),
    ("i=j", lambda: make("xor").bayes_boundary(1, 1)),
    ("symbols", lambda: make("xor").bayes_boundary(symbols=sympy.symbols("a b c"))),
    ("box", lambda: make("xor").mass_outside([[1.0, -1.0], [0.0, 1.0]])),
    ("mass_outside", lambda: make("xor").covering_box(0.0)),
    ("d=3", lambda: make("xor", dim=3).bayes_error()),
]


@pytest.mark.parametrize("needle, build", BAD_INPUTS, ids=[f"{i}-{n}" for i, (n, _) in enumerate(BAD_INPUTS)])
def test_bad_input_raises_value_error_naming_argument(needle, build):
    with pytest.raises(ValueError) as info:
        build()
    assert needle in str(info.value)


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError) as info:
        make("spiral")
    assert all(name in str(info.value) for name in DISTRIBUTIONS)


# ---- densities ------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, derandomize=True)
@given(mixtures(), st.integers(0, 1000))
def test_densities_agree_with_scipy_and_posteriors_normalise(gm, seed):
    X = np.random.default_rng(seed).normal(scale=4.0, size=(50, gm.dim))
    comp = gm.component_log_density(X)
    direct = np.stack(
        [np.log(w) + scipy.stats.multivariate_normal(m, S).logpdf(X) for m, S, w in zip(gm.means, gm.covs, gm.weights)],
        axis=1,
    ).reshape(len(X), -1)
    np.testing.assert_allclose(comp, direct, rtol=1e-10, atol=1e-10)
    log_p = gm.log_density(X)
    np.testing.assert_allclose(log_p, scipy.special.logsumexp(comp, axis=1), rtol=1e-12)
    np.testing.assert_allclose(log_p, scipy.special.logsumexp(gm.class_log_joint(X), axis=1), rtol=1e-12)
    post = gm.class_posterior(X)
    assert post.shape == (len(X), gm.n_classes) and np.all((post >= 0) & (post <= 1))
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(gm.bayes_predict(X), np.argmax(gm.class_log_joint(X), axis=1))


# ---- sampling -------------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, derandomize=True)
@given(mixtures())
def test_sampling_matches_the_mixture(gm):
    n = 20_000
    s = gm.sample(7, n)
    assert s.X.shape == (n, gm.dim) and s.X.dtype == np.float64
    assert s.y.dtype == np.int64 and s.component.dtype == np.int64
    assert np.array_equal(s.y, gm.labels[s.component])
    counts = np.bincount(s.component, minlength=gm.n_components)
    se = np.sqrt(gm.weights * (1 - gm.weights) / n)
    assert np.all(np.abs(counts / n - gm.weights) <= Z * se + 1e-12)
    for k in np.flatnonzero(counts >= 2):
        Xk = s.X[s.component == k]
        var = np.diag(gm.covs[k])
        assert np.all(np.abs(Xk.mean(0) - gm.means[k]) <= Z * np.sqrt(var / len(Xk)))
        assert np.all(np.abs(Xk.var(0, ddof=1) - var) <= Z * var * np.sqrt(2 / (len(Xk) - 1)))
    again, other = gm.sample(7, n), gm.sample(8, n)
    assert all(np.array_equal(a, b) for a, b in zip(s, again))
    assert not np.array_equal(s.X, other.X)


def test_zero_weight_component_is_never_sampled_and_has_no_error():
    gm = GaussianMixture([[0.0, 0.0], [0.5, 0.0]], np.broadcast_to(np.eye(2), (2, 2, 2)), weights=[0.0, 1.0])
    assert not np.any(gm.sample(0, 1000).component == 0)
    assert gm.bayes_error() == 0.0
    assert np.all(gm.bayes_predict(gm.sample(1, 100).X) == 1)


# ---- boxes ----------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None, derandomize=True)
@given(mixtures(), st.sampled_from([1e-1, 1e-2, 1e-3]))
def test_covering_box_and_mass_outside_bound_the_outside_mass(gm, eps):
    n = 20_000
    X = gm.sample(3, n).X
    box = gm.covering_box(eps)
    assert gm.mass_outside(box) <= eps * (1 + 1e-9)
    half = np.mean(box, axis=1, keepdims=True) + 0.5 * (box - np.mean(box, axis=1, keepdims=True))
    for b in (box, half, gm.domain):
        bound = gm.mass_outside(b)
        outside = np.mean(np.any((X < b[:, 0]) | (X > b[:, 1]), axis=1))
        assert outside <= bound + Z * np.sqrt(max(bound * (1 - bound), 1e-12) / n)
    assert gm.mass_outside(gm.domain) <= data.DOMAIN_MASS_OUTSIDE


# ---- Bayes error ----------------------------------------------------------------------------


CLOSED_FORM_CASES = {
    "two_gaussians (vertical boundary)": make("two_gaussians"),
    "correlated, unequal weights": GaussianMixture(
        [[0.3, -1.0], [1.2, 0.5]], np.broadcast_to([[1.0, 0.6], [0.6, 0.8]], (2, 2, 2)), weights=[0.3, 0.7]
    ),
    "1-D, unequal weights": GaussianMixture([[0.0], [1.5]], 0.8, weights=[0.8, 0.2]),
    "coincident means": GaussianMixture([[1.0, 1.0], [1.0, 1.0]], np.broadcast_to(np.eye(2), (2, 2, 2)), [0.35, 0.65]),
}


@pytest.mark.parametrize("case", CLOSED_FORM_CASES)
def test_quadrature_reproduces_closed_form(case):
    gm = CLOSED_FORM_CASES[case]
    closed, quad = gm.bayes_error_with_bound(), bayes_error_quadrature(gm)
    assert closed.method == "closed_form" and quad.method == "quadrature"
    assert abs(closed.value - quad.value) <= min(1e-6, quad.error_bound + closed.error_bound)


def test_closed_form_equal_priors_is_phi_of_half_mahalanobis():
    gm = make("two_gaussians", separation=2.5, std=0.8, dim=3)
    assert gm.bayes_error() == pytest.approx(scipy.stats.norm.cdf(-2.5 / 0.8 / 2), rel=1e-14)
    assert CLOSED_FORM_CASES["coincident means"].bayes_error() == pytest.approx(0.35, rel=1e-15)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(mixtures(dims=(1, 2), max_components=2, shared_cov=True, n_classes=2))
def test_quadrature_matches_closed_form_on_random_shared_covariance(gm):
    closed, quad = gm.bayes_error_with_bound(), bayes_error_quadrature(gm)
    assert closed.method == "closed_form"
    assert abs(closed.value - quad.value) <= min(1e-6, quad.error_bound + closed.error_bound)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_bayes_error_matches_monte_carlo(name):
    gm = make(name)
    res = gm.bayes_error_with_bound()
    p, se = _mc_error(gm, 10**6, seed=2024)
    assert abs(p - res.value) <= Z * se + res.error_bound


@settings(max_examples=6, deadline=None, derandomize=True)
@given(mixtures(dims=(1, 2), max_components=4))
def test_quadrature_matches_monte_carlo_on_random_mixtures(gm):
    res = gm.bayes_error_with_bound()
    assert res.error_bound <= 1e-6
    p, se = _mc_error(gm, 200_000, seed=11)
    assert abs(p - res.value) <= Z * se + res.error_bound


@pytest.mark.slow
@pytest.mark.parametrize("name", ["xor", "curved", "blobs", "overlapping_blobs"])
def test_bayes_error_matches_nested_quadpack(name):
    """Independent reference: scipy dblquad of ``p - max_c pi_c p_c`` over the same box."""
    gm = make(name)
    box = gm.covering_box(data.QUADRATURE_MASS_OUTSIDE)

    def h(x1, x0):
        joint = gm.class_log_joint(np.array([[x0, x1]]))[0]
        return np.exp(np.logaddexp.reduce(joint)) - np.exp(joint.max())

    ref, ref_err = scipy.integrate.dblquad(h, *box[0], *box[1], epsabs=1e-8, epsrel=0)
    res = gm.bayes_error_with_bound()
    assert abs(ref - res.value) <= ref_err + res.error_bound


@pytest.mark.parametrize("gm", [
    # an ellipse 0.06 wide in x0 (scan lines are 0.056 apart): class 0 inside, class 1 around
    GaussianMixture([[0.013, 0.3], [0.0, 0.0]], [np.diag([1e-4, 0.5]), np.eye(2)],
                    weights=[0.3, 0.7]),
    # a tilted ellipse (correlated class-0 covariance below the class-1 one)
    GaussianMixture([[0.2, 0.1], [0.0, 0.0]], [[[0.3, 0.15], [0.15, 0.4]], np.eye(2)],
                    weights=[0.4, 0.6]),
], ids=["narrow ellipse", "tilted ellipse"])
def test_split_points_include_the_exact_vertical_tangencies_of_a_conic(gm):
    """Two single-Gaussian classes have a conic Bayes boundary ``f = 0`` whose vertical
    tangencies solve ``f = df/dx1 = 0`` exactly (sympy). The outer quadrature must split there
    (not merely where the argmax scan first resolves the new crossings, 1e-8 to 4e-5 away)."""
    box = gm.covering_box(data.QUADRATURE_MASS_OUTSIDE)
    x = sympy.symbols("x0:2", real=True)
    f = gm.bayes_boundary(0, 1, symbols=x)
    exact = [float(sol[x[0]]) for sol in sympy.solve([f, sympy.diff(f, x[1])], x, dict=True)]
    assert len(exact) == 2  # an ellipse inside the box: its left and right extremes
    split = split_points(gm, box)
    assert all(np.min(np.abs(split - e)) < 1e-12 * (1 + abs(e)) for e in exact)


# ---- Bayes boundary -------------------------------------------------------------------------


def _boundary_points(gm: GaussianMixture, expr: sympy.Expr, n_lines: int = 15) -> np.ndarray:
    """Zeros of ``expr`` on vertical and horizontal lines through the domain (grid zeros and
    sign changes refined by brentq), as ``(p, 2)`` points."""
    f = sympy.lambdify(sympy.symbols("x0 x1", real=True), expr, "numpy")
    points = []
    for axis in (0, 1):  # axis along which the line runs

        def g(u, s):
            return f(s, u) if axis == 1 else f(u, s)

        (lo, hi), (lo_s, hi_s) = gm.domain[axis], gm.domain[1 - axis]
        t = np.linspace(lo, hi, 2001)
        for s in np.linspace(lo_s, hi_s, n_lines + 2)[1:-1]:
            v = g(t, s) * np.ones_like(t)
            roots = list(t[v == 0]) + [
                brentq(g, t[i], t[i + 1], args=(s,), xtol=1e-14, rtol=1e-15)
                for i in np.flatnonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)
            ]
            points += [(s, u) if axis == 1 else (u, s) for u in roots]
    return np.array(points).reshape(-1, 2)


BOUNDARY_CASES = [("two_gaussians", 0, 1, 1), ("curved", 0, 1, 2), ("xor", 0, 1, None),
                  ("blobs", 0, 1, 1), ("blobs", 2, 0, 1), ("overlapping_blobs", 1, 2, 1)]


@pytest.mark.parametrize("name, i, j, degree", BOUNDARY_CASES)
def test_bayes_boundary_expression_and_equal_posteriors_on_it(name, i, j, degree):
    gm = make(name)
    expr = gm.bayes_boundary(i, j)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert expr.free_symbols <= {x0, x1}
    if degree is not None:
        assert sympy.Poly(expr, x0, x1).total_degree() == degree
    X = gm.sample(5, 200).X
    joint = gm.class_log_joint(X)
    values = sympy.lambdify((x0, x1), expr, "numpy")(X[:, 0], X[:, 1])
    np.testing.assert_allclose(values, joint[:, i] - joint[:, j], rtol=1e-9, atol=1e-9)
    pts = _boundary_points(gm, expr)
    assert len(pts) >= 5
    joint, post = gm.class_log_joint(pts), gm.class_posterior(pts)
    assert np.all(np.abs(joint[:, i] - joint[:, j]) <= 1e-9)
    assert np.all(np.abs(post[:, i] - post[:, j]) <= 1e-9)


def test_curved_boundary_bends_inside_the_domain():
    gm = make("curved")
    pts = _boundary_points(gm, gm.bayes_boundary(), n_lines=21)
    line = np.polyfit(pts[:, 0], pts[:, 1], 1)
    assert np.max(np.abs(np.polyval(line, pts[:, 0]) - pts[:, 1])) > 1.0  # far from a straight line


def test_shared_covariance_boundary_is_linear_for_random_lda():
    gm = CLOSED_FORM_CASES["correlated, unequal weights"]
    expr = gm.bayes_boundary(1, 0)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.Poly(expr, x0, x1).total_degree() == 1
    pts = _boundary_points(gm, expr)
    post = gm.class_posterior(pts)
    assert len(pts) >= 5 and np.all(np.abs(post[:, 0] - post[:, 1]) <= 1e-9)
