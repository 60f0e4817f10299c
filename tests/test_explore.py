"""toylab.explore without a browser: worlds, settings validation and the exact views, each
checked against an independent computation (the plain forward pass, densities of the untouched
mixture, brute-force clipping)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bokeh", reason="bokeh is not installed: pip install -e '.[test]'")

import toylab  # noqa: E402
from toylab.data import DISTRIBUTIONS  # noqa: E402
from toylab.explore import load_world, preset_world, transformed  # noqa: E402
from toylab.explore.settings import (  # noqa: E402
    MAX_SEEDS, parse_training, parse_world, snapshot_every,
)
from toylab.explore.views import (  # noqa: E402
    clip_segments, net_view, neuron_detail, neuron_folds, world_view,
)
from toylab.explore.world import PRESET_PARAMS, world_from_text  # noqa: E402
from toylab.models import activations, init_layers  # noqa: E402


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_preset_builds_from_its_listed_parameters(name):
    dist = preset_world(name, PRESET_PARAMS[name])
    assert dist.dim == 2 and dist.n_classes >= 2
    assert "dim" not in PRESET_PARAMS[name]


def test_transformed_moves_the_density_rigidly():
    dist = toylab.make("curved")
    moved = transformed(dist, shift=(1.5, -2.0), rotate=30.0)
    t = np.deg2rad(30.0)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    X = np.random.default_rng(0).normal(size=(50, 2)) * 2
    # a rigid motion keeps densities: p_moved(R x + t) = p(x)
    np.testing.assert_allclose(moved.log_density(X @ R.T + [1.5, -2.0]), dist.log_density(X),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(moved.bayes_error(), dist.bayes_error(), rtol=1e-6)


def test_world_file_json_and_toml(tmp_path):
    json_file = tmp_path / "w.json"
    json_file.write_text('{"name": "pair", "components": ['
                         '{"mean": [-1, 0], "cov": [[1.0, 0.5], [0.5, 1.0]], "label": 0},'
                         '{"mean": [1, 0], "cov": 0.5, "label": 1}]}')
    dist = load_world(json_file)
    np.testing.assert_array_equal(dist.means, [[-1, 0], [1, 0]])
    np.testing.assert_array_equal(dist.covs[1], 0.5 * np.eye(2))
    toml_file = tmp_path / "w.toml"
    toml_file.write_text('preset = "blobs"\nshift = [1.0, 0.0]\n[params]\nk = 4\n')
    dist = load_world(toml_file)
    np.testing.assert_allclose(dist.means, toylab.make("blobs", k=4).means + [1.0, 0.0])


@pytest.mark.parametrize("text, words", [
    ('{"components": [{"mean": [0, 0], "cov": [[1, 2], [2, 1]]}, {"mean": [1, 1], "cov": 1}]}',
     ["covs[0]", "not positive semi-definite"]),
    ('{"components": [{"mean": [0, 0]}]}', ["components[0] lacks ['cov']"]),
    ('{"components": [{"mean": [0, 0, 1], "cov": 1}]}', ["components[0].mean", "two numbers"]),
    ('{"components": [{"mean": [0, 0], "cov": [1, 2, 3]}]}', ["components[0].cov", "2x2"]),
    ('{"preset": "blobs", "params": {"sides": 3}}', ["['sides']", "not parameters"]),
    ('{"preset": "moons"}', ["preset='moons'", "choose one of"]),
    ('{"components": [', ["not valid JSON"]),
])
def test_world_file_errors_name_the_file_and_the_problem(text, words):
    with pytest.raises(ValueError) as err:
        world_from_text(text, source="world file w.json")
    assert "world file w.json" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_missing_world_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read it"):
        load_world(tmp_path / "nope.json")


@pytest.mark.parametrize("kwargs, words", [
    ({"hidden": "16,0"}, ["width of 0"]),
    ({"hidden": "a,b"}, ["whole numbers"]),
    ({"hidden": ""}, ["at least one hidden layer"]),
    ({"learning_rate": "fast"}, ["not a number"]),
    ({"learning_rate": "-1"}, ["positive number"]),
    ({"steps": 0}, ["steps=0"]),
    ({"seeds": MAX_SEEDS + 1}, [f"<= {MAX_SEEDS}"]),
    ({"activation": "tanh"}, ["tanh"]),
])
def test_training_settings_errors(kwargs, words):
    settings = dict(hidden="8", n_classes=3, activation="relu", optimizer="adam",
                    learning_rate="0.01", steps=100, seed=0, seeds=1) | kwargs
    with pytest.raises(ValueError) as err:
        parse_training(**settings)
    for word in words:
        assert word in str(err.value)


def test_training_settings_and_world_settings():
    config, seeds = parse_training(hidden="8, 4", n_classes=3, activation="abs",
                                   optimizer="sgd", learning_rate="0.1", steps=250, seed=3,
                                   seeds=2)
    assert config.widths == (2, 8, 4, 3) and seeds == [3, 4]
    assert config.steps % config.snapshot_every == 0
    world = parse_world(preset="blobs", params="k=4, std=0.5", shift_x=0.0, shift_y=1.0,
                        rotate=0.0)
    assert world["params"] == {"k": 4, "std": 0.5} and isinstance(world["params"]["k"], int)
    with pytest.raises(ValueError, match="not key=value"):
        parse_world(preset="blobs", params="k", shift_x=0, shift_y=0, rotate=0)


@pytest.mark.parametrize("steps", [1, 7, 10, 1000, 997, 360])
def test_snapshot_every_divides_steps(steps):
    every = snapshot_every(steps)
    assert steps % every == 0 and steps // every <= 10


def test_clip_segments_against_sampling():
    rng = np.random.default_rng(1)
    segs = rng.uniform(-3, 3, size=(200, 2, 2))
    box = np.array([[-1.0, 2.0], [-1.5, 1.0]])
    t = np.linspace(0, 1, 4001)
    assert len(clip_segments(segs, box)) <= len(segs)
    for seg in segs:
        pts = seg[0] + t[:, None] * (seg[1] - seg[0])
        inside = np.all((pts >= box[:, 0]) & (pts <= box[:, 1]), axis=1)
        clipped = clip_segments(seg[None], box)
        length = np.linalg.norm(seg[1] - seg[0])
        if not inside.any():  # outside, or grazing between two samples
            assert len(clipped) == 0 or np.linalg.norm(np.diff(clipped[0], axis=0)) < length / 2000
            continue
        assert clipped.shape == (1, 2, 2)
        c = clipped[0]
        assert np.all(c >= box[:, 0] - 1e-12) and np.all(c <= box[:, 1] + 1e-12)
        # the clipped piece is the sampled inside stretch, to the sampling step
        ends = pts[inside][[0, -1]]
        np.testing.assert_allclose(c, ends, atol=length / 4000 + 1e-12)


def forward(layers, X):
    """Float64 forward pass (pre, post per layer) as NumPy: the independent reference."""
    import jax

    with jax.enable_x64(True):
        acts = activations(layers, np.asarray(X, np.float64), "relu")
        return [np.asarray(z) for z in acts.pre], [np.asarray(h) for h in acts.post]


@pytest.fixture(scope="module")
def small_net():
    import jax

    dist = toylab.make("blobs")
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in
              init_layers(jax.random.key(0), (2, 6, 5, 3))]
    return dist, layers, net_view(layers, "relu", dist)


def test_net_view_against_the_forward_pass(small_net):
    dist, layers, view = small_net
    p = view.partition
    assert len(view.polygons) == len(p) == len(view.patterns) == len(view.mass)
    # region masses are a probability distribution up to the mass outside the box
    assert abs(view.mass.sum() - 1) < 1e-9
    # images: exact values at the pixel centres = the forward pass there
    box = np.asarray(dist.domain)
    n = view.images.shape[-1]
    gx = np.linspace(*box[0], 2 * n + 1)[1::2]
    gy = np.linspace(*box[1], 2 * n + 1)[1::2]
    U = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    hidden = np.concatenate(forward(layers, U)[1][:-1], axis=1)
    np.testing.assert_allclose(view.images.reshape(len(view.neurons), -1), hidden.T,
                               rtol=1e-9, atol=1e-9)
    # predicted class at each centroid = argmax of the forward pass there
    logits = forward(layers, p.centroids)[1][-1]
    np.testing.assert_array_equal(view.predicted, logits.argmax(1))
    # fold midpoints: the neuron's pre-activation vanishes there
    for (layer, i), segs in zip(view.neurons, view.folds):
        if len(segs):
            mid = segs.mean(axis=1)
            pre = forward(layers, mid)[0][layer][:, i]
            np.testing.assert_allclose(pre, 0, atol=1e-9)
    # the patterns shown are the forward pass's signs at the centroids
    signs = [(z > 0).astype(int) for z in forward(layers, p.centroids)[0][:-1]]
    expected = ["|".join("".join(map(str, s[r])) for s in signs) for r in range(len(p))]
    assert view.patterns == expected
    assert 0 < view.accuracy.value <= 1


def test_net_view_without_folds_then_its_folds(small_net):
    """The page draws the first view without its folds, then adds them: together the same
    view."""
    dist, layers, view = small_net
    first = net_view(layers, "relu", dist, folds=False)
    assert first.folds is None
    np.testing.assert_array_equal(first.images, view.images)
    np.testing.assert_array_equal(first.mass, view.mass)
    assert first.patterns == view.patterns and first.accuracy == view.accuracy
    folds = neuron_folds(first.partition, first.neurons)
    assert len(folds) == len(view.folds)
    for a, b in zip(folds, view.folds):
        np.testing.assert_array_equal(a, b)


def test_neuron_detail_against_the_library_and_sampling(small_net):
    dist, layers, view = small_net
    d = neuron_detail(view, dist, (1, 2))
    f = toylab.symbolic.lambdify_neuron(layers, (1, 2), activation="relu")
    sample = dist.sample(5, 200_000)
    mc = f(sample.X)
    assert abs(d.mean - mc.mean()) < 5 * mc.std() / np.sqrt(len(mc)) + 1e-12
    box = np.asarray(dist.domain)
    grid = np.stack(np.meshgrid(np.linspace(*box[0], 301), np.linspace(*box[1], 301)),
                    -1).reshape(-1, 2)
    assert f(grid).max() <= d.maximum + 1e-9
    np.testing.assert_allclose(f(d.argmax[None])[0], d.maximum, rtol=1e-9)
    assert "max" in d.latex


def test_net_view_too_many_regions_names_the_net(small_net):
    dist, layers, _ = small_net
    with pytest.raises(ValueError, match="2-6-5-3 has more than 5 linear regions"):
        net_view(layers, "relu", dist, max_regions=5)


def test_world_view_bayes_boundary_and_density():
    dist = toylab.make("two_gaussians")
    sample = dist.sample(0, 100)
    wv = world_view(dist, sample.X, sample.y)
    assert wv.bayes_exact and len(wv.bayes)
    np.testing.assert_allclose(wv.bayes[..., 0], 0, atol=1e-12)  # the line x1 = 0
    np.testing.assert_allclose(wv.bayes_error, dist.bayes_error())
    G = np.stack(np.meshgrid(wv.gx, wv.gy), -1).reshape(-1, 2)
    np.testing.assert_allclose(wv.density.ravel(), np.exp(dist.log_density(G)))


def test_cli_explore_passes_its_arguments(tmp_path, monkeypatch):
    import toylab.explore
    from toylab.cli import main

    calls = []
    monkeypatch.setattr(toylab.explore, "serve", lambda port, **kw: calls.append((port, kw)))
    world = tmp_path / "w.toml"
    world.write_text('preset = "xor"\nrotate = 45\n')
    assert main(["explore", "--no-browser", "--port", "0", "--world", str(world)]) == 0
    (port, kw), = calls
    assert port == 0 and kw["open_browser"] is False
    np.testing.assert_allclose(kw["world"].means, transformed(toylab.make("xor"), rotate=45).means)


def test_cli_explore_bad_world_file(tmp_path, capsys):
    from toylab.cli import main

    bad = tmp_path / "w.json"
    bad.write_text('{"components": [{"mean": [0, 0], "cov": -1}, {"mean": [1, 0], "cov": 1}]}')
    assert main(["explore", "--no-browser", "--world", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "w.json" in err and "covs[0]" in err and "not positive semi-definite" in err


def test_net_json_round_trip(small_net, tmp_path):
    from toylab.explore import load_net, net_json
    from toylab.train import TrainConfig

    dist, layers, _ = small_net
    world = transformed(dist, shift=(1.0, 2.0), rotate=10.0)
    config = TrainConfig(widths=(2, 6, 5, 3), steps=100, snapshot_every=10)
    path = tmp_path / "net.json"
    path.write_text(net_json(layers, config, seed=3, step=100, world=world))
    back, activation, world_back = load_net(path)
    assert activation == "relu" and len(back) == len(layers)
    for (W, b), (W2, b2) in zip(layers, back):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(world_back.means, world.means)
    np.testing.assert_array_equal(world_back.covs, world.covs)
    np.testing.assert_array_equal(toylab.apply(back, world.means, "relu"),
                                  toylab.apply(layers, world.means, "relu"))


def test_show_renders_inline_without_global_state(small_net):
    import matplotlib
    from bokeh.io import curdoc
    from bokeh.io.state import curstate

    from toylab.explore import show

    dist, layers, view = small_net
    rc = dict(matplotlib.rcParams)
    notebook, roots = curstate().notebook, len(curdoc().roots)
    shown = show(layers, dist, activation="relu")
    html = shown._repr_html_()
    assert html.startswith("<iframe srcdoc=") and "Bokeh" in shown.html
    # regions and every neuron's formula are embedded in the page
    assert f"{len(view.polygons)} linear regions" in shown.html
    assert shown.html.count("y_{2,") >= 5
    assert dict(matplotlib.rcParams) == rc
    assert curstate().notebook == notebook and len(curdoc().roots) == roots


def test_seed_ensemble_trains_together_and_rewinds():
    """The page's seeds control: ``seeds`` consecutive init seeds in one ``train_ensemble``
    call; each member starts from the very parameters its seed gives alone (rewind)."""
    from toylab.train import train_ensemble

    dist = toylab.make("blobs")
    sample = dist.sample(0, 30)
    config, seeds = parse_training(hidden="3", n_classes=3, activation="relu",
                                   optimizer="sgd", learning_rate="0.01", steps=1, seed=3,
                                   seeds=3)
    assert seeds == [3, 4, 5] and MAX_SEEDS == 8
    together = train_ensemble(sample.X, sample.y, seeds, config=config)
    alone = train_ensemble(sample.X, sample.y, [4], config=config)
    for (W, b), (W1, b1) in zip(together.snapshots, alone.snapshots):
        np.testing.assert_array_equal(W[1, 0], W1[0, 0])
        np.testing.assert_array_equal(b[1, 0], b1[0, 0])
    assert not np.array_equal(together.snapshots[0][0][0, 0], together.snapshots[0][0][1, 0])


def test_curve_columns_thin_every_member():
    from toylab.explore.figures import CURVE_POINTS, curve_columns

    steps = 3 * CURVE_POINTS + 7  # every 3rd step
    rng = np.random.default_rng(0)
    loss = rng.uniform(0.1, 2.0, size=(4, steps))
    loss[2, 9] = np.inf
    loss[3, 12] = 0.0
    acc = rng.uniform(size=(4, steps))
    cols = curve_columns(loss, acc)
    assert len(cols["xs"]) == len(cols["loss"]) == len(cols["acc"]) == 4
    np.testing.assert_array_equal(cols["xs"][0], np.arange(0, steps, 3))
    assert len(cols["xs"][0]) <= CURVE_POINTS + 3
    np.testing.assert_array_equal(cols["acc"][1], acc[1, 0::3])
    assert np.isnan(cols["loss"][2][3]) and np.isnan(cols["loss"][3][4])
    finite = np.isfinite(cols["loss"][0])
    np.testing.assert_array_equal(cols["loss"][0][finite], loss[0, 0::3][finite])
    assert finite.all()


def test_points_csv_good_file():
    from toylab.explore.world import points_from_csv

    text = "label, X ,y\n0,1.5,-2\n1,-0.25,3e-1\n\n2,0,0\n1,4,5\n"
    world = points_from_csv(text, name="pts.csv")
    np.testing.assert_array_equal(world.X, [[1.5, -2], [-0.25, 0.3], [0, 0], [4, 5]])
    np.testing.assert_array_equal(world.y, [0, 1, 2, 1])
    assert world.n_classes == 3 and world.name == "pts.csv"
    box = world.domain  # the points' box widened by 10% per side (at least 0.5)
    np.testing.assert_allclose(box, [[-0.25 - 0.5, 4 + 0.5], [-2 - 0.7, 5 + 0.7]])


@pytest.mark.parametrize("text, words", [
    ("a,b,label\n0,0,0\n1,1,1\n", ["header is ['a', 'b', 'label']", "x, y, label"]),
    ("x,y,label\n0,0,0\n1,oops,1\n", ["row 2, column 'y'", "'oops' is not a number"]),
    ("x,y,label\n0,0,0\n1,1,1.5\n", ["row 2, column 'label'", "class index"]),
    ("x,y,label\n0,0,0\n1,1\n", ["row 2 has 2 cells"]),
    ("x,y,label\n0,0,1\n1,1,1\n", ["every point has label 1", "at least two classes"]),
    ("x,y,label\n0,0,0\n1,1,2\n", ["skip [1]", "without gaps"]),
    ("x,y,label\n0,0,0\n", ["1 data row(s)", "at least 2 points"]),
    ("x,y,label\n0,nan,0\n1,1,1\n", ["row 1, column 'y'"]),
])
def test_points_csv_errors_name_row_column_and_fix(text, words):
    from toylab.explore.world import points_from_csv

    with pytest.raises(ValueError) as err:
        points_from_csv(text, name="bad.csv")
    assert "points file bad.csv" in str(err.value)
    for word in words:
        assert word in str(err.value), (str(err.value), word)


def test_empirical_world_views_against_the_points(small_net, tmp_path):
    """Uploaded points: the window's exact partition, region shares and neuron means of the
    points (checked by the forward pass), no population quantities; the net file keeps the
    points."""
    from toylab.explore import load_net, net_json
    from toylab.explore.world import EmpiricalWorld
    from toylab.train import TrainConfig

    _, layers, _ = small_net
    sample = toylab.make("blobs").sample(1, 150)
    world = EmpiricalWorld("pts.csv", sample.X.astype(np.float64), sample.y.astype(np.int64))
    wv = world_view(world, world.X, world.y)
    assert wv.density is None and wv.bayes_error is None and len(wv.bayes) == 0
    view = net_view(layers, "relu", world)
    assert view.accuracy is None
    p = view.partition
    # shares: the fraction of points whose activation pattern is each region's
    pre = forward(layers, world.X)[0][:-1]
    patterns = ["|".join("".join(map(str, (z[i] > 0).astype(int))) for z in pre)
                for i in range(len(world.X))]
    shares = np.array([patterns.count(pat) for pat in view.patterns]) / len(world.X)
    np.testing.assert_allclose(view.mass, shares, atol=1e-15)
    assert abs(view.mass.sum() - 1) < 1e-12
    hidden = np.concatenate(forward(layers, world.X)[1][:-1], axis=1)
    np.testing.assert_allclose(view.mean, hidden.mean(0), rtol=1e-12, atol=1e-12)
    d = neuron_detail(view, world, (1, 2))
    np.testing.assert_allclose(d.mean, hidden[:, 6 + 2].mean(), rtol=1e-12)
    assert d.points == 150 and len(p) > 1
    config = TrainConfig(widths=(2, 6, 5, 3), steps=100, snapshot_every=10)
    path = tmp_path / "net.json"
    path.write_text(net_json(layers, config, seed=0, step=100, world=world))
    _, _, back = load_net(path)
    np.testing.assert_array_equal(back.X, world.X)
    np.testing.assert_array_equal(back.y, world.y)


def test_benchmark_list_has_explore_and_skips_it_without_chromium(monkeypatch, tmp_path, capsys):
    """``python -m benchmarks`` lists the explore benchmark; where Chromium is missing it is
    skipped with the reason printed and recorded, and the other benchmarks are unaffected."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "__main__.py"
    spec = importlib.util.spec_from_file_location("benchmarks_main", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # benchmarks/ is run from the root, not installed
    assert "explore" in bench.BENCHMARKS
    monkeypatch.setattr("shutil.which", lambda name: None)  # no chromium, no driver
    reason = bench.missing("explore")
    assert reason and "chromium" in reason and "apt-get install" in reason
    assert bench.missing("hessian") is None
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    monkeypatch.setattr(bench, "run", lambda name: pytest.fail(f"{name} ran"))
    summary = bench.main(["--only", "explore"])
    entry = summary["benchmarks"]["explore"]
    assert entry["skipped"] == reason and entry["ran"] is False
    assert f"== explore: skipped: {reason}" in capsys.readouterr().out
    assert (tmp_path / "summary.json").exists()
