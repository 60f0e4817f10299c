"""Study ``edge-of-stability``: do tiny nets trained by full-batch GD sit at lambda_max ~ 2/eta?

Question. Cohen et al. (2021, "Gradient descent on neural networks typically occurs at the
edge of stability") find that full-batch GD first sharpens (the top Hessian eigenvalue
``lambda_max`` grows) until ``lambda_max ~ 2 / eta``, then hovers there while the loss falls
non-monotonically. Does that happen for 2-8-8-3 ReLU nets on 2-D blobs, separated and
overlapping, over a learning-rate sweep up to and past ``2 / lambda_max`` at initialisation?
And how does the gradient's overlap with the top-``k`` Hessian subspace (Gur-Ari et al. 2018)
behave below and at the edge -- does the edge explain why full-batch GD's overlap collapses on
overlapping blobs (``tiny-subspace``)?

Method. Each (world, learning rate) is one harness cell of ``seeds`` nets, each with its own
initialisation and training sample, trained by full-batch GD with snapshots every
``train.snapshot_every`` steps (dense over the first 200 steps). At every snapshot the exact
float64 Hessian of the member's training loss gives ``lambda_max`` and its top-``k``
eigenspace, and the full-batch gradient's overlap with it (``toylab.landscape``). The loss is
recorded at every step. Per seed: ``eta lambda_max`` at initialisation (where the sweep sits
relative to the stability limit 2), its maximum and final value, the sharpening ratio
``max lambda_max / lambda_max(0)``, the fraction of snapshots at the edge (``eta lambda_max >=
EDGE``), the fraction of steps at which the loss rose, and the mean gradient overlap over the
snapshots below and at the edge. Every headline is a mean over seeds with a bootstrap 95%
interval (over the seeds that have the phase, ``n`` says how many).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

import toylab.landscape as L
from toylab.models import flatten
from studies.tiny_subspace import (bayes_error, check_full_batch_gd, check_worlds, kept_rows,
                                    mean_band)
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, World, WorldsConfig, headline, kept_members,
                          member_arrays)
from toylab.train import TrainConfig

NAME = "edge-of-stability"
DESCRIPTION = ("Full-batch GD over a learning-rate sweep: exact lambda_max at dense snapshots "
               "vs 2/eta (Cohen et al. 2021), the loss, and the top-k gradient overlap per phase")

EDGE = 1.8
"""A snapshot is 'at the edge' when ``eta lambda_max >= EDGE`` (within 10% of the limit 2)."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``edge-of-stability`` study: worlds are ``(preset, k)`` pairs."""

    worlds: tuple[tuple[str, int], ...] = (("blobs", 3), ("overlapping_blobs", 3))
    learning_rates: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    train: TrainConfig = TrainConfig(widths=(2, 8, 8, 3), optimizer="sgd", learning_rate=0.1,
                                     batch_size=None, steps=600, snapshot_every=10)
    n_train: int = 256

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: two learning rates, one world, 60 steps, 4 seeds."""
        return cls(worlds=(("overlapping_blobs", 3),), learning_rates=(0.1, 1.0), n_train=128,
                   seeds=4, train=replace(cls.train, steps=60, snapshot_every=10))

    def __post_init__(self):
        check_worlds(self.worlds)
        check_full_batch_gd(self.train)
        if not self.learning_rates or any(not lr > 0 for lr in self.learning_rates):
            raise ValueError(f"learning_rates={self.learning_rates!r} must be positive numbers")

    def cell(self, preset: str, k: int, learning_rate: float) -> TrainCell:
        train = replace(self.train, widths=(*self.train.widths[:-1], k),
                        learning_rate=learning_rate)
        return self.cell_in(World(preset, (("k", k),)), train)

    def settings(self) -> list[tuple[str, int, float]]:
        return [(p, k, lr) for p, k in self.worlds for lr in self.learning_rates]


def setting_key(preset: str, k: int, learning_rate: float) -> str:
    return f"{preset}__k{k}__lr{learning_rate:g}"


# ----------------------------------------------------------------------------- compute


def analyse(cell: TrainCell, run) -> tuple[dict, dict]:
    """``lambda_max``, top-k gradient overlap and gradient norm of every finite member at every
    snapshot: ``(S, T)`` arrays; the final flat parameters ``(S, P)``."""
    X, y = cell.training_data()
    T, k = len(run.snapshot_steps), cell.train.widths[-1]

    def member(i):
        snaps = [[(np.float64(W), np.float64(b)) for W, b in run.snapshot(i, t)]
                 for t in range(T)]
        rows = [L.gradient_overlap(net, np.float64(X[i]), y[i], k=k,
                                   activation=cell.train.activation) for net in snaps]
        return {"lambda_max": [r.top.eigenvalues[0] for r in rows],
                "overlap": [r.overlap for r in rows],
                "gradient_norm": [np.linalg.norm(r.gradient) for r in rows],
                "params": flatten(snaps[-1])}

    return {}, member_arrays(run, member, desc="exact Hessians")


def phase_stats(eta: float, lambda_max, overlap, loss) -> dict:
    """Per-seed edge-of-stability statistics.

    Args:
        eta: learning rate; lambda_max, overlap: ``(T,)`` at the snapshots; loss: ``(steps,)``
            full-batch loss before every step.
    Returns:
        ``eta_lambda_init``, ``eta_lambda_max``, ``eta_lambda_final``, ``sharpening``
        (``max lambda_max / lambda_max[0]``), ``edge_fraction`` (snapshots with
        ``eta lambda_max >= EDGE``), ``loss_rises`` (fraction of steps with a higher loss than
        the step before), ``overlap_below`` / ``overlap_edge`` (mean overlap over the snapshots
        after initialisation below / at the edge; NaN when the phase is empty).
    """
    sharp = eta * np.asarray(lambda_max)
    overlap = np.asarray(overlap)
    edge = sharp[1:] >= EDGE
    phase = lambda mask: float(overlap[1:][mask].mean()) if mask.any() else np.nan
    return {"eta_lambda_init": sharp[0], "eta_lambda_max": sharp.max(),
            "eta_lambda_final": sharp[-1], "sharpening": sharp.max() / sharp[0],
            "edge_fraction": float(edge.mean()), "loss_rises": float(np.mean(np.diff(loss) > 0)),
            "overlap_below": phase(~edge), "overlap_edge": phase(edge)}


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train every (world, learning rate) cell and summarise its phases."""
    settings = config.settings()
    cells = ctx.train_cells([config.cell(*s) for s in settings], analyse)
    arrays, records = {"snapshot_steps": config.train.snapshot_steps}, []
    for (preset, k, lr), result in zip(settings, cells):
        a, kept = result.arrays, kept_members(result)
        key = setting_key(preset, k, lr)
        for name in ("lambda_max", "overlap", "gradient_norm", "params", "loss", "kept"):
            arrays[f"{name}__{key}"] = a[name]
        record = {"preset": preset, "k": k, "learning_rate": lr,
                  "bayes_error": bayes_error(ctx, preset, k),
                  "diverged": result.summary["diverged"]}
        rows = [phase_stats(lr, a["lambda_max"][i], a["overlap"][i], a["loss"][i]) for i in kept]
        for field in (rows[0] if rows else ()):
            values = np.array([r[field] for r in rows])
            record[field] = headline(values[np.isfinite(values)])
        if rows:
            record["final_loss"] = headline(a["final_loss"][kept])
        records.append(record)
    summary = {"edge": EDGE, "by_setting": records,
               "phases": f"at the edge: eta lambda_max >= {EDGE}; below: the other snapshots "
                         "after initialisation"}
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_trajectories(result: StudyResult, config: Config):
    """Per world (columns): ``eta lambda_max`` (log scale, dashed: the limit 2), the training
    loss (every step) and the top-k gradient overlap vs step, one colour per learning rate
    (mean and 95% interval over seeds)."""
    steps = result.arrays["snapshot_steps"]
    n = len(config.worlds)
    fig, axes = figure(3, n, width=PAGE_WIDTH * 0.45 * n, aspect=0.6, sharex=True)
    axes = np.asarray(axes).reshape(3, n)
    for j, (preset, k) in enumerate(config.worlds):
        for color, lr in zip(PALETTE, config.learning_rates):
            key = setting_key(preset, k, lr)
            if len(kept_rows(result, "lambda_max", key)) == 0:
                continue  # every seed diverged
            label = f"eta = {lr:g}"
            mean_band(axes[0, j], steps, lr * kept_rows(result, "lambda_max", key), color=color,
                      label=label)
            loss = kept_rows(result, "loss", key)
            axes[1, j].plot(np.arange(loss.shape[1]), loss.mean(0), color=color, linewidth=0.8)
            mean_band(axes[2, j], steps, kept_rows(result, "overlap", key), color=color,
                      label=label)
        axes[0, j].axhline(2.0, color="black", linestyle="--", linewidth=0.8)
        axes[0, j].set(yscale="log", title=f"{preset.replace('_', ' ')} k={k}")
        axes[1, j].set(yscale="log")
        axes[2, j].set(xlabel="training step", ylim=(-0.02, 1.02))
    axes[0, 0].set_ylabel("eta lambda_max")
    axes[1, 0].set_ylabel("training loss (mean)")
    axes[2, 0].set_ylabel(f"gradient overlap, top-{config.worlds[0][1]}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(config.learning_rates),
               fontsize=5, title="mean, 95% interval")
    return fig


def plot_phases(result: StudyResult, config: Config):
    """Mean gradient overlap below and at the edge vs ``eta lambda_max`` at initialisation,
    one panel per world (mean and 95% interval over the seeds that have the phase)."""
    n = len(config.worlds)
    fig, axes = figure(1, n, width=PAGE_WIDTH * 0.45 * n, aspect=0.8, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    for ax, (preset, k) in zip(axes, config.worlds):
        rows = [r for r in result.summary["by_setting"]
                if (r["preset"], r["k"]) == (preset, k) and "eta_lambda_init" in r]
        for color, field, label in ((PALETTE[0], "overlap_below", "below the edge"),
                                    (PALETTE[1], "overlap_edge", f"at the edge (>= {EDGE})")):
            have = [r for r in rows if r[field]["n"] > 0]
            x = np.array([r["eta_lambda_init"]["value"] for r in have])
            v = np.array([r[field]["value"] for r in have])
            ci = np.array([r[field]["ci95"] for r in have]).reshape(-1, 2)
            ax.errorbar(x, v, yerr=np.abs(np.nan_to_num(ci.T - v)), color=color, marker="o",
                        markersize=3, capsize=2, label=label)
        ax.axvline(2.0, color="black", linestyle="--", linewidth=0.8)
        ax.set(xscale="log", xlabel="eta lambda_max at init", ylim=(-0.02, 1.02),
               title=f"{preset.replace('_', ' ')} k={k}")
        # plain labels at 1-2-5 steps: a log axis shorter than a decade labels its minor ticks
        lo, hi = ax.get_xlim()
        ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50) if lo <= t <= hi]
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes[0].set_ylabel("mean gradient overlap in phase")
    axes[0].legend(loc="lower left", fontsize=5)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Trajectories (sharpness, loss, overlap) per world and the per-phase overlaps."""
    return {"trajectories": plot_trajectories(result, config),
            "phases": plot_phases(result, config)}
