"""Study ``tiny-subspace``: quick-mode smoke test and an independent check of its headline."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from studies import tiny_subspace as study
from toylab import data
from toylab.models import apply, unflatten
from toylab.results import StudyResult, config_dict


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    config = study.Config.quick()
    summary, arrays = study.compute(config)
    path = tmp_path_factory.mktemp("tiny_subspace")
    return config, StudyResult(study.NAME, config_dict(config), summary, arrays, path)


def test_quick_summary_has_stable_keys_and_sane_values(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert set(s) >= {"outliers", "overlap", "overlap_training", "neurons", "settings",
                      "by_setting", "primary"}
    assert set(s["outliers"]) == {str(k) for k in config.ks}
    assert set(s["overlap"]) == set(config.optimizers)
    for opt in config.optimizers:
        assert set(s["overlap"][opt]) == {str(k) for k in config.ks}
        assert all(0 <= v <= 1 for v in s["overlap"][opt].values())
    assert all(1 <= v <= config.max_outliers for v in s["outliers"].values())
    T = config.steps // config.snapshot_every + 1
    for r in s["by_setting"]:
        key = study.setting_key(r["dataset"], r["activation"], r["optimizer"], r["k"])
        S = config.seeds - len(r["diverged"])
        P = a[f"params__{key}"].shape[1]
        assert a[f"overlap__{key}"].shape == (S, T)
        assert a[f"top__{key}"].shape == (S, P, r["k"])
        assert a[f"spectrum__{key}"].shape == (S, P)
        np.testing.assert_allclose(a[f"stability__{key}"][:, -1], 1.0, rtol=1e-12)
        np.testing.assert_allclose(a[f"shares__{key}"].sum(1), 1.0, rtol=1e-12)


def test_final_overlap_matches_an_independent_dense_hessian(quick):
    """Recompute the headline overlap with jax.hessian (reverse-over-forward on the whole
    loss, not the chunked HVP path) and numpy.linalg.eigh."""
    config, result = quick
    r = result.summary["by_setting"][0]
    key = study.setting_key(r["dataset"], r["activation"], r["optimizer"], r["k"])
    widths = (2, *config.hidden, r["k"])
    sample = data.make(r["dataset"], k=r["k"]).sample(config.data_seed, config.n_train)
    with jax.enable_x64(True):
        X, y = jnp.asarray(sample.X), jnp.asarray(sample.y)

        def loss(theta):
            z = apply(unflatten(theta, widths), X, r["activation"])
            return jnp.mean(jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, y[:, None], 1)[:, 0])

        theta = jnp.asarray(result.arrays[f"params__{key}"][0])
        H = np.asarray(jax.jit(jax.hessian(loss))(theta))
        g = np.asarray(jax.jit(jax.grad(loss))(theta))
    lam, V = np.linalg.eigh(H)
    top = V[:, -r["k"]:]
    expected = np.sum((top.T @ g) ** 2) / (g @ g)
    assert result.arrays[f"overlap__{key}"][0, -1] == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(result.arrays[f"spectrum__{key}"][0], lam[::-1],
                               atol=1e-12 * np.abs(lam).max())


def test_figures_are_written(quick, tmp_path):
    config, result = quick
    paths = study.make_figures(result, tmp_path)
    stems = {p.stem for p in paths}
    assert {"outliers_vs_k", "stability"} <= stems
    assert {f"spectrum_blobs_k{k}" for k in config.ks} <= stems
    assert {p.suffix for p in paths} == {".pdf", ".png"}
    assert all(p.stat().st_size > 0 for p in paths)
