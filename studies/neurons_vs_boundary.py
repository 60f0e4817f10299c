"""Study ``neurons-vs-boundary``: do hidden neurons model the data distribution, or only the
decision boundary?

Question. Two Gaussian classes share one anisotropic covariance whose long axis is tilted
(30 degrees) against the line joining the means, so the Bayes boundary's normal
``Sigma^{-1} (mu_1 - mu_0)`` turns away from the mean difference (towards the short axis as the
anisotropy grows) and the data's layout and the boundary point different ways. Which neurons of small trained ReLU nets track the class
log-odds or the distance to a decision boundary, which track a component's log-density, which
are dead -- and how do these fractions move with width, depth, class separation, anisotropy
and weight decay?

Method. One factor at a time around a base cell (width 8, depth 2, separation 2, anisotropy
3, no weight decay): each cell trains ``seeds`` nets (Adam, full batch, one shared training
sample). For every hidden neuron of every kept seed, :func:`toylab.compare.neurons.neuron_profile`
computes its population correlation with the log-odds, each component's log-density and the
signed distances to the Bayes and to the learned boundary (exact neuron moments; target
moments by adaptive Gauss-Legendre quadrature per linear region with an order-doubling error
estimate; the learned boundary's segments and the Bayes line are exact), the exact
probability of the regions where it varies, and where its fold lies (exact Mahalanobis depth
into the data, density-weighted mean distance to the boundaries). Kinds follow
:func:`toylab.compare.neurons.classify` with the thresholds of the config. With a shared
covariance the log-odds are affine and the signed distance to the Bayes line is the log-odds
divided by their gradient norm, so those two targets give identical correlations (a check, not
a finding). Each cell is cached (``cached_run``), so an interrupted run resumes.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection

from toylab.compare.neurons import KINDS, KindThresholds, NeuronProfile, classify, neuron_profile
from toylab.data import GaussianMixture
from toylab.exact import decision_boundary, folds, partition
from toylab.plots import save
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult, cached_run, progress, results_root
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

NAME = "neurons-vs-boundary"
DESCRIPTION = "Do hidden neurons track the data density or the decision boundary? Kinds vs 5 factors"

FACTORS = {
    "width": "widths",
    "depth": "depths",
    "separation": "separations",
    "anisotropy": "anisotropies",
    "weight_decay": "weight_decays",
}
"""Swept factor -> Config field holding its levels (the base value is the Config field of the
factor's own name)."""

LABELS = ("dead", "boundary", "density", "both", "other", "mixture_density", "fold_in_data",
          "fold_at_boundary")
"""Per-seed fractions reported for every cell: the kinds; the neurons whose |corr| with the
mixture's (class-blind) log-density reaches the threshold; the two fold labels."""

PROFILE_FIELDS = ("mean", "std", "active_mass", "corr", "corr_error", "fold_depth",
                  "fold_to_bayes", "fold_to_learned")
"""Per-neuron :class:`~toylab.compare.neurons.NeuronProfile` arrays stored for every seed."""


def tilted(separation: float, anisotropy: float, angle_deg: float) -> GaussianMixture:
    """Two equally likely classes ``N(-+ separation/2 e_1, Sigma)`` with the shared covariance
    ``Sigma = R diag(anisotropy, 1/anisotropy) R^T`` (unit determinant; ``R`` rotates by
    ``angle_deg``): a linear Bayes boundary, tilted against the mean difference unless
    ``anisotropy == 1``."""
    a = np.deg2rad(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    cov = R @ np.diag([anisotropy, 1.0 / anisotropy]) @ R.T
    means = np.array([[-separation / 2, 0.0], [separation / 2, 0.0]])
    return GaussianMixture(means, np.stack([cov, cov]), name="tilted")


@dataclass(frozen=True)
class Config:
    """Settings of the ``neurons-vs-boundary`` study (base cell, sweep levels, thresholds)."""

    width: int = 8
    depth: int = 2
    separation: float = 2.0
    anisotropy: float = 3.0
    weight_decay: float = 0.0
    widths: tuple[int, ...] = (4, 8, 16)
    depths: tuple[int, ...] = (1, 2, 3)
    separations: tuple[float, ...] = (1.0, 2.0, 4.0)
    anisotropies: tuple[float, ...] = (1.0, 3.0, 9.0)
    weight_decays: tuple[float, ...] = (0.0, 0.03, 0.3)
    angle_deg: float = 30.0
    n_train: int = 512
    data_seed: int = 0
    activation: str = "relu"
    learning_rate: float = 1e-2
    steps: int = 2000
    rtol: float = 1e-3
    corr_threshold: float = 0.8
    dead_mass: float = 0.01
    fold_depth: float = 2.0
    fold_radius: float = 0.5
    seeds: int = 3

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: the base cell and one more separation, 2 seeds, 300 steps."""
        return cls(width=6, widths=(6,), depths=(2,), separations=(2.0, 4.0),
                   anisotropies=(3.0,), weight_decays=(0.0,), n_train=256, steps=300,
                   rtol=1e-2, seeds=2)

    def thresholds(self) -> KindThresholds:
        return KindThresholds(corr=self.corr_threshold, dead_mass=self.dead_mass,
                              fold_depth=self.fold_depth, fold_radius=self.fold_radius)

    def cells(self) -> dict[str, list["Cell"]]:
        """Per factor, one :class:`Cell` per level (other factors at their base values)."""
        out = {}
        for factor, levels in FACTORS.items():
            out[factor] = [self.cell(**{factor: level}) for level in getattr(self, levels)]
        return out

    def cell(self, **overrides) -> "Cell":
        base = {f.name: getattr(self, f.name) for f in fields(Cell)}
        return Cell(**{**base, **overrides})


@dataclass(frozen=True)
class Cell:
    """One trained ensemble: the cache key of ``cached_run``."""

    width: int
    depth: int
    separation: float
    anisotropy: float
    weight_decay: float
    angle_deg: float
    n_train: int
    data_seed: int
    activation: str
    learning_rate: float
    steps: int
    rtol: float
    seeds: int

    def distribution(self) -> GaussianMixture:
        return tilted(self.separation, self.anisotropy, self.angle_deg)

    def train_config(self) -> TrainConfig:
        return TrainConfig(widths=(2,) + (self.width,) * self.depth + (2,),
                           activation=self.activation, learning_rate=self.learning_rate,
                           weight_decay=self.weight_decay, steps=self.steps,
                           snapshot_every=self.steps)


def compute_cell(cell: Cell) -> tuple[dict, dict]:
    """Train one cell's seeds and profile every hidden neuron of every kept seed."""
    dist = cell.distribution()
    sample = dist.sample(cell.data_seed, cell.n_train)
    run = train_ensemble(sample.X, sample.y, np.arange(cell.seeds), config=cell.train_config(),
                         on_divergence="report", progress=True)
    bad = sorted(seed for seed, _ in diverged_seeds(run))
    kept = [s for s in range(cell.seeds) if s not in bad]
    profiles: list[NeuronProfile] = [
        neuron_profile(to_float64(run.member(s)), dist, activation=cell.activation, rtol=cell.rtol)
        for s in progress(kept, desc=f"profiles w{cell.width} d{cell.depth}")]
    arrays = {"kept": np.asarray(kept, np.int64), "train_accuracy": run.final_accuracy}
    if profiles:
        arrays["neurons"] = profiles[0].neurons
        for name in PROFILE_FIELDS:
            arrays[name] = np.stack([getattr(pr, name) for pr in profiles])
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W, b
    summary = {
        "diverged": bad,
        "targets": list(profiles[0].targets) if profiles else [],
        "converged": all(pr.converged for pr in profiles),
        "neglected_mass": max((pr.neglected_mass for pr in profiles), default=0.0),
        "bayes_error": dist.bayes_error(),
    }
    return summary, arrays


def _profile(result: StudyResult, seed: int) -> NeuronProfile:
    """The stored profile of one kept seed (position in ``kept``)."""
    a = result.arrays
    return NeuronProfile(a["neurons"], tuple(result.summary["targets"]),
                         *(a[name][seed] for name in PROFILE_FIELDS),
                         result.summary["neglected_mass"], result.summary["converged"])


def cell_fractions(result: StudyResult, thresholds: KindThresholds) -> np.ndarray:
    """``(kept seeds, len(LABELS))`` per-seed fractions of every label."""
    rows = []
    for s in range(len(result.arrays["kept"])):
        profile = _profile(result, s)
        k = classify(profile, thresholds)
        kinds = np.bincount(k.kind, minlength=len(KINDS)) / len(k.kind)
        mixture = np.abs(profile.corr[:, profile.targets.index("log_density")])
        rows.append(np.concatenate([kinds, [np.mean(mixture >= thresholds.corr),
                                            k.fold_in_data.mean(), k.fold_at_boundary.mean()]]))
    return np.array(rows).reshape(-1, len(LABELS))


def _mean_sd(rows: np.ndarray) -> dict:
    """Per label mean and sample standard deviation over seeds (None for too few seeds)."""
    out = {}
    for j, label in enumerate(LABELS):
        col = rows[:, j]
        out[label] = {"mean": float(col.mean()) if len(col) else None,
                      "sd": float(col.std(ddof=1)) if len(col) > 1 else None}
    return out


def compute(config: Config) -> tuple[dict, dict]:
    """Run (or load) every cell; kind fractions per factor level, mean and sd over seeds."""
    thresholds = config.thresholds()
    cells = config.cells()
    unique = list(dict.fromkeys([config.cell()] + [c for level_cells in cells.values()
                                                   for c in level_cells]))
    results = {}
    for cell in progress(unique, desc="cells"):
        results[cell] = cached_run(f"{NAME}/cell", cell, compute_cell, out=results_root())[0]
    summary = {"labels": list(LABELS), "seeds": config.seeds, "factors": {}, "diverged": {},
               "targets": results[config.cell()].summary["targets"]}
    arrays = {}
    for factor, level_cells in cells.items():
        levels = [getattr(c, factor) for c in level_cells]
        stats = [_mean_sd(cell_fractions(results[c], thresholds)) for c in level_cells]
        summary["factors"][factor] = {
            "levels": levels,
            **{label: {"mean": [s[label]["mean"] for s in stats],
                       "sd": [s[label]["sd"] for s in stats]} for label in LABELS},
        }
    base = results[config.cell()]
    base_rows = cell_fractions(base, thresholds)
    summary["base"] = _mean_sd(base_rows)
    corr, err = base.arrays.get("corr"), [r.arrays["corr_error"] for r in results.values()
                                          if "corr_error" in r.arrays]
    summary["base_median_abs_corr"] = {
        name: float(np.nanmedian(np.abs(corr[..., j]))) for j, name in
        enumerate(summary["targets"])} if corr is not None else {}
    pooled = np.concatenate([e.ravel() for e in err]) if err else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    summary["corr_error_max"] = float(pooled.max()) if len(pooled) else None
    summary["corr_error_median"] = float(np.median(pooled)) if len(pooled) else None
    summary["corr_error_above_0.01"] = float(np.mean(pooled > 0.01)) if len(pooled) else None
    summary["quadrature_converged"] = all(r.summary["converged"] for r in results.values())
    summary["neglected_mass_max"] = max(r.summary["neglected_mass"] for r in results.values())
    for cell, r in results.items():
        if r.summary["diverged"]:
            summary["diverged"][_cell_key(cell)] = r.summary["diverged"]
    for key in PROFILE_FIELDS:
        if key in base.arrays:
            arrays[f"base_{key}"] = base.arrays[key]
    arrays["base_neurons"] = base.arrays.get("neurons", np.zeros((0, 2), np.int64))
    arrays["base_kept"] = base.arrays["kept"]
    for depth in range(config.depth + 1):
        arrays[f"base_W{depth}"] = base.arrays[f"W{depth}"]
        arrays[f"base_b{depth}"] = base.arrays[f"b{depth}"]
    arrays["base_fractions"] = base_rows
    return summary, arrays


def _cell_key(cell: Cell) -> str:
    return (f"w{cell.width}_d{cell.depth}_sep{cell.separation:g}_an{cell.anisotropy:g}"
            f"_wd{cell.weight_decay:g}")


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


KIND_COLORS = dict(zip(KINDS, (PALETTE[7], PALETTE[5], PALETTE[0], PALETTE[3], PALETTE[1])))
FACTOR_AXES = {
    "width": ("hidden width (neurons per layer)", "linear"),
    "depth": ("hidden layers", "linear"),
    "separation": ("class separation $|\\mu_1 - \\mu_0|$ (input units)", "log"),
    "anisotropy": ("anisotropy $a$ (covariance eigenvalues $a$, $1/a$)", "log"),
    "weight_decay": ("AdamW weight decay", "symlog"),
}
"""Factor -> (x label, x scale) of :func:`plot_factors`."""


def plot_factors(result: StudyResult):
    """One panel per factor: fraction of neurons of each kind (mean +- sd over seeds) and the
    fraction whose fold sits at the learned boundary."""
    factors = result.summary["factors"]
    fig, axes = figure(2, 3, width=PAGE_WIDTH, aspect=0.8)
    for n, factor in enumerate(FACTORS):
        stats = factors[factor]
        ax = axes.flat[n]
        x = np.asarray(stats["levels"], float)
        for label in LABELS:
            if label in ("fold_in_data", "mixture_density"):
                continue
            mean = np.array([np.nan if v is None else v for v in stats[label]["mean"]])
            sd = np.array([0.0 if v is None else v for v in stats[label]["sd"]])
            style = dict(color=KIND_COLORS.get(label, PALETTE[2]),
                         ls="--" if label == "fold_at_boundary" else "-")
            ax.errorbar(x, mean, yerr=sd, marker="o", ms=3, capsize=2, label=label.replace(
                "_", " "), **style)
        xlabel, scale = FACTOR_AXES[factor]
        ax.set_xscale(scale, **({"linthresh": 0.01} if scale == "symlog" else {}))
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
        ax.set(xlabel=xlabel, ylim=(-0.03, 1.03))
        if n % 3 == 0:
            ax.set_ylabel("fraction of hidden neurons")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles, labels, fontsize=7, loc="center")
    return fig


def plot_correlations(result: StudyResult, config: Config):
    """Base cell, all seeds: best |corr| with a boundary target vs |corr| with the mixture's
    log-density, coloured by kind, with the threshold lines."""
    fig, ax = figure()
    thresholds = config.thresholds()
    base = _base_result(result)
    for s in range(len(result.arrays["base_kept"])):
        profile = _profile(base, s)
        k = classify(profile, thresholds)
        mixture = np.abs(profile.corr[:, profile.targets.index("log_density")])
        for i, kind in enumerate(KINDS):
            pick = k.kind == i
            ax.scatter(k.boundary_corr[pick], mixture[pick], s=10,
                       color=KIND_COLORS[kind], label=kind if s == 0 else None,
                       edgecolor="white", linewidth=0.3)
    ax.axvline(thresholds.corr, color="grey", lw=0.8, ls=":")
    ax.axhline(thresholds.corr, color="grey", lw=0.8, ls=":")
    ax.set(xlim=(0, 1), ylim=(0, 1),
           xlabel="max |corr| with log-odds / signed boundary distance",
           ylabel="|corr| with the mixture log-density",
           title=f"base cell: width {config.width}, depth {config.depth}, all seeds")
    ax.legend(fontsize=6, loc="lower left")
    return fig


def _base_result(result: StudyResult) -> StudyResult:
    """The base cell as a cell-like result (arrays renamed, summary of the study)."""
    a = {k[len("base_"):]: v for k, v in result.arrays.items() if k.startswith("base_")}
    base = replace(result, arrays=a)
    return replace(base, summary={"targets": result.summary["targets"],
                                  "neglected_mass": result.summary["neglected_mass_max"],
                                  "converged": result.summary["quadrature_converged"]})


def plot_folds(result: StudyResult, config: Config):
    """Base cell, first kept seed: density, Bayes and learned boundary, every neuron's fold
    coloured by its kind."""
    dist = config.cell().distribution()
    base = _base_result(result)
    kept = result.arrays["base_kept"]
    fig, ax = figure(width=PAGE_WIDTH * 0.75, aspect=0.5)
    if len(kept) == 0:
        return fig
    net = [(result.arrays[f"base_W{d}"][kept[0]].astype(float),
            result.arrays[f"base_b{d}"][kept[0]].astype(float)) for d in range(config.depth + 1)]
    p = partition(net, dist.domain, activation=config.activation)
    k = classify(_profile(base, 0), config.thresholds())
    draw_density(ax, dist)
    seen = set()
    for (layer, i), kind in zip(base.arrays["neurons"], k.kind):
        name = KINDS[kind]
        ax.add_collection(LineCollection(folds(p, (layer, i)), colors=[KIND_COLORS[name]],
                                         linewidths=1.6 - 0.5 * layer,
                                         label=f"fold: {name}" if name not in seen else None))
        seen.add(name)
    ax.add_collection(LineCollection(decision_boundary(p), colors=["black"], linewidths=2.2,
                                     label="learned boundary"))
    draw_bayes_boundary(ax, dist)
    set_box(ax, dist.domain)
    ax.set_title("folds of every neuron (thinner: deeper layer), seed "
                 f"{int(kept[0])}")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Kind fractions vs every factor, the base cell's correlation plane, and one net's folds."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_factors(result), out / "kinds_vs_factors")
    paths += save(plot_correlations(result, config), out / "correlations")
    paths += save(plot_folds(result, config), out / "folds")
    return paths
