"""Study ``tiny-subspace``: quick-mode smoke test and independent checks of its headlines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toylab.landscape as L
from studies import tiny_subspace as study
from toylab.models import apply, unflatten
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    settings = config.settings()
    assert len(s["by_setting"]) == len(settings)
    # the sweep adds SGD at the other batch size, at the same learning rate as GD and SGD
    labels = {r["optimizer"] for r in s["by_setting"]}
    assert labels == {"gd", "sgd", "sgd-b8"}
    assert {r["learning_rate"] for r in s["by_setting"]} == {config.train.learning_rate}
    T = config.train.steps // config.train.snapshot_every + 1
    for r in s["by_setting"]:
        assert r["diverged"] == []
        for field in ("outliers", "outliers_equal_k", "overlap_final", "overlap_training"):
            h = r[field]
            assert h["n"] == config.seeds and h["ci95"][0] <= h["value"] <= h["ci95"][1]
            assert h["null"]["n"] == config.seeds
        assert 0 <= r["overlap_final"]["value"] <= 1
        assert all(1 <= c <= config.max_outliers for c in r["outliers_per_seed"])
        key = study.setting_key(r["dataset"], r["activation"], r["optimizer"], r["k"])
        P = a[f"spectrum__{key}"].shape[1]
        assert a[f"overlap__{key}"].shape == (config.seeds, T)
        assert a[f"top__{key}"].shape == (config.seeds, P, r["k"])
        np.testing.assert_allclose(a[f"stability__{key}"][:, -1], 1.0, rtol=1e-12)
        np.testing.assert_allclose(a[f"shares__{key}"].sum(1), 1.0, rtol=1e-12)


def test_worlds_are_labelled_by_their_bayes_error(quick):
    """blobs(3) is separated (Bayes error 1.5e-5), overlapping_blobs(3) is not (0.16)."""
    _, result = quick
    s = result.summary
    assert s["bayes_error"]["blobs"]["3"] == pytest.approx(1.4834e-5, rel=1e-3)
    assert s["world"] == {"blobs": {"3": "separated"}, "overlapping_blobs": {"3": "overlapping"}}


def test_seeds_have_independent_training_samples(quick):
    config, _ = quick
    X, _ = config.cell("blobs", 3, "relu", "gd").training_data()
    assert not np.allclose(X[0], X[1])


def test_final_overlap_and_spectrum_match_an_independent_dense_hessian(quick):
    """Recompute a member's final overlap and spectrum with jax.hessian (reverse-over-forward on
    the whole loss, not the layer-factored path) and numpy.linalg.eigh."""
    config, result = quick
    dataset, k, activation, label = setting = config.settings()[0]
    cell = config.cell(*setting)
    key = study.setting_key(dataset, activation, label, k)
    X, y = cell.training_data()
    member = 1
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(np.float64(X[member])), jnp.asarray(y[member])

        def loss(theta):
            z = apply(unflatten(theta, cell.train.widths), Xj, activation)
            return jnp.mean(jax.nn.logsumexp(z, -1) - jnp.take_along_axis(z, yj[:, None], 1)[:, 0])

        theta = jnp.asarray(result.arrays[f"params__{key}"][member])
        H = np.asarray(jax.jit(jax.hessian(loss))(theta))
        g = np.asarray(jax.jit(jax.grad(loss))(theta))
    lam, V = np.linalg.eigh(H)
    expected = np.sum((V[:, -k:].T @ g) ** 2) / (g @ g)
    assert result.arrays[f"overlap__{key}"][member, -1] == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(result.arrays[f"spectrum__{key}"][member], lam[::-1],
                               atol=1e-12 * np.abs(lam).max())
    assert result.arrays[f"outliers__{key}"][member] == L.count_outliers(
        lam, max_count=config.max_outliers)


def test_shuffled_label_null_is_the_hessian_on_permuted_labels(quick):
    """The null Hessian is the same network on permuted labels: its outlier counts are
    computed from a different matrix (not a copy of the trained labels' counts)."""
    config, result = quick
    dataset, k, activation, label = setting = config.settings()[0]
    key = study.setting_key(dataset, activation, label, k)
    X, y = config.cell(*setting).training_data()
    net = unflatten(result.arrays[f"params__{key}"][0], config.cell(*setting).train.widths)
    shuffled = np.random.default_rng([0, 1]).permutation(y[0])
    H = L.hessian(net, np.float64(X[0]), shuffled, activation=activation)
    lam = np.linalg.eigvalsh((H + H.T) / 2)
    assert result.arrays[f"outliers_shuffled__{key}"][0] == L.count_outliers(
        lam, max_count=config.max_outliers)
    # the margin on the true labels of a trained separated-world net is positive
    assert result.arrays[f"margin__{key}"][0, -1] > 0


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_written(quick, tmp_path):
    config, result = quick
    paths = write_figures(study, result, tmp_path)
    stems = {p.stem for p in paths}
    assert {"outliers_vs_k", "batch_sweep", "sharpness", "stability",
            "overlap_blobs_k3", "overlap_overlapping_blobs_k3", "spectrum_blobs_k3",
            "neurons_blobs_k3"} == stems
    assert {p.suffix for p in paths} == {".pdf", ".png"}
    assert all(p.stat().st_size > 1000 for p in paths)
