"""Sweeps: grids of training configs x seeds, one compiled program per shape group, sharded.

A sweep trains every ``(config, seed)`` pair (a *run*). Configs are grouped by their
compile-time part, :attr:`toylab.train.TrainConfig.spec` (widths, activation, optimizer,
steps, bias init, parameterisation, ...); the learning rate, momentum, weight decay, init
scale and bias scale are traced inputs, so all runs of a group -- whatever their
hyperparameters and whatever their data -- go through **one** compiled program. Each group
is trained by the program runner that :func:`toylab.train.train_ensemble` uses too
(:func:`toylab.train.run_runs`): its runs split over devices with ``jax.shard_map`` on a
one-axis :class:`jax.sharding.Mesh`, on each device as sequential chunks of a fixed number of
runs, batched together (:func:`toylab.train.train_runs`).

Data. ``X`` is one set shared by all runs ``(n, d)``, one per seed ``(S, n, d)`` (shared by
every config) or one per config and seed ``(C, S, n, d)``; per-run sets are sharded with the
runs instead of replicated.

Determinism. The per-device program trains chunks of ``seed_chunk`` runs (by default sized to
the cache and capped at a device's share of the group), so with a fixed ``seed_chunk`` a run's
result does not depend on the memory limit or on the other runs of the group, and is
bit-identical on 1 or 2 devices for ``sgd`` and ``momentum`` (tested in
``tests/test_sweep.py`` with two XLA host devices and in ``tests/test_train.py``; more devices
run the same per-device program as 2). Known exception: with ``adam`` the one-device program
rounds the first update differently by one ulp (float32), so 1-device and N-device Adam runs
differ at rounding level (a strict xfail in ``tests/test_train.py``; cause not found). With
the default chunk, or against :func:`toylab.train.train_ensemble` with another chunk width,
results differ at float rounding level (~1e-6 relative in float32).

Memory. :func:`plan_memory` (from :mod:`toylab.train.memory`) estimates the peak bytes of a
group from shapes alone (results of all runs on the host, one call's results on the device,
the working set of the runs in flight and the data; constants calibrated against XLA's own
buffer accounting). If the estimate exceeds ``max_bytes`` the group runs in several calls of
fewer runs each, logs a warning and records it (:attr:`SweepResult.memory_chunked`,
:attr:`MemoryPlan.calls`).

Multi-host. Start every process with ``jax.distributed.initialize(...)`` before calling
:func:`run_sweep`; the mesh then spans all processes' devices, each process feeds its own
shards and every process receives all results. See ``docs/sweeps.md`` for the commands.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from toylab.train import (
    DEFAULT_MAX_BYTES,
    DTYPES,
    MemoryPlan,
    TrainConfig,
    TrainResult,
    TrainSpec,
    TrainingDiverged,
    check_data,
    check_divergence,
    check_on_divergence,
    check_seeds,
    collect_result,
    diverged_seeds,
    hyper_arrays,
    plan_memory,
    resolve_devices,
    run_bytes,
    run_runs,
)

__all__ = [
    "DEFAULT_MAX_BYTES", "GroupReport", "MemoryPlan", "SweepResult", "grid", "plan_memory",
    "run_bytes", "run_sweep", "shape_groups",
]

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
    progress: bool = False,
) -> SweepResult:
    """Train every config with every seed: one compiled program per shape group, sharded.

    Args:
        configs: a :class:`~toylab.train.TrainConfig` or a sequence (e.g. from :func:`grid`).
        X: inputs ``(n, d)`` shared by all runs, ``(S, n, d)`` one data set per seed (shared
            by every config: seed ``j`` of every config trains on ``X[j]``) or ``(C, S, n, d)``
            one per config and seed (config ``i`` with seed ``j`` trains on ``X[i, j]``).
        y: integer labels ``(n,)`` / ``(S, n)`` / ``(C, S, n)`` matching ``X`` (or float
            targets with a trailing output axis for ``mse``).
        seeds: distinct init seeds in ``[0, 2**32)``, or an int ``S`` for seeds ``0..S-1``
            (:func:`toylab.train.check_seeds`); every config gets all of them.
        devices: see :func:`toylab.train.resolve_devices` (default: all devices).
        seed_chunk: runs trained at once on a device; ``None`` sizes the chunks to the cache
            (:func:`toylab.train.default_seed_chunk` of a device's share of each group's
            runs). Results are bit-identical for any number of devices as long as it is kept.
        max_bytes: limit for each group's estimated peak memory (:func:`plan_memory`); a group
            above it runs in several calls, logged as a warning on the ``toylab.train``
            logger.
        on_divergence: ``"raise"`` (:class:`~toylab.train.TrainingDiverged` naming config,
            seed and step) or ``"report"`` (see :meth:`SweepResult.diverged`).
        progress: show a progress bar per shape group.
    Returns:
        :class:`SweepResult`.
    """
    configs = _check_configs(configs)
    seeds = check_seeds(seeds)
    check_on_divergence(on_divergence)
    devices = resolve_devices(devices)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"X has shape {X.shape}; a sweep takes (n, d) shared by all runs, (S, n, d) one data "
            "set per seed or (C, S, n, d) one per config and seed")
    if X.ndim == 4 and (X.shape[0] != len(configs) or y.shape[:1] != X.shape[:1]):
        raise ValueError(f"X has shape {X.shape} and y {y.shape} but there are {len(configs)} "
                         "configs; the leading axis of a 4-d X (and of y) is the config")
    groups = shape_groups(configs)
    checked = {}  # config index -> (X, y) as check_data returns them
    for spec, group in groups.items():
        for i in group if X.ndim == 4 else group[:1]:
            try:
                checked[i] = check_data(*((X[i], y[i]) if X.ndim == 4 else (X, y)), configs[i],
                                        len(seeds))[:2]
            except (TypeError, ValueError) as err:
                raise type(err)(f"configs[{i}] (widths={spec.widths}): {err}") from None

    results: list[TrainResult | None] = [None] * len(configs)
    reports = []
    for spec, group in groups.items():
        Xg, yg, index = _group_data(X, y, checked, group, len(seeds))
        hyper = hyper_arrays([configs[i].hyper for i in group for _ in seeds], DTYPES[spec.dtype])
        out, plan = run_runs(spec, np.tile(seeds, len(group)), hyper, Xg, yg, data_index=index,
                             devices=devices, seed_chunk=seed_chunk, max_bytes=max_bytes,
                             progress=progress,
                             desc=f"sweep: {len(group)} configs x {len(seeds)} seeds")
        for k, i in enumerate(group):
            part = slice(k * len(seeds), (k + 1) * len(seeds))
            results[i] = collect_result(out, part, configs[i], seeds)
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


def _group_data(X: np.ndarray, y: np.ndarray, checked: dict, group: list[int],
                n_seeds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(X, y, data_index)`` of a group's runs for :func:`toylab.train.run_runs`: run
    ``k * S + j`` is config ``group[k]`` with seed ``j``. Shared data stays one set
    (``data_index=None``); per-seed sets are indexed by seed; per-config-and-seed sets are
    viewed as ``C * S`` sets without copying."""
    Xc, yc = checked[group[0]]
    if X.ndim == 2:
        return Xc, yc, None
    if X.ndim == 3:
        return Xc, yc, np.tile(np.arange(n_seeds), len(group))
    y = y[..., None] if yc.ndim > y.ndim - 1 else y  # float targets given without output axis
    index = (np.asarray(group)[:, None] * n_seeds + np.arange(n_seeds)).ravel()
    return X.reshape((-1,) + X.shape[2:]), y.reshape((-1,) + y.shape[2:]), index
