"""Study neurons-vs-boundary: quick-mode smoke test and the properties its conclusion rests on."""


import numpy as np
import pytest
import sympy

from studies import neurons_vs_boundary as study
from toylab.compare.neurons import KINDS, neuron_profile


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_has_stable_keys_and_figures(quick, tmp_path):
    config, result = quick
    s = result.summary
    assert set(s["factors"]) == set(study.FACTORS) and s["labels"] == list(study.LABELS)
    for factor, stats in s["factors"].items():
        n = len(getattr(config, study.FACTORS[factor]))
        assert len(stats["levels"]) == n
        assert all(len(stats[label]["mean"]) == n for label in study.LABELS)
    assert set(s["base"]) == set(study.LABELS) and s["diverged"] == {}
    assert s["quadrature_converged"] and s["corr_error_max"] < 0.05
    paths = study.make_figures(result, tmp_path)
    assert {p.name for p in paths} >= {"kinds_vs_factors.png", "correlations.pdf", "folds.png"}
    assert all(p.stat().st_size > 0 for p in paths)


def test_kind_fractions_partition_the_neurons(quick):
    _, result = quick
    rows = result.arrays["base_fractions"]
    np.testing.assert_allclose(rows[:, : len(KINDS)].sum(1), 1.0)
    assert np.all((rows >= 0) & (rows <= 1))


def test_stored_profiles_are_reproduced_from_the_stored_weights(quick):
    """Determinism: the exact profile of a stored net is recomputed bit for bit (moments) and
    within the quadrature tolerance (correlations)."""
    config, result = quick
    a = result.arrays
    seed = int(a["base_kept"][0])
    net = [(a[f"base_W{d}"][seed].astype(float), a[f"base_b{d}"][seed].astype(float))
           for d in range(config.depth + 1)]
    prof = neuron_profile(net, config.cell().distribution(), activation=config.activation,
                          rtol=config.rtol)
    np.testing.assert_array_equal(prof.mean, a["base_mean"][0])
    np.testing.assert_allclose(prof.corr, a["base_corr"][0], equal_nan=True, atol=1e-12)


@pytest.mark.parametrize("anisotropy", [1.0, 3.0, 9.0])
def test_tilted_family_has_a_linear_bayes_boundary_tilted_against_the_means(anisotropy):
    """The design premise: a linear Bayes boundary (so log-odds and signed Bayes distance are
    the same target) whose normal Sigma^-1 (mu_1 - mu_0) turns away from the mean difference
    as the anisotropy grows (it is along it only for an isotropic covariance)."""
    dist = study.tilted(2.0, anisotropy, 30.0)
    x = sympy.symbols("x0:2", real=True)
    assert sympy.Poly(dist.bayes_boundary(0, 1, symbols=x), *x).total_degree() == 1
    diff = dist.means[1] - dist.means[0]
    normal = np.linalg.solve(dist.covs[0], diff)
    cos = normal @ diff / np.linalg.norm(normal) / np.linalg.norm(diff)
    assert np.linalg.det(dist.covs[0]) == pytest.approx(1.0)
    assert cos == pytest.approx(1.0) if anisotropy == 1 else cos < 0.9
