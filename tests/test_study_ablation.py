"""Study ``ablation``: quick run through the harness and the properties its conclusions rest
on (exact risk changes against Monte Carlo, effects only downstream, fold densities against
numerical quadrature, p-values never 0 and corrected)."""

import numpy as np
import pytest
import scipy.integrate

from studies import ablation as study
from toylab.compare.editing import ablate, hidden_neurons
from toylab.exact.boundary import folds
from toylab.exact.population import population_partition
from toylab.models import apply
from toylab.study import kept_members, load_layers, write_figures

Z = 4.0


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run(study)


def test_quick_summary_holds_headline_objects(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    assert s["seeds"] == config.seeds and s["diverged"] == []
    assert set(s["ablation"]) == {"zero", "mean"}
    heads = [s["risk"], s["dead_neurons"], s["mean_vs_zero_logit_change_ratio"],
             s["pruning"]["harmless_fraction"], s["modularity"]["ncut"],
             s["modularity"]["ncut_z"], *s["pruning"]["risk_change"],
             *(r["spearman"] for r in s["effect_vs"].values()),
             *(m["ratio"] for m in s["modularity"]["alignment"].values()),
             *(m["ratio_init"] for m in s["modularity"]["alignment"].values()),
             *(h for mode in s["ablation"].values() for k, h in mode.items()
               if isinstance(h, dict) and "thresholds" not in h)]
    for h in heads:
        assert set(h) >= {"value", "ci95", "n"} and 1 <= h["n"] <= config.seeds
        assert h["ci95"][0] <= h["value"] <= h["ci95"][1]
    for key in ("ncut", "ncut_z"):
        assert s["modularity"][key]["null"]["n"] == config.seeds
    assert s["risk"]["null"]["n"] == config.seeds
    sweep = s["ablation"]["zero"]["frac_above_sweep"]
    assert sweep["thresholds"] == list(config.tolerances)
    assert np.all(np.diff(sweep["value"]) <= 0)  # a larger tolerance never finds more neurons
    S, H, U = config.seeds, len(hidden_neurons(config.train.widths)), sum(config.train.widths[1:])
    assert a["risk_change"].shape == (S, 2, H) and a["effects"].shape == (S, 2, H, U)
    assert a["prune_risk"].shape == (S, len(config.prune_fractions))
    assert a["fold_mass"].shape == (S, H) and a["hessian_share"].shape == (S, H)
    assert s["function_error_bound_max"] < 1e-6


def test_effects_are_defined_exactly_on_downstream_units(quick):
    """NaN on every unit upstream of (or beside) the ablated neuron; finite downstream, except
    on a downstream unit that is identically zero (a dead relu: relative change 0 / 0)."""
    config, result = quick
    kept = kept_members(result)
    effects, dead = result.arrays["effects"][kept], result.arrays["dead"][kept] == 1
    H = dead.shape[1]
    first_downstream = np.cumsum(config.train.widths[1:])  # after layer l come units >= this
    for h, (layer, _) in enumerate(hidden_neurons(config.train.widths)):
        block = effects[:, :, h]
        assert np.all(np.isnan(block[..., : first_downstream[layer]]))
        seeds, _, units = np.nonzero(~np.isfinite(block[..., first_downstream[layer]:]))
        units = units + first_downstream[layer]
        assert np.all(units < H) and np.all(dead[seeds, np.minimum(units, H - 1)])


def test_pruning_nothing_changes_nothing(quick):
    config, result = quick
    assert config.prune_fractions[0] == 0.0
    assert np.all(result.arrays["prune_risk"][:, 0] == 0.0)
    assert np.all(result.arrays["prune_logits"][:, 0] == 0.0)


def test_exact_risk_change_matches_monte_carlo(quick):
    """The headline quantity, an exact risk change, against 400k fresh samples (4 SE)."""
    config, result = quick
    dist = config.world.distribution()
    member = kept_members(result)[0]
    net = load_layers(result, member)
    sample = dist.sample(123, 400_000)
    wrong = lambda n: (np.argmax(apply(n, sample.X, "relu"), 1) != sample.y).astype(float)
    for h, neuron in enumerate(hidden_neurons(config.train.widths)[:3]):
        edited = ablate(net, dist, tuple(neuron), "zero", activation=config.train.activation)
        diff = wrong(edited) - wrong(net)
        exact = result.arrays["risk_change"][member, 0, h]
        assert abs(exact - diff.mean()) <= Z * diff.std() / np.sqrt(len(sample.X)) + 1e-12


def test_fold_mass_matches_numerical_line_integrals(quick):
    """int_fold p ds from the closed-form Gaussian line integrals against adaptive quadrature
    of the mixture density along every fold segment."""
    config, result = quick
    dist = config.world.distribution()
    member = kept_members(result)[0]
    p = population_partition(load_layers(result, member), dist,
                             activation=config.train.activation)
    for h, neuron in enumerate(hidden_neurons(config.train.widths)):
        total = 0.0
        for a, b in folds(p, tuple(neuron)):
            density = lambda t: np.exp(dist.log_density((a + t * (b - a))[None]))[0]
            total += scipy.integrate.quad(density, 0, 1, epsabs=1e-13, limit=200)[0] \
                * np.linalg.norm(b - a)
        np.testing.assert_allclose(result.arrays["fold_mass"][member, h], total,
                                   rtol=1e-6, atol=1e-12)


def test_hessian_share_is_a_share_of_the_top_subspace(quick):
    config, result = quick
    shares = result.arrays["hessian_share"][kept_members(result)]
    assert np.all(shares >= 0) and np.all(shares.sum(1) <= 1 + 1e-12)


def test_permutation_p_values_are_never_zero_and_corrected():
    null = np.arange(19.0)  # 19 null draws
    assert study.permutation_p(100.0, null) == 1 / 20
    assert study.permutation_p(-1.0, null, larger=False) == 1 / 20
    assert study.permutation_p(0.0, null) == 1.0
    assert np.isnan(study.permutation_p(np.nan, null))
    c = study._corrected([0.001, 0.01, 0.04, 0.2, np.nan])
    assert c["n"] == 4 and c["significant"] == 2  # BH: q = 0.004, 0.02, 0.0533, 0.2
    assert np.all(np.asarray(c["q_bh"]) >= np.asarray(c["p"]))


@pytest.mark.slow  # figure rendering; the quick computation is tested by default
def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = write_figures(study, result, tmp_path)
    assert {p.stem for p in paths} == {"ablation", "relations", "pruning", "modularity"}
    assert all(p.stat().st_size > 1000 for p in paths)


def test_member_arrays_leaves_diverged_members_as_nan_rows():
    """The harness helper both per-member studies use: member i is row i, diverged rows NaN."""
    from types import SimpleNamespace

    from toylab.study import member_arrays

    run = SimpleNamespace(seeds=np.array([3, 4, 5]), final_loss=np.array([0.1, np.nan, 0.2]))
    out = member_arrays(run, lambda i: {"x": np.full(2, i), "s": 10.0 * i})
    np.testing.assert_array_equal(out["x"], [[0, 0], [np.nan, np.nan], [2, 2]])
    np.testing.assert_array_equal(out["s"], [0.0, np.nan, 20.0])
    with pytest.raises(ValueError, match="diverged"):
        member_arrays(SimpleNamespace(seeds=[0], final_loss=np.array([np.inf])), lambda i: {})
