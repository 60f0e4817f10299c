"""Study ``edge-of-stability``: quick-mode smoke test, the per-seed phase statistics, and an
independent check of the exact top eigenvalue."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from studies import edge_of_stability as study
from toylab.models import apply, unflatten
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s = result.summary
    assert len(s["by_setting"]) == len(config.settings())
    for r in s["by_setting"]:
        assert r["diverged"] == []
        for field in ("eta_lambda_init", "eta_lambda_max", "edge_fraction", "loss_rises",
                      "overlap_below"):
            h = r[field]
            assert h["n"] >= 1 and h["ci95"][0] <= h["value"] <= h["ci95"][1]


def test_sweep_crosses_the_stability_limit(quick):
    """The small learning rate starts below 2 / lambda_max and its loss never rises; the
    large one starts past it and its loss rises at some steps (the non-monotone phase)."""
    _, result = quick
    low, high = result.summary["by_setting"]
    assert low["eta_lambda_init"]["ci95"][1] < 2 < high["eta_lambda_init"]["ci95"][0]
    assert low["loss_rises"]["value"] == 0 < high["loss_rises"]["value"]


def test_phase_stats_by_hand():
    lam = np.array([1.0, 2.0, 4.0, 3.0])
    got = study.phase_stats(0.5, lam, [0.9, 0.2, 0.8, 0.6], np.array([3.0, 2.0, 2.5, 1.0]))
    assert got["eta_lambda_init"] == 0.5 and got["eta_lambda_max"] == 2.0
    assert got["sharpening"] == 4.0 and got["eta_lambda_final"] == 1.5
    assert got["edge_fraction"] == pytest.approx(1 / 3)          # snapshots 1..3: 1.0, 2.0, 1.5
    assert got["overlap_edge"] == 0.8 and got["overlap_below"] == pytest.approx(0.4)
    assert got["loss_rises"] == pytest.approx(1 / 3)
    assert np.isnan(study.phase_stats(0.1, lam, [0.9] * 4, np.ones(3))["overlap_edge"])


@pytest.mark.slow
def test_lambda_max_matches_a_dense_hessian(quick):
    """The stored lambda_max of the last snapshot (the final network) against jax.hessian of
    the whole loss and numpy.linalg.eigvalsh."""
    config, result = quick
    preset, k, lr = config.settings()[1]
    cell = config.cell(preset, k, lr)
    X, y = cell.training_data()
    key = study.setting_key(preset, k, lr)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(np.float64(X[0])), jnp.asarray(y[0])

        def loss(theta):
            z = apply(unflatten(theta, cell.train.widths), Xj, "relu")
            return jnp.mean(jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, yj[:, None], 1)[:, 0])

        H = np.asarray(jax.hessian(loss)(jnp.asarray(result.arrays[f"params__{key}"][0])))
    assert result.arrays[f"lambda_max__{key}"][0, -1] == pytest.approx(
        np.linalg.eigvalsh(H).max(), rel=1e-8)


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"trajectories", "phases"}
    assert all(p.stat().st_size > 1000 for p in paths)
