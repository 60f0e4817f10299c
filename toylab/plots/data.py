"""Drawing an analytic distribution: density, samples, Bayes boundary."""

from __future__ import annotations

import numpy as np

from toylab.plots.style import BAYES_STYLE, class_colors, styled

GRID = 400
"""Grid points per axis for display-only contours (the exact quantities never use a grid)."""

BAYES_TOL = 1e-8
"""Log-joint tie tolerance of the traced Bayes boundary vertices."""


def box_grid(box: np.ndarray, resolution: int = GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``xs (r,), ys (r,), points (r*r, 2)`` covering ``box = [[xlo, xhi], [ylo, yhi]]``."""
    xs = np.linspace(box[0, 0], box[0, 1], resolution)
    ys = np.linspace(box[1, 0], box[1, 1], resolution)
    XX, YY = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([XX.ravel(), YY.ravel()])


@styled
def draw_density(ax, dist, box: np.ndarray | None = None, *, levels: int = 6,
                 resolution: int = GRID) -> None:
    """Log-density contour lines in greys, ``levels`` lines spanning 6 nats below the peak."""
    box = dist.domain if box is None else np.asarray(box)
    xs, ys, pts = box_grid(box, resolution)
    logp = dist.log_density(pts).reshape(len(ys), len(xs))
    top = float(np.max(logp))
    ax.contour(xs, ys, logp, levels=np.linspace(top - 6.0, top - 0.25, levels), cmap="Greys",
               vmin=top - 9.0, vmax=top, linewidths=0.6)


@styled
def draw_bayes_boundary(ax, dist, box: np.ndarray | None = None, *, label: str = "Bayes",
                        resolution: int = GRID // 2) -> None:
    """The Bayes decision boundary (where the two largest class log joints tie), dashed.

    Traced by :func:`toylab.exact.smooth.trace_decision_boundary` (vertices on the boundary
    to :data:`BAYES_TOL`), each boundary once so the dashes stay regular.
    """
    from toylab.exact.smooth import trace_decision_boundary  # plots -> exact, not reverse

    box = dist.domain if box is None else np.asarray(box)
    bayes = trace_decision_boundary(dist.class_log_joint, box, tol=BAYES_TOL,
                                    resolution=resolution)
    for line in bayes.lines:
        ax.plot(*line.T, **BAYES_STYLE)
    ax.plot([], [], label=label, **BAYES_STYLE)


@styled
def draw_samples(ax, X: np.ndarray, y: np.ndarray, *, n_classes: int, size: float = 4.0,
                 max_points: int = 600) -> None:
    """Scatter up to ``max_points`` samples coloured by class."""
    colors = class_colors(n_classes)
    keep = np.arange(len(X))[: max_points]
    for c in range(n_classes):
        idx = keep[y[keep] == c]
        ax.scatter(X[idx, 0], X[idx, 1], s=size, color=colors[c], edgecolor="white",
                   linewidth=0.2, label=f"class {c}", zorder=3)


@styled
def set_box(ax, box: np.ndarray) -> None:
    """Axis limits from a box, equal aspect, labelled input coordinates."""
    ax.set(xlim=box[0], ylim=box[1], xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
