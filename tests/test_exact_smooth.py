"""toylab.exact.smooth: grid evaluation and refined level sets, checked by independent
forward passes, by the exact sympy expressions and (relu) by the exact partition."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import erf

from toylab import data, symbolic
from toylab.exact import decision_boundary, partition, smooth
from toylab.models import ACTIVATIONS, LEAKY_SLOPE

BOX = np.array([[-3.0, 3.0], [-2.0, 2.5]])


def _net(seed, widths, bias_scale=0.5):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), bias_scale * rng.normal(size=b))
            for a, b in zip(widths[:-1], widths[1:])]


REFERENCE = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, LEAKY_SLOPE * z),
    "abs": np.abs,
    "hard_tanh": lambda z: np.clip(z, -1.0, 1.0),
    "linear": lambda z: z,
    "tanh": np.tanh,
    "gelu": lambda z: 0.5 * z * (1.0 + erf(z / np.sqrt(2.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
}
"""Independent numpy/scipy forward pass (no JAX, so no compile per point count)."""


def test_reference_covers_every_activation():
    assert set(REFERENCE) == set(ACTIVATIONS)


def _forward(layers, X, activation):
    """Per layer pre- and post-activations (numpy float64 reference)."""
    pre, post, h = [], [], np.asarray(X, np.float64)
    for depth, (W, b) in enumerate(layers):
        z = h @ W + b
        h = z if depth == len(layers) - 1 else REFERENCE[activation](z)
        pre.append(z)
        post.append(h)
    return pre, post


def _point_segment_distance(P, S):
    """``(n,)`` distance from points ``P (n, 2)`` to the nearest of segments ``S (s, 2, 2)``."""
    a, b = S[None, :, 0], S[None, :, 1]
    ab = b - a
    t = np.clip(np.sum((P[:, None] - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-300), 0, 1)
    return np.min(np.linalg.norm(P[:, None] - (a + t[..., None] * ab), axis=-1), axis=1)


def _sample_segments(S, step):
    pts = [s[0] + np.linspace(0, 1, max(2, int(np.ceil(np.linalg.norm(s[1] - s[0]) / step)) + 1))[:, None]
           * (s[1] - s[0]) for s in S]
    return np.concatenate(pts)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_grid_values_match_exact_sympy_expressions(activation):
    layers = _net(1, (2, 3, 2))
    grid = smooth.grid_evaluate(layers, BOX, activation=activation, resolution=(7, 5), layer=0)
    assert grid.values.shape == (5, 7, 3) and grid.xs.shape == (7,) and grid.ys.shape == (5,)
    assert grid.extent == (-3.0, 3.0, -2.0, 2.5)
    for i in range(3):
        want = symbolic.lambdify_neuron(layers, (0, i), activation=activation)(grid.points)
        np.testing.assert_allclose(grid.values[..., i], want, rtol=1e-12, atol=1e-12)
    logits = smooth.grid_evaluate(layers, BOX, activation=activation, resolution=4)
    want = symbolic.lambdify_neuron(layers, (1, 1), activation=activation)(logits.points)
    np.testing.assert_allclose(logits.values[..., 1], want, rtol=1e-12, atol=1e-12)


def _degenerate(layers, kind):
    """Degenerate variants: a dead first-layer neuron (zero weights and bias), a duplicated
    (coincident) first-layer neuron, or two coincident logits."""
    layers = [(W.copy(), b.copy()) for W, b in layers]
    if kind == "dead":
        layers[0][0][:, 0], layers[0][1][0] = 0.0, 0.0
    elif kind == "coincident" and layers[0][0].shape[1] > 1:
        layers[0][0][:, 1], layers[0][1][1] = layers[0][0][:, 0], layers[0][1][0]
    elif kind == "tied_logits" and layers[-1][0].shape[1] > 2:
        layers[-1][0][:, 1], layers[-1][1][1] = layers[-1][0][:, 0], layers[-1][1][0]
    return layers


# few distinct shapes: each new shape costs a JIT compile
nets = st.builds(
    lambda seed, widths, kind: _degenerate(_net(seed, widths), kind),
    seed=st.integers(0, 2**32 - 1),
    widths=st.sampled_from([(2, 3, 1), (2, 4, 3), (2, 3, 4, 4)]),
    kind=st.sampled_from([None, "dead", "coincident", "tied_logits"]),
)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@settings(max_examples=3, deadline=None)
@given(layers=nets, tol=st.sampled_from([1e-6, 1e-10]))
def test_refined_vertices_meet_tolerance(activation, layers, tol):
    """Every refined vertex satisfies |f - level| <= tol under a fresh forward pass."""
    dec = smooth.level_set(layers, "decision", BOX, activation=activation, tol=tol, resolution=40)
    assert dec.converged and dec.residual <= tol
    if len(dec.points):
        _, post = _forward(layers, dec.points, activation)
        logits = post[-1]
        if logits.shape[1] == 1:
            assert np.max(np.abs(logits)) <= tol
        else:
            top2 = np.sort(logits, 1)[:, -2:]
            assert np.max(top2[:, 1] - top2[:, 0]) <= tol
        assert np.all((dec.points >= BOX[:, 0] - 1e-12) & (dec.points <= BOX[:, 1] + 1e-12))
    level = 0.3
    for pre in (True, False):
        ls = smooth.level_set(layers, (0, 0), BOX, activation=activation, level=level, tol=tol,
                              resolution=40, pre=pre)
        assert ls.residual <= tol
        if len(ls.points):
            pre_v, post_v = _forward(layers, ls.points, activation)
            values = (pre_v if pre else post_v)[0][:, 0]
            assert np.max(np.abs(values - level)) <= tol


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), widths=st.sampled_from([(2, 4, 2), (2, 5, 3), (2, 4, 4, 3)]))
def test_relu_refined_decision_boundary_matches_exact_segments(seed, widths):
    """For a relu net the refined boundary lies on the exact boundary (to tol / |grad|) and
    the exact boundary lies within a grid cell of it (Hausdorff), with no segment twice.
    (Lengths may differ: slivers thinner than a cell are cut short by marching squares.)"""
    layers = _net(seed, widths)
    exact = decision_boundary(partition(layers, BOX, activation="relu"))
    ls = smooth.level_set(layers, "decision", BOX, activation="relu", tol=1e-10, resolution=96)
    cell = float(np.hypot(*ls.spacing))
    if len(exact) == 0:
        assert len(ls.points) == 0
        return
    assert len(ls.points) > 0
    assert np.max(_point_segment_distance(ls.points, exact)) <= 1e-7
    assert np.max(_point_segment_distance(_sample_segments(exact, cell / 4), ls.segments)) <= cell
    undirected = {tuple(sorted(map(tuple, s))) for s in np.round(ls.segments, 9)}
    assert len(undirected) == len(ls.segments)  # a boundary shared by two classes comes once


def test_tanh_single_neuron_zero_set_is_its_line():
    """A first-layer neuron's pre-activation zero set is the line w . x + b = 0 exactly."""
    layers = _net(5, (2, 3, 2))
    W, b = layers[0]
    ls = smooth.level_set(layers, (0, 1), BOX, activation="tanh", tol=1e-12, resolution=32)
    distance = np.abs(ls.points @ W[:, 1] + b[1]) / np.linalg.norm(W[:, 1])
    assert len(ls.lines) == 1 and np.max(distance) <= 1e-12 / np.linalg.norm(W[:, 1]) * 1.01
    ends = ls.lines[0][[0, -1]]  # the line crosses the whole box: ends on its boundary
    on_edge = np.isclose(ends, BOX[:, 0]) | np.isclose(ends, BOX[:, 1])
    assert np.all(on_edge.any(1))


def test_slice_of_three_dimensional_input():
    layers = _net(2, (3, 4, 2))
    origin, directions = np.array([0.2, -0.1, 0.4]), np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]])
    ls = smooth.level_set(layers, "decision", BOX, activation="gelu", tol=1e-9, resolution=48,
                          origin=origin, directions=directions)
    assert len(ls.points) > 0
    _, post = _forward(layers, origin + ls.points @ directions, "gelu")
    assert np.max(np.abs(post[-1][:, 0] - post[-1][:, 1])) <= 1e-9
    with pytest.raises(ValueError, match="directions="):
        smooth.grid_evaluate(layers, BOX, activation="gelu")


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 4)),
              elements=st.sampled_from([-1.0, 0.0, 0.5, 2.0])))
def test_decision_margins_sign_is_strict_argmax(logits):
    m = smooth.decision_margins(logits)
    top = logits.max(1, keepdims=True)
    strict = (logits == top) & ((logits == top).sum(1, keepdims=True) == 1)
    assert np.array_equal(m > 0, strict)
    assert np.all(m[(logits == top) & ~strict] == 0)  # ties: on the boundary
    np.testing.assert_array_equal(m.max(1), np.sort(logits, 1)[:, -1] - np.sort(logits, 1)[:, -2])


def test_bad_input_messages():
    layers = _net(0, (2, 3, 2))
    with pytest.raises(ValueError, match="target='boundary' is unknown"):
        smooth.level_set(layers, "boundary", activation="tanh")
    with pytest.raises(ValueError, match=r"target=\(0, 3\)"):
        smooth.level_set(layers, (0, 3), activation="tanh")
    with pytest.raises(TypeError, match="target=5"):
        smooth.level_set(layers, 5, activation="tanh")
    with pytest.raises(ValueError, match="tol=0"):
        smooth.level_set(layers, "decision", activation="tanh", tol=0)
    with pytest.raises(ValueError, match="resolution=1"):
        smooth.grid_evaluate(layers, activation="tanh", resolution=1)
    with pytest.raises(ValueError, match="layer=2 is out of range"):
        smooth.grid_evaluate(layers, activation="tanh", layer=2)


def test_trace_level_set_of_a_circle():
    """A closed curve: every vertex on the circle to tol / |grad| = tol / (2 r)."""
    r = 1.3
    ls = smooth.trace_level_set(lambda U: np.sum(U**2, 1), BOX, level=r**2, tol=1e-11,
                                resolution=33)
    assert len(ls.lines) == 1 and ls.target is None
    line = ls.lines[0]
    np.testing.assert_array_equal(line[0], line[-1])  # closed
    assert np.max(np.abs(np.linalg.norm(line, axis=1) - r)) <= 1e-11 / (2 * r) * 1.01
    assert ls.residual <= 1e-11


@pytest.mark.parametrize("name", ["curved", "blobs", "xor"])
def test_bayes_boundary_vertices_zero_the_sympy_log_odds(name):
    """Traced on the numpy class log joints, checked on the sympy log-odds of the tied pair."""
    dist = data.make(name)
    ls = smooth.trace_decision_boundary(dist.class_log_joint, dist, tol=1e-10, resolution=48)
    assert len(ls.points) > 0 and ls.residual <= 1e-10
    joint = dist.class_log_joint(ls.points)
    pair = np.sort(np.argsort(joint, 1)[:, -2:], 1)
    xs = symbolic.input_symbols(2)
    for i, j in {tuple(q) for q in pair.tolist()}:
        log_odds = symbolic.lambdify_expression(dist.bayes_boundary(i, j), xs)
        at = (pair == (i, j)).all(1)
        assert np.max(np.abs(log_odds(ls.points[at]))) <= 1e-10 + 1e-12  # tol + rounding
