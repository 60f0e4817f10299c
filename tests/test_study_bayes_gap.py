"""Study ``bayes-gap``: quick-mode smoke test; no network beats the Bayes classifier (excess
risk >= -bound); a ReLU net with exactly the Bayes boundary has zero excess and distance."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from studies import bayes_gap as study
from toylab import data


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_and_arrays(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert {"seeds", "diverged", "bayes_error", "min_excess_risk", "never_beats_bayes"} <= set(s)
    shape = (len(config.distributions), len(config.n_trains), len(config.widths), config.seeds)
    assert a["excess"].shape == a["hausdorff"].shape == a["hausdorff_core"].shape == shape
    for name in config.distributions:
        assert len(s[name]["excess_median"]) == len(config.widths)
        assert len(s[name]["excess_median"][0]) == len(config.n_trains)
    assert s["max_error_bound"] < 1e-9


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = study.make_figures(result, tmp_path)
    assert len(paths) == 6 and all(p.stat().st_size > 0 for p in paths)


def test_trained_nets_never_beat_bayes(quick):
    _, result = quick
    a = result.arrays
    kept = np.isfinite(a["excess"])
    assert np.all(a["excess"][kept] >= -a["error_bound"][kept])
    assert result.summary["never_beats_bayes"] is True
    assert np.all(a["hausdorff"][kept] >= 0)


def _bayes_relu(scale):
    """relu(x0) - relu(-x0) = x0: logits (-s x0, s x0) put the boundary exactly at x0 = 0,
    the Bayes boundary of ``two_gaussians``."""
    W0 = np.array([[1.0, -1.0], [0.0, 0.0]])
    W1 = scale * np.array([[-1.0, 1.0], [1.0, -1.0]])
    return [(W0, np.zeros(2)), (W1, np.zeros(2))]


def test_a_net_with_the_bayes_boundary_has_zero_gap():
    dist = data.two_gaussians()
    excess, bound, haus, tol, core = study.exact_gap(_bayes_relu(3.0), dist, "relu", 0.05)
    assert abs(excess) <= bound and haus <= tol and core <= tol


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10**6), name=st.sampled_from(["two_gaussians", "curved"]))
def test_random_nets_never_beat_bayes(seed, name):
    rng = np.random.default_rng(seed)
    net = [(rng.normal(size=(2, 6)), rng.normal(size=6)), (rng.normal(size=(6, 2)), rng.normal(size=2))]
    excess, bound, haus, _, core = study.exact_gap(net, data.make(name), "relu", 0.05)
    assert excess >= -bound and haus >= 0 and core >= 0
