"""Study featureviz-fidelity: quick-mode smoke test and the properties its conclusion rests on."""


import numpy as np
import pytest

from studies import featureviz_fidelity as study


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_has_stable_keys_and_figures(quick, tmp_path):
    config, result = quick
    s = result.summary
    assert set(s["overall"]) == set(study.METRICS) and s["diverged"] == {}
    assert list(s["cells"]) == [c.key for c in config.cells()]
    for metric in study.METRICS:
        assert s["overall"][metric]["mean"] is not None
    paths = study.make_figures(result, tmp_path)
    assert {p.name for p in paths} >= {"success.png", "gaps.png", "examples.pdf"}


def test_exact_maximum_is_never_beaten_and_scores_are_consistent(quick):
    """The exact maximiser beats every feature-visualisation result; found <=> gap <= tol."""
    config, result = quick
    key = config.cells()[0].key
    a = {k.split("__")[1]: v for k, v in result.arrays.items() if k.startswith(f"{key}__")}
    ex = {k.split("__")[1]: v for k, v in result.arrays.items() if k.startswith("example__")}
    live = ~a["constant"]
    assert np.all(a["fv_gap"][live] >= -1e-12)
    np.testing.assert_array_equal(a["fv_found"][live] == 1, a["fv_gap"][live] <= config.tol)
    assert np.all(ex["max"][live] >= -1e-12)  # relu: the maximum is at least 0
    assert np.all(a["quantile_gap"][live] >= -1e-9) and np.all(a["quantile_gap"][live] <= 1)
    assert np.all(a["fv_start_rate"][live] <= 1) and np.all(a["fv_start_rate"][live] >= 0)
