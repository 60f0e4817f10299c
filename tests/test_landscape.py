"""Loss-landscape library: exact curvature vs independent methods, symmetries, subspaces.

Independent references: central finite differences of the gradient, hand-derived Hessians,
per-example Jacobians / gradients computed here with plain jax, dense LAPACK for Lanczos.
All fixtures share a few architectures so JAX compiles each kernel once per session.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from hypothesis import assume, given, settings, strategies as st

import toylab.landscape as L
from toylab.testing import networks
from toylab.data import make
from toylab.landscape.curvature import GRAM_FACTORS
from toylab.models import (
    ACTIVATIONS,
    LOSSES,
    MLP,
    apply,
    flatten,
    init_layers,
    param_index,
    unflatten,
)

WIDTHS = (2, 5, 3)
seeds = st.integers(0, 2**31 - 1)


def net_and_data(seed, widths=WIDTHS, n=24, scale=1.0):
    """Random float64 layer list (He init, random biases) and a labelled data set."""
    rng = np.random.default_rng(seed)
    layers = [(rng.normal(size=(a, b)) * scale * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(widths[:-1], widths[1:])]
    X = rng.normal(size=(n, widths[0])) * 1.5
    y = rng.integers(0, widths[-1], n)
    return layers, X, y


def flat(layers):
    with jax.enable_x64(True):
        return np.asarray(flatten(layers))


def unflat(theta, widths=WIDTHS):
    return [(np.asarray(W), np.asarray(b)) for W, b in unflatten(np.asarray(theta), widths)]


def min_abs_preactivation(layers, X):
    h, out = X, np.inf
    for W, b in layers[:-1]:
        z = h @ W + b
        out = min(out, np.abs(z).min())
        h = np.maximum(z, 0)
    return out


# ----------------------------------------------------------------------------- exact Hessian


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@settings(max_examples=4)
@given(seed=seeds)
def test_hessian_is_symmetric_and_matches_finite_differences(activation, seed):
    layers, X, y = net_and_data(seed)
    h = 1e-5
    if activation == "relu":  # no kink within the finite-difference step
        assume(min_abs_preactivation(layers, X) > 1e-2)
    H = L.hessian(layers, X, y, activation=activation)
    theta = flat(layers)
    scale = np.abs(H).max()
    assert np.abs(H - H.T).max() <= 1e-13 * scale
    grad = lambda t: L.gradient(unflat(t), X, y, activation=activation)
    fd = np.stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h)
                   for e in np.eye(theta.size)], axis=1)
    np.testing.assert_allclose(H, fd, rtol=0, atol=1e-7 * scale)


def test_flat_order_matches_hand_derived_hessian_of_2_2_1_linear_net():
    """f = sum_j h_j u_j + c, h_j = x . W[:, j] + b_j, L = (f - t)^2 / 2 at one point.

    H = J J^T + r d2f, written out by hand in the contract order
    [W00, W01, W10, W11, b0, b1, u0, u1, c]."""
    W = np.array([[1.0, 2.0], [-1.0, 0.5]])
    b = np.array([0.25, -0.5])
    u = np.array([[3.0], [-2.0]])
    c = np.array([0.1])
    x = np.array([[2.0, -1.0]])
    t = np.array([[0.7]])
    hid = x[0] @ W + b                       # (2,)
    r = hid @ u[:, 0] + c[0] - t[0, 0]
    J = np.array([x[0, 0] * u[0, 0], x[0, 0] * u[1, 0], x[0, 1] * u[0, 0], x[0, 1] * u[1, 0],
                  u[0, 0], u[1, 0], hid[0], hid[1], 1.0])
    d2f = np.zeros((9, 9))
    for i_w, (w_index, u_index) in enumerate([(0, 6), (1, 7), (2, 6), (3, 7), (4, 6), (5, 7)]):
        d2f[w_index, u_index] = d2f[u_index, w_index] = [x[0, 0], x[0, 0], x[0, 1], x[0, 1],
                                                         1.0, 1.0][i_w]
    expected = np.outer(J, J) + r * d2f
    H = L.hessian([(W, b), (u, c)], x, t, activation="linear", loss="mse")
    np.testing.assert_allclose(H, expected, rtol=1e-14, atol=1e-14)


def test_mlp_and_layer_list_give_the_same_hessian():
    layers, X, y = net_and_data(3)
    model = MLP.from_layers([(jnp.asarray(W, jnp.float32), jnp.asarray(b, jnp.float32))
                             for W, b in layers], "tanh")
    as_f32 = [(np.float32(W).astype(np.float64), np.float32(b).astype(np.float64))
              for W, b in layers]
    np.testing.assert_allclose(L.hessian(model, X, y), L.hessian(as_f32, X, y, activation="tanh"),
                               rtol=1e-12, atol=1e-14)


def test_flat_loss_is_the_training_loss_of_the_flat_vector():
    layers, X, y = net_and_data(2)
    f, theta = L.flat_loss(layers, X, y, activation="tanh")
    np.testing.assert_array_equal(theta, flat(layers))
    with jax.enable_x64(True):
        value = float(jax.jit(f)(jnp.asarray(theta)))
        grad = np.asarray(jax.grad(f)(jnp.asarray(theta)))
    assert value == pytest.approx(L.loss_value(layers, X, y, activation="tanh"), rel=1e-15)
    np.testing.assert_allclose(grad, L.gradient(layers, X, y, activation="tanh"), rtol=1e-13)


PL_PAIRS = [("leaky_relu", "mse"), ("abs", "cross_entropy"), ("hard_tanh", "mse")]
"""Default pairs; relu (vs finite differences) and linear + mse (vs the hand-derived Hessian)
go through ``blocks`` in the tests above; the rest are ``slow``."""
ALL_PL_PAIRS = [(a, l) for a in ACTIVATIONS if ACTIVATIONS[a].piecewise_linear
                for l in L.OUTPUT_FACTORS]


def _check_blocks_against_hvp(activation, loss):
    widths = (2, 4, 6, 3)
    layers, X, y = net_and_data(7, widths, n=100)  # 100 points: a padded last point chunk
    a = L.hessian(layers, X, y, activation=activation, loss=loss, method="blocks")
    b = L.hessian(layers, X, y, activation=activation, loss=loss, method="hvp")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * np.abs(b).max())


@pytest.mark.parametrize("activation,loss", PL_PAIRS)
def test_blocks_method_equals_the_hvp_sweep(activation, loss):
    """Gauss-Newton + residual blocks (piecewise-linear nets) vs HVPs of every basis vector."""
    _check_blocks_against_hvp(activation, loss)


@pytest.mark.slow
@pytest.mark.parametrize("activation,loss", sorted(set(ALL_PL_PAIRS) - set(PL_PAIRS)))
def test_blocks_method_equals_the_hvp_sweep_remaining_pairs(activation, loss):
    _check_blocks_against_hvp(activation, loss)


DEEP_WIDTHS = (2, 3, 4, 3, 3)
"""Four layers: residual blocks between layers up to three apart (chained ``dh/dpre``)."""


@settings(max_examples=15, deadline=None)
@given(net=networks(widths=DEEP_WIDTHS, activations="relu", degenerate=True))
def test_blocks_method_equals_the_hvp_sweep_on_deep_and_degenerate_nets(net, monkeypatch_module):
    """Dead, silent, duplicated, coincident and parallel neurons and exact zero weights; the
    factor rows are forced into point chunks of 7 (40 points: a padded last chunk)."""
    from toylab.landscape.curvature import _point_chunk

    assert _point_chunk(DEEP_WIDTHS, 40, DEEP_WIDTHS[-1] - 1) == 7
    _, X, y = net_and_data(31, DEEP_WIDTHS, n=40)
    a = L.hessian(net.layers, X, y, activation="relu", method="blocks")
    b = L.hessian(net.layers, X, y, activation="relu", method="hvp")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * max(np.abs(b).max(), 1e-300))


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Point chunks of 7 for the ``blocks`` method (``FACTOR_BYTES`` of 7 points' rows)."""
    from toylab.landscape import curvature

    size = flat(net_and_data(0, DEEP_WIDTHS)[0]).size
    mp = pytest.MonkeyPatch()
    mp.setattr(curvature, "FACTOR_BYTES", 8 * (DEEP_WIDTHS[-1] - 1) * size * 7)
    yield mp
    mp.undo()


def test_blocks_gauss_newton_equals_the_gauss_newton_product_sweep():
    layers, X, y = net_and_data(6, n=100)
    G = L.curvature_matrix(layers, X, y, curvature="gauss_newton", activation="tanh",
                           method="blocks")
    G_ref = L.curvature_matrix(layers, X, y, curvature="gauss_newton", activation="tanh",
                               method="hvp")
    np.testing.assert_allclose(G, G_ref, rtol=0, atol=1e-13 * np.abs(G_ref).max())


def test_blocks_method_refuses_smooth_activations():
    layers, X, y = net_and_data(7)
    with pytest.raises(ValueError, match="activation='tanh' is smooth.*method='hvp'"):
        L.hessian(layers, X, y, activation="tanh", method="blocks")
    with pytest.raises(ValueError, match="method='newton'"):
        L.hessian(layers, X, y, activation="relu", method="newton")


def test_chunk_size_does_not_change_the_hessian():
    layers, X, y = net_and_data(4)
    a = L.hessian(layers, X, y, activation="tanh", chunk=7)
    b = L.hessian(layers, X, y, activation="tanh", chunk=1000)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- lookup tables


def _point_loss(loss):
    return lambda zi, yi: LOSSES[loss](zi[None], yi[None])


@partial(jax.jit, static_argnames=("curvature", "activation", "loss"))
def _reference_kernel(theta, X, y, *, curvature, activation, loss):
    logits = lambda t, x: apply(unflatten(t, WIDTHS), x, activation)
    if curvature == "hessian":
        return jax.hessian(lambda t: LOSSES[loss](logits(t, X), y))(theta)
    J = jax.vmap(jax.jacobian(logits), in_axes=(None, 0))(theta, X)  # (n, C, P)
    z = logits(theta, X)
    if curvature == "gauss_newton":
        H_out = jax.vmap(jax.hessian(_point_loss(loss)))(z, y)
        return jnp.einsum("ncp,ncd,ndq->pq", J, H_out, J) / X.shape[0]
    g = jnp.einsum("ncp,nc->np", J, jax.vmap(jax.grad(_point_loss(loss)))(z, y))
    return g.T @ g / X.shape[0]


def _reference_curvature(curvature, layers, X, y, activation, loss):
    """Dense ``(P, P)`` curvature from its definition with plain jax: ``jax.hessian`` of the
    mean loss, ``J^T H_out J / n`` and ``g g^T / n`` from per-example Jacobians (no products,
    no factors)."""
    with jax.enable_x64(True):
        return np.asarray(_reference_kernel(jnp.asarray(flat(layers)), jnp.asarray(X),
                                            jnp.asarray(y), curvature=curvature,
                                            activation=activation, loss=loss))


REFERENCE_CURVATURES = ("hessian", "gauss_newton", "fisher")


def test_every_curvature_has_a_reference_definition():
    assert set(L.CURVATURES) == set(REFERENCE_CURVATURES)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("curvature", sorted(L.CURVATURES))
def test_every_curvature_method_and_eigensolver_matches_its_definition(curvature, loss):
    """Every exact method that applies (:data:`MATRIX_METHODS`; ``blocks`` of the Hessian of a
    piecewise-linear net is checked against ``hvp`` above), the matrix-free operator and every
    top-eigenpair method (:data:`TOP_EIGEN_METHODS`) against the plain-jax definition."""
    layers, X, y = net_and_data(12)
    ref = _reference_curvature(curvature, layers, X, y, "tanh", loss)
    scale = np.abs(ref).max()
    kw = dict(curvature=curvature, activation="tanh", loss=loss)  # shapes compiled above
    applied = []
    for method in L.MATRIX_METHODS:
        try:
            M = L.curvature_matrix(layers, X, y, method=method, **kw)
        except ValueError as err:
            assert "does not apply" in str(err)
            continue
        applied.append(method)
        np.testing.assert_allclose(M, ref, rtol=0, atol=1e-12 * scale, err_msg=method)
    assert "hvp" in applied  # the product sweep covers every curvature
    v = np.random.default_rng(0).normal(size=ref.shape[0])
    np.testing.assert_allclose(L.curvature_operator(layers, X, y, **kw).matvec(v), ref @ v,
                               rtol=0, atol=1e-12 * scale * np.abs(v).sum())
    top = np.linalg.eigvalsh((ref + ref.T) / 2)[::-1][:3]
    for method in L.TOP_EIGEN_METHODS:
        try:
            got = L.top_eigen(layers, X, y, 3, method=method, **kw)
        except ValueError as err:  # factored: Gauss-Newton, or Hessians of piecewise-linear nets
            assert method == "factored" and "does not apply" in str(err)
            continue
        np.testing.assert_allclose(got.eigenvalues, top, rtol=1e-8, atol=1e-12 * scale,
                                   err_msg=method)


@pytest.mark.parametrize("table", ["OUTPUT_FACTORS", "GRAM_FACTORS"])
def test_every_output_factorisation_reproduces_the_output_hessian(table):
    """``sum_k a_ik a_ik^T = d^2 l / dz_i^2`` per point, for every loss of both factor tables
    (``GRAM_FACTORS`` with the fewest rows: ``C - 1`` for softmax cross-entropy)."""
    factors = {"OUTPUT_FACTORS": L.OUTPUT_FACTORS, "GRAM_FACTORS": GRAM_FACTORS}[table]
    assert set(factors) <= set(LOSSES)
    rng = np.random.default_rng(3)
    z, y = rng.normal(size=(6, 4)) * 2, rng.integers(0, 4, 6)
    with jax.enable_x64(True):
        for loss, fn in factors.items():
            a = np.asarray(jax.jit(fn)(jnp.asarray(z)))
            H = np.asarray(jax.jit(jax.vmap(jax.hessian(_point_loss(loss))))(jnp.asarray(z),
                                                                             jnp.asarray(y)))
            np.testing.assert_allclose(np.einsum("nkc,nkd->ncd", a, a), H, atol=1e-14,
                                       err_msg=loss)


# ----------------------------------------------------------------------------- decompositions


@pytest.mark.parametrize("loss", sorted(LOSSES))
@settings(max_examples=4)
@given(seed=seeds)
def test_gauss_newton_is_psd_and_split_adds_up(loss, seed):
    layers, X, y = net_and_data(seed)
    split = L.gauss_newton_split(layers, X, y, activation="tanh", loss=loss)
    G = split.gauss_newton
    assert np.linalg.eigvalsh(G).min() >= -1e-13 * np.abs(G).max()
    np.testing.assert_array_equal(split.residual, split.hessian - G)
    assert np.abs(split.residual).max() > 1e-6  # a 2-layer net is not linear in its parameters


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_residual_vanishes_for_a_model_linear_in_its_parameters(loss):
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(2, 3)), rng.normal(size=3))]
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 3, 30)
    split = L.gauss_newton_split(layers, X, y, activation="relu", loss=loss)
    assert np.abs(split.residual).max() <= 1e-14 * np.abs(split.hessian).max()


def _per_point(layers, X, y, activation):
    """Per-example logit Jacobians (n, C, P) and loss gradients (n, P) with plain jax."""
    with jax.enable_x64(True):
        theta = jnp.asarray(flat(layers))
        logits = lambda t, x: apply(unflatten(t, WIDTHS), x, activation)
        J = jax.vmap(jax.jacobian(logits), in_axes=(None, 0))(theta, jnp.asarray(X))
        z = logits(theta, jnp.asarray(X))
        p = jax.nn.softmax(z, -1)
        r = p - jax.nn.one_hot(y, WIDTHS[-1])
        return np.asarray(J), np.asarray(p), np.einsum("ncp,nc->np", np.asarray(J), np.asarray(r))


def test_empirical_fisher_equals_mean_outer_product_of_per_example_gradients():
    layers, X, y = net_and_data(5)
    _, _, g = _per_point(layers, X, y, "tanh")
    F = L.empirical_fisher(layers, X, y, activation="tanh")
    np.testing.assert_allclose(F, g.T @ g / len(X), rtol=1e-12, atol=1e-15)


@settings(max_examples=3)
@given(seed=seeds)
def test_papyan_class_structure(seed):
    layers, X, y = net_and_data(seed, n=40)
    J, p, g = _per_point(layers, X, y, "tanh")
    n, C = p.shape
    # G = (1/n) sum_i sum_c' p_ic' delta_ic' delta_ic'^T with delta = J^T (e_c' - p_i)
    delta = np.einsum("ncp,nkc->nkp", J, np.eye(C)[None] - p[:, None, :])
    G_ref = np.einsum("nk,nkp,nkq->pq", p, delta, delta) / n
    G = L.curvature_matrix(layers, X, y, curvature="gauss_newton", activation="tanh")
    np.testing.assert_allclose(G, G_ref, rtol=1e-12, atol=1e-14)

    cs = L.class_structure(layers, X, y, activation="tanh")
    for c in range(C):
        members = y == c
        if members.any():  # gbar_c = gradient of the class's mean loss
            np.testing.assert_allclose(cs.class_means[c], g[members].mean(0), atol=1e-14)
            d = np.sqrt(p[members])[:, :, None] * delta[members]
            np.testing.assert_allclose(cs.logit_means[c], d.mean(0), atol=1e-14)
    within = G - L.means_term(cs)   # sum of within-class covariances: PSD
    assert np.linalg.eigvalsh(within).min() >= -1e-13 * np.abs(G).max()
    np.testing.assert_allclose(cs.top.eigenvalues, np.linalg.eigvalsh(G)[::-1][:C], rtol=1e-10)
    for frac in (cs.captured_class, cs.captured_logit, [cs.overlap]):
        assert np.all((np.asarray(frac) >= -1e-12) & (np.asarray(frac) <= 1 + 1e-12))


# ----------------------------------------------------------------------------- symmetries


def permute_first_hidden_layer(layers, perm):
    (W0, b0), (W1, b1), last = layers
    return [(W0[:, perm], b0[perm]), (W1[perm], b1), last]


@settings(max_examples=4)
@given(seed=seeds, perm_seed=seeds)
def test_permuting_hidden_neurons_permutes_hessian_and_participation(seed, perm_seed):
    widths = (2, 4, 4, 3)
    layers, X, y = net_and_data(seed, widths)
    perm = np.random.default_rng(perm_seed).permutation(4)
    H = L.hessian(layers, X, y, activation="relu")
    Hp = L.hessian(permute_first_hidden_layer(layers, perm), X, y, activation="relu")
    # source[j]: flat index in the original net of the permuted net's parameter j
    index_net = unflat(np.arange(flat(layers).size, dtype=float), widths)
    source = flat(permute_first_hidden_layer(index_net, perm)).astype(int)
    np.testing.assert_allclose(Hp, H[np.ix_(source, source)], rtol=1e-12, atol=1e-14)
    spec, spec_p = L.eigendecomposition(H), L.eigendecomposition(Hp)
    np.testing.assert_allclose(spec_p.eigenvalues, spec.eigenvalues, atol=1e-12 * np.abs(H).max())
    v = np.random.default_rng(seed).normal(size=source.size)
    m, mp = L.neuron_mass(v, widths), L.neuron_mass(v[source], widths)
    hidden0 = np.flatnonzero(m.neurons[:, 0] == 0)
    np.testing.assert_allclose(mp.share[hidden0], m.share[hidden0[perm]], rtol=1e-12)
    np.testing.assert_allclose(mp.share[4:], m.share[4:], rtol=1e-12)
    assert np.isclose(mp.participation_ratio, m.participation_ratio, rtol=1e-12)


HOMOGENEOUS = sorted(a for a, act in ACTIVATIONS.items()
                     if act.piecewise_linear and all(piece[3] == 0 for piece in act.pieces))
"""Positively homogeneous activations (``f(a z) = a f(z)`` for ``a > 0``): piecewise linear
with every piece through the origin (relu, leaky_relu, abs, linear)."""


@pytest.mark.parametrize("activation", HOMOGENEOUS)
@settings(max_examples=3)
@given(seed=seeds, alpha=st.floats(0.2, 5.0))
def test_rescaling_symmetry_is_flat(activation, seed, alpha):
    layers, X, y = net_and_data(seed, (2, 4, 4, 3))
    neuron = seed % 4
    (W0, b0), (W1, b1), last = layers
    scaled = [(W0, b0), (W1 * np.where(np.arange(4) == neuron, alpha, 1.0),
                         b1 * np.where(np.arange(4) == neuron, alpha, 1.0)),
              (last[0] / np.where(np.arange(4) == neuron, alpha, 1.0)[:, None], last[1])]
    loss = L.loss_value(layers, X, y, activation=activation)
    assert np.isclose(L.loss_value(scaled, X, y, activation=activation), loss, rtol=1e-13)
    d = L.rescaling_direction(layers, 1, neuron)
    g = L.gradient(layers, X, y, activation=activation)
    assert abs(g @ d) <= 1e-13 * np.linalg.norm(g) * np.linalg.norm(d)
    assert np.linalg.norm(d) > 0


def test_rescaling_direction_is_not_flat_for_tanh():
    layers, X, y = net_and_data(8, (2, 4, 4, 3))
    g = L.gradient(layers, X, y, activation="tanh")
    assert abs(g @ L.rescaling_direction(layers, 0, 1)) > 1e-6


# ----------------------------------------------------------------------------- iterative path


def test_lanczos_agrees_with_exact_eigenpairs():
    layers, X, y = net_and_data(9, n=40)
    H = L.hessian(layers, X, y, activation="tanh")
    exact = L.eigendecomposition(H)
    top = L.top_eigen(layers, X, y, 6, activation="tanh")
    np.testing.assert_allclose(top.eigenvalues, exact.eigenvalues[:6], rtol=1e-6)
    cosines = np.abs(np.sum(top.eigenvectors * exact.eigenvectors[:, :6], axis=0))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-6)
    via_exact = L.top_eigen(layers, X, y, 6, activation="tanh", method="exact")
    np.testing.assert_allclose(via_exact.eigenvalues, exact.eigenvalues[:6], rtol=1e-12)
    op = L.curvature_operator(layers, X, y, activation="tanh")
    v = np.random.default_rng(0).normal(size=H.shape[0])
    np.testing.assert_allclose(op.matvec(v), H @ v, rtol=1e-12, atol=1e-14)


@settings(max_examples=5)
@given(seed=seeds, steps=st.integers(2, 12))
def test_lanczos_quadrature_reproduces_krylov_moments(seed, steps):
    """Gauss quadrature on m nodes is exact for polynomials of degree < 2m."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(20, 20))
    M = A + A.T
    v = rng.normal(size=20)
    alpha, beta = L.lanczos_tridiagonal(lambda q: M @ q, v, steps)
    nodes, S = scipy.linalg.eigh_tridiagonal(alpha, beta)
    w = S[0] ** 2
    u = v / np.linalg.norm(v)
    for s in range(min(2 * alpha.size, 6)):
        want = u @ np.linalg.matrix_power(M, s) @ u
        assert np.isclose(np.sum(w * nodes**s), want, rtol=1e-9, atol=1e-9 * 10.0**s)


def test_spectral_density_with_full_krylov_space_hits_the_eigenvalues():
    layers, X, y = net_and_data(10)
    H = L.hessian(layers, X, y, activation="tanh")
    lam = np.linalg.eigvalsh(H)
    slq = L.spectral_density(layers, X, y, activation="tanh", n_vectors=3, n_steps=H.shape[0])
    np.testing.assert_allclose(slq.weights.sum(axis=1), 1.0, rtol=1e-12)
    used = slq.weights > 1e-8
    gaps = np.abs(slq.nodes[used][:, None] - lam[None]).min(axis=1)
    assert gaps.max() <= 1e-8 * np.abs(lam).max()
    grid = np.linspace(lam.min() - 1, lam.max() + 1, 4001)
    assert np.isclose(np.trapezoid(slq.density(grid, 0.05), grid), 1.0, atol=1e-6)


# ----------------------------------------------------------------------------- subspaces


@settings(max_examples=20)
@given(seed=seeds, k=st.integers(1, 6))
def test_top_subspace_overlap_is_a_fraction_and_one_inside(seed, k):
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.normal(size=(12, k)))[0]
    g = rng.normal(size=12)
    assert 0 <= L.top_subspace_overlap(g, V) <= 1
    assert L.top_subspace_overlap(V @ rng.normal(size=k), V) == pytest.approx(1, abs=1e-14)
    assert L.subspace_overlap(V, V @ np.linalg.qr(rng.normal(size=(k, k)))[0]) == pytest.approx(1)
    if k < 12:
        perp = np.linalg.qr(np.concatenate([V, rng.normal(size=(12, 1))], 1))[0][:, -1]
        assert L.top_subspace_overlap(perp, V) == pytest.approx(0, abs=1e-14)
        assert L.subspace_overlap(V, perp[:, None]) == pytest.approx(0, abs=1e-14)


@given(k=st.integers(1, 6), ratio=st.floats(5, 1e4), seed=seeds)
@settings(max_examples=15)
def test_count_outliers_finds_a_planted_gap(k, ratio, seed):
    rng = np.random.default_rng(seed)
    bulk = rng.uniform(0.5, 1.0, 50)
    outliers = ratio * rng.uniform(1.0, 1.5, k)
    assert L.count_outliers(rng.permutation(np.concatenate([bulk, outliers]))) == k
    assert L.count_outliers(np.concatenate([-bulk, [0.0]])) == 0


def test_gradient_and_trajectory_overlap():
    widths = (2, 6, 3)
    layers, X, y = net_and_data(11, widths, n=40)
    theta = flat(layers)
    snaps = [theta]
    for _ in range(3):  # three gradient-descent steps
        snaps.append(snaps[-1] - 0.5 * L.gradient(unflat(snaps[-1], widths), X, y,
                                                     activation="relu"))
    nets = [unflat(t, widths) for t in snaps]
    traj = L.trajectory_overlap(nets, X, y, activation="relu")
    for t, net in enumerate(nets):
        single = L.gradient_overlap(net, X, y, activation="relu")
        H = L.hessian(net, X, y, activation="relu")
        V = L.eigendecomposition(H, k=3).eigenvectors
        assert traj.overlap[t] == pytest.approx(single.overlap, rel=1e-9)
        g = L.gradient(net, X, y, activation="relu")
        assert single.overlap == pytest.approx(np.sum((V.T @ g) ** 2) / (g @ g), rel=1e-9)
    np.testing.assert_allclose(np.diag(traj.similarity), 1.0, rtol=1e-12)
    np.testing.assert_allclose(traj.similarity, traj.similarity.T, rtol=1e-12)
    assert traj.subspaces.shape == (4, theta.size, 3)


# ----------------------------------------------------------------------------- neurons


def test_neuron_mass_on_single_neurons():
    widths = (2, 3, 2)
    idx = param_index(widths)
    P = idx.layer.size
    v = np.zeros(P)
    v[(idx.layer == 0) & (idx.neuron == 1)] = 1.0   # all incoming of hidden neuron 1
    m = L.neuron_mass(v, widths)
    np.testing.assert_array_equal(m.carriers(0.9), [[0, 1]])
    assert m.participation_ratio == pytest.approx(1)
    np.testing.assert_allclose(m.incoming.sum(), 1)
    w = np.zeros(P)
    w[np.flatnonzero((idx.layer == 1) & (idx.source == 2) & (idx.neuron == 0))] = 3.0
    m2 = L.neuron_mass(w, widths)   # hidden 2 -> logit 0: outgoing of one, incoming of other
    assert m2.participation_ratio == pytest.approx(2)
    assert {tuple(n) for n in m2.carriers(0.9)} == {(0, 2), (1, 0)}
    assert m2.outgoing[2] == pytest.approx(1) and m2.incoming[3] == pytest.approx(1)


@settings(max_examples=10)
@given(seed=seeds)
def test_neuron_shares_are_distributions(seed):
    widths = (2, 4, 3, 2)
    V = np.random.default_rng(seed).normal(size=(param_index(widths).layer.size, 3))
    S = L.neuron_shares(V, widths)
    np.testing.assert_allclose(S.sum(0), 1.0)
    m = L.neuron_mass(V[:, 0], widths)
    np.testing.assert_allclose(S[:, 0], m.share)
    np.testing.assert_allclose(m.incoming.sum(), 1.0)
    carriers = m.carriers(0.9)
    rows = [np.flatnonzero((m.neurons == c).all(1))[0] for c in carriers]
    assert m.share[rows].sum() >= 0.9 - 1e-12
    assert m.share[rows[:-1]].sum() < 0.9
    assert 1 <= m.participation_ratio <= len(m.share)
    Q = np.linalg.qr(V)[0]
    rotated = Q @ np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(3, 3)))[0]
    sub, sub_rot = L.subspace_mass(Q, widths), L.subspace_mass(rotated, widths)
    np.testing.assert_allclose(sub.share, sub_rot.share, rtol=1e-12)
    np.testing.assert_allclose(L.subspace_mass(Q[:, :1], widths).share,
                               L.neuron_mass(Q[:, 0], widths).share, rtol=1e-12)


# ----------------------------------------------------------------------------- slices


@settings(max_examples=10)
@given(seed=seeds)
def test_filter_normalisation_matches_parameter_filter_norms(seed):
    layers, _, _ = net_and_data(seed, (2, 4, 3))
    layers[0][0][:, 2] = 0.0                         # a dead filter in the parameters
    d = L.random_direction(layers, seed=seed)
    dl = unflat(d, (2, 4, 3))
    for (W, b), (dW, db) in zip(layers, dl):
        np.testing.assert_allclose(np.linalg.norm(dW, axis=0), np.linalg.norm(W, axis=0),
                                   rtol=1e-12, atol=0)
        np.testing.assert_array_equal(db, 0.0)
    zero_filter = np.zeros_like(d)
    assert np.all(L.filter_normalize(zero_filter, layers) == 0)


def test_slices_and_linear_path_against_plain_losses():
    layers, X, y = net_and_data(12)
    other, _, _ = net_and_data(13)
    d1, d2 = L.random_direction(layers, seed=0), L.random_direction(layers, seed=1)
    s = L.loss_slice(layers, X, y, [d1, d2], [np.linspace(-1, 1, 5), np.linspace(-2, 2, 3)],
                     activation="relu")
    assert s.losses.shape == (5, 3)
    theta = flat(layers)
    for a, b in [(2, 1), (0, 2), (4, 0)]:
        net = unflat(theta + s.grids[0][a] * d1 + s.grids[1][b] * d2)
        assert s.losses[a, b] == pytest.approx(L.loss_value(net, X, y, activation="relu"), rel=1e-13)
    path = L.linear_path(layers, other, X, y, n_points=11, activation="relu")
    t5 = unflat(0.5 * theta + 0.5 * flat(other))
    assert path.losses[5] == pytest.approx(L.loss_value(t5, X, y, activation="relu"), rel=1e-13)
    chord = (1 - path.alphas) * path.losses[0] + path.alphas * path.losses[-1]
    assert path.barrier == pytest.approx(np.max(path.losses - chord))
    same = L.linear_path(layers, layers, X, y, activation="relu")
    assert same.barrier == pytest.approx(0.0, abs=1e-14)


def test_trajectory_pca_and_projection():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=33)
    thetas = np.outer(np.linspace(0, 1, 6) ** 2, direction) + rng.normal(size=33)
    pca = L.trajectory_pca(thetas, k=2)
    assert pca.explained[0] == pytest.approx(1.0, abs=1e-12)
    unit = direction / np.linalg.norm(direction)
    assert abs(pca.directions[:, 0] @ unit) == pytest.approx(1.0, abs=1e-12)
    coords = L.project_trajectory(thetas, pca.directions)
    np.testing.assert_allclose(coords, pca.coordinates, atol=1e-12)
    np.testing.assert_allclose(np.abs(coords[:, 0]), (1 - np.linspace(0, 1, 6) ** 2)
                               * np.linalg.norm(direction), rtol=1e-12)


# ----------------------------------------------------------------------------- population


def test_population_loss_agrees_with_an_independent_sample():
    dist = make("blobs", k=3)
    layers, _, _ = net_and_data(14)
    est = L.population_loss(layers, dist, activation="relu", n_samples=20000, seed=1)
    fresh = dist.sample(2, 20000)
    other = L.loss_value(layers, fresh.X, fresh.y, activation="relu")
    assert abs(est.mean - other) <= 4 * est.stderr * np.sqrt(2)
    assert est.stderr > 0 and est.n_samples == 20000


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors():
    layers, X, y = net_and_data(15)
    nan_net = [(W.copy(), b.copy()) for W, b in layers]
    nan_net[1][0][2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite parameters.*layer 1 neuron 1 weight"):
        L.hessian(nan_net, X, y, activation="relu")
    inf_net = [(W.copy(), b.copy()) for W, b in layers]
    inf_net[0][1][0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        L.gradient(inf_net, X, y, activation="relu")
    P = flat(layers).size
    with pytest.raises(ValueError, match=f"k={P + 1}.*1 <= k <= {P} for .*factored"):
        L.top_eigen(layers, X, y, P + 1, activation="relu")
    with pytest.raises(ValueError, match=f"k={P}.*1 <= k <= {P - 1}.*ARPACK needs k < P"):
        L.top_eigen(layers, X, y, P, activation="relu", method="lanczos")
    with pytest.raises(ValueError, match=r"k=5 must be an integer with 1 <= k <= 4"):
        L.eigendecomposition(np.eye(4), k=5)
    with pytest.raises(ValueError, match=r"direction has shape \(3,\).*\(" + str(P) + r",\)"):
        L.filter_normalize(np.ones(3), layers)
    with pytest.raises(ValueError, match="zero vector"):
        L.neuron_mass(np.zeros(P), WIDTHS)
    with pytest.raises(ValueError, match=r"v has shape"):
        L.neuron_mass(np.ones(P + 1), WIDTHS)
    with pytest.raises(ValueError, match=r"directions\[0\] has shape"):
        L.loss_slice(layers, X, y, np.ones(P - 1), [np.zeros(2)], activation="relu")
    with pytest.raises(ValueError, match="max_bytes=.*top_eigen.*spectral_density"):
        L.hessian(layers, X, y, activation="relu", max_bytes=1000)
    with pytest.raises(ValueError, match="max_bytes"):
        L.eigendecomposition(np.eye(50), max_bytes=100)
    with pytest.raises(ValueError, match="curvature='newton'"):
        L.curvature_matrix(layers, X, y, activation="relu", curvature="newton")
    with pytest.raises(ValueError, match="loss='hinge'"):
        L.hessian(layers, X, y, activation="relu", loss="hinge")
    with pytest.raises(ValueError, match=r"labels in \[7, 7\].*\[0, 2\]"):
        L.hessian(layers, X, np.full(len(X), 7), activation="relu")
    with pytest.raises(ValueError, match="X has shape"):
        L.hessian(layers, X[:, :1], y, activation="relu")
    with pytest.raises(ValueError, match="activation=None"):
        L.hessian(layers, X, y)
    with pytest.raises(ValueError, match="not orthonormal"):
        L.top_subspace_overlap(np.ones(4), np.ones((4, 2)))
    with pytest.raises(ValueError, match="zero vector"):
        L.top_subspace_overlap(np.zeros(4), np.eye(4)[:, :2])
    with pytest.raises(ValueError, match="n_vectors=0"):
        L.spectral_density(layers, X, y, activation="relu", n_vectors=0)


def test_memory_estimate_counts_the_matrix():
    P = flat(net_and_data(0)[0]).size
    assert L.matrix_bytes(WIDTHS, 24) >= 8 * P * P
    assert L.eigh_bytes(P) == 3 * 8 * P * P


# ----------------------------------------------------------------------------- plots


def test_plots_return_labelled_figures():
    from matplotlib.figure import Figure

    import toylab.plots.landscape as P

    layers, X, y = net_and_data(24)
    H = L.hessian(layers, X, y, activation="relu")
    spec = L.eigendecomposition(H)
    slq = L.spectral_density(layers, X, y, activation="relu", n_vectors=2, n_steps=10)
    neurons, _, _ = L.neuron_table(WIDTHS)
    d = L.random_direction(layers)
    s1 = L.loss_slice(layers, X, y, d, [np.linspace(-1, 1, 5)], activation="relu")
    s2 = L.loss_slice(layers, X, y, [d, spec.eigenvectors[:, 0]],
                      [np.linspace(-1, 1, 4), np.linspace(-1, 1, 3)], activation="relu")
    figs = [
        P.plot_spectrum(spec.eigenvalues, density=slq),
        P.plot_overlap(np.arange(4), {"gd": np.random.default_rng(0).uniform(size=(3, 4))}),
        P.plot_neuron_heatmap(L.neuron_shares(spec.eigenvectors[:, :3], WIDTHS), neurons,
                              eigenvalues=spec.eigenvalues[:3]),
        P.plot_slice_1d([s1], ["random"]),
        P.plot_slice_2d(s2),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        for ax in fig.axes:
            if ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="needs a 2-D one"):
        P.plot_slice_2d(s1)


# ----------------------------------------------------------------------------- stage


def test_landscape_imports_only_lower_stages():
    """toylab.landscape lives in parameter space: it needs no partition (toylab.exact), no
    training loop (toylab.train) and nothing above it (DESIGN.md stage rule)."""
    import ast
    import pathlib

    allowed = ("toylab.units", "toylab.data", "toylab.models", "toylab.landscape")
    for path in pathlib.Path(L.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad = [n for n in names if n.startswith("toylab") and not n.startswith(allowed)]
            assert not bad, f"{path.name} imports {bad}"
