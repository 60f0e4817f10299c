"""Drawing an analytic distribution: density, samples, Bayes boundary."""

from __future__ import annotations

import numpy as np

from toylab.plots.style import BAYES_STYLE, SEQUENTIAL, class_colors

GRID = 400
"""Grid points per axis for display-only contours (the exact quantities never use a grid)."""


def box_grid(box: np.ndarray, resolution: int = GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``xs (r,), ys (r,), points (r*r, 2)`` covering ``box = [[xlo, xhi], [ylo, yhi]]``."""
    xs = np.linspace(box[0, 0], box[0, 1], resolution)
    ys = np.linspace(box[1, 0], box[1, 1], resolution)
    XX, YY = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([XX.ravel(), YY.ravel()])


def draw_density(ax, dist, box: np.ndarray | None = None, *, levels: int = 6) -> None:
    """Filled contours of the mixture's density (SEQUENTIAL colormap, light)."""
    box = dist.domain if box is None else np.asarray(box)
    xs, ys, pts = box_grid(box)
    density = np.exp(dist.log_density(pts)).reshape(len(ys), len(xs))
    ax.contourf(xs, ys, density, levels=levels, cmap=SEQUENTIAL, alpha=0.35)


def draw_bayes_boundary(ax, dist, box: np.ndarray | None = None, *, label: str = "Bayes") -> None:
    """The Bayes decision boundary (where the two largest class posteriors tie), dashed.

    Drawn as the zero contour of each class's margin ``log pi_c p_c(x) - max_k log pi_k p_k(x)``
    on a fine grid; display only (``toylab.exact`` computes exact geometry).
    """
    box = dist.domain if box is None else np.asarray(box)
    xs, ys, pts = box_grid(box)
    joint = dist.class_log_joint(pts)
    for c in range(dist.n_classes):
        # class c's Bayes region is where its log joint beats every other class's
        margin = joint[:, c] - np.delete(joint, c, axis=1).max(axis=1)
        ax.contour(xs, ys, margin.reshape(len(ys), len(xs)), levels=[0.0],
                   colors=BAYES_STYLE["color"], linestyles=BAYES_STYLE["linestyle"],
                   linewidths=BAYES_STYLE["linewidth"])
    ax.plot([], [], label=label, **BAYES_STYLE)


def draw_samples(ax, X: np.ndarray, y: np.ndarray, *, n_classes: int, size: float = 4.0,
                 max_points: int = 600) -> None:
    """Scatter up to ``max_points`` samples coloured by class."""
    colors = class_colors(n_classes)
    keep = np.arange(len(X))[: max_points]
    for c in range(n_classes):
        idx = keep[y[keep] == c]
        ax.scatter(X[idx, 0], X[idx, 1], s=size, color=colors[c], edgecolor="white",
                   linewidth=0.2, label=f"class {c}", zorder=3)


def set_box(ax, box: np.ndarray) -> None:
    """Axis limits from a box, equal aspect, labelled input coordinates."""
    ax.set(xlim=box[0], ylim=box[1], xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
