"""The house style: palette, sizes, fonts, and atomic PDF + PNG saving.

The style is applied in a context (:func:`house_style`, ``matplotlib.rc_context``) by every
plotting helper of :mod:`toylab.plots`, never globally: importing or using toylab.plots
leaves your matplotlib backend and ``rcParams`` as they were. Code that draws on a figure
from :func:`figure` itself (titles, labels, legends) runs inside ``with house_style():`` to
get the same fonts.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Mapping

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap

PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
"""Okabe & Ito (2008) colour-blind-safe qualitative palette."""

SEQUENTIAL = "cividis"
DIVERGING = LinearSegmentedColormap.from_list(
    "toylab_diverging", ["#0072B2", "#f7f7f7", "#E69F00"]
)
"""Blue - white - orange, readable under all common colour-vision deficiencies."""

BAYES_STYLE = dict(color="black", linestyle="--", linewidth=1.4)
"""How the Bayes-optimal boundary is drawn in every figure."""

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "lines.linewidth": 1.2,
}
"""The house style's rcParams (applied by :func:`house_style`)."""

COLUMN_WIDTH = 3.4  # inches, one column of a two-column paper
PAGE_WIDTH = 7.0


def house_style():
    """Context manager: the house style (:data:`RC`) on top of your rcParams, restored on exit.

    ``with house_style(): ...`` styles the figures, artists and saves made inside it.
    """
    return matplotlib.rc_context(RC)


def styled(fn):
    """Decorator: run a plotting helper inside :func:`house_style`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with house_style():
            return fn(*args, **kwargs)

    return wrapper


def class_colors(n_classes: int) -> list[str]:
    """One palette colour per class (cycling past eight classes)."""
    return [PALETTE[c % len(PALETTE)] for c in range(n_classes)]


@styled
def figure(nrows: int = 1, ncols: int = 1, *, width: float = COLUMN_WIDTH,
           aspect: float = 0.8, **subplot_kw):
    """``plt.subplots`` in the house style; height = width * aspect * nrows / ncols.

    Returns ``(fig, ax)`` for a single panel, else ``(fig, axes (nrows, ncols))``.
    """
    height = width * aspect * nrows / ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **subplot_kw)
    axes = axes[0, 0] if nrows == ncols == 1 else axes
    fig.set_layout_engine("constrained")
    return fig, axes


@styled
def save(fig, stem: str | os.PathLike) -> list[Path]:
    """Write ``stem.pdf`` and ``stem.png`` atomically (temp file, then rename); close ``fig``.

    Returns the two paths written.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for ext in ("pdf", "png"):
        path = stem.with_suffix(f".{ext}")
        fd, tmp = tempfile.mkstemp(prefix=f".{stem.name}.", suffix=f".{ext}", dir=stem.parent)
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(path)
    plt.close(fig)
    return written


def save_all(out: str | os.PathLike, figures: Mapping[str, object]) -> list[Path]:
    """:func:`save` every ``name -> figure`` under the folder ``out`` as ``out/name.{pdf,png}``;
    returns every path written, in order (how :func:`toylab.study.write_figures` saves a
    study's figures)."""
    return [path for name, fig in figures.items() for path in save(fig, Path(out) / name)]
