"""Study ``hessian-neurons``: which neurons do the sharp directions of the loss landscape
involve, and what does moving along them do in input space?

Question. At the end of training, the Hessian of the training loss has a few outlying large
eigenvalues and a bulk near zero. Do the sharp (top) eigenvectors involve few or many
neurons, and which? Moving the parameters along an eigenvector moves the decision boundary
and every neuron's fold (where it switches off) in input space: do the top directions move
the boundary through the data, while bulk directions move neurons where there is no data?

Method. Train an ensemble of 2-8-8-2 ReLU nets on ``toylab.data.curved`` (two classes with
unequal covariances). For each seed: the exact Hessian of the training loss
(``toylab.landscape.hessian``), its eigendecomposition, the outlier count
(``count_outliers``); the ``top_store`` largest eigenvectors and ``bulk_samples`` eigenvectors
evenly spaced over the middle half of the spectrum (the bulk). Neuron participation:
``toylab.landscape.neuron_shares`` and the participation ratio. Input-space motion: on the
exact partition over a box holding all but 1e-12 of the mass, the exact first-order change
of every region's affine maps along each unit eigenvector
(``toylab.landscape.first_order_change``, ``jax.jvp`` of the region maps) gives the normal
velocity ``w`` of every boundary and fold segment; closed-form line integrals of ``|w|``
against the data density (``toylab.compare.landscape_neurons``) give the boundary's mean
normal speed weighted by the density along it, the probability mass swept by the folds per
unit step, and the mean data density where the folds move.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.stats
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm

from toylab import data
from toylab.compare.landscape_neurons import direction_motion, fold_velocity, participation
from toylab.exact.boundary import folds
from toylab.exact.population import population_partition
from toylab.landscape import count_outliers, eigendecomposition, first_order_change, hessian
from toylab.plots import save
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult, progress
from toylab.train import TrainConfig, diverged_seeds, train_ensemble
from toylab.models import to_float64

SPEED_RANGE = (1e-3, 1e1)
"""Colour range of the normal-speed maps (input units per unit parameter step)."""

NAME = "hessian-neurons"
DESCRIPTION = "Neurons in the sharp Hessian directions and the exact input-space motion they cause"


@dataclass(frozen=True)
class Config:
    """Settings of the ``hessian-neurons`` study."""

    distribution: str = "curved"
    n_train: int = 512
    data_seed: int = 0
    widths: tuple[int, ...] = (2, 8, 8, 2)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    snapshot_every: int = 2000
    max_outliers: int = 10
    top_store: int = 6
    bulk_samples: int = 16
    seeds: int = 5

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration (a few seconds; shares its training compile with the other
        studies' quick configs)."""
        return cls(n_train=128, widths=(2, 4, 4, 2), steps=200, snapshot_every=100,
                   top_store=2, bulk_samples=2, seeds=2)

    def distribution_(self) -> data.GaussianMixture:
        return data.make(self.distribution)

    def train_config(self) -> TrainConfig:
        return TrainConfig(widths=self.widths, activation=self.activation,
                           optimizer=self.optimizer, learning_rate=self.learning_rate,
                           steps=self.steps, snapshot_every=self.snapshot_every)


def direction_indices(n_params: int, top: int, bulk: int) -> np.ndarray:
    """Eigenvector ranks studied: the ``top`` largest, then ``bulk`` ranks evenly spaced over
    the middle half ``[P/4, 3P/4]`` of the spectrum (descending order)."""
    middle = np.linspace(n_params // 4, (3 * n_params) // 4, bulk).round().astype(int)
    return np.concatenate([np.arange(top), middle])


def _seed_result(net, X, y, dist, config: Config) -> dict:
    H = hessian(net, X, y, activation=config.activation)
    spectrum = eigendecomposition((H + H.T) / 2)
    idx = direction_indices(len(spectrum.eigenvalues), config.top_store, config.bulk_samples)
    V = spectrum.eigenvectors[:, idx]
    p = population_partition(net, dist, activation=config.activation)
    motion = direction_motion(p, dist, V)
    part = participation(V, config.widths)
    n_hidden = len(motion.neurons)
    return {
        "eigenvalues": spectrum.eigenvalues,
        "eigenvectors": V,
        "outliers": count_outliers(spectrum.eigenvalues, max_count=config.max_outliers),
        "indices": idx,
        "ratio": part.ratio,
        "layer_shares": part.layer_shares,
        "shares": part.shares[:n_hidden],
        "boundary_mass": motion.boundary_mass,
        "boundary_flux": motion.boundary_flux,
        "boundary_motion": motion.boundary_motion,
        "fold_mass": motion.fold_mass[0],
        "fold_flux": motion.fold_flux,
        "fold_density": motion.fold_density,
    }


def _groups(stack: dict, top_store: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean ``(S, n_dirs)`` masks of the top (outlier) and the bulk directions per seed."""
    S, n_dirs = stack["ratio"].shape
    rank = np.arange(n_dirs)[None, :]
    k = np.minimum(stack["outliers"], top_store)[:, None]
    top = rank < k
    return top, np.broadcast_to(rank >= top_store, (S, n_dirs))


def _medians(values: np.ndarray, mask: np.ndarray) -> list[float]:
    """Per seed, the median of ``values`` over the directions in ``mask`` (both ``(S, n)``)."""
    return [float(np.median(v[m])) for v, m in zip(values, mask)]


def compute(config: Config) -> tuple[dict, dict]:
    """Train; per seed, Hessian spectrum, neuron participation and input-space motion of the
    top and bulk eigenvectors."""
    dist = config.distribution_()
    train_set = dist.sample(config.data_seed, config.n_train)
    seeds = np.arange(config.seeds)
    run = train_ensemble(train_set.X, train_set.y, seeds, config=config.train_config(),
                         on_divergence="report", progress=True)
    bad = {seed for seed, _ in diverged_seeds(run)}
    kept = [i for i, s in enumerate(seeds) if s not in bad]
    per_seed = [_seed_result(to_float64(run.member(i)), train_set.X, train_set.y, dist, config)
                for i in progress(kept, desc="Hessians and motions")]
    stack = {key: np.array([r[key] for r in per_seed]) for key in per_seed[0]}
    top, bulk = _groups(stack, config.top_store)
    speed = stack["boundary_flux"] / stack["boundary_mass"]
    swept = stack["fold_flux"].sum(-1)
    density = stack["fold_density"]
    hidden_top_share = np.array([s[:, m].mean(1) for s, m in zip(stack["shares"], top)])
    rho = [scipy.stats.spearmanr(share, mass).statistic
           for share, mass in zip(hidden_top_share, stack["fold_mass"])]
    per = {
        "outliers": stack["outliers"].tolist(),
        "top_eigenvalues": stack["eigenvalues"][:, : config.top_store].tolist(),
        "participation_ratio_top": _medians(stack["ratio"], top),
        "participation_ratio_bulk": _medians(stack["ratio"], bulk),
        "boundary_speed_top": _medians(speed, top),
        "boundary_speed_bulk": _medians(speed, bulk),
        "fold_swept_mass_top": _medians(swept, top),
        "fold_swept_mass_bulk": _medians(swept, bulk),
        "fold_motion_density_top": _medians(density, top),
        "fold_motion_density_bulk": _medians(density, bulk),
        "logit_layer_share_top": _medians(stack["layer_shares"][:, -1], top),
        "logit_layer_share_bulk": _medians(stack["layer_shares"][:, -1], bulk),
        "spearman_top_share_vs_fold_mass": [float(r) for r in rho],
    }
    ratio = lambda a, b: [float(x / y) if y > 0 else None for x, y in zip(per[a], per[b])]
    summary = {
        "seeds": len(seeds),
        "diverged": sorted(int(s) for s in bad),
        "bayes_error": dist.bayes_error(),
        "n_params": int(stack["eigenvalues"].shape[1]),
        "per_seed": per,
        "median": {key: float(np.nanmedian(np.array(v, float))) for key, v in per.items()
                   if key != "top_eigenvalues"},
        "top_over_bulk": {
            "boundary_speed": ratio("boundary_speed_top", "boundary_speed_bulk"),
            "fold_swept_mass": ratio("fold_swept_mass_top", "fold_swept_mass_bulk"),
            "fold_motion_density": ratio("fold_motion_density_top", "fold_motion_density_bulk"),
        },
    }
    arrays = {"seeds": seeds, "kept": np.asarray(kept), "X": train_set.X, "y": train_set.y,
              "top": top, "bulk": bulk, "boundary_speed": speed, "fold_swept_mass": swept,
              "fold_motion_density": density}
    arrays.update(stack)
    for depth, (W, b) in enumerate(run.layers):
        arrays[f"W{depth}"], arrays[f"b{depth}"] = W[kept], b[kept]
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _config_of(result: StudyResult) -> Config:
    return replace(Config(), **{k: tuple(v) if isinstance(v, list) else v
                                for k, v in result.config.items()})


def _scatter_groups(ax, x, y, top, bulk) -> None:
    """Bulk, leading non-outlier and outlier eigenvectors in three styles."""
    rest = ~top & ~bulk
    ax.scatter(x[bulk], y[bulk], s=8, color=PALETTE[0], alpha=0.7, edgecolor="none",
               label="bulk eigenvectors")
    ax.scatter(x[rest], y[rest], s=8, color="0.55", edgecolor="none",
               label="leading, not outliers")
    ax.scatter(x[top], y[top], s=14, color=PALETTE[5], marker="D", edgecolor="none",
               label="top (outlier) eigenvectors")


def plot_spectrum(result: StudyResult, config: Config):
    """Spectrum, participation ratio and logit-layer share of the studied eigenvectors."""
    a = result.arrays
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=0.9)
    ax_spec, ax_pr, ax_layer = axes[0]
    for s, ev in enumerate(a["eigenvalues"]):
        ax_spec.plot(np.arange(1, ev.size + 1), ev, color=PALETTE[0], lw=0.8, alpha=0.6,
                     label="seeds" if s == 0 else None)
        k = a["outliers"][s]
        ax_spec.scatter(np.arange(1, k + 1), ev[:k], color=PALETTE[5], s=10, zorder=3,
                        label="outliers" if s == 0 else None)
    ax_spec.set_yscale("symlog", linthresh=1e-4)
    ax_spec.set(xscale="log", xlabel="eigenvalue rank", ylabel="Hessian eigenvalue",
                title="(a) training-loss Hessian spectrum")
    ax_spec.legend(fontsize=6)
    rank = a["indices"] + 1
    _scatter_groups(ax_pr, rank, a["ratio"], a["top"], a["bulk"])
    n_neurons = sum(config.widths[1:])
    ax_pr.axhline(n_neurons, color="black", ls=":", lw=0.8, label=f"all {n_neurons} neurons")
    ax_pr.set(xscale="log", xlabel="eigenvalue rank", ylabel="participation ratio (neurons)",
              title="(b) neurons involved", ylim=(0, n_neurons + 1))
    ax_pr.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.33), ncol=2)
    _scatter_groups(ax_layer, rank, a["layer_shares"][:, -1], a["top"], a["bulk"])
    ax_layer.set(xscale="log", xlabel="eigenvalue rank", ylabel="share on logit neurons",
                 title="(c) share of the output layer", ylim=(0, 1))
    return fig


def plot_motion(result: StudyResult, config: Config):
    """Boundary speed (density-weighted) and where folds move, per studied eigenvector."""
    a = result.arrays
    rank = a["indices"] + 1
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=0.9)
    panels = (("boundary_speed", "boundary speed, density-weighted\n(input units per unit step)",
               "(a) decision boundary"),
              ("fold_swept_mass", "probability swept by folds\nper unit step",
               "(b) folds: data-weighted"),
              ("fold_motion_density", "mean data density where folds move\n(per unit area)",
               "(c) folds: in or out of the data?"))
    for ax, (key, ylabel, title) in zip(axes[0], panels):
        _scatter_groups(ax, rank, np.maximum(a[key], 1e-300), a["top"], a["bulk"])
        ax.set(xscale="log", yscale="log", xlabel="Hessian eigenvalue rank", ylabel=ylabel,
               title=title)
    axes[0, 0].legend(fontsize=6)
    return fig


def _draw_direction(ax, p, dist, v, title: str, norm: LogNorm):
    """Boundary and folds coloured by their normal speed along ``v``, over the density."""
    change = first_order_change(p, v)
    pieces, speeds = [change.segments], [np.abs(change.velocity).mean(1)]
    for layer, width in enumerate(p.widths[1:-1]):
        for i in range(width):
            segs = folds(p, (layer, i))
            segs, vel = fold_velocity(p, change, (layer, i), segments=segs)
            pieces.append(segs)
            speeds.append(np.abs(vel).mean(1))
    segments, speed = np.concatenate(pieces), np.concatenate(speeds)
    draw_density(ax, dist)
    lines = LineCollection(segments, array=np.maximum(speed, norm.vmin), cmap=SEQUENTIAL,
                           norm=norm, linewidths=1.2)
    ax.add_collection(lines)
    ax.add_collection(LineCollection(change.segments, colors=PALETTE[5], linewidths=3.5,
                                     alpha=0.35, zorder=1, label="learned boundary"))
    draw_bayes_boundary(ax, dist)
    set_box(ax, dist.domain)
    ax.set_title(title)
    ax.legend(fontsize=5, loc="lower left", framealpha=0.9)
    return lines


def plot_directions(result: StudyResult, config: Config):
    """Seed 0: input-space speed of boundary and folds along the top eigenvector and a bulk one."""
    a = result.arrays
    dist = config.distribution_()
    net = [(a[f"W{d}"][0].astype(float), a[f"b{d}"][0].astype(float))
           for d in range(len(config.widths) - 1)]
    p = population_partition(net, dist, activation=config.activation)
    bulk = config.top_store + config.bulk_samples // 2  # column of the middle bulk direction
    fig, axes = figure(2, 1, width=PAGE_WIDTH * 0.6, aspect=0.55)
    norm = LogNorm(SPEED_RANGE[0], SPEED_RANGE[1], clip=True)
    for ax, column, label in ((axes[0, 0], 0, "top eigenvector"),
                              (axes[1, 0], bulk, "bulk eigenvector")):
        rank = int(a["indices"][0, column])
        lines = _draw_direction(ax, p, dist, a["eigenvectors"][0, :, column],
                                f"{label} (rank {rank + 1}), $\\lambda$ = "
                                f"{a['eigenvalues'][0, rank]:.2g}", norm)
    fig.colorbar(lines, ax=axes[:, 0], shrink=0.9, location="bottom", extend="both",
                 label="normal speed of boundary and folds\n(input units per unit parameter step)")
    return fig


def make_figures(result: StudyResult, out: Path) -> list[Path]:
    """Spectrum and participation, input-space motion statistics, one seed's motion maps."""
    config = _config_of(result)
    out = Path(out)
    paths = save(plot_spectrum(result, config), out / "spectrum_participation")
    paths += save(plot_motion(result, config), out / "motion")
    paths += save(plot_directions(result, config), out / "directions")
    return paths
