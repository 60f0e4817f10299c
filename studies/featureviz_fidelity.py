"""Study ``featureviz-fidelity``: how faithful are the sampled tools of the circuits program?

Question. Feature visualisation (gradient ascent on the input) and top-k dataset examples are
how the circuits program describes a neuron. For small trained ReLU nets whose every neuron is
known exactly, how often does feature visualisation find a neuron's true maximum on the data
box, how far off does it land, and how well do the top-k training examples describe the
neuron -- do they reach its maximal region, and do they estimate the exact top-quantile mean?

Method. For each data distribution (``xor``, ``curved``, ``blobs`` with 3 classes) and
architecture (one or two hidden layers of 16), ``seeds`` nets are trained (Adam, full batch,
one shared training sample of ``n_train``). For every hidden neuron of every kept seed
(:mod:`toylab.compare.featureviz`): feature visualisation as practised (float32 ``jax.grad``
on the input, ``fv_steps`` fixed steps of size ``fv_step_size`` clipped to the plotting box
``dist.domain``, from ``fv_starts`` uniform random starts, best start reported), scored with
the exact maximum (``neuron_extrema``), the exact near-optimal set
``{f >= max - tol (max - min)}`` (found = best start inside; distance to it otherwise) and the
exact near-max set ``S_delta`` (``delta`` = 10% of the range; area and data mass); the top
``k`` training examples by exact activation, scored with the exact mean of the top ``k / n``
of the activation's population distribution and with ``S_delta`` (a neuron is *misdescribed*
when none of its top-k examples lies in ``S_delta``). Neurons constant on the box are counted
and left out. Each cell is cached (``cached_run``).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.collections import PolyCollection

from toylab import data
from toylab.compare.featureviz import (NeuronScores, feature_visualisation, score_neurons,
                                       superlevel_polygons)
from toylab.exact import geometry as geo
from toylab.exact import partition
from toylab.exact.population import population_partition
from toylab.plots import save
from toylab.plots.data import draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult, cached_run, progress, results_root
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "featureviz-fidelity"
DESCRIPTION = "Gradient-ascent feature visualisation and top-k examples vs exact maxima and quantiles"

SCORE_FIELDS = tuple(f for f in NeuronScores._fields if f not in ("neurons",))
"""Per-neuron score arrays stored for every seed (leading seed axis)."""

METRICS = {
    "fv_found": ("mean", "fraction of neurons whose best FV start is within tol of the max"),
    "fv_start_rate": ("mean", "fraction of single FV starts within tol of the max"),
    "fv_gap": ("median", "(max - best FV value) / range"),
    "fv_distance": ("median_missed", "distance of a missed best FV point to the near-max set"),
    "topk_max_gap": ("median", "(max - best top-k example) / range"),
    "quantile_gap": ("median", "(max - exact top-k/n quantile) / range"),
    "topk_error": ("median_abs", "|top-k mean - exact top-quantile mean| / range"),
    "topk_in_near_max": ("mean", "fraction of top-k examples in S_delta"),
    "misdescribed": ("mean", "fraction of neurons with no top-k example in S_delta"),
    "near_max_mass": ("median", "probability of S_delta under the data distribution"),
    "near_max_area": ("median", "area fraction of the box in S_delta"),
}
"""Headline metric -> (per-seed statistic over live neurons, meaning)."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``featureviz-fidelity`` study."""

    distributions: tuple[str, ...] = ("xor", "curved", "blobs")
    hidden: tuple[tuple[int, ...], ...] = ((16,), (16, 16))
    n_train: int = 512
    data_seed: int = 0
    activation: str = "relu"
    learning_rate: float = 1e-2
    steps: int = 2000
    fv_starts: int = 16
    fv_steps: int = 200
    fv_step_size: float = 0.05
    fv_seed: int = 0
    top_k: int = 9
    delta: float = 0.1
    tol: float = 1e-3
    seeds: int = 3

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one distribution, one small net, 2 seeds, 300 steps."""
        return cls(distributions=("xor",), hidden=((6, 6),), n_train=256, steps=300,
                   fv_starts=4, fv_steps=50, seeds=2)

    def cells(self) -> list["Cell"]:
        return [Cell(name, hidden, self.n_train, self.data_seed, self.activation,
                     self.learning_rate, self.steps, self.fv_starts, self.fv_steps,
                     self.fv_step_size, self.fv_seed, self.top_k, self.delta, self.tol,
                     self.seeds)
                for name in self.distributions for hidden in self.hidden]


@dataclass(frozen=True)
class Cell:
    """One (distribution, architecture) ensemble: the cache key of ``cached_run``."""

    distribution: str
    hidden: tuple[int, ...]
    n_train: int
    data_seed: int
    activation: str
    learning_rate: float
    steps: int
    fv_starts: int
    fv_steps: int
    fv_step_size: float
    fv_seed: int
    top_k: int
    delta: float
    tol: float
    seeds: int

    @property
    def key(self) -> str:
        return f"{self.distribution}_" + "x".join(map(str, self.hidden))

    def train_config(self, n_classes: int) -> TrainConfig:
        return TrainConfig(widths=(2,) + tuple(self.hidden) + (n_classes,),
                           activation=self.activation, learning_rate=self.learning_rate,
                           steps=self.steps, snapshot_every=self.steps)


def compute_cell(cell: Cell) -> tuple[dict, dict]:
    """Train one cell and score every hidden neuron of every kept seed."""
    dist = data.make(cell.distribution)
    sample = dist.sample(cell.data_seed, cell.n_train)
    run = train_ensemble(sample.X, sample.y, np.arange(cell.seeds),
                         config=cell.train_config(dist.n_classes), on_divergence="report",
                         progress=True)
    bad = sorted(seed for seed, _ in diverged_seeds(run))
    kept = [s for s in range(cell.seeds) if s not in bad]
    scores = []
    for s in progress(kept, desc=f"scores {cell.key}"):
        net = to_float64(run.member(s))
        pts = feature_visualisation(net, dist.domain, activation=cell.activation,
                                    starts=cell.fv_starts, steps=cell.fv_steps,
                                    step_size=cell.fv_step_size, seed=cell.fv_seed + s)
        scores.append(score_neurons(partition(net, dist.domain, activation=cell.activation),
                                    population_partition(net, dist, activation=cell.activation),
                                    dist, pts, sample.X, k=cell.top_k, delta=cell.delta,
                                    tol=cell.tol))
    arrays = {"kept": np.asarray(kept, np.int64), "X": sample.X, "y": sample.y}
    if scores:
        arrays["neurons"] = scores[0].neurons
        for name in SCORE_FIELDS:
            arrays[name] = np.stack([getattr(sc, name) for sc in scores])
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W, b
    return {"diverged": bad}, arrays


def _statistic(values: np.ndarray, found: np.ndarray, kind: str) -> float:
    """One seed's statistic of a metric over its live neurons (NaN-free input)."""
    if kind == "mean":
        return float(np.mean(values))
    if kind == "median":
        return float(np.median(values))
    if kind == "median_abs":
        return float(np.median(np.abs(values)))
    missed = values[found == 0]
    return float(np.median(missed)) if len(missed) else 0.0


def seed_metrics(result: StudyResult) -> dict[str, np.ndarray]:
    """Per metric, ``(kept seeds,)`` values over each seed's live (non-constant) neurons."""
    a = result.arrays
    out = {m: [] for m in METRICS}
    for s in range(len(a["kept"])):
        live = ~a["constant"][s]
        for metric, (kind, _) in METRICS.items():
            out[metric].append(_statistic(a[metric][s][live], a["fv_found"][s][live], kind)
                               if live.any() else np.nan)
    return {m: np.array(v) for m, v in out.items()}


def _mean_sd(values: np.ndarray) -> dict:
    v = values[np.isfinite(values)]
    return {"mean": float(v.mean()) if len(v) else None,
            "sd": float(v.std(ddof=1)) if len(v) > 1 else None}


def compute(config: Config) -> tuple[dict, dict]:
    """Run (or load) every cell; per-cell and pooled metrics (mean and sd over seeds)."""
    results = {cell: cached_run(f"{NAME}/cell", cell, compute_cell, out=results_root())[0]
               for cell in progress(config.cells(), desc="cells")}
    summary = {"seeds": config.seeds, "metrics": {m: d for m, (_, d) in METRICS.items()},
               "cells": {}, "diverged": {}}
    pooled = {m: [] for m in METRICS}
    arrays = {}
    n_neurons = n_constant = 0
    for cell, r in results.items():
        if r.summary["diverged"]:
            summary["diverged"][cell.key] = r.summary["diverged"]
        if "constant" not in r.arrays:
            continue
        per_seed = seed_metrics(r)
        summary["cells"][cell.key] = {m: _mean_sd(v) for m, v in per_seed.items()}
        summary["cells"][cell.key]["constant_neurons"] = int(r.arrays["constant"].sum())
        n_neurons += r.arrays["constant"].size
        n_constant += int(r.arrays["constant"].sum())
        for m, v in per_seed.items():
            pooled[m].extend(v.tolist())
        for name in ("fv_gap", "topk_max_gap", "quantile_gap", "constant", "fv_found",
                     "fv_start_rate", "topk_error"):
            arrays[f"{cell.key}__{name}"] = r.arrays[name]
    summary["overall"] = {m: _mean_sd(np.array(v)) for m, v in pooled.items()}
    summary["neurons"] = n_neurons
    summary["constant_neurons"] = n_constant
    example = config.cells()[0]
    for key in ("X", "y", "kept", "fv_points", "max", "argmax", "constant", "fv_found",
                "neurons"):
        if key in results[example].arrays:
            arrays[f"example__{key}"] = results[example].arrays[key]
    for depth in range(len(example.hidden) + 1):
        arrays[f"example__W{depth}"] = results[example].arrays[f"W{depth}"]
        arrays[f"example__b{depth}"] = results[example].arrays[f"b{depth}"]
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in result.config.items()}
    cfg["hidden"] = tuple(tuple(h) for h in cfg["hidden"])
    return replace(Config(), **cfg)


def plot_success(result: StudyResult):
    """Per cell: fraction of neurons whose best FV start finds the max, per-start success
    rate, and fraction misdescribed by their top-k examples (mean +- sd over seeds)."""
    cells = result.summary["cells"]
    keys = list(cells)
    fig, ax = figure(width=PAGE_WIDTH * 0.6, aspect=0.55)
    x = np.arange(len(keys))
    bars = (("fv_found", "FV best of starts finds max"), ("fv_start_rate", "single FV start finds max"),
            ("misdescribed", "top-k examples miss $S_\\delta$"))
    for j, (metric, label) in enumerate(bars):
        mean = [cells[k][metric]["mean"] for k in keys]
        sd = [cells[k][metric]["sd"] or 0.0 for k in keys]
        ax.bar(x + (j - 1) * 0.27, mean, 0.27, yerr=sd, capsize=2, color=PALETTE[j], label=label)
    ax.set_xticks(x, [k.replace("_", "\n") for k in keys])
    ax.set(ylabel="fraction of live neurons", ylim=(0, 1.05),
           xlabel="distribution, hidden widths")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_gaps(result: StudyResult):
    """Distributions (all cells, seeds, live neurons) of how far below the exact maximum each
    tool lands, in units of the neuron's range on the box."""
    fig, ax = figure(width=PAGE_WIDTH * 0.5, aspect=0.7)
    pools = {name: [] for name in ("fv_gap", "topk_max_gap", "quantile_gap")}
    for key in result.summary["cells"]:
        live = ~result.arrays[f"{key}__constant"]
        for name in pools:
            pools[name].append(result.arrays[f"{key}__{name}"][live])
    labels = {"fv_gap": "best FV point", "topk_max_gap": "best top-k example",
              "quantile_gap": "exact top-$k/n$ quantile"}
    bins = np.linspace(0, 1, 41)
    for j, (name, vals) in enumerate(pools.items()):
        v = np.concatenate(vals) if vals else np.zeros(0)
        ax.hist(v, bins=bins, histtype="step", lw=1.4, color=PALETTE[j],
                label=f"{labels[name]} (median {np.median(v) if len(v) else np.nan:.2f})")
    ax.set(xlabel="(exact max - value) / (max - min) on the box", ylabel="neurons",
           yscale="log")
    ax.legend(fontsize=6)
    return fig


def plot_examples(result: StudyResult, config: Config, n_show: int = 3):
    """First cell, first kept seed: a few neurons' exact response over the box with the data
    density, the near-max set, the exact maximiser, the FV results and the top-k examples."""
    cell = config.cells()[0]
    dist = data.make(cell.distribution)
    a = {k[len("example__"):]: v for k, v in result.arrays.items() if k.startswith("example__")}
    fig, axes = figure(1, n_show, width=PAGE_WIDTH, aspect=0.8)
    axes = np.atleast_2d(axes)
    if "constant" not in a or len(a["kept"]) == 0:
        return fig
    net = [(a[f"W{d}"][a["kept"][0]].astype(float), a[f"b{d}"][a["kept"][0]].astype(float))
           for d in range(len(cell.hidden) + 1)]
    p = partition(net, dist.domain, activation=cell.activation)
    live = np.flatnonzero(~a["constant"][0])
    missed = [n for n in live if not a["fv_found"][0][n]]
    chosen = (missed[:1] + [n for n in live if n not in missed[:1]])[:n_show]
    xs = np.linspace(*dist.domain[0], 300)
    ys = np.linspace(*dist.domain[1], 300)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    for ax, n in zip(axes[0], chosen):
        layer, i = a["neurons"][n]
        f = p.evaluate(grid, layer)[:, i].reshape(len(ys), len(xs))
        fmax, fmin = a["max"][0][n], f.min()
        ax.imshow(f, origin="lower", extent=dist.domain.ravel(), cmap=SEQUENTIAL, aspect="auto")
        draw_density(ax, dist, levels=4)
        near_v, near_c = superlevel_polygons(p, (layer, i), fmax - cell.delta * (fmax - fmin))
        ax.add_collection(PolyCollection(geo.split_list(near_v, near_c), facecolor="none",
                                         edgecolor=PALETTE[1], lw=1.2, label="$S_\\delta$"))
        pts = a["fv_points"][0][n]
        ax.scatter(pts[:, 0], pts[:, 1], marker="x", s=14, color=PALETTE[5], lw=0.9,
                   label="FV results", zorder=4)
        vals = p.evaluate(a["X"], layer)[:, i]
        top = np.argsort(-vals, kind="stable")[: cell.top_k]
        ax.scatter(a["X"][top, 0], a["X"][top, 1], s=10, color=PALETTE[2], edgecolor="white",
                   lw=0.3, label=f"top-{cell.top_k} examples", zorder=4)
        am = a["argmax"][0][n]
        ax.scatter([am[0]], [am[1]], marker="*", s=60, color=PALETTE[6], edgecolor="black",
                   lw=0.4, label="exact argmax", zorder=5, clip_on=False)
        set_box(ax, dist.domain)
        ax.set_title(f"neuron ({layer}, {i}): "
                     + ("FV found max" if a["fv_found"][0][n] else "FV missed max"))
    axes[0, -1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Success rates per cell, gap distributions, and example neurons."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_success(result), out / "success")
    paths += save(plot_gaps(result), out / "gaps")
    paths += save(plot_examples(result, config), out / "examples")
    return paths
