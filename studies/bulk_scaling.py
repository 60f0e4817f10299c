"""Study ``bulk-scaling``: do the Hessian outliers track the data and the bulk the parameter count?

Question. Sagun, Bottou & LeCun (2016) and Sagun, Evci, Guney, Dauphin & Bottou (2017,
"Empirical analysis of the Hessian of over-parametrized neural networks") find that at the end
of training the Hessian spectrum is a bulk concentrated near zero plus a few outliers; the
outliers' number (about ``C`` for ``C`` classes) and size follow the data, and do not grow with
the parameter count, while the bulk (its width, and how many eigenvalues sit in it) grows with
the parameter count. Does this hold at fixed data for tiny ReLU nets on 2-D Gaussian blobs
whose parameter count grows 25-fold?

Method. Per world (a separated and an overlapping ``C = 3`` world, each labelled by its exact
Bayes error) and architecture (2-w-C for every ``w`` in ``widths``; 2-w-w-C for every ``w`` in
``deep_widths``), one harness cell: ``seeds`` nets with their own initialisation (He weights,
``N(0, 1)`` biases) and their own training sample, trained by full-batch gradient descent at one
learning rate for a stated number of steps. Member ``i`` has the same training sample in every
architecture (``sample_seed(data_seed, i)``), so curves over the parameter count ``P`` are paired
by seed at fixed data. Per member, exactly in float64 (``toylab.landscape``): every eigenvalue of
the Hessian ``H`` of the full training loss at the end of training, of ``H`` at initialisation
(null), and of ``H`` of the trained net on its labels shuffled (null); every eigenvalue of the
Gauss-Newton part ``G`` at the end, and the number of linear regions the training points occupy
(distinct activation patterns, ``toylab.compare.regions.pattern_of``), for the rank bound
:func:`gauss_newton_rank_bound`. From each spectrum (:func:`spectrum_measures`):

- the exact null space: ``|lambda| <= null_cut * lambda_max`` (softmax shift invariance,
  ``w_last + 1`` directions, and dead units); it is neither outlier nor bulk;
- the outliers: the eigenvalues above the largest log-gap among the top ``max_outliers + 1``
  (``toylab.landscape.count_outliers``, the rule of ``tiny-subspace``); their count, the top
  eigenvalue and their sum; the gap itself (decades);
- the bulk: the remaining non-null eigenvalues; its edge (largest), its width (edge minus the
  most negative bulk eigenvalue), its median ``|lambda|``, the edge relative to the top;
- the number of numerically non-zero eigenvalues.

Headlines: means over seeds with bootstrap 95% intervals per cell, and per-seed log-log
slopes against ``P`` (``toylab.study.slope_headline``, one family of architectures at a time),
each with its null: the same measure or slope at initialisation (and the outlier count on
shuffled labels). Threshold sweeps: the non-zero count over ``null_cut`` and the outlier count
over ``max_outliers``.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

import toylab.landscape as L
from studies.tiny_subspace import bayes_error, check_full_batch_gd, check_worlds, kept_rows
from toylab.compare.regions import pattern_of
from toylab.landscape.subspace import NUMERICAL_ZERO
from toylab.models import get_activation, n_params
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, World, WorldsConfig, headline, kept_members,
                          member_arrays, slope_headline, threshold_sweep)
from toylab.train import TrainConfig

NAME = "bulk-scaling"
DESCRIPTION = ("Hessian outliers vs bulk as the parameter count grows at fixed data (Sagun et "
               "al. 2017): outlier count and size, bulk edge, non-zero eigenvalues vs P")

NULL_CUTS = (1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8)
"""Relative cuts of the null-space sweep (the non-zero count at each)."""

MAX_COUNTS = (4, 6, 10, 20)
"""``max_outliers`` values of the outlier-count sweep."""

SPECTRA = ("final", "init", "shuffled")
"""Hessian spectra stored per member: trained, at initialisation, trained on shuffled labels."""

MEASURES = ("top", "outliers", "outlier_sum", "gap", "bulk_edge", "bulk_width", "bulk_median",
            "edge_ratio", "bulk_count", "nonzero")
"""Per-spectrum measures (:func:`spectrum_measures`)."""

SLOPED = ("top", "outlier_sum", "outliers", "bulk_edge", "bulk_width", "bulk_median", "nonzero")
"""Measures whose log-log slope against ``P`` is a headline."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``bulk-scaling`` study: worlds are ``(preset, k)`` pairs; ``train``
    holds everything but the widths, which each architecture sets (input 2, hidden from
    ``widths`` / ``deep_widths``, output ``k``)."""

    worlds: tuple[tuple[str, int], ...] = (("blobs", 3), ("overlapping_blobs", 3))
    widths: tuple[int, ...] = (8, 16, 32, 64)
    deep_widths: tuple[int, ...] = (8, 16)
    train: TrainConfig = TrainConfig(widths=(2, 8, 3), optimizer="sgd", learning_rate=0.05,
                                     batch_size=None, steps=4000, snapshot_every=4000,
                                     bias_init="normal", bias_std=1.0)
    max_outliers: int = 10
    null_cut: float = NUMERICAL_ZERO
    separated_below: float = 0.01

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: widths 8 and 16 (one hidden layer), 4 seeds, 300 steps."""
        return cls(widths=(8, 16), deep_widths=(), seeds=4, n_train=128,
                   train=replace(cls.train, steps=300, snapshot_every=300))

    def __post_init__(self):
        check_worlds(self.worlds)
        check_full_batch_gd(self.train)
        for name in ("widths", "deep_widths"):
            values = getattr(self, name)
            if any(isinstance(w, bool) or int(w) != w or w < 1 for w in values):
                raise ValueError(f"{name}={values!r} must be positive hidden widths")
        if len(self.widths) < 2 or len(self.deep_widths) == 1:
            raise ValueError(f"widths={self.widths!r}, deep_widths={self.deep_widths!r}: a slope "
                             "against P needs >= 2 widths per family (deep_widths may be ())")
        if not get_activation(self.train.activation).piecewise_linear:
            raise ValueError(f"train.activation={self.train.activation!r} is smooth: the region "
                             "count and rank bound need a piecewise-linear net; use relu")
        if self.train.snapshot_every != self.train.steps:
            raise ValueError(f"train.snapshot_every={self.train.snapshot_every} must equal "
                             f"train.steps={self.train.steps}: only the initial and the final "
                             "network are analysed")
        if isinstance(self.max_outliers, bool) or int(self.max_outliers) != self.max_outliers \
                or self.max_outliers < 1:
            raise ValueError(f"max_outliers={self.max_outliers!r} must be a positive integer")
        if not 0 < self.null_cut < 1:
            raise ValueError(f"null_cut={self.null_cut!r} must lie in (0, 1), e.g. 1e-12 "
                             "(relative to the largest eigenvalue)")

    def families(self) -> dict[str, tuple[tuple[int, ...], ...]]:
        """Hidden-width tuples of each architecture family: ``"one"`` (2-w-C), ``"two"``
        (2-w-w-C, only if ``deep_widths``)."""
        out = {"one": tuple((w,) for w in self.widths)}
        if self.deep_widths:
            out["two"] = tuple((w, w) for w in self.deep_widths)
        return out

    def architectures(self) -> list[tuple[int, ...]]:
        return [h for hidden in self.families().values() for h in hidden]

    def cell(self, preset: str, k: int, hidden: tuple[int, ...]) -> TrainCell:
        return self.cell_in(World(preset, (("k", k),)), replace(self.train, widths=(2, *hidden, k)))


def cell_key(preset: str, k: int, hidden: tuple[int, ...]) -> str:
    """Stable name of one (world, architecture) cell in array names."""
    return f"{preset}__k{k}__h{'x'.join(str(w) for w in hidden)}"


# ----------------------------------------------------------------------------- measures


def gauss_newton_rank_bound(widths, n_points: int, regions: int) -> int:
    """Upper bound on ``rank G`` of a piecewise-linear net with softmax cross-entropy.

    ``G = (1/n) sum_i J_i^T (diag p_i - p_i p_i^T) J_i``; the output factor has range
    ``1^perp`` (``C - 1`` dimensions), and inside one linear region the logit Jacobian ``J_i``
    is linear in the homogeneous input ``(1, x_i)``, so the points of one region add at most
    ``(d + 1)(C - 1)`` directions (benchmarks/README.md states the looser ``(d + 1) C``). The
    range also excludes the ``w_last + 1`` shift-invariance directions of the last layer
    (adding ``u 1^T`` to its weights, ``c 1`` to its bias). So

    ``rank G <= min(P - w_last - 1, n (C - 1), regions (d + 1)(C - 1))``.

    Args:
        widths: ``(d, hidden..., C)``; n_points: training points; regions: linear regions
            the training points occupy (distinct activation patterns).
    """
    d, last, C = widths[0], widths[-2], widths[-1]
    return int(min(n_params(widths) - last - 1, n_points * (C - 1), regions * (d + 1) * (C - 1)))


def spectrum_measures(eigenvalues, *, max_outliers: int, null_cut: float) -> dict:
    """Outliers, bulk and null space of one Hessian spectrum (see the module docstring).

    Args:
        eigenvalues: ``(P,)`` any order, ``lambda_max > 0``.
        max_outliers: the outlier rule's largest count; null_cut: relative null-space cut.
    Returns:
        ``{measure: float}`` for every name in :data:`MEASURES`.
    """
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    if lam[0] <= 0:
        raise ValueError(f"eigenvalues has lambda_max={lam[0]!r} <= 0; no outliers or bulk "
                         "are defined")
    j = L.count_outliers(lam, max_count=max_outliers)
    nonnull = np.abs(lam) > null_cut * lam[0]
    bulk = lam[j:][nonnull[j:]]
    floor = NUMERICAL_ZERO * lam[0]
    out = {"top": lam[0], "outliers": j, "outlier_sum": lam[:j].sum(),
           "gap": np.log10(max(lam[j - 1], floor) / max(lam[j], floor)),
           "nonzero": int(nonnull.sum()), "bulk_count": bulk.size}
    if bulk.size:
        out.update(bulk_edge=bulk[0], bulk_width=bulk[0] - bulk[-1],
                   bulk_median=np.median(np.abs(bulk)), edge_ratio=bulk[0] / lam[0])
    else:
        out.update(bulk_edge=np.nan, bulk_width=np.nan, bulk_median=np.nan, edge_ratio=np.nan)
    return {m: float(out[m]) for m in MEASURES}


# ----------------------------------------------------------------------------- compute


def _eigenvalues(net, X, y, activation: str, *, curvature: str = "hessian") -> np.ndarray:
    M = L.curvature_matrix(net, X, y, curvature=curvature, activation=activation)
    return L.eigendecomposition((M + M.T) / 2, vectors=False).eigenvalues


def analyse(cell: TrainCell, run) -> tuple[dict, dict]:
    """Per finite member: the Hessian spectra of :data:`SPECTRA` (descending), the final
    Gauss-Newton spectrum and the occupied regions."""
    X, y = cell.training_data()
    act = cell.train.activation

    def member(i):
        Xi, yi = np.float64(X[i]), y[i]
        init, final = ([(np.float64(W), np.float64(b)) for W, b in run.snapshot(i, t)]
                       for t in (0, 1))
        shuffled = np.random.default_rng([i, 1]).permutation(yi)
        return {"final": _eigenvalues(final, Xi, yi, act),
                "init": _eigenvalues(init, Xi, yi, act),
                "shuffled": _eigenvalues(final, Xi, shuffled, act),
                "gauss_newton": _eigenvalues(final, Xi, yi, act, curvature="gauss_newton"),
                "regions": len(np.unique(pattern_of(final, Xi, activation=act), axis=0))}

    return {}, member_arrays(run, member, desc="exact spectra")


def _measure_table(spectra: np.ndarray, config: Config, **kw) -> dict[str, np.ndarray]:
    """``{measure: (S,)}`` of the rows of ``spectra (S, P)``."""
    rows = [spectrum_measures(lam, max_outliers=kw.get("max_outliers", config.max_outliers),
                              null_cut=kw.get("null_cut", config.null_cut)) for lam in spectra]
    return {m: np.array([r[m] for r in rows]) for m in MEASURES}


def _cell_record(config: Config, preset: str, k: int, hidden, result, kept) -> tuple[dict, dict]:
    """Headlines of one cell over the members ``kept`` and its measures per spectrum."""
    a = result.arrays
    widths = (2, *hidden, k)
    tables = {s: _measure_table(a[s][kept], config) for s in SPECTRA}
    final, init = tables["final"], tables["init"]
    g = a["gauss_newton"][kept]
    rank = np.sum(g > config.null_cut * g[:, :1], axis=1)
    bound = [gauss_newton_rank_bound(widths, config.n_train, int(r)) for r in a["regions"][kept]]
    record = {"hidden": list(hidden), "P": n_params(widths), "diverged": result.summary["diverged"],
              "outliers_per_seed": [int(c) for c in final["outliers"]],
              "outliers_shuffled": headline(tables["shuffled"]["outliers"]),
              "outliers_near_C": headline(np.abs(final["outliers"] - k) <= 1,
                                          null=np.abs(init["outliers"] - k) <= 1),
              "gauss_newton_rank": headline(rank),
              "rank_bound": headline(bound),
              "rank_below_bound": bool(np.all(rank <= np.array(bound))),
              "regions": headline(a["regions"][kept]),
              "nonzero_sweep": threshold_sweep(
                  lambda c: _measure_table(a["final"][kept], config, null_cut=c)["nonzero"],
                  NULL_CUTS),
              "outliers_sweep": threshold_sweep(
                  lambda m: _measure_table(a["final"][kept], config,
                                           max_outliers=int(m))["outliers"], MAX_COUNTS),
              "final_loss": headline(a["final_loss"][kept]),
              "final_accuracy": headline(a["final_accuracy"][kept]),
              "eta_lambda_max": headline(config.train.learning_rate * final["top"],
                                         null=config.train.learning_rate * init["top"])}
    for m in MEASURES:
        record[m] = headline(final[m], null=init[m])
    arrays = {f"{s}_{m}": tables[s][m] for s in SPECTRA for m in MEASURES}
    arrays.update(gauss_newton_rank=rank, rank_bound=np.array(bound))
    return record, arrays


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train every (world, architecture) cell, analyse its exact spectra, and fit the slopes
    against ``P`` per world and architecture family over the seeds kept in every cell.

    Arrays per cell ``key`` (:func:`cell_key`): the spectra ``{final,init,shuffled,
    gauss_newton}__{key}`` ``(S, P)`` of every member (NaN rows for diverged ones), the
    family's kept members ``kept__{key}``, and over those kept members only the measures
    ``{spectrum}_{measure}__{key}``, ``gauss_newton_rank__{key}`` and ``rank_bound__{key}``.
    ``rank G`` counts eigenvalues of ``G`` above ``null_cut`` times its largest."""
    cells = {(preset, k, h): config.cell(preset, k, h) for preset, k in config.worlds
             for h in config.architectures()}
    results = dict(zip(cells, ctx.train_cells(list(cells.values()), analyse)))
    arrays, worlds = {}, []
    for preset, k in config.worlds:
        bayes = bayes_error(ctx, preset, k)
        world = {"preset": preset, "k": k, "bayes_error": bayes,
                 "world": "separated" if bayes < config.separated_below else "overlapping",
                 "families": {}}
        for family, hiddens in config.families().items():
            found = [results[preset, k, h] for h in hiddens]
            kept = sorted(set.intersection(*(set(kept_members(r)) for r in found)))
            records, per_cell = [], []
            for h, result in zip(hiddens, found):
                record, cell_arrays = _cell_record(config, preset, k, h, result, kept)
                records.append(record)
                per_cell.append(cell_arrays)
                key = cell_key(preset, k, h)
                for s in SPECTRA + ("gauss_newton",):
                    arrays[f"{s}__{key}"] = result.arrays[s]
                arrays[f"kept__{key}"] = np.asarray(kept, np.int64)
                for name, values in cell_arrays.items():
                    arrays[f"{name}__{key}"] = values
            P = np.array([r["P"] for r in records], np.float64)
            slopes = {}
            if kept:
                for m in SLOPED:
                    curves = {s: np.stack([c[f"{s}_{m}"] for c in per_cell], 1)
                              for s in ("final", "init")}
                    slopes[m] = slope_headline(P, curves["final"], log=True)
                    slopes[m]["null"] = slope_headline(P, curves["init"], log=True)
                shuffled = np.stack([c["shuffled_outliers"] for c in per_cell], 1)
                slopes["outliers_shuffled"] = slope_headline(P, shuffled, log=True)
            world["families"][family] = {"P": P.tolist(), "seeds_kept": len(kept),
                                         "by_architecture": records, "slopes": slopes}
        worlds.append(world)
    summary = {
        "by_world": worlds,
        "optimizer": (f"full-batch GD, learning rate {config.train.learning_rate}, "
                      f"{config.train.steps} steps, He weights and N(0, "
                      f"{config.train.bias_std}^2) biases, float32 training"),
        "outlier_rule": (f"largest log-gap among the top {config.max_outliers + 1} eigenvalues "
                         "of the exact Hessian (toylab.landscape.count_outliers)"),
        "null_space": f"|lambda| <= {config.null_cut:g} lambda_max: neither outlier nor bulk",
        "nulls": {"measures and slopes": "the same seed at initialisation",
                  "outliers_shuffled": "the trained net's Hessian on its labels shuffled"},
    }
    return summary, arrays


# ----------------------------------------------------------------------------- figures

FAMILY_LABEL = {"one": "2-w-C", "two": "2-w-w-C"}
FAMILY_MARKER = {"one": "o", "two": "s"}


def _world_title(world: dict) -> str:
    return (f"{world['preset'].replace('_', ' ')} C={world['k']} ({world['world']}, "
            f"Bayes error {world['bayes_error']:.2g})")


def _errorbar(ax, x, heads, **kw):
    """Means with their 95% intervals of headline objects ``heads`` at ``x``."""
    v = np.array([h["value"] for h in heads])
    ci = np.array([h["ci95"] for h in heads]).reshape(-1, 2)
    ax.errorbar(x, v, yerr=np.abs(ci.T - v), capsize=2, markersize=3, **kw)


def _p_ticks(ax, world: dict) -> None:
    """Ticks of a log ``P`` axis at the parameter counts of ``world``'s architectures."""
    Ps = []
    for p in sorted({int(p) for f in world["families"].values() for p in f["P"]}):
        if not Ps or p > 1.15 * Ps[-1]:   # labels closer than that would overlap
            Ps.append(p)
    ax.set_xticks(Ps, [str(p) for p in Ps], fontsize=5)
    ax.xaxis.set_minor_formatter(NullFormatter())


def _slope_text(slope: dict) -> str:
    lo, hi = slope["ci95"]
    return f"slope {slope['value']:.2f} [{lo:.2f}, {hi:.2f}]"


def plot_spectra(result: StudyResult, config: Config, stage: str = "final") -> Figure:
    """Positive Hessian eigenvalues by rank (log-log), median over kept seeds with the
    25-75% band, one colour per architecture; one row per world, one column per family.
    Eigenvalues inside the null space (``|lambda| <= null_cut lambda_max``) and negative ones
    are not drawn."""
    families = config.families()
    fig, axes = figure(len(config.worlds), len(families), width=PAGE_WIDTH * 0.4
                       * len(families), aspect=0.8, sharey="row")
    axes = np.asarray(axes).reshape(len(config.worlds), len(families))
    for row, ((preset, k), world) in enumerate(zip(config.worlds, result.summary["by_world"])):
        for col, (family, hiddens) in enumerate(families.items()):
            ax = axes[row, col]
            for color, h in zip(PALETTE, hiddens):
                key = cell_key(preset, k, h)
                lam = kept_rows(result, stage, key)
                lam = np.where(lam > config.null_cut * lam[:, :1], lam, np.nan)
                drawn = np.isfinite(lam).any(0)          # ranks outside every null space
                ranks = np.arange(1, lam.shape[1] + 1)[drawn]
                lo, mid, hi = np.nanpercentile(lam[:, drawn], [25, 50, 75], axis=0)
                ax.fill_between(ranks, lo, hi, color=color, alpha=0.25, linewidth=0)
                ax.plot(ranks, mid, color=color, linewidth=0.8,
                        label=f"w={h[0]} (P={n_params((2, *h, k))})")
            ax.axvline(k + 0.5, color="black", linestyle="--", linewidth=0.6)
            ax.set(xscale="log", yscale="log", xlabel="rank")
            ax.set_title(f"{FAMILY_LABEL[family]}, {world['preset'].replace('_', ' ')} "
                         f"({world['world']})", fontsize=6)
            ax.legend(loc="lower left", fontsize=4)
        axes[row, 0].set_ylabel(f"Hessian eigenvalue ({stage})")
    fig.suptitle("median over seeds, 25-75% band; dashed: rank C", fontsize=6)
    return fig


def plot_outliers(result: StudyResult, config: Config) -> Figure:
    """Outlier count per seed (dots) and mean with 95% interval vs P per family; nulls: the
    initial network and the trained net on shuffled labels (grey); the dashed line is C."""
    fig, axes = figure(1, len(config.worlds), width=PAGE_WIDTH * 0.4 * len(config.worlds),
                       aspect=0.9, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    rng = np.random.default_rng(0)
    for ax, world in zip(axes, result.summary["by_world"]):
        for color, (family, f) in zip(PALETTE, world["families"].items()):
            P = np.array(f["P"])
            recs = f["by_architecture"]
            for p, r in zip(P, recs):
                counts = np.array(r["outliers_per_seed"])
                jitter = np.exp(rng.uniform(-0.05, 0.05, counts.size))
                ax.scatter(p * jitter, counts + rng.uniform(-0.15, 0.15, counts.size), s=5,
                           color=color, alpha=0.5, linewidth=0)
            label = FAMILY_LABEL[family]
            if f["slopes"]:
                label += f" ({_slope_text(f['slopes']['outliers'])})"
            _errorbar(ax, P, [r["outliers"] for r in recs], color=color,
                      marker=FAMILY_MARKER[family], label=label)
            _errorbar(ax, P * 1.04, [r["outliers"]["null"] for r in recs], color="grey",
                      marker="x", linestyle="--",
                      label="initial network" if family == "one" else None)
            _errorbar(ax, P * 0.96, [r["outliers_shuffled"] for r in recs], color="grey",
                      marker="+", linestyle=":",
                      label="shuffled labels" if family == "one" else None)
        ax.axhline(world["k"], color="black", linestyle="--", linewidth=0.8)
        ax.set(xscale="log", xlabel="parameters P")
        _p_ticks(ax, world)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_world_title(world), fontsize=6)
    axes[0].set_ylabel("Hessian outliers (largest log-gap)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=5,
               title="mean, 95% interval; dots: seeds; dashed line: C")
    return fig


SIZE_MEASURES = {"top": "top eigenvalue", "outlier_sum": "sum of outliers",
                 "bulk_edge": "bulk edge", "bulk_median": "median |bulk eigenvalue|"}


def plot_scaling(result: StudyResult, config: Config) -> Figure:
    """Top row: outlier size, bulk edge and median bulk eigenvalue vs P (log-log; solid:
    trained, dashed: initial network), slopes of the 2-w-C family in the legend. Bottom row:
    numerically non-zero eigenvalues of H, rank of G and its bound vs P, with P and
    P - w - 1."""
    fig, axes = figure(2, len(config.worlds), width=PAGE_WIDTH * 0.45 * len(config.worlds),
                       aspect=1.9, sharex=True)
    axes = np.asarray(axes).reshape(2, -1)
    for j, world in enumerate(result.summary["by_world"]):
        top, bottom = axes[0, j], axes[1, j]
        for family, f in world["families"].items():
            P, recs, marker = np.array(f["P"]), f["by_architecture"], FAMILY_MARKER[family]
            for color, (m, name) in zip(PALETTE, SIZE_MEASURES.items()):
                label = None
                if family == "one":
                    label = f"{name}: {_slope_text(f['slopes'][m])}" if f["slopes"] else name
                _errorbar(top, P, [r[m] for r in recs], color=color, marker=marker, label=label)
                if m in ("top", "bulk_edge"):
                    top.plot(P, [r[m]["null"]["value"] for r in recs], color=color,
                             linestyle="--", linewidth=0.7, marker=marker, markersize=2,
                             label=f"{name} at init" if family == "one" else None)
            counts = (("nonzero", "non-zero eigenvalues of H", PALETTE[0]),
                      ("gauss_newton_rank", "rank G", PALETTE[1]),
                      ("rank_bound", "rank bound", PALETTE[2]))
            for m, name, color in counts:
                label = name if family == "one" else None
                if family == "one" and m == "nonzero" and f["slopes"]:
                    label = f"{name}: {_slope_text(f['slopes']['nonzero'])}"
                _errorbar(bottom, P, [r[m] for r in recs], color=color, marker=marker,
                          label=label)
            symmetric = [r["P"] - r["hidden"][-1] - 1 for r in recs]
            bottom.plot(P, symmetric, color="black", linestyle=":", linewidth=0.8,
                        label="P - w - 1" if family == "one" else None)
        grid = np.geomspace(min(min(f["P"]) for f in world["families"].values()),
                            max(max(f["P"]) for f in world["families"].values()), 20)
        bottom.plot(grid, grid, color="grey", linestyle="--", linewidth=0.8, label="P")
        for ax in (top, bottom):
            ax.set(xscale="log", yscale="log")
            _p_ticks(ax, world)
        top.set_title(_world_title(world))
        top.title.set_fontsize(6)
        bottom.set_xlabel("parameters P (o: 2-w-C, s: 2-w-w-C)")
        top.legend(fontsize=4, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncols=1)
        bottom.legend(fontsize=4, loc="upper left")
    axes[0, 0].set_ylabel("eigenvalue (mean, 95% interval)")
    axes[1, 0].set_ylabel("count (mean, 95% interval)")
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Spectra per architecture (trained and initial), outlier count vs P, sizes and counts
    vs P."""
    return {"spectra": plot_spectra(result, config),
            "spectra_init": plot_spectra(result, config, "init"),
            "outliers_vs_P": plot_outliers(result, config),
            "scaling": plot_scaling(result, config)}
