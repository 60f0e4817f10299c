"""Study neurons-vs-boundary: quick-mode smoke test and the properties its conclusions rest on."""

import numpy as np
import pytest
import sympy

from studies import neurons_vs_boundary as study
from toylab import models
from toylab.compare.neurons import KINDS, fold_depth, fold_distance, neuron_profile, targets
from toylab.exact import folds
from toylab.exact.population import population_partition
from toylab.study import kept_members, load_layers, write_figures


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


@pytest.fixture(scope="module")
def base(quick):
    """The base cell's stored arrays (``base_`` stripped) and its kept members."""
    _, result = quick
    a = study.base_arrays(result)
    return a, kept_members(a)


def _is_headline(h, n):
    return h["n"] == n and h["ci95"][0] <= h["value"] <= h["ci95"][1]


def test_quick_summary_holds_headline_objects_with_nulls(quick, base):
    config, result = quick
    s = result.summary
    n = len(base[1])
    assert s["diverged"] == {} and n == config.seeds
    for label in study.LABELS:
        assert _is_headline(s[label], n) and _is_headline(s[label]["null"], n)
    for label in study.FOLD_LABELS:
        assert _is_headline(s[label]["null_init"], n)
    assert set(s["factors"]) == set(study.FACTORS)
    for factor, stats in s["factors"].items():
        levels = getattr(config, study.FACTORS[factor])
        assert stats["levels"] == list(levels)
        assert all(len(stats[label]) == len(levels) for label in study.LABELS)
    for sweep in (*s["sweeps"]["corr"].values(), *s["sweeps"]["fold_radius"].values()):
        assert len(sweep["value"]) == len(sweep["thresholds"]) and sweep["n"] == n
    for layer in s["probe_r2"].values():
        assert all(_is_headline(h, n) for h in layer.values())
    assert s["quadrature"]["converged"]


def test_kind_fractions_partition_the_neurons(base):
    a, _ = base
    for key in ("rows_trained", "rows_init"):
        rows = a[key]
        np.testing.assert_allclose(rows[:, : len(KINDS)].sum(1), 1.0)
        assert np.all((rows >= 0) & (rows <= 1))


def test_stored_profiles_are_reproduced_from_the_stored_weights(quick, base):
    """Determinism: the exact profile of a stored net is recomputed bit for bit (moments) and
    within round-off (correlations), for the trained and the initial network."""
    config, result = quick
    a, kept = base
    dist = config.cell().distribution()
    for prefix in ("", "init_"):
        prof = neuron_profile(load_layers(a, kept[0], prefix=prefix), dist,
                              activation=config.train.activation, rtol=config.rtol)
        np.testing.assert_array_equal(prof.mean, a[prefix + "mean"][kept[0]])
        np.testing.assert_allclose(prof.corr, a[prefix + "corr"][kept[0]], equal_nan=True,
                                   atol=1e-12)


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


@pytest.mark.parametrize("offset", [-1.5, 0.0, 3.0])
def test_offset_puts_the_bayes_line_at_that_distance_from_the_origin(offset):
    """The control for zero-bias folds: the shifted world's Bayes line ``a.x + c = 0`` (from
    sympy) passes at distance ``|offset|`` from the origin, the Bayes error unchanged."""
    world = study.Tilt(offset=offset)
    dist = world.distribution()
    x = sympy.symbols("x0:2", real=True)
    poly = sympy.Poly(dist.bayes_boundary(0, 1, symbols=x), *x)
    a = np.array([float(poly.coeff_monomial(v)) for v in x])
    c = float(poly.coeff_monomial(1))
    assert abs(c) / np.linalg.norm(a) == pytest.approx(abs(offset), abs=1e-12)
    assert dist.bayes_error() == pytest.approx(study.Tilt().distribution().bayes_error(),
                                               rel=1e-9)


def test_ramp_correlations_agree_with_region_quadrature():
    """The 1-D attainable-correlation quadrature against the 2-D region quadrature of
    :func:`neuron_profile` for one-ramp networks, on a shifted world."""
    dist = study.Tilt(offset=1.0).distribution()
    theta, b, mass, corr = study.ramp_correlations(dist, angles=12, points=601)
    for a, m in [(1, 300), (5, 200), (9, 420)]:
        u = np.array([np.cos(theta[a]), np.sin(theta[a])])
        net = [(u[:, None], np.array([-b[a, m]])), (np.array([[0.0, 1.0]]), np.zeros(2))]
        prof = neuron_profile(net, dist, activation="relu", rtol=1e-9)
        ref = [prof.corr[0, prof.targets.index(t)] for t in study.RAMP_TARGETS]
        np.testing.assert_allclose(corr[a, m], ref, atol=2e-4)
        # the profile's mass omits the probability outside its box (neglected_mass)
        assert abs(mass[a, m] - prof.active_mass[0]) <= prof.neglected_mass + 1e-15


def test_attainable_reaches_an_affine_target():
    """A ramp active on all the data is affine there, so the affine log-odds are attained
    (|corr| -> 1); the attainable values are correlations (<= 1)."""
    best = study.attainable(study.Tilt().distribution(), angles=36, points=401, min_mass=0.01)
    assert best[study.RAMP_TARGETS.index("log_odds")] > 0.999
    assert np.all(best <= 1 + 1e-9)


def test_probe_r2_agrees_with_least_squares_on_samples(quick, base):
    """Exact population probe R^2 against ordinary least squares on 200,000 samples of the
    same distribution (independent: sampled activations and targets); quadrature at rtol 1e-4
    (correlation errors ~1e-4, far below the 0.01 tolerance)."""
    config, _ = quick
    a, kept = base
    dist = config.cell().distribution()
    net = load_layers(a, kept[0])
    prof = neuron_profile(net, dist, activation="relu", rtol=1e-4)
    p = population_partition(net, dist, activation="relu")
    exact = study.probe_r2(prof, [p.layer_moments(l).cov for l in range(p.n_hidden)])
    sample = dist.sample(7, 200_000)
    hidden = models.activations(net, sample.X, "relu").post[:-1]
    names = prof.targets
    joint = dist.class_log_joint(sample.X)
    comp = dist.component_log_density(sample.X)
    g = {"log_odds": joint[:, 1] - joint[:, 0],
         "log_density": np.logaddexp.reduce(comp, axis=1)}
    for l, H in enumerate(hidden):
        H = np.column_stack([np.asarray(H, np.float64), np.ones(len(sample.X))])
        for t, y in g.items():
            resid = y - H @ np.linalg.lstsq(H, y, rcond=None)[0]
            r2 = 1 - resid.var() / y.var()
            assert exact[l, names.index(t)] == pytest.approx(r2, abs=0.01)


def test_probe_is_at_least_the_best_single_neuron(base):
    """A layer's linear probe can use any one neuron alone: R^2 >= max corr^2 in the layer."""
    a, kept = base
    for i in kept:
        for l in range(a["probe_r2"].shape[1]):
            rows = a["neurons"][:, 0] == l
            best = np.nanmax(a["corr"][i][rows] ** 2, axis=0)
            assert np.all(a["probe_r2"][i, l] >= best - 1e-9)
            assert np.all(a["probe_r2"][i, l] <= 1 + 1e-6)


def test_random_fold_lines_are_the_initial_first_layer_folds(quick, base):
    """The random-fold null's lines are the initial networks' first-layer folds: each clipped
    line has the same depth and distance to the Bayes line as the exact fold of that neuron."""
    config, _ = quick
    a, kept = base
    dist = config.cell().distribution()
    member = kept[0]
    net0 = load_layers(a, member, prefix="init_")
    p0 = population_partition(net0, dist, activation="relu")
    bayes = targets(p0, dist).bayes
    width = net0[0][0].shape[1]
    for i in kept:  # each member's null uses other members' lines only
        used = a["null_line_used"][i] == 1
        assert used.sum() == min(config.null_lines, (config.seeds - 1) * width)
        assert not np.any(used & (a["null_line_member"] == i))
    for j in range(width):
        line = np.flatnonzero(a["null_line_member"] == member)[j]
        exact = folds(p0, (0, j))
        assert a["null_line_depth"][line] == pytest.approx(fold_depth(exact, dist), abs=1e-9)
        pieces = study.line_segments(net0[0][0][:, j:j + 1].T, net0[0][1][j:j + 1],
                                     study.bounding_box(p0))[0]
        mine, mine_err = fold_distance(pieces, dist, bayes)
        ref, ref_err = fold_distance(exact, dist, bayes)
        assert a["null_line_to_bayes"][line] == mine
        assert mine == pytest.approx(ref, abs=mine_err + ref_err + 1e-9)


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"kinds_vs_factors", "correlations", "folds", "probe"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_bias_init_factor_changes_only_the_bias_init():
    """The bias-init levels differ from the base cell only in the bias init and its stated
    scale; the base level is the base cell itself (trained once)."""
    config = study.Config()
    assert config.cell(bias_init=config.train.bias_init) == config.cell()
    for init in ("normal", "data"):
        train = config.cell(bias_init=init).train
        assert train.bias_init == init and train.bias_std == config.nonzero_bias_std
        assert train.widths == config.train.widths and train.steps == config.train.steps
    with pytest.raises(ValueError, match="nonzero_bias_std"):
        study.Config(nonzero_bias_std=0.0)
