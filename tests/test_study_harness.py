"""The study harness: nested configs and overrides, storage of networks, statistics, cells."""

from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import studies
from toylab.plots.style import RC
from toylab.results import StudyResult, config_dict, load_result
from toylab.study import (
    AnalysedCell,
    Context,
    EnsembleConfig,
    TrainCell,
    World,
    WorldsConfig,
    adjust_pvalues,
    apply_overrides,
    bootstrap_ci,
    config_from_dict,
    config_keys,
    figure_dir,
    headline,
    load_layers,
    pair_bootstrap_ci,
    pair_headline,
    sample_seed,
    save_layers,
    slope_headline,
    stack_members,
    study_config,
    threshold_sweep,
    write_figures,
)
from toylab.train import TrainConfig


@dataclass(frozen=True)
class Nested:
    world: World = World("xor")
    train: TrainConfig = TrainConfig(widths=(2, 4, 2), steps=20, snapshot_every=10)
    levels: tuple[float, ...] = (1.0, 2.0)
    cut: float | None = None
    seeds: int = 3


# ----------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", sorted(studies.STUDIES))
def test_every_study_config_round_trips_through_json(name):
    """``config_from_dict`` rebuilds the default and quick config of every study exactly."""
    study = studies.STUDIES[name]
    for config in (study.Config(), study.Config.quick()):
        assert config_from_dict(study.Config, config_dict(config)) == config


def test_overrides_reach_nested_fields_and_validate():
    config = apply_overrides(Nested(), ["train.learning_rate=0.05", "world.params.separation=3",
                                        "levels=1,2,4", "cut=0.5", "train.widths=(2, 8, 2)",
                                        "train.optimizer=sgd", "seeds=5"])
    assert config.train.learning_rate == 0.05 and config.train.optimizer == "sgd"
    assert config.train.widths == (2, 8, 2) and config.levels == (1.0, 2.0, 4.0)
    assert dict(config.world.params) == {"separation": 3} and config.cut == 0.5
    assert config.seeds == 5
    assert config_from_dict(Nested, config_dict(config)) == config
    assert apply_overrides(config, ["cut=None"]).cut is None


def test_overrides_of_one_config_are_validated_together_in_any_order():
    """``steps`` and ``snapshot_every`` must divide: setting both works in either order."""
    for order in (["train.steps=200", "train.snapshot_every=25"],
                  ["train.snapshot_every=25", "train.steps=200"]):
        config = apply_overrides(Nested(), order)
        assert (config.train.steps, config.train.snapshot_every) == (200, 25)
    with pytest.raises(ValueError, match="--set train.steps: .*snapshot_every=10"):
        apply_overrides(Nested(), ["train.steps=25"])
    with pytest.raises(ValueError, match="also set"):
        apply_overrides(Nested(), ["train.steps=30", "train=3"])


@pytest.mark.parametrize("assignment, message", [
    ("train.lr=1", "no such key; valid keys: world.preset"),
    ("bogus=1", "train.learning_rate"),
    ("seeds=1.5", "must be an integer"),
    ("seeds=true", "must be an integer"),
    ("train=3", "mapping of TrainConfig"),
    ("levels.x=3", "has no sub-keys"),
    ("train.learning_rate=-1", "learning_rate=-1.0 must be > 0"),
    ("train.optimizer=adamw", "optimizer='adamw' is unknown"),
    ("noequals", "must look like key=value"),
])
def test_bad_overrides_name_the_key_and_the_fix(assignment, message):
    with pytest.raises(ValueError, match="--set") as err:
        apply_overrides(Nested(), [assignment])
    assert message in str(err.value)


def test_config_keys_list_nested_fields():
    keys = config_keys(Nested())
    assert "train.learning_rate" in keys and "world.preset" in keys and "levels" in keys


def test_config_from_dict_rejects_unknown_keys_and_fills_defaults():
    assert config_from_dict(Nested, {"seeds": 4}) == Nested(seeds=4)
    with pytest.raises(ValueError, match="nope is not a field of Nested"):
        config_from_dict(Nested, {"nope": 1})


def test_world_rejects_unknown_presets():
    with pytest.raises(ValueError, match="choose one of"):
        World("moons")


def test_config_bases_declare_the_shared_fields_once_and_build_cells():
    """A study config subclassing WorldsConfig / EnsembleConfig keeps the shared field names
    and defaults (results.json keys and cache keys) and builds the same cells as spelled out."""

    @dataclass(frozen=True)
    class Grid(WorldsConfig):
        train: TrainConfig = TrainConfig(widths=(2, 4, 2), steps=20, snapshot_every=10)
        n_train: int = 64
        levels: tuple[float, ...] = (1.0,)

    grid = Grid(seeds=3, data_seed=5)
    assert [f.name for f in fields(Grid)] == ["train", "n_train", "data_seed", "seeds", "levels"]
    assert config_dict(Grid()) == {"train": config_dict(Grid.train), "n_train": 64,
                                   "data_seed": 0, "seeds": 20, "levels": [1.0]}
    wide = replace(grid.train, widths=(2, 8, 2))
    assert grid.cell_in(World("xor"), wide) == TrainCell(World("xor"), wide, 3, 64, 5, "per_seed")
    assert grid.cell_in(World("xor")).train == grid.train
    one = EnsembleConfig(world=World("xor"), sampling="shared", seeds=2)
    assert one.cell() == TrainCell(World("xor"), TrainConfig(), 2, 512, 0, "shared")
    assert one.cell(world=World("curved")).world == World("curved")


# ----------------------------------------------------------------------------- figures


def test_figures_of_non_default_configs_never_overwrite_paper_figures(tmp_path):
    study = studies.STUDIES["blobs"]
    assert figure_dir(study, study.Config(), tmp_path) == tmp_path / "blobs"
    assert figure_dir(study, study.Config.quick(), tmp_path) == tmp_path / "blobs" / "quick"
    other = study_config(study, seeds=3)
    third = study_config(study, overrides=["train.learning_rate=0.05"])
    dirs = {figure_dir(study, c, tmp_path) for c in (other, third)}
    assert len(dirs) == 2 and all(d.parent == tmp_path / "blobs" and len(d.name) == 12
                                  for d in dirs)


class _Table:
    """A table as a study's ``tables`` returns it: ``to_csv(path) -> Path``."""

    def to_csv(self, path):
        Path(path).write_text("a,b\n1,2\n")
        return Path(path)


def test_write_figures_builds_in_the_house_style_and_saves_every_figure(tmp_path):
    """``study.figures`` runs inside the house style (not only the saving), gets the config
    rebuilt from the result, and every figure lands as PDF + PNG, every table as CSV."""
    built = {}

    open_before = set(plt.get_fignums())  # other tests in this worker may leave some

    def figures(result, config):
        built["config"], built["font.size"] = config, matplotlib.rcParams["font.size"]
        return {name: plt.figure() for name in ("b_second", "a_first")}

    fake = SimpleNamespace(NAME="fake", Config=Nested, figures=figures,
                           tables=lambda result, config: {"atlas_seed0": _Table()})
    config = Nested(levels=(3.0,))
    result = StudyResult("fake", config_dict(config), {}, {}, tmp_path)
    with matplotlib.rc_context({"font.size": 13.0}):
        paths = write_figures(fake, result, tmp_path / "out")
        assert matplotlib.rcParams["font.size"] == 13.0
    assert built == {"config": config, "font.size": RC["font.size"]}
    assert [p.name for p in paths] == ["b_second.pdf", "b_second.png", "a_first.pdf",
                                       "a_first.png", "atlas_seed0.csv"]
    assert all(p.parent == tmp_path / "out" and p.stat().st_size > 0 for p in paths)
    assert set(plt.get_fignums()) <= open_before  # every figure it made closed after saving


# ----------------------------------------------------------------------------- storage


def test_layers_round_trip_with_one_meaning_of_member():
    rng = np.random.default_rng(0)
    nets = [[(rng.normal(size=(2, 3)), rng.normal(size=3)),
             (rng.normal(size=(3, 2)), rng.normal(size=2))] for _ in range(4)]
    arrays = {}
    save_layers(arrays, stack_members(nets))
    save_layers(arrays, stack_members(nets[::-1]), prefix="init_")
    for i, net in enumerate(nets):
        for (W, b), (W2, b2) in zip(net, load_layers(arrays, i)):
            np.testing.assert_array_equal(W, W2)
            np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(load_layers(arrays, 0, prefix="init_")[0][0], nets[3][0][0])
    with pytest.raises(ValueError, match=r"member=4 must be an index in \[0, 4\)"):
        load_layers(arrays, 4)
    with pytest.raises(ValueError, match="leading member axis"):
        save_layers({}, nets[0])


# ----------------------------------------------------------------------------- statistics


def test_bootstrap_interval_covers_the_mean_at_the_stated_rate():
    """Over 200 samples of 30 N(0, 1) values the 95% interval covers 0 in 88-99% of them
    (binomial 99.9% range for a nominal 95% percentile interval, which under-covers slightly
    at n = 30)."""
    rng = np.random.default_rng(1)
    covered = sum(lo <= 0 <= hi for lo, hi in
                  (bootstrap_ci(rng.normal(size=30), n_resamples=999) for _ in range(200)))
    assert 176 <= covered <= 198


def test_headline_object_shape_and_null():
    h = headline([1.0, 2.0, 3.0, 4.0], null=[0.0, 0.0, 0.5, 0.0])
    assert set(h) == {"value", "ci95", "n", "null"} and h["n"] == 4 and h["value"] == 2.5
    assert h["ci95"][0] <= 2.5 <= h["ci95"][1]
    assert h["null"]["value"] == 0.125
    assert headline([2.0, 2.0, 2.0])["ci95"] == [2.0, 2.0]
    with pytest.raises(ValueError, match="NaN or inf"):
        headline([1.0, np.nan])


def test_pair_interval_is_wider_than_treating_pairs_as_independent():
    """Pairs sharing a seed are correlated: a seed effect makes the seed-resampling interval
    wider than a naive bootstrap over the S(S-1) pair values."""
    rng = np.random.default_rng(2)
    effect = rng.normal(size=12)
    M = effect[:, None] + effect[None, :] + 0.1 * rng.normal(size=(12, 12))
    lo, hi = pair_bootstrap_ci(M, n_resamples=2000)
    naive_lo, naive_hi = bootstrap_ci(M[~np.eye(12, dtype=bool)], n_resamples=2000)
    assert hi - lo > 2 * (naive_hi - naive_lo)
    assert pair_headline(M)["n"] == 12


def test_threshold_sweep_and_slope():
    values = np.linspace(0, 1, 20)
    sweep = threshold_sweep(lambda t: (values >= t).astype(float), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(sweep["value"], [0.75, 0.5, 0.25])
    assert sweep["n"] == 20 and len(sweep["ci95"]) == 3
    x = np.array([1.0, 2.0, 4.0, 8.0])
    Y = np.array([3 * x ** 2 * (1 + 0.01 * k) for k in range(5)])
    assert slope_headline(x, Y, log=True)["value"] == pytest.approx(2.0)


def test_adjusted_pvalues_are_never_smaller():
    p = np.array([0.001, 0.01, 0.04, 0.2, 0.5])
    assert np.all(adjust_pvalues(p) >= p)


@given(st.integers(0, 2**31), st.integers(0, 1000), st.integers(0, 1000))
@settings(max_examples=50)
def test_sample_seeds_differ_between_members(data_seed, a, b):
    assert (sample_seed(data_seed, a) == sample_seed(data_seed, b)) == (a == b)


# ----------------------------------------------------------------------------- cells


@pytest.fixture(scope="module")
def trained_cells(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    base = TrainCell(World("xor"), TrainConfig(widths=(2, 4, 2), steps=20, snapshot_every=10),
                     seeds=3, n_train=32)
    cells = [base, replace(base, train=replace(base.train, learning_rate=0.05)),
             replace(base, sampling="shared")]
    calls = []

    def analyse(cell, run):
        calls.append(cell)
        return {"mean_final_loss": float(np.mean(run.final_loss))}, {"twice": 2 * run.final_loss}

    results = Context("harness-test", root).train_cells(cells, analyse)
    return root, cells, results, calls, analyse


def test_cells_store_networks_seeds_and_analysis(trained_cells):
    _, cells, results, calls, _ = trained_cells
    assert calls == cells
    for cell, result in zip(cells, results):
        a = result.arrays
        np.testing.assert_array_equal(a["seeds"], np.arange(3))
        np.testing.assert_array_equal(a["kept"], np.arange(3))
        np.testing.assert_allclose(a["twice"], 2 * a["final_loss"])
        assert a["W0"].shape == (3, 2, 4) and a["init_W0"].shape == (3, 2, 4)
        assert result.summary["diverged"] == []
        assert config_from_dict(AnalysedCell, result.config) == AnalysedCell(cell)


def test_cells_are_trained_on_their_own_samples(trained_cells):
    """Member i of a per-seed cell trains on its own sample; a shared cell on one sample. The
    stored final network equals a fresh single training of the same member."""
    from toylab.train import train_ensemble

    _, cells, results, _, _ = trained_cells
    X, y = cells[0].training_data()
    assert not np.array_equal(X[0], X[1])
    Xs, _ = cells[2].training_data()
    np.testing.assert_array_equal(Xs[0], Xs[1])
    alone = train_ensemble(X[1:2], y[1:2], [1], config=cells[0].train)
    np.testing.assert_allclose(load_layers(results[0], 1)[0][0], alone.layers[0][0][0],
                               rtol=1e-5, atol=1e-6)


def test_cells_come_from_the_cache_the_second_time(trained_cells):
    root, cells, results, _, analyse = trained_cells
    again = []
    reloaded = Context("harness-test", root).train_cells(
        cells, lambda c, r: again.append(c) or analyse(c, r))
    assert again == [] and [r.path for r in reloaded] == [r.path for r in results]
    assert load_result(results[0].path) is not None


def test_changed_analysis_settings_recompute_the_cell(trained_cells):
    root, cells, results, _, analyse = trained_cells
    again = []
    other = Context("harness-test", root).train_cells(
        cells[:1], lambda c, r: again.append(c) or analyse(c, r), settings={"cut": 0.5})
    assert again == cells[:1] and other[0].path != results[0].path
