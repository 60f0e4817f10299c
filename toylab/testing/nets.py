"""Strategies for networks (:func:`networks`, with degenerate weights) and for directions in
their flat parameter space (:func:`parameter_directions`)."""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from toylab.models import n_params, param_index
from toylab.testing.bounds import check_activations, int_range, seeds


class Network(NamedTuple):
    """A generated network: a float64 layer list and its activation name."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    activation: str

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.layers[0][0].shape[0],) + tuple(W.shape[1] for W, _ in self.layers)


def _dead(layers, l, j, i, c):
    """Neuron ``(l, j)``: zero incoming weights, bias -1 (a ReLU never fires; others are
    constant)."""
    W, b = layers[l]
    W[:, j], b[j] = 0.0, -1.0


def _silent(layers, l, j, i, c):
    """Neuron ``(l, j)`` has zero outgoing weights (it does not affect the output)."""
    layers[l + 1][0][j, :] = 0.0


def _duplicate(layers, l, j, i, c):
    """Neuron ``(l, j)`` becomes an exact copy of neuron ``(l, i)`` (incoming weights, bias)."""
    W, b = layers[l]
    W[:, j], b[j] = W[:, i], b[i]


def _coincident(layers, l, j, i, c):
    """Neuron ``(l, j)`` becomes ``c`` times neuron ``(l, i)`` (weights and bias): the same
    hyperplane in the first layer, with another slope (and orientation if ``c < 0``)."""
    W, b = layers[l]
    W[:, j], b[j] = c * W[:, i], c * b[i]


def _parallel(layers, l, j, i, c):
    """Neuron ``(l, j)``'s incoming weights become ``c`` times neuron ``(l, i)``'s, its bias
    stays: parallel hyperplanes in the first layer."""
    layers[l][0][:, j] = c * layers[l][0][:, i]


def _zero_weight(layers, l, j, i, c):
    """One incoming weight of neuron ``(l, j)`` is exactly 0 (an axis-parallel hyperplane in
    the first layer)."""
    layers[l][0][i % layers[l][0].shape[0], j] = 0.0


def _zero_bias(layers, l, j, i, c):
    """Neuron ``(l, j)``'s bias is exactly 0 (first-layer hyperplanes through the origin)."""
    layers[l][1][j] = 0.0


DEGENERACIES: dict[str, Callable] = {
    "dead": _dead,
    "silent": _silent,
    "duplicate": _duplicate,
    "coincident": _coincident,
    "parallel": _parallel,
    "zero_weight": _zero_weight,
    "zero_bias": _zero_bias,
}
"""Edits :func:`networks` applies to hidden neuron ``(l, j)`` (``i`` another index, ``c`` a
scale): ``edit(layers, l, j, i, c)`` in place."""

DYADIC_STEP = 0.25
"""Grid of the 'dyadic' degenerate weights: multiples of 1/4 are exact in float64, so
hyperplanes meet exactly in shared points (three lines through one vertex)."""


def networks(
    *,
    input_dim: int = 2,
    output_dim: int = 3,
    min_width: int = 1,
    max_width: int = 6,
    min_depth: int = 1,
    max_depth: int = 2,
    widths: Sequence[int] | None = None,
    activations: str | Sequence[str] = "relu",
    degenerate: bool = True,
) -> st.SearchStrategy[Network]:
    """Networks as float64 layer lists ``[(W (in, out), b (out,)), ...]`` plus activation.

    Weights are He-normal (std ``sqrt(2 / fan_in)``), biases ``N(0, 1/2)``. With
    ``degenerate``, examples may also have their weights rounded to multiples of
    :data:`DYADIC_STEP` and up to three edits from :data:`DEGENERACIES` (dead, silent,
    duplicated, coincident and parallel neurons, exact zero weights and biases).

    Args:
        input_dim, output_dim: ``d`` and the number of logits.
        min_width, max_width: hidden widths; min_depth, max_depth: hidden layers (0 allowed:
            an affine map).
        widths: a fixed ``(in, hidden..., out)`` instead of the six arguments above (fixed
            shapes let JIT-compiled analyses reuse one compilation).
        activations: a name or names from :data:`toylab.models.ACTIVATIONS`, e.g.
            ``toylab.models.PIECEWISE_LINEAR``.
        degenerate: include degenerate weights.
    Returns:
        a strategy of :class:`Network`.
    """
    names = check_activations(activations)
    if widths is not None:
        widths = tuple(widths)
        if len(widths) < 2 or any(isinstance(w, bool) or not isinstance(w, (int, np.integer))
                                  or w < 1 for w in widths):
            raise ValueError(f"widths={widths!r} must be (in, hidden..., out) positive ints")
        shapes = st.just(widths)
    else:
        int_range("input_dim", input_dim, "input_dim", input_dim, 1)
        int_range("output_dim", output_dim, "output_dim", output_dim, 1)
        w_lo, w_hi = int_range("min_width", min_width, "max_width", max_width, 1)
        l_lo, l_hi = int_range("min_depth", min_depth, "max_depth", max_depth, 0)
        shapes = st.integers(l_lo, l_hi).flatmap(
            lambda depth: st.lists(st.integers(w_lo, w_hi), min_size=depth, max_size=depth)
        ).map(lambda hidden: (int(input_dim),) + tuple(hidden) + (int(output_dim),))
    edit = st.tuples(st.sampled_from(sorted(DEGENERACIES)), st.integers(0, 2**16),
                     st.integers(0, 2**16), st.integers(0, 2**16),
                     st.sampled_from([-2.0, -0.5, 0.5, 1.0, 3.0]))

    @st.composite
    def network(draw) -> Network:
        shape = draw(shapes)
        name = draw(st.sampled_from(names))
        rng = np.random.default_rng(draw(seeds()))
        layers = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a),
                   rng.standard_normal(b) * np.sqrt(0.5))
                  for a, b in zip(shape[:-1], shape[1:])]
        if degenerate:
            if draw(st.booleans()):
                layers = [(np.round(W / DYADIC_STEP) * DYADIC_STEP,
                           np.round(b / DYADIC_STEP) * DYADIC_STEP) for W, b in layers]
            n_hidden = len(shape) - 2
            if n_hidden:
                for kind, l, j, i, c in draw(st.lists(edit, max_size=3)):
                    l %= n_hidden
                    width = shape[l + 1]
                    DEGENERACIES[kind](layers, l, j % width, i % width, c)
        return Network([(np.ascontiguousarray(W), np.ascontiguousarray(b)) for W, b in layers],
                       name)

    return network()


# ----------------------------------------------------------------------------- directions


def _gaussian(rng, P, idx):
    return rng.standard_normal(P)


def _coordinate(rng, P, idx):
    v = np.zeros(P)
    v[rng.integers(P)] = 1.0
    return v


def _neuron(rng, P, idx):
    """Random weights on one neuron's incoming parameters and outgoing weights."""
    layer = idx.layer[rng.integers(P)]
    neuron = rng.integers(idx.neuron[idx.layer == layer].max() + 1)
    mask = (idx.layer == layer) & (idx.neuron == neuron)
    mask |= (idx.layer == layer + 1) & (idx.source == neuron)
    return np.where(mask, rng.standard_normal(P), 0.0)


def _layer(rng, P, idx):
    layer = idx.layer[rng.integers(P)]
    return np.where(idx.layer == layer, rng.standard_normal(P), 0.0)


def _sparse(rng, P, idx):
    v = np.zeros(P)
    k = min(P, 3)
    v[rng.choice(P, k, replace=False)] = rng.choice([-1.0, 1.0], k)
    return v


DIRECTIONS: dict[str, Callable] = {
    "gaussian": _gaussian,
    "coordinate": _coordinate,
    "neuron": _neuron,
    "layer": _layer,
    "sparse": _sparse,
}
"""Kinds of parameter directions: ``fn(rng, P, param_index) -> (P,)`` (before normalising)."""


def parameter_directions(net_or_widths, *, kinds: Sequence[str] = tuple(DIRECTIONS),
                         normalize: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Directions ``(P,)`` in the flat parameter space (DESIGN.md order) of a network.

    Args:
        net_or_widths: a layer list, a :class:`Network` or widths ``(in, hidden..., out)``.
        kinds: names in :data:`DIRECTIONS` (isotropic Gaussian, one coordinate, one neuron's
            in- and outgoing parameters, one layer, three signed coordinates).
        normalize: unit Euclidean norm.
    Returns:
        a strategy of float64 ``(P,)`` arrays.
    """
    if isinstance(net_or_widths, Network):
        widths = net_or_widths.widths
    elif len(net_or_widths) and isinstance(net_or_widths[0], (tuple, list)):
        layers = net_or_widths
        widths = (np.shape(layers[0][0])[0],) + tuple(np.shape(W)[1] for W, _ in layers)
    else:
        widths = tuple(net_or_widths)
    P, idx = n_params(widths), param_index(widths)
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in DIRECTIONS]
    if not kinds or unknown:
        raise ValueError(f"kinds={kinds!r} must be non-empty names from {sorted(DIRECTIONS)}")

    @st.composite
    def direction(draw) -> np.ndarray:
        kind = draw(st.sampled_from(kinds))
        v = DIRECTIONS[kind](np.random.default_rng(draw(seeds())), P, idx)
        norm = np.linalg.norm(v)
        assume(norm > 0)
        return v / norm if normalize else v

    return direction()
