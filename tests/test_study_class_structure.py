"""Study ``class-structure``: quick-mode smoke test and an independent check of Papyan's
measures (dense jax derivatives and NumPy, not the layer-factored or vjp paths)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from studies import class_structure as study
from toylab.models import apply, flatten, unflatten
from toylab.study import write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert [r["world"] for r in s["by_world"]] == ["separated", "overlapping"]
    T = config.train.steps // config.train.snapshot_every + 1
    for r in s["by_world"]:
        assert r["diverged"] == []
        for m in ("overlap_class", "overlap_logit", "overlap_means_term", "means_fraction",
                  "mini_bulk"):
            h = r[m]
            assert h["n"] == config.seeds and h["ci95"][0] <= h["value"] <= h["ci95"][1]
            assert h["null"]["n"] == config.seeds
        key = study.world_key(r["preset"], r["k"])
        for m in study.MEASURES:
            assert a[f"{m}__{key}"].shape == (config.seeds, T)
            assert np.all((a[f"{m}__{key}"] >= 0) & (a[f"{m}__{key}"] <= 1 + 1e-12))


def _dense(net, X, y, widths):
    """Class means, top-C eigenvectors of H, G and G_means from dense jax derivatives."""
    C = widths[-1]
    with jax.enable_x64(True):
        theta = jnp.asarray(flatten(net))
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        logits = lambda t, x: apply(unflatten(t, widths), x, "relu")
        point_loss = lambda t, x, c: (jax.nn.logsumexp(logits(t, x[None])[0])
                                      - logits(t, x[None])[0][c])
        grads = np.asarray(jax.vmap(jax.grad(point_loss), (None, 0, 0))(theta, Xj, yj))
        H = np.asarray(jax.hessian(lambda t: jnp.mean(jax.vmap(point_loss, (None, 0, 0))(
            t, Xj, yj)))(theta))
        J = np.asarray(jax.jacfwd(lambda t: logits(t, Xj))(theta))          # (n, C, P)
        p = np.asarray(jax.nn.softmax(logits(theta, Xj), -1))
    G = np.mean([J[i].T @ (np.diag(p[i]) - np.outer(p[i], p[i])) @ J[i] for i in range(len(y))],
                axis=0)
    a = np.sqrt(p)[:, :, None] * (np.eye(C)[None] - p[:, None, :])      # (n, c', C)
    d = np.einsum("nkc,ncp->nkp", a, J)                                  # (n, c', P)
    means = np.stack([grads[y == c].mean(0) for c in range(C)])
    delta = np.stack([d[y == c].mean(0) for c in range(C)])              # (C, c', P)
    w = np.bincount(y, minlength=C) / len(y)
    G_means = np.einsum("c,cap,caq->pq", w, delta, delta)
    return means, np.linalg.eigh(H)[1][:, ::-1][:, :C], G, G_means


@pytest.mark.slow
def test_measures_match_dense_derivatives(quick):
    config, _ = quick
    preset, k = config.worlds[1]
    cell = config.cell(preset, k)
    X, y = cell.training_data()
    rng = np.random.default_rng(3)
    widths = cell.train.widths
    net = [(rng.normal(size=(a, b)) / np.sqrt(a), rng.normal(size=b) * 0.3)
           for a, b in zip(widths[:-1], widths[1:])]
    X0, y0 = np.float64(X[0][:64]), y[0][:64]
    got = study.snapshot_measures(net, X0, y0, "relu")
    means, top, G, G_means = _dense(net, X0, y0, widths)
    cos = scipy.linalg.subspace_angles(top, means.T)
    assert got["overlap_class"] == pytest.approx(np.mean(np.cos(cos) ** 2), abs=1e-8)
    assert got["means_fraction"] == pytest.approx(np.trace(G_means) / np.trace(G), rel=1e-8)
    lam_means = np.linalg.eigh(G_means)[1][:, ::-1][:, :k]
    lam_G, V_G = np.linalg.eigh(G)
    V_G = V_G[:, ::-1]
    expected = np.mean(np.cos(scipy.linalg.subspace_angles(V_G[:, :k], lam_means)) ** 2)
    assert got["overlap_means_term"] == pytest.approx(expected, abs=1e-6)
    np.testing.assert_allclose(got["g_eigenvalues"], lam_G[::-1], atol=1e-10 * lam_G.max())


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"overlaps", "spectra"}
    assert all(p.stat().st_size > 1000 for p in paths)
