"""The program runner: one way to train a group of runs, behind both :func:`train_ensemble`
and :func:`toylab.sweep.run_sweep`.

A *group* is a set of runs sharing one compile-time spec (:class:`TrainSpec`); each run has
its seed, its traced hyperparameters (:class:`Hyper`) and either the group's shared data set
or its own. :func:`run_runs` sizes the chunks (:func:`default_seed_chunk`), plans memory
(:func:`plan_memory`, splitting into several calls if needed), pads the runs to whole chunks,
places the inputs on the mesh and collects the results. :func:`train_ensemble` is a group of
one config.
"""

from __future__ import annotations

import contextlib
import logging
from functools import lru_cache, partial
from typing import Sequence

import jax
import numpy as np
from jax.sharding import PartitionSpec

from toylab.results import progress as progress_bar
from toylab.train.config import DTYPES, Hyper, TrainConfig, TrainSpec, check_seeds
from toylab.train.kernel import init_chunk
from toylab.train.memory import (
    DEFAULT_MAX_BYTES,
    MemoryPlan,
    check_seed_chunk,
    default_seed_chunk,
    format_bytes,
    plan_memory,
)
from toylab.train.results import (
    TrainResult,
    TrainState,
    check_divergence,
    check_on_divergence,
    collect_result,
)
from toylab.train.sharding import (
    AXIS,
    place,
    reporting_progress,
    resolve_devices,
    sharded_program,
    to_host,
)

log = logging.getLogger("toylab.train")


def hyper_arrays(hypers: Sequence[Hyper], dtype) -> Hyper:
    """Stack per-run :class:`Hyper` scalars into ``(R,)`` arrays of ``dtype`` (a NumPy dtype)."""
    return Hyper(*(np.asarray(column, dtype) for column in zip(*hypers)))


def pad_runs(n_runs: int, multiple: int) -> np.ndarray:
    """Indices ``(R',)`` taking ``n_runs`` runs to the next multiple of ``multiple`` by
    repeating run 0 (padding runs are computed and then dropped)."""
    total = -(-n_runs // multiple) * multiple
    return np.concatenate([np.arange(n_runs), np.zeros(total - n_runs, np.int64)])


def precision(dtype: str):
    """Enable 64-bit JAX only inside float64 runs, leaving the global default untouched."""
    return jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()


def check_data(X, y, config: TrainConfig, n_seeds: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate training data for ``config``; returns ``(X, y, per_seed)``.

    Args:
        X: ``(n, d)`` shared by all seeds, or ``(S, n, d)`` one data set per seed; finite
            real numbers, ``n >= 1``, ``d = widths[0]``.
        y: integer labels with ``X``'s leading shape (``(n,)`` / ``(S, n)``), in
            ``[0, widths[-1])``; with ``loss="mse"`` they are compared as one-hot targets.
            Or, for ``mse`` only, finite float targets ``(..., n, C)`` with
            ``C = widths[-1]``; float targets ``(..., n)`` without the output axis are read
            as one-output regression targets when ``widths[-1] == 1`` (returned with the axis
            added) and rejected otherwise.
        config: the :class:`TrainConfig`; n_seeds: ``S``.
    Returns:
        NumPy ``X``, ``y`` (float targets always with their output axis) and whether the data
        carries a leading seed axis.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.dtype.kind not in "iuf":
        raise TypeError(f"X has dtype {X.dtype}; pass real-valued inputs (a float array)")
    if X.ndim not in (2, 3):
        raise ValueError(f"X has shape {X.shape}; need (n, d) shared by all seeds or (S, n, d) "
                         "one data set per seed")
    per_seed = X.ndim == 3
    if per_seed and X.shape[0] != n_seeds:
        raise ValueError(f"X has {X.shape[0]} data sets but seeds has {n_seeds} entries")
    if X.shape[-2] == 0:
        raise ValueError(f"X has shape {X.shape}: no training points (n = 0); pass at least "
                         "one sample")
    if X.shape[-1] != config.widths[0]:
        raise ValueError(
            f"X has {X.shape[-1]} features but widths={config.widths} expects {config.widths[0]}"
        )
    if not np.all(np.isfinite(X)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(f"X has a non-finite value {X[index]} at index {index}; training "
                         "needs finite inputs (drop or impute those points)")
    lead, outputs = X.shape[:-1], config.widths[-1]
    if y.dtype.kind in "iu":
        if y.shape != lead:
            raise ValueError(f"y has shape {y.shape}, which does not match X {X.shape}: integer "
                             f"labels need shape {lead}")
        if y.min() < 0 or y.max() >= outputs:
            raise ValueError(
                f"y has labels in [{y.min()}, {y.max()}] but the net has {outputs} outputs; "
                f"labels must be in [0, {outputs})")
        return X, y, per_seed
    if y.dtype.kind != "f":
        raise TypeError(f"y has dtype {y.dtype}; pass integer class labels (or float targets "
                        "for mse)")
    if config.loss == "cross_entropy":
        raise ValueError(f"y has dtype {y.dtype}; cross_entropy needs integer class labels")
    if y.shape == lead:
        if outputs != 1:
            raise ValueError(
                f"y has shape {y.shape} of float targets but widths={config.widths} has "
                f"{outputs} outputs; for mse pass targets of shape {lead + (outputs,)}, or "
                f"integer class labels of shape {lead} (compared as one-hot targets)")
        y = y[..., None]
    if y.shape != lead + (outputs,):
        raise ValueError(f"y has shape {y.shape}, which does not match X {X.shape}: mse targets "
                         f"need shape {lead + (outputs,)} (one value per output)")
    if not np.all(np.isfinite(y)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
        raise ValueError(f"y has a non-finite target {y[index]} at index {index}; mse needs "
                         "finite targets")
    return X, y, per_seed


def run_runs(spec: TrainSpec, seeds: np.ndarray, hyper: Hyper, X: np.ndarray, y: np.ndarray,
             *, data_index: np.ndarray | None = None, devices: tuple, seed_chunk: int | None = None,
             max_bytes: float = DEFAULT_MAX_BYTES, progress: bool = False,
             desc: str = "training", start: tuple | None = None) -> tuple[tuple, MemoryPlan]:
    """Train a group of ``R`` runs of one spec: the program runner.

    Args:
        spec: the compile-time config of every run.
        seeds: ``(R,)`` validated seeds (:func:`check_seeds`).
        hyper: :class:`Hyper` of ``(R,)`` arrays (:func:`hyper_arrays`).
        X, y: checked data (:func:`check_data`): one shared set ``(n, d)`` / ``(n, ...)``
            when ``data_index`` is ``None``, else ``D`` sets ``(D, n, d)`` / ``(D, n, ...)``.
        data_index: ``(R,)`` the data set of each run, or ``None``.
        devices: the devices (:func:`resolve_devices`).
        seed_chunk: runs trained at once per device; ``None`` sizes it to the cache
            (:func:`default_seed_chunk` of a device's share). Fixing it makes a run's result
            bit-identical whatever else is trained with it.
        max_bytes: limit of the estimated peak memory; above it the runs go in several calls
            (logged as a warning on the ``toylab.train`` logger).
        progress: show a progress bar; desc: its label.
        start: ``None`` to train from the initialisation, or ``(layers, opt_state, step)``,
            NumPy leaves with leading axis ``R`` (``step: (R,)`` steps done), to continue runs
            (:func:`train_segment`); every call of a spec then runs one compiled program.
    Returns:
        ``(outputs, plan)``: the NumPy outputs of :func:`toylab.train.kernel.train_runs` for
        the ``R`` runs (padding dropped; with ``start`` ending in the final state), and the
        :class:`MemoryPlan` used.
    """
    n_runs, n_points = len(seeds), X.shape[-2]
    chunk = (default_seed_chunk(spec, n_points, -(-n_runs // len(devices)))
             if seed_chunk is None else check_seed_chunk(seed_chunk))
    plan = plan_memory(spec, n_points, n_runs, seed_chunk=chunk, devices=len(devices),
                       max_bytes=max_bytes, data_sets=None if data_index is None else len(X))
    if plan.calls > 1:
        log.warning(
            "%d runs of widths=%s would need ~%s in one call, more than max_bytes=%s; running "
            "them in %d calls of %d runs (~%s)", plan.runs, spec.widths,
            format_bytes(plan.single_call_estimate), format_bytes(plan.max_bytes), plan.calls,
            plan.runs_per_call, format_bytes(plan.estimate))
    dtype = DTYPES[spec.dtype]
    rows = pad_runs(n_runs, plan.padded_runs)
    run_seeds = np.asarray(seeds)[rows].astype(np.uint32)
    hyper = Hyper(*(np.asarray(h, dtype)[rows] for h in hyper))
    X = np.asarray(X, dtype)
    labels = y.astype(np.int32) if y.dtype.kind in "iu" else np.asarray(y, dtype)
    program, mesh = sharded_program(spec, plan.seed_chunk, devices,
                                    per_seed_data=data_index is not None, show_progress=progress,
                                    resume=start is not None)
    if start is not None:
        start = jax.tree.map(lambda a: np.asarray(a)[rows], start)
    runs = PartitionSpec(AXIS)
    intervals = spec.steps // spec.snapshot_every
    per_call = plan.runs_per_call // (plan.seed_chunk * len(devices)) * intervals
    bar = contextlib.nullcontext()
    if progress:  # every device reports its own chunks, so the bar counts one device's
        bar = progress_bar(iter(()), desc=desc, total=plan.calls * per_call)
    out = None
    with precision(spec.dtype), bar, (reporting_progress(bar) if progress
                                      else contextlib.nullcontext([bar, 0])) as report:
        shared = None
        if data_index is None:
            shared = (place(X, mesh, PartitionSpec()), place(labels, mesh, PartitionSpec()))
        for call in range(plan.calls):
            part = slice(call * plan.runs_per_call, (call + 1) * plan.runs_per_call)
            if shared is None:
                sets = np.asarray(data_index)[rows[part]]
                data = (place(X[sets], mesh, runs), place(labels[sets], mesh, runs))
            else:
                data = shared
            report[1] = call * per_call
            resumed = () if start is None else (
                jax.tree.map(lambda a: place(a[part], mesh, runs), start),)
            call_out = to_host(program(place(run_seeds[part], mesh, runs),
                                       Hyper(*(place(h[part], mesh, runs) for h in hyper)),
                                       *data, *resumed))
            if plan.calls == 1:
                out = call_out
                break
            if out is None:  # one host buffer for all calls, filled call by call
                out = jax.tree.map(lambda a: np.empty((plan.padded_runs,) + a.shape[1:],
                                                      a.dtype), call_out)
            jax.tree.map(lambda full, a: full.__setitem__(part, a), out, call_out)
    return jax.tree.map(lambda a: a[:n_runs], out), plan


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
    max_bytes: float = DEFAULT_MAX_BYTES,
) -> TrainResult:
    """Train one network per seed in a single jit-compiled, scanned computation, the seeds
    batched together and split over this process's devices (one group of runs of
    :func:`run_runs`, as a sweep of one config; ``toylab.use_cpu_cores()`` makes one CPU
    device per core).

    Args:
        X: inputs ``(n, d)`` shared by all seeds, or ``(S, n, d)`` one data set per seed.
        y: integer labels ``(n,)`` / ``(S, n)``, or for ``mse`` float targets ``(..., n, C)``
            (``(..., n)`` for a one-output net); see :func:`check_data`.
        seeds: distinct init seeds in ``[0, 2**32)``, or an int ``S`` meaning seeds
            ``0..S-1`` (:func:`~toylab.train.config.check_seeds`).
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
        max_bytes: limit of the estimated peak memory (:func:`plan_memory`); above it the
            seeds train in several calls.
    Returns:
        :class:`TrainResult` as NumPy arrays.
    """
    config, seeds, X, y, per_seed = _checked(X, y, seeds, config)
    check_on_divergence(on_divergence)
    out, _ = run_runs(config.spec, seeds,
                      hyper_arrays([config.hyper] * len(seeds), DTYPES[config.dtype]), X, y,
                      data_index=np.arange(len(seeds)) if per_seed else None,
                      devices=resolve_devices(devices, local=True), seed_chunk=seed_chunk,
                      max_bytes=max_bytes, progress=progress, desc=f"training {len(seeds)} seeds")
    result = collect_result(out, slice(None), config, seeds)
    check_divergence(result, config, on_divergence)
    return result


def _checked(X, y, seeds, config) -> tuple:
    """``(config, seeds, X, y, per_seed)`` validated (:func:`check_seeds`,
    :func:`check_data`)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config is a {type(config).__name__}; pass a TrainConfig")
    seeds = check_seeds(seeds)
    return (config, seeds) + check_data(X, y, config, len(seeds))


_init_program = jax.jit(init_chunk, static_argnames=("spec", "per_seed_data"))


def init_state(X, y, seeds: Sequence[int] | int, *,
               config: TrainConfig = TrainConfig()) -> TrainState:
    """The :class:`TrainState` of ``seeds`` at step 0: the initialisation and fresh optimizer
    state that :func:`train_ensemble` starts from (bit-identical).

    Args:
        X, y, seeds, config: as for :func:`train_ensemble` (``y`` is only checked; ``X``
            places the folds of the ``"data"`` bias init).
    Returns:
        :class:`TrainState` (NumPy leaves) at ``step=0``.
    """
    config, seeds, X, _, per_seed = _checked(X, y, seeds, config)
    dtype = DTYPES[config.dtype]
    with precision(config.dtype):
        layers, opt_state = jax.device_get(_init_program(
            seeds.astype(np.uint32), hyper_arrays([config.hyper] * len(seeds), dtype),
            np.asarray(X, dtype), spec=config.spec, per_seed_data=per_seed))
    return TrainState([tuple(p) for p in layers], opt_state, 0, seeds)


@lru_cache(maxsize=64)
def _state_shapes(spec: TrainSpec, n_seeds: int) -> tuple:
    """``(params, opt_state)`` shapes and dtypes of ``n_seeds`` runs of ``spec`` (traced once
    per spec: :func:`check_state` runs before every segment)."""
    dtype = DTYPES[spec.dtype]
    with precision(spec.dtype):
        return jax.eval_shape(
            partial(init_chunk, spec=spec, per_seed_data=False),
            jax.ShapeDtypeStruct((n_seeds,), np.uint32),
            Hyper(*[jax.ShapeDtypeStruct((n_seeds,), dtype)] * len(Hyper._fields)),
            jax.ShapeDtypeStruct((1, spec.widths[0]), dtype))


def check_state(state, config: TrainConfig, seeds: np.ndarray) -> TrainState:
    """Validate a :class:`TrainState` against the ``config`` and checked ``seeds`` of the
    segment that continues it: same seeds, and parameters and optimizer state of the shapes
    and dtype the config's widths, optimizer and dtype make."""
    if not isinstance(state, TrainState):
        raise TypeError(f"state is a {type(state).__name__}; pass the TrainState that "
                        "train_segment or init_state returned")
    if not np.array_equal(np.asarray(state.seeds), seeds):
        raise ValueError(f"state is of seeds {np.asarray(state.seeds).tolist()} but seeds="
                         f"{seeds.tolist()}; continue a state with the seeds it was made with")
    if isinstance(state.step, bool) or not isinstance(state.step, (int, np.integer)) \
            or state.step < 0:
        raise ValueError(f"state.step={state.step!r} must be an int >= 0 (steps done)")
    layout = lambda params, opt_state: jax.tree.map(
        lambda a: (tuple(np.shape(a)), np.dtype(a.dtype).name),
        ([tuple(p) for p in params], opt_state))
    if (layout(*jax.tree.map(np.asarray, (state.params, state.opt_state)))
            != layout(*_state_shapes(config.spec, len(seeds)))):
        raise ValueError(
            f"state does not fit config (widths={config.widths}, optimizer="
            f"{config.optimizer!r}, dtype={config.dtype!r}, {len(seeds)} seeds): its "
            "parameters or optimizer state have other shapes; continue a state with the "
            "config it was trained with (only steps, snapshot_every and the traced "
            "hyperparameters may change)")
    return state


def train_segment(
    X,
    y,
    seeds: Sequence[int] | int,
    *,
    config: TrainConfig = TrainConfig(),
    state: TrainState | None = None,
    on_divergence: str = "raise",
    seed_chunk: int | None = None,
    devices=None,
    max_bytes: float = DEFAULT_MAX_BYTES,
) -> tuple[TrainResult, TrainState]:
    """Train ``config.steps`` more steps of every seed, continuing from ``state``: a run in
    segments, to stop between them or look at each one.

    Segments of ``k`` steps continue one another exactly: parameters, optimizer state (Adam's
    moments and step count) and the minibatch draws (step ``t`` of a seed draws the same
    minibatch whatever segment it is in) carry over, so ``N`` segments equal one
    :func:`train_ensemble` call of ``N k`` steps (bit for bit; tested in
    ``tests/test_train_segments.py``, with :func:`join_segments`). Every segment of a given
    ``config.spec`` and seed count runs one compiled program, whatever its ``state``.

    Args:
        X, y, seeds, on_divergence, seed_chunk, devices, max_bytes: as for
            :func:`train_ensemble`; use the same data for every segment of a run.
        config: the run's config with ``steps`` the length of this segment (the snapshots
            are taken every ``snapshot_every`` steps of it).
        state: where the run stands (the previous segment's, or :func:`init_state`'s);
            ``None`` starts from the initialisation (step 0).
    Returns:
        ``(result, state)``: the segment's :class:`TrainResult` (curves of its steps only;
        ``snapshot_steps`` count from the run's start, so the first snapshot is the state it
        began from) and the :class:`TrainState` after it.
    """
    config, seeds, X, y, per_seed = _checked(X, y, seeds, config)
    check_on_divergence(on_divergence)
    state = (init_state(X, y, seeds, config=config) if state is None
             else check_state(state, config, seeds))
    out, _ = run_runs(config.spec, seeds,
                      hyper_arrays([config.hyper] * len(seeds), DTYPES[config.dtype]), X, y,
                      data_index=np.arange(len(seeds)) if per_seed else None,
                      devices=resolve_devices(devices, local=True), seed_chunk=seed_chunk,
                      max_bytes=max_bytes, desc=f"training {len(seeds)} seeds",
                      start=(state.params, state.opt_state,
                             np.full(len(seeds), state.step, np.int32)))
    result = collect_result(out[:6], slice(None), config, seeds)
    result = result._replace(snapshot_steps=state.step + result.snapshot_steps)
    params, opt_state = out[6]
    check_divergence(result, config, on_divergence)
    return result, TrainState([tuple(p) for p in params], opt_state,
                              state.step + config.steps, seeds)
