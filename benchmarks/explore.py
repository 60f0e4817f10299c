"""``toylab explore`` measured in the browser (headless Chromium through Selenium).

The explorer is served in-process on a free loopback port and driven as a person would
(:mod:`toylab.explore.driver`). Measured:

* ``first_load``: from navigation to the page's widgets and plots existing (a fresh browser,
  the server already running), best of ``--repeats`` fresh tabs after one warm-up;
* ``train_to_views``: a 2-16-16-3 ReLU on the ``blobs`` preset, 600 points, 1,000 full-batch
  Adam steps: from the click on *Train* until the browser holds the new regions and neuron
  tiles (the final snapshot, drawn first) and has painted two frames after them. *Warm*: the
  same settings trained once before (compiled); best of ``--repeats``. The time for all 11
  snapshots to be analysed (the curves filled) is reported beside it. Baseline in the same
  process: the library calls alone (``train_ensemble`` + ``views.net_view``), no browser;
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
RECORD_JS = """
window.__frames = [];
const tick = (t) => { window.__frames.push(t); if (window.__frames.length < 100000 &&
                      !window.__stop) requestAnimationFrame(tick); };
window.__stop = false; requestAnimationFrame(tick);
"""


def train_and_wait(d, steps: int) -> tuple[float, float]:
    """Click Train; returns (seconds to the first drawn view + two frames, seconds to all
    snapshots analysed)."""
    before = model_value(d, "status", "text")
    start = time.perf_counter()
    click(d, widget_element(d, "train", "button"))
    # status and views arrive in one message; poll gently (2 cores are shared with the app)
    wait(lambda: model_value(d, "status", "text") != before, "the run to start", poll=0.02)
    wait(lambda: model_value(d, "status", "text").startswith(("analysed", f"step {steps}:")),
         "the first view", timeout=300, poll=0.02)
    d.execute_async_script(FRAMES_JS)
    first = time.perf_counter() - start
    wait(lambda: model_value(d, "status", "text").startswith(f"step {steps}:"),
         "all snapshots", timeout=300, poll=0.05)
    return first, time.perf_counter() - start


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
        try:
            load(d, app.url)  # warm-up: the server's first session, the browser's cache
            loads = [load(d, app.url) for _ in range(args.repeats)]
            out["first_load_s"] = min(loads)
            print(f"first page load: best {min(loads):.2f} s of {np.round(loads, 2).tolist()}")

            set_input(d, "hidden", "16,16")
            set_input(d, "steps", "1000")
            wait(lambda: model_value(d, "steps", "value") == 1000, "steps")
            cold, cold_all = train_and_wait(d, 1000)
            warm = [train_and_wait(d, 1000) for _ in range(args.repeats)]
            first = min(w[0] for w in warm)
            out.update(train_to_views_cold_s=cold, train_to_views_warm_s=first,
                       all_snapshots_warm_s=min(w[1] for w in warm),
                       n_regions_16_16=len(source_column(d, "regions", "region")))
            print(f"train -> updated views, 2-16-16-3, 1000 steps: cold {cold:.2f} s, warm "
                  f"best {first:.2f} s of {[round(w[0], 2) for w in warm]}; all 11 snapshots "
                  f"analysed: {out['all_snapshots_warm_s']:.2f} s "
                  f"({out['n_regions_16_16']} regions)")
            lib = library_only("16,16", 1000, args.repeats)
            out["library_only_s"] = lib
            print(f"  baseline, the library alone (train + final views): {lib:.2f} s; "
                  f"browser and transport add {first - lib:.2f} s")

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
            big_first, big_all = train_and_wait(d, 1000)
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
