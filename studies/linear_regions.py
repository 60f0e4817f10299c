"""Study ``linear-regions``: how many linear regions do small ReLU nets have, where the data
is, and how does that depend on the number of neurons and on depth?

Question. Hanin & Rolnick (2019, "Complexity of linear regions in deep networks"; "Deep
ReLU networks have surprisingly few activation patterns") prove that at initialisation the
expected number of regions per unit volume grows like ``(#neurons)^{n_0}`` (``n_0 = 2``
here) -- with the *total* number of neurons, not exponentially with depth, although the
maximal number (Serra et al. 2018) does grow exponentially with depth. Do exact counts of
2-D networks agree, at initialisation and during training, in the whole data domain and in
the region carrying 99% of the probability?

Method. Fix the total number of hidden neurons ``N`` and split it evenly over 1, 2 or 3
hidden layers. (i) Initialisation: networks with He-normal weights and ``N(0, 1)`` biases
(Hanin & Rolnick's setting; the library's own init has zero biases, which sends every
first-layer line through the origin), several seeds per cell; (ii) training: ensembles trained
on ``toylab.data.xor`` with the library's init, region counts at every snapshot of
``train_ensemble``. Counts are exact (``toylab.exact.partition`` over ``dist.domain``;
``regions_carrying`` for the fewest regions holding 99% of the mass). The exponent ``k`` of
``count ~ N^k`` is a least-squares fit in log-log space over all seeds.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.ticker import NullLocator

from toylab import data
from toylab.compare.regions import hanin_rolnick_network, power_law, region_count, serra_bound
from toylab.exact import partition
from toylab.plots import save
from toylab.plots.data import set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.plots.training import spread_band
from toylab.results import StudyResult, cached_run, progress, results_root
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "linear-regions"
DESCRIPTION = "Exact linear-region counts vs neurons and depth, at init and during training (Hanin & Rolnick 2019)"

COUNTS = ("domain", "mass")
"""The two counts per network: regions meeting ``dist.domain``; fewest regions carrying
``Config.mass_level`` of the probability."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``linear-regions`` study."""

    distribution: str = "xor"
    totals: tuple[int, ...] = (12, 24, 48)
    depths: tuple[int, ...] = (1, 2, 3)
    bias_std: float = 1.0
    init_seeds: int = 8
    train_totals: tuple[int, ...] = (12, 24, 48)
    train_depths: tuple[int, ...] = (1, 2, 3)
    n_train: int = 512
    data_seed: int = 0
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 300
    snapshot_every: int = 20
    mass_level: float = 0.99
    seeds: int = 4

    def __post_init__(self):
        for total in self.totals + self.train_totals:
            for depth in self.depths + self.train_depths:
                if total % depth:
                    raise ValueError(
                        f"totals/train_totals entry {total} is not divisible by depth {depth}; "
                        "each total must split evenly over every depth"
                    )

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (a few seconds): one trained architecture."""
        return cls(totals=(4, 8, 16), depths=(1, 2), init_seeds=2, train_totals=(8,),
                   train_depths=(2,), n_train=128, steps=200, snapshot_every=100, seeds=2)

    def distribution_(self) -> data.GaussianMixture:
        return data.make(self.distribution)

    def widths(self, total: int, depth: int) -> tuple[int, ...]:
        n_classes = self.distribution_().n_classes
        return (2,) + (total // depth,) * depth + (n_classes,)


@dataclass(frozen=True)
class TrainCell:
    """One trained architecture: the cache key of a sweep cell (``cached_run``)."""

    distribution: str
    widths: tuple[int, ...]
    n_train: int
    data_seed: int
    activation: str
    optimizer: str
    learning_rate: float
    steps: int
    snapshot_every: int
    mass_level: float
    seeds: int


def _count(net, dist, activation: str, mass_level: float) -> tuple[int, int]:
    c = region_count(net, dist, activation=activation, mass_level=mass_level)
    return c.domain, c.mass


def compute_train_cell(cell: TrainCell) -> tuple[dict, dict]:
    """Train one architecture; exact region counts at every snapshot of every kept seed."""
    dist = data.make(cell.distribution)
    train_set = dist.sample(cell.data_seed, cell.n_train)
    seeds = np.arange(cell.seeds)
    config = TrainConfig(widths=cell.widths, activation=cell.activation,
                         optimizer=cell.optimizer, learning_rate=cell.learning_rate,
                         steps=cell.steps, snapshot_every=cell.snapshot_every)
    run = train_ensemble(train_set.X, train_set.y, seeds, config=config,
                         on_divergence="report", progress=True)
    bad = sorted(seed for seed, _ in diverged_seeds(run))
    kept = [i for i, s in enumerate(seeds) if s not in bad]
    steps = run.snapshot_steps
    counts = np.array([[_count(to_float64(run.snapshot(i, t)), dist, cell.activation,
                               cell.mass_level) for t in range(len(steps))]
                       for i in progress(kept, desc=f"counting {cell.widths}")], int)
    summary = {"diverged": bad, "final_accuracy": run.final_accuracy[kept].tolist()}
    arrays = {"counts": counts.reshape(len(kept), len(steps), 2), "steps": steps,
              "kept": np.asarray(kept)}
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W[kept[:1]], b[kept[:1]]
    for depth, (W, b) in enumerate(run.snapshots):
        arrays[f"init_W{depth}"], arrays[f"init_b{depth}"] = W[kept[:1], 0], b[kept[:1], 0]
    return summary, arrays


def _init_counts(config: Config, dist) -> np.ndarray:
    """``(totals, depths, init_seeds, 2)`` exact counts of Hanin-Rolnick-initialised nets."""
    out = np.zeros((len(config.totals), len(config.depths), config.init_seeds, 2), int)
    cells = [(a, b) for a in range(len(config.totals)) for b in range(len(config.depths))]
    for a, b in progress(cells, desc="counting at init"):
        widths = config.widths(config.totals[a], config.depths[b])
        for s in range(config.init_seeds):
            net = hanin_rolnick_network(s, widths, bias_std=config.bias_std)
            out[a, b, s] = _count(net, dist, config.activation, config.mass_level)
    return out


def _fits(totals, counts) -> dict:
    """Power-law exponent of ``count ~ N^k`` per depth and count kind, fitted over seeds.

    Args:
        totals: ``(T,)``; counts: ``(T, D, S, 2)``.
    """
    x = np.repeat(np.asarray(totals, float), counts.shape[2])
    out = {}
    for kind, name in enumerate(COUNTS):
        fits = [power_law(x, counts[:, d, :, kind].ravel()) for d in range(counts.shape[1])]
        out[name] = {"exponent": [f.exponent for f in fits],
                     "prefactor": [f.prefactor for f in fits],
                     "exponent_stderr": [f.exponent_stderr for f in fits],
                     "r2": [f.r2 for f in fits]}
    return out


def compute(config: Config) -> tuple[dict, dict]:
    """Counts at Hanin-Rolnick init over (totals x depths) and during training per cell."""
    dist = config.distribution_()
    init = _init_counts(config, dist)
    area = float(np.prod(np.diff(dist.domain, axis=1)))
    arrays = {"init_counts": init, "totals": np.asarray(config.totals),
              "depths": np.asarray(config.depths)}
    train = {}
    for total in config.train_totals:
        for depth in config.train_depths:
            cell = TrainCell(config.distribution, config.widths(total, depth), config.n_train,
                             config.data_seed, config.activation, config.optimizer,
                             config.learning_rate, config.steps, config.snapshot_every,
                             config.mass_level, config.seeds)
            result, _ = cached_run(f"{NAME}/train-cell", cell, compute_train_cell,
                                   out=results_root())
            key = f"N{total}_L{depth}"
            train[key] = result.summary
            for name, value in result.arrays.items():
                arrays[f"{key}__{name}"] = value
    median = np.median(init, axis=2)  # (T, D, 2)
    summary = {
        "seeds": config.seeds,
        "diverged": sorted({s for v in train.values() for s in v["diverged"]}),
        "domain_area": area,
        "init": {
            "fit": _fits(config.totals, init),
            "median_count": {name: median[..., k].tolist() for k, name in enumerate(COUNTS)},
            "deepest_over_shallowest": {
                name: (median[:, -1, k] / median[:, 0, k]).tolist()
                for k, name in enumerate(COUNTS)},
            "serra_bound": [[serra_bound(config.widths(t, d)) for d in config.depths]
                            for t in config.totals],
        },
        "training": {
            key: {
                name: {"init_median": float(np.median(arrays[f"{key}__counts"][:, 0, k])),
                       "final_median": float(np.median(arrays[f"{key}__counts"][:, -1, k])),
                       "max_median": float(np.median(arrays[f"{key}__counts"][:, :, k].max(1))),
                       "final_range": [int(arrays[f"{key}__counts"][:, -1, k].min()),
                                       int(arrays[f"{key}__counts"][:, -1, k].max())]}
                for k, name in enumerate(COUNTS)}
            | {"final_accuracy_median": float(np.median(v["final_accuracy"]))}
            for key, v in train.items()
        },
    }
    if len(config.train_totals) >= 3:
        final = np.array([[np.median(arrays[f"N{t}_L{d}__counts"][:, -1, :], 0)
                           for d in config.train_depths] for t in config.train_totals])
        summary["training"]["final_fit"] = {
            name: [power_law(config.train_totals, final[:, d, k]).exponent
                   for d in range(len(config.train_depths))]
            for k, name in enumerate(COUNTS)}
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


def plot_counts(result: StudyResult, config: Config):
    """Exact counts at Hanin-Rolnick init vs total neurons, per depth, with power-law fits
    and Serra et al.'s maximal count."""
    a, s = result.arrays, result.summary
    init = a["init_counts"]
    totals = np.asarray(config.totals, float)
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.85)
    for k, (name, title) in enumerate(zip(COUNTS, ("(a) regions in the data domain",
                                                   f"(b) regions carrying {config.mass_level:.0%} of the mass"))):
        ax = axes[0, k]
        for d, depth in enumerate(config.depths):
            q = np.quantile(init[:, d, :, k], [0.25, 0.5, 0.75], axis=1)
            fit = s["init"]["fit"][name]
            ax.errorbar(totals * (1 + 0.03 * d), q[1], yerr=[q[1] - q[0], q[2] - q[1]],
                        fmt="o", ms=3, color=PALETTE[d], capsize=2,
                        label=f"{depth} layer{'s' if depth > 1 else ''}: $k$ = "
                              f"{fit['exponent'][d]:.2f} $\\pm$ {fit['exponent_stderr'][d]:.2f}")
            x = np.geomspace(totals.min(), totals.max(), 20)
            ax.plot(x, fit["prefactor"][d] * x ** fit["exponent"][d], color=PALETTE[d], lw=0.8,
                    alpha=0.7)
            if k == 0:
                ax.plot(totals, [serra_bound(config.widths(int(t), depth)) for t in totals],
                        ls="--", lw=0.8, color=PALETTE[d], alpha=0.7)
        if k == 0:
            ax.plot([], [], ls="--", color="0.4", label="max. count (Serra et al. 2018)")
        ax.set(xscale="log", yscale="log", xlabel="total hidden neurons $N$",
               ylabel="number of linear regions (exact)", title=title)
        ax.set_xticks(totals, [str(int(t)) for t in totals], minor=False)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.legend(fontsize=6)
    return fig


def plot_training(result: StudyResult, config: Config):
    """Exact counts during training, median and spread across seeds, per architecture."""
    a = result.arrays
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.85)
    styles = ("-", "--", ":")
    for k, name in enumerate(COUNTS):
        ax = axes[0, k]
        for t, total in enumerate(config.train_totals):
            for d, depth in enumerate(config.train_depths):
                key = f"N{total}_L{depth}"
                counts = a[f"{key}__counts"][:, :, k]
                spread_band(ax, a[f"{key}__steps"], counts, color=PALETTE[d],
                            label=f"N = {total}, {depth} layer{'s' if depth > 1 else ''}")
                ax.lines[-1].set_linestyle(styles[t % len(styles)])
        ax.set(yscale="log", xlabel="training step",
               ylabel="number of linear regions (exact)",
               title=("(a) data domain" if k == 0 else
                      f"(b) regions carrying {config.mass_level:.0%} of the mass"))
        if k == 0:
            ax.legend(fontsize=5, ncol=1)
    return fig


def _draw_partition(ax, net, config: Config, dist, title: str) -> None:
    p = partition(net, dist.domain, activation=config.activation)
    rng = np.random.default_rng(0)
    ax.add_collection(PolyCollection(p.polygons, facecolors=rng.uniform(0.35, 0.95, (len(p), 3)),
                                     edgecolors="black", linewidths=0.25))
    set_box(ax, dist.domain)
    ax.set_title(f"{title}\n{len(p)} regions")


def plot_partitions(result: StudyResult, config: Config):
    """One network's exact regions: Hanin-Rolnick init, the library's zero-bias init, trained."""
    a = result.arrays
    dist = config.distribution_()
    total, depth = config.train_totals[-1], config.train_depths[-1]
    key = f"N{total}_L{depth}"
    n_layers = depth + 1
    trained = [(a[f"{key}__W{l}"][0].astype(float), a[f"{key}__b{l}"][0].astype(float))
               for l in range(n_layers)]
    zero_bias = [(a[f"{key}__init_W{l}"][0].astype(float), a[f"{key}__init_b{l}"][0].astype(float))
                 for l in range(n_layers)]
    hr = hanin_rolnick_network(0, config.widths(total, depth), bias_std=config.bias_std)
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=0.95)
    for ax, net, title in zip(axes[0], (hr, zero_bias, trained),
                              ("(a) init, N(0,1) biases", "(b) init, zero biases",
                               f"(c) trained {config.steps} steps")):
        _draw_partition(ax, net, config, dist, title)
    fig.suptitle(f"{'-'.join(map(str, config.widths(total, depth)))} ReLU net on "
                 f"{config.distribution}", fontsize=8)
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Counts vs neurons and depth at init, counts during training, example partitions."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_counts(result, config), out / "counts_vs_neurons")
    paths += save(plot_training(result, config), out / "training")
    paths += save(plot_partitions(result, config), out / "partitions")
    return paths
