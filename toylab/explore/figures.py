"""The explorer's plots of a world and a network, filled from :mod:`toylab.explore.views`.

:class:`NetFigures` is shared by the live app (:mod:`toylab.explore.app`, which wires Python
callbacks to it) and the static pages (:mod:`toylab.explore.static`, where a small JavaScript
callback shows precomputed neuron details).

Ragged columns (region polygons, boundary and fold segments) go to Bokeh as lists of floats: a
list of small NumPy arrays is sent as one binary buffer per array, and for a trained 2-16-16-3
net's ~440 regions that made the server's send of the views ~0.3-0.5 s instead of ~30 ms.
"""

from __future__ import annotations

import colorsys

import numpy as np
from bokeh.models import ColumnDataSource, Div, HoverTool, LinearColorMapper, Range1d, TapTool
from bokeh.palettes import Category10, Viridis256
from bokeh.plotting import figure
from bokeh.plotting.contour import contour_data

from toylab.explore.views import NetView, NeuronDetail, WorldView, clip_segments

TILE = 1.0
GAP = 0.18
TILE_COLUMNS = 8
NO_NEURON = "click a neuron to see its exact formula"
WORLD_TITLE = "data, density, Bayes (dashed) and learned boundary"
EMPIRICAL_TITLE = "data and learned boundary (empirical world: no density or Bayes)"
CURVE_POINTS = 500
"""Training curves are drawn at about this many steps (every ``steps // CURVE_POINTS``-th)."""


def class_colors(n: int) -> list[str]:
    return list(Category10[10][:n]) if n <= 10 else [Category10[10][k % 10] for k in range(n)]


def region_colors(predicted: np.ndarray, classes: list[str]) -> list[str]:
    """The predicted class's colour, lightened by a per-region amount so neighbours differ."""
    out = []
    for r, k in enumerate(predicted):
        rgb = [int(classes[k][i:i + 2], 16) / 255 for i in (1, 3, 5)]
        h, l, s = colorsys.rgb_to_hls(*rgb)
        light = 0.62 + 0.3 * ((r * 0.6180339887) % 1.0)
        rgb = colorsys.hls_to_rgb(h, light, s * 0.8)
        out.append("#" + "".join(f"{round(255 * v):02x}" for v in rgb))
    return out


def segment_lines(segs: np.ndarray) -> dict:
    """``multi_line`` columns of segments ``(s, 2, 2)``, as nested lists (module docstring)."""
    segs = np.asarray(segs).reshape(-1, 2, 2)
    return {"xs": segs[:, :, 0].tolist(), "ys": segs[:, :, 1].tolist()}


def clear_sources(*sources: ColumnDataSource) -> None:
    """Empty every column of each source that holds rows (emptying an empty one would still
    be sent to the browser and repaint its plot)."""
    for src in sources:
        if any(len(column) for column in src.data.values()):
            src.data = {k: [] for k in src.data}


def tile_origins(neurons: np.ndarray) -> tuple[list[tuple[float, float]], int]:
    """Lower-left corner of each neuron's tile in the neuron plot, for ``neurons (N, 2)``
    ``(layer, index)`` in layer order (rows of :data:`TILE_COLUMNS`, a new row per layer),
    and the number of rows."""
    origins, row_, col, last_layer = [], 0, 0, 0
    for layer, _ in neurons:
        if layer != last_layer or col == TILE_COLUMNS:
            row_, col, last_layer = row_ + 1, 0, layer
        origins.append((col * (TILE + GAP), -row_ * (TILE + GAP)))
        col += 1
    return origins, row_ + 1


def curve_columns(loss: np.ndarray, accuracy: np.ndarray) -> dict:
    """Every ensemble member's training curves as ``multi_line`` columns.

    Args:
        loss, accuracy: ``(S, steps)`` (:class:`toylab.train.TrainResult` fields).
    Returns:
        ``{"xs": S x (k,) steps, "loss": S x (k,), "acc": S x (k,)}`` at every
        ``max(1, steps // CURVE_POINTS)``-th step from 0; a loss that is not finite and
        positive is NaN (a gap on the log axis).
    """
    loss, accuracy = np.asarray(loss), np.asarray(accuracy)
    stride = max(1, loss.shape[1] // CURVE_POINTS)
    steps = np.arange(0, loss.shape[1], stride)
    thinned = loss[:, ::stride]
    thinned = np.where(np.isfinite(thinned) & (thinned > 0), thinned, np.nan)
    return {"xs": [steps] * len(loss), "loss": list(thinned), "acc": list(accuracy[:, ::stride])}


def detail_html(d: NeuronDetail) -> tuple[str, str]:
    """``(formula, numbers)``: the neuron's formula as display maths for MathJax, and its exact
    mean and maximum as HTML."""
    layer, index = d.neuron
    formula = f"$$ y_{{{layer + 1},{index + 1}}}(x) = {d.latex} $$"
    mean = (f"exact mean E[y] = <span class='mean'>{d.mean:.10g}</span> (error bound "
            f"{d.mean_bound:.1e})" if d.points is None else
            f"exact mean over the {d.points} points = <span class='mean'>{d.mean:.10g}</span>")
    window = "(99.9% of the mass)" if d.points is None else "(the points' box, padded)"
    numbers = (
        f"<b>neuron L{layer + 1}.{index + 1}</b> (layer {layer}, index {index}): {mean}; "
        f"exact maximum over the plotted window {window} = "
        f"<span class='max'>{d.maximum:.10g}</span> at ({d.argmax[0]:.4g}, {d.argmax[1]:.4g})")
    return formula, numbers


class NetFigures:
    """World, linear-region and neuron plots and the neuron detail text, as Bokeh models.

    Attributes (Bokeh models): ``f_world``, ``f_regions``, ``f_neurons`` figures; their data
    sources ``src_*``; ``w_formula`` and ``w_numbers`` Divs; ``src_tiles`` is the tap target
    (one row per hidden neuron).
    """

    def __init__(self):
        # --- world and boundaries
        self.src_points = ColumnDataSource({"x": [], "y": [], "color": []})
        self.src_bayes = ColumnDataSource({"xs": [], "ys": []})
        self.src_learned = ColumnDataSource({"xs": [], "ys": []})
        self.f_world = figure(title=WORLD_TITLE,
                              width=430, height=430, match_aspect=True, name="world_plot",
                              tools="pan,wheel_zoom,reset,save")
        self.f_world.scatter("x", "y", color="color", size=3, alpha=0.6, source=self.src_points)
        self.contours = self.f_world.contour(np.zeros(2), np.zeros(2), np.zeros((2, 2)),
                                             levels=[0.5], fill_color=None,
                                             line_color="#555555", line_alpha=0.5)
        self.f_world.multi_line("xs", "ys", source=self.src_bayes, color="black",
                                line_dash="dashed", line_width=2)
        self.f_world.multi_line("xs", "ys", source=self.src_learned, color="#d62728",
                                line_width=2)

        # --- linear regions
        self.src_regions = ColumnDataSource({k: [] for k in
                                             ("xs", "ys", "color", "region", "pattern", "mass",
                                              "mass_text", "affine")})
        self.f_regions = figure(title="exact linear regions (hover one)", width=430, height=430,
                                match_aspect=True, name="regions_plot",
                                tools="pan,wheel_zoom,reset,save")
        self.r_regions = self.f_regions.patches("xs", "ys", source=self.src_regions,
                                                fill_color="color", line_color="white",
                                                line_width=0.5, name="regions")
        self.f_regions.multi_line("xs", "ys", source=self.src_learned, color="black",
                                  line_width=1.5)
        self.f_regions.add_tools(HoverTool(renderers=[self.r_regions], tooltips=[
            ("region", "@region"), ("pattern", "@pattern"), ("P(region)", "@mass_text"),
            ("logits", "@affine")]))
        self.f_world.x_range = self.f_regions.x_range = Range1d(0, 1)
        self.f_world.y_range = self.f_regions.y_range = Range1d(0, 1)

        # --- neuron grid
        self.src_tiles = ColumnDataSource({k: [] for k in
                                           ("x", "cx", "cy", "label", "layer", "index", "mean",
                                            "maximum")})
        self.src_images = ColumnDataSource({"image": [], "x": [], "y": []})
        self.src_folds = ColumnDataSource({"xs": [], "ys": []})
        self.f_neurons = figure(title="hidden neurons, exact folds (click one)", width=470,
                                height=300, tools="tap,reset", name="neurons_plot",
                                match_aspect=True, x_axis_type=None, y_axis_type=None)
        self.f_neurons.grid.visible = False
        # each tile is scaled to [0, 1] by draw_net; a constant (e.g. dead) neuron is all 0
        self.f_neurons.image("image", x="x", y="y", dw=TILE, dh=TILE, source=self.src_images,
                             color_mapper=LinearColorMapper(Viridis256, low=0.0, high=1.0))
        self.f_neurons.multi_line("xs", "ys", source=self.src_folds, color="white",
                                  line_width=1)
        self.r_tiles = self.f_neurons.rect("cx", "cy", TILE, TILE, source=self.src_tiles,
                                           fill_alpha=0.0, line_color="#888888",
                                           selection_line_color="#d62728",
                                           selection_line_width=3, selection_fill_alpha=0.0,
                                           nonselection_fill_alpha=0.0,
                                           nonselection_line_color="#888888", name="tiles")
        self.f_neurons.text("x", "cy", text="label", source=self.src_tiles, text_font_size="9px",
                            x_offset=2, y_offset=-2, text_baseline="top", text_color="white",
                            nonselection_text_alpha=1.0)
        self.f_neurons.select_one(TapTool).renderers = [self.r_tiles]
        self.w_formula = Div(text=NO_NEURON, width=470,
                             name="formula", styles={"overflow-x": "auto", "max-width": "470px"})
        self.w_numbers = Div(text="", width=470, name="numbers", disable_math=True)

    def draw_world(self, wv: WorldView, n_classes: int) -> None:
        """Sample points, density contours, Bayes boundary; both plots' ranges to the window."""
        colors = np.array(class_colors(n_classes))
        self.src_points.data = {"x": wv.X[:, 0], "y": wv.X[:, 1], "color": colors[wv.y]}
        self.contours.visible = wv.density is not None  # none for an empirical world
        self.f_world.title.text = WORLD_TITLE if wv.density is not None else EMPIRICAL_TITLE
        if wv.density is not None:
            self.contours.set_data(contour_data(wv.gx, wv.gy, wv.density, wv.levels,
                                                want_fill=False))
        self.src_bayes.data = segment_lines(wv.bayes)
        (x0, x1), (y0, y1) = wv.box
        for rng, lo, hi in ((self.f_world.x_range, x0, x1), (self.f_world.y_range, y0, y1)):
            rng.start, rng.end = lo, hi

    def clear_net(self) -> None:
        clear_sources(self.src_learned, self.src_regions, self.src_tiles, self.src_images,
                      self.src_folds)
        self.w_formula.text = NO_NEURON
        self.w_numbers.text = ""

    def show_detail(self, d: NeuronDetail) -> None:
        self.w_formula.text, self.w_numbers.text = detail_html(d)

    def draw_net(self, view: NetView, box: np.ndarray, n_classes: int) -> None:
        """Regions (with hover data), the learned boundary, the neuron tiles and their folds
        (none yet where ``view.folds`` is None: :meth:`draw_folds` adds them)."""
        self.src_regions.data = {
            "xs": [q[:, 0].tolist() for q in view.polygons],
            "ys": [q[:, 1].tolist() for q in view.polygons],
            "color": region_colors(view.predicted, class_colors(n_classes)),
            "region": np.arange(len(view.polygons)), "pattern": view.patterns,
            "mass": view.mass, "mass_text": [f"{m:.6g}" for m in view.mass],
            "affine": view.affine}
        self.src_learned.data = segment_lines(clip_segments(view.boundary, box))
        origins, rows = tile_origins(view.neurons)
        xs, ys = (list(v) for v in zip(*origins)) if origins else ([], [])
        images = []
        for image in view.images:  # float32: the colour map has 256 levels
            lo, hi = image.min(), image.max()
            images.append(((image - lo) / (hi - lo) if hi > lo else np.zeros_like(image))
                          .astype(np.float32))
        self.src_images.data = {"image": images, "x": xs, "y": ys}
        self.src_tiles.data = {"x": xs, "cx": [x + TILE / 2 for x in xs],
                               "cy": [y + TILE / 2 for y in ys],
                               "label": [f"L{l + 1}.{i + 1}" for l, i in view.neurons],
                               "layer": view.neurons[:, 0], "index": view.neurons[:, 1],
                               "mean": view.mean, "maximum": view.maximum}
        self.draw_folds(view, box)
        self.f_neurons.height = max(160, int(70 * rows + 60))

    def draw_folds(self, view: NetView, box: np.ndarray) -> None:
        """Each neuron's exact folds, scaled into its tile (none where ``view.folds`` is
        None)."""
        fx, fy = [], []
        scale = box[:, 1] - box[:, 0]
        for (x0, y0), folds in zip(tile_origins(view.neurons)[0], view.folds or []):
            segs = (clip_segments(folds, box) - box[:, 0]) / scale * TILE + [x0, y0]
            fx.extend(segs[:, :, 0].tolist())
            fy.extend(segs[:, :, 1].tolist())
        self.src_folds.data = {"xs": fx, "ys": fy}
