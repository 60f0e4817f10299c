"""Study ``linear-regions``: quick-mode smoke test; the exact counts it reports against the
line-arrangement formula and brute-force grid patterns; mass count <= domain count."""

import numpy as np
import pytest

from studies import linear_regions as study
from toylab.compare.regions import arrangement_regions, grid_patterns, hanin_rolnick_network
from toylab.exact import partition
from toylab.study import compute_result, write_figures


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    config = study.Config.quick()
    root = tmp_path_factory.mktemp("linear_regions")
    result, _ = compute_result(study, config, results_root=root)
    cached, _ = compute_result(study, config, results_root=root, force=False)
    return config, result, cached


def test_quick_summary_and_arrays(quick):
    config, result, cached = quick
    s, a = result.summary, result.arrays
    assert {"seeds", "diverged", "domain_area", "init", "training"} <= set(s)
    T, D = len(config.totals), len(config.depths)
    assert a["init_counts"].shape == (T, D, config.init_seeds, 2)
    for name in study.COUNTS:
        assert len(s["init"]["exponent"][name]) == D
        assert all(e["n"] == config.init_seeds for e in s["init"]["exponent"][name])
    key = f"N{config.train_totals[0]}_L{config.train_depths[0]}"
    steps = config.train.steps // config.train.snapshot_every + 1
    assert a[f"{key}__counts"].shape == (config.seeds - len(s["diverged"]), steps, 2)
    final = s["training"][key]["domain"]["final"]
    assert final["n"] == config.seeds and "null" in final
    assert cached.summary == s  # the second run comes from the cache


def test_figures_are_written(quick, tmp_path):
    _, result, _ = quick
    paths = write_figures(study, result, tmp_path)
    assert len(paths) == 6 and all(p.stat().st_size > 0 for p in paths)


def test_init_counts_are_exact(quick):
    """One hidden layer: the line-arrangement count; deeper: at least the grid count."""
    config, result, _ = quick
    dist = config.world.distribution()
    init = result.arrays["init_counts"]
    for t, total in enumerate(config.totals):
        for d, depth in enumerate(config.depths):
            for seed in range(config.init_seeds):
                net = hanin_rolnick_network(seed, config.widths(total, depth),
                                            bias_std=config.bias_std)
                if depth == 1:
                    assert init[t, d, seed, 0] == arrangement_regions(*net[0], dist.domain)
                elif seed == 0:
                    grid = grid_patterns(net, dist.domain, 256, activation=config.train.activation)
                    assert grid.count <= init[t, d, seed, 0]
                    p = partition(net, dist.domain, activation=config.train.activation)
                    exact = {tuple(r) for r in np.hstack(p.patterns)}
                    assert {tuple(r) for r in grid.patterns} <= exact


def test_mass_count_never_exceeds_domain_count(quick):
    """The domain holds >= 99.9% of the mass, so its regions already carry 99%."""
    config, result, _ = quick
    counts = [result.arrays["init_counts"]] + [v for k, v in result.arrays.items()
                                               if k.endswith("__counts")]
    for c in counts:
        assert np.all(c[..., 1] <= c[..., 0]) and np.all(c[..., 1] >= 1)


def test_totals_must_split_evenly():
    with pytest.raises(ValueError, match="divisible"):
        study.Config(totals=(10,), depths=(3,))
