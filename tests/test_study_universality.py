"""Study universality: quick-mode smoke test and the properties its conclusion rests on."""


import numpy as np
import pytest

from studies import universality as study
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_has_headlines_and_figures(quick, tmp_path):
    config, result = quick
    s = result.summary
    assert s["diverged"] == {}
    for cell in config.cells():
        for l in range(config.depth):
            layer = s["cells"][study.cell_key(cell)][f"layer{l}"]
            h = layer["analogue"]
            assert h["n"] == config.seeds and "null" in h and 0 <= h["value"] <= 1
            assert set(layer["threshold_sweep"]) == {f"{t:g}" for t in config.thresholds}
    assert s["corr_bound_median"] < 1e-3 and s["corr_bound_max"] >= s["corr_bound_median"]
    paths = write_figures(study, result, tmp_path)
    assert {p.name for p in paths} >= {"analogues_vs_width.png", "matched_correlations.pdf",
                                       "fold_hausdorff.png", "example_folds.png"}


def test_seed_pairs_cover_each_seed_evenly():
    pairs = study.seed_pairs(20, 2)
    assert len(pairs) == 40 and all(s < t for s, t in pairs)
    counts = np.bincount(np.ravel(pairs), minlength=20)
    assert np.all(counts == 4)
    assert study.seed_pairs(3, 1) == [(0, 1), (0, 2), (1, 2)]


def test_analogue_fraction_falls_as_the_threshold_rises(quick):
    config, result = quick
    for cell in result.summary["cells"].values():
        for layer in cell.values():
            values = [layer["threshold_sweep"][f"{t:g}"]["value"] for t in config.thresholds]
            assert all(a >= b - 1e-12 for a, b in zip(values, values[1:]))


def test_matching_is_symmetric_and_correlations_are_bounded(quick):
    """Both directions of a square Hungarian matching pair the same neurons, so the matched
    correlations agree as multisets; no exact correlation exceeds 1 beyond its bound."""
    config, result = quick
    f = {name: i for i, name in enumerate(study.PAIR_FIELDS)}
    for cell in config.cells():
        stats = result.arrays[f"{study.cell_key(cell)}__stats"]
        for l in range(config.depth):
            ab, ba = stats[:, 0, l], stats[:, 1, l]
            for field in ("matched", "matched_init"):
                x, y = ab[:, f[field]], ba[:, f[field]]
                np.testing.assert_allclose(np.sort(x[np.isfinite(x)]), np.sort(y[np.isfinite(y)]))
            m, bound = ab[:, f["matched"]], ab[:, f["bound"]]
            ok = np.isfinite(m)
            assert np.all(np.abs(m[ok]) <= 1 + bound[ok] + 1e-12)
            assert np.all(ab[:, f["best"]][ok] >= m[ok] - 1e-12)


def test_undecided_flags_live_neurons_whose_bound_straddles_the_threshold():
    f = {name: i for i, name in enumerate(study.PAIR_FIELDS)}
    stats = np.zeros((1, len(study.PAIR_FIELDS), 4))
    stats[0, f["live"]] = [1, 1, 1, 0]
    stats[0, f["matched"]] = [0.95, 0.89, 0.50, 0.90]
    stats[0, f["bound"]] = [0.01, 0.02, 0.30, 5.0]
    # 0.95 +- 0.01 clears 0.9; 0.89 +- 0.02 straddles it; 0.5 +- 0.3 stays below; the
    # fourth is constant (not live) and not counted.
    np.testing.assert_array_equal(study.undecided(stats, 0.9), [False, True, False])


def test_quick_summary_reports_undecided_fractions(quick):
    _, result = quick
    s = result.summary
    assert 0 <= s["undecided"] <= 1
    for cell in s["cells"].values():
        assert all(0 <= layer["undecided"] <= 1 for layer in cell.values())
