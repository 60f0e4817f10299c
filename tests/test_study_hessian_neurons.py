"""Study ``hessian-neurons``: quick run through the harness; the directions it studies are what
it says they are (checked against the Hessian and the rescaling symmetries independently); the
boundary flux it reports bounds the library's independent population-accuracy rate."""

import numpy as np
import pytest

from studies import hessian_neurons as study
from toylab.compare.landscape_neurons import direction_motion, first_order_change
from toylab.exact.population import population_partition
from toylab.landscape import hessian, rescaling_direction
from toylab.models import flatten
from toylab.study import kept_members, load_layers, write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


@pytest.fixture(scope="module")
def member_hessian(quick):
    """``(member, net, H)`` of the first kept member, on its own training sample."""
    config, result = quick
    member = kept_members(result)[0]
    net = load_layers(result, member)
    X, y = config.cell().training_data()
    return member, net, hessian(net, X[member], y[member], activation=config.train.activation)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s = result.summary
    assert s["seeds"] == config.seeds and s["diverged"] == []
    heads = [s["outliers"], s["outlier_gap"], s["top_eigenvalue"], s["null_space_dim"],
             s["speed_vs_curvature_slope"], s["speed_per_root_curvature_top_over_bulk"],
             *s["top_over_bulk"].values(), *s["eigen_over_matched"].values(),
             *s["boundary_speed"].values(), *s["participation_ratio"].values()]
    for h in heads:
        assert set(h) >= {"value", "ci95", "n"} and 1 <= h["n"] <= config.seeds
        assert h["ci95"][0] <= h["value"] <= h["ci95"][1]
    for key in ("outliers", "outlier_gap", "top_eigenvalue"):
        assert s[key]["null"]["n"] == config.seeds
    sweep = s["sweeps"]["null_space_dim"]
    assert len(sweep["value"]) == len(study.NULL_CUTS)
    assert np.all(np.diff(sweep["value"]) >= 0)  # a larger cut never finds fewer zeros
    D = len(config.kinds())
    assert result.arrays["speed"].shape == (config.seeds, D)
    assert result.arrays["directions"].shape == (config.seeds, s["n_params"], D)


def test_directions_have_the_curvature_they_claim(quick, member_hessian):
    """Eigenvector columns and their eigenvalue-matched random directions both have Rayleigh
    quotient lambda_rank (recomputed from a fresh Hessian); matched directions are unit,
    orthogonal to their eigenvector; random directions are unit."""
    config, result = quick
    member, _, H = member_hessian
    a = result.arrays
    V, ranks = a["directions"][member], a["ranks"][member].astype(int)
    lam = a["eigenvalues"][member]
    kinds = config.kinds()
    scale = abs(lam[0])
    for col in range(V.shape[1]):
        v = V[:, col]
        if not np.all(np.isfinite(v)):
            assert study.KINDS[kinds[col]] == "matched"
            continue
        np.testing.assert_allclose(v @ v, 1.0, atol=1e-12)
        if study.KINDS[kinds[col]] != "random":
            np.testing.assert_allclose(v @ H @ v, lam[ranks[col]], atol=1e-9 * scale)
            np.testing.assert_allclose(a["curvature"][member, col], lam[ranks[col]],
                                       atol=1e-9 * scale)
    eig = config.top_store + config.bulk_samples
    for col in range(eig):
        if np.all(np.isfinite(V[:, eig + col])):
            assert abs(V[:, col] @ V[:, eig + col]) < 1e-10


def test_bulk_excludes_the_null_space_and_the_symmetries(quick, member_hessian):
    """The two-class cross-entropy is invariant to adding the same function of the last hidden
    layer to both logits: those width + 1 directions are exact null directions of the Hessian
    and counted in the null space. Bulk eigenvectors are positive, above the null cut, and
    mostly outside the span of the rescaling tangents (projection computed here by least
    squares, independently of the study's captured_fraction)."""
    config, result = quick
    member, net, H = member_hessian
    a = result.arrays
    lam = a["eigenvalues"][member]
    last = config.train.widths[-2]
    shifts = []
    for k in range(last + 1):
        layers = [(np.zeros_like(W), np.zeros_like(b)) for W, b in net]
        W, b = layers[-1]
        if k < last:
            W[k] = 1.0
        else:
            b[:] = 1.0
        shifts.append(flatten(layers))
    for v in shifts:
        assert np.linalg.norm(H @ v) <= 1e-12 * abs(lam[0]) * np.linalg.norm(v)
    assert np.sum(study.null_mask(lam, config.null_cut)) >= last + 1
    kinds, ranks = config.kinds(), a["ranks"][member].astype(int)
    bulk = ranks[kinds == study.KINDS.index("bulk")]
    assert np.all(bulk >= config.top_store) and np.all(lam[bulk] > config.null_cut * lam[0])
    T = np.stack([rescaling_direction(net, l, i)
                  for l, w in enumerate(config.train.widths[1:-1]) for i in range(w)], 1)
    V = a["directions"][member][:, kinds == study.KINDS.index("bulk")]
    projection = T @ np.linalg.lstsq(T, V, rcond=None)[0]
    assert np.all(np.sum(projection**2, 0) <= study.SYMMETRY_OVERLAP + 1e-9)


def test_matched_direction_on_a_known_spectrum():
    """On a diagonal matrix the construction is checked by hand: unit norm, orthogonal to the
    matched eigenvector, Rayleigh quotient equal to its eigenvalue, nothing on excluded
    or negative-curvature directions; none for the largest and the smallest positive one."""
    lam = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.0, -0.3])
    E = np.eye(lam.size)
    excluded = lam == 0.0
    rng = np.random.default_rng(0)
    assert study.matched_direction(lam, E, 0, excluded, rng) is None
    assert study.matched_direction(lam, E, 4, excluded, rng) is None
    for rank in (1, 2, 3):
        u = study.matched_direction(lam, E, rank, excluded, rng)
        np.testing.assert_allclose(u @ u, 1.0, atol=1e-14)
        np.testing.assert_allclose(u @ np.diag(lam) @ u, lam[rank], atol=1e-12)
        assert u[rank] == 0.0 and u[5] == 0.0 and u[6] == 0.0


def test_sqrt_slope_recovers_a_power_law():
    c = np.geomspace(1e-4, 10, 12)[None, :].repeat(3, 0)
    speed = 3.0 * c ** np.array([[0.5], [0.3], [1.0]])
    np.testing.assert_allclose(study.sqrt_slopes(c, speed, np.zeros(3)), [0.5, 0.3, 1.0])


def test_boundary_flux_bounds_the_accuracy_rate(quick, member_hessian):
    """|d acc / d eps| = |sum int w (p_j - p_k) ds| <= int |w| p ds = speed x boundary mass; the
    rate comes from the library's accuracy quadrature, the flux from the stored speed."""
    config, result = quick
    member, net, _ = member_hessian
    dist = config.world.distribution()
    top = result.arrays["directions"][member][:, 0]
    p = population_partition(net, dist, activation=config.train.activation)
    rate = first_order_change(p, top, dist=dist).accuracy_rate
    flux = result.arrays["speed"][member, 0] * direction_motion(p, dist, top).boundary_mass[0]
    assert abs(rate) <= flux * (1 + 1e-9) + 1e-12


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"spectrum_participation", "motion", "directions"}
    assert all(p.stat().st_size > 1000 for p in paths)
