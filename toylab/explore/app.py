"""The explorer page: Bokeh widgets and plots over :mod:`toylab.explore.views`.

One :class:`Explorer` per browser session. Heavy work (training, exact partitions, Hessians)
runs on a worker thread; results reach the document only through
``doc.add_next_tick_callback`` (Bokeh's rule: models are changed on the server's own loop).

Flow of a training run: the settings are validated (a bad value shows a message naming the
field and the fix, and the page stays usable); every seed trains in segments of one snapshot
interval (:func:`toylab.train.train_segment`: one compiled program for all segments, and
together bit-identical to one ``train_ensemble`` call), the progress line counting the steps
(at most every :data:`PROGRESS_SECONDS`); the *last* snapshot is analysed and drawn first
(its regions and neuron tiles, then its exact folds, which take most of its analysis: the
browser paints the rest meanwhile; timings in benchmarks/README.md, ``explore``), and once the
browser has painted it (:class:`Painted`) the earlier snapshots are analysed one by one (the
progress line counts them) to fill the exact population-accuracy curve and the snapshot
slider. The seeds (``seeds`` consecutive init seeds from ``seed``) train together; the curves
show every seed, the views the one chosen in *seed shown*.

Stop, pressed during training, ends it after the segment in flight: the page shows the curves
and the last snapshot up to that step and says where it stopped; pressed during the analysis,
it ends the analysis (the last snapshot is always drawn).
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading
import time
from functools import partial

import numpy as np
from bokeh.core.properties import Int
from bokeh.layouts import column, row
from bokeh.model import DataModel
from bokeh.models import (
    Button, ColumnDataSource, CustomJS, Div, FileInput, Range1d, Select, Slider, Span, Spinner,
    TabPanel, Tabs, TextInput,
)
from bokeh.plotting import figure

from toylab import landscape
from toylab.compare import first_order_change
from toylab.data import GaussianMixture
from toylab.explore.figures import NetFigures, clear_sources, curve_columns, segment_lines
from toylab.explore.settings import (
    FILE_WORLD, MAX_SEEDS, PL_ACTIVATIONS, POINTS_WORLD, build_world, parse_training,
    parse_world,
)
from toylab.explore.views import (
    MAX_REGIONS, NetView, clip_segments, net_view, neuron_detail, neuron_folds, world_view,
)
from toylab.explore.world import (
    EmpiricalWorld, PRESET_PARAMS, net_json, points_from_csv, world_from_text,
)
from toylab.train import OPTIMIZERS, diverged_seeds, join_segments, train_segment

log = logging.getLogger("toylab.explore")

DOWNLOAD_JS = """
const blob = new Blob([src.data.text[0]], {type: "application/json"});
const a = document.createElement("a");
a.href = URL.createObjectURL(blob);
a.download = src.data.filename[0];
a.click();
URL.revokeObjectURL(a.href);
"""
"""Save the shown net's JSON (prepared by the server) as a file: a small browser callback."""

EXPORT_JS = """
const view = Bokeh.index.find_one(plots[choice.value]);
view.export(format).to_blob().then((blob) => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `toylab-${choice.value}.${format}`;
  a.click();
  URL.revokeObjectURL(a.href);
});
"""
"""Save the chosen plot as PNG or SVG, drawn in the browser (BokehJS ``PlotView.export``:
``"svg"`` repaints every glyph into an SVG context, so lines, patches and text are vectors and
only the neuron tiles' pixel images are embedded bitmaps; the plots keep their fast canvas
backend, and the SVG is built only when asked for)."""

UNAVAILABLE = ("Density contours, Bayes boundary, population accuracy and excess risk are "
               "unavailable for an empirical world (they need the population).")

PROGRESS_SECONDS = 0.5
"""Least time between two lines of training progress: every change of the status line re-lays
out the whole page in the browser (~0.05-0.1 s of its time on 2 busy cores), so a short run
shows none and a long one about two a second."""

PAINT_TIMEOUT = 3.0
"""Longest wait, in seconds, for the browser to report the first view painted before the
earlier snapshots are analysed anyway (a hidden tab paints no frames)."""

PAINTED_JS = """
requestAnimationFrame(() => requestAnimationFrame(() => { painted.done = painted.asked; }));
"""
"""The browser's answer to :class:`Painted`: two frames after the request (so after the first
paint of everything sent before it), copy ``asked`` to ``done``."""


class Painted(DataModel):
    """A request from the server and the browser's answer that it has painted what came before
    (:data:`PAINTED_JS`): the analysis of the earlier snapshots waits for it rather than
    competing for the CPU with the browser's decoding and painting of the first view."""

    asked = Int(0)
    done = Int(0)


ERROR_STYLE = {"color": "#8b0000", "background-color": "#fdecea", "padding": "6px",
               "border-radius": "4px", "white-space": "pre-wrap"}


class Explorer:
    """One browser session of ``toylab explore``.

    Args:
        doc: the Bokeh document to fill.
        world: a mixture from ``--world FILE`` (offered as the first world), or None.
        max_regions: the largest partition drawn (a larger one shows a message).
    """

    def __init__(self, doc, world: GaussianMixture | None = None, *,
                 max_regions: int = MAX_REGIONS):
        self.doc = doc
        self.file_world = world
        self.max_regions = max_regions
        self.stop = threading.Event()
        self._painted = threading.Event()
        self.busy = threading.Lock()
        self.views: dict[int, NetView] = {}
        self.run = None  # (TrainResult, config, world)
        self.dist = None
        self.hessian = None
        self._seed_row = 0
        self._world_key = None
        self._build()
        self._new_world()

    # ------------------------------------------------------------------------- layout

    def _build(self):
        presets = ([FILE_WORLD] if self.file_world is not None else []) + sorted(PRESET_PARAMS)
        self.w_world = Select(title="world", value=presets[0], options=presets, name="world")
        self.w_file = FileInput(title="or load a world file (JSON/TOML)", accept=".json,.toml",
                                name="world_file", width=260)
        for attr in ("value", "filename"):  # the browser sends both, in either order
            self.w_file.on_change(attr, lambda attr, old, new: self._file_loaded())
        self._file_seen = None
        self.points_world = None
        self.w_points = FileInput(title="or upload points (CSV: x, y, label)", accept=".csv",
                                  name="points_file", width=260)
        for attr in ("value", "filename"):
            self.w_points.on_change(attr, lambda attr, old, new: self._points_loaded())
        self._points_seen = None
        self.w_params = TextInput(title="parameters", name="params")
        self.w_shift_x = Spinner(title="shift x", value=0.0, step=0.5, width=80)
        self.w_shift_y = Spinner(title="shift y", value=0.0, step=0.5, width=80)
        self.w_rotate = Spinner(title="rotate (deg)", value=0.0, step=15, width=90)
        self.w_samples = Spinner(title="samples", value=600, step=100, low=2, width=90,
                                 name="samples")
        self.w_hidden = TextInput(title="hidden widths", value="16,16", name="hidden")
        self.w_activation = Select(title="activation", value="relu", options=PL_ACTIVATIONS,
                                   name="activation")
        self.w_optimizer = Select(title="optimizer", value="adam", options=sorted(OPTIMIZERS),
                                  name="optimizer")
        self.w_lr = TextInput(title="learning rate", value="0.01", name="lr")
        self.w_steps = Spinner(title="steps", value=1000, step=100, low=1, width=90, name="steps")
        self.w_seed = Spinner(title="seed", value=0, step=1, low=0, width=70, name="seed")
        self.w_seeds = Spinner(title="seeds", value=1, step=1, low=1, high=MAX_SEEDS, width=70,
                               name="seeds")
        self.w_train = Button(label="Train", button_type="primary", name="train")
        self.w_stop = Button(label="Stop", button_type="warning", disabled=True, name="stop")
        self.w_status = Div(text="ready", name="status", width=260)
        self.w_message = Div(text="", name="message", width=260, visible=False,
                             styles=ERROR_STYLE, disable_math=True)
        self.w_view_seed = Select(title="seed shown", value="", options=[], width=100,
                                  name="view_seed")
        self.w_snapshot = Slider(title="snapshot", start=0, end=1, value=1, step=1,
                                 disabled=True, width=380, name="snapshot")
        self._fill_params()
        self.w_world.on_change("value", lambda attr, old, new: self._preset_changed())
        for w in (self.w_params, self.w_shift_x, self.w_shift_y, self.w_rotate, self.w_samples,
                  self.w_seed):
            w.on_change("value", lambda attr, old, new: self._new_world())
        self.w_train.on_click(self._on_train)
        self.w_stop.on_click(lambda: self.stop.set())
        self.w_snapshot.on_change("value", lambda attr, old, new: self._show_snapshot())
        self.w_view_seed.on_change("value", lambda attr, old, new: self._seed_changed())

        self.figs = NetFigures()
        self.painted = Painted()
        self.painted.js_on_change("asked", CustomJS(args={"painted": self.painted},
                                                    code=PAINTED_JS))
        self.painted.on_change("done", lambda attr, old, new: self._painted.set())
        self.figs.src_tiles.selected.on_change(
            "indices", lambda attr, old, new: self._neuron_clicked())

        # --- curves
        # every seed of the run as a thin grey line, the seed shown on top in blue
        self.src_members = ColumnDataSource({"xs": [], "loss": [], "acc": []},
                                            name="member_curves")
        self.src_loss = ColumnDataSource({"step": [], "loss": [], "acc": []})
        self.src_popacc = ColumnDataSource({"step": [], "acc": [], "excess": []})
        self.f_loss = figure(title="loss: seeds grey, shown seed blue",
                             width=300, height=220, y_axis_type="log",
                             tools="pan,wheel_zoom,reset,save", name="loss_plot")
        self.f_acc = figure(title="accuracy: training lines, population dots",
                            width=330, height=220, tools="pan,wheel_zoom,reset,save",
                            name="accuracy_plot")
        for f, column_ in ((self.f_loss, "loss"), (self.f_acc, "acc")):
            f.multi_line("xs", column_, source=self.src_members, color="#999999",
                         line_width=1, line_alpha=0.6)
            f.line("step", column_, source=self.src_loss, color="#1f77b4", line_width=2)
        self.f_acc.scatter("step", "acc", source=self.src_popacc, color="#d62728", size=7,
                           name="population_accuracy")
        self.bayes_span = Span(location=1.0, dimension="width", line_dash="dashed",
                               line_color="black")
        self.f_acc.add_layout(self.bayes_span)

        # --- landscape
        self.src_net = ColumnDataSource({"text": [""], "filename": ["net.json"]},
                                        name="download_net")
        self.w_download = Button(label="Download net (JSON)", name="download", disabled=True,
                                 width=160)
        self.w_download.js_on_click(CustomJS(args={"src": self.src_net}, code=DOWNLOAD_JS))
        self.w_hessian = Button(label="Hessian spectrum of the shown net", name="hessian",
                                disabled=True)
        self.w_hessian.on_click(self._on_hessian)
        self.w_eigen = Spinner(title="eigenvector (1 = top)", value=1, low=1, step=1, width=140,
                               disabled=True, name="eigenvector")
        self.w_eigen.on_change("value", lambda attr, old, new: self._show_eigenvector())
        self.src_spectrum = ColumnDataSource({"k": [], "value": [], "color": []})
        self.f_spectrum = figure(title="Hessian eigenvalues (outliers red)", width=420,
                                 height=260, tools="pan,wheel_zoom,reset,save",
                                 name="spectrum_plot")
        self.f_spectrum.scatter("k", "value", color="color", source=self.src_spectrum, size=5,
                                name="spectrum")
        self.src_shares = ColumnDataSource({"neuron": [], "share": []})
        self.f_shares = figure(title="share of the eigenvector on each neuron", width=420,
                               height=260, x_range=[""], tools="save", name="shares_plot")
        self.f_shares.vbar("neuron", top="share", width=0.8, source=self.src_shares,
                           name="shares")
        self.f_shares.xaxis.major_label_orientation = 1.2
        self.src_motion_boundary = ColumnDataSource({"xs": [], "ys": []})
        self.src_motion = ColumnDataSource({"xs": [], "ys": []})
        self.f_motion = figure(title="boundary motion along the eigenvector", width=440,
                               height=420, match_aspect=True, tools="pan,wheel_zoom,reset,save",
                               name="motion_plot", x_range=Range1d(0, 1), y_range=Range1d(0, 1))
        self.f_motion.multi_line("xs", "ys", source=self.src_motion_boundary, color="black",
                                 line_width=1.5)
        self.f_motion.multi_line("xs", "ys", source=self.src_motion, color="#d62728",
                                 line_width=1.5, name="motion")
        plots = {"world": self.figs.f_world, "regions": self.figs.f_regions,
                 "neurons": self.figs.f_neurons, "loss": self.f_loss, "accuracy": self.f_acc,
                 "spectrum": self.f_spectrum, "shares": self.f_shares,
                 "motion": self.f_motion}
        self.w_export_view = Select(title="save the view", value="regions",
                                    options=list(plots), width=100, name="export_view")
        self.w_export = []
        for fmt in ("png", "svg"):
            button = Button(label=fmt.upper(), width=50, name=f"export_{fmt}")
            button.js_on_click(CustomJS(args={"plots": plots, "choice": self.w_export_view,
                                              "format": fmt}, code=EXPORT_JS))
            self.w_export.append(button)
        landscape_tab = column(row(self.w_hessian, self.w_eigen),
                               row(self.f_spectrum, self.f_shares, self.f_motion))

        controls = column(
            Div(text="<b>toylab explore</b>: exact views of a tiny net", width=260),
            self.w_world, self.w_file, self.w_points, self.w_params,
            row(self.w_shift_x, self.w_shift_y, self.w_rotate),
            row(self.w_samples, self.w_seeds), self.w_hidden,
            row(self.w_activation, self.w_optimizer), self.w_lr,
            row(self.w_steps, self.w_seed), row(self.w_train, self.w_stop),
            self.w_status, self.w_message, width=280)
        views = column(row(self.figs.f_world, self.figs.f_regions),
                       row(self.w_snapshot, self.w_view_seed, self.w_download,
                           self.w_export_view, column(Div(text="&nbsp;", height=12),
                                                      row(*self.w_export))),
                       row(self.f_loss, self.f_acc))
        neurons = column(self.figs.f_neurons, self.figs.w_formula, self.figs.w_numbers)
        tabs = Tabs(tabs=[TabPanel(child=row(views, neurons), title="network"),
                          TabPanel(child=landscape_tab, title="landscape")])
        self.doc.add_root(row(controls, tabs, name="explorer"))
        self.doc.add_root(self.painted)
        self.doc.title = "toylab explore"

    # ------------------------------------------------------------------------- helpers

    def _message(self, text: str | None):
        """Show ``text`` as the page's error message (None clears it); log the same line."""
        self.w_message.visible = bool(text)
        self.w_message.text = text or ""
        if text:
            log.warning("%s", text)

    def _call(self, fn, *args):
        """Run ``fn(*args)`` on the document's loop (from the worker thread)."""
        self.doc.add_next_tick_callback(partial(fn, *args))

    def _background(self, label: str, fn, *args):
        """Run ``fn(*args)`` on a worker thread; errors become the page's message."""
        if not self.busy.acquire(blocking=False):
            self._message("busy: wait for the current computation or press Stop")
            return

        def work():
            try:
                fn(*args)
            except (ValueError, TypeError, FloatingPointError, MemoryError) as err:
                self._call(self._message, f"{label}: {err}")
                self._call(self._set_status, f"{label} stopped (see the message)")
            except Exception as err:  # noqa: BLE001 -- the page must stay usable
                self._call(self._message, f"{label} failed: {type(err).__name__}: {err}")
                self._call(self._set_status, f"{label} stopped (see the message)")
            finally:
                self.busy.release()
                self._call(self._idle)

        self.stop.clear()
        self.w_train.disabled, self.w_stop.disabled = True, False
        threading.Thread(target=work, daemon=True, name=f"explore-{label}").start()

    def _idle(self):
        self.w_train.disabled, self.w_stop.disabled = False, True

    def _world_settings(self) -> dict:
        return parse_world(preset=self.w_world.value, params=self.w_params.value or "",
                           shift_x=self.w_shift_x.value or 0.0, shift_y=self.w_shift_y.value or 0.0,
                           rotate=self.w_rotate.value or 0.0)

    # ------------------------------------------------------------------------- world

    def _fill_params(self):
        name = self.w_world.value
        self.w_params.disabled = name in (FILE_WORLD, POINTS_WORLD)
        self.w_params.value = ("" if name in (FILE_WORLD, POINTS_WORLD) else
                               ", ".join(f"{k}={v}" for k, v in PRESET_PARAMS[name].items()))

    def _file_loaded(self):
        """Build the uploaded world file; on success offer and select it."""
        try:
            name, value = self.w_file.filename, self.w_file.value
        except ValueError:  # Bokeh's UnsetValueError: the other half has not arrived yet
            return
        if (name, value) == self._file_seen:
            return
        self._file_seen = (name, value)
        try:
            text = base64.b64decode(value).decode("utf-8")
            dist = world_from_text(text, suffix="." + name.rsplit(".", 1)[-1],
                                   source=f"world file {name}")
        except (ValueError, UnicodeDecodeError) as err:
            self._message(str(err))
            return
        self.file_world = dist
        if FILE_WORLD not in self.w_world.options:
            self.w_world.options = [FILE_WORLD] + list(self.w_world.options)
        if self.w_world.value == FILE_WORLD:
            self._new_world()
        else:
            self.w_world.value = FILE_WORLD

    def _points_loaded(self):
        """Read the uploaded CSV of points; on success offer and select it."""
        try:
            name, value = self.w_points.filename, self.w_points.value
        except ValueError:  # the other half has not arrived yet
            return
        if (name, value) == self._points_seen:
            return
        self._points_seen = (name, value)
        try:
            points = points_from_csv(base64.b64decode(value).decode("utf-8"), name=name)
        except (ValueError, UnicodeDecodeError) as err:
            self._message(str(err))
            return
        self.points_world = points
        if POINTS_WORLD not in self.w_world.options:
            self.w_world.options = [POINTS_WORLD] + list(self.w_world.options)
        if self.w_world.value == POINTS_WORLD:
            self._new_world()
        else:
            self.w_world.value = POINTS_WORLD

    def _preset_changed(self):
        self._fill_params()
        self._new_world()

    def _new_world(self):
        """Rebuild the world from the settings and redraw it (on the loop; skipped, apart from
        clearing the net's views, when the world, sample size and seed are unchanged)."""
        try:
            settings = self._world_settings()
            n = self.w_samples.value
            if n is None or int(n) != n or n < 2:
                raise ValueError(f"samples={n!r} must be a whole number >= 2")
            key = (repr(settings), n, self.w_seed.value, id(self.file_world),
                   id(self.points_world))
            if key == self._world_key:
                self._message(None)
                self._clear_net()
                return
            dist = build_world(**settings, file_world=self.file_world,
                               points=self.points_world)
        except ValueError as err:
            self._message(str(err))
            return
        self._message(None)
        self._world_key = key
        empirical = isinstance(dist, EmpiricalWorld)
        # an empirical world is its points (the samples setting does not apply)
        sample = dist if empirical else dist.sample(int(self.w_seed.value or 0), int(n))
        self.dist, self.sample = dist, sample
        self.world = world_view(dist, sample.X, sample.y)
        wv = self.world
        self.figs.draw_world(wv, dist.n_classes)
        self._clear_net()
        self.bayes_span.visible = not empirical
        if empirical:
            self.w_status.text = (f"points {dist.name}: {len(dist.X)} points, {dist.n_classes} "
                                  f"classes. {UNAVAILABLE}")
            return
        self.bayes_span.location = 1.0 - wv.bayes_error
        self.w_status.text = (f"world {dist.name}: {dist.n_classes} classes, Bayes error "
                              f"{wv.bayes_error:.4g} ({'exact' if wv.bayes_exact else 'traced'} "
                              "Bayes boundary)")

    def _clear_net(self):
        self.views, self.run, self.hessian = {}, None, None
        self.figs.clear_net()
        clear_sources(self.src_members, self.src_loss, self.src_popacc, self.src_spectrum,
                      self.src_shares, self.src_motion, self.src_motion_boundary)
        self.w_snapshot.disabled = self.w_download.disabled = True
        self.w_hessian.disabled = self.w_eigen.disabled = True

    # ------------------------------------------------------------------------- training

    def _on_train(self):
        self._new_world()
        if self.w_message.visible:
            return
        try:
            config, seeds = parse_training(
                hidden=self.w_hidden.value, n_classes=self.dist.n_classes,
                activation=self.w_activation.value, optimizer=self.w_optimizer.value,
                learning_rate=self.w_lr.value, steps=self.w_steps.value, seed=self.w_seed.value,
                seeds=self.w_seeds.value)
        except ValueError as err:
            self._message(str(err))
            return
        dist = self.dist
        self.w_status.text = f"training {len(seeds)} seed(s) x {config.steps} steps ..."
        self._background("training", self._train, dist, self.sample, config, seeds)

    def _train(self, dist, sample, config, seeds):
        """Train in segments of one snapshot interval until done, diverged or stopped (worker
        thread), then analyse what was trained."""
        segment = dataclasses.replace(config, steps=config.snapshot_every)
        segments, state = [], None
        shown = time.monotonic()
        while state is None or state.step < config.steps:
            result, state = train_segment(sample.X, sample.y, seeds, config=segment,
                                          state=state, on_divergence="report")
            segments.append(result)
            if self.stop.is_set() or diverged_seeds(result):
                break
            if time.monotonic() - shown >= PROGRESS_SECONDS:
                shown = time.monotonic()
                self._call(self._set_status, f"training {len(seeds)} seed(s): step "
                                             f"{state.step} of {config.steps} ...")
        result = join_segments(segments)
        self._call(self._show_curves, result, config, seeds)
        bad = diverged_seeds(result)
        if bad:
            seed, step = bad[0]
            raise FloatingPointError(
                f"seed {seed} diverged (non-finite loss at step {step}) with learning rate "
                f"{config.learning_rate}; lower the learning rate (e.g. by 10x) and train again")
        self._analyse(result, config, dist, 0)

    def _analyse(self, result, config, dist, seed_row: int):
        """Analyse the last snapshot, then, once the browser has painted it, the earlier ones
        (worker thread). Stop ends the loop after the last snapshot is drawn: the trained net
        is always shown."""
        T = len(result.snapshot_steps)
        order = [T - 1] + list(range(T - 1))
        for done, t in enumerate(order):
            if done and self.stop.is_set():
                self._call(self._set_status, self._stopped_text(result, config, done))
                return
            layers = [(W[seed_row, t], b[seed_row, t]) for W, b in result.snapshots]
            view = net_view(layers, config.activation, dist, max_regions=self.max_regions,
                            folds=done > 0)
            if done == 0:  # the browser draws the rest while the folds are computed
                self._call(self._add_view, t, view, 0, T, seed_row)
                view = view._replace(folds=neuron_folds(view.partition, view.neurons))
                self._painted.clear()
            self._call(self._add_view, t, view, done + 1, T, seed_row)
            if done == 0:
                self._painted.wait(timeout=PAINT_TIMEOUT)

    def _set_status(self, text: str):
        self.w_status.text = text

    @staticmethod
    def _stopped_text(result, config, analysed: int) -> str:
        """The status after Stop: the step training reached (if it stopped early) and how many
        snapshots were analysed."""
        step, T = int(result.snapshot_steps[-1]), len(result.snapshot_steps)
        trained = f"stopped at step {step} of {config.steps}; " if step < config.steps else \
            "stopped: "
        return f"{trained}analysed {analysed} of {T} snapshots"

    def _show_curves(self, result, config, seeds):
        self.run = (result, config, seeds)
        self._seed_row = 0
        self.w_view_seed.options = [str(s) for s in seeds]
        self.w_view_seed.value = str(seeds[0])
        self.src_members.data = curve_columns(result.loss, result.accuracy)
        self._curves(0)
        T = len(result.snapshot_steps)
        self.w_snapshot.update(start=0, end=max(T - 1, 1), value=T - 1)

    def _curves(self, seed_row: int):
        """The shown seed's curves (the rows of ``src_members``) and no population dots yet."""
        members = self.src_members.data
        self.src_loss.data = {"step": members["xs"][seed_row],
                              "loss": members["loss"][seed_row],
                              "acc": members["acc"][seed_row]}
        clear_sources(self.src_popacc)

    def _add_view(self, t: int, view: NetView, done: int, total: int, seed_row: int):
        """Record snapshot ``t``'s view, ``done`` of ``total`` analysed: its population
        accuracy, then the progress line. The first view comes twice (:meth:`_analyse`):
        ``done == 0`` without its folds, drawn; ``done == 1`` with them, and the browser is
        asked to report it painted."""
        self.views[t] = view
        steps = self.run[0].snapshot_steps
        if done == 1:
            self.shown = view
            self.figs.draw_folds(view, self.world.box)
        elif view.accuracy is not None:  # None: an empirical world
            analysed = sorted(self.views)
            self.src_popacc.data = {
                "step": steps[analysed],
                "acc": [self.views[k].accuracy.value for k in analysed],
                "excess": [(1 - self.views[k].accuracy.value) - self.world.bayes_error
                           for k in analysed]}
        if done == 0:
            self._draw(view, t)
            return
        self.w_status.text = (f"analysed {done}/{total} snapshots; showing step "
                              f"{steps[self.w_snapshot.value]}" if
                              done < total else self._summary(self.views[self.w_snapshot.value]))
        if done == 1:
            self.painted.asked += 1  # last: the browser answers once all of the above is painted

    def _summary(self, view: NetView) -> str:
        step = self.run[0].snapshot_steps[self.w_snapshot.value]
        if view.accuracy is None:
            return f"step {step}: {len(view.polygons)} regions. {UNAVAILABLE}"
        excess = (1 - view.accuracy.value) - self.world.bayes_error
        return (f"step {step}: {len(view.polygons)} regions, exact population accuracy "
                f"{view.accuracy.value:.6f}, excess risk {excess:.3g}")

    def _show_snapshot(self):
        t = self.w_snapshot.value
        if self.run is None:
            return
        self.w_snapshot.title = f"snapshot: step {self.run[0].snapshot_steps[t]}"
        if t in self.views:
            self._draw(self.views[t], t)
            self.w_status.text = self._summary(self.views[t])
        else:
            self.w_status.text = f"snapshot {t} is not analysed yet"

    def _seed_changed(self):
        if self.run is None or not self.w_view_seed.value:
            return
        result, config, seeds = self.run
        row_ = seeds.index(int(self.w_view_seed.value))
        if row_ == self._seed_row:
            return
        self._seed_row = row_
        self.views = {}
        self._curves(row_)
        self._background("analysis", self._analyse, result, config, self.dist, row_)

    # ------------------------------------------------------------------------- drawing

    def _draw(self, view: NetView, t: int):
        """Show ``view`` (snapshot ``t``) and enable what needs a shown net."""
        self.shown = view
        self.figs.draw_net(view, self.world.box, self.dist.n_classes)
        result, config, seeds = self.run
        step = int(result.snapshot_steps[t])
        self.src_net.data = {"text": [net_json(view.partition.layers, config,
                                               seed=seeds[self._seed_row], step=step,
                                               world=self.dist)],
                             "filename": [f"net-seed{seeds[self._seed_row]}-step{step}.json"]}
        self.w_download.disabled = self.w_snapshot.disabled = self.w_hessian.disabled = False
        self.w_snapshot.title = f"snapshot: step {self.run[0].snapshot_steps[t]}"
        if self.figs.src_tiles.selected.indices:
            self._neuron_clicked()

    def _neuron_clicked(self):
        idx = self.figs.src_tiles.selected.indices
        if not idx or getattr(self, "shown", None) is None or idx[0] >= len(self.shown.neurons):
            return
        neuron = tuple(int(v) for v in self.shown.neurons[idx[0]])
        try:
            d = neuron_detail(self.shown, self.dist, neuron)
        except ValueError as err:
            self._message(f"neuron {neuron}: {err}")
            return
        self.figs.show_detail(d)

    # ------------------------------------------------------------------------- landscape

    def _on_hessian(self):
        if getattr(self, "shown", None) is None:
            return
        p = self.shown.partition
        self.w_status.text = "computing the exact Hessian ..."
        self._background("Hessian", self._hessian, p, self.sample)

    def _hessian(self, p, sample):
        H = landscape.hessian(p.layers, sample.X, sample.y, activation=p.activation)
        spec = landscape.eigendecomposition((H + H.T) / 2)
        outliers = landscape.count_outliers(spec.eigenvalues)
        self._call(self._show_spectrum, spec, outliers, p)

    def _show_spectrum(self, spec, outliers: int, p):
        widths = list(p.widths)
        self.hessian = (spec, widths, p)
        k = min(len(spec.eigenvalues), 60)
        self.src_spectrum.data = {"k": np.arange(1, k + 1), "value": spec.eigenvalues[:k],
                                  "color": ["#d62728" if j < outliers else "#1f77b4"
                                            for j in range(k)]}
        self.w_eigen.update(disabled=False, high=len(spec.eigenvalues), value=1)
        self.w_status.text = (f"Hessian: {len(spec.eigenvalues)} parameters, {outliers} "
                              f"outlier eigenvalue(s), top {spec.eigenvalues[0]:.4g}")
        self._show_eigenvector()

    def _show_eigenvector(self):
        if self.hessian is None or self.w_eigen.value is None:
            return
        spec, widths, p = self.hessian
        j = int(self.w_eigen.value) - 1
        shares = landscape.neuron_shares(spec.eigenvectors[:, j], widths)[:, 0]
        neurons, _, _ = landscape.neuron_table(widths)
        names = [f"L{l + 1}.{i + 1}" if l < len(widths) - 2 else f"out{i + 1}"
                 for l, i in neurons]
        self.f_shares.x_range.factors = names
        self.src_shares.data = {"neuron": names, "share": shares}
        self.f_shares.title.text = (f"eigenvector {j + 1} (eigenvalue "
                                    f"{spec.eigenvalues[j]:.4g}): share on each neuron")
        dist = None if isinstance(self.dist, EmpiricalWorld) else self.dist

        def motion():  # its own thread: cheap, and independent of training runs
            try:
                change = first_order_change(p, spec.eigenvectors[:, j], dist=dist)
            except (ValueError, TypeError, FloatingPointError) as err:
                self._call(self._message, f"boundary motion: {err}")
                return
            self._call(self._show_motion, change, j)

        threading.Thread(target=motion, daemon=True, name="explore-motion").start()

    def _show_motion(self, change, j: int):
        """Boundary segments (black) and, from each one's midpoint, its normal velocity along
        eigenvector ``j`` (red; scaled so the longest is a tenth of the window)."""
        if self.hessian is None or self.w_eigen.value != j + 1:
            return  # an answer for an eigenvector no longer asked for
        box = self.world.box
        mid = change.segments.mean(axis=1)
        speed = change.velocity.mean(axis=1)
        inside = np.all((mid >= box[:, 0]) & (mid <= box[:, 1]), axis=1)
        top = np.abs(speed[inside]).max() if inside.any() else 0.0
        scale = 0.1 * (box[0, 1] - box[0, 0]) / top if top > 0 else 0.0
        tips = mid + change.normals * (speed * scale)[:, None]
        arrows = np.stack([mid, tips], 1)[inside]
        self.src_motion_boundary.data = segment_lines(clip_segments(change.segments, box))
        self.src_motion.data = segment_lines(arrows)
        for rng, (lo, hi) in zip((self.f_motion.x_range, self.f_motion.y_range), box):
            rng.start, rng.end = lo, hi
        rate = ("unavailable (empirical world)" if change.accuracy_rate is None else
                f"{change.accuracy_rate:.3g}")
        self.f_motion.title.text = (f"eigenvector {j + 1}: boundary velocity (red); "
                                    f"d acc/dt = {rate}")
