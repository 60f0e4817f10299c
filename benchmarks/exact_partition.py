"""Speed of the exact linear-region partition vs evaluating the same net on a grid.

Nets: 2-w-w-w-3 ReLU, He-normal weights (std sqrt(2 / fan_in)), biases N(0, 0.5^2), domain
[-4, 4]^2, w = 32 and 64. For each, in one process:

* ``partition``: wall time of :func:`toylab.exact.partition` (best of ``--repeats`` after a
  warm-up), regions per second, and its CPU time (single-threaded numpy, so this is what the
  wall time would be on an idle machine; the development machine is shared); per-region affine maps are stored compactly (tables + row
  index) and ``p.pre`` forms them per layer when read; forming every layer is timed separately;
* ``locate``: point location of 10^6 uniform points (locator built on first use, timed apart);
* ``grid``: the same net evaluated by a jitted JAX forward pass on a 1024 x 1024 grid
  (float32, JAX's default, and float64), after compilation, with ``block_until_ready``;
* ``naive`` (w = 32 only): a per-polygon Python clipping loop (the scale baseline), which must
  give the same number of regions;
* the memory estimate the partition's guard uses (``bytes_per_region`` of the middle layer).

Also (issue 16 item 1): the regions after each layer, a grid with one sample per region on
average (``ceil(sqrt(R))^2`` points, float32) against the partition, the memory guard's
estimate of the peak (:func:`toylab.exact.partition.peak_bytes_estimate`)
and the measured peak RSS (take it from a run with one width: it is the process's maximum so
far); the logits from the regions' affine maps against a float64 forward pass at 10^5 random
points, and the area sum against the box's. Larger nets: ``--widths 128 192 256 --repeats
1``, deeper ones ``--depth 4``; ``--logits-only`` partitions with ``hidden_maps=False`` (each
hidden layer's maps freed once the next layer's are formed; ``p.pre`` is then not timed).

Run: ``python benchmarks/exact_partition.py`` (writes benchmarks/results/exact_partition.json,
one entry per ``OPENBLAS_NUM_THREADS`` setting, depth and set of widths). The per-layer affine-map products are small
matrix products; on 2 busy cores multi-threaded OpenBLAS spends far more time waiting than
computing on them, so also run ``OPENBLAS_NUM_THREADS=1 python benchmarks/exact_partition.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from toylab.exact import partition
from toylab.exact.partition import bytes_per_region, peak_bytes_estimate
from toylab.models import apply

RESULTS = Path(__file__).parent / "results" / "exact_partition.json"
BOX = np.array([[-4.0, 4.0], [-4.0, 4.0]])


def he_net(widths, seed):
    """He-normal weights, N(0, 0.5^2) biases (float64)."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


def best_time(fn, repeats, clock=time.perf_counter):
    """Best time of ``repeats`` calls (after one warm-up call); returns (seconds, result)."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = clock()
        out = fn()
        times.append(clock() - t)
    return min(times), out


def best_wall_and_cpu(fn, repeats):
    """``(wall, cpu, result)`` of the call with the best wall time among ``repeats`` (after
    a warm-up call). toylab.exact runs single-threaded numpy, so its CPU time is the wall
    time it would take on an idle machine."""
    out = fn()
    best = (np.inf, np.inf)
    for _ in range(repeats):
        out = None  # one result alive at a time, so the peak RSS is one partition's
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best[0], best[1], out


PRE_MAX_BYTES = 2**30
"""``p.pre`` (every region's maps, 24 bytes per region and neuron) is timed only below this."""


def grid_eval_time(layers, dtype, repeats, side=1024):
    """Jitted JAX forward pass on a ``side x side`` grid of the box (after compilation)."""
    g = np.linspace(-4, 4, side)
    U = jnp.asarray(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2), dtype)
    params = [(jnp.asarray(W, dtype), jnp.asarray(b, dtype)) for W, b in layers]
    f = jax.jit(lambda params, U: apply(params, U, "relu"))
    return best_time(lambda: f(params, U).block_until_ready(), repeats)[0]


def naive_partition(layers):
    """Baseline: relu regions by clipping one polygon at a time in Python (no vectorisation)."""
    polys = [(np.array([[-4.0, -4.0], [4.0, -4.0], [4.0, 4.0], [-4.0, 4.0]]), np.eye(2),
              np.zeros(2))]  # (polygon, input map M (2, d), offset m (d,))
    for W, b in layers[:-1]:
        regions = [(q, M @ W, m @ W + b, np.zeros(W.shape[1])) for q, M, m in polys]
        for j in range(W.shape[1]):
            nxt = []
            for q, A, c, slope in regions:
                s = q @ A[:, j] + c[j]
                for sign in (1.0, -1.0):
                    piece = _clip(q, sign * s)
                    if piece is not None:
                        sl = slope.copy()
                        sl[j] = 1.0 if sign > 0 else 0.0
                        nxt.append((piece, A, c, sl))
            regions = nxt
        polys = [(q, A * sl, c * sl) for q, A, c, sl in regions]
    return len(polys)


def _clip(q, s, eps=1e-12):
    out = []
    for k in range(len(q)):
        a, b, sa, sb = q[k], q[(k + 1) % len(q)], s[k], s[(k + 1) % len(q)]
        if sa >= 0:
            out.append(a)
        if sa * sb < 0:
            out.append(a + sa / (sa - sb) * (b - a))
    if len(out) < 3:
        return None
    out = np.array(out)
    x, y = out[:, 0], out[:, 1]
    area = 0.5 * (x @ np.roll(y, -1) - y @ np.roll(x, -1))
    return out if area > eps else None


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux ``ru_maxrss`` is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(width, repeats, seed, naive, depth=3, hidden_maps=True):
    widths = (2,) + (width,) * depth + (3,)
    layers = he_net(widths, seed)
    before = peak_rss_bytes()
    t_part, t_cpu, fresh = best_wall_and_cpu(
        lambda: partition(layers, BOX, activation="relu", hidden_maps=hidden_maps), repeats)
    n = len(fresh)
    peak = peak_rss_bytes()  # before fresh.pre[:] below, which forms every region's maps
    timed_pre = hidden_maps and 24 * n * sum(widths[1:]) < PRE_MAX_BYTES
    t0 = time.perf_counter()
    if timed_pre:
        _ = fresh.pre[:]  # every layer (a layer is formed when first read)
    t_pre = time.perf_counter() - t0 if timed_pre else None
    U = np.random.default_rng(1).uniform(-4, 4, (10**6, 2))
    t0 = time.perf_counter()
    fresh.locate(U[:1])
    t_build = time.perf_counter() - t0
    t_locate = best_time(lambda: fresh.locate(U), max(1, repeats // 2))[0]
    side = int(np.ceil(np.sqrt(n)))  # one grid sample per region on average
    exact_logits = fresh.evaluate(U[:10**5])
    with jax.enable_x64(True):
        forward = np.asarray(apply([(jnp.asarray(W), jnp.asarray(b)) for W, b in layers],
                                   jnp.asarray(U[:10**5]), "relu"))
    row = {
        "widths": list(widths),
        "regions": n,
        "partition_s": t_part,
        "regions_per_s": n / t_part,
        "partition_cpu_s": t_cpu,
        "regions_per_cpu_s": n / t_cpu,
        "materialise_pre_s": t_pre,
        "estimated_bytes_per_region": bytes_per_region(width, width),
        "hidden_maps": hidden_maps,
        "regions_per_layer": [int(rows.max()) + 1 for rows in fresh.table_rows[1:]],
        "estimated_peak_bytes": peak_bytes_estimate(fresh),
        "peak_rss_bytes": peak,
        "peak_rss_before_bytes": before,
        "evaluate_vs_forward_max_rel_error_1e5": float(
            np.abs(exact_logits - forward).max() / np.abs(forward).max()),
        "area_sum_rel_error": float(abs(fresh.areas.sum() - 64.0) / 64.0),
        "locator_build_s": t_build,
        "locate_1e6_s": t_locate,
        "grid_1024_float32_s": grid_eval_time(layers, jnp.float32, repeats),
    }
    with jax.enable_x64(True):
        row["grid_1024_float64_s"] = grid_eval_time(layers, jnp.float64, repeats)
    row["partition_over_grid_float32"] = t_part / row["grid_1024_float32_s"]
    row["grid_one_per_region_side"] = side
    row["grid_one_per_region_float32_s"] = grid_eval_time(layers, jnp.float32, repeats, side)
    row["partition_over_grid_one_per_region"] = t_part / row["grid_one_per_region_float32_s"]
    if naive:
        t0 = time.perf_counter()
        n_naive = naive_partition(layers)
        row["naive_s"] = time.perf_counter() - t0
        row["naive_regions"] = n_naive
        row["naive_regions_per_s"] = n_naive / row["naive_s"]
        row["speedup_vs_naive"] = row["naive_s"] / t_part
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    ap.add_argument("--logits-only", action="store_true",
                    help="partition(..., hidden_maps=False): keep the logits' maps only")
    args = ap.parse_args()
    rows = [run(w, args.repeats, args.seed, naive=(w == 32 and args.depth == 3),
                depth=args.depth, hidden_maps=not args.logits_only)
            for w in sorted(args.widths)]
    head = (f"{'net':<16}{'regions':>8}{'partition':>11}{'regions/s':>11}{'cpu':>8}"
            f"{'grid f32':>10}{'part/grid':>10}{'grid f64':>10}{'pre':>8}{'locate':>8}"
            f"{'naive':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        name = "-".join(map(str, r["widths"]))
        naive = f"{r['naive_s']:7.2f}s" if "naive_s" in r else f"{'-':>8}"
        pre = np.nan if r["materialise_pre_s"] is None else r["materialise_pre_s"]
        print(f"{name:<16}{r['regions']:>8}{r['partition_s']:>10.3f}s{r['regions_per_s']:>11.0f}"
              f"{r['partition_cpu_s']:>7.3f}s{r['grid_1024_float32_s']:>9.3f}s{r['partition_over_grid_float32']:>10.2f}"
              f"{r['grid_1024_float64_s']:>9.3f}s{pre:>7.3f}s"
              f"{r['locate_1e6_s']:>7.3f}s{naive}")
    for r in rows:
        name = "-".join(map(str, r["widths"]))
        print(f"{name}: regions per layer {r['regions_per_layer']}; grid of "
              f"{r['grid_one_per_region_side']}^2 (one sample per region) "
              f"{r['grid_one_per_region_float32_s']:.3f}s, partition / that grid "
              f"{r['partition_over_grid_one_per_region']:.1f}; memory estimate "
              f"{r['estimated_peak_bytes'] / 2**30:.2f} GiB, peak RSS so far "
              f"{r['peak_rss_bytes'] / 2**30:.2f} GiB ({r['peak_rss_before_bytes'] / 2**30:.2f} "
              "before the first partition); logits vs the float64 forward pass at 10^5 points: "
              f"max error {r['evaluate_vs_forward_max_rel_error_1e5']:.1e} of max |logit|; "
              f"area sum - 64: {r['area_sum_rel_error']:.1e} relative")
    for r in rows:
        if "naive_s" in r:
            print(f"naive per-polygon loop ({'-'.join(map(str, r['widths']))}): "
                  f"{r['naive_regions']} regions in {r['naive_s']:.2f}s = "
                  f"{r['naive_regions_per_s']:.0f} regions/s; vectorised is "
                  f"{r['speedup_vs_naive']:.1f}x faster")
    print(f"load average during run: {os.getloadavg()}, {os.cpu_count()} CPUs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
            "jax_backend": jax.default_backend(), "repeats": args.repeats, "seed": args.seed,
            "openblas_num_threads": blas}
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    runs = runs if "meta" not in runs else {}  # older single-run format
    key = f"openblas_threads={blas}" + (f",depth={args.depth}" if args.depth != 3 else "")
    key += "" if sorted(args.widths) == [32, 64] else f",widths={sorted(args.widths)}"
    key += ",logits_only" if args.logits_only else ""
    runs[key] = {"meta": meta, "rows": rows}
    RESULTS.write_text(json.dumps(runs, indent=2) + "\n")
    print(f"wrote {RESULTS} (entry {key})")


if __name__ == "__main__":
    main()
