"""Benchmark: training an ensemble of seeds in one compiled call vs a per-seed loop.

256 seeds of a 2-16-16-3 ReLU MLP, 1000 full-batch Adam steps on 512 points of 3 blobs,
float32. Prints the ensemble's wall time (after compilation), its effective GFLOP/s and the
ratio against a plain Python loop over seeds of the same jitted JAX step, measured in the same
process on a subset of seeds and extrapolated to all of them.

``train_ensemble`` splits the seeds over all local JAX devices (``toylab.use_cpu_cores()``,
called first, makes one CPU device per core) and trains each device's share in cache-sized
chunks; the same ensemble on one device is timed alongside for reference.

Effective FLOPs count only the matrix products: 6 * n * sum(in * out) per seed per step
(forward 2 n in out, backward 4 n in out per layer).

The process CPU time of the timed run is printed too: on a shared machine the wall time
includes waiting for a core, the CPU time does not.

The same ensemble (256 seeds, 1,000 Adam steps, 512 points) is timed for every other
architecture the studies train (``STUDY_SHAPES``; ``--no-shapes`` skips them).

Run: ``python benchmarks/train_ensemble.py [--seeds 256] [--loop-seeds 4] [--seed-chunk 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import toylab
from toylab import data, models
from toylab.train import TrainConfig, train_ensemble

WIDTHS = (2, 16, 16, 3)
STUDY_SHAPES = ((2, 4, 2), (2, 8, 3), (2, 12, 2), (2, 16, 2), (2, 8, 8, 2), (2, 8, 8, 3),
                (2, 12, 12, 2), (2, 12, 12, 3))
"""The other architectures the studies train (their default configs), timed the same way."""


def matmul_flops(widths, n: int, steps: int, seeds: int) -> float:
    per_step = 6 * n * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return float(per_step) * steps * seeds


def per_seed_loop(X, y, seeds, config: TrainConfig) -> float:
    """Seconds to train ``seeds`` one at a time with a jitted single step in a Python loop."""
    tx = optax.adam(config.learning_rate)
    loss_fn = models.LOSSES[config.loss]

    @jax.jit
    def step(params, opt_state):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(models.apply(p, X, "relu"), y))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def train_one(seed):
        params = models.init_layers(jax.random.key(seed), config.widths)
        opt_state = tx.init(params)
        for _ in range(config.steps):
            params, opt_state, loss = step(params, opt_state)
        return jax.block_until_ready(loss)

    train_one(0)  # compile
    start = time.perf_counter()
    for seed in seeds:
        train_one(int(seed))
    return time.perf_counter() - start


def best_of(run, repeats: int):
    """``((wall s, process CPU s) of the fastest of ``repeats`` calls, its result)``."""
    times, result = [], None
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = run()
        times.append((time.perf_counter() - start, time.process_time() - cpu_start))
    return min(times), result


def shape_row(widths, seeds: int, steps: int, repeats: int) -> dict:
    """The ensemble of ``seeds`` x ``steps`` Adam steps of one architecture on 512 points of
    as many blobs as it has outputs: wall time after compilation (best of ``repeats``) and
    effective matmul GFLOP/s."""
    sample = data.blobs(widths[-1]).sample(0, 512)
    X, y = sample.X.astype(np.float32), sample.y
    config = TrainConfig(widths=widths, steps=steps, snapshot_every=steps // 10)
    run = lambda: train_ensemble(X, y, seeds, config=config)  # noqa: E731
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    (seconds, _), _ = best_of(run, repeats)
    return {"widths": list(widths), "seconds": seconds, "first_call_seconds": first,
            "effective_gflops": matmul_flops(widths, len(X), steps, seeds) / seconds / 1e9}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=256)
    parser.add_argument("--loop-seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed-chunk", type=int, default=None,
                        help="seeds trained at once per device (default: sized to the cache)")
    parser.add_argument("--no-shapes", action="store_true",
                        help="skip the study architectures (STUDY_SHAPES)")
    args = parser.parse_args(argv)
    toylab.use_cpu_cores()

    sample = data.blobs(3).sample(0, 512)
    X, y = sample.X.astype(np.float32), sample.y
    config = TrainConfig(widths=WIDTHS, steps=args.steps, snapshot_every=args.steps // 10)

    def ensemble(devices=None):
        return train_ensemble(X, y, args.seeds, config=config, seed_chunk=args.seed_chunk,
                              devices=devices)

    start = time.perf_counter()
    ensemble()
    compile_and_run = time.perf_counter() - start
    (ensemble_s, ensemble_cpu_s), ensemble_result = best_of(ensemble, args.repeats)
    ensemble(devices=1)  # compile
    (one_device_s, _), _ = best_of(lambda: ensemble(devices=1), 1)
    flops = matmul_flops(WIDTHS, len(X), args.steps, args.seeds)

    shapes = [] if args.no_shapes else [
        shape_row(widths, args.seeds, args.steps, args.repeats) for widths in STUDY_SHAPES]

    loop_s = per_seed_loop(jnp.asarray(X), jnp.asarray(y), range(args.loop_seeds), config)
    loop_extrapolated = loop_s / args.loop_seeds * args.seeds

    result = {
        "benchmark": "train_ensemble",
        "seeds": args.seeds,
        "steps": args.steps,
        "widths": WIDTHS,
        "points": len(X),
        "seed_chunk": args.seed_chunk,
        "devices": len(jax.local_devices()),
        "ensemble_seconds": ensemble_s,
        "one_device_seconds": one_device_s,
        "median_final_accuracy": float(np.median(ensemble_result.final_accuracy)),
        "ensemble_cpu_seconds": ensemble_cpu_s,
        "load_average_1min": os.getloadavg()[0],
        "first_call_seconds_incl_compile": compile_and_run,
        "effective_gflops": flops / ensemble_s / 1e9,
        "loop_seconds_per_seed": loop_s / args.loop_seeds,
        "loop_seconds_extrapolated": loop_extrapolated,
        "speedup_vs_loop": loop_extrapolated / ensemble_s,
        "target_seconds": 6.0,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "jax": jax.__version__,
        "device_kinds": sorted({str(d.platform) for d in jax.local_devices()}),
        "study_shapes": shapes,
    }
    print(f"ensemble: {args.seeds} seeds x {args.steps} Adam steps, {WIDTHS} on {len(X)} points")
    print(f"  wall (after compile, best of {args.repeats}): {ensemble_s:8.2f} s   "
          f"(target <= 6 s; first call incl. compile {compile_and_run:.1f} s)")
    print(f"  process CPU time of that run:           {ensemble_cpu_s:8.2f} s   "
          f"(1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  effective matmul throughput:            {result['effective_gflops']:8.1f} GFLOP/s")
    print(f"  seeds split over {len(jax.local_devices())} devices; on one device:"
          f"    {one_device_s:8.2f} s")
    print(f"  median final training accuracy:         {result['median_final_accuracy']:8.3f}")
    print(f"per-seed loop of the same jitted step: {loop_s / args.loop_seeds:.2f} s/seed "
          f"-> {loop_extrapolated:.1f} s for {args.seeds} seeds (extrapolated)")
    print(f"  ensemble speedup vs loop:               {result['speedup_vs_loop']:8.1f} x")
    for row in shapes:
        name = "-".join(map(str, row["widths"]))
        print(f"  {name:<14} {row['seconds']:6.2f} s {row['effective_gflops']:6.1f} GFLOP/s  "
              f"(first call {row['first_call_seconds']:.1f} s)")
    out = Path(__file__).parent / "results" / "train_ensemble.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
