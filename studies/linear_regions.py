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
on ``toylab.data.xor`` from the same kind of init (He weights, ``N(0, 1)`` biases: with zero
biases every fold would start through the origin, where XOR's Bayes lines cross, and the
initial count would be ``2 N``), region counts at every snapshot of ``train_ensemble``. Counts are exact (``toylab.exact.partition`` over ``dist.domain``;
``regions_carrying`` for the fewest regions holding 99% of the mass). The exponent ``k`` of
``count ~ N^k`` is a least-squares fit in log-log space over all seeds.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from toylab.compare.regions import hanin_rolnick_network, region_count, serra_bound
from toylab.exact import partition
from toylab.plots.data import set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.plots.training import spread_band
from toylab.results import StudyResult, progress
from toylab.study import (Context, TrainCell, World, WorldsConfig, headline, kept_members,
                          load_layers, slope_headline)
from toylab.train import TrainConfig

NAME = "linear-regions"
DESCRIPTION = "Exact linear-region counts vs neurons and depth, at init and during training (Hanin & Rolnick 2019)"

COUNTS = ("domain", "mass")
"""The two counts per network: regions meeting ``dist.domain``; fewest regions carrying
``Config.mass_level`` of the probability."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``linear-regions`` study."""

    world: World = World("xor")
    totals: tuple[int, ...] = (12, 24, 48)
    depths: tuple[int, ...] = (1, 2, 3)
    bias_std: float = 1.0
    init_seeds: int = 20
    train_totals: tuple[int, ...] = (12, 24, 48)
    train_depths: tuple[int, ...] = (1, 2, 3)
    train: TrainConfig = TrainConfig(widths=(2, 12, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=300, snapshot_every=50,
                                     bias_init="normal", bias_std=1.0)
    mass_level: float = 0.99

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
        return cls(totals=(4, 8, 16), depths=(1, 2), init_seeds=3, train_totals=(8,),
                   train_depths=(2,), n_train=128, seeds=3,
                   train=replace(cls.train, steps=200, snapshot_every=100))

    def widths(self, total: int, depth: int) -> tuple[int, ...]:
        n_classes = self.world.distribution().n_classes
        return (2,) + (total // depth,) * depth + (n_classes,)

    def cell(self, total: int, depth: int) -> TrainCell:
        return self.cell_in(self.world, replace(self.train, widths=self.widths(total, depth)))


def _count(net, dist, activation: str, mass_level: float) -> tuple[int, int]:
    c = region_count(net, dist, activation=activation, mass_level=mass_level)
    return c.domain, c.mass


def analyse(cell: TrainCell, run, mass_level: float) -> tuple[dict, dict]:
    """Exact region counts ``(S, snapshots, 2)`` of every member at every snapshot (``-1`` for
    diverged members)."""
    dist = cell.distribution()
    steps = run.snapshot_steps
    counts = np.full((cell.seeds, len(steps), 2), -1, int)
    for i in progress([i for i in range(cell.seeds) if np.isfinite(run.final_loss[i])],
                      desc=f"counting {cell.train.widths}"):
        for t in range(len(steps)):
            net = [(np.float64(W), np.float64(b)) for W, b in run.snapshot(i, t)]
            counts[i, t] = _count(net, dist, cell.train.activation, mass_level)
    return {}, {"counts": counts, "steps": steps}


def _init_counts(config: Config, dist) -> np.ndarray:
    """``(totals, depths, init_seeds, 2)`` exact counts of Hanin-Rolnick-initialised nets."""
    out = np.zeros((len(config.totals), len(config.depths), config.init_seeds, 2), int)
    cells = [(a, b) for a in range(len(config.totals)) for b in range(len(config.depths))]
    for a, b in progress(cells, desc="counting at init"):
        widths = config.widths(config.totals[a], config.depths[b])
        for s in range(config.init_seeds):
            net = hanin_rolnick_network(s, widths, bias_std=config.bias_std)
            out[a, b, s] = _count(net, dist, config.train.activation, config.mass_level)
    return out


def _exponents(totals, counts: np.ndarray) -> dict:
    """Exponent ``k`` of ``count ~ N^k`` per depth and count kind: a log-log slope fitted per
    seed (seed ``s`` is one network per total), as a headline with its bootstrap interval.

    Args:
        totals: ``(T,)``; counts: ``(T, D, S, 2)``.
    """
    return {name: [slope_headline(totals, counts[:, d, :, kind].T, log=True)
                   for d in range(counts.shape[1])] for kind, name in enumerate(COUNTS)}


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Counts at Hanin-Rolnick init over (totals x depths) and during training per cell."""
    dist = config.world.distribution()
    init = _init_counts(config, dist)
    arrays = {"init_counts": init, "totals": np.asarray(config.totals),
              "depths": np.asarray(config.depths)}
    archs = [(t, d) for t in config.train_totals for d in config.train_depths]
    results = ctx.train_cells([config.cell(t, d) for t, d in archs],
                              lambda cell, run: analyse(cell, run, config.mass_level),
                              settings={"mass_level": config.mass_level})
    training, diverged = {}, set()
    for (total, depth), result in zip(archs, results):
        key, kept = f"N{total}_L{depth}", kept_members(result)
        counts = result.arrays["counts"][kept]
        arrays[f"{key}__counts"], arrays[f"{key}__steps"] = counts, result.arrays["steps"]
        diverged |= set(result.summary["diverged"])
        training[key] = {
            name: {"final": headline(counts[:, -1, k], null=counts[:, 0, k],
                                     statistic=np.median),
                   "max": headline(counts[:, :, k].max(1), statistic=np.median)}
            for k, name in enumerate(COUNTS)}
        training[key]["final_accuracy"] = headline(result.arrays["final_accuracy"][kept])
        if (total, depth) == archs[-1]:  # the example network of the partitions figure
            for prefix in ("", "init_"):
                for layer, (W, b) in enumerate(load_layers(result, kept[0], prefix=prefix)):
                    arrays[f"example__{prefix}W{layer}"] = W
                    arrays[f"example__{prefix}b{layer}"] = b
    ratio = init[:, -1] / np.maximum(init[:, 0], 1)  # (T, S, 2) deepest / shallowest
    summary = {
        "seeds": config.seeds,
        "diverged": sorted(diverged),
        "domain_area": float(np.prod(np.diff(dist.domain, axis=1))),
        "init": {
            "exponent": _exponents(config.totals, init),
            "median_count": {name: np.median(init[..., k], axis=2).tolist()
                             for k, name in enumerate(COUNTS)},
            "deepest_over_shallowest": {
                name: [headline(ratio[t, :, k], statistic=np.median)
                       for t in range(len(config.totals))]
                for k, name in enumerate(COUNTS)},
            "serra_bound": [[serra_bound(config.widths(t, d)) for d in config.depths]
                            for t in config.totals],
        },
        "training": training,
    }
    if len(config.train_totals) >= 3:
        final = np.stack([[results[archs.index((t, d))].arrays["counts"][:, -1]
                           for d in config.train_depths] for t in config.train_totals])
        finite = np.all(final[..., 0] >= 0, axis=(0, 1))  # seeds that trained in every cell
        summary["training"]["final_exponent"] = _exponents(config.train_totals,
                                                           final[:, :, finite])
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_counts(result: StudyResult, config: Config):
    """Exact counts at Hanin-Rolnick init vs total neurons, per depth (median and IQR over
    seeds), with the fitted exponent (per-seed log-log slopes: mean and 95% interval) and Serra
    et al.'s maximal count."""
    a, s = result.arrays, result.summary
    init = a["init_counts"]
    totals = np.asarray(config.totals, float)
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.85)
    for k, (name, title) in enumerate(zip(COUNTS, ("(a) regions in the data domain",
                                                   f"(b) regions carrying {config.mass_level:.0%} of the mass"))):
        ax = axes[0, k]
        for d, depth in enumerate(config.depths):
            q = np.quantile(init[:, d, :, k], [0.25, 0.5, 0.75], axis=1)
            exp = s["init"]["exponent"][name][d]
            lo, hi = exp["ci95"]
            ax.errorbar(totals * (1 + 0.03 * d), q[1], yerr=[q[1] - q[0], q[2] - q[1]],
                        fmt="o", ms=3, color=PALETTE[d], capsize=2,
                        label=f"{depth} layer{'s' if depth > 1 else ''}: $k$ = "
                              f"{exp['value']:.2f} [{lo:.2f}, {hi:.2f}]")
            x = np.geomspace(totals.min(), totals.max(), 20)
            prefactor = np.exp(np.mean(np.log(q[1])) - exp["value"] * np.mean(np.log(totals)))
            ax.plot(x, prefactor * x ** exp["value"], color=PALETTE[d], lw=0.8, alpha=0.7)
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
    p = partition(net, dist.domain, activation=config.train.activation)
    rng = np.random.default_rng(0)
    ax.add_collection(PolyCollection(p.polygons, facecolors=rng.uniform(0.35, 0.95, (len(p), 3)),
                                     edgecolors="black", linewidths=0.25))
    set_box(ax, dist.domain)
    ax.set_title(f"{title}\n{len(p)} regions")


def plot_partitions(result: StudyResult, config: Config):
    """One network's exact regions: Hanin-Rolnick init, the library's zero-bias init, trained."""
    a = result.arrays
    dist = config.world.distribution()
    total, depth = config.train_totals[-1], config.train_depths[-1]
    n_layers = depth + 1
    trained = [(a[f"example__W{l}"], a[f"example__b{l}"]) for l in range(n_layers)]
    zero_bias = [(a[f"example__init_W{l}"], a[f"example__init_b{l}"]) for l in range(n_layers)]
    hr = hanin_rolnick_network(0, config.widths(total, depth), bias_std=config.bias_std)
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=0.95)
    for ax, net, title in zip(axes[0], (hr, zero_bias, trained),
                              ("(a) init, N(0,1) biases", "(b) init, zero biases",
                               f"(c) trained {config.train.steps} steps")):
        _draw_partition(ax, net, config, dist, title)
    fig.suptitle(f"{'-'.join(map(str, config.widths(total, depth)))} ReLU net on "
                 f"{config.world.preset}", fontsize=8)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Counts vs neurons and depth at init, counts during training, example partitions."""
    return {"counts_vs_neurons": plot_counts(result, config),
            "training": plot_training(result, config),
            "partitions": plot_partitions(result, config)}
