"""Memory and chunk sizing of a group of runs, from shapes alone.

:func:`default_seed_chunk` sizes the chunk of runs trained at once on a device to the cache;
:func:`plan_memory` estimates the peak bytes of a group of runs (results of all runs on the
host, one call's results on the device, the working set of the runs in flight and the data;
constants calibrated against XLA's own buffer accounting) and splits the group into the fewest
calls that stay within a limit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from toylab.models import n_params
from toylab.train.config import DTYPES, TrainSpec
from toylab.units import format_bytes

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

DEFAULT_MAX_BYTES = 4 * 2**30
"""Default limit for a group's estimated peak memory (4 GiB)."""


def working_bytes(spec: TrainSpec, n_points: int) -> int:
    """Estimated live bytes of one run while it trains on ``n_points`` (all points are
    evaluated every step for the curves, also with minibatches)."""
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    return itemsize * (WORK_PER_ACTIVATION * n_points * sum(spec.widths[1:])
                       + WORK_PER_PARAMETER * n_params(spec.widths))


def default_seed_chunk(spec: TrainSpec, n_points: int, runs: int) -> int:
    """The largest power of two of runs whose working set fits in :data:`CACHE_BYTES` (at
    least 1), capped at ``runs`` (a device's share of the runs)."""
    fits = max(1, CACHE_BYTES // working_bytes(spec, n_points))
    return max(1, min(int(runs), 1 << (fits.bit_length() - 1)))


def check_seed_chunk(seed_chunk) -> int:
    """Validate a chunk width (runs trained at once on a device)."""
    if isinstance(seed_chunk, bool) or not isinstance(seed_chunk, (int, np.integer)) \
            or seed_chunk < 1:
        raise ValueError(f"seed_chunk={seed_chunk!r} must be a positive int, e.g. 64")
    return int(seed_chunk)


def check_max_bytes(max_bytes) -> float:
    """Validate a memory limit: a finite positive number of bytes (NaN would disable the
    guard, every comparison with it being false)."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float, np.integer,
                                                                 np.floating)):
        raise TypeError(f"max_bytes={max_bytes!r} must be a number of bytes, e.g. "
                        f"max_bytes={DEFAULT_MAX_BYTES} (4 GiB)")
    if not (math.isfinite(max_bytes) and max_bytes > 0):
        raise ValueError(f"max_bytes={max_bytes!r} must be a finite positive number of bytes, "
                         f"e.g. max_bytes={DEFAULT_MAX_BYTES} (4 GiB)")
    return float(max_bytes)


class MemoryPlan(NamedTuple):
    """How a group of runs is run, and its estimated peak memory.

    Attributes:
        runs: runs of the group (configs x seeds), before padding.
        padded_runs: runs actually trained (``calls * runs_per_call``; the padding repeats
            run 0 and is dropped).
        runs_per_call: runs per compiled call, a multiple of ``seed_chunk * devices``.
        calls: number of calls (``> 1`` means memory forced the group to be split).
        seed_chunk: runs trained at once on each device.
        output_bytes_per_run: results of one run (snapshots, curves, finals).
        working_bytes_per_run: live buffers of one run while it trains.
        data_bytes: ``X`` and ``y`` of one data set.
        data_sets: data sets held on the host (1 when all runs share one).
        estimate: peak bytes of this plan = host results of all runs + twice one call's results
            (device buffer and its transfer) + working set of the ``seed_chunk * devices``
            runs in flight + data (the shared set; or the host's sets plus one call's sets
            gathered on the host and placed on the device).
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
    data_sets: int
    estimate: int
    single_call_estimate: int
    max_bytes: int


def run_bytes(spec: TrainSpec, n_points: int) -> tuple[int, int]:
    """``(output_bytes, working_bytes)`` of one run, from shapes.

    Outputs: ``P`` parameters at ``steps / snapshot_every + 1`` snapshots plus the final ones,
    loss and accuracy curves of ``steps`` entries, final loss and accuracy. Working set:
    :func:`working_bytes`.
    """
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    snapshots = spec.steps // spec.snapshot_every + 1
    outputs = itemsize * (n_params(spec.widths) * (snapshots + 1) + 2 * spec.steps + 2)
    return outputs, working_bytes(spec, n_points)


def plan_memory(spec: TrainSpec, n_points: int, n_runs: int, *, seed_chunk: int,
                devices: int, max_bytes: float = DEFAULT_MAX_BYTES,
                data_sets: int | None = None) -> MemoryPlan:
    """The fewest calls for a group that keep its estimated peak within ``max_bytes``.

    Args:
        spec: the group's compile-time config; n_points: training points per data set.
        n_runs: runs of the group (configs x seeds).
        seed_chunk: runs trained at once per device (kept as given, so that a fixed chunk
            width gives the same bits whatever the group's size).
        devices: number of devices the runs are sharded over.
        max_bytes: limit for the estimate (finite, > 0).
        data_sets: ``None`` when all runs share one data set; else the number of data sets
            the runs draw from (each call gathers its runs' sets and places them on the
            devices).
    Returns:
        :class:`MemoryPlan`.
    Raises:
        ValueError: if even one chunk per device does not fit, naming the fixes.
    """
    if isinstance(n_runs, bool) or not isinstance(n_runs, (int, np.integer)) or n_runs < 1:
        raise ValueError(f"n_runs={n_runs!r} must be a positive int")
    max_bytes = check_max_bytes(max_bytes)
    chunk = check_seed_chunk(seed_chunk)
    unit = chunk * devices
    units = -(-n_runs // unit)
    out, work = run_bytes(spec, n_points)
    itemsize = np.dtype(DTYPES[spec.dtype]).itemsize
    data = n_points * (spec.widths[0] * itemsize + 8)  # one data set: X and its labels

    def estimate(calls: int) -> int:
        per_call = -(-units // calls) * unit
        held = 1 if data_sets is None else data_sets + 2 * per_call
        return (calls * per_call + 2 * per_call) * out + unit * work + held * data

    calls = next((k for k in range(1, units + 1) if estimate(k) <= max_bytes), None)
    if calls is None:
        raise ValueError(
            f"max_bytes={format_bytes(max_bytes)} is too small: {n_runs} runs of "
            f"widths={spec.widths} need about {format_bytes(estimate(units))} even one chunk "
            f"per call ({format_bytes(out)} of results per run, {format_bytes(work)} per run "
            "in flight); raise max_bytes, or use fewer seeds or configs, a larger "
            "snapshot_every, or a smaller seed_chunk"
        )
    per_call = -(-units // calls) * unit
    return MemoryPlan(
        runs=int(n_runs), padded_runs=calls * per_call, runs_per_call=per_call, calls=calls,
        seed_chunk=chunk, output_bytes_per_run=out, working_bytes_per_run=work,
        data_bytes=data, data_sets=1 if data_sets is None else int(data_sets),
        estimate=estimate(calls), single_call_estimate=estimate(1), max_bytes=int(max_bytes),
    )
