"""Study ``bulk-scaling``: quick-mode smoke test, its spectra against an independent dense
Hessian (jax.hessian of the whole loss, numpy.linalg.eigvalsh), the null-space and rank
bounds, and the outlier / bulk split on a constructed spectrum."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toylab.landscape as L
from studies import bulk_scaling as study
from toylab.compare.regions import pattern_of
from toylab.models import apply, flatten, n_params, unflatten
from toylab.study import Context, compute_result, load_layers


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """``(config, result, root)``: the quick config computed once under a temporary root
    (its cells stay cached there, so members' networks can be reloaded)."""
    root = tmp_path_factory.mktemp("bulk")
    config = study.Config.quick()
    result, _ = compute_result(study, config, results_root=root)
    return config, result, root


def test_quick_summary_holds_headline_objects(quick):
    config, result, _ = quick
    worlds = result.summary["by_world"]
    assert [w["world"] for w in worlds] == ["separated", "overlapping"]
    for w in worlds:
        family = w["families"]["one"]
        assert family["P"] == [n_params((2, h, 3)) for h in config.widths] == [51.0, 99.0]
        assert family["seeds_kept"] == config.seeds
        for r in family["by_architecture"]:
            assert r["diverged"] == []
            for m in study.MEASURES + ("outliers_shuffled", "outliers_near_C",
                                       "gauss_newton_rank", "eta_lambda_max"):
                h = r[m]
                assert h["n"] == config.seeds and h["ci95"][0] <= h["value"] <= h["ci95"][1]
            assert r["top"]["null"]["n"] == config.seeds
            assert len(r["outliers_per_seed"]) == config.seeds
            assert r["nonzero_sweep"]["thresholds"] == list(study.NULL_CUTS)
        for m in study.SLOPED:
            s = family["slopes"][m]
            assert s["n"] == config.seeds and s["ci95"][0] <= s["value"] <= s["ci95"][1]
            assert s["null"]["n"] == config.seeds


def test_spectra_match_an_independent_dense_hessian(quick):
    """A stored final spectrum (layer-factored Hessian, LAPACK) equals the eigenvalues of
    jax.hessian of the whole mean loss at the stored network, and so do its measures."""
    config, result, root = quick
    preset, k = config.worlds[1]
    hidden = config.architectures()[0]
    cell = config.cell(preset, k, hidden)
    stored = Context(study.NAME, root).train_cells([cell], study.analyse)[0]
    member = 2
    net = load_layers(stored, member)
    X, y = cell.training_data()
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(np.float64(X[member])), jnp.asarray(y[member])

        def loss(theta):
            z = apply(unflatten(theta, cell.train.widths), Xj, "relu")
            return jnp.mean(jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, yj[:, None], 1)[:, 0])

        H = np.asarray(jax.jit(jax.hessian(loss))(jnp.asarray(flatten(net), jnp.float64)))
    lam = np.linalg.eigvalsh((H + H.T) / 2)[::-1]
    key = study.cell_key(preset, k, hidden)
    got = result.arrays[f"final__{key}"][member]
    np.testing.assert_allclose(got, lam, atol=1e-11 * lam[0])
    measures = study.spectrum_measures(lam, max_outliers=config.max_outliers,
                                       null_cut=config.null_cut)
    assert result.arrays[f"final_outliers__{key}"][member] == measures["outliers"]
    assert result.arrays[f"final_bulk_edge__{key}"][member] == pytest.approx(
        measures["bulk_edge"], rel=1e-6)


def test_counts_respect_the_symmetry_and_rank_bounds(quick):
    """Every member: non-zero eigenvalues of H <= P - w - 1 (softmax shift invariance of the
    last layer) and rank G <= its bound; the outlier count on shuffled labels is stored."""
    config, result, _ = quick
    for preset, k in config.worlds:
        for hidden in config.architectures():
            key = study.cell_key(preset, k, hidden)
            P = n_params((2, *hidden, k))
            assert np.all(result.arrays[f"final_nonzero__{key}"] <= P - hidden[-1] - 1)
            assert np.all(result.arrays[f"gauss_newton_rank__{key}"]
                          <= result.arrays[f"rank_bound__{key}"])
            assert result.arrays[f"shuffled__{key}"].shape == (config.seeds, P)


@pytest.mark.parametrize("spread, n, expected", [
    (1e-3, 40, 6),     # one linear region: (d + 1)(C - 1) = 6 directions
    (3.0, 2, 4),       # two points: n (C - 1) = 4
])
def test_gauss_newton_rank_attains_its_bound(spread, n, expected):
    """On generic data the rank of G equals gauss_newton_rank_bound: with every point in one
    linear region, and with fewer points than regions allow."""
    rng = np.random.default_rng(5)
    widths = (2, 16, 3)
    net = [(rng.normal(size=(a, b)) / np.sqrt(a), rng.normal(size=b))
           for a, b in zip(widths[:-1], widths[1:])]
    X = np.array([0.3, -0.2]) + spread * rng.normal(size=(n, 2))
    y = rng.integers(0, 3, n)
    regions = len(np.unique(pattern_of(net, X, activation="relu"), axis=0))
    G = L.curvature_matrix(net, X, y, curvature="gauss_newton", activation="relu")
    g = np.linalg.eigvalsh((G + G.T) / 2)
    rank = int(np.sum(g > 1e-10 * g.max()))
    assert rank == study.gauss_newton_rank_bound(widths, n, regions) == expected


def test_outliers_and_bulk_on_a_constructed_spectrum():
    lam = np.array([0.005, 10.0, -0.001, 8.0, 1e-18, 6.0, 0.01, 0.0, 0.002])
    m = study.spectrum_measures(lam, max_outliers=5, null_cut=1e-12)
    assert m["outliers"] == 3 and m["top"] == 10.0 and m["outlier_sum"] == 24.0
    assert m["gap"] == pytest.approx(np.log10(6.0 / 0.01))
    assert m["nonzero"] == 7 and m["bulk_count"] == 4       # 1e-18 and 0 are null space
    assert m["bulk_edge"] == 0.01 and m["bulk_width"] == pytest.approx(0.011)
    assert m["bulk_median"] == pytest.approx(0.0035) and m["edge_ratio"] == 0.001
    with pytest.raises(ValueError, match="lambda_max"):
        study.spectrum_measures(-np.abs(lam), max_outliers=5, null_cut=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": (8,)}, "widths="),
    ({"deep_widths": (8,)}, "deep_widths="),
    ({"widths": (8, 0)}, "positive hidden widths"),
    ({"null_cut": 2.0}, "null_cut=2.0"),
    ({"max_outliers": 0}, "max_outliers=0"),
    ({"train": replace(study.Config().train, activation="tanh")}, "is smooth"),
])
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        study.Config(**kwargs)


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_drawn(quick):
    config, result, _ = quick
    figs = study.figures(result, config)
    assert set(figs) == {"spectra", "spectra_init", "outliers_vs_P", "scaling"}
    assert all(f.axes for f in figs.values())
