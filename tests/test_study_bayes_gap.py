"""Study ``bayes-gap``: quick-mode smoke test; no network beats the Bayes classifier (excess
risk >= -bound); a ReLU net with exactly the Bayes boundary has zero excess and distance."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from studies import bayes_gap as study
from toylab import data
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_and_arrays(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert {"seeds", "diverged", "bayes_error", "never_beats_bayes"} <= set(s)
    shape = (len(config.distributions), len(config.n_trains), len(config.widths), config.seeds)
    assert a["excess"].shape == a["hausdorff"].shape == a["hausdorff_core"].shape == shape
    assert a["baselines"].shape == shape + (len(study.BASELINES),)
    for name in config.distributions:
        for width in config.widths:
            curve = s[name]["by_width"][str(width)]["curves"]["excess"]
            assert len(curve) == len(config.n_trains)
            assert all(c["n"] == config.seeds and c["ci95"][0] <= c["value"] <= c["ci95"][1]
                       for c in curve)
        for b in study.BASELINES:
            assert len(s[name]["baselines"][b]) == len(config.n_trains)
    assert s["max_error_bound"] < 1e-9


def test_baselines_never_beat_bayes_and_lda_is_near_bayes_on_shared_covariances(quick):
    """LDA is the plug-in Bayes rule of two shared-covariance Gaussians: its excess risk is
    non-negative and small at n = 64; logistic regression is also non-negative."""
    config, result = quick
    base = result.arrays["baselines"]
    assert np.all(base[np.isfinite(base)] >= -1e-12)
    d = config.distributions.index("two_gaussians")
    assert np.nanmedian(base[d, ..., 0]) < 0.02


def test_lda_of_the_population_is_the_bayes_rule():
    """LDA fitted to a huge sample of two_gaussians has (almost) zero exact excess risk."""
    dist = data.two_gaussians()
    sample = dist.sample(7, 200_000)
    net = study.lda(sample.X, sample.y)
    excess = study.excess_risk(study.population_partition(net, dist, activation="linear"), dist)
    assert 0 <= excess.value + excess.error_bound and excess.value < 1e-4


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
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
