"""Sweeps: grids of training configs x seeds, one compiled program per shape group, sharded.

A sweep trains every ``(config, seed)`` pair (a *run*). Configs are grouped by their
compile-time part, :attr:`toylab.train.TrainConfig.spec` (widths, activation, optimizer,
steps, ...); the learning rate, momentum and weight decay are traced inputs, so all runs of a
group -- whatever their hyperparameters -- go through **one** compiled program. The runs of a
group are split over devices with ``jax.shard_map`` on a one-axis :class:`jax.sharding.Mesh`;
on each device they train as sequential chunks of a fixed number of runs, batched together
(:func:`toylab.train.train_runs`, :func:`toylab.train.sharded_program`).

Determinism. The per-device program trains chunks of ``min(seed_chunk, runs in the group)``
runs (``seed_chunk`` sized to the cache by default) whatever the number of devices, so a run's
result does not depend on the memory limit, and is bit-identical on 1 or 2 devices for ``sgd``
and ``momentum`` (tested in ``tests/test_sweep.py`` with two XLA host devices and in
``tests/test_train.py``; more devices run the same per-device program as 2). Known exception: with ``adam`` the one-device program rounds the
first update differently by one ulp (float32), so 1-device and N-device Adam runs differ at
rounding level (a strict xfail in ``tests/test_train.py``; cause not found). It can differ from
:func:`toylab.train.train_ensemble` with another chunk width at float rounding level (~1e-6
relative in float32).

Memory. :func:`plan_memory` estimates the peak bytes of a group from shapes alone (results of
all runs on the host, one call's results on the device, the working set of the runs in flight
and the data; constants calibrated against XLA's own buffer accounting). If the estimate
exceeds ``max_bytes`` the group runs in several calls of fewer runs each; the sweep logs a
warning and records it (:attr:`SweepResult.memory_chunked`, :attr:`MemoryPlan.calls`).

Multi-host. Start every process with ``jax.distributed.initialize(...)`` before calling
:func:`run_sweep`; the mesh then spans all processes' devices, each process feeds its own
shards and every process receives all results. See ``docs/sweeps.md`` for the commands.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import jax
import numpy as np
from jax.sharding import PartitionSpec

from toylab.models import n_params
from toylab.train import (
    AXIS,
    DTYPES,
    TrainConfig,
    TrainResult,
    TrainSpec,
    TrainingDiverged,
    _check_data,
    _precision,
    check_divergence,
    check_seed_chunk,
    collect_result,
    default_seed_chunk,
    diverged_seeds,
    hyper_arrays,
    pad_runs,
    place,
    resolve_devices,
    sharded_program,
    working_bytes,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 4 * 2**30
"""Default limit for a group's estimated peak memory (4 GiB)."""

# ----------------------------------------------------------------------------- configs


def grid(base: TrainConfig = TrainConfig(), **axes) -> tuple[TrainConfig, ...]:
    """All combinations of the given field values, the last axis varying fastest.

    Example: ``grid(TrainConfig(steps=500), learning_rate=[1e-3, 1e-2], widths=[(2, 8, 3),
    (2, 16, 3)])`` gives 4 configs in 2 shape groups.

    Args:
        base: the config whose other fields every grid point keeps.
        axes: field name -> non-empty list/tuple of values.
    Returns:
        tuple of :class:`~toylab.train.TrainConfig` (each validated).
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, values in axes.items():
        if name not in fields:
            raise ValueError(f"{name}= is not a TrainConfig field; choose from {sorted(fields)}")
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
            raise ValueError(
                f"{name}={values!r} must be a non-empty list of values, e.g. {name}=[{values!r}]"
            )
    names = list(axes)
    return tuple(
        dataclasses.replace(base, **dict(zip(names, point)))
        for point in itertools.product(*(axes[n] for n in names))
    )


def shape_groups(configs: Sequence[TrainConfig]) -> dict[TrainSpec, list[int]]:
    """Config indices grouped by compile-time spec, in order of first appearance."""
    groups: dict[TrainSpec, list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault(config.spec, []).append(i)
    return groups


# ----------------------------------------------------------------------------- memory


class MemoryPlan(NamedTuple):
    """How a shape group is run, and its estimated peak memory.

    Attributes:
        runs: ``configs x seeds`` of the group, before padding.
        padded_runs: runs actually trained (``calls * runs_per_call``; the padding repeats
            run 0 and is dropped).
        runs_per_call: runs per compiled call, a multiple of ``seed_chunk * devices``.
        calls: number of calls (``> 1`` means memory forced the group to be split).
        seed_chunk: runs trained at once on each device.
        output_bytes_per_run: results of one run (snapshots, curves, finals).
        working_bytes_per_run: live buffers of one run while it trains.
        data_bytes: ``X`` and ``y`` of one data set.
        estimate: peak bytes of this plan = host results of all runs + twice one call's results
            (device buffer and its transfer) + working set of the ``seed_chunk * devices``
            runs in flight + data (one shared set, or every run's set on the host and one
            call's sets on the device).
        single_call_estimate: the same for one call with all runs.
        max_bytes: the limit the plan was made for.
    """

    runs: int
    padded_runs: int
    runs_per_call: int
    calls: int
    seed_chunk: int
    output_bytes_per_run: int
    working_bytes_per_run: int
    data_bytes: int
    estimate: int
    single_call_estimate: int
    max_bytes: int


def run_bytes(spec: TrainSpec, n_points: int) -> tuple[int, int]:
    """``(output_bytes, working_bytes)`` of one run, from shapes.

    Outputs: ``P`` parameters at ``steps / snapshot_every + 1`` snapshots plus the final ones,
    loss and accuracy curves of ``steps`` entries, final loss and accuracy. Working set:
    :func:`toylab.train.working_bytes`.
    """
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    snapshots = spec.steps // spec.snapshot_every + 1
    outputs = itemsize * (n_params(spec.widths) * (snapshots + 1) + 2 * spec.steps + 2)
    return outputs, working_bytes(spec, n_points)


def plan_memory(spec: TrainSpec, n_points: int, n_runs: int, *, seed_chunk: int,
                devices: int, max_bytes: float = DEFAULT_MAX_BYTES,
                per_run_data: bool = False) -> MemoryPlan:
    """The fewest calls for a group that keep its estimated peak within ``max_bytes``.

    Args:
        spec: the group's compile-time config; n_points: training points.
        n_runs: configs x seeds of the group.
        seed_chunk: runs trained at once per device (the group uses ``min(seed_chunk, n_runs)``).
        devices: number of devices the runs are sharded over.
        max_bytes: limit for the estimate.
        per_run_data: every run has its own data set (held for all runs on the host and for
            one call's runs on the device), instead of one shared by all.
    Returns:
        :class:`MemoryPlan`.
    Raises:
        ValueError: if even one chunk per device does not fit, naming the fixes.
    """
    if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise ValueError(f"n_runs={n_runs!r} must be a positive int")
    if not max_bytes > 0:
        raise ValueError(f"max_bytes={max_bytes!r} must be a positive number of bytes")
    chunk = min(check_seed_chunk(seed_chunk), int(n_runs))
    unit = chunk * devices
    units = -(-n_runs // unit)
    out, work = run_bytes(spec, n_points)
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    data = n_points * (spec.widths[0] * itemsize + 8)  # one data set: X and its labels

    def estimate(calls: int) -> int:
        per_call = -(-units // calls) * unit
        data_sets = (calls * per_call + per_call) if per_run_data else 1
        return (calls * per_call + 2 * per_call) * out + unit * work + data_sets * data

    calls = next((k for k in range(1, units + 1) if estimate(k) <= max_bytes), None)
    if calls is None:
        raise ValueError(
            f"max_bytes={max_bytes:.4g} is too small: {n_runs} runs of widths={spec.widths} "
            f"need about {estimate(units) / 2**30:.3g} GiB even one chunk per call ({out} B of "
            f"results per run, {work} B per run in flight); raise max_bytes, or use fewer seeds "
            "or configs, a larger snapshot_every, or a smaller seed_chunk"
        )
    per_call = -(-units // calls) * unit
    return MemoryPlan(
        runs=int(n_runs), padded_runs=calls * per_call, runs_per_call=per_call, calls=calls,
        seed_chunk=chunk, output_bytes_per_run=out, working_bytes_per_run=work,
        data_bytes=data, estimate=estimate(calls), single_call_estimate=estimate(1),
        max_bytes=int(max_bytes),
    )


def _to_host(tree):
    """All shards of every output, as NumPy arrays on every process."""
    if jax.process_count() == 1:
        return jax.tree.map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


# ----------------------------------------------------------------------------- the sweep


class GroupReport(NamedTuple):
    """One shape group of a sweep.

    Attributes:
        spec: the compile-time config shared by the group.
        configs: indices (into :attr:`SweepResult.configs`) of the group's configs.
        plan: how it ran (:class:`MemoryPlan`: calls, chunk width, memory estimate).
    """

    spec: TrainSpec
    configs: tuple[int, ...]
    plan: MemoryPlan


@dataclass(frozen=True)
class SweepResult:
    """Results of a sweep.

    Attributes:
        configs: the configs, in the order given.
        results: one :class:`~toylab.train.TrainResult` per config (leading axis: seeds).
        seeds: ``(S,)`` the seeds every config was trained with.
        groups: one :class:`GroupReport` per shape group (one compiled program each).
        devices: number of devices the runs were sharded over.
        memory_chunked: whether some group ran in several calls to stay within the memory
            limit.
    """

    configs: tuple[TrainConfig, ...]
    results: tuple[TrainResult, ...]
    seeds: np.ndarray
    groups: tuple[GroupReport, ...]
    devices: int
    memory_chunked: bool

    def __len__(self) -> int:
        return len(self.configs)

    def result(self, config: TrainConfig) -> TrainResult:
        """The result of the first config equal to ``config``."""
        for c, r in zip(self.configs, self.results):
            if c == config:
                return r
        raise KeyError(f"config={config!r} is not part of this sweep")

    def diverged(self) -> list[tuple[int, int, int]]:
        """``[(config index, seed, first bad step), ...]`` of runs with a non-finite loss."""
        return [(i, seed, step) for i, r in enumerate(self.results)
                for seed, step in diverged_seeds(r)]


def _check_configs(configs) -> tuple[TrainConfig, ...]:
    configs = (configs,) if isinstance(configs, TrainConfig) else tuple(configs)
    if not configs:
        raise ValueError("configs is empty; pass a TrainConfig or a list, e.g. grid(...)")
    for i, c in enumerate(configs):
        if not isinstance(c, TrainConfig):
            raise TypeError(f"configs[{i}] is a {type(c).__name__}; pass TrainConfig objects")
    return configs


def _run_group(spec: TrainSpec, group: list[int], configs, seeds: np.ndarray, X, y,
               devices: tuple, plan: MemoryPlan) -> list[TrainResult]:
    """Train one shape group; returns the group's results in config order.

    Run ``r = k * S + j`` is config ``group[k]`` with seed ``seeds[j]``, so each config's runs
    are contiguous and its result is a view of the group's output arrays. ``X`` is ``(n, d)``
    (shared, replicated on every device), ``(S, n, d)`` or ``(C, S, n, d)`` (one data set per
    run, sharded with the runs); ``y`` likewise.
    """
    dtype = DTYPES[spec.dtype]
    n_seeds = len(seeds)
    rows = pad_runs(plan.runs, plan.padded_runs)
    run_seeds = np.tile(seeds, len(group))[rows].astype(np.uint32)
    hyper = hyper_arrays([configs[i].hyper for i in group for _ in seeds], dtype)
    hyper = jax.tree.map(lambda h: h[rows], hyper)
    per_run = X.ndim > 2
    if per_run:  # one data set per run, in run order
        seed_of, config_of = rows % n_seeds, np.asarray(group)[rows // n_seeds]
        X, y = (X[seed_of], y[seed_of]) if X.ndim == 3 else (X[config_of, seed_of],
                                                             y[config_of, seed_of])
    program, mesh = sharded_program(spec, plan.seed_chunk, devices, per_seed_data=per_run)
    runs = PartitionSpec(AXIS)
    data_spec = runs if per_run else PartitionSpec()
    labels = y.astype(np.int32) if y.dtype.kind in "iu" else np.asarray(y, dtype)
    X = np.asarray(X, dtype)
    out = None
    with _precision(spec.dtype):
        shared = (place(X, mesh, data_spec), place(labels, mesh, data_spec)) if not per_run else None
        for call in range(plan.calls):
            part = slice(call * plan.runs_per_call, (call + 1) * plan.runs_per_call)
            data = shared or (place(X[part], mesh, runs), place(labels[part], mesh, runs))
            call_out = _to_host(program(place(run_seeds[part], mesh, runs),
                                        jax.tree.map(lambda h: place(h[part], mesh, runs),
                                                     hyper), *data))
            if plan.calls == 1:
                out = call_out
                break
            if out is None:  # one host buffer for all calls, filled call by call
                out = jax.tree.map(lambda a: np.empty((plan.padded_runs,) + a.shape[1:],
                                                      a.dtype), call_out)
            jax.tree.map(lambda full, a: full.__setitem__(part, a), out, call_out)
    return [collect_result(out, slice(k * n_seeds, (k + 1) * n_seeds), configs[i], seeds)
            for k, i in enumerate(group)]


def run_sweep(
    configs: TrainConfig | Sequence[TrainConfig],
    X,
    y,
    seeds: Sequence[int] | int,
    *,
    devices=None,
    seed_chunk: int | None = None,
    max_bytes: float = DEFAULT_MAX_BYTES,
    on_divergence: str = "raise",
) -> SweepResult:
    """Train every config with every seed: one compiled program per shape group, sharded.

    Args:
        configs: a :class:`~toylab.train.TrainConfig` or a sequence (e.g. from :func:`grid`).
        X: inputs ``(n, d)`` shared by all runs, ``(S, n, d)`` one data set per seed (shared
            by every config: seed ``j`` of every config trains on ``X[j]``) or ``(C, S, n, d)``
            one per config and seed (config ``i`` with seed ``j`` trains on ``X[i, j]``).
        y: integer labels ``(n,)`` / ``(S, n)`` / ``(C, S, n)`` matching ``X`` (or float
            targets with a trailing output axis for ``mse``).
        seeds: init seeds, or an int ``S`` for seeds ``0..S-1``; every config gets all of them.
        devices: see :func:`resolve_devices` (default: all devices).
        seed_chunk: runs trained at once on a device; ``None`` sizes the chunks to the cache
            (:func:`toylab.train.default_seed_chunk` of each group's runs). Results are
            bit-identical for any number of devices as long as it is kept.
        max_bytes: limit for each group's estimated peak memory (:func:`plan_memory`); a group
            above it runs in several calls, logged as a warning.
        on_divergence: ``"raise"`` (:class:`~toylab.train.TrainingDiverged` naming config,
            seed and step) or ``"report"`` (see :meth:`SweepResult.diverged`).
    Returns:
        :class:`SweepResult`.
    """
    configs = _check_configs(configs)
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu":
        raise ValueError(f"seeds={seeds!r} must be a positive count or a non-empty list of ints")
    if on_divergence not in ("raise", "report"):
        raise ValueError(f"on_divergence={on_divergence!r}; choose 'raise' or 'report'")
    devices = resolve_devices(devices)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"X has shape {X.shape}; a sweep takes (n, d) shared by all runs, (S, n, d) one data "
            "set per seed or (C, S, n, d) one per config and seed")
    if X.ndim == 4 and X.shape[0] != len(configs):
        raise ValueError(f"X has shape {X.shape}: {X.shape[0]} data sets per seed but "
                         f"{len(configs)} configs; the leading axis of a 4-d X is the config")
    groups = shape_groups(configs)
    for spec, group in groups.items():
        for i in group if X.ndim == 4 else group[:1]:
            try:
                _check_data(*((X[i], y[i]) if X.ndim == 4 else (X, y)), len(seeds), configs[i])
            except ValueError as err:
                raise ValueError(f"configs[{i}] (widths={spec.widths}): {err}") from None

    results: list[TrainResult | None] = [None] * len(configs)
    reports = []
    for spec, group in groups.items():
        n_runs = len(group) * len(seeds)
        n_points = X.shape[-2]
        chunk = default_seed_chunk(spec, n_points, n_runs) if seed_chunk is None else seed_chunk
        plan = plan_memory(spec, n_points, n_runs, seed_chunk=chunk, devices=len(devices),
                           max_bytes=max_bytes, per_run_data=X.ndim > 2)
        if plan.calls > 1:
            log.warning(
                "sweep: %d runs of widths=%s would need ~%.3g GiB in one call, more than "
                "max_bytes=%.3g GiB; running them in %d calls of %d runs (~%.3g GiB)",
                plan.runs, spec.widths, plan.single_call_estimate / 2**30,
                plan.max_bytes / 2**30, plan.calls, plan.runs_per_call, plan.estimate / 2**30)
        for i, result in zip(group, _run_group(spec, group, configs, seeds, X, y, devices, plan)):
            results[i] = result
        reports.append(GroupReport(spec, tuple(group), plan))
    sweep = SweepResult(tuple(configs), tuple(results), seeds, tuple(reports), len(devices),
                        any(r.plan.calls > 1 for r in reports))
    if on_divergence == "raise":
        for i, (config, result) in enumerate(zip(configs, results)):
            try:
                check_divergence(result, config, "raise")
            except TrainingDiverged as err:
                raise TrainingDiverged(f"configs[{i}]: {err}") from None
    return sweep
