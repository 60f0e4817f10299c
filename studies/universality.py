"""Study ``universality``: do analogous features form across models?

Question. Small ReLU nets trained from different initial seeds on the same data: how many of
one net's hidden neurons have a close analogue -- a neuron with nearly the same response
function under the data distribution -- in another net, how does that depend on the width
and on the data distribution (``blobs`` with 3 classes, ``xor``, ``curved``), and do
functionally matched neurons also have matching folds?

Method. For every (distribution, width) cell, ``seeds`` nets of depth ``depth`` are trained
(Adam, full batch, each seed on its own training sample from the same distribution) from He
weights and ``N(0, 1)`` biases: with zero biases every first-layer fold starts through the
origin, where the three worlds are centred, and first-layer neurons of different seeds would
look alike before any training. For
``pairs_per_seed`` pairs per seed (seed ``s`` with ``s + 1, ..., s + pairs_per_seed`` mod
``seeds``) the two nets
are partitioned together as one block-diagonal parallel network
(:func:`toylab.compare.universality.cross_correlations`), which gives the *exact* population
correlation between every neuron of one net and every neuron of the same layer of the other
(closed-form Gaussian polygon moments; first-order error bound from the rigorous tail
bounds). Neurons are matched one-to-one by the Hungarian algorithm maximising the summed
correlation; a neuron *has an analogue* in the other net when its matched correlation exceeds
``threshold``. Neurons constant under the data (zero variance) are left out and counted. For
matched pairs the Hausdorff distance between their exact folds is taken inside the plotting
box ``dist.domain`` (>= 99.9% of the mass) and inside the data's core
``dist.covering_box(core_mass_outside)``, to within ``fold_spacing``. Baseline: the same
matching for the nets at initialisation (step 0). Intervals resample seeds, not pairs
(:func:`toylab.study.pair_headline`), since pairs sharing a seed are dependent; the analogue
threshold is swept.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from toylab.compare.universality import cross_correlations, fold_hausdorff, match_neurons
from toylab.exact import folds, partition
from toylab.plots.data import draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, progress
from toylab.study import (Context, Representative, TrainCell, World, WorldsConfig,
                          config_from_dict, kept_members, load_layers, pair_headline)
from toylab.train import TrainConfig

NAME = "universality"
DESCRIPTION = "Exact cross-seed neuron correlations, Hungarian matching and fold distances vs width"

PAIR_FIELDS = ("matched", "best", "matched_init", "best_init", "hausdorff", "hausdorff_core",
               "live", "bound")
"""Per (seed pair, direction, layer, neuron) arrays stored for every cell."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``universality`` study."""

    distributions: tuple[str, ...] = ("blobs", "xor", "curved")
    widths: tuple[int, ...] = (4, 8, 16)
    depth: int = 2
    train: TrainConfig = TrainConfig(widths=(2, 4, 4, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000,
                                     bias_init="normal", bias_std=1.0)
    threshold: float = 0.9
    thresholds: tuple[float, ...] = (0.7, 0.8, 0.9, 0.95)
    core_mass_outside: float = 0.05
    fold_spacing: float = 0.01
    pairs_per_seed: int = 2

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one distribution, width 6, 3 seeds (all pairs), 300 steps."""
        return cls(distributions=("xor",), widths=(6,), n_train=256, seeds=3, pairs_per_seed=1,
                   train=replace(cls.train, steps=300, snapshot_every=300))

    def cell(self, name: str, width: int) -> TrainCell:
        classes = World(name).distribution().n_classes
        widths = (2,) + (width,) * self.depth + (classes,)
        return self.cell_in(World(name), replace(self.train, widths=widths))

    def cells(self) -> list[TrainCell]:
        return [self.cell(name, width) for name in self.distributions for width in self.widths]

    def settings(self) -> dict:
        """The analysis parameters a cell's cache key needs."""
        return {"core_mass_outside": self.core_mass_outside, "fold_spacing": self.fold_spacing,
                "pairs_per_seed": self.pairs_per_seed}


def cell_key(cell: TrainCell) -> str:
    return f"{cell.world.preset}_w{cell.train.widths[1]}"


def seed_pairs(seeds: int, per_seed: int) -> list[tuple[int, int]]:
    """Each seed ``s`` with ``s + 1, ..., s + per_seed`` (mod ``seeds``), as sorted pairs."""
    return sorted({tuple(sorted((s, (s + j) % seeds))) for s in range(seeds)
                   for j in range(1, per_seed + 1) if (s + j) % seeds != s})


def _fold_sets(net, box, activation, depth, width):
    p = partition(net, box, activation=activation)
    return [[folds(p, (l, i)) for i in range(width)] for l in range(depth)]


def _pair(a, b, init_a, init_b, folds_a, folds_b, dist, activation: str,
          fold_spacing: float) -> np.ndarray:
    """``(2 directions, depth, len(PAIR_FIELDS), width)`` for one seed pair."""
    depth, width = len(a) - 1, a[0][0].shape[1]
    out = np.full((2, depth, len(PAIR_FIELDS), width), np.nan)
    trained = cross_correlations(a, b, dist, activation=activation)
    init = cross_correlations(init_a, init_b, dist, activation=activation)
    for l, (cc, c0) in enumerate(zip(trained, init)):
        for d, (corr, corr0, live, bound) in enumerate((
                (cc.corr, c0.corr, cc.std_a > 0, cc.bound),
                (cc.corr.T, c0.corr.T, cc.std_b > 0, cc.bound.T))):
            m, m0 = match_neurons(corr), match_neurons(corr0)
            own, other = (folds_a, folds_b) if d == 0 else (folds_b, folds_a)
            haus = [[fold_hausdorff(own[box][l][i], other[box][l][j], spacing=fold_spacing)
                     if live[i] and j >= 0 else np.nan for i, j in enumerate(m.partner)]
                    for box in (0, 1)]
            partner_bound = bound[np.arange(width), np.maximum(m.partner, 0)]
            out[d, l] = [m.corr, m.best, m0.corr, m0.best, haus[0], haus[1], live,
                         partner_bound]
    return out


def analyse(cell: TrainCell, run, config: Config) -> tuple[dict, dict]:
    """Exact matching of every pair of trained members (and of their initial networks)."""
    dist = cell.distribution()
    activation, depth = cell.train.activation, len(cell.train.widths) - 2
    width = cell.train.widths[1]
    finite = [i for i in range(cell.seeds) if np.isfinite(run.final_loss[i])]
    nets = {s: [(np.float64(W), np.float64(b)) for W, b in run.member(s)] for s in finite}
    inits = {s: [(np.float64(W), np.float64(b)) for W, b in run.snapshot(s, 0)] for s in finite}
    core = dist.covering_box(config.core_mass_outside)
    fold_sets = {s: [_fold_sets(nets[s], box, activation, depth, width)
                     for box in (dist.domain, core)] for s in finite}
    pairs = seed_pairs(cell.seeds, config.pairs_per_seed)
    stats = np.full((len(pairs), 2, depth, len(PAIR_FIELDS), width), np.nan)
    for n, (s, t) in enumerate(progress(pairs, desc=f"pairs {cell_key(cell)}")):
        if s in nets and t in nets:
            stats[n] = _pair(nets[s], nets[t], inits[s], inits[t], fold_sets[s], fold_sets[t],
                             dist, activation, config.fold_spacing)
    return {}, {"pairs": np.asarray(pairs, np.int64).reshape(-1, 2), "stats": stats}


def pair_fractions(stats: np.ndarray, threshold: float, field: str = "matched") -> np.ndarray:
    """``(pairs, 2 directions, depth)`` fraction of live neurons whose ``field`` correlation
    exceeds ``threshold`` (NaN where a net has no live neuron in the layer)."""
    live = stats[..., PAIR_FIELDS.index("live"), :] == 1
    hit = (stats[..., PAIR_FIELDS.index(field), :] > threshold) & live
    with np.errstate(invalid="ignore"):
        return hit.sum(-1) / live.sum(-1)


def pair_matrix(fractions: np.ndarray, pairs: np.ndarray, seeds: int) -> np.ndarray:
    """``(seeds, seeds)`` matrix of one layer's directed pair values (NaN: pair not taken).

    Args:
        fractions: ``(pairs, 2)``: direction 0 is ``s -> t``, direction 1 is ``t -> s``.
    """
    M = np.full((seeds, seeds), np.nan)
    M[pairs[:, 0], pairs[:, 1]] = fractions[:, 0]
    M[pairs[:, 1], pairs[:, 0]] = fractions[:, 1]
    return M


def _median(values: np.ndarray) -> float | None:
    v = values[np.isfinite(values)]
    return float(np.median(v)) if len(v) else None


def cell_summary(stats: np.ndarray, pairs: np.ndarray, seeds: int, config: Config) -> dict:
    """Per layer: the fraction of live neurons with an analogue in another seed (pair-aware
    headline over seeds, null: the same nets at initialisation), swept over thresholds; the
    best-correlation variant; pooled medians of matched correlations and fold distances."""
    f = {name: PAIR_FIELDS.index(name) for name in PAIR_FIELDS}

    def analogue(threshold: float, field: str, layer: int) -> np.ndarray:
        return pair_matrix(pair_fractions(stats, threshold, field)[..., layer], pairs, seeds)

    out = {}
    for l in range(stats.shape[2]):
        s = stats[:, :, l]
        live = s[..., f["live"], :] == 1
        matched = s[..., f["matched"], :]
        analog = live & (matched > config.threshold)
        out[f"layer{l}"] = {
            "analogue": pair_headline(analogue(config.threshold, "matched", l),
                                      null=analogue(config.threshold, "matched_init", l)),
            "analogue_best": pair_headline(analogue(config.threshold, "best", l)),
            "threshold_sweep": {f"{t:g}": pair_headline(analogue(t, "matched", l),
                                                        null=analogue(t, "matched_init", l))
                                for t in config.thresholds},
            "matched_corr_median": _median(matched[live]),
            "matched_corr_init_median": _median(s[..., f["matched_init"], :][live]),
            "hausdorff_analogues_median": _median(s[..., f["hausdorff"], :][analog]),
            "hausdorff_others_median": _median(s[..., f["hausdorff"], :][live & ~analog]),
            "hausdorff_core_analogues_median": _median(s[..., f["hausdorff_core"], :][analog]),
            "hausdorff_core_others_median": _median(
                s[..., f["hausdorff_core"], :][live & ~analog]),
            "constant_neurons": int(np.sum(~live & np.isfinite(matched))),
            "corr_bound_max": float(np.nanmax(s[..., f["bound"], :][live]))
            if live.any() else None,
            "undecided": _mean(undecided(s, config.threshold)),
        }
    return out


def undecided(stats: np.ndarray, threshold: float) -> np.ndarray:
    """Per live neuron, whether the exact computation leaves its analogue verdict undecided:
    the matched correlation lies within its first-order error bound of ``threshold``
    (near-constant neurons, whose tiny variance makes the bound large). Such a neuron is
    counted by its computed value in the headline; the fraction of them bounds how much of
    the headline could flip.

    Args:
        stats: ``(..., len(PAIR_FIELDS), width)`` per-pair statistics.
    Returns:
        ``(live neurons,)`` booleans.
    """
    f = {name: PAIR_FIELDS.index(name) for name in PAIR_FIELDS}
    live = stats[..., f["live"], :] == 1
    gap = np.abs(stats[..., f["matched"], :] - threshold)
    return gap[live] <= stats[..., f["bound"], :][live]


def _mean(flags: np.ndarray) -> float | None:
    return float(np.mean(flags)) if len(flags) else None


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train and analyse every cell; analogue fractions per distribution, width and layer."""
    cells = config.cells()
    results = ctx.train_cells(cells, lambda cell, run: analyse(cell, run, config),
                              settings=config.settings())
    summary = {"threshold": config.threshold, "seeds": config.seeds, "diverged": {},
               "pairs_per_seed": config.pairs_per_seed, "widths": list(config.widths),
               "cells": {}}
    arrays, bounds = {}, []
    for cell, r in zip(cells, results):
        key = cell_key(cell)
        if r.summary["diverged"]:
            summary["diverged"][key] = r.summary["diverged"]
        stats = r.arrays["stats"]
        summary["cells"][key] = cell_summary(stats, r.arrays["pairs"], config.seeds, config)
        arrays[f"{key}__stats"], arrays[f"{key}__pairs"] = stats, r.arrays["pairs"]
        live = stats[..., PAIR_FIELDS.index("live"), :] == 1
        bounds.append(stats[..., PAIR_FIELDS.index("bound"), :][live])
    pooled = np.concatenate(bounds) if bounds else np.zeros(0)
    summary["corr_bound_max"] = float(np.nanmax(pooled)) if len(pooled) else None
    summary["corr_bound_median"] = float(np.nanmedian(pooled)) if len(pooled) else None
    summary["corr_bound_above_0.01"] = float(np.mean(pooled > 0.01)) if len(pooled) else None
    summary["undecided"] = _mean(np.concatenate(
        [undecided(r.arrays["stats"], config.threshold) for r in results]))
    middle = config.widths[len(config.widths) // 2]
    example = next((c for c in cells if c.world.preset == "curved"
                    and c.train.widths[1] == middle), cells[0])
    ex = results[cells.index(example)]
    for n, member in enumerate(kept_members(ex)[:2]):
        for layer, (W, b) in enumerate(load_layers(ex, member)):
            arrays[f"example{n}__W{layer}"], arrays[f"example{n}__b{layer}"] = W, b
    summary["example_cell"] = cell_key(example)
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_fractions(result: StudyResult, config: Config):
    """One panel per distribution: fraction of live neurons with an analogue (matched
    correlation > threshold) in another seed vs width, per layer, trained and at init (mean
    and 95% seed-resampling interval)."""
    D = len(config.distributions)
    fig, axes = figure(1, D, width=PAGE_WIDTH * min(1.0, 0.38 * D + 0.2), aspect=0.9)
    axes = np.atleast_2d(axes)
    w = np.asarray(config.widths, float)
    for n, name in enumerate(config.distributions):
        ax = axes[0, n]
        for l in range(config.depth):
            heads = [result.summary["cells"][f"{name}_w{width}"][f"layer{l}"]["analogue"]
                     for width in config.widths]
            for which, style, label in ((lambda h: h, "-", "trained"),
                                        (lambda h: h["null"], ":", "at init")):
                mean = np.array([which(h)["value"] for h in heads])
                ci = np.array([which(h)["ci95"] for h in heads]).T
                ax.errorbar(w * (1 + 0.03 * l), mean, yerr=[mean - ci[0], ci[1] - mean],
                            ls=style, marker="o", ms=3, capsize=2, color=PALETTE[l],
                            label=f"layer {l}, {label}")
        ax.set_xscale("log")
        ax.set_xticks(w, [f"{v:g}" for v in w])
        ax.minorticks_off()
        ax.set(xlabel="hidden width", ylim=(-0.03, 1.03), title=name)
        if n == 0:
            ax.set_ylabel(f"fraction with analogue ($\\rho$ > {config.threshold:g})")
    axes[0, -1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_correlations(result: StudyResult, config: Config):
    """Histogram of matched correlations (all cells, pairs, directions, live neurons) per
    layer, trained vs at init."""
    fig, axes = figure(1, config.depth, width=PAGE_WIDTH * 0.7, aspect=0.6)
    axes = np.atleast_2d(axes)
    f = {name: PAIR_FIELDS.index(name) for name in PAIR_FIELDS}
    bins = np.linspace(-1, 1, 41)
    for l in range(config.depth):
        ax = axes[0, l]
        pools = {"trained": [], "at init": []}
        for key in result.summary["cells"]:
            s = result.arrays[f"{key}__stats"][:, :, l]
            live = s[..., f["live"], :] == 1
            pools["trained"].append(s[..., f["matched"], :][live])
            pools["at init"].append(s[..., f["matched_init"], :][live])
        for j, (label, vals) in enumerate(pools.items()):
            ax.hist(np.concatenate(vals), bins=bins, histtype="step", lw=1.4, color=PALETTE[j],
                    label=label)
        ax.axvline(config.threshold, color="grey", ls=":", lw=0.8)
        ax.set(xlabel="matched exact correlation $\\rho$", title=f"layer {l}")
        if l == 0:
            ax.set_ylabel("neurons (pooled)")
    axes[0, -1].legend(fontsize=6)
    return fig


def plot_hausdorff(result: StudyResult, config: Config):
    """Matched correlation vs Hausdorff distance of the matched folds (trained, pooled), in
    the plotting box and in the data core."""
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.75, aspect=0.85)
    f = {name: PAIR_FIELDS.index(name) for name in PAIR_FIELDS}
    for n, (field, where) in enumerate((("hausdorff", "plotting box (99.9% mass)"),
                                        ("hausdorff_core", "data core (95% mass)"))):
        ax = axes[0, n]
        for key in result.summary["cells"]:
            stats = result.arrays[f"{key}__stats"]
            for l in range(config.depth):
                s = stats[:, :, l]
                live = (s[..., f["live"], :] == 1) & np.isfinite(s[..., f[field], :])
                ax.scatter(s[..., f["matched"], :][live], s[..., f[field], :][live], s=4,
                           alpha=0.5, color=PALETTE[l], edgecolor="none",
                           label=f"layer {l}" if key == next(iter(result.summary["cells"]))
                           else None)
        ax.axvline(config.threshold, color="grey", ls=":", lw=0.8)
        ax.set(xlabel="matched exact correlation $\\rho$", yscale="log", title=where)
    axes[0, 0].set_ylabel("fold Hausdorff distance (input units)")
    axes[0, -1].legend(fontsize=6, markerscale=3)
    return fig


def plot_example(result: StudyResult, config: Config):
    """Two seeds of the example cell: first-layer folds, matched pairs in one colour
    (solid: first seed, dashed: second), over the data density."""
    key = result.summary["example_cell"]
    cell = next(c for c in config.cells() if cell_key(c) == key)
    dist = cell.distribution()
    activation = config.train.activation
    fig, ax = figure(width=PAGE_WIDTH * 0.5, aspect=0.75)
    draw_density(ax, dist)
    if "example1__W0" in result.arrays:
        nets = [[(result.arrays[f"example{n}__W{d}"], result.arrays[f"example{n}__b{d}"])
                 for d in range(config.depth + 1)] for n in (0, 1)]
        m = match_neurons(cross_correlations(nets[0], nets[1], dist,
                                             activation=activation)[0].corr)
        parts = [partition(net, dist.domain, activation=activation) for net in nets]
        for i, j in enumerate(m.partner):
            color = PALETTE[i % len(PALETTE)]
            for p, neuron, style in ((parts[0], i, "-"), (parts[1], j, "--")):
                if neuron < 0:
                    continue
                ax.add_collection(LineCollection(folds(p, (0, neuron)), colors=[color],
                                                 linestyles=style, linewidths=1.3))
            ax.plot([], [], color=color, label=f"$\\rho$ = {m.corr[i]:.2f}")
        ax.set_title(f"{cell.world.preset}, width {cell.train.widths[1]}: layer-0 folds of two "
                     "seeds (solid, dashed)")
        ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    set_box(ax, dist.domain)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Analogue fractions vs width, correlation histograms, fold distances, example folds."""
    return {"analogues_vs_width": plot_fractions(result, config),
            "matched_correlations": plot_correlations(result, config),
            "fold_hausdorff": plot_hausdorff(result, config),
            "example_folds": plot_example(result, config)}


def representatives(result: StudyResult) -> list[Representative]:
    """The two example seeds (their folds are matched in ``example_folds``)."""
    config = config_from_dict(Config, result.config)
    key = result.summary["example_cell"]
    cell = next(c for c in config.cells() if cell_key(c) == key)
    return [Representative(f"{key}_example{n}",
                           [(result.arrays[f"example{n}__W{d}"], result.arrays[f"example{n}__b{d}"])
                            for d in range(config.depth + 1)],
                           cell.distribution(), config.train.activation)
            for n in (0, 1) if f"example{n}__W0" in result.arrays]
