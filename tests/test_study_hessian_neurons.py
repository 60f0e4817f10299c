"""Study ``hessian-neurons``: quick-mode smoke test; the boundary flux it reports bounds the
library's independent population-accuracy rate; spectrum and direction bookkeeping."""

import numpy as np
import pytest

from studies import hessian_neurons as study
from toylab.exact.population import population_partition
from toylab.landscape import first_order_change, hessian
from toylab.results import StudyResult, config_dict


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    config = study.Config.quick()
    summary, arrays = study.compute(config)
    path = tmp_path_factory.mktemp("hessian_neurons")
    return config, StudyResult(study.NAME, config_dict(config), summary, arrays, path)


def test_quick_summary_and_arrays(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert {"seeds", "diverged", "n_params", "per_seed", "median", "top_over_bulk"} <= set(s)
    S = len(a["kept"])
    n_dirs = config.top_store + config.bulk_samples
    P = s["n_params"]
    assert a["eigenvalues"].shape == (S, P) and a["ratio"].shape == (S, n_dirs)
    assert a["fold_flux"].shape == (S, n_dirs, sum(config.widths[1:-1]))
    assert np.all(np.diff(a["eigenvalues"], axis=1) <= 0)  # descending
    assert np.all(a["top"].sum(1) == np.minimum(a["outliers"], config.top_store))
    np.testing.assert_array_equal(a["indices"][0], study.direction_indices(
        P, config.top_store, config.bulk_samples))


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = study.make_figures(result, tmp_path)
    assert len(paths) == 6 and all(p.stat().st_size > 0 for p in paths)


def test_boundary_flux_bounds_the_accuracy_rate(quick):
    """|d acc / d eps| = |sum int w (p_j - p_k) ds| <= int |w| p ds, the study's boundary flux;
    the rate comes from the library's quadrature, the flux from closed-form line integrals."""
    config, result = quick
    a = result.arrays
    dist = config.distribution_()
    net = [(a[f"W{d}"][0].astype(float), a[f"b{d}"][0].astype(float))
           for d in range(len(config.widths) - 1)]
    H = hessian(net, a["X"], a["y"], activation=config.activation)
    top = a["eigenvectors"][0, :, 0]
    np.testing.assert_allclose(top @ (H @ top), a["eigenvalues"][0, 0], rtol=1e-8)
    p = population_partition(net, dist, activation=config.activation)
    rate = first_order_change(p, top, dist=dist).accuracy_rate
    flux = a["boundary_flux"][0, 0]
    assert abs(rate) <= flux * (1 + 1e-9) + 1e-12
