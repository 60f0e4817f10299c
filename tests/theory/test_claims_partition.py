"""Theory claims about exact linear-region partitions, stated over generated worlds.

P1 (exactness). A network with piecewise-linear activations is affine on each cell of a
finite partition of a convex domain into convex polygons, its linear regions (Pascanu,
Montufar & Bengio 2014; the layer-wise arrangement of Serra, Tjandraatmadja & Ramalingam
2018). ``toylab.exact.partition`` computes it exactly: the cells tile the domain, each cell
lies in one activation pattern (every neuron in one piece of its activation on the whole
cell, checked at the cell's vertices, which suffices by convexity), and the stored affine
maps equal the forward pass -- for degenerate networks too.

P2 (symmetries). Permuting the neurons of a hidden layer, or rescaling a hidden neuron of a
positively homogeneous activation (``f(a z) = a f(z)`` for ``a > 0``: relu, leaky_relu, abs,
linear) by ``a`` on its incoming and ``1/a`` on its outgoing weights (Neyshabur, Salakhutdinov
& Srebro 2015; Dinh et al. 2017), leaves the network function unchanged. Hence the exact
partition's logit maps, the number of linear regions and every population quantity are
unchanged.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import data
from toylab import testing as tt
from toylab.exact import partition
from toylab.exact.geometry import as_domain, polygon_areas
from toylab.exact.population import population_accuracy, population_partition
from toylab.models import ACTIVATIONS, PIECEWISE_LINEAR

HOMOGENEOUS = ("relu", "leaky_relu", "abs", "linear")
"""Positively homogeneous activations (``f(a z) = a f(z)``, ``a > 0``)."""

WORLD = data.blobs(3)
"""A fixed world for population quantities (the claims quantify over networks)."""


def _close(got, want, rtol=1e-9):
    """Float64 agreement up to rounding, relative to the values' magnitude."""
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (1.0 + np.abs(want).max()))


@settings(max_examples=25)
@given(net=tt.networks(activations=PIECEWISE_LINEAR, max_width=6, max_depth=2),
       domain=tt.domains(), seed=st.integers(0, 2**16))
def test_partition_tiles_the_domain_and_equals_the_network(net, domain, seed, forward64,
                                                           points_in):
    """P1: tiling, one activation pattern per cell, exact affine maps."""
    p = partition(net.layers, domain, activation=net.activation)
    poly = as_domain(domain)
    area = polygon_areas(poly, np.array([len(poly)]))[0]
    assert abs(p.areas.sum() - area) <= 1e-9 * area
    U = points_in(poly, 200, seed)
    assert np.all(p.locate(U) >= 0)
    _, post = forward64(net.layers, U, net.activation)
    for layer, h in enumerate(post):
        _close(p.evaluate(U, None if layer == len(post) - 1 else layer), h)
    pre, _ = forward64(net.layers, p.vertices, net.activation)
    pieces = np.array(ACTIVATIONS[net.activation].pieces)
    for layer, pattern in enumerate(p.patterns):
        z = pre[layer]
        piece = pattern[p.region_of_vertex]  # (V, width) piece of each vertex's own cell
        tol = 1e-9 * (1.0 + np.abs(z).max())
        assert np.all(z >= pieces[piece, 0] - tol) and np.all(z <= pieces[piece, 1] + tol)


def _permuted(net, layer, order):
    layers = [(W.copy(), b.copy()) for W, b in net.layers]
    W, b = layers[layer]
    layers[layer] = (W[:, order], b[order])
    layers[layer + 1] = (layers[layer + 1][0][order, :], layers[layer + 1][1])
    return layers


def _rescaled(net, layer, neuron, a):
    layers = [(W.copy(), b.copy()) for W, b in net.layers]
    layers[layer][0][:, neuron] *= a
    layers[layer][1][neuron] *= a
    layers[layer + 1][0][neuron, :] /= a
    return layers


@settings(max_examples=20)
@given(net=tt.networks(activations=HOMOGENEOUS, min_depth=1, max_width=5),
       choice=st.tuples(st.integers(0, 2**16), st.integers(0, 2**16), st.integers(0, 2**16)),
       a=st.sampled_from([0.25, 2.0, 8.0]))
def test_permutation_and_rescaling_leave_the_exact_partition_unchanged(net, choice, a):
    """P2 with power-of-two scales (exact in floating point): the region count and sorted
    areas are identical, the logit maps and the population accuracy agree to rounding."""
    n_hidden = len(net.layers) - 1
    layer = choice[0] % n_hidden
    width = net.layers[layer][0].shape[1]
    order = np.random.default_rng(choice[1]).permutation(width)
    variants = [_permuted(net, layer, order), _rescaled(net, layer, choice[2] % width, a)]
    p = population_partition(net.layers, WORLD, activation=net.activation)
    U = p.centroids
    reference = population_accuracy(p, WORLD).value
    for layers in variants:
        q = population_partition(layers, WORLD, activation=net.activation)
        assert len(q) == len(p)
        _close(np.sort(q.areas), np.sort(p.areas), rtol=1e-9)
        _close(q.evaluate(U), p.evaluate(U))
        assert abs(population_accuracy(q, WORLD).value - reference) <= 1e-9
