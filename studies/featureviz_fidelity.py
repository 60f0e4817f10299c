"""Study ``featureviz-fidelity``: how faithful are the sampled tools of the circuits program?

Question. Feature visualisation (gradient ascent on the input) and top-k dataset examples are
how the circuits program describes a neuron. For small trained ReLU nets whose every neuron is
known exactly, how often does feature visualisation find a neuron's true maximum, how far off
does it land, and how well do the top-k training examples describe the neuron -- do they reach
its maximal region, and do they estimate the exact top-quantile mean? And how much of the
answer is set by the analyst's choice of input domain?

Method. For each data distribution (``xor``, ``curved``, ``blobs`` with 3 classes) and
architecture (one or two hidden layers of 16), ``seeds`` nets are trained (Adam, full batch),
every seed on its own training sample (harness cells). For every hidden neuron of every kept
seed and every *domain* (:func:`domains`: the plotting box ``dist.domain`` scaled by each of
``box_scales``, and the data's own high-density region ``dist.covering_box(m)`` for each ``m``
of ``core_masses``), :mod:`toylab.compare.featureviz`: feature visualisation as practised
(float32 ``jax.grad`` on the input, ``fv_steps`` fixed steps of size ``fv_step_size`` clipped
to the domain, from ``fv_starts`` uniform random starts, best start reported), scored with the
exact maximum on that domain (``neuron_extrema``), the exact near-optimal set
``{f >= max - tol (max - min)}`` (found = best start inside; distance to it otherwise) and the
exact near-max set ``S_delta`` (``delta`` = 10% of the range; area and data mass); the top
``k`` training examples by exact activation, scored with the exact mean of the top ``k / n``
of the activation's population distribution and with ``S_delta`` of the domain (a neuron is
*misdescribed* when none of its top-k examples lies in ``S_delta``). Scoring on the data's
core answers issue 12's objection that a piecewise-linear neuron's maximum over a box sits on
the box edge, where no data is. *Subjectivity*: per neuron, the mixture component nearest (in
weighted density) to the best visualised point is its "interpretation"; how often it changes
between the reference box (the first domain) and every other domain, and how far the
visualised point moves. Neurons constant on a domain are counted and left out there.
Statistics: every per-seed value is a median or mean over that seed's live neurons; a
headline is the bootstrap interval over seeds (pooled headlines first average each seed index
over the cells: cells of one distribution share each seed index's training sample).

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from toylab.compare.editing import hidden_neurons
from toylab.compare.featureviz import (NeuronScores, feature_visualisation, score_neurons,
                                       superlevel_polygons)
from toylab.exact import geometry as geo
from toylab.exact import partition
from toylab.exact.population import population_partition
from toylab.models import activations
from toylab.plots.data import draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, SEQUENTIAL, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, World, headline, kept_members,
                          load_layers, member_arrays)
from toylab.train import TrainConfig, TrainResult

NAME = "featureviz-fidelity"
DESCRIPTION = ("Gradient-ascent feature visualisation and top-k examples vs exact maxima and "
               "quantiles, on the plotting box and on the data's core")

SCORE_FIELDS = tuple(f for f in NeuronScores._fields if f not in ("neurons", "fv_points"))
"""Per-neuron score arrays stored for every member and domain."""

METRICS = {
    "fv_found": ("mean", "fraction of neurons whose best FV start is within tol of the max"),
    "fv_start_rate": ("mean", "fraction of single FV starts within tol of the max"),
    "fv_gap": ("median", "(max - best FV value) / range"),
    "fv_distance": ("median_missed", "distance of a missed best FV point to the near-max set"),
    "topk_max_gap": ("median", "(max - best top-k example) / range"),
    "quantile_gap": ("median", "(max - exact top-k/n quantile) / range"),
    "topk_error": ("median_abs", "|top-k mean - exact top-quantile mean| / range"),
    "topk_in_near_max": ("mean", "fraction of top-k examples in S_delta"),
    "misdescribed": ("mean", "fraction of neurons with no top-k example in S_delta"),
    "near_max_mass": ("median", "probability of S_delta under the data distribution"),
    "near_max_area": ("median", "area fraction of the domain in S_delta"),
}
"""Headline metric -> (per-seed statistic over live neurons, meaning)."""

SUBJECTIVITY = {
    "fv_interpretation_changed": "fraction of neurons whose best FV point's nearest mixture "
                                 "component differs from the reference box's",
    "argmax_interpretation_changed": "the same for the exact argmax",
    "fv_moved": "median distance between the best FV points on the two domains",
}
"""Subjectivity metric (every domain against the reference box) -> meaning."""

REGULARISED = {
    "fv_interpretation_changed": "fraction of neurons whose visualised point's nearest mixture "
                                 "component differs from the plain visualisation's",
    "fv_moved": "median distance between the regularised and the plain visualised point",
    "value_lost": "median (max - f(regularised point)) / range on the reference box",
    "log_density_gain": "median log p(regularised point) - log p(plain point)",
}
"""Metrics of the density-regularised visualisation ``f + lambda log p`` (reference box),
against the plain one."""

HEADLINE_METRICS = ("fv_found", "fv_start_rate", "misdescribed", "near_max_mass", "topk_error")
"""Metrics printed at the top level of the summary (reference box and data core)."""


@dataclass(frozen=True)
class Config:
    """Settings of the ``featureviz-fidelity`` study (``train.widths`` is set per cell from
    ``hidden`` and the distribution's classes)."""

    distributions: tuple[str, ...] = ("xor", "curved", "blobs")
    hidden: tuple[tuple[int, ...], ...] = ((16,), (16, 16))
    train: TrainConfig = TrainConfig(widths=(2, 16, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000)
    n_train: int = 512
    data_seed: int = 0
    sampling: str = "per_seed"
    box_scales: tuple[float, ...] = (1.0, 2.0)
    core_masses: tuple[float, ...] = (0.01,)
    fv_starts: int = 16
    fv_steps: int = 200
    fv_step_size: float = 0.05
    fv_seed: int = 0
    density_weights: tuple[float, ...] = (0.1, 1.0)
    top_k: int = 9
    delta: float = 0.1
    tol: float = 1e-3
    seeds: int = 20

    def __post_init__(self):
        if not self.box_scales or self.box_scales[0] != 1.0:
            raise ValueError(f"box_scales={self.box_scales} must start with 1.0 (the plotting "
                             "box is the reference domain), e.g. (1.0, 2.0)")
        for lam in self.density_weights:
            if not (np.isfinite(lam) and lam > 0):
                raise ValueError(f"density_weights contains {lam!r}; each must be a positive "
                                 "weight lambda of f(x) + lambda log p(x) (lambda = 0 is the "
                                 "plain visualisation, always run)")
        for m in self.core_masses:
            if not 0 < m < 1:
                raise ValueError(f"core_masses contains {m!r}; each must lie in (0, 1), e.g. "
                                 "0.01 for the box holding 99% of the data")

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: one distribution, one small net, 3 seeds, 300 steps, the
        plotting box and the 99% core."""
        return cls(distributions=("xor",), hidden=((6, 6),), n_train=256,
                   train=replace(cls.train, steps=300, snapshot_every=300), box_scales=(1.0,),
                   fv_starts=4, fv_steps=50, density_weights=(1.0,), seeds=3)

    def cells(self) -> list[TrainCell]:
        out = []
        for name in self.distributions:
            world = World(name)
            classes = world.distribution().n_classes
            for hidden in self.hidden:
                train = replace(self.train, widths=(2,) + tuple(hidden) + (classes,))
                out.append(TrainCell(world, train, self.seeds, self.n_train, self.data_seed,
                                     self.sampling))
        return out

    def domain_labels(self) -> list[str]:
        return ([f"box x{s:g}" for s in self.box_scales]
                + [f"core {1 - m:.0%}" for m in self.core_masses])

    def settings(self) -> dict:
        """The analysis settings (part of each cell's cache key)."""
        return {name: getattr(self, name) for name in (
            "box_scales", "core_masses", "fv_starts", "fv_steps", "fv_step_size", "fv_seed",
            "density_weights", "top_k", "delta", "tol")}


def cell_key(cell: TrainCell) -> str:
    return f"{cell.world.preset}_" + "x".join(map(str, cell.train.widths[1:-1]))


def domains(dist, box_scales, core_masses) -> list[np.ndarray]:
    """``(2, 2)`` boxes: ``dist.domain`` scaled about its centre by each of ``box_scales``,
    then ``dist.covering_box(m)`` (holding all but ``m`` of the probability) for each of
    ``core_masses``."""
    box = np.asarray(dist.domain, np.float64)
    centre, half = box.mean(1, keepdims=True), (box[:, 1:] - box[:, :1]) / 2
    return ([np.hstack([centre - s * half, centre + s * half]) for s in box_scales]
            + [np.asarray(dist.covering_box(m), np.float64) for m in core_masses])


def interpretation(dist, X: np.ndarray) -> np.ndarray:
    """``(n,)`` the mixture component of largest weighted density at each point (which blob a
    visualised point is read as)."""
    return np.argmax(dist.component_log_density(np.asarray(X).reshape(-1, 2)), axis=1)


@partial(jax.jit, static_argnames=("activation", "steps"))
def _ascend_regularised(layers, flat, X0, lo, hi, step_size, lam, means, precisions, log_norms,
                        *, activation: str, steps: int):
    """Fixed-step clipped gradient ascent of ``f_n(x) + lam log p(x)`` for hidden neurons
    ``flat (N,)`` from starts ``X0 (N, R, 2)``; ``p`` the Gaussian mixture given by its
    ``means (K, 2)``, ``precisions (K, 2, 2)`` and ``log_norms (K,)`` (log weight plus log
    normaliser)."""
    def objective(x, n):
        d = x - means
        log_p = logsumexp(log_norms - 0.5 * jnp.einsum("ki,kij,kj->k", d, precisions, d))
        return jnp.concatenate(activations(layers, x, activation).post[:-1])[n] + lam * log_p

    grad = jax.vmap(jax.vmap(jax.grad(objective), (0, None)), (0, 0))

    def step(X, _):
        return jnp.clip(X + step_size * grad(X, flat), lo, hi), None

    return jax.lax.scan(step, X0, None, length=steps)[0]


def regularised_visualisation(net, box, dist, lam: float, *, activation: str, starts: int,
                              steps: int, step_size: float, seed: int) -> np.ndarray:
    """Feature visualisation of the density-regularised objective ``f(x) + lam log p(x)``
    (the natural-image prior of Olah, Mordvintsev & Schubert 2017, here exact: the data's own
    log-density), every hidden neuron, float32 ``jax.grad`` on the input, from the same
    uniform random starts in ``box`` as
    :func:`~toylab.compare.featureviz.feature_visualisation` with the same ``seed``.

    Returns:
        ``(N, starts, 2)`` final points, hidden neurons layer by layer.
    """
    layers = [(jnp.asarray(W, jnp.float32), jnp.asarray(b, jnp.float32)) for W, b in net]
    widths = [W.shape[1] for W, _ in net]
    n_hidden = int(sum(widths[:-1]))
    box = np.asarray(box, np.float64)
    X0 = box[:, 0] + np.random.default_rng(seed).random((n_hidden, starts, 2)) * (
        box[:, 1] - box[:, 0])
    covs = np.asarray(dist.covs, np.float64)
    log_norms = (np.log(np.asarray(dist.weights))
                 - 0.5 * np.log(np.linalg.det(2 * np.pi * covs)))
    X = _ascend_regularised(layers, jnp.arange(n_hidden), jnp.asarray(X0, jnp.float32),
                            jnp.asarray(box[:, 0], jnp.float32),
                            jnp.asarray(box[:, 1], jnp.float32), jnp.float32(step_size),
                            jnp.float32(lam), jnp.asarray(dist.means, jnp.float32),
                            jnp.asarray(np.linalg.inv(covs), jnp.float32),
                            jnp.asarray(log_norms, jnp.float32), activation=activation,
                            steps=int(steps))
    return np.clip(np.asarray(X, np.float64), box[:, 0], box[:, 1])


def analyse(cell: TrainCell, run: TrainResult, *, config: Config) -> tuple[dict, dict]:
    """Score every hidden neuron of every finite member on every domain; the
    density-regularised visualisations on the reference box."""
    dist = cell.distribution()
    act = cell.train.activation
    X = cell.training_data()[0]
    boxes = domains(dist, config.box_scales, config.core_masses)
    fv = dict(activation=act, starts=config.fv_starts, steps=config.fv_steps,
              step_size=config.fv_step_size)
    ids = hidden_neurons(cell.train.widths)
    rows = np.arange(len(ids))

    def member(i: int) -> dict:
        net = [(np.float64(W), np.float64(b)) for W, b in run.member(i)]
        pp = population_partition(net, dist, activation=act)
        p_boxes = [partition(net, box, activation=act) for box in boxes]
        out = {}
        for d, (box, p_box) in enumerate(zip(boxes, p_boxes)):
            pts = feature_visualisation(net, box, seed=config.fv_seed + i, **fv)
            sc = score_neurons(p_box, pp, dist, pts, X[i], k=config.top_k, delta=config.delta,
                               tol=config.tol)
            out.update({f"d{d}__{name}": getattr(sc, name) for name in SCORE_FIELDS})
            out[f"d{d}__fv_points"] = pts
            out[f"d{d}__fv_best_point"] = pts[rows, np.argmax(_values_at(p_box, pts, ids), 1)]
        for r, lam in enumerate(config.density_weights):
            pts = regularised_visualisation(net, boxes[0], dist, lam, seed=config.fv_seed + i,
                                            **fv)
            f = _values_at(p_boxes[0], pts, ids)
            best = np.argmax(f + lam * dist.log_density(pts.reshape(-1, 2)).reshape(f.shape), 1)
            out[f"r{r}__best_point"] = pts[rows, best]
            out[f"r{r}__best_value"] = f[rows, best]
        return out

    arrays = member_arrays(run, member, desc=f"scores {cell_key(cell)}")
    arrays["neurons"] = ids
    return {"domains": [b.tolist() for b in boxes]}, arrays


def _values_at(p, pts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``(N, R)`` exact value of hidden neuron ``ids[n]`` at its own points ``pts[n]``."""
    return np.stack([p.evaluate(pts[n], l)[:, j] for n, (l, j) in enumerate(ids)])


def _statistic(values: np.ndarray, found: np.ndarray, kind: str) -> float:
    """One seed's statistic of a metric over its live neurons (NaN-free input)."""
    if kind == "mean":
        return float(np.mean(values))
    if kind == "median":
        return float(np.median(values))
    if kind == "median_abs":
        return float(np.median(np.abs(values)))
    missed = values[found == 0]
    return float(np.median(missed)) if len(missed) else 0.0


def seed_metrics(result: StudyResult, d: int) -> dict[str, np.ndarray]:
    """Per metric, ``(kept members,)`` values over each member's live neurons on domain
    ``d``."""
    a = result.arrays
    out = {m: [] for m in METRICS}
    for i in kept_members(result):
        live = a[f"d{d}__constant"][i] == 0
        for metric, (kind, _) in METRICS.items():
            out[metric].append(_statistic(a[f"d{d}__{metric}"][i][live],
                                          a[f"d{d}__fv_found"][i][live], kind)
                               if live.any() else np.nan)
    return {m: np.array(v) for m, v in out.items()}


def seed_subjectivity(result: StudyResult, dist, d: int) -> dict[str, np.ndarray]:
    """Per :data:`SUBJECTIVITY` metric, ``(kept members,)`` values of domain ``d`` against
    the reference box (domain 0), over neurons live on both."""
    a = result.arrays
    out = {m: [] for m in SUBJECTIVITY}
    for i in kept_members(result):
        live = (a["d0__constant"][i] == 0) & (a[f"d{d}__constant"][i] == 0)
        p0, pd = a["d0__fv_best_point"][i][live], a[f"d{d}__fv_best_point"][i][live]
        m0, md = a["d0__argmax"][i][live], a[f"d{d}__argmax"][i][live]
        out["fv_interpretation_changed"].append(
            float(np.mean(interpretation(dist, p0) != interpretation(dist, pd))))
        out["argmax_interpretation_changed"].append(
            float(np.mean(interpretation(dist, m0) != interpretation(dist, md))))
        out["fv_moved"].append(float(np.median(np.linalg.norm(p0 - pd, axis=1))))
    return {m: np.array(v) for m, v in out.items()}


def seed_regularised(result: StudyResult, dist, r: int) -> dict[str, np.ndarray]:
    """Per :data:`REGULARISED` metric, ``(kept members,)`` values of the ``r``-th density
    weight against the plain visualisation on the reference box, over live neurons."""
    a = result.arrays
    out = {m: [] for m in REGULARISED}
    for i in kept_members(result):
        live = a["d0__constant"][i] == 0
        p0, pr = a["d0__fv_best_point"][i][live], a[f"r{r}__best_point"][i][live]
        top, low = a["d0__max"][i][live], a["d0__min"][i][live]
        out["fv_interpretation_changed"].append(
            float(np.mean(interpretation(dist, p0) != interpretation(dist, pr))))
        out["fv_moved"].append(float(np.median(np.linalg.norm(p0 - pr, axis=1))))
        out["value_lost"].append(float(np.median(
            (top - a[f"r{r}__best_value"][i][live]) / (top - low))))
        out["log_density_gain"].append(float(np.median(
            dist.log_density(pr) - dist.log_density(p0))))
    return {m: np.array(v) for m, v in out.items()}


def _pooled(per_cell: list[dict[str, np.ndarray]], members: list[list[int]], seeds: int,
            names) -> dict[str, np.ndarray]:
    """Per metric, one value per seed index: the mean over the cells where it was kept."""
    out = {}
    for m in names:
        table = np.full((len(per_cell), seeds), np.nan)
        for c, (values, kept) in enumerate(zip(per_cell, members)):
            table[c, kept] = values[m]
        with np.errstate(invalid="ignore"):
            pooled = np.nanmean(table, 0)
        out[m] = pooled[np.isfinite(pooled)]
    return out


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train and score every cell; per-cell and pooled headlines per domain; subjectivity."""
    cells = config.cells()
    settings = config.settings()
    results = ctx.train_cells(cells, lambda c, r: analyse(c, r, config=config),
                              settings=settings)
    labels = config.domain_labels()
    members = [kept_members(r) for r in results]
    summary = {"seeds": config.seeds, "domains": labels,
               "metrics": {m: d for m, (_, d) in METRICS.items()}, "subjectivity_metrics":
               dict(SUBJECTIVITY), "cells": {}, "overall": {}, "subjectivity": {},
               "diverged": {cell_key(c): r.summary["diverged"] for c, r in zip(cells, results)
                            if r.summary["diverged"]}}
    for d, label in enumerate(labels):
        per_cell = [seed_metrics(r, d) for r in results]
        for cell, values in zip(cells, per_cell):
            summary["cells"].setdefault(cell_key(cell), {})[label] = {
                m: headline(v[np.isfinite(v)]) for m, v in values.items()}
        pooled = _pooled(per_cell, members, config.seeds, METRICS)
        summary["overall"][label] = {m: headline(v) for m, v in pooled.items()}
        if d > 0:
            subj = [seed_subjectivity(r, c.distribution(), d) for c, r in zip(cells, results)]
            summary["subjectivity"][label] = {
                m: headline(v) for m, v in _pooled(subj, members, config.seeds,
                                                   SUBJECTIVITY).items()}
    summary["regulariser"] = {}
    summary["regulariser_metrics"] = dict(REGULARISED)
    for r, lam in enumerate(config.density_weights):
        reg = [seed_regularised(res, c.distribution(), r) for c, res in zip(cells, results)]
        summary["regulariser"][f"lambda {lam:g}"] = {
            m: headline(v) for m, v in _pooled(reg, members, config.seeds, REGULARISED).items()}
    if config.density_weights:
        strongest = summary["regulariser"][f"lambda {max(config.density_weights):g}"]
        summary["interpretation_changed_regularised"] = strongest["fv_interpretation_changed"]
    core = labels[len(config.box_scales)] if config.core_masses else None
    for metric in HEADLINE_METRICS:
        summary[metric] = summary["overall"][labels[0]][metric]
        if core:
            summary[f"{metric}_on_core"] = summary["overall"][core][metric]
    if core:
        summary["interpretation_changed_on_core"] = summary["subjectivity"][core][
            "fv_interpretation_changed"]
    summary["neurons"] = int(sum(r.arrays["d0__constant"][m].size for r, m
                                 in zip(results, members)))
    summary["constant_neurons"] = {label: int(sum(
        np.sum(r.arrays[f"d{d}__constant"][m] == 1) for r, m in zip(results, members)))
        for d, label in enumerate(labels)}
    arrays = {}
    for cell, r in zip(cells, results):
        for d in range(len(labels)):
            for name in ("fv_gap", "topk_max_gap", "quantile_gap", "constant"):
                arrays[f"{cell_key(cell)}__d{d}__{name}"] = r.arrays[f"d{d}__{name}"][
                    kept_members(r)]
    arrays.update({f"example__{k}": v for k, v in results[0].arrays.items()})
    return summary, arrays


# ----------------------------------------------------------------------------- figures


def plot_success(result: StudyResult):
    """Per cell and domain: fraction of neurons whose best FV start finds the max, per-start
    success rate, and fraction misdescribed by their top-k examples (mean and 95% interval
    over seeds); one panel per domain."""
    cells = result.summary["cells"]
    labels = result.summary["domains"]
    keys = list(cells)
    fig, axes = figure(1, len(labels), width=PAGE_WIDTH * 0.9, aspect=1.1)
    axes = np.atleast_1d(axes).ravel() if len(labels) > 1 else [axes]
    x = np.arange(len(keys))
    bars = (("fv_found", "FV best of starts finds max"),
            ("fv_start_rate", "single FV start finds max"),
            ("misdescribed", "top-k examples miss $S_\\delta$"))
    for ax, label in zip(axes, labels):
        for j, (metric, text) in enumerate(bars):
            h = [cells[k][label][metric] for k in keys]
            v = np.array([o["value"] for o in h])
            ci = np.array([o["ci95"] for o in h], float)
            ax.bar(x + (j - 1) * 0.27, v, 0.27, yerr=np.abs(ci.T - v), capsize=2,
                   color=PALETTE[j], label=text)
        ax.set_xticks(x, [k.replace("_", " ") for k in keys], fontsize=6, rotation=35,
                      ha="right")
        ax.set(ylim=(0, 1.05), title=label)
    axes[0].set_ylabel("fraction of live neurons")
    axes[-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_gaps(result: StudyResult):
    """Distributions (all cells, seeds, live neurons) of how far below the exact maximum each
    tool lands, in units of the neuron's range: on the reference box (solid) and on the
    data's core (dashed, when scored)."""
    fig, ax = figure(width=PAGE_WIDTH * 0.8, aspect=0.5)
    labels = result.summary["domains"]
    names = {"fv_gap": "best FV point", "topk_max_gap": "best top-k example",
             "quantile_gap": "exact top-$k/n$ quantile"}
    bins = np.linspace(0, 1, 41)
    shown = [0] + ([len(labels) - 1] if len(labels) > 1 else [])
    for d, ls in zip(shown, ("-", "--")):
        for j, name in enumerate(names):
            vals = []
            for key in result.summary["cells"]:
                live = result.arrays[f"{key}__d{d}__constant"] == 0
                vals.append(result.arrays[f"{key}__d{d}__{name}"][live])
            v = np.concatenate(vals)
            ax.hist(v, bins=bins, histtype="step", lw=1.3, ls=ls, color=PALETTE[j],
                    label=f"{names[name]}, {labels[d]} (median {np.median(v):.2f})")
    ax.set(xlabel="(exact max - value) / (max - min) on the domain", ylabel="neurons",
           yscale="log")
    ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_examples(result: StudyResult, config: Config, n_show: int = 3):
    """First cell, first kept seed: a few neurons' exact response over the reference box with
    the data density, the near-max set, the exact maximiser, the FV results and the top-k
    examples; the data's core box (dashed) with its own exact maximiser (ring)."""
    cell = config.cells()[0]
    dist = cell.distribution()
    a = {k[len("example__"):]: v for k, v in result.arrays.items() if k.startswith("example__")}
    member = kept_members(a)[0]
    boxes = domains(dist, config.box_scales, config.core_masses)
    box = boxes[0]
    fig, axes = figure(1, n_show, width=PAGE_WIDTH * 1.15, aspect=0.8)
    net = load_layers(a, member)
    p = partition(net, box, activation=cell.train.activation)
    live = np.flatnonzero(a["d0__constant"][member] == 0)
    missed = [n for n in live if not a["d0__fv_found"][member][n]]
    chosen = (missed[:1] + [n for n in live if n not in missed[:1]])[:n_show]
    xs, ys = np.linspace(*box[0], 300), np.linspace(*box[1], 300)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    X = cell.training_data()[0][member]
    for ax, n in zip(np.ravel(axes), chosen):
        layer, i = a["neurons"][n]
        f = p.evaluate(grid, layer)[:, i].reshape(len(ys), len(xs))
        fmax, fmin = a["d0__max"][member][n], a["d0__min"][member][n]
        image = ax.imshow(f, origin="lower", extent=box.ravel(), cmap=SEQUENTIAL, aspect="auto")
        bar = fig.colorbar(image, ax=ax, shrink=0.7)
        bar.ax.tick_params(labelsize=5)
        bar.set_label("activation", fontsize=6)
        draw_density(ax, dist, box, levels=4)
        near_v, near_c = superlevel_polygons(p, (layer, i), fmax - config.delta * (fmax - fmin))
        ax.add_collection(PolyCollection(geo.split_list(near_v, near_c), facecolor="none",
                                         edgecolor=PALETTE[1], lw=1.2, label="$S_\\delta$"))
        pts = a["d0__fv_points"][member][n]
        ax.scatter(pts[:, 0], pts[:, 1], marker="x", s=14, color=PALETTE[5], lw=0.9,
                   label="FV results", zorder=4)
        vals = p.evaluate(X, layer)[:, i]
        top = np.argsort(-np.nan_to_num(vals, nan=-np.inf), kind="stable")[: config.top_k]
        ax.scatter(X[top, 0], X[top, 1], s=10, color=PALETTE[2], edgecolor="white", lw=0.3,
                   label=f"top-{config.top_k} examples", zorder=4)
        for r, lam in enumerate(config.density_weights):
            pr = a[f"r{r}__best_point"][member][n]
            ax.scatter([pr[0]], [pr[1]], marker="P", s=22, color=PALETTE[4 + r % 2],
                       edgecolor="black", lw=0.3, zorder=5,
                       label=f"FV of $f + {lam:g} \\log p$")
        am = a["d0__argmax"][member][n]
        ax.scatter([am[0]], [am[1]], marker="*", s=60, color=PALETTE[6], edgecolor="black",
                   lw=0.4, label="exact argmax (box)", zorder=5, clip_on=False)
        if len(boxes) > len(config.box_scales):
            d = len(config.box_scales)
            core = boxes[d]
            ax.add_patch(Rectangle(core[:, 0], *(core[:, 1] - core[:, 0]), fill=False,
                                   ls="--", lw=0.8, color="black", label="data core"))
            ac = a[f"d{d}__argmax"][member][n]
            ax.scatter([ac[0]], [ac[1]], s=40, facecolor="none", edgecolor=PALETTE[6], lw=1.2,
                       label="exact argmax (core)", zorder=5)
        set_box(ax, box)
        ax.set_title(f"neuron ({layer}, {i}): "
                     + ("FV found max" if a["d0__fv_found"][member][n] else "FV missed max"),
                     fontsize=6, loc="left")
    handles, texts = np.ravel(axes)[-1].get_legend_handles_labels()
    fig.legend(handles, texts, fontsize=5, loc="outside right upper", frameon=False)
    return fig


def plot_subjectivity(result: StudyResult):
    """How much the analyst's choices move the visualisation: for every other domain (against
    the reference box) and every density weight (against the plain visualisation), the
    fraction of neurons whose visualised point is read as another mixture component, and the
    median distance it moves (mean and 95% interval over seeds)."""
    s = result.summary
    rows = [(label, s["subjectivity"][label]) for label in s["domains"][1:]]
    rows += [(f"$f + {k.split()[1]} \\log p$", v) for k, v in s["regulariser"].items()]
    fig, axes = figure(1, 2, width=PAGE_WIDTH * 0.8, aspect=0.5)
    x = np.arange(len(rows))
    for ax, metric, ylabel in ((axes[0, 0], "fv_interpretation_changed",
                                "fraction read as another component"),
                               (axes[0, 1], "fv_moved", "median distance moved (input units)")):
        h = [r[metric] for _, r in rows]
        v = np.array([o["value"] for o in h])
        ci = np.array([o["ci95"] for o in h], float).reshape(len(h), 2)
        ax.bar(x, v, 0.6, yerr=np.abs(ci.T - v), capsize=2, color=PALETTE[0])
        ax.set_xticks(x, [label for label, _ in rows], fontsize=6, rotation=30, ha="right")
        ax.set_ylabel(ylabel)
    axes[0, 0].set_ylim(0, 1)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Success rates per cell and domain, gap distributions, example neurons and the
    subjectivity of the visualisation."""
    return {"success": plot_success(result), "gaps": plot_gaps(result),
            "examples": plot_examples(result, config),
            "subjectivity": plot_subjectivity(result)}
