"""Study ``tiny-subspace``: does gradient descent happen in a tiny subspace for tiny nets?

Question. Gur-Ari, Roberts & Dyer (2018, arXiv 1812.04754) report that after a short initial
phase the gradient lies mostly in the span of the top ``k`` Hessian eigenvectors, ``k`` the
number of classes, and that this subspace barely changes afterwards; Papyan (2019) traces
the ``k``-ish Hessian outliers to class-mean gradient directions. Do these hold for 2-D
Gaussian-blob problems with ``k`` in {2, 3, 5, 10} classes, well separated and overlapping,
for small ReLU and tanh MLPs trained with full-batch GD, minibatch SGD and Adam? How many
outliers separate from the bulk as ``k`` grows, and which neurons carry the top subspace?

Method. For every (data set, k, activation, optimizer) train an ensemble of seeds
(``toylab.train``); at every parameter snapshot recompute the exact float64 Hessian of the
full training loss (``toylab.landscape``), its top-``k`` eigenspace, the full-batch
gradient's overlap ``|P_k g|^2 / |g|^2`` with it, and the overlap of each snapshot's top
subspace with the final one (mean squared cosine of principal angles). At the end of
training: the full spectrum and its outlier count (largest log-gap rule,
``toylab.landscape.count_outliers``), and the attribution of the top-``k`` subspace to
neurons through the diagonal of its projector (``toylab.landscape.subspace_mass``).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

import toylab.landscape as L
from toylab import data
from toylab.models import flatten, to_float64
from toylab.plots import save
from toylab.plots.landscape import plot_neuron_heatmap, plot_overlap, plot_spectrum
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, progress
from toylab.train import TrainConfig, diverged_seeds, train_ensemble

NAME = "tiny-subspace"
DESCRIPTION = ("Hessian outliers vs number of classes; gradient in the top-k subspace "
               "(Gur-Ari et al. 2018) across optimizers; neurons carrying it")

CARRIER_FRACTION = 0.9
"""Neurons carrying this fraction of the top-k subspace's mass are its 'carriers'."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``tiny-subspace`` study."""

    datasets: tuple[str, ...] = ("blobs", "overlapping_blobs")
    ks: tuple[int, ...] = (2, 3, 5, 10)
    activations: tuple[str, ...] = ("relu", "tanh")
    optimizers: tuple[str, ...] = ("gd", "sgd", "adam")
    hidden: tuple[int, ...] = (12, 12)
    n_train: int = 512
    data_seed: int = 0
    steps: int = 2000
    snapshot_every: int = 200
    gd_learning_rate: float = 0.1
    sgd_learning_rate: float = 0.05
    sgd_batch_size: int = 32
    adam_learning_rate: float = 0.01
    max_outliers: int = 20
    seeds: int = 5

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (two compiled training programs; well under a minute)."""
        return cls(datasets=("blobs",), ks=(2, 3), activations=("relu",), optimizers=("gd",),
                   hidden=(8, 8), n_train=128, steps=100, snapshot_every=50, seeds=2)

    def __post_init__(self):
        for name, table in (("optimizers", OPTIMIZERS), ("datasets", data.DISTRIBUTIONS)):
            unknown = set(getattr(self, name)) - set(table)
            if unknown:
                raise ValueError(f"{name}={getattr(self, name)!r} has unknown {sorted(unknown)}; "
                                 f"choose from {sorted(table)}")
        if any(int(k) != k or k < 2 for k in self.ks):
            raise ValueError(f"ks={self.ks!r} must be class counts >= 2")

    def train_config(self, k: int, activation: str, optimizer: str) -> TrainConfig:
        return TrainConfig(widths=(2, *self.hidden, k), activation=activation,
                           steps=self.steps, snapshot_every=self.snapshot_every,
                           **OPTIMIZERS[optimizer](self))


OPTIMIZERS: dict[str, Callable[[Config], dict]] = {
    "gd": lambda c: dict(optimizer="sgd", learning_rate=c.gd_learning_rate, batch_size=None),
    "sgd": lambda c: dict(optimizer="sgd", learning_rate=c.sgd_learning_rate,
                          batch_size=c.sgd_batch_size),
    "adam": lambda c: dict(optimizer="adam", learning_rate=c.adam_learning_rate,
                           batch_size=None),
}
"""Study optimizer name -> :class:`toylab.train.TrainConfig` fields: full-batch gradient
descent, minibatch SGD (no momentum), full-batch Adam."""


def setting_key(dataset: str, activation: str, optimizer: str, k: int) -> str:
    """Stable name of one setting, used in array names and the summary table."""
    return f"{dataset}__{activation}__{optimizer}__k{k}"


# ----------------------------------------------------------------------------- compute


def _member(net, X, y, activation: str, k: int, max_outliers: int, snapshots) -> dict:
    """Landscape measurements of one trained seed along its snapshots."""
    traj = L.trajectory_overlap(snapshots, X, y, activation=activation, k=k)
    final = L.eigendecomposition(L.hessian(net, X, y, activation=activation), vectors=False)
    widths = (2,) + tuple(W.shape[1] for W, _ in net)
    top = traj.subspaces[-1]
    mass = L.subspace_mass(top, widths)
    return {
        "overlap": traj.overlap,
        "stability": traj.similarity[:, -1],
        "spectrum": final.eigenvalues,
        "top": top,
        "shares": mass.share,
        "outliers": L.count_outliers(final.eigenvalues, max_count=max_outliers),
        "participation_ratio": mass.participation_ratio,
        "carriers": len(mass.carriers(CARRIER_FRACTION)),
    }


def _setting(config: Config, dataset: str, k: int, activation: str, optimizer: str,
             X, y) -> tuple[dict, dict]:
    """Train one ensemble and measure every kept seed: ``(record, arrays)``."""
    seeds = np.arange(config.seeds)
    run = train_ensemble(X, y, seeds, config=config.train_config(k, activation, optimizer),
                         on_divergence="report")
    bad = {seed for seed, _ in diverged_seeds(run)}
    kept = [i for i, s in enumerate(seeds) if s not in bad]
    T = len(run.snapshot_steps)
    finals = [to_float64(run.member(i)) for i in kept]
    members = [_member(net, X, y, activation, k, config.max_outliers,
                       [to_float64(run.snapshot(i, t)) for t in range(T)])
               for i, net in zip(kept, finals)]
    for m, net in zip(members, finals):
        m["params"] = flatten(net)
    key = setting_key(dataset, activation, optimizer, k)
    arrays = {f"{name}__{key}": np.stack([m[name] for m in members]) if members else np.zeros(0)
              for name in ("overlap", "stability", "spectrum", "top", "shares", "params")}
    median = lambda name: float(np.median([m[name] for m in members])) if members else None
    record = {
        "dataset": dataset, "k": k, "activation": activation, "optimizer": optimizer,
        "diverged": sorted(int(s) for s in bad),
        "outliers": [m["outliers"] for m in members],
        "outliers_median": median("outliers"),
        "overlap_final_median": (float(np.median([m["overlap"][-1] for m in members]))
                                 if members else None),
        "overlap_training_median": (float(np.median([m["overlap"][1:].mean() for m in members]))
                                    if members else None),
        "stability_after_first_snapshot_median": (
            float(np.median([m["stability"][1] for m in members])) if members else None),
        "participation_ratio_median": median("participation_ratio"),
        "carriers_median": median("carriers"),
        "final_loss_median": float(np.median(run.final_loss[kept])) if kept else None,
        "final_accuracy_median": float(np.median(run.final_accuracy[kept])) if kept else None,
    }
    return record, arrays


def _headline(config: Config, records: list[dict]) -> dict:
    """Medians of the primary setting (first data set, first activation) per k / optimizer."""
    dataset, activation = config.datasets[0], config.activations[0]
    primary = [r for r in records if r["dataset"] == dataset and r["activation"] == activation]
    outliers = {str(k): float(np.median(sum((r["outliers"] for r in primary if r["k"] == k), [])
                                        or [np.nan])) for k in config.ks}
    per_opt = lambda field: {opt: {str(r["k"]): r[field] for r in primary if r["optimizer"] == opt}
                             for opt in config.optimizers}
    neurons = {str(k): {
        "participation_ratio_median": float(np.median(
            [r["participation_ratio_median"] for r in primary if r["k"] == k
             and r["participation_ratio_median"] is not None] or [np.nan])),
        "carriers_median": float(np.median(
            [r["carriers_median"] for r in primary if r["k"] == k
             and r["carriers_median"] is not None] or [np.nan])),
        "neurons": sum(config.hidden) + k,
    } for k in config.ks}
    return {"primary": {"dataset": dataset, "activation": activation},
            "outliers": outliers, "overlap": per_opt("overlap_final_median"),
            "overlap_training": per_opt("overlap_training_median"), "neurons": neurons}


def compute(config: Config) -> tuple[dict, dict]:
    """Train every setting's ensemble and measure Hessian outliers, overlaps and neurons."""
    records, arrays = [], {}
    grid = list(itertools.product(config.datasets, config.ks))
    for dataset, k in progress(grid, desc="data sets x k"):
        sample = data.make(dataset, k=k).sample(config.data_seed, config.n_train)
        for activation, optimizer in itertools.product(config.activations, config.optimizers):
            record, arr = _setting(config, dataset, k, activation, optimizer,
                                   sample.X, sample.y)
            records.append(record)
            arrays.update(arr)
    snapshot_steps = np.arange(0, config.steps + 1, config.snapshot_every)
    arrays["snapshot_steps"] = snapshot_steps
    summary = {
        **_headline(config, records),
        "settings": {"datasets": list(config.datasets), "ks": list(config.ks),
                     "activations": list(config.activations),
                     "optimizers": list(config.optimizers), "hidden": list(config.hidden),
                     "n_train": config.n_train, "steps": config.steps, "seeds": config.seeds,
                     "outlier_rule": f"largest log-gap among the top {config.max_outliers + 1}"},
        "by_setting": records,
    }
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_outliers_vs_k(result: StudyResult, config: Config):
    """Outlier count of the final Hessian vs k: every seed (dots) and medians (lines), one
    panel per data set, one colour per activation/optimizer; dashed: ``k`` and ``k - 1``."""
    fig, axes = figure(1, len(config.datasets), width=PAGE_WIDTH * 0.4 * len(config.datasets),
                       aspect=0.8)
    axes = np.asarray(axes).reshape(1, -1)
    ks = np.array(config.ks)
    combos = list(itertools.product(config.activations, config.optimizers))
    for ax, dataset in zip(axes[0], config.datasets):
        for n, (color, (activation, optimizer)) in enumerate(zip(itertools.cycle(PALETTE), combos)):
            counts = [[r["outliers"] for r in result.summary["by_setting"]
                       if (r["dataset"], r["activation"], r["optimizer"], r["k"])
                       == (dataset, activation, optimizer, k)][0] for k in config.ks]
            offset = (n - (len(combos) - 1) / 2) * 0.12
            for k, c in zip(ks, counts):
                ax.scatter(np.full(len(c), k + offset), c, s=6, color=color, alpha=0.6)
            ax.plot(ks, [np.median(c) if c else np.nan for c in counts], color=color,
                    marker="o", markersize=3, label=f"{activation}, {optimizer}")
        ax.plot(ks, ks, **dict(color="black", linestyle="--", linewidth=0.8), label="k")
        ax.plot(ks, ks - 1, **dict(color="grey", linestyle=":", linewidth=0.8), label="k - 1")
        ax.set(xlabel="number of classes k", ylabel="Hessian outliers at end",
               title=dataset.replace("_", " "))
        ax.set_xticks(ks, [str(k) for k in ks])
    axes[0, -1].legend(fontsize=5, loc="upper left")
    return fig


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Outliers vs k; spectra; overlap and top-subspace stability vs step across seeds and
    optimizers; neuron x eigenvector participation (primary setting, first kept seed)."""
    config = _config_of(result)
    a, out = result.arrays, Path(out)
    steps = a["snapshot_steps"]
    dataset, activation = config.datasets[0], config.activations[0]
    optimizer = config.optimizers[0]
    paths = save(plot_outliers_vs_k(result, config), out / "outliers_vs_k")
    for k in config.ks:
        key = setting_key(dataset, activation, optimizer, k)
        if a[f"spectrum__{key}"].size == 0:
            continue  # every seed diverged
        spectrum = a[f"spectrum__{key}"][0]
        paths += save(plot_spectrum(spectrum, n_outliers=L.count_outliers(
            spectrum, max_count=config.max_outliers)), out / f"spectrum_{dataset}_k{k}")
        widths = (2, *config.hidden, k)
        neurons, _, _ = L.neuron_table(widths)
        top = a[f"top__{key}"][0]
        paths += save(plot_neuron_heatmap(L.neuron_shares(top, widths), neurons),
                      out / f"neurons_{dataset}_k{k}")
    for dataset_, k in itertools.product(config.datasets, config.ks):
        panels = [{opt: a[f"overlap__{setting_key(dataset_, act, opt, k)}"]
                   for opt in config.optimizers
                   if a[f"overlap__{setting_key(dataset_, act, opt, k)}"].size}
                  for act in config.activations]
        fig = plot_overlap(steps, panels, titles=[f"{dataset_.replace('_', ' ')}, k = {k}, {act}"
                                                  for act in config.activations],
                           ylabel=f"gradient overlap with top-{k} subspace")
        paths += save(fig, out / f"overlap_{dataset_}_k{k}")
    stability = {f"k = {k}": a[f"stability__{setting_key(dataset, activation, optimizer, k)}"]
                 for k in config.ks}
    fig = plot_overlap(steps, {g: c for g, c in stability.items() if c.size},
                       ylabel="overlap of top-k subspace with final")
    paths += save(fig, out / "stability")
    return paths
