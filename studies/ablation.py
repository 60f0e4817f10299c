"""Study ``ablation``: editing a trained network -- what does each neuron, each small weight,
and each weight cluster do, exactly, and what predicts a neuron's effect?

Question. When one hidden neuron of a small ReLU net trained on XOR is ablated (zeroed, or
replaced by its exact population mean), how much do the population risk and every
downstream neuron's function change? Is a neuron's effect predicted by where its fold lies
(how much data density the fold cuts through) or by its share of the sharp Hessian
directions? How much of the long tail of small weights can be pruned before anything
changes? Is the weight graph modular (Filan et al. 2021, "Clusterability in neural
networks"), and do ablation effects stay inside the clusters?

Method. Every seed trains a 2-12-12-2 ReLU net (Adam, full batch; He weights and ``N(0, 1)``
biases, so the first-layer folds do not all start through the origin, where XOR's two Bayes
lines cross) on its own sample of ``toylab.data.xor`` (harness cell). Every edit is an exact edit of the weights
(``toylab.compare.editing``): ablation rewires the neuron's outgoing weights into the next
bias; pruning zeroes every weight with ``|w|`` below a global magnitude threshold. The
population risk of the original network is read from its one exact population partition;
the edited network's risk and the change of every neuron's function (the exact population L2
distance ``sqrt(E[(f - g)^2])``) come from one partition of the "joint" network holding both
networks' neurons side by side (``edit_effect``; error bound: the tail outside a box holding
all but 1e-12 of the mass). Fold location: the data density integrated along the neuron's
exact fold, ``int_fold p ds`` (closed-form Gaussian line integrals); Hessian share: the
neuron's share of the top ``hessian_top`` eigenvectors of the training-loss Hessian on the
seed's own sample (``toylab.landscape.subspace_mass``). Per seed, Spearman correlations of
the zero-ablation risk change with both, over live neurons. Modularity: n-cut of a k-way
spectral clustering of the ``|W|`` graph against weight-shuffled networks and against the
seed's initial network; ablation effects inside vs outside the ablated neuron's cluster
against permuted cluster labels. Per-seed p-values (permutation p-values as
``(1 + #null >= observed) / (1 + #null)``) are pooled over seeds with the Benjamini-Hochberg
correction (``adjust_pvalues``); thresholded headlines are swept over their threshold.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.stats
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from toylab.compare.editing import (
    ABLATIONS,
    ablate,
    cluster_alignment,
    clusterability,
    constant_neurons,
    edit_effect,
    hidden_neurons,
    prune,
    pruning_thresholds,
    weight_graph,
)
from toylab.compare.landscape_neurons import segment_integrals
from toylab.exact.boundary import folds
from toylab.exact.population import population_partition
from toylab.landscape import eigendecomposition, hessian, subspace_mass
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, EnsembleConfig, TrainCell, World, adjust_pvalues, headline,
                          kept_members, load_layers, member_arrays, threshold_sweep)
from toylab.train import TrainConfig

NAME = "ablation"
DESCRIPTION = "Exact effects of ablating neurons and pruning small weights; weight-graph modularity"

RISK_TOLERANCE = 0.01
"""A neuron 'matters' / a pruning level is 'harmful' when the population risk rises by more
than this (swept over :attr:`Config.tolerances`)."""

ALPHA = 0.05
"""False-discovery rate of the Benjamini-Hochberg corrected per-seed tests."""


@dataclass(frozen=True)
class Config(EnsembleConfig):
    """Settings of the ``ablation`` study."""

    world: World = World("xor")
    train: TrainConfig = TrainConfig(widths=(2, 12, 12, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000,
                                     bias_init="normal", bias_std=1.0)
    prune_fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    tolerances: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    clusters: int = 4
    shuffles: int = 20
    permutations: int = 200
    hessian_top: int = 2

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: 2-4-4-2 nets, 200 steps, 4 seeds, small nulls."""
        return cls(n_train=128, train=replace(cls.train, widths=(2, 4, 4, 2), steps=200,
                                              snapshot_every=200),
                   prune_fractions=(0.0, 0.3, 0.6), clusters=2, shuffles=3, permutations=20,
                   seeds=4)

    def settings(self) -> dict:
        """The analysis parameters a cell's cache key needs."""
        return {"prune_fractions": list(self.prune_fractions), "clusters": self.clusters,
                "shuffles": self.shuffles, "permutations": self.permutations,
                "hessian_top": self.hessian_top}


# ----------------------------------------------------------------------------- per member


def _ablations(net, p, dist, config: Config) -> dict:
    """Every hidden neuron ablated in every mode: risk change ``(M, H)`` and relative L2
    change of every hidden/logit unit ``(M, H, U)`` (NaN for units not downstream)."""
    widths, activation = config.train.widths, config.train.activation
    neurons = hidden_neurons(widths)
    before = (p.risk.value, p.risk.error_bound)
    risk_change = np.zeros((len(ABLATIONS), len(neurons)))
    effects = np.full((len(ABLATIONS), len(neurons), sum(widths[1:])), np.nan)
    bound = 0.0
    for m, mode in enumerate(ABLATIONS):
        for h, neuron in enumerate(neurons):
            edited = ablate(net, dist, neuron, mode, activation=activation, partition=p)
            eff = edit_effect(net, edited, dist, activation=activation, risk_before=before)
            risk_change[m, h] = eff.risk_change
            rel = np.concatenate(eff.distance.relative)
            effects[m, h] = np.where(np.arange(rel.size) >= sum(widths[1:neuron[0] + 2]),
                                     rel, np.nan)
            bound = max(bound, max(float(b.max()) for b in eff.distance.sq_bound))
    return {"risk_change": risk_change, "effects": effects, "dead": constant_neurons(p),
            "sq_bound": bound}


def _pruning(net, p, dist, config: Config) -> dict:
    """Risk change and relative logit change ``(F,)`` at each pruning fraction."""
    before = (p.risk.value, p.risk.error_bound)
    risk_change, logit_change = [], []
    for t in pruning_thresholds(net, config.prune_fractions):
        eff = edit_effect(net, prune(net, t), dist, activation=config.train.activation,
                          risk_before=before)
        risk_change.append(eff.risk_change)
        d = eff.distance
        logit_change.append(float(np.sqrt(d.sq[-1].sum() / d.norm_sq_a[-1].sum())))
    return {"prune_risk": np.array(risk_change), "prune_logits": np.array(logit_change)}


def permutation_p(observed, null, *, larger: bool = True):
    """One-sided permutation p-value ``(1 + #{null at least as extreme}) / (1 + #null)``
    (never 0; Phipson & Smyth 2010) along the last axis of ``null``; NaN where ``observed``
    is NaN (NaN null entries count as not extreme)."""
    null, observed = np.asarray(null, np.float64), np.asarray(observed, np.float64)
    with np.errstate(invalid="ignore"):
        hits = np.sum(null >= observed[..., None] if larger else null <= observed[..., None], -1)
    return np.where(np.isnan(observed), np.nan, (1 + hits) / (1 + null.shape[-1]))


def _effect_alignment(cl, effects: np.ndarray, depth: int, rng,
                      permutations: int) -> tuple[np.ndarray, np.ndarray]:
    """Median over ablated neurons of the inside/outside effect ratio, ``(M,)`` for
    ``effects (M, H, U)`` and the clusters ``cl`` of the same net, and the same statistic
    with the affected units' cluster labels permuted ``(M, permutations)``."""
    units = cl.units
    hidden = (units[:, 0] >= 0) & (units[:, 0] < depth)
    source_labels, target_labels = cl.labels[hidden], cl.labels[units[:, 0] >= 0]
    perms = [rng.permutation(target_labels) for _ in range(permutations)]
    with warnings.catch_warnings():  # a seed where no neuron has a defined ratio: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        align = np.array([np.nanmedian(cluster_alignment(e, source_labels, target_labels))
                          for e in effects])
        null = np.array([[np.nanmedian(cluster_alignment(e, source_labels, perm))
                          for perm in perms] for e in effects])
    return align, null


def _modularity(net, init, config: Config, seed: int, effects: np.ndarray,
                init_effects: np.ndarray) -> dict:
    """Clusterability of the trained and the initial net, and whether ablation effects
    (``effects (M, H, U)``) follow the trained net's clusters, against the affected units'
    cluster labels permuted and against the initial net's effects in its own clusters (how
    much alignment the |W|-graph construction gives an untrained net)."""
    trained = clusterability(net, config.clusters, n_shuffles=config.shuffles, seed=seed)
    at_init = clusterability(init, config.clusters, n_shuffles=config.shuffles, seed=seed)
    depth = len(config.train.widths) - 2
    rng = np.random.default_rng(seed)
    align, null = _effect_alignment(trained, effects, depth, rng, config.permutations)
    align_init, _ = _effect_alignment(at_init, init_effects, depth, rng, 0)
    return {"ncut": trained.ncut, "ncut_z": trained.z_score,
            "ncut_p": permutation_p(trained.ncut, trained.shuffled, larger=False),
            "ncut_init": at_init.ncut, "ncut_init_z": at_init.z_score,
            "shuffled": trained.shuffled, "labels": trained.labels,
            "alignment": align, "alignment_null": null,
            "alignment_p": permutation_p(align, null), "alignment_init": align_init}


def fold_mass(p, dist, neurons) -> np.ndarray:
    """``(H,)`` data density integrated along each neuron's exact fold, ``int_fold p ds``
    (0 for a neuron without a fold in the partition's domain)."""
    out = []
    for neuron in neurons:
        segs = folds(p, tuple(neuron))
        out.append(segment_integrals(segs, np.zeros((len(segs), 2)), dist).mass.sum()
                   if len(segs) else 0.0)
    return np.array(out)


def hessian_share(net, X, y, config: Config) -> np.ndarray:
    """``(H,)`` each hidden neuron's share of the top ``hessian_top`` Hessian eigenvectors of
    the training loss (``subspace_mass``: basis-independent within the subspace)."""
    H = hessian(net, X, y, activation=config.train.activation)
    V = eigendecomposition((H + H.T) / 2, k=config.hessian_top).eigenvectors
    return subspace_mass(V, config.train.widths).share[:len(hidden_neurons(config.train.widths))]


def member_stats(net, init, X, y, dist, config: Config, seed: int) -> dict:
    """Everything the study measures on one trained member."""
    p = population_partition(net, dist, activation=config.train.activation)
    p_init = population_partition(init, dist, activation=config.train.activation)
    out = {"risk": p.risk.value, "init_risk": p_init.risk.value,
           "fold_mass": fold_mass(p, dist, hidden_neurons(config.train.widths)),
           "hessian_share": hessian_share(net, X, y, config)}
    out.update(_ablations(net, p, dist, config))
    out.update(_pruning(net, p, dist, config))
    init_effects = _ablations(init, p_init, dist, config)["effects"]
    out.update(_modularity(net, init, config, seed, out["effects"], init_effects))
    return out


def analyse(cell: TrainCell, run, config: Config) -> tuple[dict, dict]:
    """:func:`member_stats` of every member that trained, stacked over members (NaN rows for
    diverged members)."""
    dist = cell.distribution()
    X, y = cell.training_data()
    f64 = lambda layers: [(np.float64(W), np.float64(b)) for W, b in layers]
    return {}, member_arrays(run, lambda i: member_stats(
        f64(run.member(i)), f64(run.snapshot(i, 0)), X[i], y[i], dist, config,
        int(run.seeds[i])), desc="ablating seeds")


# ----------------------------------------------------------------------------- summary


def harmless_fraction(fractions, risk_change, tolerance: float = RISK_TOLERANCE) -> float:
    """Largest pruned fraction up to which every level raised the risk by <= ``tolerance``."""
    ok = np.asarray(risk_change) <= tolerance
    last = np.argmin(ok) - 1 if not ok.all() else len(ok) - 1
    return float(np.asarray(fractions)[max(last, 0)])


def _corrected(pvalues) -> dict:
    """Per-seed p-values, their Benjamini-Hochberg adjustment and the number of seeds
    significant at false-discovery rate :data:`ALPHA`."""
    p = np.asarray(pvalues, np.float64)
    p = p[np.isfinite(p)]
    q = adjust_pvalues(p)
    return {"p": p.tolist(), "q_bh": np.asarray(q).tolist(), "significant": int(np.sum(q < ALPHA)),
            "n": int(p.size)}


def _spearman(x: np.ndarray, y: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per seed Spearman ``(rho, p)`` of ``x`` against ``y`` (both ``(S, H)``) over live
    neurons."""
    rows = [scipy.stats.spearmanr(a[m], b[m]) for a, b, m in zip(x, y, live)]
    return np.array([r.statistic for r in rows]), np.array([r.pvalue for r in rows])


def _finite(values) -> np.ndarray:
    v = np.asarray(values, np.float64)
    return v[np.isfinite(v)]


def _alignment(s: dict, mode: int) -> dict:
    """Inside/outside effect ratio of ablation ``mode`` over the seeds where it is defined,
    against the median of the same seeds' permutation nulls and (``ratio_init``) the same
    ratio for the initial nets in their own clusters; corrected per-seed tests."""
    on = np.isfinite(s["alignment"][:, mode])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        null = np.nanmedian(s["alignment_null"][on, mode], 1)
    return {"ratio": headline(s["alignment"][on, mode], null=_finite(null)),
            "ratio_init": headline(_finite(s["alignment_init"][:, mode])),
            **_corrected(s["alignment_p"][on, mode])}


def summarise(a: dict, kept: list[int], config: Config) -> dict:
    """Headline objects over the kept seeds (module docstring)."""
    s = {key: a[key][kept] for key in a}
    live = s["dead"] == 0
    n_out = config.train.widths[-1]
    fractions = np.asarray(config.prune_fractions)
    logit_change = s["effects"][..., -n_out:].mean(-1)  # (S, M, H)

    def live_rows(values: np.ndarray, reduce) -> np.ndarray:
        return np.array([reduce(v[m]) if m.any() else np.nan for v, m in zip(values, live)])

    def above(mode: int):
        return lambda t: live_rows(s["risk_change"][:, mode], lambda v: np.mean(v > t))

    ablation = {}
    for m, mode in enumerate(ABLATIONS):
        ablation[mode] = {
            "risk_change_mean": headline(live_rows(s["risk_change"][:, m], np.mean)),
            "risk_change_max": headline(live_rows(s["risk_change"][:, m], np.max)),
            f"frac_above_{RISK_TOLERANCE:g}": headline(above(m)(RISK_TOLERANCE)),
            "frac_above_sweep": threshold_sweep(above(m), config.tolerances),
            "logit_relative_change": headline(live_rows(logit_change[:, m], np.median)),
            "dead_neuron_max_effect": float(np.nan_to_num(
                np.nanmax(s["effects"][:, m][~live], initial=0.0))),
        }
    with np.errstate(invalid="ignore", divide="ignore"):  # dead neurons: 0 / 0, dropped
        mean_over_zero = live_rows(logit_change[:, 1] / logit_change[:, 0], np.median)
    relations = {}
    for key in ("fold_mass", "hessian_share"):
        rho, p = _spearman(s["risk_change"][:, 0], s[key], live)
        relations[key] = {"spearman": headline(_finite(rho)), **_corrected(p)}
    return {
        "risk": headline(s["risk"], null=s["init_risk"]),
        "dead_neurons": headline(np.sum(~live, 1)),
        "function_error_bound_max": float(np.max(s["sq_bound"])),
        "ablation": ablation,
        "mean_vs_zero_logit_change_ratio": headline(_finite(mean_over_zero)),
        "effect_vs": relations,
        "pruning": {
            "fractions": fractions.tolist(),
            "risk_change": [headline(v, statistic=np.median) for v in s["prune_risk"].T],
            "logit_relative_change": [headline(v, statistic=np.median)
                                      for v in s["prune_logits"].T],
            "harmless_fraction": headline([harmless_fraction(fractions, r)
                                           for r in s["prune_risk"]]),
            "harmless_fraction_sweep": threshold_sweep(
                lambda t: [harmless_fraction(fractions, r, t) for r in s["prune_risk"]],
                config.tolerances),
        },
        "modularity": {
            "clusters": config.clusters,
            "ncut": headline(s["ncut"], null=s["ncut_init"]),
            "ncut_z": headline(s["ncut_z"], null=s["ncut_init_z"]),
            "more_modular_than_shuffled": _corrected(s["ncut_p"]),
            "alignment": {mode: _alignment(s, m) for m, mode in enumerate(ABLATIONS)},
        },
    }


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train (one cell); ablate, prune and cluster every kept seed exactly; headlines."""
    result = ctx.train_cells([config.cell()], lambda cell, run: analyse(cell, run, config),
                             settings=config.settings())[0]
    summary = {"bayes_error": config.world.distribution().bayes_error(),
               "seeds": config.seeds, "diverged": result.summary["diverged"],
               **summarise(result.arrays, kept_members(result), config)}
    return summary, dict(result.arrays)


# ----------------------------------------------------------------------------- figures


def plot_ablation(result: StudyResult, config: Config):
    """Per-neuron exact risk change (both modes) and logit change vs risk change."""
    a, kept = result.arrays, kept_members(result)
    live = a["dead"][kept] == 0
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.8)
    ax_rank, ax_scatter = axes[0]
    n_out = config.train.widths[-1]
    for m, mode in enumerate(ABLATIONS):
        change = a["risk_change"][kept, m][live]
        ax_rank.plot(np.arange(1, change.size + 1), np.sort(change)[::-1], "o-", ms=2.5,
                     color=PALETTE[m], label=f"{mode} ablation")
        logits = a["effects"][kept, m, :, -n_out:].mean(-1)[live]
        ax_scatter.scatter(logits, change, s=8, color=PALETTE[m], label=f"{mode} ablation",
                           alpha=0.8, edgecolor="none")
    for ax in (ax_rank, ax_scatter):
        ax.axhline(0, color="black", lw=0.6)
        ax.axhline(RISK_TOLERANCE, color="black", ls=":", lw=0.8)
        ax.set_yscale("symlog", linthresh=1e-5)
    ax_rank.set(xlabel="neuron rank (live neurons, all seeds)",
                ylabel="exact change in population risk", title="(a) risk change per neuron")
    ax_rank.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_rank.legend(loc="lower left", fontsize=6)
    ax_scatter.set(xscale="log", ylabel="exact change in population risk",
                   xlabel=r"relative logit change $\|f-g\|_2/\|f\|_2$ (mean over logits)",
                   title="(b) function vs risk")
    return fig


def plot_pruning(result: StudyResult, config: Config):
    """The long tail of |w| and the exact effect of magnitude pruning (median over seeds and
    its 95% bootstrap interval)."""
    s, kept = result.summary, kept_members(result)
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.8)
    ax_hist, ax_curve = axes[0]
    mags = np.concatenate([np.abs(W).ravel() for member in kept
                           for W, _ in load_layers(result, member)])
    bins = np.logspace(np.log10(max(mags[mags > 0].min(), 1e-6)), np.log10(mags.max()), 40)
    ax_hist.hist(mags, bins=bins, color=PALETTE[0], alpha=0.8)
    ax_hist.set(xscale="log", xlabel="weight magnitude $|w|$", ylabel="weights (all seeds)",
                title="(a) weight magnitudes")
    ax_hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    frac = np.asarray(s["pruning"]["fractions"])
    for key, color, label in (("risk_change", PALETTE[5], "risk change"),
                              ("logit_relative_change", PALETTE[0], "relative logit change")):
        heads = s["pruning"][key]
        ci = np.array([h["ci95"] for h in heads])
        ax_curve.fill_between(frac, ci[:, 0], ci[:, 1], color=color, alpha=0.2, lw=0)
        ax_curve.plot(frac, [h["value"] for h in heads], "o-", ms=3, color=color,
                      label=f"{label} (median, 95% CI)")
    ax_curve.axhline(RISK_TOLERANCE, color="black", ls=":", lw=0.8, label="risk +0.01")
    ax_curve.set_yscale("symlog", linthresh=1e-5)
    ax_curve.set(xlabel="fraction of weights pruned (smallest |w| first)",
                 ylabel="exact change", title="(b) magnitude pruning", ylim=(-1e-5, 2.0))
    ax_curve.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    return fig


def _draw_graph(ax, result: StudyResult, config: Config, member: int) -> None:
    """Units in columns by layer, edges with alpha ~ |w|, nodes coloured by cluster."""
    widths = config.train.widths
    adjacency, units = weight_graph(load_layers(result, member))
    labels = result.arrays["labels"][member].astype(int)
    y = np.array([i - (widths[l + 1] - 1) / 2 for l, i in units], float)
    x = units[:, 0].astype(float)
    i, j = np.nonzero(np.triu(adjacency))
    w = adjacency[i, j] / adjacency.max()
    for a_, b_, s in zip(i, j, w):
        ax.plot([x[a_], x[b_]], [y[a_], y[b_]], color="0.3", alpha=float(s) ** 1.5,
                lw=0.8 * s + 0.1)
    for c in np.unique(labels):
        on = labels == c
        ax.scatter(x[on], y[on], s=22, color=PALETTE[c % len(PALETTE)], zorder=3,
                   edgecolor="black", linewidth=0.3, label=f"cluster {c}")
    ax.set(xticks=range(-1, len(widths) - 1),
           xticklabels=["input"] + [f"hidden {l}" for l in range(len(widths) - 2)] + ["logits"],
           yticks=[], ylabel="unit")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


def plot_modularity(result: StudyResult, config: Config):
    """Weight graph with clusters (first kept seed); n-cut vs shuffled and initial nets; effect
    in vs out of cluster against permuted labels."""
    a, kept = result.arrays, kept_members(result)
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=1.0)
    ax_graph, ax_ncut, ax_align = axes[0]
    _draw_graph(ax_graph, result, config, kept[0])
    ax_graph.set_title("(a) |W| graph, spectral clusters")
    for n, member in enumerate(kept):
        ax_ncut.scatter(np.full(a["shuffled"].shape[1], member), a["shuffled"][member], s=6,
                        color="0.6", label="shuffled" if n == 0 else None)
    ax_ncut.scatter(kept, a["ncut"][kept], s=20, color=PALETTE[5], marker="D", label="trained")
    ax_ncut.scatter(kept, a["ncut_init"][kept], s=20, color=PALETTE[0], marker="s", label="init")
    ax_ncut.set(xlabel="seed", ylabel=f"n-cut, k = {config.clusters} (lower: more modular)",
                title="(b) clusterability")
    for m, mode in enumerate(ABLATIONS):
        x = np.asarray(kept) + 0.2 * m
        lo, hi = np.nanquantile(a["alignment_null"][kept, m], [0.05, 0.95], axis=1)
        ax_align.vlines(x, lo, hi, color="0.6", lw=2,
                        label="permuted clusters (5-95%)" if m == 0 else None)
        ax_align.scatter(x, a["alignment"][kept, m], color=PALETTE[m], s=16, zorder=3,
                         label=f"{mode} ablation")
        ax_align.scatter(x, a["alignment_init"][kept, m], s=16, zorder=3, facecolors="none",
                         edgecolors=PALETTE[m], label=f"{mode}, initial net")
    ax_align.axhline(1, color="black", lw=0.6)
    ax_align.set(xlabel="seed", ylabel="effect ratio, own / other clusters",
                 title="(c) effects vs clusters", yscale="log")
    for ax in (ax_ncut, ax_align):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2,
                  frameon=False)
    return fig


def plot_relations(result: StudyResult, config: Config):
    """Zero-ablation risk change of every live neuron against its fold's data density and
    its share of the top Hessian eigenvectors (per-seed Spearman correlation in the title)."""
    a, s, kept = result.arrays, result.summary, kept_members(result)
    live = a["dead"][kept] == 0
    change = a["risk_change"][kept, 0][live]
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.85)
    for ax, key, xlabel, tag in (
            (axes[0, 0], "fold_mass",
             "data density along the fold, $\\int_{fold} p\\,ds$ (no fold: at $10^{-12}$)", "(a)"),
            (axes[0, 1], "hessian_share",
             f"share of the top {config.hessian_top} Hessian eigenvectors", "(b)")):
        x = a[key][kept][live]
        ax.scatter(np.maximum(x, 1e-12), change, s=8, color=PALETTE[0], alpha=0.7,
                   edgecolor="none")
        r = s["effect_vs"][key]
        h = r["spearman"]
        ax.set_yscale("symlog", linthresh=1e-5)
        ax.set(xscale="log", xlabel=xlabel, ylabel="exact risk change (zero ablation)",
               title=f"{tag} Spearman {h['value']:.2f} [{h['ci95'][0]:.2f}, {h['ci95'][1]:.2f}]"
                     f"\n{r['significant']}/{r['n']} seeds at FDR {ALPHA:g}")
        ax.axhline(RISK_TOLERANCE, color="black", ls=":", lw=0.8)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Ablation effects, what predicts them, pruning of the long tail, and modularity."""
    return {"ablation": plot_ablation(result, config),
            "relations": plot_relations(result, config),
            "pruning": plot_pruning(result, config),
            "modularity": plot_modularity(result, config)}
