"""``toylab explore`` driven in headless Chromium (marker ``browser``).

The app is served in-process on a free loopback port; Debian's ``chromium`` and
``chromium-driver`` with ``selenium`` load it, pick a preset, train, wait for the regions plot,
hover a region, click a neuron, and check what the page shows against the library's own values
(the same net retrained here with the same config and seed: training is deterministic). The
browser console must be free of errors. Screenshots go to ``$TOYLAB_SCREENSHOTS`` (default: a
temp dir) for a person to look at.

Skipped, with the reason, when chromium, its driver, selenium or bokeh is missing (``.ci/run``
installs chromium where it can).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

for _module in ("selenium", "bokeh"):
    pytest.importorskip(_module, reason=f"{_module} is not installed: pip install -e '.[test]'")

from toylab.explore.driver import (  # noqa: E402
    allow_downloads, chromium_paths, click, console_errors, deep_elements, deep_text,
    has_rendered_math, load, model_value, plot_pixel, pointer, set_input, source_column,
    start_chromium, wait, widget_element,
)

if None in chromium_paths():
    pytest.skip("chromium/chromedriver not found: apt-get install -y chromium chromium-driver",
                allow_module_level=True)

import toylab  # noqa: E402
from toylab import exact, landscape, symbolic  # noqa: E402
from toylab.compare import first_order_change  # noqa: E402
from toylab.explore import load_net, views  # noqa: E402
from toylab.explore.figures import CURVE_POINTS  # noqa: E402
from toylab.explore.settings import parse_training  # noqa: E402
from toylab.explore.server import Background  # noqa: E402


@pytest.fixture(scope="module")
def shots():
    folder = Path(os.environ.get("TOYLAB_SCREENSHOTS") or tempfile.mkdtemp(
        prefix="toylab-explore-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nexplore screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def app():
    with Background(port=0) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


def test_page_loads_only_local_scripts(app):
    import urllib.request

    page = urllib.request.urlopen(app.url, timeout=120).read().decode()
    sources = re.findall(r'<script[^>]+src="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources), sources


def test_load_train_hover_click(app, browser, shots):
    d = browser
    print(f"first page load {load(d, app.url):.2f} s")
    d.save_screenshot(str(shots / "01_loaded.png"))

    # pick a preset and a small net
    select = widget_element(d, "world", "select")
    select.send_keys("two_gaussians")
    wait(lambda: model_value(d, "world", "value") == "two_gaussians", "the preset")
    set_input(d, "hidden", "6,5")
    set_input(d, "steps", "300")
    wait(lambda: model_value(d, "steps", "value") == 300, "steps")
    click(d, widget_element(d, "train", "button"))
    wait(lambda: source_column(d, "regions", "xs"), "the regions plot", timeout=180)
    wait(lambda: model_value(d, "status", "text").startswith("step 300"),
         "all snapshots analysed", timeout=180)
    status = model_value(d, "status", "text")
    d.save_screenshot(str(shots / "02_trained.png"))

    # the same net, from the library directly
    dist = toylab.make("two_gaussians")
    sample = dist.sample(0, 600)
    config, seeds = parse_training(hidden="6,5", n_classes=2, activation="relu",
                                   optimizer="adam", learning_rate="0.01", steps=300, seed=0,
                                   seeds=1)
    result = toylab.train_ensemble(sample.X, sample.y, seeds, config=config)
    layers = [(W[0], b[0]) for W, b in result.layers]
    p = exact.population_partition(layers, dist, activation="relu",
                                   max_regions=views.MAX_REGIONS)
    acc = exact.population_accuracy(p, dist).value
    assert f"{len(p)} regions" in status and f"{acc:.6f}" in status, (status, len(p), acc)
    # the net the page offers for download is this net
    saved = shots / "net.json"
    saved.write_text(source_column(d, "download_net", "text")[0])
    shown_layers, _, _ = load_net(saved)
    for (W, b), (W2, b2) in zip(layers, shown_layers):
        np.testing.assert_array_equal(np.asarray(W, np.float64), W2)
        np.testing.assert_array_equal(np.asarray(b, np.float64), b2)

    # hover the most probable region whose centroid is well inside the plot window
    masses = exact.region_masses(p, dist).value
    box = np.asarray(dist.domain)
    margin = 0.1 * (box[:, 1] - box[:, 0])
    inside = np.all((p.centroids > box[:, 0] + margin) & (p.centroids < box[:, 1] - margin), 1)
    r = int(np.argmax(np.where(inside, masses, -1.0)))
    point = p.centroids[r]
    xy = plot_pixel(d, "regions_plot", *point)
    pointer(d, (xy[0] - 1, xy[1]))  # entering the canvas, then moving in it, shows the tooltip
    pointer(d, xy)
    tips = wait(lambda: [t for t in deep_text(d, ".bk-tooltip-content") if "pattern" in t],
                "the region tooltip", timeout=180)
    d.save_screenshot(str(shots / "03_hover.png"))
    pattern = "|".join("".join(map(str, pat[r])) for pat in p.patterns)
    assert pattern in tips[0], (tips, pattern)
    assert f"P(region):{masses[r]:.6g}" in tips[0], (tips, masses[r])

    # click the neuron L2.3 (layer 1, index 2): tile 3 of the second row
    tiles = [source_column(d, "tiles", c) for c in ("cx", "cy", "label")]
    k = tiles[2].index("L2.3")
    pointer(d, plot_pixel(d, "neurons_plot", tiles[0][k], tiles[1][k]), press=True)
    wait(lambda: "L2.3" in model_value(d, "numbers", "text"), "the neuron's numbers", timeout=180)
    wait(lambda: has_rendered_math(d, "formula"), "the rendered formula", timeout=180)
    time.sleep(0.5)
    d.save_screenshot(str(shots / "04_neuron.png"))
    numbers = model_value(d, "numbers", "text")
    mean = exact.neuron_expectation(p, dist, (1, 2)).value
    window = exact.partition(layers, dist.domain, activation="relu")
    maximum = exact.neuron_extrema(window, (1, 2)).max
    shown_mean = float(re.search(r"class='mean'>([^<]+)<", numbers).group(1))
    shown_max = float(re.search(r"class='max'>([^<]+)<", numbers).group(1))
    np.testing.assert_allclose([shown_mean, shown_max], [mean, maximum], rtol=1e-9, atol=1e-12)
    formula = model_value(d, "formula", "text")
    expected = symbolic.latex(symbolic.neuron_expression(layers, (1, 2), activation="relu"))
    assert expected in formula

    # the landscape tab: exact Hessian spectrum of the shown net, shares of an eigenvector
    tab = [e for e in deep_elements(d, ".bk-tab") if e.text.strip() == "landscape"]
    click(d, tab[0])
    click(d, wait(lambda: widget_element(d, "hessian", "button"), "the Hessian button"))
    wait(lambda: source_column(d, "spectrum", "k"), "the spectrum", timeout=180)
    set_input(d, "eigenvector", "2")
    wait(lambda: "eigenvector 2 " in d.execute_script(
        "return Bokeh.documents[0].get_model_by_name('shares_plot').title.text"),
        "the eigenvector's shares", timeout=180)
    shown = source_column(d, "spectrum", "value")
    H = landscape.hessian(layers, sample.X, sample.y, activation="relu")
    spec = landscape.eigendecomposition((H + H.T) / 2)
    np.testing.assert_allclose(shown, spec.eigenvalues[:len(shown)], rtol=1e-6,
                               atol=1e-9 * abs(spec.eigenvalues[0]))
    shares = source_column(d, "shares", "share")
    widths = [2, 6, 5, 2]
    np.testing.assert_allclose(
        shares, landscape.neuron_shares(spec.eigenvectors[:, 1], widths)[:, 0], atol=1e-6)
    # and how it moves the boundary: the exact first-order rate of the population accuracy
    title = wait(lambda: (t := d.execute_script(
        "return Bokeh.documents[0].get_model_by_name('motion_plot').title.text")).startswith(
        "eigenvector 2:") and t, "the boundary motion", timeout=180)
    rate = first_order_change(p, spec.eigenvectors[:, 1], dist=dist).accuracy_rate
    shown_rate = float(title.rsplit("= ", 1)[1])
    # an eigenvector's sign is arbitrary, so compare magnitudes (3 significant digits shown)
    np.testing.assert_allclose(abs(shown_rate), abs(rate), rtol=5e-3)
    d.save_screenshot(str(shots / "05_landscape.png"))
    assert console_errors(d) == []


@pytest.mark.slow  # ~35 s: a 3,000-step run, stopped, trained again, saved twice
def test_seed_ensemble_stop_train_again_and_save_views(app, browser, shots, tmp_path):
    """Three seeds train together: the curves show each, the views the chosen one (checked
    against the library's member). Stop pressed during a 3,000-step run ends the training
    after the segment in flight (segments of one 300-step snapshot interval): the page shows
    the step it stopped at, below 3,000, and the net trained so far, which is the library's
    run of that many steps; then the page trains again, and saves its regions plot as SVG and
    PNG (:func:`check_view_downloads`)."""
    d = browser
    load(d, app.url)
    console_errors(d)
    widget_element(d, "world", "select").send_keys("two_gaussians")
    wait(lambda: model_value(d, "world", "value") == "two_gaussians", "the preset")
    set_input(d, "hidden", "6,5")
    set_input(d, "seeds", "3")
    set_input(d, "steps", "3000")
    wait(lambda: model_value(d, "steps", "value") == 3000 and
         model_value(d, "seeds", "value") == 3, "steps and seeds")
    click(d, widget_element(d, "train", "button"))
    stop = wait(lambda: not model_value(d, "stop", "disabled") and
                widget_element(d, "stop", "button"), "the Stop button")
    assert model_value(d, "status", "text").startswith("training 3 seed(s)")
    click(d, stop)
    status = wait(lambda: (t := model_value(d, "status", "text")).startswith("stopped") and t,
                  "the stopped run", timeout=180)
    wait(lambda: not model_value(d, "train", "disabled"), "the idle page")
    d.save_screenshot(str(shots / "09_stopped.png"))
    # training stopped between segments, below the 3,000 steps asked for (Stop lands while the
    # first segment compiles and trains, so normally at step 300); its last snapshot is drawn
    # and the analysis stopped before the earlier ones
    match = re.fullmatch(r"stopped at step (\d+) of 3000; analysed (\d+) of (\d+) snapshots",
                         status)
    assert match, status
    stopped, done, total = (int(g) for g in match.groups())
    assert 300 <= stopped < 3000 and stopped % 300 == 0, status
    assert total == stopped // 300 + 1 and 1 <= done < total, status
    steps = source_column(d, "population_accuracy", "step")
    assert len(steps) == done and stopped in steps, (steps, status)
    assert model_value(d, "snapshot", "value") == total - 1
    assert model_value(d, "snapshot", "title") == f"snapshot: step {stopped}"
    assert f'"step": {stopped}' in source_column(d, "download_net", "text")[0]
    # every seed's curves (up to the stop), the shown seed's on top
    member_loss = source_column(d, "member_curves", "loss")
    assert len(member_loss) == 3
    assert model_value(d, "view_seed", "options") == ["0", "1", "2"]

    # show seed 1: its views are the library's member 1 of a run of the steps trained (the
    # segments continue one another exactly, so this is bit for bit)
    widget_element(d, "view_seed", "select").send_keys("1")
    wait(lambda: model_value(d, "status", "text").startswith(f"step {stopped}:"),
         "seed 1 analysed", timeout=180)
    dist = toylab.make("two_gaussians")
    sample = dist.sample(0, 600)
    config, seeds = parse_training(hidden="6,5", n_classes=2, activation="relu",
                                   optimizer="adam", learning_rate="0.01", steps=stopped, seed=0,
                                   seeds=3)
    result = toylab.train_ensemble(sample.X, sample.y, seeds,
                                   config=dataclasses.replace(config, snapshot_every=300))
    shown, _, _ = load_net_text(source_column(d, "download_net", "text")[0])
    for (W, b), (W2, b2) in zip(result.member(1), shown):
        np.testing.assert_array_equal(np.asarray(W, np.float64), W2)
        np.testing.assert_array_equal(np.asarray(b, np.float64), b2)
    loss_shown = np.array(source_column(d, "member_curves", "loss")[1], dtype=float)
    stride = max(1, stopped // CURVE_POINTS)
    np.testing.assert_allclose(loss_shown, result.loss[1, ::stride], rtol=1e-6)
    d.save_screenshot(str(shots / "10_seed1.png"))

    # train again (one seed, the first test's program): the page is usable
    set_input(d, "seeds", "1")
    set_input(d, "steps", "300")
    wait(lambda: model_value(d, "steps", "value") == 300, "steps")
    click(d, widget_element(d, "train", "button"))
    # the stopped run's status normally reads "step 300:" too: the new run is the one whose
    # curves hold one seed (training clears the old curves in the callback that starts it)
    wait(lambda: len(source_column(d, "member_curves", "loss")) == 1 and
         model_value(d, "status", "text").startswith("step 300:"), "a new run", timeout=180)
    assert model_value(d, "view_seed", "options") == ["0"]
    d.save_screenshot(str(shots / "11_trained_again.png"))
    check_view_downloads(d, tmp_path)
    assert console_errors(d) == []


def check_view_downloads(d, folder: Path) -> None:
    """The PNG and SVG buttons of a page with a trained net save the chosen plot (regions):
    the SVG is vector (one filled path per linear region, in the region's colour, and the
    title as text), the PNG a bitmap of the plot's size."""
    import xml.etree.ElementTree as ET

    allow_downloads(d, folder)
    assert model_value(d, "export_view", "value") == "regions"
    for fmt in ("svg", "png"):
        click(d, widget_element(d, f"export_{fmt}", "button"))
    svg_file, png_file = (folder / "toylab-regions.svg", folder / "toylab-regions.png")
    wait(lambda: svg_file.exists() and png_file.exists(), "the downloads")
    root = ET.fromstring(svg_file.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"

    def rgb(color):  # "#rrggbb" or "rgb(r,g,b)" -> (r, g, b)
        if color.startswith("#"):
            return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
        return tuple(int(v) for v in re.findall(r"\d+", color)[:3])

    fills = np.array([rgb(e.get("fill")) for e in root.iter("{http://www.w3.org/2000/svg}path")
                      if e.get("fill") != "none"])
    # the regions BokehJS paints: those in the plot window (a vertex inside it, at least)
    window = d.execute_script(
        "const p = Bokeh.documents[0].get_model_by_name('regions_plot');"
        "return [p.x_range.start, p.x_range.end, p.y_range.start, p.y_range.end];")
    xs, ys = source_column(d, "regions", "xs"), source_column(d, "regions", "ys")
    shown = [any(window[0] < x < window[1] and window[2] < y < window[3]
                 for x, y in zip(px, py)) for px, py in zip(xs, ys)]
    colors = np.array([rgb(c) for c, s in zip(source_column(d, "regions", "color"), shown)
                       if s])
    assert 0 < len(colors) <= len(xs)
    # the same colours up to BokehJS's 8-bit rounding (hex -> RGBA -> "rgb(...)"): 1 level
    close = np.abs(fills[:, None, :] - colors[None, :, :]).max(-1) <= 1
    assert close.any(0).all(), colors[~close.any(0)]
    assert close.any(1).sum() >= len(colors)  # a filled path for every region shown
    texts = "".join(e.text or "" for e in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "exact linear regions" in texts
    png = png_file.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == height and width >= 430, (width, height)  # square plot, x device pixels


@pytest.mark.slow  # ~18 s: a second app session with uploaded points
def test_points_upload(app, browser, shots, tmp_path):
    """A CSV of points becomes an empirical world: a bad file shows the row and column, a good
    one trains; regions and neuron means are the library's (over the points), population
    quantities are marked unavailable."""
    from toylab.explore.world import points_from_csv

    d = browser
    load(d, app.url)
    console_errors(d)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,label\n0,0,0\n1,two,1\n")
    widget_element(d, "points_file", "input").send_keys(str(bad))
    wait(lambda: "row 2, column 'y'" in message(d), "the CSV message", timeout=60)
    assert "bad.csv" in message(d)

    sample = toylab.make("xor").sample(3, 80)
    good = tmp_path / "xor.csv"
    good.write_text("x,y,label\n" + "".join(f"{x!r},{y!r},{c}\n"
                                            for (x, y), c in zip(sample.X.tolist(), sample.y)))
    widget_element(d, "points_file", "input").send_keys(str(good))
    wait(lambda: model_value(d, "world", "value") == "uploaded points", "the points world",
         timeout=60)
    wait(lambda: model_value(d, "status", "text").startswith("points xor.csv: 80 points"),
         "the points", timeout=60)
    assert message(d) == "" and "unavailable for an empirical world" in model_value(
        d, "status", "text")
    set_input(d, "hidden", "6,5")
    set_input(d, "steps", "300")
    wait(lambda: model_value(d, "steps", "value") == 300, "steps")
    click(d, widget_element(d, "train", "button"))
    status = wait(lambda: (t := model_value(d, "status", "text")).startswith("step 300:") and t,
                  "the run", timeout=180)
    assert "unavailable for an empirical world" in status
    assert source_column(d, "population_accuracy", "step") == []

    world = points_from_csv(good.read_text(), name="xor.csv")
    config, seeds = parse_training(hidden="6,5", n_classes=2, activation="relu",
                                   optimizer="adam", learning_rate="0.01", steps=300, seed=0,
                                   seeds=1)
    result = toylab.train_ensemble(world.X, world.y, seeds, config=config)
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64))
              for W, b in result.member(0)]
    p = exact.partition(layers, world.domain, activation="relu")
    assert f"step 300: {len(p)} regions" in status, (status, len(p))
    tiles = [source_column(d, "tiles", c) for c in ("cx", "cy", "label")]
    k = tiles[2].index("L2.3")
    pointer(d, plot_pixel(d, "neurons_plot", tiles[0][k], tiles[1][k]), press=True)
    wait(lambda: "L2.3" in model_value(d, "numbers", "text"), "the neuron's numbers", timeout=180)
    numbers = model_value(d, "numbers", "text")
    assert "over the 80 points" in numbers
    shown_mean = float(re.search(r"class='mean'>([^<]+)<", numbers).group(1))
    mean = symbolic.lambdify_neuron(layers, (1, 2), activation="relu")(world.X).mean()
    np.testing.assert_allclose(shown_mean, mean, rtol=1e-9, atol=1e-12)
    wait(lambda: has_rendered_math(d, "formula"), "the rendered formula", timeout=180)
    time.sleep(0.3)
    d.save_screenshot(str(shots / "12_points.png"))
    assert console_errors(d) == []


def load_net_text(text: str):
    """:func:`toylab.explore.load_net` of a downloaded net's JSON text."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.json"
        path.write_text(text)
        return load_net(path)


@pytest.fixture(scope="module")
def small_app():
    """A server whose pages draw at most 100 regions, to reach 'too large' quickly."""
    with Background(port=0, max_regions=100) as server:
        yield server


def message(driver) -> str:
    return model_value(driver, "message", "text") if model_value(
        driver, "message", "visible") else ""


@pytest.mark.slow
def test_bad_input_shows_a_message_and_the_app_stays_usable(small_app, browser, shots,
                                                            tmp_path, caplog):
    """Runs after the test above, in the same process: the last training run reuses its
    compiled program (same widths, optimizer and steps), the two runs before it share one."""
    d = browser
    load(d, small_app.url)
    console_errors(d)  # start the console check afresh
    def train():
        click(d, widget_element(d, "train", "button"))
    def idle():
        wait(lambda: not model_value(d, "train", "disabled"), "the idle page")

    # a width of 0
    set_input(d, "hidden", "4,0")
    train()
    wait(lambda: "width of 0" in message(d), "the width message", timeout=180)

    # a world file whose covariance is not positive semi-definite
    bad = tmp_path / "bad.json"
    bad.write_text('{"components": [{"mean": [0, 0], "cov": 1.0, "label": 0},'
                   ' {"mean": [2, 0], "cov": [[1, 2], [2, 1]], "label": 1}]}')
    widget_element(d, "world_file", "input").send_keys(str(bad))
    wait(lambda: "not positive semi-definite" in message(d), "the covariance message",
         timeout=180)
    assert "bad.json" in message(d)
    d.save_screenshot(str(shots / "06_bad_world.png"))

    # a learning rate that diverges
    widget_element(d, "world", "select").send_keys("two_gaussians")
    wait(lambda: model_value(d, "world", "value") == "two_gaussians", "the preset")
    wait(lambda: message(d) == "", "the message to clear", timeout=180)
    set_input(d, "hidden", "12,12")
    set_input(d, "steps", "20")
    widget_element(d, "optimizer", "select").send_keys("momentum")
    set_input(d, "lr", "1e6")
    train()
    wait(lambda: "diverged" in message(d), "the divergence message", timeout=180)
    assert "lower the learning rate" in message(d)

    # a net too large to partition (this server draws at most 100 regions)
    set_input(d, "lr", "0.01")
    idle()
    train()
    wait(lambda: "more than 100 linear regions" in message(d), "the too-large message",
         timeout=180)
    d.save_screenshot(str(shots / "07_too_large.png"))

    # still usable: the net of the test above trains and draws again
    set_input(d, "hidden", "6,5")
    set_input(d, "steps", "300")
    widget_element(d, "optimizer", "select").send_keys("adam")
    wait(lambda: model_value(d, "optimizer", "value") == "adam", "adam")
    idle()
    train()
    wait(lambda: model_value(d, "status", "text").startswith("step 300"), "a good run",
         timeout=180)
    assert message(d) == ""
    assert console_errors(d) == []
    # the server log holds the messages and nothing else (no tracebacks)
    assert all(rec.exc_info is None for rec in caplog.records)


def test_static_page_offline(browser, shots, tmp_path):
    """``export_html`` opened from disk with the network off: the views are there and a click
    on a neuron shows its formula (typeset) and its exact numbers."""
    import jax

    from toylab.explore import export_html
    from toylab.models import init_layers

    d = browser
    dist = toylab.make("blobs")
    layers = [(np.asarray(W, np.float64), np.asarray(b, np.float64))
              for W, b in init_layers(jax.random.key(1), (2, 5, 4, 3))]
    path = export_html(layers, dist, tmp_path / "net.html", activation="relu")
    print(f"static page weight {path.stat().st_size / 1e6:.2f} MB")
    d.set_network_conditions(offline=True, latency=0, download_throughput=0,
                             upload_throughput=0)
    try:
        d.get(path.as_uri())
        wait(lambda: d.execute_script(
            "return !!(window.Bokeh && Bokeh.documents.length && "
            "Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('neurons_plot')))"),
            "the static page")
        p = exact.population_partition(layers, dist, activation="relu")
        assert len(source_column(d, "regions", "region")) == len(p)
        tiles = [source_column(d, "tiles", c) for c in ("cx", "cy", "label")]
        k = tiles[2].index("L2.4")
        pointer(d, plot_pixel(d, "neurons_plot", tiles[0][k], tiles[1][k]), press=True)
        wait(lambda: "L2.4" in model_value(d, "numbers", "text"), "the neuron's numbers")
        wait(lambda: has_rendered_math(d, "formula"), "the typeset formula", timeout=180)
        time.sleep(0.5)
        d.save_screenshot(str(shots / "08_static.png"))
        numbers = model_value(d, "numbers", "text")
        shown_mean = float(re.search(r"class='mean'>([^<]+)<", numbers).group(1))
        mean = exact.neuron_expectation(p, dist, (1, 3)).value
        np.testing.assert_allclose(shown_mean, mean, rtol=1e-9)
        expected = symbolic.latex(symbolic.neuron_expression(layers, (1, 3), activation="relu"))
        assert expected in model_value(d, "formula", "text")
        assert console_errors(d) == []
    finally:
        d.delete_network_conditions()
