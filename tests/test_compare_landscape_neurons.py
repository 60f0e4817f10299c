"""Input-space motion of parameter directions: first-order change of region maps and population
accuracy vs central differences of the exact partition, closed-form line integrals vs
quadrature, fold velocities vs finite differences of the forward pass, exact invariance along
the rescaling symmetry, linearity in the direction, participation of single-neuron
directions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.integrate import quad

from toylab import data
from toylab.compare import landscape_neurons as ln
from toylab.exact import folds, partition
from toylab.exact.population import population_accuracy, population_partition
from toylab.landscape import rescaling_direction
from toylab.models import flatten, param_index, unflatten, widths_of

DIST = data.curved()
WIDTHS = (2, 5, 4, 2)


def _net(seed, widths=WIDTHS):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


def _preactivation(net, X, layer, i):
    """Plain numpy forward pass to hidden neuron (layer, i)'s pre-activation."""
    h = X
    for depth, (W, b) in enumerate(net):
        z = h @ W + b
        if depth == layer:
            return z[:, i]
        h = np.maximum(z, 0.0)


def _layers(theta, widths):
    return unflatten(np.asarray(theta, np.float64), widths)


# ----------------------------------------------------------------------------- first-order change


BLOBS = data.make("blobs", k=3)


def test_first_order_change_of_region_maps_matches_central_differences():
    widths = (2, 5, 4, 3)
    layers = _net(21, widths)
    p = population_partition(layers, BLOBS, activation="relu")
    v = np.random.default_rng(1).normal(size=flatten(layers).size)
    fo = ln.first_order_change(p, v)
    h = 1e-6
    plus, minus = (population_partition(_layers(flatten(layers) + s * h * v, widths), BLOBS,
                                        activation="relu") for s in (1, -1))
    rp, rm = plus.locate(p.centroids), minus.locate(p.centroids)
    for layer in range(len(widths) - 1):
        for kind, (dA, dc) in (("pre", fo.pre[layer]), ("post", fo.post[layer])):
            (Ap, cp), (Am, cm) = (q.affine(layer, pre=kind == "pre") for q in (plus, minus))
            scale = max(np.abs(dA).max(), np.abs(dc).max())
            np.testing.assert_allclose(dA, (Ap[rp] - Am[rm]) / (2 * h), atol=1e-6 * scale)
            np.testing.assert_allclose(dc, (cp[rp] - cm[rm]) / (2 * h), atol=1e-6 * scale)


def test_accuracy_rate_matches_finite_difference_of_exact_population_accuracy():
    widths = (2, 6, 3)
    layers = _net(22, widths)
    v = np.random.default_rng(2).normal(size=flatten(layers).size)
    fo = ln.first_order_change(population_partition(layers, BLOBS, activation="relu"), v,
                               dist=BLOBS)
    h = 1e-5
    acc = [population_accuracy(population_partition(_layers(flatten(layers) + s * h * v, widths),
                                                    BLOBS, activation="relu"), BLOBS).value
           for s in (1, -1)]
    assert len(fo.segments) > 0
    assert fo.accuracy_rate == pytest.approx((acc[0] - acc[1]) / (2 * h), rel=1e-6, abs=1e-9)


def test_logit_bias_direction_moves_its_boundaries_uniformly():
    widths = (2, 6, 3)
    layers = _net(23, widths)
    p = population_partition(layers, BLOBS, activation="relu")
    idx = param_index(widths)
    k = 1
    v = ((idx.layer == 1) & (idx.neuron == k) & (idx.source < 0)).astype(float)
    fo = ln.first_order_change(p, v)
    A = p.pre[-1][0][p.locate(fo.segments.mean(1))]
    a = A[np.arange(len(A)), :, fo.pairs[:, 0]] - A[np.arange(len(A)), :, fo.pairs[:, 1]]
    sign = np.where(fo.pairs[:, 0] == k, -1.0, np.where(fo.pairs[:, 1] == k, 1.0, 0.0))
    expected = sign / np.linalg.norm(a, axis=1)
    np.testing.assert_allclose(fo.velocity, np.stack([expected, expected], 1), atol=1e-12)
    for dA, dc in fo.pre[:-1]:
        assert np.all(dA == 0) and np.all(dc == 0)   # hidden layers do not see a logit bias


def test_first_order_change_lives_in_compare_only():
    """Boundary motion needs a partition, so it is a compare-stage analysis: the landscape
    stage neither defines nor serves it."""
    import toylab.landscape as L

    assert not hasattr(L, "first_order_change") and not hasattr(L, "FirstOrderChange")
    assert ln.first_order_change.__module__ == "toylab.compare.landscape_neurons"


# ----------------------------------------------------------------------------- line integrals


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_segment_integrals_match_quadrature(seed):
    rng = np.random.default_rng(seed)
    seg = rng.normal(size=(1, 2, 2)) * 2.5
    vel = rng.normal(size=(1, 2))
    if seed % 3 == 0:
        vel[0, 1] = -0.2 * vel[0, 0]  # sign change inside the segment
    got = ln.segment_integrals(seg, vel, DIST)
    P0, P1 = seg[0]
    L = np.linalg.norm(P1 - P0)
    p = lambda t: np.exp(DIST.log_density((P0 + t * (P1 - P0) / L)[None]))[0]
    w = lambda t: vel[0, 0] + (vel[0, 1] - vel[0, 0]) * t / L
    opts = dict(epsabs=1e-15, epsrel=1e-12, limit=200)
    assert got.mass[0] == pytest.approx(quad(p, 0, L, **opts)[0], rel=1e-10, abs=1e-15)
    assert got.flux[0] == pytest.approx(quad(lambda t: abs(w(t)) * p(t), 0, L, **opts)[0],
                                        rel=1e-9, abs=1e-15)
    assert got.motion[0] == pytest.approx(quad(lambda t: abs(w(t)), 0, L, **opts)[0], rel=1e-9)
    assert got.length[0] == pytest.approx(L, rel=1e-15)


def test_degenerate_segments_and_velocities():
    seg = np.array([[[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]])
    got = ln.segment_integrals(seg, np.array([[1.0, 1.0], [0.0, 0.0]]), DIST)
    assert got.mass[0] == got.flux[0] == got.motion[0] == 0.0  # zero length
    assert got.flux[1] == got.motion[1] == 0.0 and got.mass[1] > 0  # zero velocity


def test_clip_to_box_keeps_the_inside_with_interpolated_velocity():
    seg = np.array([[[-2.0, 0.0], [2.0, 0.0]], [[5.0, 5.0], [6.0, 6.0]], [[0.0, -3.0], [0.0, 3.0]]])
    vel = np.array([[0.0, 4.0], [1.0, 1.0], [2.0, 2.0]])
    clipped, v = ln.clip_to_box(seg, vel, [[-1.0, 1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(clipped, [[[-1, 0], [1, 0]], [[0, -1], [0, 1]]])
    np.testing.assert_allclose(v, [[1.0, 3.0], [2.0, 2.0]])


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_fold_velocity_matches_finite_differences(seed):
    net = _net(seed)
    p = partition(net, DIST.domain, activation="relu")
    theta = flatten(net)
    v = np.random.default_rng(seed + 1).normal(size=theta.size)
    v /= np.linalg.norm(v)
    change = ln.first_order_change(p, v)
    t, delta = 1e-6, 1e-7
    for neuron in ((0, seed % 5), (1, seed % 4)):
        segs, vel = ln.fold_velocity(p, change, neuron)
        if len(segs) == 0:
            continue
        long = np.argmax(np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1))
        x0 = segs[long].mean(0)[None]
        a = p.pre[neuron[0]][0][p.locate(x0)[0], :, neuron[1]]
        n = a / np.linalg.norm(a)

        def crossing(eps):  # signed distance along n to the moved fold, from the forward pass
            moved = unflatten(theta + eps * v, widths_of(net))
            z0 = _preactivation(moved, x0, *neuron)[0]
            z1 = _preactivation(moved, x0 + delta * n, *neuron)[0]
            return -z0 * delta / (z1 - z0)

        fd = (crossing(t) - crossing(-t)) / (2 * t)
        assert vel[long].mean() == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_rescaling_symmetry_moves_nothing():
    """Rescaling a relu neuron (incoming x e^s, outgoing x e^-s) leaves the function and every
    fold in place, so every first-order velocity is zero."""
    net = _net(3)
    p = population_partition(net, DIST, activation="relu")
    V = np.stack([rescaling_direction(net, 0, 1), rescaling_direction(net, 1, 2)], 1)
    V /= np.linalg.norm(V, axis=0)
    m = ln.direction_motion(p, DIST, V)
    scale = ln.direction_motion(p, DIST, np.eye(V.shape[0])[:, :1])  # a generic direction
    assert np.all(m.boundary_flux <= 1e-9 * max(scale.boundary_flux.max(), 1.0))
    assert np.all(m.fold_flux <= 1e-9) and np.all(m.fold_motion <= 1e-9)


def test_motion_is_linear_in_the_step_and_mass_is_direction_free():
    net = _net(4)
    p = population_partition(net, DIST, activation="relu")
    v = np.random.default_rng(0).normal(size=flatten(net).size)
    m = ln.direction_motion(p, DIST, np.stack([v, -2.5 * v], 1))
    np.testing.assert_allclose(m.boundary_flux[1], 2.5 * m.boundary_flux[0], rtol=1e-9)
    np.testing.assert_allclose(m.fold_flux[1], 2.5 * m.fold_flux[0], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(m.fold_density[1], m.fold_density[0], rtol=1e-9)
    assert m.boundary_mass[0] == m.boundary_mass[1] > 0
    mass = [ln.segment_integrals(folds(p, tuple(n)), np.zeros((len(folds(p, tuple(n))), 2)),
                                 DIST).mass.sum() for n in m.neurons]
    np.testing.assert_allclose(m.fold_mass[0], mass)


def test_participation_of_a_single_neuron_direction():
    widths = (2, 3, 2)
    P = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    v = np.zeros(P)
    v[-1] = 1.0  # the bias of logit 1 only
    part = ln.participation(v[:, None], widths)
    assert part.ratio[0] == pytest.approx(1.0)
    np.testing.assert_allclose(part.layer_shares[:, 0], [0.0, 1.0])
    V = np.linalg.qr(np.random.default_rng(0).normal(size=(P, 4)))[0]
    part = ln.participation(V, widths)
    np.testing.assert_allclose(part.shares.sum(0), 1.0)
    assert np.all((part.ratio >= 1) & (part.ratio <= 5))


def test_bad_input():
    with pytest.raises(ValueError, match="one row per segment"):
        ln.segment_integrals(np.zeros((2, 2, 2)), np.zeros((3, 2)), DIST)
