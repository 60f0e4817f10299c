"""Importing toylab changes no global state; :func:`toylab.use_cpu_cores` does, on request.

One fresh Python process (module-scoped) records JAX's configuration, the BLAS thread counts
(threadpoolctl), matplotlib's backend and rcParams and the relevant environment variables
before and after importing toylab and its packages (:data:`PACKAGES`), after drawing and
saving a figure with the plotting helpers, and then exercises ``use_cpu_cores`` in that same
process.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

import toylab

ENV_KEYS = ("XLA_FLAGS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "MPLBACKEND")

PACKAGES = ["toylab", "toylab.plots", "toylab.exact", "toylab.landscape", "toylab.compare",
            "toylab.symbolic", "toylab.sweep", "toylab.results", "toylab.study"] + (
    ["toylab.explore"] if importlib.util.find_spec("bokeh") else [])
"""Everything a user may import; the explorer where its optional dependency is installed."""

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy, scipy.linalg  # both BLAS libraries loaded before toylab
    import jax, matplotlib, threadpoolctl

    def snapshot():
        return dict(
            env={k: os.environ.get(k) for k in %(env_keys)r},
            jax={k: repr(v) for k, v in jax.config.values.items()},
            blas={i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                  if i["user_api"] == "blas"},
            backend=matplotlib.get_backend(),
            rc={k: repr(v) for k, v in matplotlib.rcParams.items()},
        )

    out = dict(before=snapshot())
    import importlib
    for name in %(packages)r:
        importlib.import_module(name)
    out["imported"] = snapshot()
    import toylab
    from toylab.plots import figure, save
    fig, ax = figure()
    ax.plot([0, 1], [0, 1])
    save(fig, os.path.join(sys.argv[1], "line"))
    out["plotted"] = snapshot()

    out["first"] = toylab.use_cpu_cores(3)  # JAX not started by the imports: count is free
    out["devices"] = len(jax.devices("cpu"))
    out["again"] = [toylab.use_cpu_cores(3), toylab.use_cpu_cores()]
    try:
        toylab.use_cpu_cores(2)
    except RuntimeError as e:
        out["conflict"] = str(e)
    out["configured"] = snapshot()
    print(json.dumps(out))
""") % dict(env_keys=ENV_KEYS, packages=PACKAGES)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The script's JSON record, run in a clean environment (no device or BLAS choice made,
    a non-default matplotlib backend, so that a forced backend would show)."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["MPLBACKEND"] = "svg"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path_factory.mktemp("fig"))],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("stage", ["imported", "plotted"])
@pytest.mark.parametrize("part", ["env", "jax", "backend", "rc"])
def test_import_and_plotting_leave_global_state_alone(fresh, stage, part):
    before, after = fresh["before"][part], fresh[stage][part]
    if isinstance(before, dict):
        changed = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()
                   if before.get(k) != after.get(k)}
        assert not changed, f"{stage}: {part} changed: {changed}"
    else:
        assert before == after


@pytest.mark.parametrize("stage", ["imported", "plotted"])
def test_import_leaves_blas_threads_alone(fresh, stage):
    before, after = fresh["before"]["blas"], fresh[stage]["blas"]
    assert before, "no BLAS library found to check"
    assert {lib: after[lib] for lib in before} == before


def test_use_cpu_cores_sets_devices_blas_and_child_environment(fresh):
    assert fresh["first"] == fresh["devices"] == 3
    assert fresh["again"] == [3, 3]  # idempotent; None keeps the count in effect
    configured = fresh["configured"]
    assert configured["env"]["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"
    assert configured["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert set(configured["blas"].values()) == {1}


def test_use_cpu_cores_refuses_to_change_a_started_backend(fresh):
    message = fresh["conflict"]
    assert "n=2" in message and "already started with 3" in message and "n=3" in message


def test_use_cpu_cores_keeps_other_xla_flags(monkeypatch):
    import jax

    n = len(jax.devices("cpu"))  # the conftest's choice; JAX has started
    monkeypatch.setenv("XLA_FLAGS", f"--xla_foo=1 --xla_force_host_platform_device_count={n + 5}")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert toylab.use_cpu_cores(n) == n
    assert os.environ["XLA_FLAGS"] == f"--xla_foo=1 --xla_force_host_platform_device_count={n}"


@pytest.mark.parametrize("n, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      (True, TypeError), ("2", TypeError)])
def test_use_cpu_cores_rejects_bad_counts(n, error):
    with pytest.raises(error, match=f"n={n!r}" if error is TypeError else f"n={n}"):
        toylab.use_cpu_cores(n)
