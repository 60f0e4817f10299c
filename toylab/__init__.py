"""toylab: a toy-model theory laboratory.

Tiny JAX networks trained on analytic low-dimensional distributions, with every neuron's
response function computed exactly. See DESIGN.md for the architecture.
"""

import os

# Tiny networks mean tiny matrices, where threaded BLAS only adds synchronisation cost
# (10-100x slower on busy cores). Applies when toylab is imported before NumPy; set
# OPENBLAS_NUM_THREADS yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _one_cpu_device_per_core() -> None:
    """Expose each CPU core as its own JAX device, so that ensembles and sweeps split their
    runs over the cores (XLA CPU barely parallelises the tiny products of one program; on 2
    cores two devices train 256 seeds ~1.5x faster, benchmarks/train_ensemble.py). Programs
    that do not shard still run on device 0 as before. Skipped if you chose a device count
    (``XLA_FLAGS=--xla_force_host_platform_device_count=N`` or
    ``jax.config.update("jax_num_cpu_devices", N)``) or used JAX before importing toylab."""
    import jax

    if jax.config.jax_num_cpu_devices != -1 or \
            "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        jax.config.update("jax_num_cpu_devices", max(1, cores or 1))
    except RuntimeError:  # JAX's backends are already initialised; keep the caller's setup
        pass


_one_cpu_device_per_core()

from toylab.data import DISTRIBUTIONS, BayesError, GaussianMixture, Sample, make
from toylab.models import ACTIVATIONS, MLP, activations, apply, flatten, param_index, unflatten
from toylab.train import TrainConfig, TrainResult, train_ensemble

__all__ = [
    "ACTIVATIONS", "DISTRIBUTIONS", "MLP", "BayesError", "GaussianMixture", "Sample",
    "TrainConfig", "TrainResult", "activations", "apply", "flatten", "make", "param_index",
    "train_ensemble", "unflatten",
]
__version__ = "0.1.0"
