"""Study ``ablation``: editing a trained network -- what does each neuron, each small weight,
and each weight cluster do, exactly?

Question. When one hidden neuron of a small ReLU net trained on XOR is ablated (zeroed, or
replaced by its exact population mean), how much do the population risk and every
downstream neuron's function change? How much of the long tail of small weights can be
pruned before anything changes? Is the weight graph modular (Filan et al. 2021,
"Clusterability in neural networks"), and do ablation effects stay inside the clusters?

Method. Train an ensemble of 2-12-12-2 ReLU nets (Adam, full batch) on samples of
``toylab.data.xor``. Every edit is an exact edit of the weights
(``toylab.compare.editing``): ablation rewires the neuron's outgoing weights into the next
bias; pruning zeroes every weight with ``|w|`` below a global magnitude threshold. The
population risk of the original and the edited network comes from their exact partitions
(``population_accuracy``); the change of every neuron's function is the exact population L2
distance ``sqrt(E[(f - g)^2])``, computed on the exact partition of one wide "joint" network
holding both networks' neurons side by side, where both are affine on every region and the
squared difference integrates in closed form against Gaussian polygon moments (error bound:
the tail outside a box holding all but 1e-12 of the mass). Modularity: n-cut of a k-way
spectral clustering of the ``|W|`` graph (normalised Laplacian, ``scipy.linalg.eigh`` +
``scipy.cluster.vq.kmeans2``), compared with weight-shuffled networks; ablation effects are
compared inside vs outside the ablated neuron's cluster.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from toylab import data
from toylab.compare.editing import (
    ABLATIONS,
    ablate,
    cluster_alignment,
    clusterability,
    constant_neurons,
    edit_effect,
    hidden_neurons,
    population_risk_of,
    prune,
    pruning_thresholds,
    weight_graph,
)
from toylab.exact.population import population_partition
from toylab.plots import save
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, progress
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "ablation"
DESCRIPTION = "Exact effects of ablating neurons and pruning small weights; weight-graph modularity"

RISK_TOLERANCE = 0.01
"""A pruning level is 'harmless' while the population risk rises by at most this much."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``ablation`` study."""

    distribution: str = "xor"
    n_train: int = 512
    data_seed: int = 0
    widths: tuple[int, ...] = (2, 12, 12, 2)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    snapshot_every: int = 2000
    prune_fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    clusters: int = 4
    shuffles: int = 20
    permutations: int = 200
    seeds: int = 5

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (a few seconds; its training compile is shared with the other
        studies' quick configs)."""
        return cls(n_train=128, widths=(2, 4, 4, 2), steps=200, snapshot_every=100,
                   prune_fractions=(0.0, 0.3, 0.6), clusters=2, shuffles=3, permutations=20,
                   seeds=2)

    def distribution_(self) -> data.GaussianMixture:
        return data.make(self.distribution)

    def train_config(self) -> TrainConfig:
        return TrainConfig(widths=self.widths, activation=self.activation,
                           optimizer=self.optimizer, learning_rate=self.learning_rate,
                           steps=self.steps, snapshot_every=self.snapshot_every)


def _ablations(net, dist, config: Config, risk) -> dict:
    """Every hidden neuron ablated in every mode: risk change ``(M, H)`` and relative L2
    change of every hidden/logit unit ``(M, H, U)`` (NaN for units not downstream)."""
    neurons = hidden_neurons(config.widths)
    p = population_partition(net, dist, activation=config.activation)
    risk_change = np.zeros((len(ABLATIONS), len(neurons)))
    effects = np.full((len(ABLATIONS), len(neurons), sum(config.widths[1:])), np.nan)
    bound = 0.0
    for m, mode in enumerate(ABLATIONS):
        for h, neuron in enumerate(neurons):
            edited = ablate(net, dist, neuron, mode, activation=config.activation, partition=p)
            eff = edit_effect(net, edited, dist, activation=config.activation, risk_before=risk)
            risk_change[m, h] = eff.risk_change
            rel = np.concatenate(eff.distance.relative)
            effects[m, h] = np.where(np.arange(rel.size) >= sum(config.widths[1:neuron[0] + 2]),
                                     rel, np.nan)
            bound = max(bound, max(float(b.max()) for b in eff.distance.sq_bound))
    dead = constant_neurons(p)
    return {"risk_change": risk_change, "effects": effects, "dead": dead, "sq_bound": bound}


def _pruning(net, dist, config: Config, risk) -> dict:
    """Risk change and relative logit change ``(F,)`` at each pruning fraction."""
    thresholds = pruning_thresholds(net, config.prune_fractions)
    risk_change, logit_change = [], []
    for t in thresholds:
        eff = edit_effect(net, prune(net, t), dist,
                          activation=config.activation, risk_before=risk)
        risk_change.append(eff.risk_change)
        d = eff.distance
        logit_change.append(float(np.sqrt(d.sq[-1].sum() / d.norm_sq_a[-1].sum())))
    return {"thresholds": thresholds, "prune_risk": np.array(risk_change),
            "prune_logits": np.array(logit_change)}


def _modularity(net, init, config: Config, seed: int, effects: np.ndarray) -> dict:
    """Clusterability of the trained and the initial net, and whether ablation effects
    (``effects (M, H, U)``) follow the trained net's clusters: the median over ablated neurons
    of the inside/outside effect ratio, against the same statistic with the affected units'
    cluster labels permuted (``permutations`` times; ``alignment_p`` = fraction of
    permutations at least as aligned)."""
    trained = clusterability(net, config.clusters, n_shuffles=config.shuffles, seed=seed)
    at_init = clusterability(init, config.clusters, n_shuffles=config.shuffles, seed=seed)
    units = trained.units
    hidden = (units[:, 0] >= 0) & (units[:, 0] < len(config.widths) - 2)
    targets = units[:, 0] >= 0
    source_labels = trained.labels[hidden]
    target_labels = trained.labels[targets]
    align = np.array([np.nanmedian(cluster_alignment(e, source_labels, target_labels))
                      for e in effects])
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(target_labels) for _ in range(config.permutations)]
    null = np.array([[np.nanmedian(cluster_alignment(e, source_labels, perm)) for perm in perms]
                     for e in effects])  # (M, permutations)
    return {"ncut": trained.ncut, "ncut_z": trained.z_score, "ncut_percentile": trained.percentile,
            "ncut_init": at_init.ncut, "ncut_init_z": at_init.z_score,
            "shuffled": trained.shuffled, "labels": trained.labels,
            "alignment": align, "alignment_null": null,
            "alignment_p": np.mean(null >= align[:, None], axis=1)}


def _seed_result(net, init, dist, config: Config, seed: int) -> dict:
    risk = population_risk_of(net, dist, activation=config.activation)
    out = {"risk": risk[0]}
    out.update(_ablations(net, dist, config, risk))
    out.update(_pruning(net, dist, config, risk))
    out.update(_modularity(net, init, config, seed, out["effects"]))
    return out


def _spread(values) -> dict:
    """Median, quartiles and range of a set of numbers (NaN ignored)."""
    v = np.asarray(values, np.float64).ravel()
    v = v[~np.isnan(v)]
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0]) if v.size else [np.nan] * 5
    return {"median": float(q[2]), "q25": float(q[1]), "q75": float(q[3]),
            "min": float(q[0]), "max": float(q[4]), "n": int(v.size)}


def _harmless_fraction(fractions, risk_change) -> float:
    """Largest pruned fraction up to which every level raised the risk by <= RISK_TOLERANCE."""
    ok = np.asarray(risk_change) <= RISK_TOLERANCE
    last = np.argmin(ok) - 1 if not ok.all() else len(ok) - 1
    return float(np.asarray(fractions)[max(last, 0)])


def compute(config: Config) -> tuple[dict, dict]:
    """Train the ensemble, then ablate, prune and cluster every kept seed exactly."""
    dist = config.distribution_()
    train_set = dist.sample(config.data_seed, config.n_train)
    seeds = np.arange(config.seeds)
    run = train_ensemble(train_set.X, train_set.y, seeds, config=config.train_config(),
                         on_divergence="report", progress=True)
    bad = {seed for seed, _ in diverged_seeds(run)}
    kept = [i for i, s in enumerate(seeds) if s not in bad]
    per_seed = [_seed_result(to_float64(run.member(i)), to_float64(run.snapshot(i, 0)), dist,
                             config, int(seeds[i]))
                for i in progress(kept, desc="ablating seeds")]
    stack = {key: np.array([r[key] for r in per_seed]) for key in per_seed[0]}
    modes = list(ABLATIONS)
    live = ~stack["dead"]  # (S, H)
    n_out = config.widths[-1]
    with np.errstate(invalid="ignore", divide="ignore"):  # dead neurons: 0 / 0, dropped
        mean_over_zero = (stack["effects"][:, 1, :, -n_out:].mean(-1)
                          / stack["effects"][:, 0, :, -n_out:].mean(-1))[live]
    fractions = np.asarray(config.prune_fractions)
    summary = {
        "bayes_error": dist.bayes_error(),
        "seeds": len(seeds),
        "diverged": sorted(int(s) for s in bad),
        "risk": _spread(stack["risk"]),
        "dead_neurons_per_seed": stack["dead"].sum(1).tolist(),
        "function_error_bound_max": float(stack["sq_bound"].max()),
        "ablation": {
            mode: {
                "risk_change": _spread(stack["risk_change"][:, m][live]),
                "max_risk_change_per_seed": stack["risk_change"][:, m].max(1).tolist(),
                "frac_neurons_risk_change_above_0.01": float(
                    np.mean(stack["risk_change"][:, m][live] > RISK_TOLERANCE)),
                "logit_relative_change": _spread(stack["effects"][:, m, :, -n_out:][live]),
                "dead_neuron_max_effect": float(np.nan_to_num(
                    np.nanmax(stack["effects"][:, m][~live], initial=0.0))),
            }
            for m, mode in enumerate(modes)
        },
        "mean_vs_zero_logit_change_ratio": _spread(mean_over_zero),
        "pruning": {
            "fractions": fractions.tolist(),
            "risk_change_median": np.median(stack["prune_risk"], 0).tolist(),
            "risk_change_max": stack["prune_risk"].max(0).tolist(),
            "logit_relative_change_median": np.median(stack["prune_logits"], 0).tolist(),
            "harmless_fraction_per_seed": [_harmless_fraction(fractions, r)
                                           for r in stack["prune_risk"]],
        },
        "modularity": {
            "clusters": config.clusters,
            "ncut": _spread(stack["ncut"]),
            "ncut_z": _spread(stack["ncut_z"]),
            "ncut_percentile": _spread(stack["ncut_percentile"]),
            "ncut_init": _spread(stack["ncut_init"]),
            "ncut_init_z": _spread(stack["ncut_init_z"]),
            "alignment_zero": _spread(stack["alignment"][:, 0]),
            "alignment_mean": _spread(stack["alignment"][:, 1]),
            "alignment_null_median_zero": _spread(np.median(stack["alignment_null"][:, 0], 1)),
            "alignment_p_zero": stack["alignment_p"][:, 0].tolist(),
            "alignment_p_mean": stack["alignment_p"][:, 1].tolist(),
        },
    }
    arrays = {"seeds": seeds, "kept": np.asarray(kept), "fractions": fractions,
              "X": train_set.X, "y": train_set.y}
    arrays.update({k: v for k, v in stack.items() if k != "sq_bound"})
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W[kept], b[kept]
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


def plot_ablation(result: StudyResult, config: Config):
    """Per-neuron exact risk change (both modes) and logit change vs risk change."""
    a = result.arrays
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.8)
    ax_rank, ax_scatter = axes[0]
    n_out = config.widths[-1]
    for m, mode in enumerate(ABLATIONS):
        change = a["risk_change"][:, m][~a["dead"]]
        ax_rank.plot(np.arange(1, change.size + 1), np.sort(change)[::-1], "o-", ms=2.5,
                     color=PALETTE[m], label=f"{mode} ablation")
        logits = a["effects"][:, m, :, -n_out:].mean(-1)[~a["dead"]]
        ax_scatter.scatter(logits, change, s=8, color=PALETTE[m], label=f"{mode} ablation",
                           alpha=0.8, edgecolor="none")
    for ax in (ax_rank, ax_scatter):
        ax.axhline(0, color="black", lw=0.6)
        ax.set_yscale("symlog", linthresh=1e-5)
    ax_rank.set(xlabel="neuron rank (live neurons, all seeds)",
                ylabel="exact change in population risk", title="(a) risk change per neuron")
    ax_rank.legend()
    ax_scatter.set(xlabel=r"relative logit change $\|f-g\|_2/\|f\|_2$ (mean over logits)",
                   ylabel="exact change in population risk", title="(b) function vs risk")
    return fig


def plot_pruning(result: StudyResult, config: Config):
    """The long tail of |w| and the exact effect of magnitude pruning."""
    a = result.arrays
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.8)
    ax_hist, ax_curve = axes[0]
    mags = np.concatenate([np.abs(a[f"W{d}"]).ravel() for d in range(len(config.widths) - 1)])
    bins = np.logspace(np.log10(max(mags[mags > 0].min(), 1e-6)), np.log10(mags.max()), 40)
    ax_hist.hist(mags, bins=bins, color=PALETTE[0], alpha=0.8)
    ax_hist.set(xscale="log", xlabel="weight magnitude $|w|$", ylabel="count (all seeds)",
                title="(a) weight magnitudes")
    frac = a["fractions"]
    for values, color, label in ((a["prune_risk"], PALETTE[5], "risk change"),
                                 (a["prune_logits"], PALETTE[0], "relative logit change")):
        ax_curve.fill_between(frac, values.min(0), values.max(0), color=color, alpha=0.2, lw=0)
        ax_curve.plot(frac, np.median(values, 0), "o-", ms=3, color=color,
                      label=f"{label} (median, range)")
    ax_curve.axhline(RISK_TOLERANCE, color="black", ls=":", lw=0.8, label="risk +0.01")
    ax_curve.set_yscale("symlog", linthresh=1e-5)
    ax_curve.set(xlabel="fraction of weights pruned (smallest |w| first)",
                 ylabel="exact change", title="(b) magnitude pruning", ylim=(-1e-5, 2.0))
    ax_curve.legend(fontsize=6)
    return fig


def _draw_graph(ax, result: StudyResult, config: Config, seed_index: int) -> None:
    """Units in columns by layer, edges with alpha ~ |w|, nodes coloured by cluster."""
    layers = [(result.arrays[f"W{d}"][seed_index], result.arrays[f"b{d}"][seed_index])
              for d in range(len(config.widths) - 1)]
    adjacency, units = weight_graph(layers)
    labels = result.arrays["labels"][seed_index]
    y = np.array([i - (config.widths[l + 1] - 1) / 2 for l, i in units], float)
    x = units[:, 0].astype(float)
    i, j = np.nonzero(np.triu(adjacency))
    w = adjacency[i, j] / adjacency.max()
    for a_, b_, s in zip(i, j, w):
        ax.plot([x[a_], x[b_]], [y[a_], y[b_]], color="0.3", alpha=float(s) ** 1.5, lw=0.8 * s + 0.1)
    for c in np.unique(labels):
        on = labels == c
        ax.scatter(x[on], y[on], s=22, color=PALETTE[c % len(PALETTE)], zorder=3,
                   edgecolor="black", linewidth=0.3, label=f"cluster {c}")
    ax.set(xticks=range(-1, len(config.widths) - 1),
           xticklabels=["input"] + [f"hidden {l}" for l in range(len(config.widths) - 2)] + ["logits"],
           yticks=[], ylabel="unit")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot_modularity(result: StudyResult, config: Config):
    """Weight graph with clusters (first seed); n-cut vs shuffled; effect in vs out of cluster."""
    a = result.arrays
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=1.0)
    ax_graph, ax_ncut, ax_align = axes[0]
    _draw_graph(ax_graph, result, config, 0)
    ax_graph.set_title("(a) |W| graph, spectral clusters")
    S = len(a["ncut"])
    for s in range(S):
        ax_ncut.scatter(np.full(a["shuffled"].shape[1], s), a["shuffled"][s], s=6,
                        color="0.6", label="shuffled" if s == 0 else None)
    ax_ncut.scatter(np.arange(S), a["ncut"], s=20, color=PALETTE[5], marker="D", label="trained")
    ax_ncut.scatter(np.arange(S), a["ncut_init"], s=20, color=PALETTE[0], marker="s", label="init")
    ax_ncut.set(xlabel="seed", ylabel=f"n-cut, k = {config.clusters} (lower = more modular)",
                title="(b) clusterability", xticks=range(S))
    ax_ncut.legend(fontsize=6)
    for m, mode in enumerate(ABLATIONS):
        x = np.arange(S) + 0.2 * m
        lo, hi = np.quantile(a["alignment_null"][:, m], [0.05, 0.95], axis=1)
        ax_align.vlines(x, lo, hi, color="0.6", lw=2,
                        label="permuted clusters (5-95%)" if m == 0 else None)
        ax_align.scatter(x, a["alignment"][:, m], color=PALETTE[m], s=16, zorder=3,
                         label=f"{mode} ablation")
    ax_align.axhline(1, color="black", lw=0.6)
    ax_align.set(xlabel="seed", ylabel="effect ratio, own cluster / others",
                 title="(c) do effects follow clusters?", yscale="log", xticks=range(S))
    ax_align.legend(fontsize=6)
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Ablation effects, pruning of the long tail, and modularity."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_ablation(result, config), out / "ablation")
    paths += save(plot_pruning(result, config), out / "pruning")
    paths += save(plot_modularity(result, config), out / "modularity")
    return paths
