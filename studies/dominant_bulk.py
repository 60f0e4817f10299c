"""Study ``dominant-bulk``: does the top Hessian subspace matter for learning in tiny nets?

Question. The gradient of tiny nets overlaps strongly with the top-``k`` Hessian eigenspace
(``tiny-subspace``; Gur-Ari et al. 2018). Song, Ahn & Yun (ICLR 2025) show for real networks
that this overlap is misleading: training with every update projected onto the top-``k``
eigenspace (Dom-SGD) stalls, while removing that component (Bulk-SGD) trains like SGD. Does
the same hold for 2-8-8-3 ReLU nets on 2-D blobs, separated and overlapping?

Method. Each world is one harness cell (``seeds`` nets, each with its own initialisation and
training sample); its full-batch GD run (the kernel, float32) is the reference and its
initial networks are the start points. From each start, in float64
(:func:`toylab.landscape.projected.projected_gd`): plain GD, Dom-GD and Bulk-GD at the same
learning rate, with the exact top-``k`` eigenvectors (``k`` = classes) recomputed every ``m``
steps for each ``m`` in ``everys`` (plain GD at the smallest ``m``, where only the overlap
needs the eigenvectors). Recorded: the training loss at every step, the exact population
risk (0-1, ``toylab.exact``) every ``risk_every`` steps, the gradient overlap at every
recomputation, and the time of each exact top-``k`` eigendecomposition. Headlines: final
loss and risk per update rule (null: the initial network), and the per-seed paired
difference to plain GD, as means with bootstrap 95% intervals.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from matplotlib.figure import Figure

from studies.tiny_subspace import bayes_error, check_full_batch_gd, check_worlds, mean_band
from toylab.exact import population
from toylab.landscape.projected import projected_gd
from toylab.models import unflatten
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, progress
from toylab.study import (Context, TrainCell, World, WorldsConfig, headline, kept_members,
                          load_layers)
from toylab.train import TrainConfig

NAME = "dominant-bulk"
DESCRIPTION = ("Dom-GD / Bulk-GD (Song, Ahn & Yun 2025): updates projected onto / off the exact "
               "top-k Hessian eigenspace vs plain GD; loss and exact population risk")


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``dominant-bulk`` study: worlds are ``(preset, k)`` pairs."""

    worlds: tuple[tuple[str, int], ...] = (("blobs", 3), ("overlapping_blobs", 3))
    train: TrainConfig = TrainConfig(widths=(2, 8, 8, 3), optimizer="sgd", learning_rate=0.1,
                                     batch_size=None, steps=500, snapshot_every=500)
    everys: tuple[int, ...] = (5, 25)
    risk_every: int = 250
    n_train: int = 256

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one overlapping world, m = 5, 50 steps, 4 seeds."""
        return cls(worlds=(("overlapping_blobs", 3),), everys=(5,), risk_every=25, n_train=128,
                   seeds=4, train=replace(cls.train, steps=50, snapshot_every=50))

    def __post_init__(self):
        check_worlds(self.worlds)
        check_full_batch_gd(self.train)
        for m in (*self.everys, self.risk_every):
            if isinstance(m, bool) or int(m) != m or m < 1 or self.train.steps % m:
                raise ValueError(f"everys={self.everys!r}, risk_every={self.risk_every!r} must be "
                                 f"divisors of train.steps={self.train.steps}")
        if any(self.risk_every % m for m in self.everys):
            raise ValueError(f"risk_every={self.risk_every} must be a multiple of every m in "
                             f"everys={self.everys!r} (risks are read at recomputations)")

    def cell(self, preset: str, k: int) -> TrainCell:
        return self.cell_in(World(preset, (("k", k),)),
                            replace(self.train, widths=(*self.train.widths[:-1], k)))



def update_rules(everys) -> list[tuple[str, int]]:
    """``(projection, m)`` of every update rule: plain GD at the smallest ``m`` (where only its
    overlap needs the eigenvectors), then Dom-GD and Bulk-GD at each ``m``."""
    return [("none", min(everys))] + [(proj, m) for m in everys for proj in ("dominant", "bulk")]


def rule_key(projection: str, every: int) -> str:
    return "gd" if projection == "none" else f"{projection}_m{every}"


@dataclass(frozen=True)
class ProjectedKey:
    """Cache key of one world's projected runs."""

    cell: TrainCell = field(default_factory=TrainCell)
    everys: tuple[int, ...] = ()
    risk_every: int = 1


def run_world(key: ProjectedKey, start) -> tuple[dict, dict]:
    """Every update rule from every kept member's initial network: ``(summary, arrays)``
    with ``loss__<rule> (S, steps + 1)``, ``risk__<rule> (S, steps / risk_every + 1)``,
    ``overlap__<rule> (S, steps / m)`` and ``eigen_seconds__<rule>`` (NaN rows for members
    whose reference run diverged)."""
    cell, dist = key.cell, key.cell.distribution()
    X, y = cell.training_data()
    kept = kept_members(start)
    S, steps = cell.seeds, cell.train.steps
    R = steps // key.risk_every + 1
    rules = update_rules(key.everys)
    arrays = {}
    for projection, m in rules:
        name = rule_key(projection, m)
        arrays.update({f"loss__{name}": np.full((S, steps + 1), np.nan),
                       f"risk__{name}": np.full((S, R), np.nan),
                       f"overlap__{name}": np.full((S, steps // m), np.nan),
                       f"eigen_seconds__{name}": np.full((S, steps // m), np.nan)})
    risk = lambda net: 1 - population.population_accuracy(
        population.population_partition(net, dist, activation=cell.train.activation),
        dist).value
    for i in progress(kept, desc="projected GD"):
        for projection, m in rules:
            run = projected_gd(load_layers(start, i, prefix="init_"), np.float64(X[i]), y[i],
                               activation=cell.train.activation,
                               learning_rate=cell.train.learning_rate, steps=steps,
                               k=cell.train.widths[-1], every=m, projection=projection)
            name = rule_key(projection, m)
            stride = key.risk_every // m
            nets = [_layers(theta, cell.train.widths) for theta in run.checkpoints[::stride]]
            arrays[f"loss__{name}"][i] = run.loss
            arrays[f"risk__{name}"][i] = [risk(net) for net in nets]
            arrays[f"overlap__{name}"][i] = run.overlap
            arrays[f"eigen_seconds__{name}"][i] = run.eigen_seconds
    return {}, arrays


def _layers(theta, widths):
    return [(np.asarray(W), np.asarray(b)) for W, b in unflatten(np.asarray(theta), widths)]


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Reference GD cells through the harness, then the projected runs of every world
    (cached), summarised per update rule."""
    cells = [config.cell(*w) for w in config.worlds]
    starts = ctx.train_cells(cells, lambda cell, run: ({}, {}))
    arrays, records = {}, []
    for (preset, k), cell, start in zip(config.worlds, cells, starts):
        key = ProjectedKey(cell, config.everys, config.risk_every)
        runs = ctx.cached("projected", key, lambda key: run_world(key, start)).arrays
        kept = kept_members(start)
        world = f"{preset}__k{k}"
        arrays.update({f"{name}__{world}": runs[name] for name in runs})
        arrays[f"kept__{world}"] = start.arrays["kept"]
        arrays[f"reference_loss__{world}"] = start.arrays["loss"]
        record = {"preset": preset, "k": k, "bayes_error": bayes_error(ctx, preset, k),
                  "diverged": start.summary["diverged"], "rules": {}}
        plain = {f: runs[f"{f}__gd"][kept, -1] for f in ("loss", "risk")}
        for projection, m in update_rules(config.everys):
            name = rule_key(projection, m)
            loss, risk = runs[f"loss__{name}"][kept], runs[f"risk__{name}"][kept]
            record["rules"][name] = {
                "projection": projection, "every": m,
                "final_loss": headline(loss[:, -1], null=loss[:, 0]),
                "final_risk": headline(risk[:, -1], null=risk[:, 0]),
                "loss_minus_gd": headline(loss[:, -1] - plain["loss"]),
                "risk_minus_gd": headline(risk[:, -1] - plain["risk"]),
                "overlap": headline(runs[f"overlap__{name}"][kept].mean(1)),
                "eigen_seconds_median": float(np.median(runs[f"eigen_seconds__{name}"][kept])),
            }
        record["reference_final_loss"] = headline(start.arrays["final_loss"][kept])
        records.append(record)
    summary = {"by_world": records,
               "steps": {"loss": "every step", "risk": f"every {config.risk_every} steps"}}
    return summary, {"risk_steps": np.arange(0, config.train.steps + 1, config.risk_every),
                     **arrays}


# ----------------------------------------------------------------------------- figures


def plot_curves(result: StudyResult, config: Config):
    """Training loss (every step) and exact population risk vs step per update rule, one
    column per world (mean and 95% interval over seeds); grey: the Bayes error."""
    n = len(config.worlds)
    fig, axes = figure(2, n, width=PAGE_WIDTH * 0.45 * n, aspect=0.7, sharex=True)
    axes = np.asarray(axes).reshape(2, n)
    steps = np.arange(config.train.steps + 1)
    for j, ((preset, k), record) in enumerate(zip(config.worlds, result.summary["by_world"])):
        world = f"{preset}__k{k}"
        kept = result.arrays[f"kept__{world}"]
        for color, (projection, m) in zip(PALETTE, update_rules(config.everys)):
            name = rule_key(projection, m)
            label = "GD" if projection == "none" else f"{projection} (m = {m})"
            loss = result.arrays[f"loss__{name}__{world}"][kept]
            mean_band(axes[0, j], steps[::10], loss[:, ::10], color=color, label=label)
            mean_band(axes[1, j], result.arrays["risk_steps"],
                      result.arrays[f"risk__{name}__{world}"][kept], color=color, label=label)
        axes[1, j].axhline(record["bayes_error"], color="grey", linestyle=":", linewidth=0.8)
        axes[0, j].set(yscale="log", title=f"{preset.replace('_', ' ')} k={k}")
        axes[1, j].set(xlabel="training step")
    axes[0, 0].set_ylabel("training loss")
    axes[1, 0].set_ylabel("exact population risk")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=5,
               title=f"lr {config.train.learning_rate}; mean, 95% interval")
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Loss and exact population risk curves per update rule and world."""
    return {"curves": plot_curves(result, config)}
