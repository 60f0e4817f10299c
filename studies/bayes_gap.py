"""Study ``bayes-gap``: how fast does a small ReLU net's exact excess risk over the Bayes
classifier shrink with the training-set size, and how does its boundary approach Bayes?

Question. For two Gaussian classes with equal covariances (``two_gaussians``: a linear Bayes
boundary) and with unequal covariances (``curved``: a parabolic one), what is the exact
excess population risk ``R(f) - R*`` of a one-hidden-layer ReLU net as a function of the
training-set size ``n`` and the width, and how far (Hausdorff distance) is its decision
boundary from the Bayes boundary?

Method. For every (distribution, ``n``, width) cell, an ensemble of seeds is trained (Adam,
full batch), each seed on its own training sample of size ``n`` and with its own init. For
every trained net the exact partition over a box holding all but 1e-12 of the mass gives the
exact population risk (``population_accuracy``) and the excess risk over the Bayes error
(closed form for ``two_gaussians``, quadrature with a stated bound for ``curved``), with a
rigorous error bound; ``hausdorff_to_bayes`` gives the Hausdorff distance between the exact
learned boundary and the Bayes boundary inside ``dist.domain`` (>= 99.9% of the mass) and
inside the data's core (a box holding >= 95%), exact for the linear Bayes boundary, a traced
curve to ``1e-6`` for the parabola. Rates are least-squares slopes of
``log(median excess) ~ log(n)``. Each cell is cached (``cached_run``), so an interrupted run
resumes.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.ticker import NullLocator

from toylab import data
from toylab.compare.regions import power_law
from toylab.exact import decision_boundary, partition
from toylab.exact.population import excess_risk, hausdorff_to_bayes, population_partition
from toylab.plots import save
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult, cached_run, progress, results_root
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "bayes-gap"
DESCRIPTION = "Exact excess risk over Bayes and Hausdorff distance to the Bayes boundary vs n and width"

HAUSDORFF_TOL = 1e-6
"""Accuracy asked of ``hausdorff_to_bayes`` (a curved Bayes boundary is traced to this)."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``bayes-gap`` study."""

    distributions: tuple[str, ...] = ("two_gaussians", "curved")
    n_trains: tuple[int, ...] = (16, 64, 256, 1024)
    widths: tuple[int, ...] = (4, 16, 64)
    depth: int = 1
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    data_seed: int = 0
    core_mass_outside: float = 0.05
    seeds: int = 5

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (a few seconds): one cell per distribution."""
        return cls(n_trains=(64,), widths=(4,), steps=200, seeds=2)


@dataclass(frozen=True)
class Cell:
    """One (distribution, n, width) sweep cell: the cache key of ``cached_run``."""

    distribution: str
    n_train: int
    widths: tuple[int, ...]
    activation: str
    optimizer: str
    learning_rate: float
    steps: int
    data_seed: int
    core_mass_outside: float
    seeds: int


GAP_FIELDS = ("excess", "error_bound", "hausdorff", "hausdorff_tolerance", "hausdorff_core")
"""What :func:`exact_gap` returns, in order."""


def exact_gap(net, dist, activation: str, core_mass_outside: float) -> tuple[float, ...]:
    """:data:`GAP_FIELDS` of one network from its exact partition over ``dist``'s covering box:
    excess risk and its error bound; Hausdorff distance to the Bayes boundary inside
    ``dist.domain`` (>= 99.9% of the mass) and its tolerance; the same inside the data's core,
    ``dist.covering_box(core_mass_outside)``."""
    p = population_partition(net, dist, activation=activation)
    ex = excess_risk(p, dist)
    h = hausdorff_to_bayes(p, dist, tol=HAUSDORFF_TOL)
    core = hausdorff_to_bayes(p, dist, tol=HAUSDORFF_TOL,
                              box=dist.covering_box(core_mass_outside))
    return ex.value, ex.error_bound, h.value, h.tolerance, core.value


def compute_cell(cell: Cell) -> tuple[dict, dict]:
    """Train one cell's ensemble (seed ``s`` on sample ``data_seed + s``); exact excess risk
    and Hausdorff distance of every kept seed (NaN for diverged seeds)."""
    dist = data.make(cell.distribution)
    samples = [dist.sample(cell.data_seed + s, cell.n_train) for s in range(cell.seeds)]
    X = np.stack([smp.X for smp in samples])
    y = np.stack([smp.y for smp in samples])
    config = TrainConfig(widths=cell.widths, activation=cell.activation,
                         optimizer=cell.optimizer, learning_rate=cell.learning_rate,
                         steps=cell.steps, snapshot_every=cell.steps)
    run = train_ensemble(X, y, np.arange(cell.seeds), config=config, on_divergence="report",
                         progress=True)
    bad = sorted(seed for seed, _ in diverged_seeds(run))
    stats = np.full((cell.seeds, len(GAP_FIELDS)), np.nan)
    for s in progress([s for s in range(cell.seeds) if s not in bad],
                      desc=f"exact {cell.distribution} n={cell.n_train} {cell.widths}"):
        stats[s] = exact_gap(to_float64(run.member(s)), dist, cell.activation,
                             cell.core_mass_outside)
    arrays = {"stats": stats, "train_accuracy": run.final_accuracy}
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W, b
    return {"diverged": bad}, arrays


def _rate(n_trains, values) -> dict:
    """Power-law fit of the median over seeds vs ``n`` (cells with a non-positive or
    non-finite median are left out; None when fewer than 3 remain)."""
    med = np.nanmedian(values, axis=-1)
    ok = np.isfinite(med) & (med > 0)
    if ok.sum() < 3:
        return {"exponent": None, "exponent_stderr": None, "points": int(ok.sum())}
    fit = power_law(np.asarray(n_trains)[ok], med[ok])
    return {"exponent": fit.exponent, "exponent_stderr": fit.exponent_stderr,
            "points": int(ok.sum())}


def _finite_or_none(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.ravel(values)]


def compute(config: Config) -> tuple[dict, dict]:
    """Run (or load) every cell; excess risks, Hausdorff distances and their rates."""
    D, N, W = len(config.distributions), len(config.n_trains), len(config.widths)
    stats = np.full((D, N, W, config.seeds, len(GAP_FIELDS)), np.nan)
    arrays, diverged = {}, {}
    cells = [(d, n, w) for n in range(N) for w in range(W) for d in range(D)]
    for d, n, w in progress(cells, desc="cells"):
        name, n_train, width = config.distributions[d], config.n_trains[n], config.widths[w]
        cell = Cell(name, n_train, (2,) + (width,) * config.depth + (2,), config.activation,
                    config.optimizer, config.learning_rate, config.steps, config.data_seed,
                    config.core_mass_outside, config.seeds)
        result, _ = cached_run(f"{NAME}/cell", cell, compute_cell, out=results_root())
        stats[d, n, w] = result.arrays["stats"]
        key = f"{name}_n{n_train}_w{width}"
        diverged[key] = result.summary["diverged"]
        for layer in range(config.depth + 1):
            arrays[f"{key}__W{layer}"] = result.arrays[f"W{layer}"]
            arrays[f"{key}__b{layer}"] = result.arrays[f"b{layer}"]
    excess, bound, haus, tol, core = np.moveaxis(stats, -1, 0)
    summary = {
        "seeds": config.seeds,
        "diverged": {k: v for k, v in diverged.items() if v},
        "bayes_error": {name: data.make(name).bayes_error() for name in config.distributions},
        "min_excess_risk": float(np.nanmin(excess)),
        "never_beats_bayes": bool(np.all(excess[np.isfinite(excess)] >= -bound[np.isfinite(excess)])),
        "max_error_bound": float(np.nanmax(bound)),
        "max_hausdorff_tolerance": float(np.nanmax(tol)),
        "core_box": {name: data.make(name).covering_box(config.core_mass_outside).tolist()
                     for name in config.distributions},
    }
    for d, name in enumerate(config.distributions):
        summary[name] = {
            "n_trains": list(config.n_trains),
            "widths": list(config.widths),
            "excess_median": [_finite_or_none(np.nanmedian(excess[d, :, w], -1))
                              for w in range(W)],
            "excess_q25": [_finite_or_none(np.nanquantile(excess[d, :, w], 0.25, -1))
                           for w in range(W)],
            "excess_q75": [_finite_or_none(np.nanquantile(excess[d, :, w], 0.75, -1))
                           for w in range(W)],
            "hausdorff_median": [_finite_or_none(np.nanmedian(haus[d, :, w], -1))
                                 for w in range(W)],
            "hausdorff_core_median": [_finite_or_none(np.nanmedian(core[d, :, w], -1))
                                      for w in range(W)],
            "excess_rate": [_rate(config.n_trains, excess[d, :, w]) for w in range(W)],
            "hausdorff_rate": [_rate(config.n_trains, haus[d, :, w]) for w in range(W)],
            "hausdorff_core_rate": [_rate(config.n_trains, core[d, :, w]) for w in range(W)],
        }
    arrays.update({"excess": excess, "error_bound": bound, "hausdorff": haus,
                   "hausdorff_tolerance": tol, "hausdorff_core": core,
                   "n_trains": np.asarray(config.n_trains),
                   "widths": np.asarray(config.widths)})
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


PANELS = {
    "excess": ("exact excess risk $R(f) - R^*$", "excess_rate", "-"),
    "hausdorff": ("Hausdorff distance to Bayes (input units)", "hausdorff_rate", "--"),
    "hausdorff_core": ("Hausdorff distance to Bayes (input units)", "hausdorff_core_rate", "-"),
}
"""Array key -> (y label, summary rate key, line style) of :func:`plot_vs_n`."""


def plot_vs_n(result: StudyResult, config: Config, keys: tuple[str, ...], ylabel: str):
    """One panel per distribution: each array in ``keys`` vs n per width (median, IQR)."""
    n = np.asarray(config.n_trains, float)
    fig, axes = figure(1, len(config.distributions), width=PAGE_WIDTH * 0.8, aspect=0.85)
    for d, name in enumerate(config.distributions):
        ax = axes[0, d] if len(config.distributions) > 1 else axes
        for key in keys:
            _, rate_key, style = PANELS[key]
            for w, width in enumerate(config.widths):
                q = np.nanquantile(result.arrays[key][d, :, w], [0.25, 0.5, 0.75], axis=-1)
                slope = result.summary[name][rate_key][w]["exponent"]
                where = {"hausdorff": "domain, ", "hausdorff_core": "core, "}.get(key, "")
                ax.errorbar(n * (1 + 0.04 * w), q[1], yerr=[q[1] - q[0], q[2] - q[1]],
                            fmt="o", ls=style, ms=3, capsize=2, color=PALETTE[w],
                            label=f"{where}width {width}: slope "
                                  + ("n/a" if slope is None else f"{slope:.2f}"))
        ax.set(xscale="log", yscale="log", xlabel="training-set size $n$", ylabel=ylabel,
               title=f"{name} (Bayes error {result.summary['bayes_error'][name]:.4f})")
        ax.set_xticks(n, [str(int(v)) for v in n])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.legend(fontsize=5, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    return fig


def plot_boundaries(result: StudyResult, config: Config):
    """Learned boundaries (seed 0) for growing n over the density and the Bayes boundary: one
    row per width (narrowest, widest), one column per distribution."""
    widths = sorted({config.widths[0], config.widths[-1]})
    D = len(config.distributions)
    fig, axes = figure(len(widths), D, width=PAGE_WIDTH * 0.8, aspect=0.75 * D / max(D, 1))
    axes = np.asarray(axes).reshape(len(widths), D)
    colors = colormaps[SEQUENTIAL](np.linspace(0.0, 0.85, len(config.n_trains)))
    for row, width in enumerate(widths):
        for d, name in enumerate(config.distributions):
            ax = axes[row, d]
            dist = data.make(name)
            draw_density(ax, dist)
            for n_train, color in zip(config.n_trains, colors):
                key = f"{name}_n{n_train}_w{width}"
                net = [(result.arrays[f"{key}__W{l}"][0].astype(float),
                        result.arrays[f"{key}__b{l}"][0].astype(float))
                       for l in range(config.depth + 1)]
                if not all(np.all(np.isfinite(W)) for W, _ in net):
                    continue
                segs = decision_boundary(partition(net, dist.domain, activation=config.activation))
                ax.add_collection(LineCollection(segs, colors=[color], linewidths=1.0,
                                                 label=f"learned, n = {n_train}"))
            draw_bayes_boundary(ax, dist)
            set_box(ax, dist.domain)
            ax.set_title(f"{name}: width {width}, seed 0")
    axes[0, -1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Excess risk and Hausdorff distance vs n, and learned vs Bayes boundaries."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_vs_n(result, config, ("excess",), PANELS["excess"][0]),
                 out / "excess_risk")
    paths += save(plot_vs_n(result, config, ("hausdorff_core", "hausdorff"),
                            PANELS["hausdorff"][0]), out / "hausdorff")
    paths += save(plot_boundaries(result, config), out / "boundaries")
    return paths
