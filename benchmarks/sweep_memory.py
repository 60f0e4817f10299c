"""Benchmark: peak memory of a large sweep vs the sweep's own shape-based estimate.

4,096 seeds of a 2-16-16-3 ReLU MLP, 512 points of 3 blobs, 1,000 full-batch Adam steps,
parameter snapshots every 100 steps, float32, one device, run by ``toylab.sweep.run_sweep``
with the default ``max_bytes`` (4 GiB). The sweep runs in a fresh child process so its peak
resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own. Printed:

- peak RSS of the child, and its baseline (the same process after importing JAX and toylab,
  sampling the data and running a 1-seed warm-up sweep of another shape);
- the sweep's increment over the baseline, compared with the memory plan's estimate
  (``MemoryPlan.estimate``) and with XLA's buffer assignment of the compiled program
  (``compiled.memory_analysis()``: arguments + outputs + temporaries of one call);
- whether the sweep had to split into several calls.

Run: ``python benchmarks/sweep_memory.py [--seeds 4096] [--steps 1000]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

GIB = 2**30
WIDTHS = (2, 16, 16, 3)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(args) -> dict:
    """Run the sweep in this process and report its memory."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from toylab import data
    from toylab.sweep import DEFAULT_MAX_BYTES, run_sweep
    from toylab.train import TrainConfig, hyper_arrays, resolve_devices, sharded_program

    sample = data.blobs(3).sample(0, args.points)
    X, y = sample.X.astype(np.float32), sample.y
    warm = TrainConfig(widths=(2, 4, 3), steps=10, snapshot_every=10)
    run_sweep(warm, X, y, 1, devices=1)  # JAX runtime and compiler fully loaded
    baseline = peak_rss_bytes()

    config = TrainConfig(widths=WIDTHS, steps=args.steps, snapshot_every=args.steps // 10)
    start = time.perf_counter()
    sweep = run_sweep(config, X, y, args.seeds, devices=1, seed_chunk=args.seed_chunk)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    (group,) = sweep.groups
    plan = group.plan

    program, mesh = sharded_program(config.spec, plan.seed_chunk, resolve_devices(1))
    hyper = hyper_arrays([config.hyper] * plan.runs_per_call, np.float32)
    lowered = program.lower(jnp.zeros(plan.runs_per_call, jnp.uint32),
                            jax.tree.map(jnp.asarray, hyper), jnp.asarray(X),
                            jnp.asarray(y, jnp.int32))
    analysis = lowered.compile().memory_analysis()
    xla_bytes = (analysis.argument_size_in_bytes + analysis.output_size_in_bytes
                 + analysis.temp_size_in_bytes)
    return {
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "sweep_increment_bytes": peak - baseline,
        "plan_estimate_bytes": plan.estimate,
        "xla_one_call_bytes": xla_bytes,
        "xla_temp_bytes": analysis.temp_size_in_bytes,
        "output_bytes_per_run": plan.output_bytes_per_run,
        "working_bytes_per_run": plan.working_bytes_per_run,
        "calls": plan.calls,
        "memory_chunked": sweep.memory_chunked,
        "max_bytes": DEFAULT_MAX_BYTES,
        "seconds_incl_compile": seconds,
        "final_loss_median": float(np.median(sweep.results[0].final_loss)),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--seed-chunk", type=int, default=64)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return {}

    cmd = [sys.executable, __file__, "--child", "--seeds", str(args.seeds), "--steps",
           str(args.steps), "--points", str(args.points), "--seed-chunk", str(args.seed_chunk)]
    env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", ""))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    import jax

    result = {
        "benchmark": "sweep_memory",
        "seeds": args.seeds,
        "steps": args.steps,
        "snapshot_every": args.steps // 10,
        "widths": WIDTHS,
        "points": args.points,
        "seed_chunk": args.seed_chunk,
        **measured,
        "peak_over_limit": measured["peak_rss_bytes"] / measured["max_bytes"],
        "increment_over_estimate": measured["sweep_increment_bytes"]
        / measured["plan_estimate_bytes"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "jax": jax.__version__,
    }
    print(f"sweep: {args.seeds} seeds x {args.steps} Adam steps, {WIDTHS} on {args.points} "
          f"points, snapshots every {args.steps // 10} steps, vmap width {args.seed_chunk}")
    print(f"  peak RSS of the child process:  {measured['peak_rss_bytes'] / GIB:8.3f} GiB "
          f"({result['peak_over_limit']:.2f} of the 4 GiB limit)")
    print(f"  baseline (JAX loaded, warm-up): {measured['baseline_rss_bytes'] / GIB:8.3f} GiB")
    print(f"  sweep increment over baseline:  {measured['sweep_increment_bytes'] / GIB:8.3f} GiB")
    print(f"  memory plan's estimate:         {measured['plan_estimate_bytes'] / GIB:8.3f} GiB "
          f"(increment / estimate = {result['increment_over_estimate']:.2f})")
    print(f"  XLA buffers of one call:        {measured['xla_one_call_bytes'] / GIB:8.3f} GiB "
          f"(temporaries {measured['xla_temp_bytes'] / 2**20:.1f} MiB)")
    print(f"  calls: {measured['calls']} (memory-chunked: {measured['memory_chunked']}); "
          f"wall incl. compile {measured['seconds_incl_compile']:.1f} s")
    path = Path(__file__).parent / "results" / "sweep_memory.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
