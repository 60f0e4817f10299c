"""Study featureviz-fidelity: quick-mode smoke test and the properties its conclusions rest on."""

import numpy as np
import pytest

from studies import featureviz_fidelity as study
from toylab.compare.featureviz import feature_visualisation
from toylab.data import make
from toylab.study import kept_members, load_layers, write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


@pytest.fixture(scope="module")
def cell(quick):
    """The first cell's stored arrays (``example__`` stripped) and its kept members."""
    _, result = quick
    a = {k[len("example__"):]: v for k, v in result.arrays.items() if k.startswith("example__")}
    return a, kept_members(a)


def _is_headline(h, n):
    return h["n"] == n and h["ci95"][0] <= h["value"] <= h["ci95"][1]


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s = result.summary
    assert s["diverged"] == {} and s["domains"] == config.domain_labels()
    assert list(s["cells"]) == [study.cell_key(c) for c in config.cells()]
    for label in s["domains"]:
        assert set(s["overall"][label]) == set(study.METRICS)
        for h in s["overall"][label].values():
            assert _is_headline(h, config.seeds)
    for metric in study.HEADLINE_METRICS:
        assert s[metric] == s["overall"][s["domains"][0]][metric]
        assert _is_headline(s[f"{metric}_on_core"], config.seeds)
    for label in s["domains"][1:]:
        assert set(s["subjectivity"][label]) == set(study.SUBJECTIVITY)
    assert list(s["regulariser"]) == [f"lambda {lam:g}" for lam in config.density_weights]
    for metrics in s["regulariser"].values():
        assert set(metrics) == set(study.REGULARISED)
        assert all(_is_headline(h, config.seeds) for h in metrics.values())


def test_exact_maximum_is_never_beaten_and_scores_are_consistent(quick, cell):
    """On every domain the exact maximiser beats every feature-visualisation result;
    found <=> gap <= tol; quantile and rate scores lie in [0, 1]."""
    config, _ = quick
    a, kept = cell
    for d in range(len(config.domain_labels())):
        live = a[f"d{d}__constant"][kept] == 0
        gap = a[f"d{d}__fv_gap"][kept][live]
        assert np.all(gap >= -1e-12)
        np.testing.assert_array_equal(a[f"d{d}__fv_found"][kept][live] == 1, gap <= config.tol)
        assert np.all(a[f"d{d}__max"][kept][live] >= -1e-12)  # relu: the maximum is >= 0
        q = a[f"d{d}__quantile_gap"][kept][live]
        assert np.all(q >= -1e-9) and np.all(q <= 1)
        rate = a[f"d{d}__fv_start_rate"][kept][live]
        assert np.all((rate >= 0) & (rate <= 1))


@pytest.mark.parametrize("name", ["xor", "curved", "blobs"])
def test_domains_are_the_scaled_box_and_the_data_core(name):
    """The reference domain is the plotting box; a core box holds all but its stated mass and
    lies inside the plotting box (so maxima on it can only be lower)."""
    dist = make(name)
    boxes = study.domains(dist, (1.0, 2.0), (0.01,))
    np.testing.assert_array_equal(boxes[0], dist.domain)
    np.testing.assert_allclose(boxes[1][:, 1] - boxes[1][:, 0],
                               2 * (dist.domain[:, 1] - dist.domain[:, 0]))
    assert dist.mass_outside(boxes[2]) <= 0.01
    assert np.all(boxes[2][:, 0] >= boxes[0][:, 0]) and np.all(boxes[2][:, 1] <= boxes[0][:, 1])


def test_maximum_on_the_core_is_at_most_the_box_maximum(quick, cell):
    """The core lies inside the box, so every neuron's exact core maximum is at most its box
    maximum, and the best visualised point on the core lies in the core."""
    config, _ = quick
    a, kept = cell
    d = len(config.box_scales)
    core = study.domains(make(config.distributions[0]), config.box_scales, config.core_masses)[d]
    live = a[f"d{d}__constant"][kept] == 0
    assert np.all(a[f"d{d}__max"][kept][live] <= a["d0__max"][kept][live] + 1e-12)
    pts = a[f"d{d}__fv_best_point"][kept][live]
    assert np.all((pts >= core[:, 0] - 1e-6) & (pts <= core[:, 1] + 1e-6))


def test_interpretation_reads_each_mean_as_its_own_component():
    dist = make("xor")
    np.testing.assert_array_equal(study.interpretation(dist, dist.means),
                                  np.arange(dist.n_components))


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"success", "gaps", "examples", "subjectivity"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_regularised_visualisation_without_weight_is_the_plain_one(quick, cell):
    """With lambda = 0 the regularised ascent is feature visualisation as the library does it
    (same starts, same float32 steps): the points agree to float32 round-off."""
    config, _ = quick
    a, kept = cell
    dist = make(config.distributions[0])
    net = load_layers(a, kept[0])
    kwargs = dict(activation="relu", starts=3, steps=40, step_size=config.fv_step_size, seed=5)
    plain = feature_visualisation(net, dist.domain, **kwargs)
    mine = study.regularised_visualisation(net, dist.domain, dist, 0.0, **kwargs)
    np.testing.assert_allclose(mine, plain, atol=1e-5)


def test_regularised_points_stay_in_the_box_and_score_no_higher_than_the_max(quick, cell):
    config, _ = quick
    a, kept = cell
    box = make(config.distributions[0]).domain
    for r in range(len(config.density_weights)):
        pts = a[f"r{r}__best_point"][kept]
        assert np.all((pts >= box[:, 0]) & (pts <= box[:, 1]))
        live = a["d0__constant"][kept] == 0
        assert np.all(a[f"r{r}__best_value"][kept][live] <= a["d0__max"][kept][live] + 1e-12)
