"""Study ``dominant-bulk``: quick-mode smoke test and the consistency of its runs."""

import numpy as np
import pytest

from studies import dominant_bulk as study
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    (record,) = result.summary["by_world"]
    assert record["diverged"] == []
    assert set(record["rules"]) == {"gd", "dominant_m5", "bulk_m5"}
    for rule in record["rules"].values():
        for field in ("final_loss", "final_risk", "loss_minus_gd", "risk_minus_gd"):
            h = rule[field]
            assert h["n"] == config.seeds and h["ci95"][0] <= h["value"] <= h["ci95"][1]
        assert rule["eigen_seconds_median"] > 0
    assert record["rules"]["gd"]["loss_minus_gd"]["value"] == 0


def test_float64_gd_tracks_the_harness_kernel(quick):
    """Plain GD of the projected loop (float64) against the harness cell's GD run (float32
    kernel) from the same initial networks and data: the per-step losses agree to float32
    round-off accumulated over the run."""
    config, result = quick
    world = "overlapping_blobs__k3"
    kept = result.arrays[f"kept__{world}"]
    ours = result.arrays[f"loss__gd__{world}"][kept, :-1]
    kernel = result.arrays[f"reference_loss__{world}"][kept]
    np.testing.assert_allclose(ours, kernel, rtol=1e-3)


def test_all_rules_start_from_the_same_networks(quick):
    _, result = quick
    world = "overlapping_blobs__k3"
    first = [result.arrays[f"{f}__{r}__{world}"][:, 0] for r in ("gd", "dominant_m5", "bulk_m5")
             for f in ("loss", "risk")]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first[0], first[4])
    np.testing.assert_array_equal(first[1], first[3])


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"curves"}
    assert all(p.stat().st_size > 1000 for p in paths)
