"""Loss-landscape figures: spectra, gradient/top-subspace overlap, neuron participation, slices.

All functions take plain arrays or toylab.landscape results and return a Figure in the house
style (save it with :func:`toylab.plots.save`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from toylab.landscape import LossSlice, SpectralDensity, count_outliers
from toylab.plots.style import COLUMN_WIDTH, PAGE_WIDTH, PALETTE, SEQUENTIAL, figure, styled
from toylab.plots.training import spread_band


@styled
def plot_spectrum(eigenvalues, *, n_outliers: int | None = None,
                  density: SpectralDensity | None = None, sigma: float | None = None,
                  label: str = "Hessian"):
    """Eigenvalues by rank (log scale, outliers marked) and the spectral density.

    Args:
        eigenvalues: ``(P,)`` exact eigenvalues (any order).
        n_outliers: outliers to mark; default :func:`toylab.landscape.count_outliers`.
        density: optional SLQ result drawn (Gaussian-smoothed, width ``sigma``) over the
            histogram of the exact eigenvalues.
        label: the matrix's name for the axis labels.
    Returns:
        the Figure (left: ``|lambda|`` vs rank, negative eigenvalues hollow; right: density
        on a log axis).
    """
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    k = count_outliers(lam) if n_outliers is None else int(n_outliers)
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.75, aspect=0.75)
    ax_rank, ax_dens = axes[0]
    rank = np.arange(1, lam.size + 1)
    mag = np.abs(lam)
    floor = max(mag.max() * 1e-16, np.finfo(float).tiny)
    pos, neg = lam > 0, lam < 0
    bulk = rank > k
    ax_rank.scatter(rank[pos & bulk], mag[pos & bulk], s=4, color=PALETTE[0], label="bulk, > 0")
    ax_rank.scatter(rank[neg], mag[neg], s=5, facecolors="none", edgecolors=PALETTE[5],
                    linewidths=0.6, label="< 0 (|value|)")
    ax_rank.scatter(rank[~bulk], mag[~bulk], s=14, color=PALETTE[1], marker="D",
                    label=f"{k} outliers")
    ax_rank.set(xscale="log", yscale="log", ylim=(floor, None), xlabel="rank",
                ylabel=f"|{label} eigenvalue|")
    ax_rank.legend(loc="lower left")

    counts, _, _ = ax_dens.hist(lam, bins=min(100, max(10, lam.size // 5)), density=True,
                                color=PALETTE[0], alpha=0.5, label="exact (histogram)")
    peak = counts.max()
    if density is not None:
        span = lam.max() - lam.min()
        width = sigma if sigma is not None else max(span, 1e-12) / 200
        grid = np.linspace(lam.min() - 0.05 * span, lam.max() + 0.05 * span, 2000)
        curve = density.density(grid, width)
        peak = max(peak, curve.max())
        ax_dens.plot(grid, curve, color=PALETTE[5], label=f"SLQ (sigma = {width:.2g})")
    for value in lam[:k]:
        ax_dens.axvline(value, color=PALETTE[1], linewidth=0.6, linestyle=":")
    ax_dens.set(yscale="log", ylim=(peak * 1e-5, peak * 3), xlabel=f"{label} eigenvalue",
                ylabel="spectral density")
    ax_dens.legend(loc="upper right")
    return fig


@styled
def plot_overlap(steps, overlaps: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]],
                 *, titles: Sequence[str] | None = None,
                 ylabel: str = "gradient overlap with top-k subspace"):
    """Overlap vs training step across seeds: median line, IQR and min-max bands per group.

    Args:
        steps: ``(T,)`` training steps of the snapshots.
        overlaps: group label (e.g. optimizer) -> ``(S, T)`` one row per seed; or a sequence
            of such mappings, one panel each (sharing the legend when labels repeat).
        titles: one title per panel.
    Returns:
        the Figure.
    """
    panels = [overlaps] if isinstance(overlaps, Mapping) else list(overlaps)
    fig, axes = figure(1, len(panels), width=COLUMN_WIDTH * min(len(panels), 2),
                       aspect=0.8, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    steps = np.asarray(steps)
    for j, (ax, panel) in enumerate(zip(axes, panels)):
        for color, (label, curves) in zip(PALETTE, panel.items()):
            curves = np.atleast_2d(np.asarray(curves, np.float64))
            spread_band(ax, steps, curves, color=color,
                        label=f"{label} ({curves.shape[0]} seeds)")
        ax.set(xlabel="training step", ylim=(-0.02, 1.02),
               title=None if titles is None else titles[j])
    axes[0].set_ylabel(ylabel)
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3),
               title="median, IQR, min-max")
    return fig


@styled
def plot_neuron_heatmap(shares, neurons, *, eigenvalues=None, top_neurons: int | None = None):
    """Neuron x eigenvector participation: each column is one direction's neuron shares.

    Args:
        shares: ``(N, k)`` from :func:`toylab.landscape.neuron_shares`.
        neurons: ``(N, 2)`` ``(layer, index)`` rows (:func:`toylab.landscape.neuron_table`).
        eigenvalues: optional ``(k,)`` for the column labels.
        top_neurons: show only the neurons with the largest total share (all by default).
    Returns:
        the Figure.
    """
    shares = np.asarray(shares, np.float64)
    neurons = np.asarray(neurons)
    rows = np.arange(shares.shape[0])
    if top_neurons is not None and top_neurons < rows.size:
        rows = np.sort(np.argsort(shares.sum(1))[::-1][:top_neurons])
    k = shares.shape[1]
    fig, ax = figure(width=COLUMN_WIDTH, aspect=max(0.6, 0.045 * rows.size + 0.3))
    im = ax.imshow(shares[rows], aspect="auto", cmap=SEQUENTIAL, vmin=0,
                   interpolation="nearest")
    cols = [f"v{j + 1}" + ("" if eigenvalues is None else f"\n{eigenvalues[j]:.2g}")
            for j in range(k)]
    ax.set_xticks(range(k), cols)
    ax.set_yticks(range(rows.size), [f"({l},{i})" for l, i in neurons[rows]])
    ax.set(xlabel="eigenvector" + ("" if eigenvalues is None else " (eigenvalue)"),
           ylabel="neuron (layer, index)")
    fig.colorbar(im, ax=ax, label="share of squared norm")
    return fig


@styled
def plot_slice_1d(slices: Sequence[LossSlice], labels: Sequence[str], *,
                  ylabel: str = "training loss (nats)"):
    """1-D loss slices, one curve per slice.

    Args:
        slices: 1-D :class:`toylab.landscape.LossSlice` results; labels: one per slice.
    Returns:
        the Figure.
    """
    fig, ax = figure(width=COLUMN_WIDTH, aspect=0.75)
    for color, s, label in zip(PALETTE, slices, labels):
        if s.losses.ndim != 1:
            raise ValueError(f"slice {label!r} is {s.losses.ndim}-D; plot_slice_1d needs 1-D slices")
        ax.plot(s.grids[0], s.losses, color=color, label=label)
    ax.axvline(0, color="black", linewidth=0.6, linestyle=":")
    ax.set(xlabel="step along direction (parameter units)", ylabel=ylabel)
    ax.legend()
    return fig


@styled
def plot_slice_2d(s: LossSlice, *, labels: tuple[str, str] = ("direction 1", "direction 2"),
                  levels: int = 20):
    """2-D loss slice as filled contours (log-spaced levels) with the origin marked.

    Args:
        s: a 2-D :class:`toylab.landscape.LossSlice`.
        labels: axis names of the two directions.
    Returns:
        the Figure.
    """
    if s.losses.ndim != 2:
        raise ValueError(f"s is a {s.losses.ndim}-D slice; plot_slice_2d needs a 2-D one")
    fig, ax = figure(width=COLUMN_WIDTH, aspect=0.85)
    lo, hi = s.losses.min(), s.losses.max()
    lv = np.geomspace(lo, hi, levels) if lo > 0 else np.linspace(lo, hi, levels)
    cs = ax.contourf(s.grids[0], s.grids[1], s.losses.T, levels=lv, cmap=SEQUENTIAL)
    ax.contour(s.grids[0], s.grids[1], s.losses.T, levels=lv, colors="white", linewidths=0.3)
    ax.plot(0, 0, marker="*", color=PALETTE[1], markersize=8)
    ax.set(xlabel=labels[0], ylabel=labels[1], aspect="equal",
           title="star: the trained parameters")
    fig.colorbar(cs, ax=ax, label="training loss (nats)", format="%.2g")
    return fig
