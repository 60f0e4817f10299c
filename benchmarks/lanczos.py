"""Top eigenpairs and spectral density past 10^5 parameters, matrix-free, in bounded memory.

For a ReLU MLP of ``--widths`` (default 2-316-316-3: 102,071 parameters) on ``--points``
(default 10,000) points of three Gaussian blobs, in float64, after JIT warm-up, in one
process:

- ``top``: :func:`toylab.landscape.top_eigen` (ARPACK Lanczos on exact forward-over-reverse
  HVPs, ``tol=0``, never forming the ``(P, P)`` matrix, which would take ``8 P^2`` bytes) for
  the top ``--k`` eigenpairs, with :func:`toylab.landscape.residual_norms` ``||H v - lambda
  v||`` of each pair (a bound on its eigenvalue error, Parlett 1998 Thm. 4.5.1);
- ``slq``: :func:`toylab.landscape.spectral_density`, one Rademacher vector, ``--slq-steps``
  Lanczos steps;
- the baseline: ``--power-steps`` steps of HVP power iteration (PyHessian's method, the loop
  of benchmarks/hessian.py) on the same jitted products as Lanczos
  (:func:`toylab.landscape.curvature_operator`; a closure over the data, as hessian.py's
  ``jitted_hvp``, makes XLA constant-fold 10^4-point products for minutes); the ratio is
  ``top / (100 power steps)``, the 100 steps extrapolated linearly from the measured ones
  (each step is one HVP plus two ``(P,)`` vector operations).

Memory: the estimate :func:`toylab.landscape.lanczos_bytes` (checked by the library against
``max_bytes`` before it runs) and the process's peak resident set size (``ru_maxrss``) are
printed, and for another net also the estimate for the net of about 10^6 parameters
(2-1000-1000-3) without running it (``--widths 2-1000-1000-3`` runs it: ~2 s per HVP).
Agreement with the dense path at small size is tested in tests/test_landscape_spectra.py.
Each timing is one run (the machine this was written on is shared; see benchmarks/README.md).

    python benchmarks/lanczos.py [--widths 2-316-316-3] [--points 10000] [--k 1]
        [--slq-steps 10] [--power-steps 10] [--out benchmarks/results/lanczos.json]
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

import toylab
import toylab.landscape as L
from toylab.data import make
from toylab.landscape.curvature import readable_bytes
from toylab.landscape.spectra import arpack_basis
from toylab.models import init_layers, n_params

from hessian import power_iteration

MILLION_NET = (2, 1000, 1000, 3)


def peak_rss() -> int:
    """Peak resident set size of this process in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="2-316-316-3")
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--slq-steps", type=int, default=10)
    parser.add_argument("--power-steps", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/lanczos.json")
    args = parser.parse_args()
    toylab.use_cpu_cores()
    widths = tuple(int(w) for w in args.widths.split("-"))
    sample = make("blobs", k=widths[-1]).sample(0, args.points)
    X, y = sample.X, sample.y
    with jax.enable_x64(True):
        layers = [(np.asarray(W), np.asarray(b)) for W, b in
                  init_layers(jax.random.key(0), widths, dtype=jnp.float64)]
    kw = dict(activation="relu")
    P = n_params(widths)
    rss_before = peak_rss()

    hvp = L.curvature_operator(layers, X, y, **kw).matvec  # the products Lanczos uses
    t_first, _ = clock(lambda: power_iteration(hvp, P, 1))
    t_power, _ = clock(lambda: power_iteration(hvp, P, args.power_steps))
    per_step = t_power / args.power_steps

    t_top, top = clock(lambda: L.top_eigen(layers, X, y, args.k, **kw))
    t_res, res = clock(lambda: L.residual_norms(layers, X, y, top, **kw))
    t_slq, slq = clock(lambda: L.spectral_density(layers, X, y, n_vectors=1,
                                                  n_steps=args.slq_steps, **kw))
    estimate = L.lanczos_bytes(widths, args.points, arpack_basis(args.k, P))
    estimate_slq = L.lanczos_bytes(widths, args.points, min(args.slq_steps, P))
    rss = peak_rss()
    load = os.getloadavg()

    print(f"{args.widths} ReLU, P = {P:,} parameters, {args.points:,} points of blobs, float64 "
          f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} "
          "cores; one run each)")
    print(f"first HVP incl. compilation {t_first:.2f} s; power iteration "
          f"{args.power_steps} steps {t_power:.2f} s = {per_step:.3f} s/step, 100 steps "
          f"(extrapolated) {100 * per_step:.1f} s")
    print(f"top-{args.k} Lanczos (ARPACK, tol=0): {t_top:.2f} s = ~{t_top / per_step:.0f} "
          f"HVP-steps; ratio to 100 power steps {t_top / (100 * per_step):.2f}")
    print("  eigenvalues " + ", ".join(f"{v:.10g}" for v in top.eigenvalues)
          + "; residual norms ||Hv - lambda v|| " + ", ".join(f"{r:.1e}" for r in res)
          + f" ({t_res:.2f} s)")
    print(f"SLQ 1 vector x {args.slq_steps} steps: {t_slq:.2f} s; Ritz values "
          f"[{slq.nodes.min():.4g}, {slq.nodes.max():.4g}]")
    print(f"memory: Lanczos estimate {readable_bytes(estimate)} (SLQ {readable_bytes(estimate_slq)}); "
          f"peak RSS {readable_bytes(rss)} (before the HVPs {readable_bytes(rss_before)}); a "
          f"dense Hessian would need {readable_bytes(8 * P * P)}")
    big = n_params(MILLION_NET)
    if widths != MILLION_NET:  # else the 10^6 net itself was just run
        top_bytes = L.lanczos_bytes(MILLION_NET, args.points, arpack_basis(args.k, big))
        slq_bytes = L.lanczos_bytes(MILLION_NET, args.points, args.slq_steps)
        print(f"estimate for 2-1000-1000-3 (P = {big:,}) on {args.points:,} points: "
              f"top-{args.k} {readable_bytes(top_bytes)}, SLQ {args.slq_steps} steps "
              f"{readable_bytes(slq_bytes)} "
              f"(dense: {readable_bytes(8 * big * big)}); not run (--widths 2-1000-1000-3 "
              "runs it)")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(load_average=load, cpus=os.cpu_count(),
                machine=platform.processor() or platform.machine(), jax=jax.__version__,
                device=str(jax.devices()[0]))
    result = dict(widths=widths, n_params=P, n_points=args.points, k=args.k,
                  first_hvp_s=t_first, power_steps=args.power_steps, power_s=t_power,
                  power_step_s=per_step, top_s=t_top,
                  ratio_top_over_100_power_steps=t_top / (100 * per_step),
                  eigenvalues=top.eigenvalues.tolist(), residual_norms=res.tolist(),
                  residual_s=t_res, slq_steps=args.slq_steps, slq_s=t_slq,
                  lanczos_bytes=estimate, slq_bytes=estimate_slq, peak_rss_bytes=rss,
                  peak_rss_before_bytes=rss_before, dense_bytes=8 * P * P)
    out.write_text(json.dumps(dict(meta=meta, results=[result]), indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
