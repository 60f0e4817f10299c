"""Study ``tiny-subspace``: does gradient descent happen in a tiny subspace for tiny nets?

Question. Gur-Ari, Roberts & Dyer (2018, arXiv 1812.04754) report that after a short initial
phase the gradient lies mostly in the span of the top ``k`` Hessian eigenvectors, ``k`` the
number of classes, and that this subspace barely changes afterwards; Sagun et al. (2017) and
Papyan (2019) count ``k``-ish Hessian outliers above a bulk. Do these hold for 2-D
Gaussian-blob problems with ``k`` in {2, 3, 10} classes, in separated and overlapping worlds
(each labelled by its exact Bayes error), for 2-12-12-k ReLU MLPs trained with full-batch GD
and minibatch SGD at the *same* learning rate (and a batch-size sweep at it)? (tanh, Adam and
other ``k`` are levels of the same grid.)

Method. Every (world, k, activation, optimizer) is one cell of the study harness: ``seeds``
networks, each with its own initialisation and its own training sample (``per_seed``). At
every parameter snapshot the exact float64 Hessian of the member's full training loss
(``toylab.landscape``) gives its top-``k`` eigenspace, the full-batch gradient's overlap
``|P_k g|^2 / |g|^2`` with it (null: the same seed at initialisation; a random direction
scores ``k / P``), the top eigenvalue ``lambda_max`` (``eta lambda_max`` against the
gradient-descent stability limit 2), the loss and the mean training margin; the overlap of
the first trained snapshot's top subspace with the final one measures its stability. At the
end of training the full spectrum gives the outlier count (largest log-gap rule,
``toylab.landscape.count_outliers``) per seed, against its null: the same network's Hessian
on the member's labels shuffled (no class structure left to produce outliers). The top-``k``
subspace is attributed to neurons through the diagonal of its projector
(``toylab.landscape.subspace_mass``). Every headline is a mean over seeds with a bootstrap
95% interval.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

import toylab.landscape as L
from toylab.models import apply, flatten
from toylab.plots.landscape import plot_neuron_heatmap, plot_spectrum
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, World, WorldsConfig, bootstrap_ci, headline,
                          kept_members, member_arrays)
from toylab.train import TrainConfig

NAME = "tiny-subspace"
DESCRIPTION = ("Hessian outliers vs number of classes (shuffled-label null); gradient in the "
               "top-k subspace (Gur-Ari et al. 2018) across optimizers and batch sizes")

CARRIER_FRACTION = 0.9
"""Neurons carrying this fraction of the top-k subspace's mass are its 'carriers'."""

MAIN_OPTIMIZERS = ("gd", "sgd", "adam")
"""Optimizer labels of the main grid: full-batch GD and minibatch SGD (both plain SGD updates
at ``train.learning_rate``), full-batch Adam (at ``adam_learning_rate``)."""

MEMBER_FIELDS = ("overlap", "stability", "lambda_max", "snapshot_loss", "margin", "spectrum",
                 "top", "shares", "outliers", "outliers_shuffled", "participation_ratio",
                 "carriers", "params")
"""Per-member arrays of every cell (row ``i`` is member ``i``; NaN rows for diverged ones)."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``tiny-subspace`` study.

    The default grid (ReLU; GD, SGD and the batch sweep; k = 2, 3, 10) is what fits the
    study budget; tanh and Adam are levels of the same grid (``--set
    "activations=('relu','tanh')" --set "optimizers=('gd','sgd','adam')"``).

    ``train`` holds the shared hyperparameters (hidden widths, steps, snapshots, the learning
    rate of GD and SGD); a cell sets the output width to ``k``, the activation, and the
    optimizer fields of its label (:meth:`train_config`).
    """

    datasets: tuple[str, ...] = ("blobs", "overlapping_blobs")
    ks: tuple[int, ...] = (2, 3, 10)
    activations: tuple[str, ...] = ("relu",)
    optimizers: tuple[str, ...] = ("gd", "sgd")
    train: TrainConfig = TrainConfig(widths=(2, 12, 12, 2), optimizer="sgd", learning_rate=0.1,
                                     steps=2000, snapshot_every=400)
    batch_size: int = 32
    batch_sizes: tuple[int, ...] = (8, 128)
    adam_learning_rate: float = 0.01
    separated_below: float = 0.01
    max_outliers: int = 20

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: k = 3 in both worlds, ReLU, GD / SGD and one more batch size,
        2-8-8-3 nets, 100 steps; well under a minute."""
        return cls(ks=(3,), activations=("relu",), optimizers=("gd", "sgd"),
                   train=replace(cls.train, widths=(2, 8, 8, 2), steps=100, snapshot_every=50),
                   batch_sizes=(8,), n_train=128, seeds=4)

    def __post_init__(self):
        unknown = set(self.optimizers) - set(MAIN_OPTIMIZERS)
        if unknown:
            raise ValueError(f"optimizers={self.optimizers!r} has unknown {sorted(unknown)}; "
                             f"choose from {MAIN_OPTIMIZERS}")
        if any(isinstance(k, bool) or int(k) != k or k < 2 for k in self.ks):
            raise ValueError(f"ks={self.ks!r} must be class counts >= 2")
        for b in (self.batch_size, *self.batch_sizes):
            if isinstance(b, bool) or int(b) != b or not 1 <= b <= self.n_train:
                raise ValueError(f"batch size {b!r} must be an integer in [1, n_train="
                                 f"{self.n_train}]; set batch_size / batch_sizes")
        if self.train.optimizer != "sgd":
            raise ValueError(f"train.optimizer={self.train.optimizer!r}: GD and SGD use plain "
                             "SGD updates; set train.optimizer=sgd (Adam is its own label)")
        if not 0 < self.separated_below < 1:
            raise ValueError(f"separated_below={self.separated_below!r} must be a Bayes error "
                             "in (0, 1), e.g. 0.01")

    def labels(self, activation: str) -> tuple[str, ...]:
        """Optimizer labels trained for ``activation``: the main ones, plus (for the first
        activation) SGD at every other batch size of the sweep, ``sgd-b{size}``."""
        sweep = tuple(f"sgd-b{b}" for b in self.batch_sizes if b != self.batch_size)
        return self.optimizers + (sweep if activation == self.activations[0] else ())

    def batch_of(self, label: str) -> int | None:
        """Minibatch size of a label (``None``: full batch)."""
        if label == "sgd":
            return self.batch_size
        if label.startswith("sgd-b"):
            return int(label[len("sgd-b"):])
        return None

    def train_config(self, k: int, activation: str, label: str) -> TrainConfig:
        widths = (*self.train.widths[:-1], k)
        if label == "adam":
            return replace(self.train, widths=widths, activation=activation, optimizer="adam",
                           learning_rate=self.adam_learning_rate, batch_size=None)
        return replace(self.train, widths=widths, activation=activation,
                       batch_size=self.batch_of(label))

    def settings(self) -> list[tuple[str, int, str, str]]:
        """Every ``(dataset, k, activation, label)`` of the grid, in order."""
        return [(d, k, a, label) for d, k, a in itertools.product(self.datasets, self.ks,
                                                                  self.activations)
                for label in self.labels(a)]

    def cell(self, dataset: str, k: int, activation: str, label: str) -> TrainCell:
        return self.cell_in(World(dataset, (("k", k),)), self.train_config(k, activation, label))


def check_worlds(worlds) -> None:
    """``worlds``: ``(preset, k)`` pairs naming a preset of ``toylab.data`` and a class count
    ``k >= 2``, else a ValueError naming the pair (shared by the landscape studies)."""
    for preset, k in worlds:
        if isinstance(k, bool) or int(k) != k or k < 2:
            raise ValueError(f"worlds={worlds!r}: k={k!r} of {preset!r} must be a class count "
                             ">= 2")
        World(preset, (("k", k),))


def check_full_batch_gd(train: TrainConfig) -> None:
    """A ValueError unless ``train`` is plain full-batch gradient descent."""
    if train.optimizer != "sgd" or train.batch_size is not None:
        raise ValueError(f"train.optimizer={train.optimizer!r}, train.batch_size="
                         f"{train.batch_size!r}: this study is about full-batch GD; set "
                         "train.optimizer=sgd and train.batch_size=None")


def setting_key(dataset: str, activation: str, label: str, k: int) -> str:
    """Stable name of one setting, used in array names and the summary table."""
    return f"{dataset}__{activation}__{label}__k{k}"


# ----------------------------------------------------------------------------- compute


def mean_margin(net, X, y, activation: str) -> float:
    """Mean over points of ``z_y - max_{c != y} z_c`` (negative: misclassified)."""
    z = apply(net, X, activation)
    own = np.take_along_axis(z, y[:, None], 1)[:, 0]
    other = np.where(np.eye(z.shape[1], dtype=bool)[y], -np.inf, z).max(1)
    return float(np.mean(own - other))


def _member(run, i: int, X, y, activation: str, k: int, max_outliers: int) -> dict:
    """Landscape measurements of member ``i`` along its snapshots (float64)."""
    T = len(run.snapshot_steps)
    snaps = [[(np.float64(W), np.float64(b)) for W, b in run.snapshot(i, t)] for t in range(T)]
    traj = L.trajectory_overlap(snaps, X, y, activation=activation, k=k)
    final = snaps[-1]
    spectrum = L.eigendecomposition(L.hessian(final, X, y, activation=activation),
                                    vectors=False).eigenvalues
    shuffled = np.random.default_rng([i, 1]).permutation(y)
    null_spectrum = L.eigendecomposition(L.hessian(final, X, shuffled, activation=activation),
                                         vectors=False).eigenvalues
    widths = (X.shape[1],) + tuple(W.shape[1] for W, _ in final)
    mass = L.subspace_mass(traj.subspaces[-1], widths)
    loss_curve = np.append(run.loss[i], run.final_loss[i])
    return {
        "overlap": traj.overlap,
        "stability": traj.similarity[:, -1],
        "lambda_max": traj.eigenvalues[:, 0],
        "snapshot_loss": loss_curve[run.snapshot_steps],
        "margin": [mean_margin(net, X, y, activation) for net in snaps],
        "spectrum": spectrum,
        "top": traj.subspaces[-1],
        "shares": mass.share,
        "outliers": L.count_outliers(spectrum, max_count=max_outliers),
        "outliers_shuffled": L.count_outliers(null_spectrum, max_count=max_outliers),
        "participation_ratio": mass.participation_ratio,
        "carriers": len(mass.carriers(CARRIER_FRACTION)),
        "params": flatten(final),
    }


def analyse(cell: TrainCell, run, max_outliers: int) -> tuple[dict, dict]:
    """Exact landscape measurements of every finite member of one cell."""
    X, y = cell.training_data()
    k = cell.train.widths[-1]
    arrays = member_arrays(run, lambda i: _member(run, i, np.float64(X[i]), y[i],
                                                  cell.train.activation, k, max_outliers),
                           desc="exact Hessians")
    return {}, arrays


def bayes_error(ctx: Context, dataset: str, k: int) -> float:
    """Exact Bayes error of ``dataset`` with ``k`` classes (cached: k = 10 takes seconds)."""
    world = World(dataset, (("k", k),))
    return ctx.cached("bayes", world, lambda w: ({"bayes_error": w.distribution().bayes_error()},
                                                 {})).summary["bayes_error"]


def _record(config: Config, setting, bayes: float, cell_result) -> tuple[dict, dict]:
    """Headline objects of one setting and its arrays (over kept members)."""
    dataset, k, activation, label = setting
    a, kept = cell_result.arrays, kept_members(cell_result)
    key = setting_key(dataset, activation, label, k)
    arrays = {f"{name}__{key}": a[name] for name in MEMBER_FIELDS + ("final_loss",
                                                                   "final_accuracy")}
    arrays[f"kept__{key}"] = a["kept"]
    record = {"dataset": dataset, "k": k, "activation": activation, "optimizer": label,
              "batch_size": config.batch_of(label),
              "learning_rate": config.train_config(k, activation, label).learning_rate,
              "bayes_error": bayes,
              "world": "separated" if bayes < config.separated_below else "overlapping",
              "diverged": cell_result.summary["diverged"],
              "random_direction_overlap": k / a["spectrum"].shape[1]}
    if not kept:
        return record, arrays
    overlap, outliers = a["overlap"][kept], a["outliers"][kept]
    record.update({
        "outliers_per_seed": [int(c) for c in outliers],
        "outliers": headline(outliers, null=a["outliers_shuffled"][kept]),
        "outliers_equal_k": headline(outliers == k, null=a["outliers_shuffled"][kept] == k),
        "overlap_final": headline(overlap[:, -1], null=overlap[:, 0]),
        "overlap_training": headline(overlap[:, 1:].mean(1), null=overlap[:, 0]),
        "stability": headline(a["stability"][kept, 1]),
        "lambda_max_final": headline(a["lambda_max"][kept, -1]),
        "participation_ratio": headline(a["participation_ratio"][kept]),
        "carriers": headline(a["carriers"][kept]),
        "final_loss": headline(a["final_loss"][kept]),
        "final_accuracy": headline(a["final_accuracy"][kept]),
    })
    if label != "adam":
        record["eta_lambda_max_final"] = headline(record["learning_rate"]
                                                  * a["lambda_max"][kept, -1])
    return record, arrays


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train every setting's cell (all at once) and summarise its exact landscape measures."""
    settings = config.settings()
    cells = ctx.train_cells([config.cell(*s) for s in settings],
                            lambda cell, run: analyse(cell, run, config.max_outliers),
                            settings={"max_outliers": config.max_outliers,
                                      "carrier_fraction": CARRIER_FRACTION})
    bayes = {(d, k): bayes_error(ctx, d, k) for d, k in itertools.product(config.datasets,
                                                                         config.ks)}
    records, arrays = [], {"snapshot_steps": config.train.snapshot_steps}
    for setting, cell_result in zip(settings, cells):
        record, arr = _record(config, setting, bayes[setting[:2]], cell_result)
        records.append(record)
        arrays.update(arr)
    summary = {
        "bayes_error": {d: {str(k): bayes[d, k] for k in config.ks} for d in config.datasets},
        "world": {d: {str(k): "separated" if bayes[d, k] < config.separated_below
                      else "overlapping" for k in config.ks} for d in config.datasets},
        "outlier_rule": (f"largest log-gap among the top {config.max_outliers + 1} eigenvalues "
                         "of the final exact Hessian (toylab.landscape.count_outliers); null: "
                         "the same network's Hessian on its labels shuffled"),
        "overlap_null": "the same seed at initialisation (step 0); a random direction: k / P",
        "by_setting": records,
    }
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def kept_rows(result: StudyResult, name: str, key: str) -> np.ndarray:
    """Kept members' rows of the per-member array ``{name}__{key}`` (members listed in
    ``kept__{key}``)."""
    return result.arrays[f"{name}__{key}"][result.arrays[f"kept__{key}"]]


def mean_band(ax, steps, curves, *, color: str, label: str) -> None:
    """Mean over seeds (line) with its bootstrap 95% interval (band) of ``curves (S, T)``."""
    curves = np.asarray(curves, np.float64)
    if curves.shape[0] == 0:
        return
    ci = np.array([bootstrap_ci(column, n_resamples=999) for column in curves.T])
    ax.fill_between(steps, ci[:, 0], ci[:, 1], color=color, alpha=0.25, linewidth=0)
    ax.plot(steps, curves.mean(0), color=color, marker="o", markersize=2,
            label=f"{label} ({curves.shape[0]} seeds)")


def _by(result: StudyResult, **match) -> dict | None:
    for r in result.summary["by_setting"]:
        if all(r[f] == v for f, v in match.items()):
            return r
    return None


def plot_outliers_vs_k(result: StudyResult, config: Config):
    """Outlier count per seed (dots) and mean with 95% interval vs k, per activation and
    optimizer; grey: the shuffled-label null; one panel per data set."""
    fig, axes = figure(1, len(config.datasets), width=PAGE_WIDTH * 0.4 * len(config.datasets),
                       aspect=0.8, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    ks = np.array(config.ks)
    combos = list(itertools.product(config.activations, config.optimizers))
    for ax, dataset in zip(axes, config.datasets):
        for n, (color, (activation, label)) in enumerate(zip(itertools.cycle(PALETTE), combos)):
            offset = np.exp((n - (len(combos) - 1) / 2) * 0.05)  # side by side on a log axis
            rows = [_by(result, dataset=dataset, k=int(k), activation=activation,
                        optimizer=label) for k in ks]
            for k, r in zip(ks, rows):
                ax.scatter(np.full(len(r.get("outliers_per_seed", [])), k * offset),
                           r.get("outliers_per_seed", []), s=4, color=color, alpha=0.4)
            have = [r for r in rows if "outliers" in r]
            x = np.array([r["k"] for r in have]) * offset
            mean = np.array([r["outliers"]["value"] for r in have])
            ci = np.array([r["outliers"]["ci95"] for r in have]).reshape(-1, 2)
            ax.errorbar(x, mean, yerr=np.abs(ci.T - mean), color=color, marker="o",
                        markersize=3, capsize=2, label=f"{activation}, {label}")
            if n == 0:
                null = np.array([r["outliers"]["null"]["value"] for r in have])
                ax.plot(x / offset, null, color="grey", marker="x", linestyle=":",
                        label="shuffled labels (null)")
        ax.plot(ks, ks, color="black", linestyle="--", linewidth=0.8, label="k")
        errors = result.summary["bayes_error"][dataset]
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ks, [f"{k}\n{errors[str(k)]:.1g}" for k in ks])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set(xlabel="k (Bayes error below)", title=dataset.replace("_", " "))
    axes[0].set_ylabel("Hessian outliers at end")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=5)
    return fig


def plot_overlap_curves(result: StudyResult, config: Config, dataset: str, k: int):
    """Gradient overlap with the top-k subspace vs step, one panel per activation, mean and
    95% interval per optimizer (main labels)."""
    steps = result.arrays["snapshot_steps"]
    fig, axes = figure(1, len(config.activations), width=PAGE_WIDTH * 0.4
                       * len(config.activations), aspect=0.8, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    for ax, activation in zip(axes, config.activations):
        for color, label in zip(PALETTE, config.optimizers):
            key = setting_key(dataset, activation, label, k)
            mean_band(ax, steps, kept_rows(result, "overlap", key), color=color, label=label)
        ax.set(xlabel="training step", ylim=(-0.02, 1.02), title=f"{activation}")
    r = _by(result, dataset=dataset, k=k)
    axes[0].set_ylabel(f"gradient overlap with top-{k}")
    fig.suptitle(f"{dataset.replace('_', ' ')}, k = {k} ({r['world']}, Bayes error "
                 f"{r['bayes_error']:.2g})", fontsize=7)
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=5,
               title="mean, 95% interval")
    return fig


def plot_batch_sweep(result: StudyResult, config: Config):
    """Final and mean-during-training gradient overlap vs minibatch size at the one learning
    rate (GD drawn at ``n_train``), first activation, one line per k; one panel per data
    set and measure."""
    activation = config.activations[0]
    labels = [lab for lab in config.labels(activation) if lab != "adam"]
    fig, axes = figure(2, len(config.datasets), width=PAGE_WIDTH * 0.4 * len(config.datasets),
                       aspect=1.2, sharex=True, sharey=True)
    axes = np.asarray(axes).reshape(2, -1)
    for j, dataset in enumerate(config.datasets):
        for color, k in zip(PALETTE, config.ks):
            rows = sorted((config.batch_of(lab) or config.n_train,
                           _by(result, dataset=dataset, k=k, activation=activation,
                               optimizer=lab)) for lab in labels)
            rows = [(b, r) for b, r in rows if "overlap_final" in r]
            for i, field in enumerate(("overlap_final", "overlap_training")):
                b = np.array([b for b, _ in rows])
                v = np.array([r[field]["value"] for _, r in rows])
                ci = np.array([r[field]["ci95"] for _, r in rows]).reshape(-1, 2)
                axes[i, j].errorbar(b, v, yerr=np.abs(ci.T - v), color=color, marker="o",
                                    markersize=3, capsize=2, label=f"k = {k}")
        axes[0, j].set_title(dataset.replace("_", " "))
        axes[1, j].set(xscale="log", xlabel=f"batch size (lr {config.train.learning_rate}; "
                                            f"{config.n_train} = GD)")
    axes[0, 0].set_ylabel("final overlap")
    axes[1, 0].set_ylabel("overlap during training")
    handles, labels_ = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncols=len(config.ks), fontsize=5)
    return fig


def plot_sharpness(result: StudyResult, config: Config):
    """``eta lambda_max`` vs step for GD and SGD (first activation), one line per k; the
    dashed line is gradient descent's stability limit 2."""
    steps = result.arrays["snapshot_steps"]
    activation = config.activations[0]
    labels = [lab for lab in ("gd", "sgd") if lab in config.optimizers]
    fig, axes = figure(len(labels), len(config.datasets), width=PAGE_WIDTH * 0.4
                       * len(config.datasets), aspect=0.6 * len(labels), sharex=True)
    axes = np.asarray(axes).reshape(len(labels), -1)
    for i, label in enumerate(labels):
        for j, dataset in enumerate(config.datasets):
            ax = axes[i, j]
            for color, k in zip(PALETTE, config.ks):
                key = setting_key(dataset, activation, label, k)
                mean_band(ax, steps, config.train.learning_rate
                          * kept_rows(result, "lambda_max", key), color=color, label=f"k = {k}")
            ax.axhline(2.0, color="black", linestyle="--", linewidth=0.8)
            ax.set(yscale="log", title=f"{dataset.replace('_', ' ')}, {label}")
        axes[i, 0].set_ylabel("eta lambda_max")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    handles, labels_ = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncols=len(config.ks), fontsize=5)
    return fig


def plot_stability(result: StudyResult, config: Config):
    """Overlap of each snapshot's top-k subspace with the final one (first data set,
    activation and optimizer), one line per k."""
    steps = result.arrays["snapshot_steps"]
    dataset, activation, label = config.datasets[0], config.activations[0], config.optimizers[0]
    fig, ax = figure(aspect=0.8)
    for color, k in zip(PALETTE, config.ks):
        key = setting_key(dataset, activation, label, k)
        mean_band(ax, steps, kept_rows(result, "stability", key), color=color, label=f"k = {k}")
    ax.set(xlabel="training step", ylabel="overlap of top-k subspace with final",
           ylim=(-0.02, 1.02), title=f"{dataset.replace('_', ' ')}, {activation}, {label}")
    ax.legend(loc="lower right", fontsize=5)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Outliers vs k; overlap curves per world and k; batch-size sweep; eta lambda_max;
    subspace stability; spectrum and neuron participation of one seed per k."""
    dataset, activation, label = config.datasets[0], config.activations[0], config.optimizers[0]
    out = {"outliers_vs_k": plot_outliers_vs_k(result, config),
           "batch_sweep": plot_batch_sweep(result, config),
           "sharpness": plot_sharpness(result, config),
           "stability": plot_stability(result, config)}
    for d, k in itertools.product(config.datasets, config.ks):
        out[f"overlap_{d}_k{k}"] = plot_overlap_curves(result, config, d, k)
    for k in config.ks:
        key = setting_key(dataset, activation, label, k)
        spectra = kept_rows(result, "spectrum", key)
        if len(spectra) == 0:
            continue  # every seed diverged
        out[f"spectrum_{dataset}_k{k}"] = plot_spectrum(spectra[0], n_outliers=int(
            kept_rows(result, "outliers", key)[0]))
        widths = (*config.train.widths[:-1], k)
        neurons, _, _ = L.neuron_table(widths)
        out[f"neurons_{dataset}_k{k}"] = plot_neuron_heatmap(
            L.neuron_shares(kept_rows(result, "top", key)[0], widths), neurons)
    return out
