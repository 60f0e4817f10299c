"""Training ensembles of tiny networks in one compiled call.

``train_ensemble`` trains S networks that differ in their initialisation seed (and, if the
data has a leading seed axis, in their data) with ``jax.vmap`` over seeds and ``lax.scan``
over steps, recording loss/accuracy curves at every step and parameter snapshots every
``snapshot_every`` steps (the trajectory later analyses need).

A seed's run depends only on its seed and hyperparameters. Bit for bit, it also depends on the
width of the vmap it runs in (XLA's batched kernels round differently for different batch
sizes, ~1e-6 relative in float32): pass ``seed_chunk=`` to train seeds in fixed-width chunks
(padded), and seed ``s`` trained alone is then bit-identical to seed ``s`` inside any ensemble.

The learning rate, momentum and weight decay are *traced* inputs (:class:`Hyper`), not
compile-time constants: configs that differ only in them share one compilation
(:attr:`TrainConfig.spec` is the compile-time part). :mod:`toylab.sweep` builds on this to run
grids of configs x seeds, sharded over devices.
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


def _sgd(c: "Hyper") -> optax.GradientTransformation:
    return optax.chain(optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate))


def _momentum(c: "Hyper") -> optax.GradientTransformation:
    return optax.chain(
        optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate, momentum=c.momentum)
    )


def _adam(c: "Hyper") -> optax.GradientTransformation:
    # Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); plain Adam when it is 0.
    return optax.adamw(c.learning_rate, weight_decay=c.weight_decay)


OPTIMIZERS: dict[str, Callable[["Hyper"], optax.GradientTransformation]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "adam": _adam,
}
"""Optimizer name -> optax transformation of a :class:`Hyper` (or a :class:`TrainConfig`: any
object with ``learning_rate``, ``momentum``, ``weight_decay``; scalars or traced arrays).
Weight decay is L2 (added to the gradient) for ``sgd``/``momentum`` and decoupled (AdamW) for
``adam``."""

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

    @property
    def spec(self) -> "TrainSpec":
        """The compile-time part: configs with equal specs share one compiled program."""
        return TrainSpec(*(getattr(self, name) for name in TrainSpec._fields))

    @property
    def hyper(self) -> "Hyper":
        """The traced part, as Python floats."""
        return Hyper(*(float(getattr(self, name)) for name in Hyper._fields))


class TrainSpec(NamedTuple):
    """The fields of a :class:`TrainConfig` that fix the compiled program (shapes, loop
    lengths, functions); everything else is a traced :class:`Hyper` input."""

    widths: tuple[int, ...]
    activation: str
    optimizer: str
    steps: int
    batch_size: int | None
    loss: str
    snapshot_every: int
    dtype: str


class Hyper(NamedTuple):
    """Traced hyperparameters: scalars for one run, or ``(R,)`` arrays for R runs."""

    learning_rate: Array
    momentum: Array
    weight_decay: Array


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


def _train_one(seed: Array, hyper: Hyper, X: Array, y: Array, *, spec: TrainSpec,
               progress_offset: Array | None = None) -> tuple:
    """Train one network from ``seed`` with hyperparameters ``hyper`` (scalars); pure, so it
    can be vmapped over seeds and hyperparameters.

    ``progress_offset`` (a traced int, or None for no progress reports) is added to the
    number of finished snapshot intervals reported to the progress bar.
    """
    dtype = DTYPES[spec.dtype]
    activation = spec.activation
    loss_fn = LOSSES[spec.loss]
    init_key, batch_key = jax.random.split(jax.random.key(seed))
    layers = init_layers(init_key, spec.widths, dtype=dtype)
    tx = OPTIMIZERS[spec.optimizer](hyper)
    n = X.shape[0]

    full_batch = spec.batch_size is None or spec.batch_size >= n

    def full_loss(params):
        outputs = apply(params, X, activation)
        return loss_fn(outputs, y), _accuracy(outputs, y)

    def batch_loss(params, step):
        idx = jax.random.choice(
            jax.random.fold_in(batch_key, step), n, (spec.batch_size,), replace=False
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
        steps = chunk * spec.snapshot_every + jnp.arange(spec.snapshot_every)
        carry, curves = jax.lax.scan(step_fn, carry, steps)
        if progress_offset is not None:
            jax.debug.callback(_tick_progress, progress_offset + chunk + 1)
        return carry, (carry[0], curves)

    n_chunks = spec.steps // spec.snapshot_every
    (final, _), (snaps, (loss, acc)) = jax.lax.scan(
        chunk_fn, (layers, tx.init(layers)), jnp.arange(n_chunks)
    )
    snapshots = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s]), layers, snaps)
    final_loss, final_acc = full_loss(final)
    return final, loss.reshape(-1), acc.reshape(-1), snapshots, final_loss, final_acc


def train_runs(seeds: Array, hyper: Hyper, X: Array, y: Array, *, spec: TrainSpec,
               chunk: int, per_seed_data: bool = False, show_progress: bool = False) -> tuple:
    """Train R runs as ``R / chunk`` sequential chunks of a ``chunk``-wide vmap (pure, traceable).

    The per-chunk program is the same whatever ``R`` is, so a run's result does not depend on
    how many runs share the call (see the module docstring). ``toylab.sweep`` wraps this in
    ``shard_map`` to spread the runs over devices.

    Args:
        seeds: ``(R,)`` uint32 init seeds, ``R`` a multiple of ``chunk``.
        hyper: :class:`Hyper` of ``(R,)`` arrays in the config dtype.
        X: ``(n, d)`` shared data, or ``(R, n, d)`` with ``per_seed_data``; y likewise.
        spec: the compile-time config (:attr:`TrainConfig.spec`).
        chunk: vmap width.
        show_progress: report finished snapshot intervals to the progress bar in flight.
    Returns:
        ``(final layers, loss (R, steps), accuracy (R, steps), snapshots, final_loss (R,),
        final_accuracy (R,))``, every leaf with leading axis ``R``.
    """
    n_runs = seeds.shape[0]
    if n_runs % chunk:
        raise ValueError(f"{n_runs} runs is not a multiple of chunk={chunk}; pad the runs")
    n_chunks = n_runs // chunk
    intervals = spec.steps // spec.snapshot_every
    axes = 0 if per_seed_data else None

    def one_chunk(args):
        index, seeds, hyper, X, y = args
        offset = index * intervals if show_progress else None
        one = partial(_train_one, spec=spec, progress_offset=offset)
        return jax.vmap(one, in_axes=(0, 0, axes, axes))(seeds, hyper, X, y)

    def chunked(a):
        return a.reshape((n_chunks, chunk) + a.shape[1:])

    data = (chunked(X), chunked(y)) if per_seed_data else (X, y)
    args = (jnp.arange(n_chunks), chunked(seeds), jax.tree.map(chunked, hyper))
    if per_seed_data:
        out = jax.lax.map(one_chunk, args + data)
    else:  # shared data is closed over, not copied per chunk
        out = jax.lax.map(lambda a: one_chunk(a + data), args)
    return jax.tree.map(lambda a: a.reshape((n_runs,) + a.shape[2:]), out)


_train_jit = jax.jit(
    train_runs, static_argnames=("spec", "chunk", "per_seed_data", "show_progress")
)


def hyper_arrays(hypers: Sequence[Hyper], dtype) -> Hyper:
    """Stack per-run :class:`Hyper` scalars into ``(R,)`` arrays of ``dtype`` (a NumPy dtype)."""
    return Hyper(*(np.asarray(column, dtype) for column in zip(*hypers)))


def pad_runs(n_runs: int, multiple: int) -> np.ndarray:
    """Indices ``(R',)`` taking ``n_runs`` runs to the next multiple of ``multiple`` by
    repeating run 0 (padding runs are computed and then dropped)."""
    total = -(-n_runs // multiple) * multiple
    return np.concatenate([np.arange(n_runs), np.zeros(total - n_runs, np.int64)])


_PROGRESS_BAR: list = []  # the bar of the run in flight, updated from inside the compiled loop


def _tick_progress(position) -> None:
    if _PROGRESS_BAR:
        bar = _PROGRESS_BAR[-1]
        bar.update(max(0, int(position) - bar.n))


# ----------------------------------------------------------------------------- public API


def train_ensemble(
    X,
    y,
    seeds: Sequence[int] | int,
    *,
    config: TrainConfig = TrainConfig(),
    on_divergence: str = "raise",
    progress: bool = False,
    seed_chunk: int | None = None,
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
        progress: show a progress bar of finished snapshot intervals.
        seed_chunk: vmap width. ``None`` (default) vmaps all seeds at once (fastest); an int
            trains the seeds in chunks of that many (padded), which bounds memory and makes
            every seed's result bit-identical whatever else is in the ensemble.
    Returns:
        :class:`TrainResult` as NumPy arrays.
    """
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seeds={seeds!r} must be a positive count or a non-empty list of ints")
    if on_divergence not in ("raise", "report"):
        raise ValueError(f"on_divergence={on_divergence!r}; choose 'raise' or 'report'")
    chunk = len(seeds) if seed_chunk is None else check_seed_chunk(seed_chunk)
    dtype = DTYPES[config.dtype]
    X, y = np.asarray(X), np.asarray(y)
    per_seed = _check_data(X, y, len(seeds), config)
    rows = pad_runs(len(seeds), chunk)
    if per_seed:
        X, y = X[rows], y[rows]
    hyper = hyper_arrays([config.hyper] * len(rows), dtype)
    bar = contextlib.nullcontext()
    if progress:
        bar = _progress_bar(iter(()), desc=f"training {len(seeds)} seeds",
                            total=len(rows) // chunk * (config.steps // config.snapshot_every))
    with _precision(config.dtype), bar:
        if progress:
            _PROGRESS_BAR.append(bar)
        try:
            out = _train_jit(
                jnp.asarray(seeds[rows], jnp.uint32),
                jax.tree.map(jnp.asarray, hyper),
                jnp.asarray(X, dtype),
                jnp.asarray(y) if y.dtype.kind in "iu" else jnp.asarray(y, dtype),
                spec=config.spec,
                chunk=chunk,
                per_seed_data=per_seed,
                show_progress=progress,
            )
            out = jax.tree.map(np.asarray, out)
        finally:
            if progress:
                _PROGRESS_BAR.pop()
    result = collect_result(out, np.arange(len(seeds)), config, seeds)
    check_divergence(result, config, on_divergence)
    return result


def check_seed_chunk(seed_chunk) -> int:
    """Validate a vmap width."""
    if isinstance(seed_chunk, bool) or not isinstance(seed_chunk, (int, np.integer)) \
            or seed_chunk < 1:
        raise ValueError(f"seed_chunk={seed_chunk!r} must be a positive int, e.g. 64")
    return int(seed_chunk)


def collect_result(out: tuple, rows: np.ndarray, config: TrainConfig,
                   seeds: np.ndarray) -> TrainResult:
    """A :class:`TrainResult` of runs ``rows`` of :func:`train_runs`' NumPy outputs."""
    final, loss, acc, snaps, final_loss, final_acc = jax.tree.map(lambda a: a[rows], out)
    return TrainResult(
        layers=[tuple(p) for p in final],
        loss=loss,
        accuracy=acc,
        snapshots=[tuple(p) for p in snaps],
        snapshot_steps=config.snapshot_steps,
        seeds=np.asarray(seeds),
        final_loss=final_loss,
        final_accuracy=final_acc,
    )


def check_divergence(result: TrainResult, config: TrainConfig, on_divergence: str) -> None:
    """Raise :class:`TrainingDiverged` for ``on_divergence="raise"`` if any seed diverged."""
    if on_divergence != "raise":
        return
    bad = diverged_seeds(result)
    if bad:
        seed, step = bad[0]
        raise TrainingDiverged(
            f"training diverged: seed {seed} has a non-finite loss at step {step} "
            f"({len(bad)} of {len(result.seeds)} seeds diverged); lower learning_rate="
            f"{config.learning_rate} or use on_divergence='report' to keep the others"
        )


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
