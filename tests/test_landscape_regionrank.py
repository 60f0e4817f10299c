"""The projected eigenproblem (toylab.landscape.regionrank) against the dense path.

Independent reference: the dense curvature matrix (``toylab.landscape.curvature_matrix``,
itself tested against finite differences and the ``hvp`` method in tests/test_landscape.py)
and ``numpy.linalg.eigh`` of it. Eigenvalues must agree to 1e-10 of the largest |lambda|;
eigenvectors must be orthonormal with residuals ``||H v - lambda v||`` below 1e-10 of it.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import toylab.landscape as L
from toylab.landscape import regionrank as RR

TOL = 1e-10


def he_net(widths, seed, bias=0.5):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * bias)
            for a, b in zip(widths[:-1], widths[1:])]


def data(n, d, C, seed, loss="cross_entropy"):
    rng = np.random.default_rng(seed + 100)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, C, n) if loss == "cross_entropy" else rng.normal(size=(n, C))
    return X, y


def dense(layers, X, y, curvature="hessian", **kw):
    M = L.curvature_matrix(layers, X, y, curvature=curvature, **kw)
    M = (M + M.T) / 2
    values, vecs = np.linalg.eigh(M)
    return M, values[::-1]


def check_against_dense(layers, X, y, *, curvature="hessian", vectors=True, **kw):
    """The projected spectrum equals the dense one; its eigenvectors are orthonormal and
    satisfy ``H v = lambda v``; the rank bound ``dim`` holds. Returns the range size."""
    M, values = dense(layers, X, y, curvature, **kw)
    scale = np.abs(values).max()
    got = L.projected_spectrum(layers, X, y, curvature=curvature, vectors=vectors, **kw)
    P = M.shape[0]
    assert got.eigenvalues.shape == (P,)
    assert np.all(np.diff(got.eigenvalues) <= 0)
    np.testing.assert_allclose(got.eigenvalues, values, rtol=0, atol=TOL * scale)
    size = L.range_size(layers, X, y, curvature=curvature, **kw)
    assert size.n_params == P and size.dim <= P
    # P - dim eigenvalues are exact zeros (not merely small), and the dense numerical rank
    # respects the bound
    assert np.count_nonzero(got.eigenvalues == 0.0) >= P - size.dim
    assert np.count_nonzero(np.abs(values) > TOL * scale) <= size.dim
    if vectors:
        V = got.eigenvectors
        assert V.shape == (P, P)
        np.testing.assert_allclose(V.T @ V, np.eye(P), rtol=0, atol=1e-12)
        residual = np.linalg.norm(M @ V - V * got.eigenvalues, axis=0)
        assert residual.max() < TOL * scale
    return size


CASES = {
    # name: (widths, activation, loss, n points, bias scale)
    "relu 2-6-5-3": ((2, 6, 5, 3), "relu", "cross_entropy", 40, 0.5),
    "hard_tanh 3-7-4-4-2 (non-zero offsets)": ((3, 7, 4, 4, 2), "hard_tanh", "cross_entropy",
                                               30, 1.0),
    "leaky_relu 2-8-8-3": ((2, 8, 8, 3), "leaky_relu", "cross_entropy", 60, 0.5),
    "abs 2-5-4-3 mse": ((2, 5, 4, 3), "abs", "mse", 25, 0.5),
    "relu 2-3 (no hidden layer: one region)": ((2, 3), "relu", "cross_entropy", 15, 0.5),
    "relu 5-8-3 (more regions than parameters)": ((5, 8, 3), "relu", "cross_entropy", 400, 0.5),
    "relu 2-4-3, one point": ((2, 4, 3), "relu", "cross_entropy", 1, 0.5),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("curvature", ["hessian", "gauss_newton"])
def test_projected_spectrum_equals_dense(name, curvature):
    widths, activation, loss, n, bias = CASES[name]
    layers = he_net(widths, 1, bias)
    X, y = data(n, widths[0], widths[-1], 1, loss)
    size = check_against_dense(layers, X, y, curvature=curvature, activation=activation,
                               loss=loss)
    if name.startswith("relu 5-8-3"):
        assert size.regions > size.n_params
        assert size.dim == size.n_params  # nothing to project away; still exact
    if name.startswith("relu 2-3"):
        assert size.regions == 1


def test_region_count_is_the_number_of_activation_patterns():
    """Regions counted independently: distinct on/off patterns of a NumPy ReLU forward pass."""
    widths = (2, 16, 16, 3)
    layers = he_net(widths, 3)
    X, y = data(60, 2, 3, 3)
    h, patterns = X, []
    for W, b in layers[:-1]:
        pre = h @ W + b
        patterns.append(pre > 0)
        h = np.maximum(pre, 0)
    expected = np.unique(np.concatenate(patterns, axis=1), axis=0).shape[0]
    size = L.range_size(layers, X, y, activation="relu")
    assert size.regions == expected
    # the Gauss-Newton bound sum_rho min(n_rho, d + 1)(C - 1) holds for the dense G (here it
    # is below the trivial bound P - w - 1 of the softmax null space, and nearly reached)
    _, values = dense(layers, X, y, "gauss_newton", activation="relu")
    assert size.gram_rows < size.n_params - widths[-2] - 1
    rank = np.count_nonzero(values > TOL * values.max())
    assert size.gram_rows - 3 <= rank <= size.gram_rows


def test_degenerate_nets_dead_units_zero_weights_and_kinks():
    """Dead units (zero weights, negative bias), a whole zero weight matrix, units whose
    pre-activation sits exactly on a kink for every point (ReLU at 0, hard_tanh at 1, where
    jax's slope is 0.5), and points exactly at the origin."""
    widths = (2, 6, 5, 3)
    layers = he_net(widths, 4)
    (W0, b0), (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in layers]
    W0[:, 0], b0[0] = 0.0, -1.0        # dead unit
    W0[:, 1], b0[1] = 0.0, 0.0         # pre-activation exactly 0 everywhere (ReLU kink)
    W1[:, 2], b1[2] = 0.0, 1.0         # exactly 1 everywhere (hard_tanh kink)
    X, y = data(30, 2, 3, 4)
    X[:3] = 0.0
    for activation in ("relu", "hard_tanh"):
        check_against_dense([(W0, b0), (W1, b1), (W2, b2)], X, y, activation=activation)
    zero_middle = [(W0, b0), (np.zeros_like(W1), b1), (W2, b2)]
    check_against_dense(zero_middle, X, y, activation="relu")
    all_zero = [(np.zeros_like(W), np.zeros_like(b)) for W, b in layers]
    check_against_dense(all_zero, X, y, activation="relu")


def test_single_region_net_has_a_small_projected_problem():
    """Large positive biases keep every ReLU on: one region, so G has rank <= (d + 1)(C - 1)."""
    widths = (2, 10, 10, 3)
    layers = [(W, b + 50.0) for W, b in he_net(widths, 5)]
    X, y = data(50, 2, 3, 5)
    size = check_against_dense(layers, X, y, activation="relu")
    assert size.regions == 1
    assert size.gram_rows == 3 * 2


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), zero=st.floats(0, 0.6), bias=st.sampled_from([0.0, 0.5, 3.0]),
       activation=st.sampled_from(["relu", "hard_tanh"]))
def test_projected_spectrum_equals_dense_on_random_nets(seed, zero, bias, activation):
    """Random weights with a random fraction set to zero (dead and disconnected units), one
    shape so that every example reuses the compiled kernels."""
    widths = (2, 5, 4, 3)
    rng = np.random.default_rng(seed)
    layers = [(W * (rng.random(W.shape) >= zero), b) for W, b in he_net(widths, seed, bias)]
    X, y = data(24, 2, 3, seed)
    check_against_dense(layers, X, y, activation=activation, vectors=False)


def test_hessian_spectrum_methods_agree_and_auto_switches():
    widths = (2, 24, 24, 3)
    layers = he_net(widths, 6)
    X, y = data(60, 2, 3, 6)
    kw = dict(activation="relu")
    size = L.range_size(layers, X, y, **kw)
    assert size.dim < RR.PROJECTED_BELOW * size.n_params  # auto takes the projected path
    _, values = dense(layers, X, y, **kw)
    scale = np.abs(values).max()
    for method in RR.SPECTRUM_METHODS:
        got = L.hessian_spectrum(layers, X, y, method=method, **kw)
        np.testing.assert_allclose(got.eigenvalues, values, rtol=0, atol=TOL * scale)
    auto = L.hessian_spectrum(layers, X, y, **kw).eigenvalues
    np.testing.assert_array_equal(auto, L.projected_spectrum(layers, X, y, **kw).eigenvalues)
    # a smooth activation: auto falls back to the dense path, projected refuses
    tanh = L.hessian_spectrum(layers, X, y, activation="tanh").eigenvalues
    Ht = L.hessian(layers, X, y, activation="tanh")
    np.testing.assert_array_equal(tanh, L.eigendecomposition(Ht, vectors=False).eigenvalues)


def test_bad_input_is_refused_with_the_fix():
    layers = he_net((2, 4, 3), 7)
    X, y = data(10, 2, 3, 7)
    with pytest.raises(ValueError, match=r"activation='tanh' is smooth.*method='dense'"):
        L.projected_spectrum(layers, X, y, activation="tanh")
    with pytest.raises(ValueError, match=r"curvature='fisher'"):
        L.projected_spectrum(layers, X, y, activation="relu", curvature="fisher")
    with pytest.raises(ValueError, match=r"method='lu' is unknown"):
        L.hessian_spectrum(layers, X, y, activation="relu", method="lu")
    with pytest.raises(ValueError, match=r"projected hessian spectrum of P=27.*max_bytes=100"):
        L.projected_spectrum(layers, X, y, activation="relu", max_bytes=100)
