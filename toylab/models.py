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
    """Forward pass. ``x: (..., in)`` -> logits ``(..., out)``."""
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
    ``pre[l][..., i]`` / ``post[l][..., i]``."""
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


def validate_layers(layers) -> Layers:
    """Check shapes of a layer list; returns it as a list of ``(W, b)`` tuples."""
    if not isinstance(layers, (list, tuple)) or len(layers) == 0:
        raise ValueError(
            f"net={type(layers).__name__} is not a layer list; pass [(W, b), ...] or an MLP"
        )
    out = []
    prev = None
    for depth, pair in enumerate(layers):
        if len(pair) != 2:
            raise ValueError(f"net[{depth}] must be a (W, b) pair, got {len(pair)} items")
        W, b = pair
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"net[{depth}] has W {tuple(W.shape)} and b {tuple(b.shape)}; "
                "need W of shape (in, out) and b of shape (out,)"
            )
        if prev is not None and W.shape[0] != prev:
            raise ValueError(
                f"net[{depth}] takes {W.shape[0]} inputs but layer {depth - 1} has {prev} outputs"
            )
        prev = W.shape[1]
        out.append((W, b))
    return out


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


def as_layers(net, activation: str | None = None, *, dtype=None) -> tuple[Layers, str]:
    """Resolve ``net`` (an :class:`MLP` or a layer list) to ``(layers, activation_name)``.

    Analyses call this at their entry. For an MLP its own activation is used (an explicit,
    different ``activation`` is an error); for a layer list ``activation`` is required.
    ``dtype`` (e.g. ``np.float64``) converts to NumPy arrays of that dtype.
    """
    if isinstance(net, MLP):
        if activation is not None and get_activation(activation).name != net.activation:
            raise ValueError(
                f"activation={activation!r} contradicts the model's own {net.activation!r}; "
                "omit activation= when passing an MLP"
            )
        layers, name = net.layers(), net.activation
    else:
        layers = validate_layers(net)
        if activation is None:
            raise ValueError(
                "activation=None with a layer list: pass activation=, one of "
                f"{sorted(ACTIVATIONS)}"
            )
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
