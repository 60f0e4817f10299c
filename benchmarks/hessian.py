"""Exact Hessian + full spectrum vs the top eigenvalue by HVP power iteration.

For a 2-32-32-3 ReLU MLP (1,251 parameters) and a 2-64-64-3 one (4,547) on 512 points of
three Gaussian blobs, in float64, measured in one process after JIT warm-up:

- ``hessian``: :func:`toylab.landscape.hessian` with its default ``method="auto"``, which
  for these ReLU nets is ``blocks`` (layer-factored Gauss-Newton ``A^T A / n`` + the
  residual's closed-form layer blocks); ``hvp`` (chunked forward-over-reverse HVPs of all
  basis vectors) is timed alongside;
- ``spectrum``: all its eigenvalues (:func:`toylab.landscape.eigendecomposition` with
  ``vectors=False``, LAPACK ``syevd``); ``eigh``, the full eigendecomposition with
  eigenvectors, is timed alongside;
- ``power``: the baseline, PyHessian's method (Yao et al. 2020, ``hessian.eigenvalues``):
  100 power-iteration steps, each one call of an already-compiled HVP from a Python loop,
  Rayleigh quotient and renormalisation (all 100 steps, no early stop).

Each timing is the median (and minimum) of ``--repeats`` runs, wall clock and process CPU
(all threads). The ratio is ``(hessian + spectrum) / power``: <= 1 means the whole spectrum
costs no more than the top eigenvalue alone; ``(hessian + eigh) / power`` is printed too.
Two more ratios (issue 16 item 2): the full spectrum against LAPACK's ``eigvalsh``
(``scipy.linalg.eigh(eigvals_only=True)``) on the already formed matrix with the same BLAS
threads, and the top-``k`` eigenpairs (k = 1, 5, 10) by :func:`toylab.landscape.top_eigen`
with its default ``method="auto"`` (here ``factored``: unrestarted Lanczos on exact
layer-factored products, ``tol=0``) and, for comparison, ``method="lanczos"`` (ARPACK on
exact HVPs, ``tol=0``) against the 100 power steps, each with the largest residual norm
(:func:`toylab.landscape.residual_norms`, by HVPs) and the largest difference from the dense
eigenvalues. Item 2(c): the full spectrum by the projected eigenproblem
(:func:`toylab.landscape.projected_spectrum`, the Hessian restricted to the range spanned by
the occupied linear regions and the residual's layer blocks; its order from
:func:`toylab.landscape.range_size`) against the dense path (``hessian`` + ``spectrum``) in
the same process, with and without eigenvectors, its largest eigenvalue difference from the
dense spectrum (relative to max |lambda|) and the residual norms ``||H v - lambda v||`` of
:data:`N_CHECKED` of its eigenvectors (spread over the spectrum, zeros included) on the formed
matrix. A
chunk-size sweep of the ``hvp`` method is printed for the small net. toylab runs OpenBLAS
single-threaded (``toylab.use_cpu_cores``) except for matrices of at least
``BLAS_THREADS_FROM`` rows (``toylab.landscape.curvature.dense_blas``), where it uses every
core.

    python benchmarks/hessian.py [--repeats 5] [--out benchmarks/results/hessian.json]
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
import scipy.linalg

import toylab
import toylab.landscape as L
from toylab.landscape.curvature import BLAS_THREADS_FROM, dense_blas
from toylab.data import make
from toylab.models import init_layers

NETS = {"2-32-32-3": (2, 32, 32, 3), "2-64-64-3": (2, 64, 64, 3)}
N_POINTS = 512
POWER_STEPS = 100
TOP_K = (1, 5, 10)
TOP_METHODS = ("auto", "lanczos")
CHUNKS = (8, 16, 32, 64, 128)
N_CHECKED = 200
"""Eigenvectors of the projected spectrum whose residual norms are checked on the formed
matrix (evenly spaced over the descending order, so the exact zeros are among them)."""


def timed(fn, repeats: int) -> tuple[float, float, float, object]:
    """``(median wall s, min wall s, median process-CPU s, last result)`` of ``fn()`` over
    ``repeats`` runs (CPU time sums all threads; it shows contention on a shared machine)."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.min(wall)), float(np.median(cpu)), out


def jitted_hvp(f, theta):
    """``v -> H v`` of ``f`` at ``theta``, jitted once (float64)."""
    with jax.enable_x64(True):
        theta = jnp.asarray(theta)
        return jax.jit(lambda v: jax.jvp(jax.grad(f), (theta,), (v,))[1])


def power_iteration(hvp, size: int, steps: int, seed: int = 0) -> float:
    """PyHessian's top-eigenvalue loop: ``v <- Hv / |Hv|``, eigenvalue ``v . Hv``."""
    with jax.enable_x64(True):
        v = jnp.asarray(np.random.default_rng(seed).standard_normal(size))
        v = v / jnp.linalg.norm(v)
        eigenvalue = None
        for _ in range(steps):
            Hv = hvp(v)
            eigenvalue = float(jnp.vdot(Hv, v))
            v = Hv / jnp.linalg.norm(Hv)
        return eigenvalue


def bench_net(name: str, widths, X, y, repeats: int, sweep: bool) -> dict:
    with jax.enable_x64(True):
        layers = [(np.asarray(W), np.asarray(b)) for W, b in
                  init_layers(jax.random.key(0), widths, dtype=jnp.float64)]
    kw = dict(activation="relu")
    f, theta = L.flat_loss(layers, X, y, **kw)
    hvp = jitted_hvp(f, theta)
    # warm-up (compilation) for every timed call
    H = L.hessian(layers, X, y, **kw)
    L.hessian(layers, X, y, method="hvp", **kw)
    power_iteration(hvp, theta.size, 2)

    t_h, t_h_min, c_h, H = timed(lambda: L.hessian(layers, X, y, **kw), repeats)
    t_x, t_x_min, c_x, H_hvp = timed(lambda: L.hessian(layers, X, y, method="hvp", **kw),
                                     repeats)
    t_e, t_e_min, c_e, spec = timed(lambda: L.eigendecomposition(H), repeats)
    t_v, t_v_min, c_v, _ = timed(lambda: L.eigendecomposition(H, vectors=False), repeats)
    t_p, t_p_min, c_p, top = timed(lambda: power_iteration(hvp, theta.size, POWER_STEPS), repeats)
    with dense_blas(theta.size):  # LAPACK alone on the formed matrix, toylab's thread setting
        t_l, t_l_min, _, _ = timed(lambda: scipy.linalg.eigh(H, eigvals_only=True), repeats)
    top_k = {}
    for method in TOP_METHODS:
        L.top_eigen(layers, X, y, 1, method=method, **kw)  # compiles the library's products
        top_k[method] = {}
        for k in TOP_K:
            t_k, t_k_min, _, got = timed(lambda: L.top_eigen(layers, X, y, k, method=method,
                                                             **kw), repeats)
            res = L.residual_norms(layers, X, y, got, **kw)
            top_k[method][str(k)] = dict(
                s=t_k, min_s=t_k_min, ratio_over_power=t_k / t_p,
                max_residual_norm=float(res.max()),
                max_error_vs_dense=float(np.abs(got.eigenvalues - spec.eigenvalues[:k]).max()))
    size = L.range_size(layers, X, y, **kw)
    L.projected_spectrum(layers, X, y, **kw)  # warm-up (piece_states, residual blocks)
    t_j, t_j_min, c_j, proj = timed(lambda: L.projected_spectrum(layers, X, y, **kw), repeats)
    t_jv, t_jv_min, c_jv, proj_v = timed(
        lambda: L.projected_spectrum(layers, X, y, vectors=True, **kw), repeats)
    scale = np.abs(spec.eigenvalues).max()
    cols = np.unique(np.linspace(0, theta.size - 1, N_CHECKED).astype(int))
    V = proj_v.eigenvectors[:, cols]
    with dense_blas(theta.size):
        residuals = np.linalg.norm((H + H.T) / 2 @ V - V * proj_v.eigenvalues[cols], axis=0)
    projected = dict(
        range_size=size._asdict(), s=t_j, min_s=t_j_min, cpu_s=c_j,
        with_vectors_s=t_jv, with_vectors_min_s=t_jv_min, with_vectors_cpu_s=c_jv,
        ratio_over_dense=t_j / (t_h + t_v), cpu_ratio_over_dense=c_j / (c_h + c_v),
        with_vectors_ratio_over_dense=t_jv / (t_h + t_e),
        with_vectors_cpu_ratio_over_dense=c_jv / (c_h + c_e),
        max_error_vs_dense=float(np.abs(proj.eigenvalues - spec.eigenvalues).max() / scale),
        vectors_max_error_vs_dense=float(
            np.abs(proj_v.eigenvalues - spec.eigenvalues).max() / scale),
        max_relative_residual=float(residuals.max() / scale), checked_vectors=int(cols.size),
        exact_zeros=int(np.count_nonzero(proj.eigenvalues == 0.0)),
    )
    row = dict(
        net=name, n_params=int(theta.size), n_points=int(X.shape[0]),
        hessian_s=t_h, hessian_min_s=t_h_min, hessian_cpu_s=c_h,
        hessian_hvp_s=t_x, hessian_hvp_min_s=t_x_min, hessian_hvp_cpu_s=c_x,
        methods_max_abs_difference=float(np.abs(H - H_hvp).max() / np.abs(H_hvp).max()),
        eigh_s=t_e, eigh_min_s=t_e_min, eigh_cpu_s=c_e,
        eigvals_only_s=t_v, eigvals_only_min_s=t_v_min, eigvals_only_cpu_s=c_v,
        power_s=t_p, power_min_s=t_p_min, power_cpu_s=c_p,
        exact_total_s=t_h + t_v,
        ratio_exact_over_power=(t_h + t_v) / t_p,
        exact_with_vectors_s=t_h + t_e,
        ratio_with_vectors_over_power=(t_h + t_e) / t_p,
        top_eigenvalue_exact=float(spec.eigenvalues[0]),
        top_eigenvalue_power=float(top),
        power_relative_error=abs(top - spec.eigenvalues[0]) / abs(spec.eigenvalues[0]),
        lapack_eigvalsh_s=t_l, lapack_eigvalsh_min_s=t_l_min,
        ratio_spectrum_over_lapack=t_v / t_l,
        top_k=top_k,
        projected=projected,
    )
    if sweep:
        row["chunk_sweep_s"] = chunk_sweep(layers, X, y, repeats)
    return row


def chunk_sweep(layers, X, y, repeats: int) -> dict[str, float]:
    """Median exact-Hessian time per ``chunk`` (each compiled once before timing)."""
    out = {}
    for chunk in CHUNKS:
        run = lambda: L.hessian(layers, X, y, activation="relu", method="hvp", chunk=chunk)
        run()
        out[str(chunk)] = timed(run, repeats)[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sweep", action="store_true", help="skip the chunk sweep")
    parser.add_argument("--out", default="benchmarks/results/hessian.json")
    parser.add_argument("--nets", default=",".join(NETS),
                        help=f"comma-separated subset of {', '.join(NETS)}")
    args = parser.parse_args()
    nets = {name: NETS[name] for name in args.nets.split(",")}
    load_start = os.getloadavg()[0]
    toylab.use_cpu_cores()  # one-thread BLAS below BLAS_THREADS_FROM, as toylab runs
    sample = make("blobs", k=3).sample(0, N_POINTS)
    rows = [bench_net(name, widths, sample.X, sample.y, args.repeats,
                      sweep=(name == "2-32-32-3" and not args.no_sweep))
            for name, widths in nets.items()]

    print(f"float64, {N_POINTS} points of 3 blobs, median of {args.repeats} runs "
          f"(load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          f"on {os.cpu_count()} cores)")
    head = (f"{'net':>10} {'P':>6} {'hessian':>9} {'(hvp)':>9} {'spectrum':>9} {'exact':>8} "
            f"{'power100':>9} {'ratio':>6} {'eigh':>8} {'ratio':>6}")
    print(head)
    for r in rows:
        print(f"{r['net']:>10} {r['n_params']:>6} {r['hessian_s']:>8.3f}s "
              f"{r['hessian_hvp_s']:>8.3f}s {r['eigvals_only_s']:>8.3f}s "
              f"{r['exact_total_s']:>7.3f}s {r['power_s']:>8.3f}s "
              f"{r['ratio_exact_over_power']:>6.2f} {r['eigh_s']:>7.3f}s "
              f"{r['ratio_with_vectors_over_power']:>6.2f}")
    print("exact = hessian + spectrum (all eigenvalues); the last two columns: the "
          "eigendecomposition with vectors and (hessian + eigh) / power")
    print("min wall: " + "; ".join(
        f"{r['net']} hessian {r['hessian_min_s']:.3f}s eigh {r['eigh_min_s']:.3f}s power "
        f"{r['power_min_s']:.3f}s" for r in rows))
    print("process CPU (all threads): " + "; ".join(
        f"{r['net']} hessian {r['hessian_cpu_s']:.3f}s (hvp {r['hessian_hvp_cpu_s']:.3f}s) "
        f"eigh {r['eigh_cpu_s']:.3f}s power {r['power_cpu_s']:.3f}s" for r in rows))
    print("blocks vs hvp max |difference| / max |H|: " + ", ".join(
        f"{r['net']} {r['methods_max_abs_difference']:.1e}" for r in rows))
    for r in rows:
        print(f"{r['net']}: top eigenvalue exact "
              f"{r['top_eigenvalue_exact']:.6g}, power {r['top_eigenvalue_power']:.6g} "
              f"(rel. error {r['power_relative_error']:.1e})")
    print("full spectrum (toylab.landscape.eigendecomposition, vectors=False) / LAPACK "
          "eigvalsh on the same formed matrix (target <= 1.2): " + "; ".join(
              f"{r['net']} {r['eigvals_only_s']:.3f}s / {r['lapack_eigvalsh_s']:.3f}s = "
              f"{r['ratio_spectrum_over_lapack']:.2f}" for r in rows))
    for r in rows:
        for method, label in (("auto", "default auto = factored Lanczos"),
                              ("lanczos", "ARPACK on exact HVPs")):
            print(f"{r['net']}: top-k by top_eigen ({label}, tol=0) / 100 power steps "
                  "(target < 1): " + "; ".join(
                      f"k={k} {v['s']:.3f}s = {v['ratio_over_power']:.2f} (max residual "
                      f"{v['max_residual_norm']:.0e}, max |error| vs dense "
                      f"{v['max_error_vs_dense']:.0e})" for k, v in r["top_k"][method].items()))
    for r in rows:
        j = r["projected"]
        z = j["range_size"]
        print(f"{r['net']}: projected full spectrum (projected_spectrum: {z['regions']} regions, "
              f"order {z['dim']} of P = {z['n_params']}, {j['exact_zeros']} exact zeros) "
              f"{j['s']:.3f}s (CPU {j['cpu_s']:.3f}s) vs dense hessian + spectrum "
              f"{r['exact_total_s']:.3f}s (CPU {r['hessian_cpu_s'] + r['eigvals_only_cpu_s']:.3f}s):"
              f" {j['ratio_over_dense']:.3f} (CPU {j['cpu_ratio_over_dense']:.3f}); max |error| "
              f"{j['max_error_vs_dense']:.0e} of max |lambda|; with vectors {j['with_vectors_s']:.3f}s"
              f" (CPU {j['with_vectors_cpu_s']:.3f}s) vs {r['exact_with_vectors_s']:.3f}s: "
              f"{j['with_vectors_ratio_over_dense']:.3f} (CPU "
              f"{j['with_vectors_cpu_ratio_over_dense']:.3f}), max residual "
              f"{j['max_relative_residual']:.0e} of max |lambda| ({j['checked_vectors']} vectors)")
    for r in rows:
        if "chunk_sweep_s" in r:
            print("chunk sweep (2-32-32-3, hvp method, median wall): " + ", ".join(
                f"{c}: {t:.3f}s" for c, t in r["chunk_sweep_s"].items()))

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(repeats=args.repeats, load_average=os.getloadavg()[0],
                load_average_start=load_start, cpus=os.cpu_count(),
                openblas_threads=os.environ["OPENBLAS_NUM_THREADS"],
                blas_threads_from=BLAS_THREADS_FROM,
                machine=platform.processor() or platform.machine(), jax=jax.__version__,
                device=str(jax.devices()[0]))
    out.write_text(json.dumps(dict(meta=meta, results=rows), indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
