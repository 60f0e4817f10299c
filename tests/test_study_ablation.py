"""Study ``ablation``: quick-mode smoke test and the properties its conclusions rest on."""

import numpy as np
import pytest

from studies import ablation as study
from toylab.compare.editing import ablate, hidden_neurons
from toylab.results import StudyResult, config_dict

Z = 4.0


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    config = study.Config.quick()
    summary, arrays = study.compute(config)
    path = tmp_path_factory.mktemp("ablation")
    return config, StudyResult(study.NAME, config_dict(config), summary, arrays, path)


def test_quick_summary_and_arrays(quick):
    config, result = quick
    s, a = result.summary, result.arrays
    for key in ("bayes_error", "seeds", "diverged", "risk", "ablation", "pruning", "modularity",
                "mean_vs_zero_logit_change_ratio", "dead_neurons_per_seed"):
        assert key in s
    assert set(s["ablation"]) == {"zero", "mean"}
    S, H, U = len(a["kept"]), len(hidden_neurons(config.widths)), sum(config.widths[1:])
    assert S == config.seeds - len(s["diverged"])
    assert a["risk_change"].shape == (S, 2, H) and a["effects"].shape == (S, 2, H, U)
    assert a["prune_risk"].shape == (S, len(config.prune_fractions))
    assert s["function_error_bound_max"] < 1e-6


def test_figures_are_written(quick, tmp_path):
    _, result = quick
    paths = study.make_figures(result, tmp_path)
    assert {p.suffix for p in paths} == {".pdf", ".png"} and len(paths) == 6
    assert all(p.stat().st_size > 0 for p in paths)


def test_effects_are_defined_exactly_on_downstream_units(quick):
    config, result = quick
    effects = result.arrays["effects"]
    first_downstream = np.cumsum(config.widths[1:])  # after layer l come units >= this
    for h, (layer, _) in enumerate(hidden_neurons(config.widths)):
        block = effects[:, :, h]
        assert np.all(np.isnan(block[..., : first_downstream[layer]]))
        assert np.all(np.isfinite(block[..., first_downstream[layer]:]))


def test_pruning_nothing_changes_nothing(quick):
    _, result = quick
    assert result.arrays["fractions"][0] == 0.0
    assert np.all(result.arrays["prune_risk"][:, 0] == 0.0)
    assert np.all(result.arrays["prune_logits"][:, 0] == 0.0)


def _logits(net, X):
    h = X
    for W, b in net[:-1]:
        h = np.maximum(h @ W + b, 0.0)
    return h @ net[-1][0] + net[-1][1]


def test_exact_risk_change_matches_monte_carlo(quick):
    """The headline quantity, an exact risk change, against 400k fresh samples (4 SE)."""
    config, result = quick
    dist = config.distribution_()
    net = [(result.arrays[f"W{d}"][0].astype(np.float64), result.arrays[f"b{d}"][0].astype(np.float64))
           for d in range(len(config.widths) - 1)]
    X, y, _ = dist.sample(123, 400_000)
    wrong = lambda n: (np.argmax(_logits(n, X), 1) != y).astype(float)
    for h, neuron in enumerate(hidden_neurons(config.widths)[:3]):
        edited = ablate(net, dist, tuple(neuron), "zero", activation=config.activation)
        diff = wrong(edited) - wrong(net)
        exact = result.arrays["risk_change"][0, 0, h]
        assert abs(exact - diff.mean()) <= Z * diff.std() / np.sqrt(len(X)) + 1e-12
