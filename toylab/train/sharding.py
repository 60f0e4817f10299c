"""Devices and sharding: the compiled, sharded training program and its input layout.

Runs are split over devices with ``jax.shard_map`` on a one-axis :class:`jax.sharding.Mesh`
(axis :data:`AXIS`); each device trains its share in sequential chunks
(:func:`toylab.train.kernel.train_runs`). Multi-host: after ``jax.distributed.initialize`` the
mesh can span every process's devices; each process feeds its own shards (:func:`place`) and
receives all results (:func:`to_host`).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache, partial
from typing import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from toylab.train.config import TrainSpec
from toylab.train.kernel import train_runs

Array = jax.Array

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
                f"pass devices <= {len(available)} or None for all. On CPU, call "
                "toylab.use_cpu_cores() before any JAX computation for one device per core, "
                f"or set jax.config.update('jax_num_cpu_devices', {max(devices, 1)}) first"
            )
        chosen = tuple(available[: int(devices)])
    else:
        try:
            chosen = tuple(devices)
        except TypeError:  # not a sequence (a float, say)
            chosen = ()
        unknown = [d for d in chosen if d not in available]
        if not chosen or unknown:
            raise ValueError(
                f"devices={devices!r} must be None, a positive int or a non-empty sequence of "
                f"{'jax.local_devices()' if local else 'jax.devices()'} ({available}); "
                f"unknown: {unknown}"
            )
    if not local and jax.process_count() > 1 and len(chosen) != len(available):
        raise ValueError(
            f"devices={devices!r} selects {len(chosen)} of {len(available)} devices; in a "
            "multi-process run every process must take part, so pass devices=None"
        )
    return chosen


_PROGRESS: list[list] = []  # [bar, base position] of the runs in flight


@contextlib.contextmanager
def reporting_progress(bar):
    """While active, progress callbacks of programs built with ``show_progress=True`` move
    ``bar``; yields ``[bar, base]``: set ``base`` to the bar position where the next call
    starts (its positions count from there)."""
    entry = [bar, 0]
    _PROGRESS.append(entry)
    try:
        yield entry
    finally:
        _PROGRESS.pop()


def tick_progress(position) -> None:
    """Host callback of the compiled loop: this device has finished ``position`` snapshot
    intervals of the current call (added to the call's base position on the bar)."""
    if _PROGRESS:
        bar, base = _PROGRESS[-1]
        bar.update(max(0, base + int(position) - bar.n))


def sharded_program(spec: TrainSpec, chunk: int, devices: tuple, *, per_seed_data: bool = False,
                    show_progress: bool = False, resume: bool = False) -> tuple[Callable, Mesh]:
    """The jitted :func:`~toylab.train.kernel.train_runs` with its runs split over
    ``devices`` (``jax.shard_map`` on a one-axis mesh; each device trains its share in chunks
    of ``chunk``), and the mesh.

    The program takes ``(seeds, hyper, X, y)`` laid out by :func:`place`: runs sharded along
    :data:`AXIS`, the data replicated (or sharded too with ``per_seed_data``); with ``resume``
    also the ``start`` state of the runs (sharded with them), and it returns their final state
    (a segment: :func:`toylab.train.train_segment`). Programs are cached per argument values
    (``sharded_program.cache_info()``), however they are passed.
    """
    return _build_program(spec, int(chunk), tuple(devices), bool(per_seed_data),
                          bool(show_progress), bool(resume))


@lru_cache(maxsize=None)
def _build_program(spec: TrainSpec, chunk: int, devices: tuple, per_seed_data: bool,
                   show_progress: bool, resume: bool) -> tuple[Callable, Mesh]:
    mesh = Mesh(np.array(devices), (AXIS,))
    runs, shared = PartitionSpec(AXIS), PartitionSpec()
    data = runs if per_seed_data else shared
    body = partial(train_runs, spec=spec, chunk=chunk, per_seed_data=per_seed_data,
                   tick=tick_progress if show_progress else None)
    # check_vma=False: runs never communicate; parts of the init (zero biases) are
    # device-invariant while the trained carry varies, which the checker would reject.
    program = jax.shard_map(body, mesh=mesh,
                            in_specs=(runs, runs, data, data) + ((runs,) if resume else ()),
                            out_specs=runs, check_vma=False)
    return jax.jit(program), mesh


sharded_program.cache_info = _build_program.cache_info


def place(array: np.ndarray, mesh: Mesh, spec: PartitionSpec) -> Array:
    """A global array laid out by ``spec``; each process supplies its addressable shards."""
    sharding = NamedSharding(mesh, spec)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def to_host(tree):
    """All shards of every output, as NumPy arrays (gathered from every process when the mesh
    spans several)."""
    if all(a.is_fully_addressable for a in jax.tree.leaves(tree)):
        return jax.tree.map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
