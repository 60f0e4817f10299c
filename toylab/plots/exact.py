"""Figures of exact per-neuron response functions, linear regions and decision boundaries.

Every function draws in the house style (:mod:`toylab.plots.style`) and returns the
``Figure`` without saving it; ``toylab.plots.save(fig, stem)`` writes PDF + PNG.

What is exact in these pictures: region polygons, folds and the network's decision boundary
of a piecewise-linear net come from :func:`toylab.exact.partition` (no grid); heat maps are
exact values *at pixel centres* (each pixel evaluated through its region's affine map); the
Bayes boundary and density contours are display-only grid contours of the analytic
distribution. For smooth nets (:func:`plot_smooth_neuron_grid`) the level sets are refined to
a stated tolerance (:func:`toylab.exact.smooth.level_set`).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import CenteredNorm, ListedColormap, Normalize, to_rgb
from matplotlib.patches import Patch

from toylab.exact.boundary import class_regions, decision_boundary, folds
from toylab.exact.smooth import grid_evaluate, level_set
from toylab.models import as_layers, widths_of
from toylab.plots.data import box_grid, draw_bayes_boundary, draw_density
from toylab.plots.style import (
    COLUMN_WIDTH,
    DIVERGING,
    PALETTE,
    class_colors,
    figure,
    styled,
)

PASTEL_STRENGTHS = (0.55, 0.3)
"""Mix of each Okabe-Ito hue with white (1 = the full colour) for :data:`REGION_PALETTE`."""

REGION_PALETTE = tuple(
    tuple(s * np.array(to_rgb(c)) + (1 - s)) for s in PASTEL_STRENGTHS for c in PALETTE[:7]
)
"""14 muted/pastel Okabe-Ito colours (no black) for region fills; colour-blind-safe hues."""

LEARNED_STYLE = dict(color="#D55E00", linestyle="-", linewidth=2.0, solid_capstyle="round")
"""The network's decision boundary: solid vermillion, under the dashed black Bayes boundary."""

FOLD_STYLE = dict(colors="black", linewidths=0.7)
"""A neuron's folds / zero set drawn on its heat map."""

REGION_EDGE = dict(edgecolors="black", linewidths=0.25)
"""Thin black region outlines."""

NEURON_PANEL_WIDTH = 0.85
"""Inches per neuron panel in the neuron grids."""

POSITIVE = ListedColormap(DIVERGING(np.linspace(0.5, 1.0, 256)), name="toylab_positive")
"""The upper half of :data:`DIVERGING` (white -> orange) for non-negative responses (relu),
so 0 is white in every neuron grid and black folds stay visible."""

# ----------------------------------------------------------------------------- helpers


def _new_axes(ax, *, width: float = COLUMN_WIDTH, aspect: float = 1.0):
    if ax is None:
        return figure(width=width, aspect=aspect)
    return ax.figure, ax


def _bounding_box(domain: np.ndarray) -> np.ndarray:
    """``[[xlo, xhi], [ylo, yhi]]`` of a domain polygon ``(m, 2)``."""
    return np.stack([domain.min(0), domain.max(0)], 1)


def _coordinate_names(d: int) -> tuple[str, str]:
    """Axis names: input coordinates for a 2-D net, slice coordinates otherwise."""
    return ("$x_1$", "$x_2$") if d == 2 else ("$u_1$", "$u_2$")


def _set_plane(ax, box: np.ndarray, d: int = 2) -> None:
    xlabel, ylabel = _coordinate_names(d)
    ax.set(xlim=box[0], ylim=box[1], xlabel=xlabel, ylabel=ylabel, aspect="equal")


def pattern_colors(patterns: Sequence[np.ndarray], n_colors: int = len(REGION_PALETTE)) -> np.ndarray:
    """Palette index ``(R,)`` of each region from its activation pattern.

    The index is ``sum_j w_j pattern_j mod n_colors`` with fixed weights ``w_j`` in
    ``1..n_colors-1`` (one per neuron, seeded), a linear hash: crossing a single neuron's fold
    changes that neuron's piece by one, hence the index by ``+-w_j``, never ``0 (mod n)``, so
    two regions that share an edge along one fold always get different colours.

    Args:
        patterns: per hidden layer ``(R, width_l)`` piece indices (``Partition.patterns``).
    Returns:
        ``(R,)`` int palette indices.
    """
    flat = np.concatenate([np.asarray(p, np.int64) for p in patterns], axis=1)
    weights = np.random.default_rng(0).integers(1, n_colors, size=flat.shape[1])
    return (flat @ weights) % n_colors


def _norm_and_cmap(values: np.ndarray):
    """White at 0: :data:`POSITIVE` from 0 for non-negative values, else :data:`DIVERGING`
    centred on 0 (Playground-style)."""
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if lo >= 0:
        return Normalize(0.0, hi if hi > 0 else 1.0), POSITIVE
    return CenteredNorm(0.0, max(abs(lo), abs(hi))), DIVERGING


def _segments(lines) -> np.ndarray:
    """Polylines or segments -> ``(s, 2, 2)`` segments."""
    if isinstance(lines, np.ndarray):
        return lines
    segs = [np.stack([q[:-1], q[1:]], 1) for q in lines]
    return np.concatenate([np.zeros((0, 2, 2))] + segs)


# ----------------------------------------------------------------------------- regions


@styled
def plot_regions(p, ax=None, *, title: str | None = None, edges: bool = True):
    """The exact linear-region partition, each region filled by its activation pattern.

    Args:
        p: a :class:`toylab.exact.Partition`.
        ax: axes to draw in (default: a new one-column figure).
        title: default ``"<R> linear regions"``; ``""`` for none.
        edges: draw thin black region outlines.
    Returns:
        the Figure.
    """
    fig, ax = _new_axes(ax)
    colors = np.array(REGION_PALETTE)[pattern_colors(p.patterns)]
    ax.add_collection(PolyCollection(p.polygons, facecolors=colors,
                                     **(REGION_EDGE if edges else dict(edgecolors="face"))))
    _set_plane(ax, _bounding_box(p.domain), p.widths[0])
    ax.set_title(f"{len(p)} linear regions" if title is None else title)
    return fig


# ----------------------------------------------------------------------------- neuron grids


def _neuron_grid(layer_values, extent, layer_lines, layer_ids, *, ncols: int, d: int):
    """Shared layout: one row block per layer, one panel per neuron, one colour bar per layer.

    Args:
        layer_values: per layer ``(ny, nx, width)`` values (NaN outside the domain).
        extent: ``(xlo, xhi, ylo, yhi)`` of the grids.
        layer_lines: per layer, per neuron, segments ``(s, 2, 2)`` to draw on top.
        layer_ids: the layer index of each block (panel titles ``(layer, index)``).
        d: input dimension (axis names).
    """
    rows = [-(-v.shape[-1] // ncols) for v in layer_values]
    cols = min(ncols, max(v.shape[-1] for v in layer_values))
    panel = NEURON_PANEL_WIDTH
    fig = plt.figure(figsize=(cols * panel + 1.0, sum(rows) * (panel + 0.22) + 0.25),
                     layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(layer_values), 1, height_ratios=rows))
    for sub, values, lines, l, nrow in zip(subfigs, layer_values, layer_lines, layer_ids, rows):
        norm, cmap = _norm_and_cmap(values)
        axes = sub.subplots(nrow, cols, squeeze=False).ravel()
        for ax in axes[values.shape[-1]:]:
            ax.remove()
        axes = axes[: values.shape[-1]]
        for i, ax in enumerate(axes):
            image = ax.imshow(values[..., i], origin="lower", extent=extent, cmap=cmap,
                              norm=norm, interpolation="nearest")
            ax.add_collection(LineCollection(lines[i], **FOLD_STYLE))
            ax.set(xlim=extent[:2], ylim=extent[2:], xticks=[], yticks=[], aspect="equal")
            for spine in ax.spines.values():  # a full thin frame around each heat map
                spine.set(visible=True, linewidth=0.5)
            ax.set_title(f"({l}, {i})", pad=2)
        sub.colorbar(image, ax=list(axes), shrink=0.9, aspect=12 * nrow)
        sub.supylabel(f"layer {l}")
    xlabel, ylabel = _coordinate_names(d)
    fig.supxlabel(f"each panel: {xlabel} in [{extent[0]:g}, {extent[1]:g}] (horizontal), "
                  f"{ylabel} in [{extent[2]:g}, {extent[3]:g}] (vertical)", fontsize=7)
    return fig


def _hidden_layers(layer, n_hidden: int) -> list[int]:
    if n_hidden == 0:
        raise ValueError("the network has no hidden layer; neuron grids show hidden neurons")
    if layer is None:
        return list(range(n_hidden))
    if not isinstance(layer, (int, np.integer)) or not -n_hidden <= layer < n_hidden:
        raise ValueError(f"layer={layer!r} is not a hidden layer; choose 0..{n_hidden - 1} "
                         "or None for all")
    return [int(layer) % n_hidden]


@styled
def plot_neuron_grid(p, layer: int | None = None, *, resolution: int = 160, ncols: int = 8):
    """Playground-style grid of every hidden neuron's exact response (post-activation).

    Each panel is the neuron's value at pixel centres, evaluated exactly through the pixel's
    region (:meth:`Partition.evaluate`), with the neuron's exact folds
    (:func:`toylab.exact.boundary.folds`) drawn as black lines. One colour bar per layer:
    sequential when the layer is non-negative (e.g. relu), else diverging around 0.

    Args:
        p: a :class:`toylab.exact.Partition`.
        layer: one hidden layer, or None for all.
        resolution: pixels per axis of each panel.
        ncols: panels per row (wider layers wrap).
    Returns:
        the Figure (``sum(widths) + n_layers`` axes: panels plus one colour bar per layer).
    """
    layers = _hidden_layers(layer, len(p.widths) - 2)
    box = _bounding_box(p.domain)
    xs, ys, pts = box_grid(box, resolution)
    values = [p.evaluate(pts, l).reshape(len(ys), len(xs), -1) for l in layers]
    lines = [[folds(p, (l, i)) for i in range(p.widths[l + 1])] for l in layers]
    return _neuron_grid(values, (*box[0], *box[1]), lines, layers, ncols=ncols, d=p.widths[0])


@styled
def plot_smooth_neuron_grid(net, domain=None, *, activation: str | None = None,
                            layer: int | None = None, resolution: int = 160,
                            level_resolution: int = 64, tol: float = 1e-8, ncols: int = 8,
                            origin=None, directions=None):
    """Neuron grid for any activation (smooth included): grid values plus refined zero sets.

    Panels show each hidden neuron's post-activation on a grid
    (:func:`toylab.exact.smooth.grid_evaluate`, float64 at pixel centres) and, as black lines,
    the zero set of its pre-activation traced by :func:`toylab.exact.smooth.level_set`
    (vertices within ``tol``; numerical, not exact).

    Args:
        net, activation, origin, directions: the network (and 2-D slice), as in
            :func:`~toylab.exact.smooth.grid_evaluate`.
        domain: box ``(2, 2)``, polygon, distribution or None (default box).
        layer: one hidden layer, or None for all.
        resolution: pixels per axis; level_resolution: coarse grid of the level sets.
        tol: level-set tolerance on ``|pre-activation|``.
        ncols: panels per row.
    Returns:
        the Figure.
    """
    layers_, name = as_layers(net, activation)
    widths = widths_of(layers_)
    slice_kw = dict(activation=name, origin=origin, directions=directions)
    values, lines, ids = [], [], _hidden_layers(layer, len(widths) - 2)
    for l in ids:
        grid = grid_evaluate(layers_, domain, resolution=resolution, layer=l, **slice_kw)
        values.append(grid.values)
        lines.append([_segments(level_set(layers_, (l, i), domain, tol=tol,
                                          resolution=level_resolution, **slice_kw).lines)
                      for i in range(widths[l + 1])])
    return _neuron_grid(values, grid.extent, lines, ids, ncols=ncols, d=widths[0])


# ----------------------------------------------------------------------------- decision


@styled
def plot_decision_boundary(p, dist, ax=None, *, density_levels: int = 6,
                           resolution: int = 400, legend: bool = True,
                           title: str | None = None):
    """The network's exact decision boundary against the Bayes-optimal one.

    Class regions of the network (:func:`toylab.exact.boundary.class_regions`) are lightly
    tinted with :func:`class_colors`; the data density is shown by log-density contour lines
    (sequential colours, display-only grid); the learned boundary
    (:func:`~toylab.exact.boundary.decision_boundary`, exact segments) is solid, the Bayes
    boundary dashed (:func:`toylab.plots.data.draw_bayes_boundary`).

    Args:
        p: a :class:`toylab.exact.Partition` of a 2-D-input network.
        dist: the analytic distribution (``log_density``, ``class_log_joint``, ``n_classes``).
        ax: axes to draw in (default: a new one-column figure).
        density_levels: number of density contour lines; 0 for none.
        resolution: grid points per axis of the density contours (half that for tracing the
            Bayes boundary).
        legend: add a legend; title: axes title (default none).
    Returns:
        the Figure.
    """
    if p.widths[0] != 2 or p.directions.shape != (2, 2) or not np.array_equal(p.directions, np.eye(2)):
        raise ValueError(
            "p must partition the network's own 2-D input plane (no slice) to be compared "
            "with the distribution; build it with toylab.exact.partition(net, dist)"
        )
    fig, ax = _new_axes(ax)
    box = _bounding_box(p.domain)
    colors = class_colors(p.widths[-1])
    for k, polys in enumerate(class_regions(p)):
        ax.add_collection(PolyCollection(polys, facecolors=colors[k], edgecolors="none",
                                         alpha=0.18))
    if density_levels:
        draw_density(ax, dist, box, levels=density_levels, resolution=resolution)
    ax.add_collection(LineCollection(decision_boundary(p), colors=LEARNED_STYLE["color"],
                                     linewidths=LEARNED_STYLE["linewidth"], capstyle="round"))
    draw_bayes_boundary(ax, dist, box, resolution=resolution // 2)
    _set_plane(ax, box)
    if title:
        ax.set_title(title)
    if legend:
        handles = [plt.Line2D([], [], **LEARNED_STYLE, label="network"),
                   *ax.get_legend_handles_labels()[0]]
        handles += [Patch(facecolor=colors[k], alpha=0.35, label=f"class {k}")
                    for k in range(p.widths[-1])]
        ax.legend(handles=handles, loc="best", framealpha=0.85, handlelength=1.8)
    return fig
