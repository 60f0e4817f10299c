"""Matrix-free spectra: residual norms, Lanczos memory bounds, agreement with dense LAPACK.

Independent reference: the dense Hessian (``toylab.landscape.hessian``, itself tested against
finite differences in tests/test_landscape.py) and ``numpy.linalg.eigh`` of it.
"""

import contextlib

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import toylab.landscape as L
from toylab.landscape.curvature import problem_factored_operator, product_bytes
from toylab.landscape.problem import resolve
from toylab.landscape.spectra import arpack_basis

WIDTHS = (2, 6, 5, 3)
KW = dict(activation="relu")


@pytest.fixture(scope="module")
def problem():
    """A 2-6-5-3 ReLU net (He weights, N(0, 0.25) biases) on 40 labelled points, with its
    dense Hessian."""
    rng = np.random.default_rng(7)
    layers = [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(WIDTHS[:-1], WIDTHS[1:])]
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 3, 40)
    H = L.hessian(layers, X, y, **KW)
    return layers, X, y, (H + H.T) / 2


def test_lanczos_top_k_matches_dense_with_small_residuals(problem):
    layers, X, y, H = problem
    dense = np.linalg.eigvalsh(H)[::-1]
    scale = np.abs(dense).max()
    top = L.top_eigen(layers, X, y, 4, **KW)
    r = L.residual_norms(layers, X, y, top, **KW)
    # the residuals are those of the dense matrix, computed independently
    np.testing.assert_allclose(r, np.linalg.norm(H @ top.eigenvectors
                                                 - top.eigenvectors * top.eigenvalues, axis=0),
                               rtol=0, atol=1e-12 * scale)
    assert r.max() < 1e-10 * scale
    np.testing.assert_allclose(top.eigenvalues, dense[:4], rtol=0, atol=1e-10 * scale)


def test_residual_norm_bounds_the_eigenvalue_error_of_a_perturbed_pair(problem):
    """A deliberately inexact pair: its residual equals the dense one, and some eigenvalue of
    H lies within it (Parlett Thm. 4.5.1), while the pair is far from exact."""
    layers, X, y, H = problem
    values, vecs = np.linalg.eigh(H)
    v = vecs[:, -1] + 0.05 * vecs[:, 0]
    v /= np.linalg.norm(v)
    lam = v @ H @ v + 0.01
    spec = L.Spectrum(np.array([lam]), v[:, None])
    r = L.residual_norms(layers, X, y, spec, **KW)
    np.testing.assert_allclose(r, [np.linalg.norm(H @ v - lam * v)], rtol=1e-12)
    assert r[0] > 1e-3 * np.abs(values).max()
    assert np.abs(values - lam).min() <= r[0]


def test_lanczos_runs_where_the_dense_matrix_would_not_fit(problem):
    """With a memory limit below one (P, P) matrix but above the Lanczos estimate, the
    matrix-free paths run and the exact ones refuse, naming the limit."""
    _, X, y, _ = problem
    widths = (2, 24, 24, 3)
    rng = np.random.default_rng(8)
    layers = [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(widths[:-1], widths[1:])]
    P = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    ncv = arpack_basis(2, P)
    need = L.lanczos_bytes(widths, len(X), ncv)
    assert need == 8 * P * (ncv + 4) + 8 * ncv * (ncv + 8) + product_bytes(widths, len(X))
    limit = max(need, L.lanczos_bytes(widths, len(X), 10))
    assert limit < 8 * P * P
    top = L.top_eigen(layers, X, y, 2, max_bytes=limit, **KW)
    assert top.eigenvectors.shape == (P, 2)
    assert L.residual_norms(layers, X, y, top, **KW).max() < 1e-10 * top.eigenvalues[0]
    L.spectral_density(layers, X, y, n_vectors=1, n_steps=10, max_bytes=limit, **KW)
    with pytest.raises(ValueError, match="max_bytes="):
        L.hessian(layers, X, y, max_bytes=limit, **KW)
    with pytest.raises(ValueError, match=r"Lanczos with \d+ vectors of P=%d.*max_bytes=100" % P):
        L.top_eigen(layers, X, y, 2, max_bytes=100, **KW)
    with pytest.raises(ValueError, match="stochastic Lanczos quadrature.*max_bytes=100"):
        L.spectral_density(layers, X, y, n_vectors=1, n_steps=10, max_bytes=100, **KW)


def test_residual_norms_need_matching_eigenvectors(problem):
    layers, X, y, _ = problem
    with pytest.raises(ValueError, match=r"spectrum.eigenvectors has shape None.*vectors=True"):
        L.residual_norms(layers, X, y, L.Spectrum(np.ones(2), None), **KW)
    with pytest.raises(ValueError, match=r"spectrum.eigenvectors has shape \(3, 1\)"):
        L.residual_norms(layers, X, y, L.Spectrum(np.ones(1), np.ones((3, 1))), **KW)


# ----------------------------------------------------------------------------- factored Lanczos


def dense_top(H, k):
    values = np.linalg.eigvalsh(H)[::-1]
    return values[:k], np.abs(values).max()


@contextlib.contextmanager
def resolve_problem(layers, X, y):
    with jax.enable_x64(True):
        yield resolve(layers, X, y, **KW)


def check_factored(layers, X, y, H, k, **kw):
    """``top_eigen(method='factored')`` against the dense eigenvalues: equal to 1e-10 of the
    largest |lambda|, orthonormal vectors, residuals (on the dense matrix) below that too."""
    want, scale = dense_top(H, k)
    got = L.top_eigen(layers, X, y, k, method="factored", **kw)
    np.testing.assert_allclose(got.eigenvalues, want, rtol=0, atol=1e-10 * scale)
    V = got.eigenvectors
    np.testing.assert_allclose(V.T @ V, np.eye(k), rtol=0, atol=1e-12)
    assert np.linalg.norm(H @ V - V * got.eigenvalues, axis=0).max() < 1e-10 * scale
    return got


@pytest.mark.parametrize("curvature", ["hessian", "gauss_newton"])
def test_factored_top_k_and_product_match_dense(problem, curvature):
    layers, X, y, H = problem
    if curvature == "gauss_newton":
        H = L.curvature_matrix(layers, X, y, curvature=curvature, **KW)
        H = (H + H.T) / 2
    kw = dict(curvature=curvature, **KW)
    got = check_factored(layers, X, y, H, 6, **kw)
    r = L.residual_norms(layers, X, y, got, **kw)  # by the independent HVPs
    assert r.max() < 1e-10 * np.abs(got.eigenvalues).max()
    # auto takes the factored path here; the memory guard and non-applicable cases refuse
    auto = L.top_eigen(layers, X, y, 6, **kw)
    np.testing.assert_array_equal(auto.eigenvalues, got.eigenvalues)
    with resolve_problem(layers, X, y) as p:
        v = np.random.default_rng(1).normal(size=H.shape[0])
        np.testing.assert_allclose(problem_factored_operator(p, curvature).matvec(v), H @ v,
                                   rtol=0, atol=1e-12 * np.abs(H).max() * np.abs(v).sum())
    with pytest.raises(ValueError, match="factored points.*max_bytes=100"):
        L.top_eigen(layers, X, y, 2, method="factored", max_bytes=100, **kw)


def test_factored_refuses_where_it_does_not_apply(problem):
    layers, X, y, _ = problem
    with pytest.raises(ValueError, match="factored product does not apply: curvature='fisher'"):
        L.top_eigen(layers, X, y, 2, method="factored", curvature="fisher", **KW)
    with pytest.raises(ValueError, match="activation='tanh' is smooth"):
        L.top_eigen(layers, X, y, 2, method="factored", activation="tanh")


def test_factored_on_degenerate_nets_restarts_past_invariant_subspaces(problem):
    """An all-zero net (H has three distinct eigenvalues, so the Krylov space of one start
    vector is invariant after a few steps) and a net with dead units, asking for more pairs
    than H has non-zero eigenvalues: the zero eigenvalue's copies come from restarts."""
    layers, X, y, _ = problem
    zero = [(np.zeros_like(W), np.zeros_like(b)) for W, b in layers]
    (W0, b0), *rest = [(W.copy(), b.copy()) for W, b in layers]
    W0[:, :4], b0[:4] = 0.0, -1.0
    for net in (zero, [(W0, b0)] + rest):
        H = L.hessian(net, X, y, **KW)
        check_factored(net, X, y, (H + H.T) / 2, 12, **KW)


def test_factored_basis_growth_and_restarts_at_any_step(problem, monkeypatch):
    """The device Lanczos with a small basis buffer (three sizes: 24, 48, 72 rows) and tests
    every 5 steps, so that growth, invariant subspaces and convergence tests fall at
    different steps than with the defaults: the same dense eigenpairs."""
    from toylab.landscape import spectra
    monkeypatch.setattr(spectra, "BASIS_ROWS", 24)
    monkeypatch.setattr(spectra, "CHECK_EVERY", 5)
    layers, X, y, H = problem
    zero = [(np.zeros_like(W), np.zeros_like(b)) for W, b in layers]
    check_factored(zero, X, y, L.hessian(zero, X, y, **KW), 12, **KW)
    check_factored(layers, X, y, (H + H.T) / 2, 20, **KW)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), zero=st.floats(0, 0.7),
       activation=st.sampled_from(["relu", "hard_tanh"]))
def test_factored_top_k_on_random_sparse_nets(problem, seed, zero, activation):
    """Random weights with a random fraction set to zero (dead and disconnected units); the
    module's shapes, so every example reuses the compiled kernels."""
    _, X, y, _ = problem
    rng = np.random.default_rng(seed)
    layers = [(rng.normal(size=(a, b)) * (rng.random((a, b)) >= zero), rng.normal(size=b))
              for a, b in zip(WIDTHS[:-1], WIDTHS[1:])]
    H = L.hessian(layers, X, y, activation=activation)
    check_factored(layers, X, y, (H + H.T) / 2, 8, activation=activation)
