"""Training ensembles of tiny networks in one compiled call.

``train_ensemble`` trains S networks that differ in their initialisation seed (and, if the
data has a leading seed axis, in their data) in one jit-compiled program: ``lax.scan`` over
steps, the seeds batched together (an explicit seed axis in every product,
:func:`seed_batched_apply`; initialisation and optimizer updates are ``jax.vmap``-ed per seed)
and split over devices with ``jax.shard_map``. It records loss/accuracy curves at every step
and parameter snapshots every ``snapshot_every`` steps (the trajectory later analyses need).

A seed's run depends only on its seed and hyperparameters. Bit for bit, it also depends on the
width of the chunk of seeds it is batched with (XLA's batched kernels round differently for
different batch sizes, ~1e-6 relative in float32): pass ``seed_chunk=`` to train seeds in
fixed-width chunks (padded), and seed ``s`` trained alone is then bit-identical to seed ``s``
inside any ensemble (and on 1 or 2 devices for ``sgd``/``momentum``; ``adam`` differs by an ulp
between 1 and 2 devices, see :mod:`toylab.sweep`).

The learning rate, momentum and weight decay are *traced* inputs (:class:`Hyper`), not
compile-time constants: configs that differ only in them share one compilation
(:attr:`TrainConfig.spec` is the compile-time part). :mod:`toylab.sweep` builds on this to run
grids of configs x seeds, sharded over devices.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from toylab.models import LOSSES, Layers, check_widths, get_activation, init_layers, n_params
from toylab.results import progress as _progress_bar

Array = jax.Array


# ----------------------------------------------------------------------------- lookup tables


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


# Seed-batched products in the points-minor layout. Runs of a chunk are trained together with
# an explicit seed axis: activations are ``(S, width, n)`` (points last, so elementwise work
# vectorises over points) and every layer is one product batched over seeds. XLA CPU's batched
# dots are slow for thin matrices, so a product whose contracted size is small, or which
# contracts a modest dimension into a tiny one, runs as an unrolled sum of broadcast products
# that fuses with the bias and activation around it. For 256 seeds of a 2-16-16-3 net on 512
# points this takes a training step from 17.1 ms (vmap of the per-seed loss) to 3.5-3.9 ms
# with two devices and cache-sized chunks (benchmarks/README.md, train_ensemble).

SMALL_WIDTH = 4
"""Layers with fan-in or fan-out at most this use unrolled sums instead of batched dots."""

MAX_UNROLL = 32
"""Longest sum that is unrolled; longer contractions always use a batched dot."""


def _unrolled(contracted: int, other: int) -> bool:
    """Whether a product contracting ``contracted`` into ``other`` runs as an unrolled sum."""
    return contracted <= MAX_UNROLL and min(contracted, other) <= SMALL_WIDTH


def _forward_product(W: Array, h: Array) -> Array:
    """``(S, i, o), (S, i, n) or (i, n) -> (S, o, n)``: ``sum_i W[s, i, o] h[s, i, n]``."""
    if _unrolled(W.shape[1], W.shape[2]):
        h = h if h.ndim == 3 else h[None]
        return sum(W[:, k, :, None] * h[:, k, None, :] for k in range(W.shape[1]))
    return jnp.einsum("sio,in->son" if h.ndim == 2 else "sio,sin->son", W, h)


def _backward_product(W: Array, d: Array) -> Array:
    """``(S, i, o), (S, o, n) -> (S, i, n)``: ``sum_o W[s, i, o] d[s, o, n]``."""
    if _unrolled(W.shape[2], W.shape[1]):
        return sum(W[:, :, k, None] * d[:, k, None, :] for k in range(W.shape[2]))
    return jnp.einsum("sio,son->sin", W, d)


@jax.custom_vjp
def _seed_batched_dense(W: Array, h: Array) -> Array:
    """``W: (S, in, out)``, ``h: (S, in, n)`` or shared ``(in, n)`` -> ``(S, out, n)``, with a
    backward pass that picks its own product forms (``dW`` as a dot over points, ``dh`` as
    :func:`_backward_product`); a shared ``h`` (the data) gets no used cotangent, which XLA
    removes."""
    return _forward_product(W, h)


def _dense_fwd(W, h):
    return _forward_product(W, h), (W, h)


def _dense_bwd(residuals, d):
    W, h = residuals
    dW = jnp.einsum("in,son->sio" if h.ndim == 2 else "sin,son->sio", h, d)
    dh = _backward_product(W, d)
    return dW, dh if h.ndim == 3 else dh.sum(0)


_seed_batched_dense.defvjp(_dense_fwd, _dense_bwd)


def seed_batched_apply(layers: Layers, X: Array, activation: str = "relu") -> Array:
    """Forward pass of S networks at once (the training kernel; equals
    ``jax.vmap(toylab.models.apply)`` up to float rounding).

    Args:
        layers: ``[(W (S, in, out), b (S, out)), ...]``.
        X: ``(n, d)`` shared by all networks, or ``(S, n, d)``.
        activation: name in ``toylab.models.ACTIVATIONS``.
    Returns:
        outputs ``(S, n, out)``.
    """
    act = get_activation(activation).fn
    h = jnp.swapaxes(X, -1, -2)
    for i, (W, b) in enumerate(layers):
        h = _seed_batched_dense(W, h) + b[:, :, None]
        if i < len(layers) - 1:
            h = act(h)
    return jnp.swapaxes(h, 1, 2)


def _take_rows(a: Array, idx: Array, per_seed: bool) -> Array:
    """Rows ``idx: (S, B)`` of shared ``a: (n, ...)`` or per-run ``a: (S, n, ...)``, giving
    ``(S, B, ...)``."""
    return jax.vmap(lambda a_s, i: a_s[i])(a, idx) if per_seed else a[idx]


def _train_chunk(seeds: Array, hyper: Hyper, X: Array, y: Array, *, spec: TrainSpec,
                 per_seed_data: bool, progress_offset: Array | None = None) -> tuple:
    """Train ``c`` networks at once, one per seed, with hyperparameters ``hyper`` (``(c,)``
    arrays); pure. Each run depends only on its own seed, hyperparameters and data.

    ``X: (n, d)`` / ``y`` shared, or with a leading ``c`` axis when ``per_seed_data``.
    ``progress_offset`` (a traced int, or None for no progress reports) is added to the number
    of finished snapshot intervals reported to the progress bar.
    """
    dtype = DTYPES[spec.dtype]
    loss_fn = LOSSES[spec.loss]
    keys = jax.vmap(lambda seed: jax.random.split(jax.random.key(seed)))(seeds)
    init_keys, batch_keys = keys[:, 0], keys[:, 1]
    layers = jax.vmap(lambda key: init_layers(key, spec.widths, dtype=dtype))(init_keys)
    optimizer = OPTIMIZERS[spec.optimizer]
    n = X.shape[-2]
    full_batch = spec.batch_size is None or spec.batch_size >= n

    def losses(params, Xb, yb, per_run_data):
        """Per-run mean losses and accuracies ``(c,)`` on shared or per-run data."""
        outputs = seed_batched_apply(params, Xb, spec.activation)
        axis = 0 if per_run_data else None
        return (jax.vmap(loss_fn, in_axes=(0, axis))(outputs, yb),
                jax.vmap(_accuracy, in_axes=(0, axis))(outputs, yb))

    def total_loss(params, Xb, yb, per_run_data):
        # the runs share no parameters, so the gradient of the sum is every run's own gradient
        loss, acc = losses(params, Xb, yb, per_run_data)
        return loss.sum(), (loss, acc)

    def step_fn(carry, step):
        params, opt_state = carry
        if full_batch:  # one forward pass serves both the gradient and the curves
            (_, (loss, acc)), grads = jax.value_and_grad(total_loss, has_aux=True)(
                params, X, y, per_seed_data)
        else:
            loss, acc = losses(params, X, y, per_seed_data)
            idx = jax.vmap(lambda key: jax.random.choice(
                jax.random.fold_in(key, step), n, (spec.batch_size,), replace=False))(batch_keys)
            batch = (_take_rows(X, idx, per_seed_data), _take_rows(y, idx, per_seed_data))
            grads = jax.grad(lambda p: total_loss(p, *batch, True)[0])(params)
        updates, opt_state = jax.vmap(
            lambda h, g, s, p: optimizer(h).update(g, s, p))(hyper, grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    def chunk_fn(carry, chunk):
        steps = chunk * spec.snapshot_every + jnp.arange(spec.snapshot_every)
        carry, curves = jax.lax.scan(step_fn, carry, steps)
        if progress_offset is not None:
            jax.debug.callback(_tick_progress, progress_offset + chunk + 1)
        return carry, (carry[0], curves)

    n_chunks = spec.steps // spec.snapshot_every
    opt_state = jax.vmap(lambda h, p: optimizer(h).init(p))(hyper, layers)
    (final, _), (snaps, (loss, acc)) = jax.lax.scan(
        chunk_fn, (layers, opt_state), jnp.arange(n_chunks))
    snapshots = jax.tree.map(lambda s0, s: jnp.moveaxis(jnp.concatenate([s0[None], s]), 0, 1),
                             layers, snaps)
    final_loss, final_acc = losses(final, X, y, per_seed_data)
    curve = lambda a: a.reshape(spec.steps, -1).T  # (chunks, every, c) -> (c, steps)
    return final, curve(loss), curve(acc), snapshots, final_loss, final_acc


def train_runs(seeds: Array, hyper: Hyper, X: Array, y: Array, *, spec: TrainSpec,
               chunk: int, per_seed_data: bool = False, show_progress: bool = False) -> tuple:
    """Train R runs as ``R / chunk`` sequential chunks of ``chunk`` runs each (pure, traceable).

    The per-chunk program is the same whatever ``R`` is, so a run's result does not depend on
    how many runs share the call (see the module docstring). ``toylab.sweep`` wraps this in
    ``shard_map`` to spread the runs over devices.

    Args:
        seeds: ``(R,)`` uint32 init seeds, ``R`` a multiple of ``chunk``.
        hyper: :class:`Hyper` of ``(R,)`` arrays in the config dtype.
        X: ``(n, d)`` shared data, or ``(R, n, d)`` with ``per_seed_data``; y likewise.
        spec: the compile-time config (:attr:`TrainConfig.spec`).
        chunk: runs trained at once (the width of the seed axis of every product).
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

    def one_chunk(args):
        index, seeds, hyper, X, y = args
        offset = index * intervals if show_progress else None
        return _train_chunk(seeds, hyper, X, y, spec=spec, per_seed_data=per_seed_data,
                            progress_offset=offset)

    def chunked(a):
        return a.reshape((n_chunks, chunk) + a.shape[1:])

    data = (chunked(X), chunked(y)) if per_seed_data else (X, y)
    args = (jnp.arange(n_chunks), chunked(seeds), jax.tree.map(chunked, hyper))
    if per_seed_data:
        out = jax.lax.map(one_chunk, args + data)
    else:  # shared data is closed over, not copied per chunk
        out = jax.lax.map(lambda a: one_chunk(a + data), args)
    return jax.tree.map(lambda a: a.reshape((n_runs,) + a.shape[2:]), out)


WORK_PER_ACTIVATION = 3
"""Working-set bytes per run, in units of ``itemsize * n_points * sum(widths[1:])``: forward
activations and their gradients (XLA CPU measured 2.7-2.8 for the earlier vmapped program and
1.6-1.9 for the seed-batched one, jax 0.10; kept at 3 as a bound)."""

WORK_PER_PARAMETER = 10
"""Working-set bytes per run, in units of ``itemsize * n_params``: parameters, gradients,
optimizer state, updates and the snapshot carry (XLA CPU measures ~9.4)."""

CACHE_BYTES = 2 * 2**20
"""Per-core cache that the default chunk of runs is sized to fit (the L2 of this project's
2-core x86 machine). Chunks that fit train several times faster per run than chunks that
spill: 256 seeds of a 2-16-16-3 net on 512 points take 3.9 s in chunks of 8 and 5.2 s in
chunks of 128 (per 1,000 Adam steps, two devices; benchmarks/README.md)."""


def working_bytes(spec: TrainSpec, n_points: int) -> int:
    """Estimated live bytes of one run while it trains on ``n_points`` (all points are
    evaluated every step for the curves, also with minibatches)."""
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    return itemsize * (WORK_PER_ACTIVATION * n_points * sum(spec.widths[1:])
                       + WORK_PER_PARAMETER * n_params(spec.widths))


def default_seed_chunk(spec: TrainSpec, n_points: int, runs: int) -> int:
    """The largest power of two of runs whose working set fits in :data:`CACHE_BYTES` (at
    least 1), capped at ``runs``."""
    fits = max(1, CACHE_BYTES // working_bytes(spec, n_points))
    return max(1, min(int(runs), 1 << (fits.bit_length() - 1)))


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


# ----------------------------------------------------------------------------- devices

AXIS = "runs"
"""Name of the mesh axis the runs are sharded along."""


def resolve_devices(devices=None, *, local: bool = False) -> tuple:
    """The devices runs are sharded over.

    Args:
        devices: ``None`` for all of ``jax.devices()`` (every process's, after
            ``jax.distributed.initialize``), an int ``n`` for the first ``n``, or a sequence
            of ``jax.Device``.
        local: choose among this process's devices only (``jax.local_devices()``).
    Returns:
        tuple of devices.
    """
    available = jax.local_devices() if local else jax.devices()
    if devices is None:
        return tuple(available)
    if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"devices={devices} but {len(available)} JAX device(s) exist ({available}); "
                f"pass devices <= {len(available)} or None for all. On CPU, toylab makes one "
                "JAX device per core unless jax was used before it was imported; set "
                f"jax.config.update('jax_num_cpu_devices', {max(devices, 1)}) first for more"
            )
        chosen = tuple(available[: int(devices)])
    else:
        chosen = tuple(devices)
        unknown = [d for d in chosen if d not in available]
        if not chosen or unknown:
            raise ValueError(
                f"devices={devices!r} must be a non-empty sequence of "
                f"{'jax.local_devices()' if local else 'jax.devices()'} ({available}); "
                f"unknown: {unknown}"
            )
    if not local and jax.process_count() > 1 and len(chosen) != len(available):
        raise ValueError(
            f"devices={devices!r} selects {len(chosen)} of {len(available)} devices; in a "
            "multi-process run every process must take part, so pass devices=None"
        )
    return chosen


def sharded_program(spec: TrainSpec, chunk: int, devices: tuple, *, per_seed_data: bool = False,
                    show_progress: bool = False) -> tuple[Callable, Mesh]:
    """The jitted :func:`train_runs` with its runs split over ``devices`` (``jax.shard_map`` on
    a one-axis mesh; each device trains its share in chunks of ``chunk``), and the mesh.

    The program takes ``(seeds, hyper, X, y)`` laid out by :func:`place`: runs sharded along
    :data:`AXIS`, the data replicated (or sharded too with ``per_seed_data``). Programs are
    cached per argument values (``sharded_program.cache_info()``), however they are passed.
    """
    return _build_program(spec, int(chunk), tuple(devices), bool(per_seed_data),
                          bool(show_progress))


@lru_cache(maxsize=None)
def _build_program(spec: TrainSpec, chunk: int, devices: tuple, per_seed_data: bool,
                   show_progress: bool) -> tuple[Callable, Mesh]:
    mesh = Mesh(np.array(devices), (AXIS,))
    runs, shared = PartitionSpec(AXIS), PartitionSpec()
    data = runs if per_seed_data else shared
    body = partial(train_runs, spec=spec, chunk=chunk, per_seed_data=per_seed_data,
                   show_progress=show_progress)
    # check_vma=False: runs never communicate; the zero bias init is device-invariant while
    # the trained carry varies, which the varying-axis checker would otherwise reject.
    program = jax.shard_map(body, mesh=mesh, in_specs=(runs, runs, data, data),
                            out_specs=runs, check_vma=False)
    return jax.jit(program), mesh


sharded_program.cache_info = _build_program.cache_info


def place(array: np.ndarray, mesh: Mesh, spec: PartitionSpec) -> Array:
    """A global array laid out by ``spec``; each process supplies its addressable shards."""
    sharding = NamedSharding(mesh, spec)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


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
    devices=None,
) -> TrainResult:
    """Train one network per seed in a single jit-compiled, scanned computation, the seeds
    batched together and split over this process's devices (on CPU toylab makes one device
    per core, see ``toylab/__init__.py``).

    Args:
        X: inputs ``(n, d)`` shared by all seeds, or ``(S, n, d)`` one data set per seed.
        y: integer labels ``(n,)`` / ``(S, n)`` (or float targets ``(n, C)`` for ``mse``).
        seeds: init seeds, or an int ``S`` meaning seeds ``0..S-1``.
        config: hyperparameters (:class:`TrainConfig`).
        on_divergence: ``"raise"`` raises :class:`TrainingDiverged` naming the first seed and
            step whose loss is NaN/inf; ``"report"`` returns the result anyway (callers find
            diverged seeds with :func:`diverged_seeds`).
        progress: show a progress bar of finished snapshot intervals.
        seed_chunk: seeds trained at once on a device, one chunk after another (padded).
            ``None`` (default) sizes the chunks to the cache (:func:`default_seed_chunk`);
            an int fixes them, which makes every seed's result bit-identical whatever else
            is in the ensemble (across device counts, see :mod:`toylab.sweep`).
        devices: ``None`` for all of ``jax.local_devices()``, an int ``n`` for the first
            ``n``, or a sequence of devices (:func:`resolve_devices`).
    Returns:
        :class:`TrainResult` as NumPy arrays.
    """
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seeds={seeds!r} must be a positive count or a non-empty list of ints")
    if on_divergence not in ("raise", "report"):
        raise ValueError(f"on_divergence={on_divergence!r}; choose 'raise' or 'report'")
    devices = resolve_devices(devices, local=True)
    dtype = DTYPES[config.dtype]
    X, y = np.asarray(X), np.asarray(y)
    per_seed = _check_data(X, y, len(seeds), config)
    chunk = (default_seed_chunk(config.spec, X.shape[-2], -(-len(seeds) // len(devices)))
             if seed_chunk is None else check_seed_chunk(seed_chunk))
    rows = pad_runs(len(seeds), chunk * len(devices))
    if per_seed:
        X, y = X[rows], y[rows]
    hyper = hyper_arrays([config.hyper] * len(rows), dtype)
    program, mesh = sharded_program(config.spec, chunk, devices, per_seed_data=per_seed,
                                    show_progress=progress)
    runs = PartitionSpec(AXIS)
    data = runs if per_seed else PartitionSpec()
    bar = contextlib.nullcontext()
    if progress:  # every device reports its own chunks, so the bar counts one device's
        bar = _progress_bar(iter(()), desc=f"training {len(seeds)} seeds",
                            total=len(rows) // (chunk * len(devices))
                            * (config.steps // config.snapshot_every))
    with _precision(config.dtype), bar:
        if progress:
            _PROGRESS_BAR.append(bar)
        try:
            labels = y.astype(np.int32) if y.dtype.kind in "iu" else y.astype(dtype)
            out = program(place(seeds[rows].astype(np.uint32), mesh, runs),
                          jax.tree.map(lambda h: place(h, mesh, runs), hyper),
                          place(X.astype(dtype), mesh, data), place(labels, mesh, data))
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
