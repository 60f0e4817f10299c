"""The training loss as a function of the flat parameter vector.

Every landscape analysis starts from a *problem*: a network (layer list or
:class:`toylab.models.MLP`), a data set ``X: (n, d)``, ``y: (n,)`` integer labels (or
``(n, C)`` float targets for ``mse``) and a loss name from :data:`toylab.models.LOSSES`
(the same table training uses, so the landscape is the landscape that was descended). The
loss is the mean over points; parameters are flattened in the DESIGN.md order (per layer
``W`` row-major then ``b``, :func:`toylab.models.flatten`).

All computations run in float64: public functions enter ``jax.enable_x64(True)`` for their
own duration (see :func:`float64`) and leave the global JAX setting untouched.
"""

from __future__ import annotations

import functools
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from toylab.models import (
    LOSSES,
    MLP,
    apply,
    as_layers,
    flatten,
    param_index,
    unflatten,
    validate_layers,
    widths_of,
)

Array = jax.Array


class Spec(NamedTuple):
    """The static (hashable) part of a problem: what the flat vector means and which loss."""

    widths: tuple[int, ...]
    activation: str
    loss: str


class Problem(NamedTuple):
    """A validated network + data + loss, all float64 NumPy (labels int).

    Attributes:
        theta: ``(P,)`` flat parameters.
        X: ``(n, d)`` inputs.
        y: ``(n,)`` integer labels or ``(n, C)`` float targets.
        spec: widths, activation and loss name.
    """

    theta: np.ndarray
    X: np.ndarray
    y: np.ndarray
    spec: Spec

    @property
    def n_params(self) -> int:
        return int(self.theta.shape[0])


def float64(fn: Callable) -> Callable:
    """Run ``fn`` with 64-bit JAX enabled only for the duration of the call."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------------- validation


def check_loss(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is unknown; choose one of {sorted(LOSSES)}")
    return loss


def check_int(name: str, value, *, minimum: int = 1, example: str = "") -> int:
    """``value`` as an ``int >= minimum`` (an int or an integral float; not a bool, NaN or
    inf), else a ValueError naming ``name``, the value and what is needed."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
          and np.isfinite(value) and float(value).is_integer() and value >= minimum)
    if not ok:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}"
                         + (f", e.g. {example}" if example else ""))
    return int(value)


def flat_params(net, activation: str | None = None, *,
                need_activation: bool = True) -> tuple[np.ndarray, tuple[int, ...], str | None]:
    """``(theta (P,) float64, widths, activation)`` of a layer list or MLP; rejects NaN/inf.

    With ``need_activation=False`` a layer list without ``activation`` is accepted (for
    analyses that depend only on the parameters) and the returned activation is ``None``.
    """
    if activation is None and not need_activation and not isinstance(net, MLP):
        layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64))
                  for W, b in validate_layers(net)]
    else:
        layers, activation = as_layers(net, activation, dtype=np.float64)
    widths = widths_of(layers)
    with jax.enable_x64(True):  # flatten goes through jax; keep float64 outside x64 too
        theta = np.asarray(flatten(layers), np.float64)
    bad = np.flatnonzero(~np.isfinite(theta))
    if bad.size:
        layer, neuron, role = param_index(widths).role(int(bad[0]))
        raise ValueError(
            f"net has {bad.size} non-finite parameters (first: flat index {bad[0]} = "
            f"{theta[bad[0]]}, layer {layer} neuron {neuron} {role}); pass finite weights "
            "(a diverged run? see toylab.train.diverged_seeds)"
        )
    return theta, widths, activation


def check_data(X, y, widths: tuple[int, ...], loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``X: (n, d)`` and ``y`` against the net's widths and the loss.

    A one-output net with ``cross_entropy`` is rejected: the softmax of a single logit is 1,
    so the loss is identically 0 and its gradient and every curvature vanish.
    """
    if loss == "cross_entropy" and widths[-1] < 2:
        raise ValueError(
            f"loss='cross_entropy' on a {widths} net with {widths[-1]} output is identically 0 "
            "(the softmax of one logit is 1), so its gradient and curvature vanish; give the "
            "net one logit per class (widths[-1] >= 2) or use loss='mse'"
        )
    X = np.asarray(X, np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != widths[0] or X.shape[0] == 0:
        raise ValueError(
            f"X has shape {X.shape}; the {widths} net needs a non-empty (n, {widths[0]}) array"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf; pass finite inputs")
    n, C = X.shape[0], widths[-1]
    if y.dtype.kind in "iu":
        if y.shape != (n,):
            raise ValueError(f"y has shape {y.shape}; integer labels need shape ({n},)")
        if y.min() < 0 or y.max() >= C:
            raise ValueError(
                f"y has labels in [{y.min()}, {y.max()}] but the net has {C} outputs; "
                f"labels must lie in [0, {C - 1}]"
            )
        return X, y.astype(np.int32)
    if loss == "cross_entropy":
        raise ValueError(f"y has dtype {y.dtype}; loss='cross_entropy' needs integer labels")
    if y.shape != (n, C) or not np.all(np.isfinite(y)):
        raise ValueError(f"y has shape {y.shape}; float targets must be finite with shape ({n}, {C})")
    return X, y.astype(np.float64)


def resolve(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy") -> Problem:
    """Validate and convert the standard ``(net, X, y)`` arguments into a :class:`Problem`."""
    loss = check_loss(loss)
    theta, widths, activation = flat_params(net, activation)
    X, y = check_data(X, y, widths, loss)
    return Problem(theta, X, y, Spec(widths, activation, loss))


def check_direction(v, n_params: int, name: str = "direction") -> np.ndarray:
    """A finite float64 ``(P,)`` parameter-space vector, else a ValueError naming ``name``."""
    v = np.asarray(v, np.float64)
    if v.shape != (n_params,):
        raise ValueError(
            f"{name} has shape {v.shape}; a parameter-space direction of this net has shape "
            f"({n_params},) in toylab.models.flatten order"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf; pass a finite vector")
    return v


# ----------------------------------------------------------------------------- pure kernels


def logits_of(theta: Array, X: Array, spec: Spec) -> Array:
    """``(n, C)`` network outputs at flat parameters ``theta``."""
    return apply(unflatten(theta, spec.widths), X, spec.activation)


def loss_of(theta: Array, X: Array, y: Array, spec: Spec) -> Array:
    """Mean loss over the points at flat parameters ``theta`` (scalar)."""
    return LOSSES[spec.loss](logits_of(theta, X, spec), y)


_loss_jit = jax.jit(loss_of, static_argnames="spec")
_grad_jit = jax.jit(jax.grad(loss_of), static_argnames="spec")


@partial(jax.jit, static_argnames=("spec", "batch"))
def _losses_along(thetas, X, y, spec, batch):
    return jax.lax.map(lambda t: loss_of(t, X, y, spec), thetas, batch_size=batch)


@partial(jax.jit, static_argnames=("spec",))
def _pointwise_losses(theta, X, y, spec):
    per_point = jax.vmap(lambda z, t: LOSSES[spec.loss](z[None], t[None]))
    return per_point(logits_of(theta, X, spec), y)


# ----------------------------------------------------------------------------- public API


def flat_loss(net, X, y, *, activation: str | None = None,
              loss: str = "cross_entropy") -> tuple[Callable[[Array], Array], np.ndarray]:
    """The training loss as a function of the flat parameter vector.

    Args:
        net: layer list ``[(W (in, out), b (out,)), ...]`` or :class:`toylab.models.MLP`.
        X: ``(n, d)`` inputs; y: ``(n,)`` int labels or ``(n, C)`` float targets.
        activation: required for a layer list.
        loss: name in :data:`toylab.models.LOSSES`; the loss is the mean over points.
    Returns:
        ``(f, theta)``: ``f(theta') -> scalar`` (jax-traceable; call it inside
        ``jax.enable_x64(True)`` with float64 input for float64 results) and the net's own
        flat parameters ``theta: (P,)``.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    return partial(_closed_loss, X=p.X, y=p.y, spec=p.spec), p.theta


def _closed_loss(theta, *, X: np.ndarray, y: np.ndarray, spec: Spec):
    """The loss at ``theta`` with the (NumPy float64) data cast to ``theta``'s dtype."""
    y = jnp.asarray(y, theta.dtype) if y.dtype.kind == "f" else jnp.asarray(y)
    return loss_of(theta, jnp.asarray(X, theta.dtype), y, spec)


@float64
def loss_value(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy") -> float:
    """Mean training loss of ``net`` on ``(X, y)`` in float64."""
    p = resolve(net, X, y, activation=activation, loss=loss)
    return float(_loss_jit(jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y), p.spec))


@float64
def gradient(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy") -> np.ndarray:
    """Full-batch gradient ``(P,)`` of the mean loss, in the flat order, float64."""
    p = resolve(net, X, y, activation=activation, loss=loss)
    return problem_gradient(p)


def problem_gradient(p: Problem) -> np.ndarray:
    """Gradient ``(P,)`` of a resolved :class:`Problem` (call inside float64)."""
    return np.asarray(_grad_jit(jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y), p.spec))


def losses_at(p: Problem, thetas: np.ndarray, *, batch: int = 256) -> np.ndarray:
    """Mean loss of ``p``'s data at each row of ``thetas: (m, P)`` -> ``(m,)`` (inside float64;
    ``batch`` rows are vmapped at a time)."""
    thetas = jnp.asarray(thetas)
    return np.asarray(_losses_along(thetas, jnp.asarray(p.X), jnp.asarray(p.y), p.spec,
                                    min(batch, thetas.shape[0])))


class PopulationLoss(NamedTuple):
    """A Monte Carlo estimate of the population loss ``E_{(x,y)~dist} l(f(x), y)``.

    Attributes:
        mean: sample mean over ``n_samples`` fresh i.i.d. draws.
        stderr: its standard error ``std / sqrt(n_samples)``; the exact value lies within
            ``4 * stderr`` of ``mean`` except with probability ~6e-5 (CLT).
        n_samples: number of draws.
    """

    mean: float
    stderr: float
    n_samples: int


@float64
def population_loss(net, dist, *, activation: str | None = None, loss: str = "cross_entropy",
                    n_samples: int = 2**20, seed: int = 0, batch: int = 2**16) -> PopulationLoss:
    """Population loss under an analytic distribution, as a large-sample estimate.

    No closed form exists for the softmax cross-entropy integrated over a Gaussian mixture,
    so this is a *stated* Monte Carlo estimate with its standard error, not an exact value.

    Args:
        net: layer list or MLP; activation: required for a layer list.
        dist: a distribution with ``sample(seed, n) -> (X, y, ...)`` (e.g.
            :class:`toylab.data.GaussianMixture`).
        loss: name in :data:`toylab.models.LOSSES`.
        n_samples: fresh draws (deterministic given ``seed``); batch: points per jitted call.
    Returns:
        :class:`PopulationLoss`.
    """
    n_samples = check_int("n_samples", n_samples, minimum=2, example="2**20 (two at least, for "
                          "a standard error)")
    batch = check_int("batch", batch, example="2**16")
    X, y = dist.sample(seed, n_samples)[:2]
    p = resolve(net, X, y, activation=activation, loss=loss)
    theta = jnp.asarray(p.theta)
    values = np.concatenate([
        np.asarray(_pointwise_losses(theta, jnp.asarray(p.X[i:i + batch]),
                                     jnp.asarray(p.y[i:i + batch]), p.spec))
        for i in range(0, p.X.shape[0], batch)
    ])
    return PopulationLoss(float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size)),
                          int(values.size))
