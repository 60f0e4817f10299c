"""Study ``hessian-neurons``: which neurons do the sharp directions of the loss landscape
involve, and what does moving along them do in input space -- beyond what their curvature
alone predicts?

Question. At the end of training, the Hessian of the training loss has a few outlying large
eigenvalues, a bulk, an exact null space and near-null symmetry directions. Do the sharp
(top) eigenvectors involve few or many neurons? Moving the parameters along a direction moves
the decision boundary and every neuron's fold in input space; the Gauss-Newton identity
``v^T G v = mean_n |J_n v|^2_{H_out}`` already says that a direction of curvature ``lambda``
moves the training logits at a rate ~ ``sqrt(lambda)``. So: does the boundary speed follow
``sqrt(lambda)``, and do eigenvectors move the boundary more than random directions of the same
curvature?

Method. Every seed trains a 2-8-8-2 ReLU net on its own sample of ``toylab.data.curved``
(harness cell, Adam, full batch; He weights and ``N(0, 1)`` biases, so the first-layer folds
do not all start through the origin). Per seed: the exact training-loss Hessian
(``toylab.landscape.hessian``) and its eigendecomposition. Two kinds of eigenvectors are
set aside: the *null space*, ``|lambda| <= null_cut * lambda_max`` (exact zeros: the
two-class cross-entropy is invariant to shifting both logits, and dead units; ~8 orders of
magnitude below the rest; swept over the cut), and the *symmetry directions*, eigenvectors
mostly in the span of the neurons' rescaling tangents (the loss is constant along them, but
away from a critical point their curvature is ~ ``|gradient|``, not zero). Studied directions,
per seed:

* ``top``: the ``top_store`` leading eigenvectors (the outliers among them by the largest
  log-gap, ``toylab.landscape.count_outliers``);
* ``bulk``: ``bulk_samples`` eigenvectors evenly spaced in rank over the positive eigenvalues
  below the top, null space and symmetry directions excluded (and negative curvature);
* ``matched``: for every top and bulk eigenvector ``v_i`` a random unit direction orthogonal to
  it, made of positive-curvature eigenvectors, with the same Rayleigh quotient
  ``u^T H u = lambda_i`` (:func:`matched_direction`; none for the largest and the smallest
  usable eigenvalue, which no such mix reaches);
* ``random``: isotropic random unit directions.

For each direction: its curvature ``u^T H u``; neuron participation
(``toylab.compare.landscape_neurons.participation``); on the exact partition over a box
holding all but 1e-12 of the mass, the exact first-order normal velocity of the decision
boundary and of every fold, integrated in closed form against the data density
(``direction_motion``): the boundary's density-weighted mean normal speed, the probability
swept by the folds per unit step, and the mean density where the folds move. The
``sqrt(lambda)`` prediction is tested by the per-seed log-log slope of boundary speed against
curvature (prediction 0.5). Outlier counts are compared with the Hessian of the same net on its
training inputs with shuffled labels.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.stats
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from toylab.compare.landscape_neurons import (direction_motion, first_order_change,
                                              fold_velocity, participation)
from toylab.exact.boundary import folds
from toylab.exact.population import population_partition
from toylab.landscape import (captured_fraction, count_outliers, eigendecomposition, hessian,
                              rescaling_direction)
from toylab.landscape.subspace import NUMERICAL_ZERO
from toylab.models import widths_of
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult
from toylab.study import (Context, EnsembleConfig, TrainCell, World, headline, kept_members,
                          load_layers, member_arrays, threshold_sweep)
from toylab.train import TrainConfig

NAME = "hessian-neurons"
DESCRIPTION = "Neurons in the sharp Hessian directions and the exact input-space motion they cause"

SPEED_RANGE = (1e-3, 1e1)
"""Colour range of the normal-speed maps (input units per unit parameter step)."""

KINDS = ("top", "bulk", "matched", "random")
"""Kinds of studied directions (module docstring), in column order."""

NULL_CUTS = (1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8)
"""Relative cuts of the null-space dimension sweep."""

SYMMETRY_OVERLAP = 0.5
"""An eigenvector with more than this fraction in the span of the rescaling tangents is a
symmetry direction, excluded from the bulk and from matched directions."""

PER_DIRECTION = ("curvature", "speed", "swept", "density", "ratio", "logit_share")
"""Per (member, direction) arrays: ``u^T H u``, density-weighted boundary speed, probability
swept by all folds per unit step, mean density where folds move, participation ratio, share
of the logit layer."""


@dataclass(frozen=True)
class Config(EnsembleConfig):
    """Settings of the ``hessian-neurons`` study."""

    world: World = World("curved")
    train: TrainConfig = TrainConfig(widths=(2, 8, 8, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000,
                                     bias_init="normal", bias_std=1.0)
    max_outliers: int = 10
    top_store: int = 6
    bulk_samples: int = 12
    random_directions: int = 8
    null_cut: float = NUMERICAL_ZERO

    def __post_init__(self):
        for name in ("top_store", "bulk_samples", "random_directions", "max_outliers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not 0 < self.null_cut < 1:
            raise ValueError(f"null_cut={self.null_cut!r} must lie in (0, 1), e.g. 1e-12 "
                             "(relative to the largest eigenvalue)")

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: 2-4-4-2 nets, 200 steps, 4 seeds, 3 + 3 + 6 + 2 directions."""
        return cls(n_train=128, train=replace(cls.train, widths=(2, 4, 4, 2), steps=200,
                                              snapshot_every=200),
                   top_store=3, bulk_samples=3, random_directions=2, seeds=4)

    def settings(self) -> dict:
        """The analysis parameters a cell's cache key needs."""
        return {"max_outliers": self.max_outliers, "top_store": self.top_store,
                "bulk_samples": self.bulk_samples, "random_directions": self.random_directions,
                "null_cut": self.null_cut}

    def kinds(self) -> np.ndarray:
        """``(D,)`` index into :data:`KINDS` of every studied direction (column)."""
        eig = self.top_store + self.bulk_samples
        return np.repeat(np.arange(4), [self.top_store, self.bulk_samples, eig,
                                        self.random_directions])


# ----------------------------------------------------------------------------- directions


def null_mask(eigenvalues: np.ndarray, cut: float) -> np.ndarray:
    """``(P,)`` bool: eigenvalues at numerical zero, ``|lambda| <= cut * lambda_max``."""
    return np.abs(eigenvalues) <= cut * max(eigenvalues.max(), 0.0)


def symmetry_overlap(net, eigenvectors: np.ndarray) -> np.ndarray:
    """``(P,)`` fraction of each eigenvector in the span of the hidden neurons' rescaling
    tangents (``toylab.landscape.rescaling_direction``). Along a tangent the loss is constant,
    but away from a critical point ``H t = -D g`` (``D = diag(+-1)``), so these directions have
    small non-zero curvature ~ ``|g|`` instead of an exact zero."""
    widths = widths_of(net)
    tangents = np.stack([rescaling_direction(net, l, i) for l, w in enumerate(widths[1:-1])
                         for i in range(w)], 1)
    return captured_fraction(eigenvectors, tangents)


def excluded_directions(eigenvalues: np.ndarray, overlap: np.ndarray, cut: float) -> np.ndarray:
    """``(P,)`` bool: the exact null space (:func:`null_mask`) and the eigenvectors mostly
    (> :data:`SYMMETRY_OVERLAP`) along the rescaling symmetries."""
    return null_mask(eigenvalues, cut) | (overlap > SYMMETRY_OVERLAP)


def bulk_ranks(eigenvalues: np.ndarray, excluded: np.ndarray, top: int,
               count: int) -> np.ndarray:
    """``count`` ranks evenly spaced over the positive, not ``excluded`` eigenvalues of rank
    >= ``top`` (``eigenvalues`` descending).

    Raises:
        ValueError: when no such eigenvalue exists.
    """
    usable = np.flatnonzero((eigenvalues > 0) & ~excluded)
    usable = usable[usable >= top]
    if not usable.size:
        raise ValueError(f"no positive eigenvalue outside the null space and the symmetries "
                         f"below rank {top}; lower top_store")
    return usable[np.linspace(0, usable.size - 1, count).round().astype(int)]


def matched_direction(eigenvalues: np.ndarray, eigenvectors: np.ndarray, rank: int,
                      excluded: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A random unit direction orthogonal to eigenvector ``rank`` with the same Rayleigh
    quotient ``u^T H u = lambda_rank``, made of positive-curvature eigenvectors only (a mix
    with negative curvature would match ``lambda`` by cancellation, while the Gauss-Newton
    part, which sets the speed, stays large).

    Gaussian coefficients on the not ``excluded`` eigenvectors with larger (``hi``) and
    smaller but positive (``lo``) eigenvalues give two random unit directions ``g_hi``,
    ``g_lo`` with curvatures ``a > lambda > b``; ``u = sqrt(q) g_hi + sqrt(1 - q) g_lo`` with
    ``q = (lambda - b) / (a - b)`` (orthogonal parts, so ``|u| = 1`` and ``u^T H u = lambda``).

    Args:
        eigenvalues: ``(P,)`` descending; eigenvectors: ``(P, P)`` orthonormal columns.
        rank: the eigenvector to match; excluded: ``(P,)`` eigenvectors not to use.
    Returns:
        ``(P,)``, or ``None`` when no larger or no smaller positive usable eigenvalue exists.
    """
    lam = eigenvalues[rank]
    parts = []
    usable = ~excluded & (eigenvalues > 0)
    for side in (usable & (eigenvalues > lam), usable & (eigenvalues < lam)):
        if not side.any():
            return None
        z = rng.standard_normal(side.sum())
        z /= np.linalg.norm(z)
        parts.append((eigenvectors[:, side] @ z, float(z**2 @ eigenvalues[side])))
    (g_hi, a), (g_lo, b) = parts
    q = (lam - b) / (a - b)
    return np.sqrt(q) * g_hi + np.sqrt(1 - q) * g_lo


def study_directions(eigenvalues: np.ndarray, eigenvectors: np.ndarray, excluded: np.ndarray,
                     config: Config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(V (P, D), ranks (D,))``: the studied directions in :meth:`Config.kinds` order
    (NaN columns for unmatched eigenvectors; rank ``-1`` for random directions)."""
    P = eigenvalues.size
    eig = np.concatenate([np.arange(config.top_store),
                          bulk_ranks(eigenvalues, excluded, config.top_store,
                                     config.bulk_samples)])
    matched = [matched_direction(eigenvalues, eigenvectors, r, excluded, rng) for r in eig]
    random = rng.standard_normal((P, config.random_directions))
    V = np.concatenate([eigenvectors[:, eig],
                        np.stack([np.full(P, np.nan) if m is None else m for m in matched], 1),
                        random / np.linalg.norm(random, axis=0)], 1)
    return V, np.concatenate([eig, eig, np.full(config.random_directions, -1)])


def outlier_gap(eigenvalues: np.ndarray, count: int) -> float:
    """``log(lambda_k / lambda_{k+1})`` at the outlier count ``k`` (eigenvalues descending,
    clipped below at ``NUMERICAL_ZERO * lambda_max`` as :func:`count_outliers` does)."""
    floor = NUMERICAL_ZERO * eigenvalues[0]
    return float(np.log(max(eigenvalues[count - 1], floor) / max(eigenvalues[count], floor)))


# ----------------------------------------------------------------------------- analysis


def member_stats(net, X, y, dist, config: Config, rng: np.random.Generator) -> dict:
    """Spectrum, shuffled-label null, studied directions and their motion for one net."""
    activation = config.train.activation
    H = hessian(net, X, y, activation=activation)
    spectrum = eigendecomposition((H + H.T) / 2)
    lam = spectrum.eigenvalues
    H_shuffled = hessian(net, X, rng.permutation(y), activation=activation)
    lam_shuffled = eigendecomposition((H_shuffled + H_shuffled.T) / 2, vectors=False).eigenvalues
    overlap = symmetry_overlap(net, spectrum.eigenvectors)
    excluded = excluded_directions(lam, overlap, config.null_cut)
    V, ranks = study_directions(lam, spectrum.eigenvectors, excluded, config, rng)
    valid = np.all(np.isfinite(V), 0)
    p = population_partition(net, dist, activation=activation)
    motion = direction_motion(p, dist, V[:, valid])
    part = participation(V[:, valid], config.train.widths)
    n_hidden = len(motion.neurons)
    out = {key: np.full(V.shape[1], np.nan) for key in PER_DIRECTION}
    shares = np.full((n_hidden, V.shape[1]), np.nan)
    out["curvature"][valid] = np.einsum("pd,pq,qd->d", V[:, valid], H, V[:, valid])
    out["speed"][valid] = motion.boundary_speed
    out["swept"][valid] = motion.fold_flux.sum(-1)
    out["density"][valid] = motion.fold_density
    out["ratio"][valid] = part.ratio
    out["logit_share"][valid] = part.layer_shares[-1]
    shares[:, valid] = part.shares[:n_hidden]
    outliers = count_outliers(lam, max_count=config.max_outliers)
    shuffled = count_outliers(lam_shuffled, max_count=config.max_outliers)
    out.update({
        "eigenvalues": lam, "shuffled_eigenvalues": lam_shuffled, "directions": V,
        "symmetry_overlap": overlap,
        "ranks": ranks, "shares": shares, "fold_mass": motion.fold_mass[0],
        "outliers": outliers, "shuffled_outliers": shuffled,
        "gap": outlier_gap(lam, outliers), "shuffled_gap": outlier_gap(lam_shuffled, shuffled),
    })
    return out


def analyse(cell: TrainCell, run, config: Config) -> tuple[dict, dict]:
    """:func:`member_stats` of every member that trained, stacked over members (NaN rows for
    diverged members)."""
    dist = cell.distribution()
    X, y = cell.training_data()
    return {}, member_arrays(run, lambda i: member_stats(
        [(np.float64(W), np.float64(b)) for W, b in run.member(i)], X[i], y[i], dist, config,
        np.random.default_rng([cell.data_seed, int(run.seeds[i])])),
        desc="Hessians and motions")


# ----------------------------------------------------------------------------- summary


def _median_by(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(S,)`` per-seed median of ``values (S, D)`` over the finite entries in ``mask``."""
    return np.array([np.median(v[m & np.isfinite(v)]) if np.any(m & np.isfinite(v)) else np.nan
                     for v, m in zip(values, mask)])


def sqrt_slopes(curvature: np.ndarray, speed: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """``(S,)`` per-seed least-squares slope of ``log speed`` on ``log curvature`` over the
    directions with curvature above ``cut (S,)`` and positive speed (``0.5`` is the
    Gauss-Newton ``sqrt(lambda)`` prediction)."""
    slopes = []
    for c, s, floor in zip(curvature, speed, cut):
        use = np.isfinite(c) & (c > floor) & (s > 0)
        slopes.append(np.polyfit(np.log(c[use]), np.log(s[use]), 1)[0] if use.sum() >= 3
                      else np.nan)
    return np.array(slopes)


def _finite(values) -> np.ndarray:
    v = np.asarray(values, np.float64)
    return v[np.isfinite(v)]


def summarise(a: dict, kept: list[int], config: Config) -> dict:
    """Headline objects over the kept seeds (module docstring)."""
    kinds = config.kinds()
    lam = a["eigenvalues"][kept]
    S, D = a["speed"][kept].shape
    is_kind = {name: np.broadcast_to(kinds == k, (S, D)) for k, name in enumerate(KINDS)}
    rank = np.arange(D)[None, :]
    outliers = a["outliers"][kept]
    top = is_kind["top"] & (rank < outliers[:, None])
    v = {key: a[key][kept] for key in PER_DIRECTION}
    med = {key: {name: _median_by(v[key], mask)
                 for name, mask in (("top", top), *is_kind.items())} for key in PER_DIRECTION}
    eig_cols = config.top_store + config.bulk_samples
    pair = v["speed"][:, :eig_cols] / v["speed"][:, eig_cols: 2 * eig_cols]  # eigen / matched
    leading = np.arange(eig_cols) < config.top_store
    root = v["speed"] / np.sqrt(np.where(v["curvature"] > 0, v["curvature"], np.nan))
    rho = [scipy.stats.spearmanr(np.nanmean(np.where(m, s, np.nan), 1), fm).statistic
           for s, m, fm in zip(a["shares"][kept], top, a["fold_mass"][kept])]

    def ratio(key: str, num: str, den: str) -> dict:
        return headline(_finite(med[key][num] / med[key][den]))

    return {
        "null_space_dim": headline(np.sum(null_mask_rows(lam, config.null_cut), 1)),
        "symmetry_directions": headline(np.sum(a["symmetry_overlap"][kept] > SYMMETRY_OVERLAP, 1)),
        "sweeps": {"null_space_dim": threshold_sweep(
            lambda t: np.sum(null_mask_rows(lam, t), 1), NULL_CUTS)},
        "negative_eigenvalues": headline(np.sum(lam < -config.null_cut * lam[:, :1], 1)),
        "top_eigenvalue": headline(lam[:, 0], null=a["shuffled_eigenvalues"][kept, 0]),
        "outliers": headline(outliers, null=a["shuffled_outliers"][kept]),
        "outlier_gap": headline(a["gap"][kept], null=a["shuffled_gap"][kept]),
        "boundary_speed": {name: headline(_finite(med["speed"][name]))
                           for name in ("top",) + KINDS[1:]},
        "top_over_bulk": {"boundary_speed": ratio("speed", "top", "bulk"),
                          "fold_swept_mass": ratio("swept", "top", "bulk"),
                          "fold_motion_density": ratio("density", "top", "bulk")},
        "top_over_random": {"boundary_speed": ratio("speed", "top", "random")},
        "eigen_over_matched": {
            "leading": headline(_finite(_median_by(pair, np.broadcast_to(leading, pair.shape)))),
            "bulk": headline(_finite(_median_by(pair, np.broadcast_to(~leading, pair.shape)))),
        },
        "speed_vs_curvature_slope": headline(_finite(sqrt_slopes(
            v["curvature"], v["speed"], config.null_cut * lam[:, 0]))),
        "speed_vs_curvature_slope_prediction": 0.5,
        "speed_per_root_curvature_top_over_bulk": headline(_finite(
            _median_by(root, top) / _median_by(root, is_kind["bulk"]))),
        "participation_ratio": {name: headline(_finite(med["ratio"][name]))
                                for name in ("top",) + KINDS[1:]},
        "logit_layer_share": {name: headline(_finite(med["logit_share"][name]))
                              for name in ("top", "bulk")},
        "spearman_top_share_vs_fold_mass": headline(_finite(rho)),
    }


def null_mask_rows(lam: np.ndarray, cut: float) -> np.ndarray:
    """:func:`null_mask` of every row of ``lam (S, P)``."""
    return np.stack([null_mask(row, cut) for row in lam])


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train (one cell); per seed, spectrum, studied directions and their motion; headlines."""
    result = ctx.train_cells([config.cell()], lambda cell, run: analyse(cell, run, config),
                             settings=config.settings())[0]
    kept = kept_members(result)
    summary = {"seeds": config.seeds, "diverged": result.summary["diverged"],
               "bayes_error": config.world.distribution().bayes_error(),
               "n_params": int(result.arrays["eigenvalues"].shape[1]),
               "null_cut": config.null_cut, **summarise(result.arrays, kept, config)}
    return summary, dict(result.arrays)


# ----------------------------------------------------------------------------- figures


KIND_STYLE = {"bulk": dict(s=7, color=PALETTE[0], marker="o", alpha=0.7),
              "matched": dict(s=7, color=PALETTE[2], marker="^", alpha=0.7),
              "random": dict(s=7, color="0.5", marker="s", alpha=0.7),
              "top": dict(s=14, color=PALETTE[5], marker="D", alpha=0.9)}
"""Marker style of each kind of direction (drawn in this order, top last)."""


def _scatter_kinds(ax, result: StudyResult, config: Config, x: np.ndarray, y: np.ndarray):
    """Every kept seed's directions, one style per kind; ``x``, ``y``: ``(S, D)``."""
    kinds, kept = config.kinds(), kept_members(result)
    for name, style in KIND_STYLE.items():
        on = kinds == KINDS.index(name)
        xs, ys = x[kept][:, on].ravel(), y[kept][:, on].ravel()
        ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
        ax.scatter(xs[ok], ys[ok], edgecolor="none", label=f"{name} directions", **style)


def plot_spectrum(result: StudyResult, config: Config):
    """Spectra with the null space and negative curvature marked; outlier counts against the
    shuffled-label null; participation ratio and logit-layer share against curvature."""
    a, kept = result.arrays, kept_members(result)
    fig, axes = figure(2, 2, width=PAGE_WIDTH * 0.9, aspect=0.8)
    ax_spec, ax_out = axes[0]
    ax_pr, ax_layer = axes[1]
    for n, member in enumerate(kept):
        lam = a["eigenvalues"][member]
        ranks = np.arange(1, lam.size + 1)
        null = null_mask(lam, config.null_cut)
        first = n == 0
        ax_spec.plot(ranks[lam > 0], lam[lam > 0], ".", ms=2, color=PALETTE[0], alpha=0.5,
                     label="positive" if first else None)
        ax_spec.plot(ranks[(lam < 0) & ~null], -lam[(lam < 0) & ~null], ".", ms=2,
                     color=PALETTE[1], alpha=0.5,
                     label="negative ($|\\lambda|$)" if first else None)
        ax_spec.plot(ranks[null], np.maximum(np.abs(lam[null]), 1e-30), ".", ms=2, color="0.6",
                     label="null space" if first else None)
        sym = (a["symmetry_overlap"][member] > SYMMETRY_OVERLAP) & ~null
        ax_spec.plot(ranks[sym], np.abs(lam[sym]), "x", ms=3, color=PALETTE[2],
                     label="rescaling symmetries" if first else None)
    ax_spec.set(yscale="log", xlabel="eigenvalue rank", ylabel="$|\\lambda|$",
                title="(a) Hessian spectra, all seeds", ylim=(1e-30, None))
    ax_spec.legend(fontsize=6, markerscale=3, loc="lower left")
    bins = np.arange(0, config.max_outliers + 2) - 0.5
    ax_out.hist([a["outliers"][kept], a["shuffled_outliers"][kept]], bins=bins,
                color=[PALETTE[5], "0.6"], label=["trained labels", "shuffled labels"])
    ax_out.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_out.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_out.set(xlabel="outliers (largest log-gap)", ylabel="seeds", title="(b) outlier counts")
    ax_out.legend(fontsize=6)
    _scatter_kinds(ax_pr, result, config, a["curvature"], a["ratio"])
    n_neurons = sum(config.train.widths[1:])
    ax_pr.axhline(n_neurons, color="black", ls=":", lw=0.8, label=f"all {n_neurons} neurons")
    ax_pr.set(xscale="log", xlabel="curvature $u^T H u$", ylabel="participation ratio (neurons)",
              title="(c) neurons involved", ylim=(0, n_neurons + 1))
    _scatter_kinds(ax_layer, result, config, a["curvature"], a["logit_share"])
    ax_layer.set(xscale="log", xlabel="curvature $u^T H u$", ylabel="share on logit neurons",
                 title="(d) share of the output layer", ylim=(0, 1))
    ax_layer.legend(*ax_pr.get_legend_handles_labels(), fontsize=6, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_motion(result: StudyResult, config: Config):
    """Boundary speed, swept probability and fold density against curvature (null space and
    negative curvature cut), with the ``sqrt(lambda)`` line of the Gauss-Newton identity."""
    a, s = result.arrays, result.summary
    fig, axes = figure(1, 3, width=PAGE_WIDTH, aspect=1.0)
    panels = (("speed", "boundary speed, density-weighted\n(input units per unit step)",
               "(a) boundary"),
              ("swept", "probability swept by folds\nper unit step", "(b) folds: swept"),
              ("density", "mean data density\nwhere folds move", "(c) folds: where"))
    for ax, (key, ylabel, title) in zip(axes[0], panels):
        _scatter_kinds(ax, result, config, a["curvature"], np.where(a[key] > 0, a[key], np.nan))
        ax.set(xscale="log", yscale="log", xlabel="curvature $u^T H u$", ylabel=ylabel,
               title=title)
    kept = kept_members(result)
    c, speed = a["curvature"][kept], a["speed"][kept]
    ok = (c > 0) & (speed > 0)
    x = np.geomspace(c[ok].min(), c[ok].max(), 50)
    anchor = np.exp(np.median(np.log(speed[ok]) - 0.5 * np.log(c[ok])))
    h = s["speed_vs_curvature_slope"]
    axes[0, 0].plot(x, anchor * np.sqrt(x), color="black", ls="--", lw=0.8,
                    label="$\\propto\\sqrt{\\lambda}$ (Gauss-Newton);\nfitted slope "
                          f"{h['value']:.2f} [{h['ci95'][0]:.2f}, {h['ci95'][1]:.2f}]")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[0, -1].legend(handles, labels, fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       frameon=False)
    return fig


def _draw_direction(ax, p, dist, v, title: str, norm: LogNorm):
    """Boundary and folds coloured by their normal speed along ``v``, over the density."""
    change = first_order_change(p, v)
    pieces, speeds = [change.segments], [np.abs(change.velocity).mean(1)]
    for layer, width in enumerate(p.widths[1:-1]):
        for i in range(width):
            segs, vel = fold_velocity(p, change, (layer, i), segments=folds(p, (layer, i)))
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
    ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return lines


def plot_directions(result: StudyResult, config: Config):
    """First kept seed: input-space speed of boundary and folds along the top eigenvector and
    along the middle bulk eigenvector (null space excluded)."""
    a = result.arrays
    member = kept_members(result)[0]
    dist = config.world.distribution()
    p = population_partition(load_layers(result, member), dist, activation=config.train.activation)
    bulk = config.top_store + config.bulk_samples // 2  # column of the middle bulk direction
    fig, axes = figure(2, 1, width=PAGE_WIDTH * 0.6, aspect=0.55)
    norm = LogNorm(SPEED_RANGE[0], SPEED_RANGE[1], clip=True)
    for ax, column, label in ((axes[0, 0], 0, "top eigenvector"),
                              (axes[1, 0], bulk, "bulk eigenvector")):
        rank = int(a["ranks"][member, column])
        lines = _draw_direction(ax, p, dist, a["directions"][member, :, column],
                                f"{label} (rank {rank + 1}), $\\lambda$ = "
                                f"{a['eigenvalues'][member, rank]:.2g}", norm)
    fig.colorbar(lines, ax=axes[:, 0], shrink=0.9, location="bottom", extend="both",
                 label="normal speed of boundary and folds\n(input units per unit parameter step)")
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Spectrum and participation, input-space motion against curvature, one seed's maps."""
    return {"spectrum_participation": plot_spectrum(result, config),
            "motion": plot_motion(result, config),
            "directions": plot_directions(result, config)}
