"""The density-vs-boundary study: its worlds keep what they claim to keep, its closed-form
movement measures agree with sampling, the quick run holds headline objects."""

import numpy as np
import pytest
import scipy.stats

from studies import density_vs_boundary as study
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_tilts_keep_the_posterior_and_relabellings_keep_the_density():
    base = study.Cell(world_name="base").distribution()
    X = base.sample(0, 500).X
    post = lambda d: d.class_posterior(X)  # noqa: E731
    for w in study.TILTS:
        d = study.Cell(world_name=w).distribution()
        np.testing.assert_allclose(post(d), post(base), atol=1e-9)
        assert not np.allclose(d.log_density(X), base.log_density(X))
    for w in study.RELABELS:
        d = study.Cell(world_name=w).distribution()
        np.testing.assert_array_equal(d.log_density(X), base.log_density(X))
        assert np.abs(post(d) - post(base)).max() > 0.5


def test_orthant_matches_scipy():
    rng = np.random.default_rng(1)
    for h, k, r in zip(rng.normal(size=8), rng.normal(size=8), rng.uniform(-0.95, 0.95, 8)):
        ref = scipy.stats.multivariate_normal([0, 0], [[1, r], [r, 1]]).cdf([h, k])
        assert study.orthant(h, k, r) == pytest.approx(ref, abs=1e-7)


def test_fold_movement_agrees_with_monte_carlo():
    dist = study.Cell(world_name="base").distribution()
    rng = np.random.default_rng(2)
    WA, bA = rng.normal(size=(5, 2)), rng.normal(size=5)
    WB, bB = WA + 0.4 * rng.normal(size=(5, 2)), bA + 0.4 * rng.normal(size=5)
    exact = study.fold_movement(WA, bA, WB, bB, dist)
    X = dist.sample(3, 400_000).X
    dA = (X @ WA.T + bA) / np.linalg.norm(WA, axis=1)
    dB = (X @ WB.T + bB) / np.linalg.norm(WB, axis=1)
    np.testing.assert_allclose(exact[1], np.abs(dA - dB).mean(0), rtol=0.02)
    np.testing.assert_allclose(exact[2], ((dA > 0) != (dB > 0)).mean(0), atol=0.004)
    np.testing.assert_allclose(study.active_mass(WA, bA, dist), (dA > 0).mean(0), atol=0.004)
    same = study.fold_movement(WA, bA, 3 * WA, 3 * bA, dist)  # rescaled: the same fold
    np.testing.assert_allclose(same, 0.0, atol=1e-6)


def test_quick_run_headlines(quick):
    config, result = quick
    s = result.summary
    assert s["paired_init_identical"] is True
    for setting, mv in s["movement"].items():
        for m in study.MEASURES:
            for key in ("px_change", "pyx_change"):
                h = mv[m][key]
                assert h["n"] >= 2 and h["ci95"][0] <= h["value"] <= h["ci95"][1]
                assert "null" in h
    for w in study.WORLDS:
        assert set(s["worlds"][w]) >= {"priors", "bayes_error", "spread_sqrt_det_cov"}
        assert s["excess_risk"][w]["value"] >= -1e-9
    ranks = s["atlas"]["base"]["ranks"]
    assert all(-1 <= h["value"] <= 1 for h in ranks.values() if h["n"])


def test_every_world_has_its_own_sample_stream(quick):
    """Each world and the resample cell draw their own samples (same init, other data), so
    the resample cell's trained first layers differ from the base cell's."""
    config, result = quick
    names = study.WORLDS + ("resample",)
    assert len({config.world_seed(w) for w in names}) == len(names)
    assert np.all(result.arrays["movement_base_resample"][:, 0] > 0)


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_and_atlas_csv_are_written(quick, tmp_path):
    config, result = quick
    paths = write_figures(study, result, tmp_path)
    stems = {p.stem for p in paths}
    assert {"worlds", "movement", "regions", "atlas", "neurons"} <= stems
    csvs = [p for p in paths if p.suffix == ".csv"]
    assert len(csvs) == config.atlas_seeds
    text = csvs[0].read_text().splitlines()
    assert text[0].startswith("layer,index,") and len(text) == 1 + config.train.widths[1]
