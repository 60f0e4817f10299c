"""Training ensembles of tiny networks in one compiled call.

``train_ensemble`` trains S networks that differ in their initialisation seed (and, if the
data has a leading seed axis, in their data) in one jit-compiled program: ``lax.scan`` over
steps, the seeds batched together (an explicit seed axis in every product,
:func:`seed_batched_apply`; initialisation and optimizer updates are ``jax.vmap``-ed per seed)
and split over devices with ``jax.shard_map``. It records loss/accuracy curves at every step
and parameter snapshots every ``snapshot_every`` steps (the trajectory later analyses need).

A seed's run depends only on its seed, hyperparameters and data. Bit for bit, it also depends
on the width of the chunk of seeds it is batched with (XLA's batched kernels round differently
for different batch sizes, ~1e-6 relative in float32): pass ``seed_chunk=`` to train seeds in
fixed-width chunks (padded), and seed ``s`` trained alone is then bit-identical to seed ``s``
inside any ensemble (and on 1 or 2 devices for ``sgd``/``momentum``; ``adam`` differs by an ulp
between 1 and 2 devices, see :mod:`toylab.sweep`).

The learning rate, momentum, weight decay, init scale and bias scale are *traced* inputs
(:class:`Hyper`), not compile-time constants: configs that differ only in them share one
compilation (:attr:`TrainConfig.spec` is the compile-time part). :mod:`toylab.sweep` builds on
the same program runner (:func:`run_runs`) to run grids of configs x seeds.

The package, by stage of a run:

- :mod:`toylab.train.config`: lookup tables (:data:`OPTIMIZERS`, :data:`DTYPES`),
  :class:`TrainConfig` (validated on construction), :func:`check_seeds`;
- :mod:`toylab.train.inits`: :data:`INITS` (bias inits), :data:`PARAMETERIZATIONS`
  (standard, mean-field/muP), the init scale;
- :mod:`toylab.train.kernel`: the pure seed-batched training kernel;
- :mod:`toylab.train.sharding`: devices, the compiled sharded program, input layout;
- :mod:`toylab.train.memory`: chunk sizing and the memory plan of a group of runs;
- :mod:`toylab.train.runner`: data checks, :func:`run_runs`, :func:`train_ensemble`, and
  :func:`train_segment` (a run in segments that continue one another exactly, from a
  :class:`TrainState`; the caller can stop between them);
- :mod:`toylab.train.results`: :class:`TrainResult`, :class:`TrainState`,
  :func:`join_segments`, divergence.

The loss table lives in :mod:`toylab.models` (``LOSSES``, re-exported here) so that the
landscape analyses need not import training.
"""

from toylab.models import LOSSES
from toylab.train.config import (
    DTYPES,
    OPTIMIZERS,
    SEED_LIMIT,
    Hyper,
    TrainConfig,
    TrainSpec,
    check_seeds,
)
from toylab.train.inits import INITS, PARAMETERIZATIONS, BiasInit, Parameterization, init_run
from toylab.train.kernel import (
    MAX_UNROLL,
    SMALL_WIDTH,
    init_chunk,
    seed_batched_apply,
    train_runs,
)
from toylab.train.memory import (
    CACHE_BYTES,
    DEFAULT_MAX_BYTES,
    WORK_PER_ACTIVATION,
    WORK_PER_PARAMETER,
    MemoryPlan,
    check_max_bytes,
    check_seed_chunk,
    default_seed_chunk,
    format_bytes,
    plan_memory,
    run_bytes,
    working_bytes,
)
from toylab.train.results import (
    TrainingDiverged,
    TrainResult,
    TrainState,
    check_divergence,
    check_on_divergence,
    collect_result,
    diverged_seeds,
    join_segments,
)
from toylab.train.runner import (
    check_data,
    check_state,
    hyper_arrays,
    init_state,
    pad_runs,
    precision,
    run_runs,
    train_ensemble,
    train_segment,
)
from toylab.train.sharding import AXIS, place, resolve_devices, sharded_program, to_host

__all__ = [
    "AXIS", "CACHE_BYTES", "DEFAULT_MAX_BYTES", "DTYPES", "INITS", "LOSSES", "MAX_UNROLL",
    "OPTIMIZERS", "PARAMETERIZATIONS", "SEED_LIMIT", "SMALL_WIDTH", "WORK_PER_ACTIVATION",
    "WORK_PER_PARAMETER", "BiasInit", "Hyper", "MemoryPlan", "Parameterization",
    "TrainConfig", "TrainResult", "TrainSpec", "TrainState", "TrainingDiverged", "check_data",
    "check_divergence", "check_max_bytes", "check_on_divergence", "check_seed_chunk",
    "check_seeds", "check_state", "collect_result", "default_seed_chunk", "diverged_seeds",
    "format_bytes", "hyper_arrays", "init_chunk", "init_run", "init_state", "join_segments",
    "pad_runs", "place", "plan_memory", "precision", "resolve_devices", "run_bytes",
    "run_runs", "seed_batched_apply", "sharded_program", "to_host", "train_ensemble",
    "train_runs", "train_segment", "working_bytes",
]
