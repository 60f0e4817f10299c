"""Tiny MLPs: a Flax NNX module at the edge, a pure functional view at the core.

Every analysis in toylab works on a network given as a *layer list*
``[(W_0, b_0), ..., (W_L, b_L)]`` with ``W_l`` of shape ``(in, out)`` plus an activation
name from :data:`ACTIVATIONS`. Hidden layers apply the activation; the last layer gives the
output logits (no activation). Neurons are addressed ``(layer, index)``, layer 0 being the
first hidden layer and layer ``L`` the logits.

Flattened parameters use one fixed order (DESIGN.md): for each layer, ``W`` row-major then
``b``; :func:`param_index` maps every flat index back to ``(layer, neuron, role)``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import sympy
from flax import nnx

Array = jax.Array
Layers = list[tuple[Array, Array]]

LEAKY_SLOPE = 0.1
"""Negative-side slope of ``leaky_relu`` (0.1 rather than jax's 0.01, so it is visible)."""


@dataclass(frozen=True)
class Activation:
    """An elementwise activation.

    Attributes:
        name: key in :data:`ACTIVATIONS`.
        fn: jnp elementwise function.
        sympy_fn: the same function of a sympy expression (exact; Piecewise for PL ones).
        pieces: for piecewise-linear activations, ``((lo, hi, slope, intercept), ...)`` covering
            the real line in increasing order (``lo`` of the first is ``-inf``, ``hi`` of the last
            ``+inf``); ``None`` for smooth activations.
    """

    name: str
    fn: Callable[[Array], Array]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    pieces: tuple[tuple[float, float, float, float], ...] | None

    @property
    def piecewise_linear(self) -> bool:
        return self.pieces is not None

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Pre-activation values where the slope changes (empty for ``linear``)."""
        if self.pieces is None:
            raise ValueError(f"activation {self.name!r} is smooth; it has no breakpoints")
        return tuple(p[1] for p in self.pieces[:-1])


_INF = float("inf")


def _hard_tanh(z):
    return jnp.clip(z, -1.0, 1.0)


def _gelu(z):
    return jax.nn.gelu(z, approximate=False)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        "relu", jax.nn.relu, lambda z: sympy.Max(0, z), ((-_INF, 0.0, 0.0, 0.0), (0.0, _INF, 1.0, 0.0))
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: jnp.where(z >= 0, z, LEAKY_SLOPE * z),
        lambda z: sympy.Piecewise((z, z >= 0), (sympy.Rational(1, 10) * z, True)),
        ((-_INF, 0.0, LEAKY_SLOPE, 0.0), (0.0, _INF, 1.0, 0.0)),
    ),
    "abs": Activation(
        "abs", jnp.abs, sympy.Abs, ((-_INF, 0.0, -1.0, 0.0), (0.0, _INF, 1.0, 0.0))
    ),
    "hard_tanh": Activation(
        "hard_tanh",
        _hard_tanh,
        lambda z: sympy.Max(-1, sympy.Min(1, z)),
        ((-_INF, -1.0, 0.0, -1.0), (-1.0, 1.0, 1.0, 0.0), (1.0, _INF, 0.0, 1.0)),
    ),
    "linear": Activation("linear", lambda z: z, lambda z: z, ((-_INF, _INF, 1.0, 0.0),)),
    "tanh": Activation("tanh", jnp.tanh, sympy.tanh, None),
    "gelu": Activation(
        "gelu", _gelu, lambda z: z * (1 + sympy.erf(z / sympy.sqrt(2))) / 2, None
    ),
    "softplus": Activation(
        "softplus", jax.nn.softplus, lambda z: sympy.log(1 + sympy.exp(z)), None
    ),
}
PIECEWISE_LINEAR = tuple(n for n, a in ACTIVATIONS.items() if a.piecewise_linear)


def get_activation(name: str) -> Activation:
    """Look up an activation by name, with an error listing the valid names."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation={name!r} is unknown; choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- pure core


def check_widths(widths: Sequence[int]) -> tuple[int, ...]:
    """Validate a width list ``(in, hidden..., out)``; returns it as a tuple of ints."""
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(
            f"widths={widths!r} needs at least an input and an output size, e.g. (2, 16, 3)"
        )
    for w in widths:
        if int(w) != w or w <= 0:
            raise ValueError(f"widths={widths!r} has non-positive width {w!r}; all must be >= 1")
    return tuple(int(w) for w in widths)


def init_layers(key: Array, widths: Sequence[int], *, dtype=jnp.float32) -> Layers:
    """He-normal weights (std sqrt(2/fan_in), He et al. 2015) and zero biases.

    Pure and traceable, so ``jax.vmap(lambda k: init_layers(k, widths))(keys)`` initialises a
    whole ensemble at once.

    Args:
        key: PRNG key.
        widths: ``(in, hidden..., out)``.
    Returns:
        layer list ``[(W (in, out), b (out,)), ...]``.
    """
    widths = check_widths(widths)
    keys = jax.random.split(key, len(widths) - 1)
    return [
        (
            jax.random.normal(k, (n_in, n_out), dtype) * jnp.sqrt(2.0 / n_in).astype(dtype),
            jnp.zeros((n_out,), dtype),
        )
        for k, n_in, n_out in zip(keys, widths[:-1], widths[1:])
    ]


def apply(layers: Layers, x: Array, activation: str = "relu") -> Array:
    """Forward pass. ``x: (..., in)`` -> logits ``(..., out)``.

    Raises:
        ValueError: ``layers`` is not a chain of ``(W (in, out), b (out,))`` pairs, or ``x``
            does not have the net's input width (checked on shapes, so also under ``jit``).
    """
    layers = _checked_input(layers, x)
    act = get_activation(activation).fn
    h = x
    for W, b in layers[:-1]:
        h = act(h @ W + b)
    W, b = layers[-1]
    return h @ W + b


class LayerActivations(NamedTuple):
    """Per-layer pre- and post-activations; ``pre[l], post[l]: (..., width_l)``.

    The last entry is the logit layer, where ``post`` equals ``pre``.
    """

    pre: list[Array]
    post: list[Array]


def activations(layers: Layers, x: Array, activation: str = "relu") -> LayerActivations:
    """Every layer's pre- and post-activations at ``x: (..., in)``; neuron ``(l, i)`` is
    ``pre[l][..., i]`` / ``post[l][..., i]``; errors as :func:`apply`."""
    layers = _checked_input(layers, x)
    act = get_activation(activation).fn
    pre, post = [], []
    h = x
    for depth, (W, b) in enumerate(layers):
        z = h @ W + b
        h = z if depth == len(layers) - 1 else act(z)
        pre.append(z)
        post.append(h)
    return LayerActivations(pre, post)


def to_float64(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """A layer list as float64 NumPy arrays (exact analyses work in float64)."""
    return [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]


def widths_of(layers: Layers) -> tuple[int, ...]:
    """``(in, hidden..., out)`` of a layer list."""
    return (int(layers[0][0].shape[0]),) + tuple(int(W.shape[1]) for W, _ in layers)


def validate_layers(layers, *, name: str = "net") -> Layers:
    """Check a layer list's shapes; returns it as a list of ``(W, b)`` tuples.

    Nested Python lists (or other array-likes without a ``shape``) are converted with
    ``np.asarray(..., float)``; arrays and JAX tracers pass through unchanged. An
    ``nnx.Module`` is read by :func:`layers_from` (for analyses of the parameters alone; use
    :func:`as_layers` where the activation matters).

    Args:
        layers: ``[(W_0 (in, h_1), b_0 (h_1,)), ..., (W_L (h_L, out), b_L (out,))]``, or an
            ``nnx.Module`` MLP.
        name: the argument name used in error messages.
    Raises:
        ValueError: not a non-empty sequence of pairs, a non-numeric entry, or shapes that do
            not chain; the message names the layer and the fix.
    """
    if isinstance(layers, nnx.Module):
        return layers_from(layers)[0]
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError(
            f"{name}={type(layers).__name__} is not a layer list; pass [(W, b), ...] with W of "
            "shape (in, out) and b of shape (out,), or an nnx.Module MLP"
        )
    out = []
    prev = None
    for depth, pair in enumerate(layers):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            got = f"{len(pair)} items" if isinstance(pair, (list, tuple)) else type(pair).__name__
            raise ValueError(f"{name}[{depth}] must be a (W, b) pair, got {got}")
        W, b = (_as_numeric(p, f"{name}[{depth}][{k}]") for k, p in enumerate(pair))
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"{name}[{depth}] has W {tuple(W.shape)} and b {tuple(b.shape)}; "
                "need W of shape (in, out) and b of shape (out,)"
            )
        if prev is not None and W.shape[0] != prev:
            raise ValueError(
                f"{name}[{depth}] takes {W.shape[0]} inputs but layer {depth - 1} has {prev} "
                f"outputs; W of layer {depth} must have shape ({prev}, out)"
            )
        prev = W.shape[1]
        out.append((W, b))
    return out


def _as_numeric(value, where: str):
    """``value`` itself if it has a shape (NumPy/JAX array, tracer), else a float array."""
    if hasattr(value, "shape") and hasattr(value, "ndim"):
        return value
    try:
        return np.asarray(value, np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{where} is not a numeric array ({err}); pass arrays or nested lists of numbers "
            "of a rectangular shape"
        ) from None


def _checked_input(layers, x) -> Layers:
    """:func:`validate_layers` (as argument ``layers``) plus the input width of ``x``."""
    layers = validate_layers(layers, name="layers")
    shape = np.shape(x)
    if len(shape) == 0 or shape[-1] != layers[0][0].shape[0]:
        raise ValueError(
            f"x has shape {tuple(shape)} but the net takes {layers[0][0].shape[0]} inputs "
            f"(layers[0] W {tuple(layers[0][0].shape)}); pass x of shape (..., "
            f"{layers[0][0].shape[0]})"
        )
    return layers


def check_finite_layers(layers: Layers, *, name: str = "net") -> None:
    """Raise a ValueError naming the first non-finite parameter by layer, neuron and role.

    Exact analyses call this at their entry: a NaN or inf weight would otherwise flow through
    the geometry and come out as a plausible but meaningless "exact" answer.
    """
    for depth, (W, b) in enumerate(layers):
        for role, arr in (("weight", np.asarray(W)), ("bias", np.asarray(b))):
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:
                neuron = int(bad[0][-1])
                raise ValueError(
                    f"{name} has {len(bad)} non-finite {role} values in layer {depth} (first: neuron "
                    f"{neuron}, value {arr[tuple(bad[0])]}); pass finite weights (a diverged "
                    "run? see toylab.train.diverged_seeds)"
                )


# ----------------------------------------------------------------------------- flat order


def flatten(layers: Layers) -> Array:
    """Flat parameter vector in DESIGN.md order: per layer ``W`` row-major, then ``b``.

    NumPy layers give a NumPy vector of the same dtype (float64 stays float64 even when JAX's
    64-bit mode is off); JAX arrays or tracers give a JAX vector (usable under ``jit``/``grad``).
    The order equals ``jax.flatten_util.ravel_pytree`` of ``[(W, b), ...]``.
    """
    parts = [p.reshape(-1) for pair in layers for p in pair]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return jnp.concatenate(parts)


def unflatten(flat: Array, widths: Sequence[int]) -> Layers:
    """Inverse of :func:`flatten` for a net of the given widths."""
    widths = check_widths(widths)
    expected = n_params(widths)
    if flat.shape != (expected,):
        raise ValueError(
            f"flat has shape {tuple(flat.shape)}; a {widths} net has ({expected},) parameters"
        )
    layers, start = [], 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        W = flat[start : start + n_in * n_out].reshape(n_in, n_out)
        start += n_in * n_out
        b = flat[start : start + n_out]
        start += n_out
        layers.append((W, b))
    return layers


def n_params(widths: Sequence[int]) -> int:
    widths = check_widths(widths)
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


class ParamIndex(NamedTuple):
    """What each flat parameter is, as parallel int arrays of length P.

    ``layer[p], neuron[p]``: the neuron ``(layer, index)`` whose *incoming* parameter ``p`` is;
    ``source[p]``: the input unit the weight comes from (index into the previous layer), or
    ``-1`` for a bias. The outgoing weights of neuron ``(l, i)`` are the parameters with
    ``layer == l + 1`` and ``source == i``.
    """

    layer: np.ndarray
    neuron: np.ndarray
    source: np.ndarray

    def role(self, p: int) -> tuple[int, int, str]:
        """``(layer, neuron, "weight" | "bias")`` of flat index ``p``."""
        return int(self.layer[p]), int(self.neuron[p]), "bias" if self.source[p] < 0 else "weight"


def param_index(widths: Sequence[int]) -> ParamIndex:
    """Map every flat parameter index to ``(layer, neuron, source)``; see :class:`ParamIndex`."""
    widths = check_widths(widths)
    layer, neuron, source = [], [], []
    for depth, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        src, dst = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
        layer += [np.full(n_in * n_out + n_out, depth)]
        neuron += [dst.ravel(), np.arange(n_out)]
        source += [src.ravel(), np.full(n_out, -1)]
    return ParamIndex(np.concatenate(layer), np.concatenate(neuron), np.concatenate(source))


# ----------------------------------------------------------------------------- Flax edge


class MLP(nnx.Module):
    """A multilayer perceptron in Flax NNX.

    Args:
        widths: ``(in, hidden..., out)``, e.g. ``(2, 16, 16, 3)``.
        activation: a name from :data:`ACTIVATIONS`.
        rngs: ``nnx.Rngs`` (He-normal weights, zero biases, as :func:`init_layers`).
        dtype: parameter dtype.
    """

    def __init__(self, widths: Sequence[int], activation: str = "relu", *, rngs: nnx.Rngs,
                 dtype=jnp.float32):
        widths = check_widths(widths)
        self.activation = get_activation(activation).name
        self.widths = widths
        init = init_layers(rngs.params(), widths, dtype=dtype)
        self.linears = nnx.List(
            [_linear_from(W, b) for W, b in init]
        )

    def __call__(self, x: Array) -> Array:
        return apply(self.layers(), x, self.activation)

    def layers(self) -> Layers:
        """The pure layer list ``[(W (in, out), b (out,)), ...]``."""
        return [(lin.kernel[...], lin.bias[...]) for lin in self.linears]

    @classmethod
    def from_layers(cls, layers: Layers, activation: str = "relu") -> "MLP":
        """Build an MLP holding exactly the given weights."""
        layers = validate_layers(layers)
        model = cls(widths_of(layers), activation, rngs=nnx.Rngs(0),
                    dtype=jnp.asarray(layers[0][0]).dtype)
        for lin, (W, b) in zip(model.linears, layers):
            lin.kernel[...] = jnp.asarray(W)
            lin.bias[...] = jnp.asarray(b)
        return model


def _linear_from(W: Array, b: Array) -> nnx.Linear:
    lin = nnx.Linear(W.shape[0], W.shape[1], rngs=nnx.Rngs(0), param_dtype=W.dtype)
    lin.kernel[...] = W
    lin.bias[...] = b
    return lin


MISSING_BIAS = ("error", "zeros")
"""What :func:`layers_from` does with an ``nnx.Linear(..., use_bias=False)``."""

PROBE_POINTS = 64
"""Random inputs on which :func:`layers_from` checks that the layers reproduce the module."""

REPRODUCE_RTOL = 1e-6
"""Relative tolerance of that check (to the largest output or pre-activation, the scale of
the rounding error), ~8 float32 ulps. A correct reading computes the same products and
matched exactly (difference 0) on 360 random float32 nets of widths 4-256; the closest
misreading measured, ``jax.nn.gelu``'s tanh approximation read as toylab's exact gelu,
differs by at least 3e-5 of that scale."""

_ACTIVATION_HINT = (
    "jax.nn.gelu and nnx.gelu approximate by default: use functools.partial(jax.nn.gelu, "
    "approximate=False); toylab's leaky_relu has slope 0.1, jax.nn.leaky_relu's 0.01"
)

_ACTIVATION_PROBE = np.concatenate([np.linspace(-4.0, 4.0, 81), [-1.0, 0.0, 1.0]])
"""Pre-activation values on which an activation function is matched to :data:`ACTIVATIONS`."""

_READABLE = (nnx.Linear, nnx.Sequential, nnx.List)


def layers_from(model, activation: str | None = None, *,
                missing_bias: str = "error") -> tuple[Layers, str]:
    """The layer list and activation name of a Flax NNX MLP, yours or toylab's :class:`MLP`.

    A module of your own is read when it is a chain of ``nnx.Linear`` layers with one
    elementwise activation from :data:`ACTIVATIONS` between them (none after the last):

    - an ``nnx.Sequential``, e.g. ``nnx.Sequential(nnx.Linear(2, 16, rngs=rngs), nnx.relu,
      nnx.Linear(16, 3, rngs=rngs))``;
    - a module whose attributes hold the layers (``nnx.Linear`` attributes, ``nnx.List``/list
      attributes or nested such modules), with the activation function as an attribute or
      applied inline in ``__call__``. The layer order is the order in which one call of
      ``model(x)`` applies them (recorded), whatever the attribute order.

    An activation function is recognised by its values (it must equal an entry of
    :data:`ACTIVATIONS` on a probe grid), so ``nnx.relu``, ``jax.nn.relu``, ``jnp.tanh`` or a
    lambda all work; ``jax.nn.gelu`` (tanh approximation by default) and ``jax.nn.leaky_relu``
    (slope 0.01) are not toylab's exact ``gelu`` and slope-0.1 ``leaky_relu``. An activation
    applied inline is found by trying every entry of :data:`ACTIVATIONS`. Finally the reading
    is checked against the module itself: ``apply(layers, x, name)`` must equal ``model(x)``
    at :data:`PROBE_POINTS` random inputs (to :data:`REPRODUCE_RTOL`), so a module that does
    anything else (skip connections, normalisation, dropout in training mode, an activation on
    the logits, another order) is an error, never a silently different network.

    Args:
        model: an ``nnx.Module``.
        activation: the activation's name, required only when the module's activation cannot
            be told apart by its outputs; otherwise checked against what is found.
        missing_bias: for ``nnx.Linear(..., use_bias=False)``: ``"error"`` (default) or
            ``"zeros"``, which reads the same function exactly, but then parameter-space
            analyses (Hessians, spectra, flat parameter vectors) include bias directions the
            module does not have.
    Returns:
        ``(layers, activation_name)``: ``[(W (in, out), b (out,)), ...]`` as JAX arrays (the
        module's own values, not copies of a different dtype) and the :data:`ACTIVATIONS` key.
    Raises:
        TypeError: ``model`` is not an ``nnx.Module``.
        ValueError: a part toylab cannot read (named by its attribute path), an unrecognised
            or mixed activation, a missing bias with ``missing_bias="error"``, layers that do
            not chain, or layers that do not reproduce ``model(x)``.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"model={type(model).__name__} is not an nnx.Module; pass a Flax NNX MLP, or use a "
            "layer list [(W, b), ...] with activation= directly"
        )
    if missing_bias not in MISSING_BIAS:
        raise ValueError(f"missing_bias={missing_bias!r} is unknown; choose one of {MISSING_BIAS}")
    if isinstance(model, MLP):
        if activation is not None and get_activation(activation).name != model.activation:
            raise ValueError(
                f"activation={activation!r} contradicts the model's own {model.activation!r}; "
                "omit activation= when passing an MLP"
            )
        return model.layers(), model.activation
    linears, functions = [], []
    for path, part in _mlp_parts(model, "model"):
        (linears if isinstance(part, nnx.Linear) else functions).append((path, part))
    if not linears:
        raise ValueError("model holds no nnx.Linear layer; layers_from reads chains of nnx.Linear")
    for path, lin in linears:
        if lin.bias is None and missing_bias == "error":
            raise ValueError(
                f"{path} = nnx.Linear(..., use_bias=False) has no bias; pass "
                "missing_bias='zeros' to read it as a zero bias (exact for the function; "
                "parameter-space analyses then include bias directions the module lacks)"
            )
    x, reference, called = _probe_call(model, linears)
    if sorted(map(id, called)) == sorted(id(lin) for _, lin in linears):
        by_id = {id(lin): (path, lin) for path, lin in linears}
        linears = [by_id[id(lin)] for lin in called]  # the order __call__ applies them
    layers = [(lin.kernel[...], lin.bias[...] if lin.bias is not None
               else jnp.zeros(lin.kernel.shape[1], lin.kernel.dtype)) for _, lin in linears]
    try:
        layers = validate_layers(layers)
    except ValueError:
        shapes = ", ".join(f"{path} {tuple(W.shape)}" for (path, _), (W, _) in zip(linears, layers))
        raise ValueError(
            f"the nnx.Linear layers ({shapes}, in the order model(x) calls them) do not chain "
            "(in, h) -> (h, out); layers_from reads an MLP"
        ) from None
    named = {_activation_name(fn) for _, fn in functions}
    if None in named:
        path = next(path for path, fn in functions if _activation_name(fn) is None)
        raise ValueError(
            f"{path} is not one of toylab's activations {sorted(ACTIVATIONS)} (compared on "
            f"values; {_ACTIVATION_HINT})"
        )
    if len(named) > 1:
        raise ValueError(f"model applies several activations {sorted(named)}; toylab nets use one")
    if activation is not None:
        wanted = get_activation(activation).name
        if named and named != {wanted}:
            raise ValueError(
                f"activation={activation!r} contradicts the model's own {named.pop()!r}; "
                "omit activation="
            )
        named = {wanted}
    if not named:  # applied inline in __call__ (or no hidden layer): try every activation
        named = {"linear"} if len(layers) == 1 else {
            name for name in ACTIVATIONS if _reproduces(layers, name, x, reference)}
        if len(named) > 1:
            raise ValueError(
                f"cannot tell the model's activation from its outputs (it matches each of "
                f"{sorted(named)}); pass activation="
            )
    name = named.pop() if named else None
    if name is None or not _reproduces(layers, name, x, reference):
        which = f"activation {name!r}" if name else "any of toylab's activations"
        raise ValueError(
            f"the nnx.Linear layers of model with {which} do not reproduce model(x); "
            "layers_from reads only a chain Linear -> activation -> ... -> Linear, each layer "
            "applied once (no skip connections, normalisation, dropout in training mode or "
            f"activation on the logits) with an activation from {sorted(ACTIVATIONS)} "
            f"({_ACTIVATION_HINT})"
        )
    return layers, name


def _mlp_parts(node, path: str):
    """``(path, part)`` for every ``nnx.Linear`` and activation function in ``node``, in the
    order they are held (sequence order, attribute definition order)."""
    if isinstance(node, nnx.Linear):
        yield path, node
    elif isinstance(node, nnx.Sequential):
        yield from _mlp_parts(node.layers, f"{path}.layers")
    elif isinstance(node, (nnx.List, list, tuple)):
        for i, item in enumerate(node):
            yield from _mlp_parts(item, f"{path}[{i}]")
    elif isinstance(node, nnx.Module):
        if type(node).__module__.startswith("flax.") and not isinstance(node, _READABLE):
            raise ValueError(
                f"{path} is an nnx.{type(node).__name__}; layers_from reads only nnx.Linear "
                "layers and activation functions (an MLP)"
            )
        for key, value in vars(node).items():
            if isinstance(value, nnx.Variable):
                raise ValueError(
                    f"{path}.{key} is a {type(value).__name__} outside any nnx.Linear; "
                    "layers_from reads only nnx.Linear layers and activation functions"
                )
            if not key.startswith("_"):
                yield from _mlp_parts(value, f"{path}.{key}")
    elif callable(node) and not isinstance(node, (type, nnx.Pytree)):
        yield path, node


def _activation_name(fn) -> str | None:
    """The :data:`ACTIVATIONS` key whose function equals ``fn`` on a probe grid, or None."""
    z = jnp.asarray(_ACTIVATION_PROBE, jnp.float32)
    try:
        out = np.asarray(fn(z), np.float64)
    except Exception:  # any callable may be held; one that fails on an array is no activation
        return None
    for name, act in ACTIVATIONS.items():
        if out.shape == z.shape and np.allclose(out, np.asarray(act.fn(z)), rtol=1e-6, atol=1e-6):
            return name
    return None


def _probe_call(model, linears) -> tuple[Array, np.ndarray, list]:
    """``model`` at random inputs: ``(x (PROBE_POINTS, in), model(x), the nnx.Linear layers in
    the order model(x) called them)``.

    The call order is recorded by wrapping ``nnx.Linear.__call__`` for the duration of the
    call (attribute order is no guide: NNX transforms such as ``nnx.jit`` may store a module's
    attributes sorted by name); other threads calling ``nnx.Linear`` meanwhile would be
    recorded too. Where nothing is recorded (a ``__call__`` already compiled for this input
    shape), the attribute order is used and the reproduction check decides. The input width is the one ``in_features`` that no layer
    outputs where the widths tell (they telescope along a chain), else the first layer's; if
    that call fails, the first layer it reached gives the width for a second call. Inputs are
    spread over a few units so that pre-activations cross every breakpoint.
    """
    unmatched = (Counter(lin.in_features for _, lin in linears)
                 - Counter(lin.out_features for _, lin in linears))
    width = next(iter(unmatched)) if sum(unmatched.values()) == 1 else linears[0][1].in_features
    dtype = linears[0][1].kernel.dtype
    original = nnx.Linear.__call__
    for attempt in range(2):
        x = jnp.asarray(3 * np.random.default_rng(0).standard_normal((PROBE_POINTS, width)),
                        dtype)
        called = []

        def recording(self, *args, **kwargs):
            called.append(self)
            return original(self, *args, **kwargs)

        nnx.Linear.__call__ = recording
        try:
            return x, np.asarray(model(x), np.float64), called
        except Exception as err:  # the module's own failure, re-raised with what was tried
            if attempt == 0 and called and called[0].in_features != width:
                width = called[0].in_features
                continue
            raise ValueError(
                f"calling model(x) with x of shape {tuple(x.shape)} failed "
                f"({type(err).__name__}: {err}); layers_from needs a module whose __call__(x) "
                "is the forward pass"
            ) from err
        finally:
            nnx.Linear.__call__ = original


def _reproduces(layers: Layers, name: str, x: Array, reference: np.ndarray) -> bool:
    """Whether ``apply(layers, x, name)`` equals ``reference`` to :data:`REPRODUCE_RTOL` of
    the largest value computed on the way (outputs and every pre-activation), the scale of
    the rounding error."""
    acts = activations(layers, x, name)
    ours = np.asarray(acts.post[-1], np.float64)
    if ours.shape != reference.shape:
        return False
    scale = max(float(np.max(np.abs(z), initial=0.0)) for z in [reference, *acts.pre])
    return bool(np.max(np.abs(ours - reference), initial=0.0) <= REPRODUCE_RTOL * scale)


def as_layers(net, activation: str | None = None, *, dtype=None,
              need_activation: bool = True) -> tuple[Layers, str | None]:
    """Resolve ``net`` (an ``nnx.Module`` MLP or a layer list) to ``(layers, activation_name)``.

    Analyses call this at their entry. A module is read by :func:`layers_from` (its own
    activation is used; an explicit, different ``activation`` is an error); for a layer list
    ``activation`` is required, unless ``need_activation=False`` (analyses of the parameters
    alone), which returns ``None`` for it. ``dtype`` (e.g. ``np.float64``) converts to NumPy
    arrays of that dtype.
    """
    if isinstance(net, nnx.Module):
        layers, name = layers_from(net, activation)
    else:
        layers = validate_layers(net)
        if activation is None and not need_activation:
            name = None
        elif activation is None:
            raise ValueError(
                "activation=None with a layer list: pass activation=, one of "
                f"{sorted(ACTIVATIONS)}"
            )
        else:
            name = get_activation(activation).name
    if dtype is not None:
        layers = [(np.asarray(W, dtype), np.asarray(b, dtype)) for W, b in layers]
    return list(layers), name


# ----------------------------------------------------------------------------- losses


def _cross_entropy(logits: Array, y: Array) -> Array:
    """Mean softmax cross-entropy of ``logits (n, C)`` with integer labels ``y (n,)``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _mse(outputs: Array, y: Array) -> Array:
    """Mean over points of ``0.5 * ||outputs - targets||^2``; ``outputs (n, C)``, ``y`` either
    float targets ``(n, C)`` or integer labels ``(n,)`` compared as one-hot targets."""
    targets = jax.nn.one_hot(y, outputs.shape[-1], dtype=outputs.dtype) if y.ndim == 1 else y
    return 0.5 * jnp.mean(jnp.sum((outputs - targets) ** 2, axis=-1))


LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "cross_entropy": _cross_entropy,
    "mse": _mse,
}
"""Loss name -> ``loss(outputs (n, C), y (n,) int or (n, C) float) -> scalar`` (mean over
points). Used by training (:mod:`toylab.train`) and the landscape (:mod:`toylab.landscape`)."""
