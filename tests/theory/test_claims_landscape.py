"""Theory claims about the loss landscape (toylab.landscape), stated over generated networks.

The mean training loss ``L(theta)`` of a fixed data set is a function of the flat parameter
vector (DESIGN.md order). Claims, each exact up to float64 rounding:

H1 (symmetry). The Hessian is symmetric (Schwarz; ``L`` is piecewise smooth and the data
avoid the kinks almost surely).

H2 (permutation equivariance). Permuting the neurons of a hidden layer permutes the
parameters, ``theta' = theta[pi]``, and leaves ``L`` unchanged, so ``g(theta') = g(theta)[pi]``
and ``H(theta') = H(theta)[pi][:, pi]``.

H3 (rescaling covariance; Neyshabur et al. 2015, Dinh et al. 2017). For a positively
homogeneous activation, ``L(D theta) = L(theta)`` with ``D`` multiplying one hidden neuron's
incoming weights and bias by ``a > 0`` and its outgoing weights by ``1/a``. Differentiating:
``g(D theta) = D^-1 g(theta)`` and ``H(D theta) = D^-1 H(theta) D^-1``.

H4 (Noether identities of the rescaling symmetry; Kunin et al. 2021, "Neural mechanics").
With ``T = d/ds log D`` at ``a = e^s`` (``+1`` on incoming, ``-1`` on outgoing parameters) and
``v = T theta`` (:func:`toylab.landscape.rescaling_direction`): ``g . v = 0`` everywhere, and
differentiating once more, ``H v = -T g``; at a critical point ``v`` is a zero mode of ``H``.

H5 (Gauss-Newton is positive semi-definite; Martens 2020, sec. 8). For a loss convex in the
outputs (cross-entropy), ``G = sum J^T (d^2 l / dz^2) J / n`` satisfies ``u^T G u >= 0`` for
every direction ``u``.

Shapes are fixed (2-4-3 on 64 points) so the compiled Hessian programs are reused.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toylab.landscape as L
from toylab import data
from toylab import testing as tt
from toylab.models import flatten, n_params, param_index, unflatten

WIDTHS = (2, 4, 3)
SAMPLE = data.blobs(3).sample(0, 64)
X, Y = SAMPLE.X, SAMPLE.y
HOMOGENEOUS = ("relu", "leaky_relu", "abs", "linear")
"""Positively homogeneous activations; relu in the default run, all of them with -m slow."""


def _permutation(widths, layer, order):
    """Flat index array ``pi`` with ``theta' = theta[pi]`` after permuting hidden ``layer``."""
    index = unflatten(np.arange(n_params(widths), dtype=np.float64), widths)
    W, b = index[layer]
    index[layer] = (W[:, order], b[order])
    index[layer + 1] = (index[layer + 1][0][order, :], index[layer + 1][1])
    return flatten(index).astype(np.int64)


def _rescaling(widths, layer, neuron, a):
    """Diagonal of ``D``: ``a`` on the neuron's incoming parameters, ``1/a`` on outgoing."""
    idx = param_index(widths)
    incoming = (idx.layer == layer) & (idx.neuron == neuron)
    outgoing = (idx.layer == layer + 1) & (idx.source == neuron)
    return np.where(incoming, a, np.where(outgoing, 1.0 / a, 1.0))


def _close(got, want, scale, rtol=1e-9):
    np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("activation", [
    a if a == "relu" else pytest.param(a, marks=pytest.mark.slow) for a in HOMOGENEOUS])
@settings(max_examples=12)
@given(data_=st.data(), choice=st.tuples(st.integers(0, 2**16), st.integers(0, 3)),
       a=st.sampled_from([0.3, 2.0, 5.0]))
def test_hessian_symmetries(activation, data_, choice, a):
    """H1-H4 at one generated network."""
    net = data_.draw(tt.networks(widths=WIDTHS, activations=activation))
    layers, act = net.layers, net.activation
    theta = flatten(layers)
    H = L.hessian(layers, X, Y, activation=act)
    g = L.gradient(layers, X, Y, activation=act)
    h_scale, g_scale = 1.0 + np.abs(H).max(), 1.0 + np.abs(g).max()
    _close(H, H.T, h_scale, rtol=1e-12)  # H1

    order = np.random.default_rng(choice[0]).permutation(WIDTHS[1])  # H2
    pi = _permutation(WIDTHS, 0, order)
    permuted = unflatten(theta[pi], WIDTHS)
    _close(L.gradient(permuted, X, Y, activation=act), g[pi], g_scale)
    _close(L.hessian(permuted, X, Y, activation=act), H[pi][:, pi], h_scale)

    d = _rescaling(WIDTHS, 0, choice[1], a)  # H3
    scaled = unflatten(d * theta, WIDTHS)
    assert L.loss_value(scaled, X, Y, activation=act) == pytest.approx(
        L.loss_value(layers, X, Y, activation=act), rel=1e-12)
    _close(L.gradient(scaled, X, Y, activation=act), g / d, g_scale * max(a, 1 / a))
    _close(L.hessian(scaled, X, Y, activation=act), H / np.outer(d, d),
           h_scale * max(a, 1 / a) ** 2)

    v = L.rescaling_direction(layers, 0, choice[1])  # H4
    T = np.sign(np.log(_rescaling(WIDTHS, 0, choice[1], np.e)))
    v_scale = 1.0 + np.abs(v).max()
    assert abs(g @ v) <= 1e-9 * g_scale * v_scale * len(v)
    _close(H @ v, -T * g, h_scale * v_scale * len(v))


@settings(max_examples=10)
@given(net=tt.networks(widths=WIDTHS), data_=st.data())
def test_gauss_newton_is_positive_semidefinite(net, data_):
    """H5 along generated parameter directions (coordinate, single-neuron, layer, ...)."""
    G = L.curvature_matrix(net.layers, X, Y, curvature="gauss_newton", activation=net.activation)
    for _ in range(5):
        u = data_.draw(tt.parameter_directions(net))
        assert u @ G @ u >= -1e-12 * (1.0 + np.abs(G).max())
