"""Training figures: loss and accuracy curves across seeds, with spread."""

from __future__ import annotations

import numpy as np

from toylab.plots.style import PAGE_WIDTH, PALETTE, figure, styled


@styled
def spread_band(ax, steps: np.ndarray, curves: np.ndarray, *, color: str, label: str,
                log: bool = False) -> None:
    """Median across seeds (line) with the interquartile range and min-max (bands).

    Args:
        steps: ``(T,)``; curves: ``(S, T)`` one row per seed.
    """
    q = np.nanquantile(curves, [0.0, 0.25, 0.5, 0.75, 1.0], axis=0)
    ax.fill_between(steps, q[0], q[4], color=color, alpha=0.12, linewidth=0)
    ax.fill_between(steps, q[1], q[3], color=color, alpha=0.3, linewidth=0)
    ax.plot(steps, q[2], color=color, label=label)
    if log:
        ax.set_yscale("log")


@styled
def plot_curves(loss: np.ndarray, accuracy: np.ndarray, *, bayes_error: float | None = None,
                label: str = "train"):
    """Loss (log scale) and accuracy vs step (symlog) across seeds: median, IQR and min-max
    bands.

    Args:
        loss, accuracy: ``(S, steps)``.
        bayes_error: if given, the Bayes-optimal accuracy ``1 - bayes_error`` is drawn.
    Returns:
        the Figure.
    """
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.75, aspect=0.75)
    ax_loss, ax_acc = axes[0]
    steps = np.arange(loss.shape[1])
    n = loss.shape[0]
    spread_band(ax_loss, steps, loss, color=PALETTE[0], label=f"{label} (median, {n} seeds)",
                log=True)
    ax_loss.set(xlabel="step", ylabel="cross-entropy loss (nats)")
    spread_band(ax_acc, steps, accuracy, color=PALETTE[0], label=f"{label} (median)")
    if bayes_error is not None:
        ax_acc.axhline(1 - bayes_error, color="black", linestyle="--", linewidth=1,
                       label="Bayes-optimal")
    ax_acc.set(xlabel="step", ylabel="accuracy", ylim=(None, 1.005))
    for ax in (ax_loss, ax_acc):  # early dynamics are fast: linear up to 10 steps, then log
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, steps[-1])
    ax_acc.legend(loc="lower right")
    ax_loss.legend(loc="upper right")
    return fig
