"""Study ``bayes-gap``: how fast does a small ReLU net's exact excess risk over the Bayes
classifier shrink with the training-set size, against linear baselines, and how does its
boundary approach Bayes?

Question. For two Gaussian classes with equal covariances (``two_gaussians``: a linear Bayes
boundary) and with unequal covariances (``curved``: a parabolic one), what is the exact
excess population risk ``R(f) - R*`` of a one-hidden-layer ReLU net as a function of the
training-set size ``n`` and the width, compared with linear discriminant analysis and logistic
regression fitted to the same samples, and how far (Hausdorff distance) is its decision
boundary from the Bayes boundary?

Method. For every (distribution, ``n``, width) cell an ensemble of seeds is trained (Adam,
full batch), each seed on its own training sample of size ``n`` and with its own init
(harness cells, one compiled sweep per shape). For every trained net the exact partition
over a box holding all but 1e-12 of the mass gives the exact excess risk over the Bayes error
(closed form for ``two_gaussians``, quadrature with a stated bound for ``curved``);
``hausdorff_to_bayes`` gives the Hausdorff distance between the exact learned boundary and
the Bayes boundary inside ``dist.domain`` and inside the data's core (a box holding >= 95%).
Baselines on the same samples: LDA (pooled covariance; Hastie et al. 2009, sec. 4.3) and
L2-regularised logistic regression, whose exact excess risks are computed the same way (a
linear classifier is a network without hidden layers). Curves are reported per ``n`` as
median with bootstrap intervals over seeds; a rate (slope of log excess vs log n, fitted per
seed) only where the median curve is monotone.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.optimize
import scipy.special
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from toylab.exact import decision_boundary, partition
from toylab.exact.population import excess_risk, hausdorff_to_bayes, population_partition
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult, progress
from toylab.study import (Context, TrainCell, World, headline, kept_members, load_layers,
                          slope_headline)
from toylab.train import TrainConfig

NAME = "bayes-gap"
DESCRIPTION = "Exact excess risk over Bayes (vs LDA and logistic regression) and Hausdorff distance to the Bayes boundary vs n and width"

HAUSDORFF_TOL = 1e-6
"""Accuracy asked of ``hausdorff_to_bayes`` (a curved Bayes boundary is traced to this)."""
LOGISTIC_L2 = 1e-4
"""Ridge penalty of the logistic-regression baseline (keeps separable samples finite)."""
GAP_FIELDS = ("excess", "error_bound", "hausdorff", "hausdorff_tolerance", "hausdorff_core")
"""What :func:`exact_gap` returns, in order (per member arrays of every cell)."""
BASELINES = ("lda", "logistic")


@dataclass(frozen=True)
class Config:
    """Settings of the ``bayes-gap`` study."""

    distributions: tuple[str, ...] = ("two_gaussians", "curved")
    n_trains: tuple[int, ...] = (16, 64, 256, 1024)
    widths: tuple[int, ...] = (4, 16, 64)
    depth: int = 1
    train: TrainConfig = TrainConfig(widths=(2, 4, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000)
    data_seed: int = 0
    core_mass_outside: float = 0.05
    seeds: int = 20

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (a few seconds): one cell per distribution."""
        return cls(n_trains=(64,), widths=(4,), seeds=3,
                   train=replace(cls.train, steps=200, snapshot_every=200))

    def cell(self, name: str, n_train: int, width: int) -> TrainCell:
        widths = (2,) + (width,) * self.depth + (2,)
        return TrainCell(World(name), replace(self.train, widths=widths), self.seeds, n_train,
                         self.data_seed)

    def cells(self) -> list[TrainCell]:
        """Cells in array order ``(distribution, n, width)``."""
        return [self.cell(name, n, w) for name in self.distributions for n in self.n_trains
                for w in self.widths]


def exact_gap(net, dist, activation: str, core_mass_outside: float) -> tuple[float, ...]:
    """:data:`GAP_FIELDS` of one network from its exact partition over ``dist``'s covering box:
    excess risk and its error bound; Hausdorff distance to the Bayes boundary inside
    ``dist.domain`` and its tolerance; the same inside the data's core,
    ``dist.covering_box(core_mass_outside)``."""
    p = population_partition(net, dist, activation=activation)
    ex = excess_risk(p, dist)
    h = hausdorff_to_bayes(p, dist, tol=HAUSDORFF_TOL)
    core = hausdorff_to_bayes(p, dist, tol=HAUSDORFF_TOL,
                              box=dist.covering_box(core_mass_outside))
    return ex.value, ex.error_bound, h.value, h.tolerance, core.value


def lda(X: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Linear discriminant analysis as a one-layer net ``[(W (d, C), b (C,))]``: class means,
    pooled covariance, empirical priors (Hastie et al. 2009, eq. 4.10). ``None`` if a class is
    missing or the pooled covariance is singular."""
    classes = np.unique(y)
    if len(classes) < 2 or len(X) <= len(classes):
        return None
    means = np.stack([X[y == k].mean(0) for k in range(int(y.max()) + 1)])
    resid = X - means[y]
    pooled = resid.T @ resid / (len(X) - len(means))
    if np.linalg.cond(pooled) > 1e12:
        return None
    W = np.linalg.solve(pooled, means.T)
    priors = np.bincount(y, minlength=len(means)) / len(y)
    b = -0.5 * np.sum(means.T * W, axis=0) + np.log(priors)
    return [(W, b)]


def logistic(X: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Binary logistic regression with ridge :data:`LOGISTIC_L2` (L-BFGS on the mean log-loss),
    as a one-layer net whose logit difference is the fitted linear function."""
    s = 2.0 * y - 1.0

    def loss(theta):
        margin = s * (X @ theta[:-1] + theta[-1])
        grad_m = -s * scipy.special.expit(-margin) / len(X)
        value = np.mean(np.logaddexp(0.0, -margin)) + LOGISTIC_L2 * theta[:-1] @ theta[:-1]
        grad = np.append(X.T @ grad_m + 2 * LOGISTIC_L2 * theta[:-1], grad_m.sum())
        return value, grad

    theta = scipy.optimize.minimize(loss, np.zeros(X.shape[1] + 1), jac=True,
                                    method="L-BFGS-B").x
    W = np.stack([np.zeros(X.shape[1]), theta[:-1]], axis=1)
    return [(W, np.array([0.0, theta[-1]]))]


def analyse(cell: TrainCell, run, core_mass_outside: float) -> tuple[dict, dict]:
    """Exact gap statistics of every kept member and of the linear baselines on its sample."""
    dist = cell.distribution()
    X, y = cell.training_data()
    stats = np.full((cell.seeds, len(GAP_FIELDS)), np.nan)
    base = np.full((cell.seeds, len(BASELINES)), np.nan)
    kept = [i for i in range(cell.seeds) if np.isfinite(run.final_loss[i])]
    for i in progress(kept, desc=f"exact {cell.world.preset} n={cell.n_train} {cell.train.widths}"):
        net = [(np.float64(W), np.float64(b)) for W, b in run.member(i)]
        stats[i] = exact_gap(net, dist, cell.train.activation, core_mass_outside)
    for i in range(cell.seeds):
        for j, fit in enumerate((lda, logistic)):
            net = fit(np.float64(X[i]), y[i])
            if net is not None:
                base[i, j] = excess_risk(population_partition(net, dist, activation="linear"),
                                         dist).value
    return {}, {"stats": stats, "baselines": base}


def _monotone(curve) -> bool:
    d = np.diff(np.asarray(curve, float))
    return bool(np.all(d <= 0) or np.all(d >= 0))


def _curve(values: np.ndarray) -> list[dict]:
    """Per level: the median over seeds with its bootstrap interval."""
    return [headline(v[np.isfinite(v)], statistic=np.median) for v in values]


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train and analyse every cell; excess-risk and Hausdorff curves vs n with intervals."""
    D, N, W = len(config.distributions), len(config.n_trains), len(config.widths)
    results = ctx.train_cells(
        config.cells(), lambda cell, run: analyse(cell, run, config.core_mass_outside),
        settings={"core_mass_outside": config.core_mass_outside})
    stats = np.stack([r.arrays["stats"] for r in results]).reshape(D, N, W, config.seeds, -1)
    base = np.stack([r.arrays["baselines"] for r in results]).reshape(D, N, W, config.seeds, -1)
    excess, bound, haus, tol, core = np.moveaxis(stats, -1, 0)
    ok = np.isfinite(excess)
    summary = {
        "seeds": config.seeds,
        "diverged": {f"{c.world.preset}_n{c.n_train}_w{c.train.widths[1]}": r.summary["diverged"]
                     for c, r in zip(config.cells(), results) if r.summary["diverged"]},
        "bayes_error": {name: World(name).distribution().bayes_error()
                        for name in config.distributions},
        "never_beats_bayes": bool(np.all(excess[ok] >= -bound[ok])),
        "max_error_bound": float(np.nanmax(bound)),
        "max_hausdorff_tolerance": float(np.nanmax(tol)),
    }
    for d, name in enumerate(config.distributions):
        per_width = {}
        for w, width in enumerate(config.widths):
            curves = {"excess": _curve(excess[d, :, w]), "hausdorff": _curve(haus[d, :, w]),
                      "hausdorff_core": _curve(core[d, :, w])}
            rates = {}
            for key, values in (("excess", excess), ("hausdorff_core", core)):
                med = [c["value"] for c in curves[key]]
                cell_ok = np.all(np.isfinite(values[d, :, w]), axis=0)
                rates[key] = (slope_headline(config.n_trains, values[d, :, w][:, cell_ok].T,
                                             log=True)
                              if N >= 3 and _monotone(med) and np.all(values[d, :, w] > 0)
                              else None)
            per_width[str(width)] = {"curves": curves, "rates": rates}
        summary[name] = {
            "n_trains": list(config.n_trains), "widths": list(config.widths),
            "by_width": per_width,
            "baselines": {b: _curve(base[d, :, 0, :, j]) for j, b in enumerate(BASELINES)},
        }
    arrays = {"excess": excess, "error_bound": bound, "hausdorff": haus,
              "hausdorff_tolerance": tol, "hausdorff_core": core, "baselines": base,
              "n_trains": np.asarray(config.n_trains), "widths": np.asarray(config.widths)}
    for c, r in zip(config.cells(), results):  # one representative net per cell: member 0
        key = f"{c.world.preset}_n{c.n_train}_w{c.train.widths[1]}"
        for layer, (Wl, bl) in enumerate(load_layers(r, kept_members(r)[0])):
            arrays[f"{key}__W{layer}"], arrays[f"{key}__b{layer}"] = Wl, bl
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_excess(result: StudyResult, config: Config):
    """One panel per distribution: exact excess risk vs n per width (median and 95% interval
    over seeds), with the LDA and logistic-regression baselines on the same samples."""
    n = np.asarray(config.n_trains, float)
    D = len(config.distributions)
    fig, axes = figure(1, D, width=PAGE_WIDTH * 0.8, aspect=0.85)
    axes = np.atleast_1d(axes).ravel()
    for d, name in enumerate(config.distributions):
        ax, s = axes[d], result.summary[name]
        series = [(f"ReLU width {w}", s["by_width"][str(w)]["curves"]["excess"], PALETTE[i], "o-")
                  for i, w in enumerate(config.widths)]
        series += [(label, s["baselines"][b], "black", style) for b, label, style in
                   (("lda", "LDA", "s--"), ("logistic", "logistic regr.", "^:"))]
        for k, (label, curve, color, style) in enumerate(series):
            med = np.array([c["value"] for c in curve])
            ci = np.array([c["ci95"] for c in curve]).T
            ax.errorbar(n * (1 + 0.04 * k), med, yerr=[med - ci[0], ci[1] - med], fmt=style,
                        ms=3, capsize=2, color=color, label=label)
        ax.set(xscale="log", yscale="log", xlabel="training-set size $n$",
               ylabel="exact excess risk $R(f) - R^*$",
               title=f"{name}\nBayes error {result.summary['bayes_error'][name]:.4f}")
        ax.set_xticks(n, [str(int(v)) for v in n])
        ax.xaxis.set_minor_locator(NullLocator())
    axes[-1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_hausdorff(result: StudyResult, config: Config):
    """Hausdorff distance to the Bayes boundary vs n: core box (solid) and domain (dashed)."""
    n = np.asarray(config.n_trains, float)
    D = len(config.distributions)
    fig, axes = figure(1, D, width=PAGE_WIDTH * 0.8, aspect=0.85)
    axes = np.atleast_1d(axes).ravel()
    for d, name in enumerate(config.distributions):
        ax = axes[d]
        for w, width in enumerate(config.widths):
            curves = result.summary[name]["by_width"][str(width)]["curves"]
            for key, style, where in (("hausdorff_core", "o-", "core"),
                                      ("hausdorff", "s--", "domain")):
                med = np.array([c["value"] for c in curves[key]])
                ci = np.array([c["ci95"] for c in curves[key]]).T
                ax.errorbar(n * (1 + 0.04 * w), med, yerr=[med - ci[0], ci[1] - med], fmt=style,
                            ms=3, capsize=2, color=PALETTE[w], label=f"{where}, width {width}")
        ax.set(xscale="log", yscale="log", xlabel="training-set size $n$",
               ylabel="Hausdorff distance to Bayes (input units)", title=name)
        ax.set_xticks(n, [str(int(v)) for v in n])
        ax.xaxis.set_minor_locator(NullLocator())
    axes[-1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_boundaries(result: StudyResult, config: Config):
    """Learned boundaries (member 0) for growing n over the density and the Bayes boundary:
    one row per width (narrowest, widest), one column per distribution."""
    widths = sorted({config.widths[0], config.widths[-1]})
    D = len(config.distributions)
    fig, axes = figure(len(widths), D, width=PAGE_WIDTH * 0.8, aspect=0.75)
    axes = np.asarray(axes).reshape(len(widths), D)
    colors = colormaps[SEQUENTIAL](np.linspace(0.0, 0.85, len(config.n_trains)))
    for row, width in enumerate(widths):
        for d, name in enumerate(config.distributions):
            ax, dist = axes[row, d], World(name).distribution()
            draw_density(ax, dist)
            for n_train, color in zip(config.n_trains, colors):
                key = f"{name}_n{n_train}_w{width}"
                depth = config.depth + 1
                net = [(result.arrays[f"{key}__W{l}"], result.arrays[f"{key}__b{l}"])
                       for l in range(depth)]
                segs = decision_boundary(partition(net, dist.domain,
                                                   activation=config.train.activation))
                ax.add_collection(LineCollection(segs, colors=[color], linewidths=1.0,
                                                 label=f"learned, n = {n_train}"))
            draw_bayes_boundary(ax, dist)
            set_box(ax, dist.domain)
            ax.set_title(f"{name}: width {width}, one seed")
    axes[0, -1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Excess risk vs n with baselines, Hausdorff distance vs n, learned vs Bayes boundaries."""
    return {"excess_risk": plot_excess(result, config),
            "hausdorff": plot_hausdorff(result, config),
            "boundaries": plot_boundaries(result, config)}
