"""toylab.sweep: shape groups, traced hyperparameters, sharding, memory chunking, bad input.

Compilation dominates the cost here, so the tests share programs: the runs of one config and
of a two-config sweep split into two calls have the same per-call shape, hence one compiled
program. The two-device run happens in a subprocess started at the beginning of the module.
"""

import dataclasses
import logging
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from toylab import data
from toylab.sweep import (
    DEFAULT_MAX_BYTES,
    grid,
    plan_memory,
    run_bytes,
    run_sweep,
    shape_groups,
)
from toylab.train import (
    TrainConfig,
    TrainingDiverged,
    resolve_devices,
    sharded_program,
    train_ensemble,
)

BASE = TrainConfig(widths=(2, 6, 3), steps=30, snapshot_every=10, optimizer="sgd",
                   learning_rate=0.05)
FAST = dataclasses.replace(BASE, learning_rate=0.2)
SEEDS = np.arange(8)
CHUNK = 4

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from toylab import data
    from toylab.sweep import run_sweep
    from toylab.train import TrainConfig
    configs = [TrainConfig(widths=(2, 6, 3), steps=30, snapshot_every=10, optimizer="sgd",
                           learning_rate=lr) for lr in (0.05, 0.2)]
    sample = data.blobs(3).sample(0, 96)
    sweep = run_sweep(configs, sample.X, sample.y, 8, devices=2, seed_chunk=4)
    arrays = {f"{i}_{name}": a for i, r in enumerate(sweep.results)
              for name, a in (("W0", r.layers[0][0]), ("snap_b1", r.snapshots[1][1]),
                              ("loss", r.loss), ("final_loss", r.final_loss))}
    np.savez(sys.argv[1], devices=sweep.devices, **arrays)
    """
)


@pytest.fixture(scope="module")
def two_device_run(tmp_path_factory):
    """Start the two-device sweep in a subprocess now; the fixture's value waits for it."""
    out = tmp_path_factory.mktemp("sweep") / "two_devices.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, out


@pytest.fixture(scope="module")
def sample():
    s = data.blobs(3).sample(0, 96)
    return s.X, s.y


@pytest.fixture(scope="module")
def one_config(sample):
    """One config x 8 seeds on one device: 8 runs in one call."""
    return run_sweep(BASE, *sample, SEEDS, devices=1, seed_chunk=CHUNK)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def split_sweep(sample, one_config):
    """Two configs x 8 seeds = 16 runs with a memory limit that forces 2 calls of 8 runs;
    returns the result and the warnings logged (by the program runner, toylab.train)."""
    plan = plan_memory(BASE.spec, len(sample[0]), 16, seed_chunk=CHUNK, devices=1)
    records, logger = _Records(), logging.getLogger("toylab.train")
    logger.addHandler(records)
    try:
        result = run_sweep([BASE, FAST], *sample, SEEDS, devices=1, seed_chunk=CHUNK,
                           max_bytes=plan.single_call_estimate - 1)
    finally:
        logger.removeHandler(records)
    return result, records.messages


def _assert_same(a, b):
    for (W, bias), (W2, bias2) in zip(a.snapshots, b.snapshots):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(bias, bias2)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.final_accuracy, b.final_accuracy)


def test_grid_is_the_cartesian_product_and_groups_by_shape():
    configs = grid(BASE, learning_rate=[1e-3, 1e-2], widths=[(2, 4, 3), (2, 8, 3)])
    assert [(c.learning_rate, c.widths) for c in configs] == [
        (1e-3, (2, 4, 3)), (1e-3, (2, 8, 3)), (1e-2, (2, 4, 3)), (1e-2, (2, 8, 3))]
    assert list(shape_groups(configs).values()) == [[0, 2], [1, 3]]


def test_a_sweep_trains_and_reports_its_plan(one_config):
    result = one_config.result(BASE)
    assert result.loss.shape == (8, BASE.steps)
    assert np.all(result.final_loss < result.loss[:, 0])
    (group,) = one_config.groups
    assert group.plan.calls == 1 and group.plan.seed_chunk == CHUNK
    assert not one_config.memory_chunked and one_config.devices == 1


def test_memory_limit_splits_into_calls_with_identical_results(one_config, split_sweep):
    """Chunking for memory changes neither a run's result nor the number of compilations:
    both sweeps (different learning rates, one split in two calls) use one program."""
    split, messages = split_sweep
    (group,) = split.groups
    assert split.memory_chunked and group.plan.calls == 2
    assert group.plan.runs_per_call == 8 and group.plan.estimate <= group.plan.max_bytes
    _assert_same(split.results[0], one_config.results[0])
    program, _ = sharded_program(BASE.spec, CHUNK, resolve_devices(1))
    assert program._cache_size() == 1
    fast, slow = split.results[1], split.results[0]
    assert np.mean(fast.final_loss) < np.mean(slow.final_loss)  # the traced lr took effect
    (message,) = messages
    assert "2 calls of 8 runs" in message and "max_bytes" in message


@pytest.mark.slow
def test_two_devices_are_bit_identical_to_one(two_device_run, split_sweep):
    """Sharded over 2 XLA host devices (subprocess) vs one device, split in 2 calls."""
    proc, path = two_device_run
    split, _ = split_sweep
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    got = np.load(path)
    assert int(got["devices"]) == 2
    for i, r in enumerate(split.results):
        np.testing.assert_array_equal(got[f"{i}_W0"], r.layers[0][0])
        np.testing.assert_array_equal(got[f"{i}_snap_b1"], r.snapshots[1][1])
        np.testing.assert_array_equal(got[f"{i}_loss"], r.loss)
        np.testing.assert_array_equal(got[f"{i}_final_loss"], r.final_loss)


def test_memory_estimate_of_the_documented_case_fits_4_gib():
    """4,096 seeds of a 2-16-16-3 MLP, 512 points, 1000 steps, snapshots every 100."""
    config = TrainConfig(widths=(2, 16, 16, 3), steps=1000, snapshot_every=100)
    plan = plan_memory(config.spec, 512, 4096, seed_chunk=64, devices=1)
    assert plan.calls == 1 and plan.estimate < DEFAULT_MAX_BYTES
    out, _ = run_bytes(config.spec, 512)
    assert out == 4 * (371 * 12 + 2 * 1000 + 2)  # 11 snapshots + final, 2 curves, 2 finals


def test_plan_balances_calls_and_pads_to_whole_chunks():
    plan = plan_memory(BASE.spec, 96, 10, seed_chunk=4, devices=2)
    assert plan.seed_chunk == 4 and plan.padded_runs == 16 and plan.calls == 1
    small = plan_memory(BASE.spec, 96, 3, seed_chunk=64, devices=1)
    assert small.seed_chunk == 64 and small.padded_runs == 64  # a fixed chunk is kept
    tight = plan_memory(BASE.spec, 96, 64, seed_chunk=4, devices=1,
                        max_bytes=plan_memory(BASE.spec, 96, 64, seed_chunk=4,
                                              devices=1).single_call_estimate * 0.6)
    assert tight.calls > 1 and tight.padded_runs == tight.calls * tight.runs_per_call
    assert tight.padded_runs - 64 < tight.calls * 4  # at most one partial chunk per call
    per_run = plan_memory(BASE.spec, 96, 10, seed_chunk=4, devices=2, data_sets=10)
    # the 10 sets on the host, plus one call's (16 padded runs) gathered and on the device
    assert per_run.estimate - plan.estimate == (10 + 2 * 16 - 1) * plan.data_bytes


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(devices=jax.device_count() + 1), "devices="),
        (dict(devices=0), "devices="),
        (dict(seed_chunk=0), "seed_chunk"),
        (dict(max_bytes=1000), "max_bytes"),
        (dict(on_divergence="ignore"), "on_divergence"),
    ],
)
def test_bad_sweep_arguments_name_the_fix(sample, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(BASE, *sample, SEEDS, **kwargs)


def test_conflicting_shapes_are_reported(sample):
    X, y = sample
    with pytest.raises(ValueError, match=r"configs\[1\].*features"):
        run_sweep([BASE, TrainConfig(widths=(3, 4, 3))], X, y, 2)
    with pytest.raises(ValueError, match=r"configs\[0\].*labels"):
        run_sweep(TrainConfig(widths=(2, 4, 2)), X, y, 2)
    with pytest.raises(ValueError, match="snapshot_every"):
        grid(BASE, steps=[30, 25])
    with pytest.raises(ValueError, match="not a TrainConfig field"):
        grid(BASE, width=[(2, 3)])
    with pytest.raises(ValueError, match=r"activation=\['relu'\]"):
        grid(BASE, activation="relu")
    with pytest.raises(TypeError, match=r"configs\[0\]"):
        run_sweep([{"widths": (2, 4, 3)}], X, y, 2)
    with pytest.raises(ValueError, match=r"2 data sets but seeds has 3"):
        run_sweep(BASE, np.stack([X, X]), np.stack([y, y]), 3)
    with pytest.raises(ValueError, match=r"leading axis of a 4-d X \(and of y\) is the config"):
        run_sweep([BASE, FAST], X[None, None], y[None, None], 1)
    with pytest.raises(ValueError, match=r"\(C, S, n, d\)"):
        run_sweep(BASE, X[None, None, None], y[None, None, None], 1)


def test_divergence_names_config_seed_and_step(sample, one_config):
    """A huge step overflows float32; same program as ``one_config`` (traced lr)."""
    config = dataclasses.replace(BASE, learning_rate=1e30)
    with pytest.raises(TrainingDiverged, match=r"configs\[1\].*seed 0 has a non-finite loss"):
        run_sweep([BASE, config], *sample, SEEDS[:4], devices=1, seed_chunk=CHUNK)
    report = run_sweep([BASE, config], *sample, SEEDS[:4], devices=1, seed_chunk=CHUNK,
                       on_divergence="report")
    assert {(i, seed) for i, seed, _ in report.diverged()} == {(1, s) for s in range(4)}


MULTI_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    import numpy as np
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
    from toylab import data
    from toylab.sweep import run_sweep
    from toylab.train import TrainConfig
    configs = [TrainConfig(widths=(2, 6, 3), steps=30, snapshot_every=10, optimizer="sgd",
                           learning_rate=lr) for lr in (0.05, 0.2)]
    sample = data.blobs(3).sample(0, 96)
    sweep = run_sweep(configs, sample.X, sample.y, 8, seed_chunk=4)
    assert sweep.devices == 2 and jax.process_count() == 2
    np.savez(sys.argv[3], *[r.loss for r in sweep.results],
             *[r.snapshots[0][0] for r in sweep.results])
    """
)


@pytest.mark.slow
def test_two_processes_with_jax_distributed_match_one_device(sample, split_sweep, tmp_path):
    """The multi-host path (jax.distributed.initialize, one CPU device per process, gloo
    collectives) gives every process all results, bit-identical to one device."""
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        address = f"localhost:{s.getsockname()[1]}"
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")
    procs = [subprocess.Popen([sys.executable, "-c", MULTI_PROCESS_SCRIPT, address, str(i),
                               str(tmp_path / f"p{i}.npz")], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for i in range(2)]
    for proc in procs:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output
    split, _ = split_sweep
    want = [r.loss for r in split.results] + [r.snapshots[0][0] for r in split.results]
    for i in range(2):
        got = np.load(tmp_path / f"p{i}.npz")
        for k, w in enumerate(want):
            np.testing.assert_array_equal(got[f"arr_{k}"], w)


@pytest.fixture(scope="module")
def per_run_data():
    """Four data sets per config for two configs: ``X (2, 4, 64, 2)``, ``y (2, 4, 64)``."""
    dist = data.blobs(3)
    samples = [[dist.sample(10 * c + s, 64) for s in range(4)] for c in range(2)]
    return (np.stack([[s.X for s in row] for row in samples]),
            np.stack([[s.y for s in row] for row in samples]))


def test_per_config_and_seed_data_equals_train_ensemble_on_the_same_data(per_run_data):
    """``X (C, S, n, d)``: config ``i`` with seed ``j`` trains on ``X[i, j]``, bit-identical to
    ``train_ensemble`` of that config on the per-seed data ``X[i]`` (same chunk width); two
    equal configs with different data get different networks."""
    X, y = per_run_data
    sweep = run_sweep([BASE, BASE], X, y, 4, devices=1, seed_chunk=CHUNK)
    for i in range(2):
        alone = train_ensemble(X[i], y[i], 4, config=BASE, devices=1, seed_chunk=CHUNK)
        _assert_same(sweep.results[i], alone)
    assert not np.array_equal(sweep.results[0].layers[0][0], sweep.results[1].layers[0][0])
    np.testing.assert_array_equal(sweep.results[0].snapshots[0][0][:, 0],  # same init
                                  sweep.results[1].snapshots[0][0][:, 0])


def test_per_seed_data_is_shared_by_every_config(per_run_data):
    """``X (S, n, d)``: seed ``j`` of every config trains on ``X[j]``, exactly as if each
    config had been given the same per-seed data in a ``(C, S, n, d)`` stack."""
    X, y = per_run_data
    per_seed = run_sweep([BASE, FAST], X[0], y[0], 4, devices=1, seed_chunk=CHUNK)
    stacked = run_sweep([BASE, FAST], np.stack([X[0]] * 2), np.stack([y[0]] * 2), 4, devices=1,
                        seed_chunk=CHUNK)
    for a, b in zip(per_seed.results, stacked.results):
        _assert_same(a, b)
