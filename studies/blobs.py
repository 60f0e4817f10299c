"""Study ``blobs``: what does an ensemble of small ReLU nets learn on three Gaussian blobs?

Question. Three well-separated isotropic Gaussian classes on a circle: how close do
independently initialised 2-16-16-3 ReLU networks come to the Bayes classifier, and how many
linear regions do they use where the data lives?

Method. Every seed draws its own training sample from ``toylab.data.blobs(3)`` and its own
initialisation (He weights, ``N(0, 1)`` biases, so first-layer folds do not all start through
the origin, where the three Bayes boundaries meet); the seeds train as one cell of the study
harness (Adam, full batch). For every
seed, the exact linear-region partition over a box holding all but 1e-12 of the probability
mass gives the exact population accuracy, excess risk over the Bayes classifier and region
counts (``toylab.exact``; no sampling). Null: the same seeds' initial networks.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.figure import Figure

from toylab import exact
from toylab.exact import population
from toylab.plots.data import draw_bayes_boundary, draw_density, draw_samples, set_box
from toylab.plots.exact import LEARNED_STYLE, plot_neuron_grid, plot_regions
from toylab.plots.style import figure
from toylab.plots.training import plot_curves
from toylab.results import StudyResult, progress
from toylab.models import apply
from toylab.study import (Context, EnsembleConfig, Representative, TrainCell, World,
                          config_from_dict, headline, kept_members, load_layers)
from toylab.train import TrainConfig

NAME = "blobs"
DESCRIPTION = "Ensemble of 2-16-16-3 ReLU nets on 3 Gaussian blobs: exact boundaries, neurons, regions"

MEMBER_STATS = ("population_accuracy", "excess_risk", "error_bound", "n_regions_domain",
                "n_regions_mass99")
"""Exact per-member statistics, stored as arrays (final and, with prefix ``init_``, initial)."""


@dataclass(frozen=True)
class Config(EnsembleConfig):
    """Settings of the ``blobs`` study."""

    world: World = World("blobs", (("k", 3), ("radius", 3.0), ("std", 0.6)))
    train: TrainConfig = TrainConfig(widths=(2, 16, 16, 3), optimizer="adam",
                                     learning_rate=1e-2, steps=2000, snapshot_every=100,
                                     bias_init="normal", bias_std=1.0)
    n_test: int = 20_000

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: finishes in well under a minute."""
        return cls(n_train=256, train=replace(cls.train, steps=300), seeds=4)


def exact_stats(layers, activation: str, dist) -> dict:
    """Exact population statistics of one network."""
    p = population.population_partition(layers, dist, activation=activation)
    acc = population.population_accuracy(p, dist)
    return {
        "population_accuracy": acc.value,
        "excess_risk": population.excess_risk(p, dist).value,
        "error_bound": acc.error_bound,
        "n_regions_domain": len(exact.partition(layers, dist.domain, activation=activation)),
        "n_regions_mass99": population.regions_carrying(p, dist, 0.99),
    }


def analyse(cell: TrainCell, run) -> tuple[dict, dict]:
    """Exact statistics of every kept member, trained and at initialisation."""
    dist = cell.distribution()
    activation = cell.train.activation
    arrays = {}
    for prefix, net_of in (("", run.member), ("init_", lambda i: run.snapshot(i, 0))):
        rows = [exact_stats([(np.float64(W), np.float64(b)) for W, b in net_of(i)],
                            activation, dist)
                for i in progress(range(len(run.seeds)), desc=f"exact partitions {prefix}")]
        for key in MEMBER_STATS:
            arrays[prefix + key] = np.array([r[key] for r in rows])
    return {}, arrays


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train the ensemble (one cell) and summarise its exact statistics over kept seeds."""
    result = ctx.train_cells([config.cell()], analyse)[0]
    a, kept = result.arrays, kept_members(result)
    dist = config.world.distribution()
    test = dist.sample(config.data_seed + 10_007, config.n_test)
    test_acc = [float(np.mean(np.argmax(apply(load_layers(result, i), test.X,
                                              config.train.activation), -1) == test.y))
                for i in kept]
    summary = {
        "bayes_error": dist.bayes_error(),
        "seeds": config.seeds,
        "diverged": result.summary["diverged"],
        "population_accuracy": headline(a["population_accuracy"][kept],
                                        null=a["init_population_accuracy"][kept]),
        "excess_risk": headline(a["excess_risk"][kept], null=a["init_excess_risk"][kept]),
        "n_regions_domain": headline(a["n_regions_domain"][kept],
                                     null=a["init_n_regions_domain"][kept]),
        "n_regions_mass99": headline(a["n_regions_mass99"][kept],
                                     null=a["init_n_regions_mass99"][kept]),
        "test_accuracy": headline(test_acc),
        "final_train_accuracy": headline(a["final_accuracy"][kept]),
        "error_bound_max": float(a["error_bound"][kept].max()) if kept else None,
    }
    return summary, dict(a)


def plot_boundaries(result: StudyResult, config: Config):
    """Data, density and Bayes boundary with every kept seed's exact learned boundary."""
    dist = config.world.distribution()
    box = dist.domain
    kept = kept_members(result)
    X, y = config.cell().training_data()
    fig, ax = figure(aspect=0.75)
    draw_density(ax, dist, box)
    draw_samples(ax, X[kept[0]], y[kept[0]], n_classes=dist.n_classes, size=2.5)
    for n, member in enumerate(kept):
        p = exact.partition(load_layers(result, member), box, activation=config.train.activation)
        ax.plot(*_polyline_xy(exact.decision_boundary(p)), color=LEARNED_STYLE["color"],
                alpha=0.6, linewidth=0.8, label="learned (one per seed)" if n == 0 else None)
    draw_bayes_boundary(ax, dist, box)
    set_box(ax, box)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6, frameon=False,
              markerscale=2)
    ax.set_title(f"{len(kept)} seeds, exact learned vs Bayes boundary")
    return fig


def _polyline_xy(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments ``(s, 2, 2)`` as x/y arrays separated by NaN, for one ``ax.plot`` call."""
    gap = np.full((len(segments), 1, 2), np.nan)
    pts = np.concatenate([segments, gap], axis=1).reshape(-1, 2)
    return pts[:, 0], pts[:, 1]


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Boundaries across seeds, one seed's neurons with exact folds, and training curves."""
    dist = config.world.distribution()
    kept = kept_members(result)
    p = exact.partition(load_layers(result, kept[0]), dist.domain,
                        activation=config.train.activation)
    curves = plot_curves(result.arrays["loss"][kept], result.arrays["accuracy"][kept],
                         bayes_error=result.summary["bayes_error"])
    return {"boundaries": plot_boundaries(result, config), "neurons": plot_neuron_grid(p),
            "regions": plot_regions(p), "curves": curves}


def representatives(result: StudyResult) -> list[Representative]:
    """The first three kept seeds, for ``toylab export blobs``."""
    config = config_from_dict(Config, result.config)
    return [Representative(f"seed{int(result.arrays['seeds'][i])}", load_layers(result, i),
                           config.world.distribution(), config.train.activation)
            for i in kept_members(result)[:3]]
