"""Study ``universality``: do analogous features form across models?

Question. Small ReLU nets trained from different initial seeds on the same data: how many of
one net's hidden neurons have a close analogue -- a neuron with nearly the same response
function under the data distribution -- in another net, how does that depend on the width
and on the data distribution (``blobs`` with 3 classes, ``xor``, ``curved``), and do
functionally matched neurons also have matching folds?

Method. For every (distribution, width) cell, ``seeds`` nets of depth ``depth`` are trained
(Adam, full batch, one shared training sample). For every pair of kept seeds, the two nets
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
matching for the nets at initialisation (step 0). Each cell is cached (``cached_run``).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection

from toylab import data
from toylab.compare.universality import cross_correlations, fold_hausdorff, match_neurons
from toylab.exact import folds, partition
from toylab.plots import save
from toylab.plots.data import draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, cached_run, progress, results_root
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "universality"
DESCRIPTION = "Exact cross-seed neuron correlations, Hungarian matching and fold distances vs width"

PAIR_FIELDS = ("matched", "best", "matched_init", "best_init", "hausdorff", "hausdorff_core",
               "live", "bound")
"""Per (seed pair, direction, layer, neuron) arrays stored for every cell."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``universality`` study."""

    distributions: tuple[str, ...] = ("blobs", "xor", "curved")
    widths: tuple[int, ...] = (4, 8, 16)
    depth: int = 2
    n_train: int = 512
    data_seed: int = 0
    activation: str = "relu"
    learning_rate: float = 1e-2
    steps: int = 2000
    threshold: float = 0.9
    core_mass_outside: float = 0.05
    fold_spacing: float = 0.01
    seeds: int = 4

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one distribution, width 6, 2 seeds, 300 steps."""
        return cls(distributions=("xor",), widths=(6,), n_train=256, steps=300, seeds=2)

    def cells(self) -> list["Cell"]:
        return [Cell(name, width, self.depth, self.n_train, self.data_seed, self.activation,
                     self.learning_rate, self.steps, self.core_mass_outside,
                     self.fold_spacing, self.seeds)
                for name in self.distributions for width in self.widths]


@dataclass(frozen=True)
class Cell:
    """One (distribution, width) ensemble: the cache key of ``cached_run``."""

    distribution: str
    width: int
    depth: int
    n_train: int
    data_seed: int
    activation: str
    learning_rate: float
    steps: int
    core_mass_outside: float
    fold_spacing: float
    seeds: int

    @property
    def key(self) -> str:
        return f"{self.distribution}_w{self.width}"

    def train_config(self, n_classes: int) -> TrainConfig:
        return TrainConfig(widths=(2,) + (self.width,) * self.depth + (n_classes,),
                           activation=self.activation, learning_rate=self.learning_rate,
                           steps=self.steps, snapshot_every=self.steps)


def _fold_sets(net, box, activation, depth, width):
    p = partition(net, box, activation=activation)
    return [[folds(p, (l, i)) for i in range(width)] for l in range(depth)]


def _pair(a, b, init_a, init_b, folds_a, folds_b, dist, cell) -> np.ndarray:
    """``(2 directions, depth, len(PAIR_FIELDS), width)`` for one seed pair."""
    out = np.full((2, cell.depth, len(PAIR_FIELDS), cell.width), np.nan)
    trained = cross_correlations(a, b, dist, activation=cell.activation)
    init = cross_correlations(init_a, init_b, dist, activation=cell.activation)
    for l, (cc, c0) in enumerate(zip(trained, init)):
        for d, (corr, corr0, live, bound) in enumerate((
                (cc.corr, c0.corr, cc.std_a > 0, cc.bound),
                (cc.corr.T, c0.corr.T, cc.std_b > 0, cc.bound.T))):
            m, m0 = match_neurons(corr), match_neurons(corr0)
            own, other = (folds_a, folds_b) if d == 0 else (folds_b, folds_a)
            haus = [[fold_hausdorff(own[box][l][i], other[box][l][j], spacing=cell.fold_spacing)
                     if live[i] and j >= 0 else np.nan for i, j in enumerate(m.partner)]
                    for box in (0, 1)]
            partner_bound = bound[np.arange(cell.width), np.maximum(m.partner, 0)]
            out[d, l] = [m.corr, m.best, m0.corr, m0.best, haus[0], haus[1], live,
                         partner_bound]
    return out


def compute_cell(cell: Cell) -> tuple[dict, dict]:
    """Train one cell; exact matching of every pair of kept seeds, trained and at init."""
    dist = data.make(cell.distribution)
    sample = dist.sample(cell.data_seed, cell.n_train)
    run = train_ensemble(sample.X, sample.y, np.arange(cell.seeds),
                         config=cell.train_config(dist.n_classes), on_divergence="report",
                         progress=True)
    bad = sorted(seed for seed, _ in diverged_seeds(run))
    kept = [s for s in range(cell.seeds) if s not in bad]
    nets = {s: to_float64(run.member(s)) for s in kept}
    inits = {s: to_float64(run.snapshot(s, 0)) for s in kept}
    core = dist.covering_box(cell.core_mass_outside)
    fold_sets = {s: [_fold_sets(nets[s], box, cell.activation, cell.depth, cell.width)
                     for box in (dist.domain, core)] for s in kept}
    pairs = list(combinations(kept, 2))
    stats = np.full((len(pairs), 2, cell.depth, len(PAIR_FIELDS), cell.width), np.nan)
    for n, (s, t) in enumerate(progress(pairs, desc=f"pairs {cell.key}")):
        stats[n] = _pair(nets[s], nets[t], inits[s], inits[t], fold_sets[s], fold_sets[t],
                         dist, cell)
    arrays = {"kept": np.asarray(kept, np.int64), "pairs": np.asarray(pairs, np.int64).reshape(
        -1, 2), "stats": stats}
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W, b
    return {"diverged": bad}, arrays


def pair_fractions(stats: np.ndarray, threshold: float, field: str = "matched") -> np.ndarray:
    """``(pairs * 2 directions, depth)`` fraction of live neurons whose ``field`` correlation
    exceeds ``threshold`` (NaN where a net has no live neuron in the layer)."""
    live = stats[..., PAIR_FIELDS.index("live"), :] == 1
    hit = (stats[..., PAIR_FIELDS.index(field), :] > threshold) & live
    with np.errstate(invalid="ignore"):
        frac = hit.sum(-1) / live.sum(-1)
    return frac.reshape(-1, stats.shape[2])


def _mean_sd(values: np.ndarray) -> dict:
    v = values[np.isfinite(values)]
    return {"mean": float(v.mean()) if len(v) else None,
            "sd": float(v.std(ddof=1)) if len(v) > 1 else None}


def _median(values: np.ndarray) -> float | None:
    v = values[np.isfinite(values)]
    return float(np.median(v)) if len(v) else None


def cell_summary(stats: np.ndarray, threshold: float) -> dict:
    """Per layer: analogue fractions (mean, sd over seed pairs and directions), trained and at
    init; median matched correlation; median fold distances of analogues and of the rest."""
    f = {name: PAIR_FIELDS.index(name) for name in PAIR_FIELDS}
    out = {}
    for l in range(stats.shape[2]):
        s = stats[:, :, l]
        live = s[..., f["live"], :] == 1
        matched = s[..., f["matched"], :]
        analog = live & (matched > threshold)
        out[f"layer{l}"] = {
            "analogue": _mean_sd(pair_fractions(stats, threshold)[:, l]),
            "analogue_best": _mean_sd(pair_fractions(stats, threshold, "best")[:, l]),
            "analogue_init": _mean_sd(pair_fractions(stats, threshold, "matched_init")[:, l]),
            "matched_corr_median": _median(matched[live]),
            "matched_corr_init_median": _median(s[..., f["matched_init"], :][live]),
            "hausdorff_analogues_median": _median(s[..., f["hausdorff"], :][analog]),
            "hausdorff_others_median": _median(s[..., f["hausdorff"], :][live & ~analog]),
            "hausdorff_core_analogues_median": _median(s[..., f["hausdorff_core"], :][analog]),
            "hausdorff_core_others_median": _median(
                s[..., f["hausdorff_core"], :][live & ~analog]),
            "constant_neurons": int(np.sum(~live)),
            "corr_bound_max": float(np.nanmax(s[..., f["bound"], :][live]))
            if live.any() else None,
        }
    return out


def compute(config: Config) -> tuple[dict, dict]:
    """Run (or load) every cell; analogue fractions per distribution, width and layer."""
    results = {cell: cached_run(f"{NAME}/cell", cell, compute_cell, out=results_root())[0]
               for cell in progress(config.cells(), desc="cells")}
    summary = {"threshold": config.threshold, "seeds": config.seeds, "diverged": {},
               "widths": list(config.widths), "cells": {}, "distributions": {}}
    arrays = {}
    bounds = []
    for cell, r in results.items():
        if r.summary["diverged"]:
            summary["diverged"][cell.key] = r.summary["diverged"]
        stats = r.arrays["stats"]
        summary["cells"][cell.key] = cell_summary(stats, config.threshold)
        arrays[f"{cell.key}__stats"] = stats
        live = stats[..., PAIR_FIELDS.index("live"), :] == 1
        bounds.append(stats[..., PAIR_FIELDS.index("bound"), :][live])
    for name in config.distributions:
        per = {}
        for l in range(config.depth):
            for kind in ("analogue", "analogue_init", "analogue_best"):
                cells = [summary["cells"][f"{name}_w{w}"][f"layer{l}"][kind]
                         for w in config.widths]
                per[f"layer{l}_{kind}_mean"] = [c["mean"] for c in cells]
                per[f"layer{l}_{kind}_sd"] = [c["sd"] for c in cells]
        summary["distributions"][name] = per
    pooled = np.concatenate(bounds) if bounds else np.zeros(0)
    summary["corr_bound_max"] = float(np.nanmax(pooled)) if len(pooled) else None
    summary["corr_bound_median"] = float(np.nanmedian(pooled)) if len(pooled) else None
    summary["corr_bound_above_0.01"] = float(np.mean(pooled > 0.01)) if len(pooled) else None
    middle = config.widths[len(config.widths) // 2]
    example = next((c for c in config.cells() if c.distribution == "curved"
                    and c.width == middle), config.cells()[0])
    ex = results[example]
    arrays["example__kept"] = ex.arrays["kept"]
    for depth in range(config.depth + 1):
        arrays[f"example__W{depth}"] = ex.arrays[f"W{depth}"]
        arrays[f"example__b{depth}"] = ex.arrays[f"b{depth}"]
    summary["example_cell"] = example.key
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


def plot_fractions(result: StudyResult, config: Config):
    """One panel per distribution: fraction of live neurons with an analogue (matched
    correlation > threshold) in another seed vs width, per layer, trained and at init."""
    D = len(config.distributions)
    fig, axes = figure(1, D, width=PAGE_WIDTH * min(1.0, 0.38 * D + 0.2), aspect=0.9)
    axes = np.atleast_2d(axes)
    w = np.asarray(config.widths, float)
    for n, name in enumerate(config.distributions):
        ax = axes[0, n]
        per = result.summary["distributions"][name]
        for l in range(config.depth):
            for kind, style, label in (("analogue", "-", "trained"),
                                       ("analogue_init", ":", "at init")):
                mean = np.array([np.nan if v is None else v
                                 for v in per[f"layer{l}_{kind}_mean"]])
                sd = np.array([0.0 if v is None else v for v in per[f"layer{l}_{kind}_sd"]])
                ax.errorbar(w * (1 + 0.03 * l), mean, yerr=sd, ls=style, marker="o", ms=3,
                            capsize=2, color=PALETTE[l],
                            label=f"layer {l}, {label}")
        ax.set_xscale("log")
        ax.set_xticks(w, [f"{v:g}" for v in w])
        ax.minorticks_off()
        ax.set(xlabel="hidden width", ylim=(-0.03, 1.03), title=name)
        if n == 0:
            ax.set_ylabel(f"fraction with analogue ($\\rho$ > {config.threshold:g})")
    axes[0, -1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
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
    cell = next(c for c in config.cells() if c.key == result.summary["example_cell"])
    dist = data.make(cell.distribution)
    kept = result.arrays["example__kept"]
    fig, ax = figure(width=PAGE_WIDTH * 0.5, aspect=0.75)
    draw_density(ax, dist)
    if len(kept) >= 2:
        nets = [[(result.arrays[f"example__W{d}"][s].astype(float),
                  result.arrays[f"example__b{d}"][s].astype(float))
                 for d in range(config.depth + 1)] for s in kept[:2]]
        m = match_neurons(cross_correlations(nets[0], nets[1], dist,
                                             activation=config.activation)[0].corr)
        parts = [partition(net, dist.domain, activation=config.activation) for net in nets]
        for i, j in enumerate(m.partner):
            color = PALETTE[i % len(PALETTE)]
            for p, neuron, style in ((parts[0], i, "-"), (parts[1], j, "--")):
                if neuron < 0:
                    continue
                ax.add_collection(LineCollection(folds(p, (0, neuron)), colors=[color],
                                                 linestyles=style, linewidths=1.3))
            ax.plot([], [], color=color, label=f"$\\rho$ = {m.corr[i]:.2f}")
        ax.set_title(f"{cell.distribution}, width {cell.width}: layer-0 folds of seeds "
                     f"{int(kept[0])} (solid) and {int(kept[1])} (dashed)")
        ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    set_box(ax, dist.domain)
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Analogue fractions vs width, correlation histograms, fold distances, example folds."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_fractions(result, config), out / "analogues_vs_width")
    paths += save(plot_correlations(result, config), out / "matched_correlations")
    paths += save(plot_hausdorff(result, config), out / "fold_hausdorff")
    paths += save(plot_example(result, config), out / "example_folds")
    return paths
