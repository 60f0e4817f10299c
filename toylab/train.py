"""Training ensembles of tiny networks in one compiled call.

``train_ensemble`` trains S networks that differ in their initialisation seed (and, if the
data has a leading seed axis, in their data) with ``jax.vmap`` over seeds and ``lax.scan``
over steps, recording loss/accuracy curves at every step and parameter snapshots every
``snapshot_every`` steps (the trajectory later analyses need).

A seed's run depends only on its seed: seed ``s`` trained alone is the same network as seed
``s`` trained inside an ensemble.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toylab.models import Layers, apply, check_widths, get_activation, init_layers
from toylab.results import progress as _progress_bar

Array = jax.Array


# ----------------------------------------------------------------------------- lookup tables


def _cross_entropy(logits: Array, y: Array) -> Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _mse(outputs: Array, y: Array) -> Array:
    """Mean squared error; integer labels are compared as one-hot targets."""
    targets = jax.nn.one_hot(y, outputs.shape[-1], dtype=outputs.dtype) if y.ndim == 1 else y
    return 0.5 * jnp.mean(jnp.sum((outputs - targets) ** 2, axis=-1))


LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "cross_entropy": _cross_entropy,
    "mse": _mse,
}
"""Loss name -> ``loss(outputs (n, C), y (n,) int or (n, C) float) -> scalar`` (mean)."""


def _sgd(c: "TrainConfig") -> optax.GradientTransformation:
    return optax.chain(optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate))


def _momentum(c: "TrainConfig") -> optax.GradientTransformation:
    return optax.chain(
        optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate, momentum=c.momentum)
    )


def _adam(c: "TrainConfig") -> optax.GradientTransformation:
    # Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); plain Adam when it is 0.
    return optax.adamw(c.learning_rate, weight_decay=c.weight_decay)


OPTIMIZERS: dict[str, Callable[["TrainConfig"], optax.GradientTransformation]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "adam": _adam,
}
"""Optimizer name -> optax transformation. Weight decay is L2 (added to the gradient) for
``sgd``/``momentum`` and decoupled (AdamW) for ``adam``."""

DTYPES = {"float32": jnp.float32, "float64": jnp.float64}


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (shared by every seed of an ensemble).

    Attributes:
        widths: ``(in, hidden..., out)``.
        activation: name in ``toylab.models.ACTIVATIONS``.
        optimizer: name in :data:`OPTIMIZERS`.
        learning_rate, momentum, weight_decay: optimizer hyperparameters.
        steps: number of optimizer steps.
        batch_size: minibatch size, or ``None`` for full-batch training.
        loss: name in :data:`LOSSES`.
        snapshot_every: parameters are recorded at steps ``0, k, 2k, ..., steps``.
        dtype: ``"float32"`` (default) or ``"float64"``.
    """

    widths: tuple[int, ...] = (2, 16, 16, 3)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    steps: int = 1000
    batch_size: int | None = None
    loss: str = "cross_entropy"
    snapshot_every: int = 100
    dtype: str = "float32"

    def __post_init__(self):
        object.__setattr__(self, "widths", check_widths(self.widths))
        get_activation(self.activation)
        for arg, table in (("optimizer", OPTIMIZERS), ("loss", LOSSES), ("dtype", DTYPES)):
            if getattr(self, arg) not in table:
                raise ValueError(
                    f"{arg}={getattr(self, arg)!r} is unknown; choose one of {sorted(table)}"
                )
        if self.steps <= 0:
            raise ValueError(f"steps={self.steps!r} must be a positive number of steps")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate!r} must be > 0")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} must be >= 0")
        if self.snapshot_every <= 0 or self.steps % self.snapshot_every:
            raise ValueError(
                f"snapshot_every={self.snapshot_every!r} must be a positive divisor of "
                f"steps={self.steps}; e.g. snapshot_every={self.steps}"
            )
        if self.batch_size is not None and self.batch_size <= 0:
            raise ValueError(f"batch_size={self.batch_size!r} must be positive or None")

    @property
    def snapshot_steps(self) -> np.ndarray:
        return np.arange(0, self.steps + 1, self.snapshot_every)


class TrainResult(NamedTuple):
    """An ensemble's training record. Arrays carry a leading seed axis ``S``.

    Attributes:
        layers: final parameters, ``[(W (S, in, out), b (S, out)), ...]``.
        loss: ``(S, steps)`` full-data loss before each step.
        accuracy: ``(S, steps)`` full-data accuracy before each step (classification).
        snapshots: ``[(W (S, T, in, out), b (S, T, out)), ...]`` at ``snapshot_steps``.
        snapshot_steps: ``(T,)`` step of each snapshot (``0`` = initialisation).
        seeds: ``(S,)`` the init seeds.
        final_loss, final_accuracy: ``(S,)`` after the last step.
    """

    layers: Layers
    loss: np.ndarray
    accuracy: np.ndarray
    snapshots: Layers
    snapshot_steps: np.ndarray
    seeds: np.ndarray
    final_loss: np.ndarray
    final_accuracy: np.ndarray

    def member(self, index: int) -> Layers:
        """Final layer list of ensemble member ``index`` (position, not seed value)."""
        return [(W[index], b[index]) for W, b in self.layers]

    def snapshot(self, index: int, t: int) -> Layers:
        """Layer list of member ``index`` at snapshot ``t``."""
        return [(W[index, t], b[index, t]) for W, b in self.snapshots]


class TrainingDiverged(FloatingPointError):
    """The loss of some seed became NaN or infinite."""


# ----------------------------------------------------------------------------- pure core


def _accuracy(outputs: Array, y: Array) -> Array:
    """Fraction of argmax predictions equal to integer labels (NaN for regression targets)."""
    return jnp.mean(jnp.argmax(outputs, -1) == y) if y.ndim == 1 else jnp.nan


def _train_one(seed: Array, X: Array, y: Array, *, config: TrainConfig,
               show_progress: bool = False) -> tuple:
    """Train one network from ``seed``; pure, so it can be vmapped over seeds."""
    dtype = DTYPES[config.dtype]
    activation = config.activation
    loss_fn = LOSSES[config.loss]
    init_key, batch_key = jax.random.split(jax.random.key(seed))
    layers = init_layers(init_key, config.widths, dtype=dtype)
    tx = OPTIMIZERS[config.optimizer](config)
    n = X.shape[0]

    full_batch = config.batch_size is None or config.batch_size >= n

    def full_loss(params):
        outputs = apply(params, X, activation)
        return loss_fn(outputs, y), _accuracy(outputs, y)

    def batch_loss(params, step):
        idx = jax.random.choice(
            jax.random.fold_in(batch_key, step), n, (config.batch_size,), replace=False
        )
        return loss_fn(apply(params, X[idx], activation), y[idx])

    def step_fn(carry, step):
        params, opt_state = carry
        if full_batch:  # one forward pass serves both the gradient and the curves
            (loss, acc), grads = jax.value_and_grad(full_loss, has_aux=True)(params)
        else:
            loss, acc = full_loss(params)
            grads = jax.grad(batch_loss)(params, step)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    def chunk_fn(carry, chunk):
        steps = chunk * config.snapshot_every + jnp.arange(config.snapshot_every)
        carry, curves = jax.lax.scan(step_fn, carry, steps)
        if show_progress:
            jax.debug.callback(_tick_progress, chunk)
        return carry, (carry[0], curves)

    n_chunks = config.steps // config.snapshot_every
    (final, _), (snaps, (loss, acc)) = jax.lax.scan(
        chunk_fn, (layers, tx.init(layers)), jnp.arange(n_chunks)
    )
    snapshots = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s]), layers, snaps)
    final_loss, final_acc = full_loss(final)
    return final, loss.reshape(-1), acc.reshape(-1), snapshots, final_loss, final_acc


@partial(jax.jit, static_argnames=("config", "per_seed_data", "show_progress"))
def _train_vmapped(seeds, X, y, *, config: TrainConfig, per_seed_data: bool,
                   show_progress: bool):
    axes = 0 if per_seed_data else None
    one = partial(_train_one, config=config, show_progress=show_progress)
    return jax.vmap(one, in_axes=(0, axes, axes))(seeds, X, y)


_PROGRESS_BAR: list = []  # the bar of the run in flight, updated from inside the compiled loop


def _tick_progress(chunk) -> None:
    if _PROGRESS_BAR:
        bar = _PROGRESS_BAR[-1]
        bar.update(int(chunk) + 1 - bar.n)


# ----------------------------------------------------------------------------- public API


def train_ensemble(
    X,
    y,
    seeds: Sequence[int] | int,
    *,
    config: TrainConfig = TrainConfig(),
    on_divergence: str = "raise",
    progress: bool = False,
) -> TrainResult:
    """Train one network per seed in a single jit-compiled, vmapped, scanned computation.

    Args:
        X: inputs ``(n, d)`` shared by all seeds, or ``(S, n, d)`` one data set per seed.
        y: integer labels ``(n,)`` / ``(S, n)`` (or float targets ``(n, C)`` for ``mse``).
        seeds: init seeds, or an int ``S`` meaning seeds ``0..S-1``.
        config: hyperparameters (:class:`TrainConfig`).
        on_divergence: ``"raise"`` raises :class:`TrainingDiverged` naming the first seed and
            step whose loss is NaN/inf; ``"report"`` returns the result anyway (callers find
            diverged seeds with :func:`diverged_seeds`).
    Returns:
        :class:`TrainResult` as NumPy arrays.
    """
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seeds={seeds!r} must be a positive count or a non-empty list of ints")
    if on_divergence not in ("raise", "report"):
        raise ValueError(f"on_divergence={on_divergence!r}; choose 'raise' or 'report'")
    dtype = DTYPES[config.dtype]
    X, y = np.asarray(X), np.asarray(y)
    per_seed = _check_data(X, y, len(seeds), config)
    bar = contextlib.nullcontext()
    if progress:
        bar = _progress_bar(iter(()), desc=f"training {len(seeds)} seeds",
                            total=config.steps // config.snapshot_every)
    with _precision(config.dtype), bar:
        if progress:
            _PROGRESS_BAR.append(bar)
        try:
            out = _train_vmapped(
                jnp.asarray(seeds, jnp.uint32),
                jnp.asarray(X, dtype),
                jnp.asarray(y) if y.dtype.kind in "iu" else jnp.asarray(y, dtype),
                config=config,
                per_seed_data=per_seed,
                show_progress=progress,
            )
            final, loss, acc, snaps, final_loss, final_acc = jax.tree.map(np.asarray, out)
        finally:
            if progress:
                _PROGRESS_BAR.pop()
    result = TrainResult(
        layers=[tuple(p) for p in final],
        loss=loss,
        accuracy=acc,
        snapshots=[tuple(p) for p in snaps],
        snapshot_steps=config.snapshot_steps,
        seeds=seeds,
        final_loss=final_loss,
        final_accuracy=final_acc,
    )
    if on_divergence == "raise":
        bad = diverged_seeds(result)
        if bad:
            seed, step = bad[0]
            raise TrainingDiverged(
                f"training diverged: seed {seed} has a non-finite loss at step {step} "
                f"({len(bad)} of {len(seeds)} seeds diverged); lower learning_rate="
                f"{config.learning_rate} or use on_divergence='report' to keep the others"
            )
    return result


def diverged_seeds(result: TrainResult) -> list[tuple[int, int]]:
    """``[(seed, first_bad_step), ...]`` for seeds whose loss became NaN/inf.

    ``first_bad_step == steps`` means only the final loss is non-finite.
    """
    curves = np.concatenate([result.loss, result.final_loss[:, None]], axis=1)
    bad = ~np.isfinite(curves)
    return [
        (int(result.seeds[s]), int(np.argmax(bad[s]))) for s in np.flatnonzero(bad.any(axis=1))
    ]


def _check_data(X: np.ndarray, y: np.ndarray, n_seeds: int, config: TrainConfig) -> bool:
    """Validate shapes; returns whether the data carries a leading seed axis."""
    per_seed = X.ndim == 3
    if X.ndim not in (2, 3):
        raise ValueError(f"X has shape {X.shape}; need (n, d) or (S, n, d)")
    if per_seed and X.shape[0] != n_seeds:
        raise ValueError(f"X has {X.shape[0]} data sets but seeds has {n_seeds} entries")
    if X.shape[-1] != config.widths[0]:
        raise ValueError(
            f"X has {X.shape[-1]} features but widths={config.widths} expects {config.widths[0]}"
        )
    if y.shape[: X.ndim - 1] != X.shape[:-1]:
        raise ValueError(f"y has shape {y.shape}, which does not match X {X.shape}")
    if config.loss == "cross_entropy" and y.dtype.kind not in "iu":
        raise ValueError(f"y has dtype {y.dtype}; cross_entropy needs integer class labels")
    if y.dtype.kind in "iu" and (y.min() < 0 or y.max() >= config.widths[-1]):
        raise ValueError(
            f"y has labels in [{y.min()}, {y.max()}] but the net has {config.widths[-1]} outputs"
        )
    return per_seed


def _precision(dtype: str):
    """Enable 64-bit JAX only inside float64 runs, leaving the global default untouched."""
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()
