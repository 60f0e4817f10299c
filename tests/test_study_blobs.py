"""The blobs study: quick-mode smoke test and the properties its conclusions rest on."""

import numpy as np
import pytest

from studies import blobs
from toylab import models
from toylab.results import save_result


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    config = blobs.Config.quick()
    summary, arrays = blobs.compute(config)
    return config, save_result(tmp_path_factory.mktemp("res") / "blobs", "blobs", config,
                               summary, arrays)


def test_quick_summary_has_stable_keys(quick_result):
    config, result = quick_result
    s = result.summary
    for key in ("bayes_error", "seeds", "diverged", "final_train_accuracy_median",
                "test_accuracy_median", "population_accuracy_median", "excess_risk_median"):
        assert key in s
    assert s["seeds"] == config.seeds and s["diverged"] == []
    for key in ("population_accuracy", "excess_risk", "n_regions_domain", "n_regions_mass99"):
        assert len(s["regions"][key]) == config.seeds


def test_exact_accuracy_agrees_with_held_out_sample(quick_result):
    """Exact population accuracy vs the empirical accuracy on 20,000 fresh samples: within
    4 binomial standard errors (plus the exact result's own error bound)."""
    config, result = quick_result
    dist = config.distribution()
    test = dist.sample(12345, 20_000)
    regions = result.summary["regions"]
    for i in range(config.seeds):
        layers = blobs.member_layers(result, i)
        empirical = np.mean(np.argmax(models.apply(layers, test.X, "relu"), -1) == test.y)
        exact = regions["population_accuracy"][i]
        se = np.sqrt(max(exact * (1 - exact), 1e-6) / len(test.X))
        assert abs(empirical - exact) <= 4 * se + regions["error_bound"][i]


def test_no_seed_beats_bayes(quick_result):
    _, result = quick_result
    regions = result.summary["regions"]
    assert all(e >= -b for e, b in zip(regions["excess_risk"], regions["error_bound"]))
    assert all(m >= 1 for m in regions["n_regions_mass99"])


def test_figures_are_written(quick_result, tmp_path):
    _, result = quick_result
    paths = blobs.make_figures(result, tmp_path)
    stems = {p.stem for p in paths}
    assert stems == {"boundaries", "neurons", "regions", "curves"}
    assert all(p.stat().st_size > 1000 for p in paths)
