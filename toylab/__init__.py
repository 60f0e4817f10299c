"""toylab: a toy-model theory laboratory.

Tiny JAX networks trained on analytic low-dimensional distributions, with every neuron's
response function computed exactly. See DESIGN.md and docs/architecture.md.

Importing toylab changes no global state: neither JAX's configuration nor BLAS threading nor
matplotlib's backend or rcParams. Programs that want toylab's CPU setup (the CLI, the
benchmarks, the test suite) call :func:`use_cpu_cores` first.
"""

import os
import re

from toylab.data import DISTRIBUTIONS, BayesError, GaussianMixture, Sample, make
from toylab.models import (
    ACTIVATIONS,
    MLP,
    activations,
    apply,
    flatten,
    layers_from,
    param_index,
    unflatten,
)
from toylab.train import TrainConfig, TrainResult, train_ensemble

_XLA_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def use_cpu_cores(n: int | None = None) -> int:
    """Set up a CPU process the way toylab runs best: ``n`` JAX CPU devices, one-thread BLAS.

    - **One JAX CPU device per core.** Ensembles and sweeps split their runs over all JAX
      devices (:func:`toylab.train.train_ensemble`); XLA barely parallelises the tiny products
      of one program, so on 2 cores two devices train 256 seeds ~1.5-3x faster than one
      (benchmarks/README.md, train_ensemble). Programs that do not shard still run on
      device 0. Sets ``jax.config.update("jax_num_cpu_devices", n)`` and, for processes this
      one starts, ``XLA_FLAGS=--xla_force_host_platform_device_count=n``.
    - **Single-threaded BLAS.** Tiny networks mean tiny matrices, where threaded OpenBLAS only
      adds synchronisation cost (10-100x slower on busy cores). Limits the BLAS libraries
      already loaded to one thread (``threadpoolctl``) and sets ``OPENBLAS_NUM_THREADS=1`` for
      those loaded later and for child processes; skipped if you set
      ``OPENBLAS_NUM_THREADS`` yourself. Large dense eigenproblems still use every core
      (:func:`toylab.landscape.curvature.dense_blas`).

    ``import toylab`` does none of this; call it once, right after the imports and before any
    JAX computation (``toylab run``, ``python -m benchmarks`` and the test suite's conftest
    do). Calling it again with the count in effect is a no-op.

    Args:
        n: JAX CPU devices. ``None``: keep a count you already chose
            (``jax.config.update("jax_num_cpu_devices", N)`` or
            ``XLA_FLAGS=--xla_force_host_platform_device_count=N``), else one per core
            available to this process (:func:`available_cores`).
    Returns:
        the number of JAX CPU devices in effect.
    Raises:
        TypeError, ValueError: ``n`` is not a positive int.
        RuntimeError: JAX already computed something with a different CPU device count (JAX
            fixes the count when its backends start).
    """
    import jax
    from threadpoolctl import threadpool_limits

    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n={n!r} must be an int (JAX CPU devices) or None for one per core")
        if n < 1:
            raise ValueError(f"n={n} must be >= 1 (JAX CPU devices), or None for one per core")
    flags = os.environ.get("XLA_FLAGS", "")
    chosen = re.search(_XLA_DEVICE_FLAG + r"=(\d+)", flags)
    if n is None:
        if jax.config.jax_num_cpu_devices != -1:
            n = int(jax.config.jax_num_cpu_devices)
        else:
            n = int(chosen.group(1)) if chosen else available_cores()
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # backends already started: fine if they have n CPU devices
        have = len(jax.devices("cpu"))
        if have != n:
            raise RuntimeError(
                f"use_cpu_cores(n={n}): JAX already started with {have} CPU device(s), and the "
                "count cannot change afterwards; call toylab.use_cpu_cores() before any JAX "
                f"computation (right after the imports), or pass n={have}"
            ) from None
    others = re.sub(_XLA_DEVICE_FLAG + r"=\d+", "", flags).split()
    os.environ["XLA_FLAGS"] = " ".join(others + [f"{_XLA_DEVICE_FLAG}={n}"])
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        threadpool_limits(limits=1, user_api="blas")
    return n


__all__ = [
    "ACTIVATIONS", "DISTRIBUTIONS", "MLP", "BayesError", "GaussianMixture", "Sample",
    "TrainConfig", "TrainResult", "activations", "apply", "available_cores", "flatten",
    "layers_from", "make", "param_index", "train_ensemble", "unflatten", "use_cpu_cores",
]
__version__ = "0.1.0"
