"""Matrix-free spectra: residual norms, Lanczos memory bounds, agreement with dense LAPACK.

Independent reference: the dense Hessian (``toylab.landscape.hessian``, itself tested against
finite differences in tests/test_landscape.py) and ``numpy.linalg.eigh`` of it.
"""

import numpy as np
import pytest

import toylab.landscape as L
from toylab.landscape.curvature import product_bytes
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
