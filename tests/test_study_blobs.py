"""The blobs study: quick-mode smoke test and the properties its conclusions rest on."""

import re

import numpy as np
import pytest

from studies import blobs
from toylab import models
from toylab.study import kept_members, load_layers, write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(blobs)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s = result.summary
    assert s["seeds"] == config.seeds and s["diverged"] == []
    for key in ("population_accuracy", "excess_risk", "n_regions_domain", "n_regions_mass99"):
        h = s[key]
        assert h["n"] == config.seeds and h["ci95"][0] <= h["value"] <= h["ci95"][1]
        assert h["null"]["n"] == config.seeds
    for key in blobs.MEMBER_STATS:
        assert result.arrays[key].shape == (config.seeds,)


def test_exact_accuracy_agrees_with_held_out_sample(quick):
    """Exact population accuracy vs the empirical accuracy on 20,000 fresh samples: within
    4 binomial standard errors (plus the exact result's own error bound)."""
    config, result = quick
    test = config.world.distribution().sample(12345, 20_000)
    a = result.arrays
    for i in kept_members(result):
        layers = load_layers(result, i)
        empirical = np.mean(np.argmax(models.apply(layers, test.X, "relu"), -1) == test.y)
        exact = a["population_accuracy"][i]
        se = np.sqrt(max(exact * (1 - exact), 1e-6) / len(test.X))
        assert abs(empirical - exact) <= 4 * se + a["error_bound"][i]


def test_training_beats_the_initial_network_null(quick):
    """The null (the same seeds' initial networks) is far from the trained nets."""
    _, result = quick
    h = result.summary["population_accuracy"]
    assert h["ci95"][0] > h["null"]["ci95"][1]


def test_no_seed_beats_bayes(quick):
    _, result = quick
    a = result.arrays
    assert np.all(a["excess_risk"] >= -a["error_bound"])
    assert np.all(a["n_regions_mass99"] >= 1)


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(blobs, result, tmp_path)
    stems = {p.stem for p in paths}
    assert stems == {"boundaries", "neurons", "regions", "curves"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_representatives_export_as_offline_pages(quick, tmp_path):
    """``toylab export blobs`` pages: one per representative seed, self-contained (BokehJS
    inlined, no network resource), with the net's exact region count."""
    from toylab.explore.static import export_html

    config, result = quick
    reps = blobs.representatives(result)
    assert [r.label for r in reps] == [f"seed{i}" for i in range(min(3, config.seeds))]
    page = export_html(reps[0].layers, reps[0].dist, tmp_path / "p.html",
                       activation=reps[0].activation).read_text()
    tags = re.findall(r"<(?:script|link)[^>]*>", page)
    assert "Bokeh" in page and tags and not any("http" in tag for tag in tags)
