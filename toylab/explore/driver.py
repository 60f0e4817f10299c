"""Drive the explorer page in headless Chromium (for the browser tests and the benchmark).

Needs Debian's ``chromium`` and ``chromium-driver`` and ``selenium`` (the ``test`` extra).
Bokeh 3 renders every widget inside a shadow root; these helpers reach widgets through
Bokeh's own model/view index (``Bokeh.documents[0].get_model_by_name`` and
``Bokeh.index.find_one``) and then act on the real DOM element, so clicks and key presses go
through the browser as a person's would.
"""

from __future__ import annotations

import re
import shutil
import time

TIMEOUT = 120.0

_VIEW = ("const m = Bokeh.documents[0].get_model_by_name(arguments[0]); "
         "const v = m && Bokeh.index.find_one(m);")
_DEEP = """
function deep(root, sel, out) {
  for (const el of root.querySelectorAll('*')) {
    if (el.matches(sel)) out.push(el);
    if (el.shadowRoot) deep(el.shadowRoot, sel, out);
  }
  return out;
}
"""


def chromium_paths() -> tuple[str | None, str | None]:
    """``(chromium, chromedriver)`` executables on PATH, None where missing."""
    return (shutil.which("chromium") or shutil.which("chromium-browser"),
            shutil.which("chromedriver"))


def start_chromium(width: int = 1700, height: int = 1050):
    """A headless Chromium WebDriver that keeps the browser console log."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    if browser is None or driver is None:
        raise RuntimeError("chromium/chromedriver not found: "
                           "apt-get install -y chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--disable-gpu"):
        opts.add_argument(arg)
    opts.binary_location = browser
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def allow_downloads(driver, folder) -> None:
    """Save the page's downloads (net JSON, PNG/SVG views) into ``folder`` without asking."""
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(folder)})


def wait(predicate, what: str, timeout: float = TIMEOUT, poll: float = 0.1):
    """Poll ``predicate()`` until it is truthy (returned) or raise AssertionError after
    ``timeout`` seconds naming ``what``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def load(driver, url: str, timeout: float = TIMEOUT) -> float:
    """Open the explorer and wait until its widgets exist; returns the seconds it took."""
    start = time.perf_counter()
    driver.get(url)
    wait(lambda: driver.execute_script(
        "return !!(window.Bokeh && Bokeh.documents.length && "
        "Bokeh.documents[0].get_model_by_name('train') && "
        "Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('regions_plot')))"),
        "the page", timeout)
    return time.perf_counter() - start


def model_value(driver, name: str, attr: str):
    """Attribute ``attr`` of the Bokeh model named ``name`` as the browser holds it."""
    return driver.execute_script(
        "const m = Bokeh.documents[0].get_model_by_name(arguments[0]); return m[arguments[1]];",
        name, attr)


def source_column(driver, name: str, column: str) -> list:
    """Column ``column`` of the data source named ``name``, or of the data source of the
    glyph renderer named ``name``."""
    return driver.execute_script(
        "const m = Bokeh.documents[0].get_model_by_name(arguments[0]);"
        "return Array.from((m.data_source || m).data[arguments[1]]);", name, column)


def widget_element(driver, name: str, selector: str):
    """The DOM element ``selector`` inside the shadow root of the widget named ``name``."""
    return driver.execute_script(_VIEW + " return v.shadow_el.querySelector(arguments[1]);",
                                 name, selector)


def click(driver, element) -> None:
    """Click ``element`` with the mouse: a move onto it and a press, with no pointer-motion
    animation (Selenium's default glides for 250 ms first, which timed clicks would count)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver, duration=0).click(element).perform()


def set_input(driver, name: str, text: str) -> None:
    """Type ``text`` + Enter into the text/number input of the widget named ``name``."""
    el = widget_element(driver, name, "input")
    el.clear()
    el.send_keys(text + "\n")


def plot_pixel(driver, plot: str, x: float, y: float) -> tuple[float, float]:
    """Viewport coordinates of data point ``(x, y)`` in the figure named ``plot``."""
    return driver.execute_script(_VIEW + """
        const r = v.canvas_view.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(arguments[1]),
                r.top + v.frame.y_scale.compute(arguments[2])];""", plot, x, y)


def pointer(driver, xy, *, press: bool = False) -> None:
    """Move the mouse to viewport point ``xy`` (and click there if ``press``)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    action = ActionBuilder(driver)
    action.pointer_action.move_to_location(int(round(xy[0])), int(round(xy[1])))
    if press:
        action.pointer_action.click()
    action.perform()


def deep_elements(driver, selector: str) -> list:
    """Elements matching ``selector`` in the page and all its shadow roots."""
    return driver.execute_script(_DEEP + "return deep(document, arguments[0], []);", selector)


def deep_text(driver, selector: str) -> list[str]:
    """Text of every element matching ``selector`` in the page and its shadow roots, with all
    whitespace removed."""
    texts = driver.execute_script(_DEEP + """
        return deep(document, arguments[0], []).map(e => e.textContent);""", selector)
    return [re.sub(r"\s+", "", t) for t in texts]


def has_rendered_math(driver, name: str) -> bool:
    """Whether MathJax has typeset the contents of the Div named ``name``."""
    return driver.execute_script(_VIEW + "return !!v.shadow_el.querySelector('mjx-container')",
                                 name)


def console_errors(driver) -> list[str]:
    """Browser console entries of level SEVERE since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
