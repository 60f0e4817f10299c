"""Theory claims about the worlds themselves: which changes of a distribution keep which
Bayes quantities, stated over generated mixtures (degenerate ones included).

W1 (posterior-preserving tilts; covariate shift, Shimodaira 2000). Multiplying every
class-conditional density by the same ``r(x) >= 0`` and taking priors ``pi'_c ∝ pi_c Z_c``
(``Z_c = integral p(x | c) r(x) dx``) gives ``pi'_c p'(x | c) = pi_c p(x | c) r(x) / Z``, so
``p'(c | x) = p(c | x)`` and ``p'(x) = p(x) r(x) / Z``: the posterior, the Bayes classifier and
the Bayes boundary are unchanged, only the mass moves. For a Gaussian-mixture ``r`` the tilted
world is again a Gaussian mixture (a product of Gaussians is a scaled Gaussian; Petersen &
Pedersen, The Matrix Cookbook, sec. 8.1.8), built by ``GaussianMixture.tilted``. Its Bayes
error is the error of the *same* classifier under ``p'``.

W2 (relabellings; concept shift, Moreno-Torres et al. 2012). Reassigning components to
classes leaves ``p(x) = sum_k w_k N_k(x)`` unchanged exactly, while each posterior is the sum
of the component responsibilities ``w_k N_k(x) / p(x)`` over the components of its class.

W3 (rigid motions). For ``x -> R (x - c) + c + t`` with ``R`` orthogonal, ``det R = 1``, the
moved world's density, posterior and Bayes class at the moved point equal the original's
(change of variables with unit Jacobian), and the Bayes error is unchanged.
"""

import numpy as np
import pytest
import scipy.special
import scipy.stats
import sympy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toylab import testing as tt
from toylab.data import GaussianMixture

WORLDS = tt.distributions(min_dim=1, max_dim=3, max_classes=3, degenerate=True)
"""Generated worlds in 1-3 dimensions, near-degenerate ones included."""


def _close(got, want, rtol=1e-9):
    """Float64 agreement up to rounding, relative to the values' magnitude."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (1.0 + np.abs(want).max()))


@st.composite
def tilts(draw, dist: GaussianMixture):
    """``(means (J, d), covs (J, d, d), weights (J,))`` of a tilt ``r`` near the world: means
    within 3 of its means, isotropic or correlated covariances from very narrow (0.05^2) to
    nearly flat (30^2), random weights (a zero weight included)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    J, d = draw(st.integers(1, 3)), dist.dim
    anchors = dist.means[rng.integers(dist.n_components, size=J)]
    means = anchors + rng.uniform(-3, 3, size=(J, d))
    scales = np.exp(rng.uniform(np.log(0.05), np.log(30.0), size=J))
    covs = []
    for s in scales:
        A = rng.normal(size=(d, d))
        Q = np.linalg.qr(A)[0]
        covs.append(s**2 * Q @ np.diag(rng.uniform(0.2, 1.0, d)) @ Q.T)
    weights = rng.dirichlet(np.ones(J))
    if J > 1 and draw(st.booleans()):
        weights[0] = 0.0
        weights /= weights.sum()
    return means, np.array(covs), weights


def _points(dist: GaussianMixture, tilt_means: np.ndarray, seed: int) -> np.ndarray:
    """Points where both worlds have mass: a sample of the world and points near the tilt."""
    rng = np.random.default_rng(seed)
    near = tilt_means[rng.integers(len(tilt_means), size=40)] + rng.normal(size=(40, dist.dim))
    return np.concatenate([dist.sample(seed, 60).X, near])


def _log_r(X, means, covs, weights):
    """``log r(x)`` by scipy (independent of the tilt's closed form)."""
    with np.errstate(divide="ignore"):
        terms = [np.log(w) + scipy.stats.multivariate_normal(m, S).logpdf(X).reshape(len(X))
                 for m, S, w in zip(means, covs, weights)]
    return scipy.special.logsumexp(np.stack(terms, 1), axis=1)


def _tilted(dist, tilt):
    try:
        return dist.tilted(*tilt)
    except ValueError as e:  # the tilted weights are not representable in float64
        assert "starves" in str(e) or "smallest normal" in str(e)
        assume(False)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_tilts_keep_the_posterior_and_the_bayes_classifier(data):
    """W1: ``p'(c | x) = p(c | x)``, every pairwise log-odds (the Bayes boundary function)
    is unchanged, and so is the Bayes class wherever it is not a float64 tie."""
    dist = data.draw(WORLDS)
    tilt = data.draw(tilts(dist))
    moved = _tilted(dist, tilt)
    X = _points(dist, tilt[0], data.draw(st.integers(0, 1000)))
    _close(moved.class_posterior(X), dist.class_posterior(X))
    L, Lp = dist.class_log_joint(X), moved.class_log_joint(X)
    live = np.isfinite(L).all(0)
    odds = L[:, live][:, :, None] - L[:, live][:, None, :]
    odds_p = Lp[:, live][:, :, None] - Lp[:, live][:, None, :]
    np.testing.assert_allclose(odds_p, odds, atol=1e-9 * (1 + np.abs(L[:, live]).max()))
    top2 = np.sort(L, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-8 * (1 + np.abs(top2[:, 1]))
    assert np.array_equal(moved.bayes_predict(X)[clear], dist.bayes_predict(X)[clear])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_tilted_density_is_proportional_to_p_times_r(data):
    """W1: ``log p'(x) - log p(x) - log r(x) = -log Z`` is the same at every point."""
    dist = data.draw(WORLDS)
    tilt = data.draw(tilts(dist))
    moved = _tilted(dist, tilt)
    X = _points(dist, tilt[0], data.draw(st.integers(0, 1000)))
    log_p, log_r = dist.log_density(X), _log_r(X, *tilt)
    ratio = moved.log_density(X) - log_p - log_r
    scale = 1 + np.abs(log_p).max() + np.abs(log_r).max()
    assert np.ptp(ratio) <= 1e-9 * scale
    assert moved.moments().class_weights.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_single_gaussian_tilt_keeps_the_sympy_bayes_boundary(data):
    """W1 for the symbolic boundary: one Gaussian per class, one Gaussian tilt, 2-D: the QDA
    polynomial of the tilted world takes the original's values (the constant ``-log Z``
    cancels between the classes)."""
    dist = data.draw(tt.distributions(max_classes=2, max_components=2, degenerate=False))
    means, covs, _ = data.draw(tilts(dist))
    moved = _tilted(dist, (means[:1], covs[:1], None))
    x = sympy.symbols("x0 x1", real=True)
    f = sympy.lambdify(x, dist.bayes_boundary(0, 1, symbols=x), "numpy")
    g = sympy.lambdify(x, moved.bayes_boundary(0, 1, symbols=x), "numpy")
    X = _points(dist, means[:1], 0)
    want = f(*X.T)
    np.testing.assert_allclose(g(*X.T), want, atol=1e-8 * (1 + np.abs(want).max()))


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(st.data())
def test_tilted_bayes_error_is_the_error_of_the_same_classifier(data):
    """W1: the tilted world's Bayes error (its quadrature) equals the Monte Carlo error rate
    of the *original* world's Bayes classifier on a sample of the tilted world (4 standard
    errors; fixed seeds). Slow: tilted classes have several components (grid scan), ~10 s
    per example."""
    dist = data.draw(tt.distributions(max_classes=3, max_components=3, degenerate=False))
    means, covs, weights = data.draw(tilts(dist))
    moved = _tilted(dist, (means, covs, weights))
    res = moved.bayes_error_with_bound()
    s = moved.sample(11, 100_000)
    p = float(np.mean(dist.bayes_predict(s.X) != s.y))
    se = max(np.sqrt(p * (1 - p) / len(s.y)), 1 / len(s.y))
    assert abs(p - res.value) <= 4 * se + res.error_bound


@settings(max_examples=40, deadline=None)
@given(WORLDS, st.data())
def test_relabellings_keep_p_of_x_exactly(dist, data):
    """W2: bit-identical ``p(x)``; each posterior is its class's sum of responsibilities."""
    C = data.draw(st.integers(1, dist.n_components))
    labels = np.array(data.draw(st.permutations(
        list(range(C)) + data.draw(st.lists(st.integers(0, C - 1), min_size=dist.n_components - C,
                                            max_size=dist.n_components - C)))))
    other = dist.relabelled(labels)
    X = _points(dist, dist.means, data.draw(st.integers(0, 1000)))
    assert np.array_equal(other.log_density(X), dist.log_density(X))
    comp = dist.component_log_density(X)
    resp = np.exp(comp - scipy.special.logsumexp(comp, axis=1, keepdims=True))
    grouped = np.stack([resp[:, labels == c].sum(1) for c in range(C)], 1)
    _close(other.class_posterior(X), grouped)


@st.composite
def rigid_motions(draw, d: int):
    """``(R, center, offset)``: a random rotation (QR with ``det = +1``), centre and shift."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Q, R_ = np.linalg.qr(rng.normal(size=(d, d)))
    Q = Q * np.sign(np.diag(R_))
    if np.linalg.det(Q) < 0:
        Q[:, 0] = -Q[:, 0]
    return Q, rng.uniform(-5, 5, d), rng.uniform(-20, 20, d)


@settings(max_examples=40, deadline=None)
@given(WORLDS, st.data())
def test_rigid_motions_move_every_bayes_quantity_with_the_points(dist, data):
    """W3: density, posterior and (off float64 ties) the Bayes class at the moved point."""
    R, c, t = data.draw(rigid_motions(dist.dim))
    moved = dist.rotated(R, center=c).shifted(t)
    X = _points(dist, dist.means, data.draw(st.integers(0, 1000)))
    Y = (X - c) @ R.T + c + t
    _close(moved.log_density(Y), dist.log_density(X))
    _close(moved.class_posterior(Y), dist.class_posterior(X))
    L = np.sort(dist.class_log_joint(X), axis=1)
    clear = L[:, -1] - L[:, -2] > 1e-8 * (1 + np.abs(L[:, -1])) if dist.n_classes > 1 else np.ones(len(X), bool)
    assert np.array_equal(moved.bayes_predict(Y)[clear], dist.bayes_predict(X)[clear])


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(tt.distributions(max_classes=3, max_components=3, degenerate=True).filter(
    lambda g: g.n_components == g.n_classes), st.data())
def test_rigid_motions_keep_the_bayes_error(dist, data):
    """W3: the Bayes error of the moved 2-D world (a different quadrature: other lines, other
    split points) agrees with the original's within both bounds. One Gaussian per class (the
    exact-line quadrature): with several components per class the grid scan still misses
    features here (a 53x bound violation is kept as a strict xfail in tests/test_data.py)."""
    R, c, t = data.draw(rigid_motions(2))
    moved = dist.rotated(R, center=c).shifted(t)
    a, b = dist.bayes_error_with_bound(), moved.bayes_error_with_bound()
    assert abs(a.value - b.value) <= a.error_bound + b.error_bound
