"""Study ``blobs``: what does an ensemble of small ReLU nets learn on three Gaussian blobs?

Question. Three well-separated isotropic Gaussian classes on a circle: how close do
independently initialised 2-16-16-3 ReLU networks come to the Bayes classifier, how much do
their decision boundaries and hidden neurons differ across seeds, and how many linear regions
do they use where the data lives?

Method. Sample a training set from ``toylab.data.blobs(3)``; train an ensemble of seeds in one
compiled call (Adam, full batch); for every seed compute the exact linear-region partition over
a box holding all but 1e-12 of the probability mass, and from it the exact population accuracy,
excess risk over the Bayes classifier and region counts (``toylab.exact``; no sampling).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from toylab import data, exact
from toylab.exact import population
from toylab.models import apply
from toylab.plots import save
from toylab.plots.data import draw_bayes_boundary, draw_density, draw_samples, set_box
from toylab.plots.exact import LEARNED_STYLE, plot_neuron_grid, plot_regions
from toylab.plots.style import figure
from toylab.plots.training import plot_curves
from toylab.results import StudyResult, progress
from toylab.train import TrainConfig, diverged_seeds, train_ensemble

NAME = "blobs"
DESCRIPTION = "Ensemble of 2-16-16-3 ReLU nets on 3 Gaussian blobs: exact boundaries, neurons, regions"


@dataclass(frozen=True)
class Config:
    """Settings of the ``blobs`` study (all keyword hyperparameters with defaults)."""

    k: int = 3
    radius: float = 3.0
    std: float = 0.6
    n_train: int = 512
    n_test: int = 20_000
    data_seed: int = 0
    widths: tuple[int, ...] = (2, 16, 16, 3)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    snapshot_every: int = 100
    seeds: int = 8

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: finishes in well under a minute."""
        return cls(n_train=256, steps=300, seeds=4)

    def distribution(self) -> data.GaussianMixture:
        return data.blobs(self.k, self.radius, self.std)

    def train_config(self) -> TrainConfig:
        return TrainConfig(widths=self.widths, activation=self.activation,
                           optimizer=self.optimizer, learning_rate=self.learning_rate,
                           steps=self.steps, snapshot_every=self.snapshot_every)


def _exact_member(layers, activation: str, dist) -> dict:
    """Exact population statistics of one trained network."""
    p = population.population_partition(layers, dist, activation=activation)
    acc = population.population_accuracy(p, dist)
    in_domain = exact.partition(layers, dist.domain, activation=activation)
    return {
        "population_accuracy": acc.value,
        "excess_risk": population.excess_risk(p, dist).value,
        "error_bound": acc.error_bound,
        "n_regions_domain": len(in_domain),
        "n_regions_mass99": population.regions_carrying(p, dist, 0.99),
    }


def compute(config: Config) -> tuple[dict, dict]:
    """Train the ensemble and compute exact population statistics per seed."""
    dist = config.distribution()
    train_set = dist.sample(config.data_seed, config.n_train)
    test_set = dist.sample(config.data_seed + 1, config.n_test)
    seeds = np.arange(config.seeds)
    run = train_ensemble(train_set.X, train_set.y, seeds, config=config.train_config(),
                         on_divergence="report", progress=True)
    bad = {seed for seed, _ in diverged_seeds(run)}
    kept = [i for i, s in enumerate(seeds) if s not in bad]

    test_acc = [float(np.mean(np.argmax(apply(run.member(i), test_set.X, config.activation), -1)
                              == test_set.y)) for i in kept]
    regions = [_exact_member(run.member(i), config.activation, dist)
               for i in progress(kept, desc="exact partitions")]
    per_seed = {key: [r[key] for r in regions] for key in regions[0]} if regions else {}
    summary = {
        "bayes_error": dist.bayes_error(),
        "seeds": len(seeds),
        "diverged": sorted(int(s) for s in bad),
        "final_train_loss_median": float(np.median(run.final_loss[kept])),
        "final_train_accuracy_median": float(np.median(run.final_accuracy[kept])),
        "test_accuracy_median": float(np.median(test_acc)),
        "population_accuracy_median": float(np.median(per_seed["population_accuracy"])),
        "excess_risk_median": float(np.median(per_seed["excess_risk"])),
        "regions": per_seed,
    }
    arrays = {
        "X": train_set.X, "y": train_set.y, "seeds": seeds, "kept": np.asarray(kept),
        "loss": run.loss, "accuracy": run.accuracy, "snapshot_steps": run.snapshot_steps,
    }
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W, b
    return summary, arrays


def member_layers(result: StudyResult, index: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Final float64 layer list of ensemble member ``index`` from a stored result."""
    n_layers = sum(1 for key in result.arrays if key.startswith("W"))
    return [(result.arrays[f"W{d}"][index].astype(np.float64),
             result.arrays[f"b{d}"][index].astype(np.float64)) for d in range(n_layers)]


def plot_boundaries(result: StudyResult, config: Config):
    """Data, density and Bayes boundary with every kept seed's exact learned boundary."""
    dist = config.distribution()
    box = dist.domain
    fig, ax = figure(aspect=0.75)
    draw_density(ax, dist, box)
    draw_samples(ax, result.arrays["X"], result.arrays["y"], n_classes=dist.n_classes, size=2.5)
    for n, index in enumerate(result.arrays["kept"]):
        p = exact.partition(member_layers(result, index), box, activation=config.activation)
        segments = exact.decision_boundary(p)
        ax.plot(*_polyline_xy(segments), color=LEARNED_STYLE["color"], alpha=0.6, linewidth=0.8,
                label="learned (one per seed)" if n == 0 else None)
    draw_bayes_boundary(ax, dist, box)
    set_box(ax, box)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6, frameon=False,
              markerscale=2)
    ax.set_title(f"{len(result.arrays['kept'])} seeds, exact learned vs Bayes boundary")
    return fig


def _polyline_xy(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments ``(s, 2, 2)`` as x/y arrays separated by NaN, for one ``ax.plot`` call."""
    gap = np.full((len(segments), 1, 2), np.nan)
    pts = np.concatenate([segments, gap], axis=1).reshape(-1, 2)
    return pts[:, 0], pts[:, 1]


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Boundaries across seeds, one seed's neurons with exact folds, and training curves."""
    config = replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in result.config.items()})
    dist = config.distribution()
    first = int(result.arrays["kept"][0])
    p = exact.partition(member_layers(result, first), dist.domain, activation=config.activation)
    paths = save(plot_boundaries(result, config), Path(out) / "boundaries")
    paths += save(plot_neuron_grid(p), Path(out) / "neurons")
    paths += save(plot_regions(p), Path(out) / "regions")
    kept = result.arrays["kept"]
    paths += save(plot_curves(result.arrays["loss"][kept], result.arrays["accuracy"][kept],
                              bayes_error=result.summary["bayes_error"]), Path(out) / "curves")
    return paths
