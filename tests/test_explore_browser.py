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

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
for _module in ("selenium", "bokeh"):
    pytest.importorskip(_module, reason=f"{_module} is not installed: pip install -e '.[test]'")
if CHROMIUM is None or DRIVER is None:
    pytest.skip("chromium/chromedriver not found: apt-get install -y chromium chromium-driver",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.actions.action_builder import ActionBuilder  # noqa: E402

import toylab  # noqa: E402
from toylab import exact, landscape, symbolic  # noqa: E402
from toylab.explore import views  # noqa: E402
from toylab.explore.app import parse_training  # noqa: E402
from toylab.explore.server import Background  # noqa: E402

TIMEOUT = 60.0

# JavaScript helpers: Bokeh models by name, their views, text inside shadow roots.
JS_VIEW = "const m = Bokeh.documents[0].get_model_by_name(arguments[0]); " \
          "const v = m && Bokeh.index.find_one(m);"
JS_DEEP_TEXT = """
function deep(root, sel, out) {
  for (const el of root.querySelectorAll('*')) {
    if (el.matches(sel)) out.push(el);
    if (el.shadowRoot) deep(el.shadowRoot, sel, out);
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def shots():
    folder = Path(os.environ.get("TOYLAB_SCREENSHOTS") or __import__("tempfile").mkdtemp(
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
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1700,1050", "--disable-gpu"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def wait(predicate, what: str, timeout: float = TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def model_value(driver, name: str, attr: str):
    return driver.execute_script(
        "const m = Bokeh.documents[0].get_model_by_name(arguments[0]); return m[arguments[1]];",
        name, attr)


def widget_element(driver, name: str, selector: str):
    """The DOM element ``selector`` inside the shadow root of the widget named ``name``."""
    return driver.execute_script(JS_VIEW + " return v.shadow_el.querySelector(arguments[1]);",
                                 name, selector)


def set_input(driver, name: str, text: str):
    el = widget_element(driver, name, "input")
    el.clear()
    el.send_keys(text + "\n")


def plot_pixel(driver, plot: str, x: float, y: float) -> tuple[float, float]:
    """Viewport coordinates of data point ``(x, y)`` in the figure named ``plot``."""
    return driver.execute_script(JS_VIEW + """
        const r = v.canvas_view.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(arguments[1]),
                r.top + v.frame.y_scale.compute(arguments[2])];""", plot, x, y)


def pointer(driver, xy, *, click: bool = False):
    action = ActionBuilder(driver)
    action.pointer_action.move_to_location(int(round(xy[0])), int(round(xy[1])))
    if click:
        action.pointer_action.click()
    action.perform()


def deep_text(driver, selector: str) -> list[str]:
    """Text of every element matching ``selector`` in the page and its shadow roots, with all
    whitespace removed."""
    texts = driver.execute_script(JS_DEEP_TEXT + """
        return deep(document, arguments[0], []).map(e => e.textContent);""", selector)
    return [re.sub(r"\s+", "", t) for t in texts]


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_load_train_hover_click(app, browser, shots):
    d = browser
    start = time.perf_counter()
    d.get(app.url)
    wait(lambda: d.execute_script(
        "return !!(window.Bokeh && Bokeh.documents.length && "
        "Bokeh.documents[0].get_model_by_name('train'))"), "the page")
    load_s = time.perf_counter() - start
    print(f"first page load {load_s:.2f} s")
    d.save_screenshot(str(shots / "01_loaded.png"))

    # pick a preset and a small net
    select = widget_element(d, "world", "select")
    select.send_keys("two_gaussians")
    wait(lambda: model_value(d, "world", "value") == "two_gaussians", "the preset")
    set_input(d, "hidden", "6,5")
    set_input(d, "steps", "300")
    wait(lambda: model_value(d, "steps", "value") == 300, "steps")
    ActionChains(d).click(widget_element(d, "train", "button")).perform()
    wait(lambda: d.execute_script(
        "return Bokeh.documents[0].get_model_by_name('regions').data_source.data.xs.length > 0"),
        "the regions plot", timeout=90)
    wait(lambda: model_value(d, "status", "text").startswith("step 300"),
         "all snapshots analysed", timeout=60)
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
                "the region tooltip", timeout=10)
    d.save_screenshot(str(shots / "03_hover.png"))
    pattern = "|".join("".join(map(str, pat[r])) for pat in p.patterns)
    assert pattern in tips[0] and f"P(region):{masses[r]:.6g}" in tips[0], (tips, pattern, masses[r])

    # click the neuron L2.3 (layer 1, index 2): tile 3 of the second row
    tiles = d.execute_script(
        "const s = Bokeh.documents[0].get_model_by_name('tiles').data_source.data;"
        "return [Array.from(s.cx), Array.from(s.cy), Array.from(s.label)];")
    k = tiles[2].index("L2.3")
    pointer(d, plot_pixel(d, "neurons_plot", tiles[0][k], tiles[1][k]), click=True)
    wait(lambda: "L2.3" in model_value(d, "numbers", "text"), "the neuron's numbers", timeout=20)
    wait(lambda: d.execute_script(JS_VIEW + "return !!v.shadow_el.querySelector('mjx-container')",
                                  "formula"), "the rendered formula", timeout=20)
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
    tab = wait(lambda: d.execute_script(JS_DEEP_TEXT + """
        return deep(document, '.bk-tab', []).find(e => e.textContent.trim() == 'landscape');"""),
        "the landscape tab")
    ActionChains(d).click(tab).perform()
    ActionChains(d).click(wait(lambda: widget_element(d, "hessian", "button"),
                               "the Hessian button")).perform()
    wait(lambda: d.execute_script(
        "return Bokeh.documents[0].get_model_by_name('spectrum').data_source.data.k.length > 0"),
        "the spectrum", timeout=60)
    set_input(d, "eigenvector", "2")
    wait(lambda: "eigenvector 2 " in d.execute_script(
        "return Bokeh.documents[0].get_model_by_name('shares_plot').title.text"),
        "the eigenvector's shares", timeout=20)
    time.sleep(0.5)
    d.save_screenshot(str(shots / "05_landscape.png"))
    shown = d.execute_script(
        "const s = Bokeh.documents[0].get_model_by_name('spectrum').data_source.data;"
        "return Array.from(s.value);")
    H = landscape.hessian(layers, sample.X, sample.y, activation="relu")
    spec = landscape.eigendecomposition((H + H.T) / 2)
    np.testing.assert_allclose(shown, spec.eigenvalues[:len(shown)], rtol=1e-6,
                               atol=1e-9 * abs(spec.eigenvalues[0]))
    shares = d.execute_script(
        "const s = Bokeh.documents[0].get_model_by_name('shares').data_source.data;"
        "return Array.from(s.share);")
    widths = [2, 6, 5, 2]
    np.testing.assert_allclose(
        shares, landscape.neuron_shares(spec.eigenvectors[:, 1], widths)[:, 0], atol=1e-6)
    assert console_errors(d) == []


@pytest.fixture(scope="module")
def small_app():
    """A server whose pages draw at most 40 regions, to reach 'too large' quickly."""
    with Background(port=0, max_regions=40) as server:
        yield server


def message(driver) -> str:
    return model_value(driver, "message", "text") if model_value(
        driver, "message", "visible") else ""


def test_bad_input_shows_a_message_and_the_app_stays_usable(small_app, browser, shots,
                                                            tmp_path, caplog):
    d = browser
    d.get(small_app.url)
    wait(lambda: d.execute_script(
        "return !!(window.Bokeh && Bokeh.documents.length && "
        "Bokeh.documents[0].get_model_by_name('train'))"), "the page")
    d.get_log("browser")  # start the console check afresh
    train = lambda: ActionChains(d).click(widget_element(d, "train", "button")).perform()  # noqa: E731

    # a width of 0
    set_input(d, "hidden", "4,0")
    train()
    wait(lambda: "width of 0" in message(d), "the width message", timeout=10)

    # a world file whose covariance is not positive semi-definite
    bad = tmp_path / "bad.json"
    bad.write_text('{"components": [{"mean": [0, 0], "cov": 1.0, "label": 0},'
                   ' {"mean": [2, 0], "cov": [[1, 2], [2, 1]], "label": 1}]}')
    widget_element(d, "world_file", "input").send_keys(str(bad))
    wait(lambda: "not positive semi-definite" in message(d), "the covariance message",
         timeout=10)
    assert "bad.json" in message(d)
    d.save_screenshot(str(shots / "05_bad_world.png"))

    # a learning rate that diverges
    select = widget_element(d, "world", "select")
    select.send_keys("xor")
    wait(lambda: model_value(d, "world", "value") == "xor", "the preset")
    wait(lambda: message(d) == "", "the message to clear", timeout=10)
    set_input(d, "hidden", "4")
    set_input(d, "steps", "20")
    widget_element(d, "optimizer", "select").send_keys("momentum")
    set_input(d, "lr", "1e6")
    train()
    wait(lambda: "diverged" in message(d), "the divergence message", timeout=90)
    assert "lower the learning rate" in message(d)

    # a net too large to partition (this server draws at most 40 regions)
    set_input(d, "lr", "0.01")
    set_input(d, "hidden", "12,12")
    wait(lambda: not model_value(d, "train", "disabled"), "the idle page", timeout=30)
    train()
    wait(lambda: "more than 40 linear regions" in message(d), "the too-large message",
         timeout=90)
    d.save_screenshot(str(shots / "06_too_large.png"))

    # still usable: a small net trains and draws
    set_input(d, "hidden", "2")
    wait(lambda: not model_value(d, "train", "disabled"), "the idle page", timeout=30)
    train()
    wait(lambda: model_value(d, "status", "text").startswith("step 20"), "a good run",
         timeout=60)
    assert message(d) == ""
    assert console_errors(d) == []
    # the server log holds the messages and nothing else (no tracebacks)
    assert all(rec.exc_info is None for rec in caplog.records)
