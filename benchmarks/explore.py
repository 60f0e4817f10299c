"""``toylab explore`` measured in the browser (headless Chromium through Selenium).

The explorer is served in-process on a free loopback port and driven as a person would
(:mod:`toylab.explore.driver`). Measured:

* ``first_load``: from navigation to the page's widgets and plots existing (a fresh browser,
  the server already running), best of ``--repeats`` fresh tabs after one warm-up;
* ``train_to_views``: a 2-16-16-3 ReLU on the ``blobs`` preset, 600 points, 1,000 full-batch
  Adam steps: from the click on *Train* until the browser has painted the final snapshot's
  whole view (regions, neuron tiles and their folds; the status line comes with the folds,
  which come last), timed in the page (:data:`ARM_JS`). *Warm*: the same settings trained
  once before (compiled); best of ``--repeats``, with the load average before it and the CPU
  seconds this process (server and driver) and Chromium spent on it; alternating with runs
  timed as before 2026-12-03, by Selenium polling the status line (``polled``). The time for
  all 11 snapshots to be analysed (the curves filled) is reported beside it. Baseline in the
  same process: the library calls alone (``train_ensemble`` + ``views.net_view``), no browser;
* ``ensemble``: the same net as 8 seeds trained together (the page's largest ensemble), click
  to the first view, cold and warm;
* ``big_partition``: a 2-32-32-32-3 ReLU (the same world, 1,000 steps): its region count, the
  time to draw it, and the browser's frame times (``requestAnimationFrame`` intervals) while
  the mouse sweeps across the regions plot with the hover tool on (median and worst frame);
  then the in-browser SVG and PNG export of that regions plot (the *save the view* buttons'
  work: time and size).

Run: ``python -m benchmarks.explore`` (writes benchmarks/results/explore.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from contextlib import suppress
from pathlib import Path

import numpy as np

import toylab
from toylab.explore import views
from toylab.explore.settings import parse_training
from toylab.explore.driver import (
    click, load, model_value, plot_pixel, pointer, set_input, source_column, start_chromium,
    wait, widget_element,
)
from toylab.explore.server import Background
from toylab.train import train_ensemble

RESULTS = Path(__file__).parent / "results" / "explore.json"
N_SAMPLES = 600

FRAMES_JS = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now())));
"""
EXPORT_JS = """
const done = arguments[arguments.length - 1];
const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name(arguments[0]));
const start = performance.now();
view.export(arguments[1]).to_blob().then((blob) => done([performance.now() - start, blob.size]));
"""
ARM_JS = """
const status = Bokeh.documents[0].get_model_by_name("status"), prefixes = arguments[0];
const before = status.text;
let clicked = null, changed = false;
window.addEventListener("click", (e) => { clicked = e.timeStamp; }, {capture: true, once: true});
window.__view = new Promise((resolve) => {
  const tick = () => {
    changed = changed || status.text !== before;
    if (changed && prefixes.some((p) => status.text.startsWith(p)))
      requestAnimationFrame(() => resolve([clicked, performance.now()]));
    else
      requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
});
"""
"""Before a click: ``window.__view`` resolves to the click's time and the time of the frame
after the one that first shows a changed status line starting with one of ``arguments[0]``
(the browser's clock, ms): no polling from outside the page."""
VIEW_JS = "window.__view.then(arguments[arguments.length - 1]);"
RECORD_JS = """
window.__frames = [];
const tick = (t) => { window.__frames.push(t); if (window.__frames.length < 100000 &&
                      !window.__stop) requestAnimationFrame(tick); };
window.__stop = false; requestAnimationFrame(tick);
"""


def chromium_cpu(d) -> float | None:
    """CPU seconds used so far by the driver's Chromium and its child processes (None without
    psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for proc in psutil.Process(d.service.process.pid).children(recursive=True):
        with suppress(psutil.Error):  # a renderer may exit meanwhile
            cpu = proc.cpu_times()
            total += cpu.user + cpu.system
    return total


def train_and_wait(d, steps: int, *, polled: bool = False) -> tuple[float, float, dict]:
    """Click Train; returns (seconds from the click to the final snapshot's whole view
    painted, seconds to all snapshots analysed, {load average before, CPU seconds of this
    process and of Chromium up to the view}).

    Timed by the page itself (:data:`ARM_JS`: the click event to the frame after the view;
    Selenium waits without polling), or, ``polled``, as before 2026-12-03: from before
    Selenium's click until Selenium, polling every 20 ms (which takes CPU from the page on 2
    cores), sees the status line, then two frames."""
    before = model_value(d, "status", "text")
    prefixes = ["analysed", f"step {steps}:"]
    if not polled:
        d.execute_script(ARM_JS, prefixes)
    load_before, cpu, browser = os.getloadavg()[0], time.process_time(), chromium_cpu(d)
    start = time.perf_counter()
    click(d, widget_element(d, "train", "button"))
    if polled:
        wait(lambda: model_value(d, "status", "text") != before, "the run to start", poll=0.02)
        wait(lambda: model_value(d, "status", "text").startswith(tuple(prefixes)),
             "the first view", timeout=300, poll=0.02)
        d.execute_async_script(FRAMES_JS)
        first = time.perf_counter() - start
    else:
        clicked, painted = d.execute_async_script(VIEW_JS)
        first = (painted - clicked) / 1000
    usage = {"load_average": load_before, "process_cpu_s": time.process_time() - cpu,
             "chromium_cpu_s": None if browser is None else chromium_cpu(d) - browser}
    wait(lambda: model_value(d, "status", "text").startswith(f"step {steps}:"),
         "all snapshots", timeout=300, poll=0.05)
    return first, time.perf_counter() - start, usage


def library_only(hidden: str, steps: int, repeats: int) -> float:
    """The same work without the browser: training + the final snapshot's views (best of)."""
    dist = toylab.make("blobs")
    sample = dist.sample(0, N_SAMPLES)
    config, seeds = parse_training(hidden=hidden, n_classes=3, activation="relu",
                                   optimizer="adam", learning_rate="0.01", steps=steps,
                                   seed=0, seeds=1)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        result = train_ensemble(sample.X, sample.y, seeds, config=config)
        layers = [(W[0], b[0]) for W, b in result.layers]
        views.net_view(layers, "relu", dist)
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    out = {}
    with Background(port=0) as app:
        d = start_chromium()
        d.set_script_timeout(300)  # VIEW_JS waits for training and the view
        try:
            load(d, app.url)  # warm-up: the server's first session, the browser's cache
            loads = [load(d, app.url) for _ in range(args.repeats)]
            out["first_load_s"] = min(loads)
            print(f"first page load: best {min(loads):.2f} s of {np.round(loads, 2).tolist()}")

            set_input(d, "hidden", "16,16")
            set_input(d, "steps", "1000")
            wait(lambda: model_value(d, "steps", "value") == 1000, "steps")
            cold = train_and_wait(d, 1000)[0]
            warm, polled = [], []
            for _ in range(args.repeats):  # alternately, so both see the same load
                warm.append(train_and_wait(d, 1000))
                polled.append(train_and_wait(d, 1000, polled=True))
            first, _, usage = min(warm, key=lambda w: w[0])
            out.update(train_to_views_cold_s=cold, train_to_views_warm_s=first,
                       train_to_views_warm_all_s=[w[0] for w in warm],
                       train_to_views_warm_usage=usage,
                       train_to_views_warm_polled_s=min(w[0] for w in polled),
                       train_to_views_warm_polled_all_s=[w[0] for w in polled],
                       all_snapshots_warm_s=min(w[1] for w in warm),
                       n_regions_16_16=len(source_column(d, "regions", "region")))
            browser = ("" if usage["chromium_cpu_s"] is None else
                       f", Chromium {usage['chromium_cpu_s']:.2f} s")
            print(f"train -> updated views, 2-16-16-3, 1000 steps: cold {cold:.2f} s, warm "
                  f"best {first:.2f} s of {[round(w[0], 2) for w in warm]} (load average "
                  f"{usage['load_average']:.1f} before it; CPU: this process "
                  f"{usage['process_cpu_s']:.2f} s{browser}); timed by Selenium polling as "
                  f"before: best {out['train_to_views_warm_polled_s']:.2f} s of "
                  f"{[round(w[0], 2) for w in polled]}; all 11 snapshots analysed: "
                  f"{out['all_snapshots_warm_s']:.2f} s ({out['n_regions_16_16']} regions)")
            lib = library_only("16,16", 1000, args.repeats)
            out["library_only_s"] = lib
            print(f"  baseline, the library alone (train + final views): {lib:.2f} s; "
                  f"browser and transport add {first - lib:.2f} s (ratio {first / lib:.1f})")

            set_input(d, "seeds", "8")
            wait(lambda: model_value(d, "seeds", "value") == 8, "seeds")
            ens_cold = train_and_wait(d, 1000)[0]
            ens_warm = train_and_wait(d, 1000)[0]
            out.update(ensemble_8_cold_s=ens_cold, ensemble_8_warm_s=ens_warm)
            print(f"8 seeds together, train -> first view: cold {ens_cold:.2f} s, warm "
                  f"{ens_warm:.2f} s")
            set_input(d, "seeds", "1")
            wait(lambda: model_value(d, "seeds", "value") == 1, "seeds")

            set_input(d, "hidden", "32,32,32")
            big_first, big_all, _ = train_and_wait(d, 1000)
            n_big = len(source_column(d, "regions", "region"))
            (x0, x1), (y0, y1) = np.asarray(toylab.make("blobs").domain)
            d.execute_script(RECORD_JS)
            for k in range(60):
                u = x0 + (x1 - x0) * (0.1 + 0.8 * k / 59)
                v = y0 + (y1 - y0) * (0.5 + 0.3 * np.sin(k / 5))
                pointer(d, plot_pixel(d, "regions_plot", u, v))
            frames = np.diff(d.execute_script("window.__stop = true; return window.__frames;"))
            out.update(big_regions=n_big, big_first_view_s=big_first, big_all_snapshots_s=big_all,
                       big_frame_median_ms=float(np.median(frames)),
                       big_frame_max_ms=float(frames.max()), big_frames=int(len(frames)))
            print(f"2-32-32-32-3: {n_big} regions; train -> drawn {big_first:.2f} s (cold); "
                  f"hover sweep: median frame {np.median(frames):.1f} ms, worst "
                  f"{frames.max():.1f} ms over {len(frames)} frames")
            for fmt in ("svg", "png"):
                ms, size = d.execute_async_script(EXPORT_JS, "regions_plot", fmt)
                out.update({f"big_{fmt}_export_ms": ms, f"big_{fmt}_bytes": size})
                print(f"  regions plot saved as {fmt.upper()} in the browser: {ms:.0f} ms, "
                      f"{size / 1e6:.2f} MB")
        finally:
            d.quit()
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0], "repeats": args.repeats,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"meta": meta, "results": out}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
