"""Run every benchmark and write ``benchmarks/results/summary.json``.

Each benchmark runs as its own process (``python benchmarks/<name>.py``), so XLA flags,
thread pools and peak memory do not leak between them. Each inherits toylab's CPU setup
(:func:`toylab.use_cpu_cores`, called here first: one JAX CPU device per core through
``XLA_FLAGS``, ``OPENBLAS_NUM_THREADS=1``). Its printed output streams through, and the JSON
it writes to ``benchmarks/results/`` is collected into the summary together with the exit
status and wall time.

Run from the repository root: ``python -m benchmarks [--only NAME ...] [--skip NAME ...]``.
Benchmarks not run this time enter the summary with ``"ran": false`` and their latest
results file (if any), so the summary always lists every benchmark. A benchmark whose
requirements are missing here (``explore`` needs Chromium, its driver, Selenium and Bokeh) is
skipped with the reason printed and recorded (``"skipped"``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import toylab

HERE = Path(__file__).parent
RESULTS = HERE / "results"

BENCHMARKS: dict[str, str] = {
    "train_ensemble": "256 seeds in one compiled vmap x scan call vs a per-seed loop",
    "exact_partition": "exact linear-region partition vs evaluating the net on a grid",
    "hessian": "exact Hessian + full spectrum vs power iteration for the top eigenvalue",
    "sweep_memory": "peak RSS of a 4,096-seed sweep vs its shape-based memory estimate",
    "explore": "toylab explore in headless Chromium: page load, train -> views (vs the library "
               "alone), a ~3,500-region partition's frame times",
}
"""Benchmark name (``benchmarks/<name>.py``, ``results/<name>.json``) -> what it compares."""


def _explore_missing() -> str | None:
    from toylab.explore.driver import chromium_paths

    for module, install in (("bokeh", "pip install -e '.[explore]'"),
                            ("selenium", "pip install -e '.[test]'")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {install}"
    if None in chromium_paths():
        return "chromium/chromedriver not found: apt-get install -y chromium chromium-driver"
    return None


REQUIREMENTS = {"explore": _explore_missing}
"""Benchmark name -> a check returning why it cannot run here (None: it can)."""


def missing(name: str) -> str | None:
    """Why benchmark ``name`` cannot run on this machine, or None."""
    return REQUIREMENTS[name]() if name in REQUIREMENTS else None


def run(name: str) -> dict:
    """Run one benchmark script; returns its summary entry."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / f"{name}.py")], cwd=HERE.parent)
    seconds = time.perf_counter() - start
    path = RESULTS / f"{name}.json"
    fresh = proc.returncode == 0 and path.exists() and path.stat().st_mtime >= time.time() - seconds
    return {
        "compares": BENCHMARKS[name],
        "command": f"python benchmarks/{name}.py",
        "ran": True,
        "returncode": proc.returncode,
        "wall_seconds": seconds,
        "result": json.loads(path.read_text()) if fresh else None,
    }


def previous(name: str) -> dict:
    """Summary entry of a benchmark not run this time: its latest results file, if any."""
    path = RESULTS / f"{name}.json"
    return {
        "compares": BENCHMARKS[name],
        "command": f"python benchmarks/{name}.py",
        "ran": False,
        "result_written": time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        if path.exists() else None,
        "result": json.loads(path.read_text()) if path.exists() else None,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
    parser.add_argument("--skip", nargs="+", choices=sorted(BENCHMARKS), default=())
    args = parser.parse_args(argv)
    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    devices = toylab.use_cpu_cores()  # inherited by every benchmark process
    summary = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "jax_cpu_devices": devices,
        "benchmarks": {},
    }
    for name in BENCHMARKS:
        reason = missing(name) if name in names else None
        if reason:
            print(f"== {name}: skipped: {reason}", flush=True)
            summary["benchmarks"][name] = dict(previous(name), skipped=reason)
        elif name in names:
            print(f"== {name}: {BENCHMARKS[name]}", flush=True)
            summary["benchmarks"][name] = run(name)
        else:
            summary["benchmarks"][name] = previous(name)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    failed = [n for n, entry in summary["benchmarks"].items() if entry.get("returncode")]
    print(f"wrote {RESULTS / 'summary.json'}" + (f"; FAILED: {failed}" if failed else ""))
    return summary


if __name__ == "__main__":
    sys.exit(int(any(entry.get("returncode") for entry in main()["benchmarks"].values())))
