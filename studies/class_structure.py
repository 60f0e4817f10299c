"""Study ``class-structure``: do the Hessian outliers of tiny nets come from the class means?

Question. Papyan (2019, 2020) splits the Gauss-Newton part ``G`` of deep-net Hessians into a
class-mean term, cross-class terms and within-class covariances, and finds the top-``C``
outliers spanned by the ``C`` class-mean gradients and a "mini-bulk" of ``C(C - 1)``
eigenvalues from the cross-class terms. Does that structure exist in 2-12-12-C ReLU nets on
2-D blobs, in separated and overlapping worlds (labelled by their exact Bayes error), and
when does it form during training?

Method. Each world is one harness cell: ``seeds`` nets, each with its own initialisation and
training sample, trained by minibatch SGD. At every snapshot of every member, exactly in
float64 (``toylab.landscape.class_structure``): the class-mean gradients ``gbar_c`` and
Papyan's logit-gradient means ``delta_cc'``; the top-``C`` eigenspace of the Hessian ``H``;
the full eigendecomposition of ``G`` and of its class-mean term ``G_means``
(``toylab.landscape.means_term``). Measured per member, with nulls:

- ``overlap_class``: mean squared cosine of the principal angles between the top-``C``
  eigenspace of ``H`` and ``span{gbar_c}`` (null: the same seed at initialisation);
- ``overlap_logit``: the same with ``span{delta_cc'}`` (``C^2`` directions);
- ``overlap_means_term``: top-``C`` eigenspace of ``G`` vs that of ``G_means``;
- ``means_fraction``: ``tr G_means / tr G``, the share of ``G`` the class means carry;
- ``mini_bulk``: mean fraction of ``G``'s eigenvectors ``C + 1 .. C^2`` inside the span of
  the cross-class means ``{delta_cc', c != c'}`` (null: a random direction in the range of
  ``G`` has expected fraction ``C (C - 1) / rank G``).

Every headline is a mean over seeds with a bootstrap 95% interval.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from matplotlib.figure import Figure

import toylab.landscape as L
from studies.tiny_subspace import bayes_error, check_worlds, kept_rows, mean_band
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, World, WorldsConfig, headline, kept_members,
                          member_arrays)
from toylab.train import TrainConfig

NAME = "class-structure"
DESCRIPTION = ("Papyan's class structure of exact Hessians: top-C outliers vs class means, "
               "the C(C-1) mini-bulk, separated vs overlapping worlds, during training")

MEASURES = ("overlap_class", "overlap_logit", "overlap_means_term", "means_fraction",
            "mini_bulk", "mini_bulk_null")
"""Per (member, snapshot) measures, stored as ``(S, T)`` arrays."""

RANK_TOL = 1e-10
"""Eigenvalues of ``G`` above ``RANK_TOL * lambda_max`` count towards its rank."""


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of the ``class-structure`` study: worlds are ``(preset, k)`` pairs."""

    worlds: tuple[tuple[str, int], ...] = (("blobs", 3), ("blobs", 5), ("overlapping_blobs", 3),
                                           ("overlapping_blobs", 5))
    train: TrainConfig = TrainConfig(widths=(2, 12, 12, 3), optimizer="sgd", learning_rate=0.1,
                                     batch_size=32, steps=2000, snapshot_every=250)
    separated_below: float = 0.01

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one separated and one overlapping 3-class world, 2-8-8-3
        nets, 100 steps, 4 seeds."""
        return cls(worlds=(("blobs", 3), ("overlapping_blobs", 3)), n_train=128, seeds=4,
                   train=replace(cls.train, widths=(2, 8, 8, 3), steps=100, snapshot_every=50))

    def __post_init__(self):
        check_worlds(self.worlds)
        for _, k in self.worlds:
            if (k * k) * 2 > sum((a + 1) * b for a, b in zip(self.train.widths[:-1],
                                                              self.train.widths[1:])):
                raise ValueError(f"worlds={self.worlds!r}: k={k} needs at least 2 k^2 "
                                 "parameters for the mini-bulk; widen train.widths")

    def cell(self, preset: str, k: int) -> TrainCell:
        return self.cell_in(World(preset, (("k", k),)),
                            replace(self.train, widths=(*self.train.widths[:-1], k)))


def world_key(preset: str, k: int) -> str:
    return f"{preset}__k{k}"


# ----------------------------------------------------------------------------- compute


def snapshot_measures(net, X, y, activation: str) -> dict:
    """Papyan's class-structure measures of one network on its training data (see module
    docstring); ``G``'s eigenvalues are returned too."""
    cs = L.class_structure(net, X, y, activation=activation, curvature="hessian")
    C, P = cs.class_means.shape
    G = L.curvature_matrix(net, X, y, curvature="gauss_newton", activation=activation)
    g = L.eigendecomposition((G + G.T) / 2)
    means = L.means_term(cs)
    gm = L.eigendecomposition(means, k=C)
    cross = cs.logit_means[~np.eye(C, dtype=bool)]                  # (C (C - 1), P)
    rank = int(np.sum(g.eigenvalues > RANK_TOL * g.eigenvalues[0]))
    return {
        "overlap_class": cs.overlap,
        "overlap_logit": L.subspace_overlap(cs.top.eigenvectors, cs.logit_means.reshape(-1, P).T),
        "overlap_means_term": L.subspace_overlap(g.eigenvectors[:, :C], gm.eigenvectors),
        "means_fraction": np.trace(means) / np.trace(G),
        "mini_bulk": L.captured_fraction(g.eigenvectors[:, C:C * C], cross.T).mean(),
        "mini_bulk_null": C * (C - 1) / max(rank, C * (C - 1)),
        "g_eigenvalues": g.eigenvalues,
    }


def analyse(cell: TrainCell, run) -> tuple[dict, dict]:
    """Class-structure measures of every finite member at every snapshot: ``(S, T)`` arrays,
    and the final ``G`` spectrum ``(S, P)``."""
    X, y = cell.training_data()
    T = len(run.snapshot_steps)

    def member(i):
        rows = [snapshot_measures([(np.float64(W), np.float64(b)) for W, b in run.snapshot(i, t)],
                                  np.float64(X[i]), y[i], cell.train.activation)
                for t in range(T)]
        out = {m: [r[m] for r in rows] for m in MEASURES}
        out["g_spectrum"] = rows[-1]["g_eigenvalues"]
        return out

    return {}, member_arrays(run, member, desc="class structure")


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train every world's cell and summarise the class-structure measures at the end of
    training (nulls as in the module docstring)."""
    cells = ctx.train_cells([config.cell(*w) for w in config.worlds], analyse)
    arrays, records = {"snapshot_steps": config.train.snapshot_steps}, []
    for (preset, k), result in zip(config.worlds, cells):
        a, kept = result.arrays, kept_members(result)
        key = world_key(preset, k)
        for name in MEASURES + ("g_spectrum", "kept"):
            arrays[f"{name}__{key}"] = a[name]
        bayes = bayes_error(ctx, preset, k)
        record = {"preset": preset, "k": k, "bayes_error": bayes,
                  "world": "separated" if bayes < config.separated_below else "overlapping",
                  "diverged": result.summary["diverged"]}
        if kept:
            final, init = (lambda m: a[m][kept, -1]), (lambda m: a[m][kept, 0])
            record.update({m: headline(final(m), null=init(m)) for m in MEASURES[:4]})
            record["mini_bulk"] = headline(final("mini_bulk"), null=final("mini_bulk_null"))
            record["final_accuracy"] = headline(a["final_accuracy"][kept])
        records.append(record)
    summary = {"by_world": records,
               "nulls": {"overlap_*, means_fraction": "the same seed at initialisation",
                         "mini_bulk": "a random direction in the range of G: C (C-1) / rank G"}}
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def _panels(n: int):
    """A figure with one panel per world, two per row."""
    rows, cols = (n + 1) // 2, min(n, 2)
    fig, axes = figure(rows, cols, width=PAGE_WIDTH * 0.4 * cols, aspect=0.8, sharey=True)
    axes = np.asarray(axes).reshape(-1)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def plot_overlaps(result: StudyResult, config: Config):
    """Overlaps of the top-C eigenspaces with the class-mean directions vs step, one panel
    per world (mean and 95% interval over seeds)."""
    steps = result.arrays["snapshot_steps"]
    fig, axes = _panels(len(config.worlds))
    labels = {"overlap_class": "top-C of H vs class means",
              "overlap_logit": "top-C of H vs logit means",
              "overlap_means_term": "top-C of G vs of G_means",
              "mini_bulk": "mini-bulk in cross-class span"}
    for ax, (preset, k), record in zip(axes, config.worlds, result.summary["by_world"]):
        key = world_key(preset, k)
        for color, (name, label) in zip(PALETTE, labels.items()):
            mean_band(ax, steps, kept_rows(result, name, key), color=color, label=label)
        ax.plot(steps, kept_rows(result, "mini_bulk_null", key).mean(0), color=PALETTE[3],
                linestyle=":", label="mini-bulk null (random in range of G)")
        ax.set(xlabel="training step", ylim=(-0.02, 1.02),
               title=f"{preset.replace('_', ' ')} k={k} ({record['world']}, "
                     f"Bayes error {record['bayes_error']:.2g})")
        ax.title.set_fontsize(6)
    axes[0].set_ylabel("overlap / captured fraction")
    handles, labels_ = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="outside lower center", ncols=2, fontsize=5,
               title="mean, 95% interval")
    return fig


def plot_spectra(result: StudyResult, config: Config):
    """Final Gauss-Newton spectra (eigenvalue by rank, log scale) of every kept seed per
    world; dotted lines at ranks C and C^2."""
    fig, axes = _panels(len(config.worlds))
    for ax, (preset, k) in zip(axes, config.worlds):
        spectra = kept_rows(result, "g_spectrum", world_key(preset, k))
        top = spectra[:, : 3 * k * k]
        floor = 1e-12 * np.abs(spectra[:, :1])
        for row, f in zip(top, floor):
            ax.plot(np.arange(1, len(row) + 1), np.maximum(row, f), color=PALETTE[0],
                    alpha=0.3, linewidth=0.7)
        for rank, style in ((k, "--"), (k * k, ":")):
            ax.axvline(rank + 0.5, color="black", linestyle=style, linewidth=0.8)
        ax.set(yscale="log", xlabel="rank", title=f"{preset.replace('_', ' ')} k={k}")
    axes[0].set_ylabel("eigenvalue of G (final)")
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Overlap curves per world and the final Gauss-Newton spectra."""
    return {"overlaps": plot_overlaps(result, config),
            "spectra": plot_spectra(result, config)}
