"""How faithful are the sampled tools of the circuits program?

Two tools describe a neuron from samples (Olah, Mordvintsev & Schubert 2017, "Feature
visualization", Distill):

* **feature visualisation**: gradient ascent on the input from random starts,
  ``x <- clip(x + step_size * grad f(x), box)`` with ``jax.grad`` in float32, a fixed number of
  fixed-size steps, the best of the starts reported (:func:`feature_visualisation`);
* **dataset examples**: the ``k`` training points with the largest activation
  (:func:`top_examples`).

A piecewise-linear neuron on a 2-D box is known exactly (:mod:`toylab.exact`), so both can be
scored against the truth:

* the exact maximum and a maximiser (:func:`toylab.exact.neuron_extrema`, a vertex of some
  region), the exact *near-max set* ``S_delta = {x in box: f(x) >= max - delta (max - min)}``
  as polygons (:func:`superlevel_polygons`; its area equals
  :func:`toylab.exact.superlevel_area`), its probability under the data distribution
  (closed-form Gaussian polygon masses) and the exact distance of any point to it;
* the exact *top-quantile mean* that the top ``k`` of ``n`` examples estimate: the mean of
  ``f(X)`` over the top fraction ``q = k / n`` of the distribution,
  ``(E[f 1{f > t}] + t (q - P(f > t))) / q`` at the exact quantile ``t`` with
  ``P(f > t) <= q <= P(f >= t)`` (:func:`top_quantile`, root-finding on exact superlevel
  masses; a plateau of ``f`` at ``t`` contributes only the mass it needs).

:func:`score_neurons` returns all of this per neuron as a :class:`NeuronScores`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import brentq

from toylab.compare.checks import check_box
from toylab.compare.editing import hidden_neurons
from toylab.exact import geometry as geo
from toylab.exact.boundary import neuron_extrema
from toylab.exact.gaussian import mixture_polygon_moments, pad_csr
from toylab.exact.partition import Partition, neuron_address
from toylab.exact.population import PopulationPartition, as_population
from toylab.models import activations, as_layers, check_finite_layers


# ----------------------------------------------------------------------------- sampled tools


@partial(jax.jit, static_argnames=("activation", "steps"))
def _ascend(layers, flat, X0, lo, hi, step_size, *, activation: str, steps: int):
    """Fixed-step clipped gradient ascent of hidden neurons ``flat (N,)`` (flat hidden index)
    from starts ``X0 (N, R, 2)``."""
    def neuron(x, n):
        return jnp.concatenate(activations(layers, x, activation).post[:-1])[n]

    grad = jax.vmap(jax.vmap(jax.grad(neuron), (0, None)), (0, 0))

    def step(X, _):
        return jnp.clip(X + step_size * grad(X, flat), lo, hi), None

    X, _ = jax.lax.scan(step, X0, None, length=steps)
    return X


def feature_visualisation(net, box, *, activation: str | None = None, neurons=None,
                          starts: int = 16, steps: int = 200, step_size: float = 0.05,
                          seed: int = 0) -> np.ndarray:
    """Gradient-ascent feature visualisation as practised: float32, ``jax.grad`` on the input,
    ``steps`` fixed steps ``x <- clip(x + step_size * grad f(x), box)`` from ``starts``
    uniform random starts in ``box``.

    Args:
        net: MLP or layer list; activation: required with a layer list.
        box: ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``.
        neurons: ``(N, 2)`` hidden neurons ``(layer, index)``; default every hidden neuron.
        starts, steps, step_size, seed: the ascent's settings.
    Returns:
        ``(N, starts, 2)`` final points (float64 copies of the float32 iterates).
    """
    layers, name = as_layers(net, activation, dtype=np.float32)
    check_finite_layers(layers)
    box = check_box(box)
    widths = (layers[0][0].shape[0],) + tuple(W.shape[1] for W, _ in layers)
    if widths[0] != 2:
        raise ValueError(f"net takes {widths[0]}-D inputs; feature visualisation here is 2-D")
    ids = (hidden_neurons(widths) if neurons is None
           else np.asarray(neurons, np.int64).reshape(-1, 2))
    for layer, index in ids:
        if not (0 <= layer < len(widths) - 2 and 0 <= index < widths[layer + 1]):
            raise ValueError(f"neurons contains ({layer}, {index}), not a hidden neuron of a "
                             f"{widths} net")
    for arg, value in (("starts", starts), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{arg}={value!r} must be a positive integer")
    if not step_size > 0:
        raise ValueError(f"step_size={step_size!r} must be positive, e.g. 0.05")
    offset = np.concatenate([[0], np.cumsum(widths[1:-2], dtype=np.int64)]).astype(np.int64)
    flat = offset[ids[:, 0]] + ids[:, 1]
    rng = np.random.default_rng(seed)
    X0 = box[:, 0] + rng.random((len(ids), starts, 2)) * (box[:, 1] - box[:, 0])
    X = _ascend([(jnp.asarray(W), jnp.asarray(b)) for W, b in layers], jnp.asarray(flat),
                jnp.asarray(X0, jnp.float32), jnp.asarray(box[:, 0], jnp.float32),
                jnp.asarray(box[:, 1], jnp.float32), jnp.float32(step_size),
                activation=name, steps=int(steps))
    return np.clip(np.asarray(X, np.float64), box[:, 0], box[:, 1])  # float32 rounding


def top_examples(values: np.ndarray, k: int) -> np.ndarray:
    """Indices ``(k,)`` of the ``k`` largest ``values (n,)``, largest first (ties: lower index
    first)."""
    values = np.asarray(values)
    if values.ndim != 1 or np.any(np.isnan(values)):
        raise ValueError(f"values has shape {values.shape} and {np.isnan(values).sum()} NaN; "
                         "pass one finite activation per example, shape (n,)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(values):
        raise ValueError(f"k={k!r} must be an integer in 1..{len(values)} (the sample size)")
    return np.argsort(-values, kind="stable")[:k]


# ----------------------------------------------------------------------------- exact sets


def _neuron_map(p: Partition, neuron) -> tuple[np.ndarray, np.ndarray]:
    layer, i = neuron_address(p, neuron)
    A, c = p.affine(layer)
    return A[:, :, i], c[:, i]


def _clip_to_superlevel(p: Partition, a_c, threshold: float):
    """Every region of ``p`` clipped to ``{f >= threshold}`` for the affine pieces ``a_c`` of
    ``f``: ``(verts, counts (R,), whole (R,))``, ``whole`` marking regions that lie entirely
    in the set (every vertex on the kept side after snapping)."""
    if not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r} must be a finite activation level")
    a, c = a_c
    reg = p.region_of_vertex
    av, cv = a[reg], c[reg] - float(threshold)
    s = p.vertices[:, 0] * av[:, 0] + p.vertices[:, 1] * av[:, 1] + cv
    tol = geo.affine_tol(av, cv, geo.length_scale(p.domain))
    verts, counts = geo.clip_halfplane(p.vertices, p.counts, s, tol)
    snapped = np.where(np.abs(s) > tol, s, 0.0)
    whole = np.minimum.reduceat(snapped, geo.offsets_of(p.counts)[:-1]) >= 0
    return verts, counts, whole


def superlevel_polygons(p: Partition, neuron, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The exact superlevel set ``{u in domain: f(u) >= threshold}`` of a neuron's
    post-activation as convex polygons (each region clipped by the half-plane of its affine
    piece), in the partition's region order with empty pieces dropped.

    Returns:
        ``verts (V, 2)``, ``counts (P,)`` (CSR, every count >= 3).
    """
    verts, counts, _ = _clip_to_superlevel(p, _neuron_map(p, neuron), threshold)
    keep = counts >= 3
    return verts[np.repeat(keep, counts)], counts[keep]


def distance_to_set(X: np.ndarray, verts: np.ndarray, counts: np.ndarray,
                    inside: np.ndarray) -> np.ndarray:
    """Distance ``(n,)`` from points to a union of convex polygons: 0 for points ``inside``
    (``(n,)`` bool, e.g. an exact membership test), else the distance to the nearest polygon
    edge (exact); ``inf`` for an empty set."""
    X = np.asarray(X, np.float64).reshape(-1, 2)
    inside = np.asarray(inside, bool)
    if inside.shape != (len(X),):
        raise ValueError(f"inside has shape {inside.shape}; pass one bool per point, "
                         f"shape ({len(X)},)")
    out = np.zeros(len(X))
    out_pts = ~inside
    if out_pts.any():
        edges = np.stack([verts, verts[geo.next_index(counts)]], 1)
        out[out_pts] = geo.segment_distance(X[out_pts], edges)
    return out


def _superlevel_moments(p: PopulationPartition, a_c, threshold: float) -> tuple[float, float]:
    """``(P(f >= t), E[f 1{f >= t}])`` under ``p.dist`` over ``p``'s domain (exact).

    Regions entirely in ``{f >= t}`` contribute their moments as integrated once by the
    :class:`~toylab.exact.population.PopulationPartition`; only the regions the level line
    cuts are clipped and integrated (closed-form Gaussian polygon moments).
    """
    a, c = a_c
    verts, counts, whole = _clip_to_superlevel(p, a_c, threshold)
    cut = (counts >= 3) & ~whole
    mom = p.moments
    m0, m1 = mom.m0[whole], mom.m1[whole]
    mass = m0.sum()
    first = np.sum(m1 * a[whole]) + m0 @ c[whole]
    if cut.any():
        piece = mixture_polygon_moments(pad_csr(verts[np.repeat(cut, counts)], counts[cut]),
                                        p.dist)
        w = np.asarray(p.dist.weights)
        m0, m1 = w @ piece.m0, np.tensordot(w, piece.m1, 1)
        mass += m0.sum()
        first += np.sum(m1 * a[cut]) + m0 @ c[cut]
    return float(mass), float(first)


def mass_in(p: Partition, dist, neuron, threshold: float) -> float:
    """Exact ``P(X in domain, f(X) >= threshold)`` for a neuron's post-activation ``f``
    (``p`` a partition, or a :class:`~toylab.exact.population.PopulationPartition` of
    ``dist`` whose region moments are then reused)."""
    return _superlevel_moments(as_population(p, dist), _neuron_map(p, neuron),
                               float(threshold))[0]


class TopQuantile(NamedTuple):
    """The top fraction ``q`` of a neuron's population distribution.

    Attributes:
        q: the fraction; threshold: the exact quantile ``t`` (``P(f > t) <= q <= P(f >= t)``);
        mean: exact mean of ``f`` over the top ``q`` of the distribution.
    """

    q: float
    threshold: float
    mean: float


def top_quantile(p: Partition, dist, neuron, q: float, *, xtol: float = 1e-12) -> TopQuantile:
    """Exact top-``q`` quantile set threshold and mean of a neuron under ``dist`` (module
    docstring), on ``p``'s domain (use a population partition for whole-plane coverage).

    ``P(f >= t)`` is piecewise smooth and non-increasing in ``t``; the quantile is found by
    Brent's method to ``xtol`` (relative to the neuron's range), a plateau by its jump.
    """
    if not 0 < q < 1:
        raise ValueError(f"q={q!r} must lie in (0, 1), e.g. k / n for the top k of n examples")
    pp = as_population(p, dist)  # whole regions: integrated once, not per Brent step
    a_c = _neuron_map(pp, neuron)
    ext = neuron_extrema(pp, neuron)
    span = max(ext.max - ext.min, 1e-300)
    if _superlevel_moments(pp, a_c, ext.max)[0] >= q:  # a top plateau holds q already
        return TopQuantile(q, ext.max, ext.max)
    t = brentq(lambda t: _superlevel_moments(pp, a_c, t)[0] - q, ext.min, ext.max,
               xtol=xtol * span, rtol=4 * np.finfo(float).eps)
    mass_gt, first_gt = _superlevel_moments(pp, a_c, t + xtol * span)
    return TopQuantile(q, t, (first_gt + t * (q - mass_gt)) / q)


# ----------------------------------------------------------------------------- scores


class NeuronScores(NamedTuple):
    """Sampled tools vs exact truth for every scored neuron; ``(N,)`` arrays unless stated.

    Attributes:
        neurons: ``(N, 2)``; constant: the neuron is constant on the box (scores are NaN).
        max, min: exact extrema on the box; argmax: ``(N, 2)`` one exact maximiser.
        fv_best: exact value at the best feature-visualisation point; fv_points: ``(N, R, 2)``.
        fv_gap: ``(max - fv_best) / (max - min)``; fv_found: ``fv_gap <= tol``;
        fv_start_rate: fraction of starts whose result is within ``tol``;
        fv_distance: distance from the best point to the exact near-optimal set
            ``{f >= max - tol (max - min)}`` (0 when found).
        near_max_area: area fraction of the box in ``S_delta``; near_max_mass: its probability.
        topk_mean: mean exact activation of the top-k examples; topk_max_gap:
            ``(max - best example) / (max - min)``; quantile_mean: exact top-``k/n`` mean;
            topk_error: ``(topk_mean - quantile_mean) / (max - min)``; quantile_gap:
            ``(max - quantile threshold) / (max - min)``.
        topk_in_near_max: fraction of the top-k examples in ``S_delta``; topk_in_quantile:
            fraction with ``f >= `` the exact quantile threshold; misdescribed: no top-k
            example lies in ``S_delta``.
    """

    neurons: np.ndarray
    constant: np.ndarray
    max: np.ndarray
    min: np.ndarray
    argmax: np.ndarray
    fv_best: np.ndarray
    fv_points: np.ndarray
    fv_gap: np.ndarray
    fv_found: np.ndarray
    fv_start_rate: np.ndarray
    fv_distance: np.ndarray
    near_max_area: np.ndarray
    near_max_mass: np.ndarray
    topk_mean: np.ndarray
    topk_max_gap: np.ndarray
    quantile_mean: np.ndarray
    topk_error: np.ndarray
    quantile_gap: np.ndarray
    topk_in_near_max: np.ndarray
    topk_in_quantile: np.ndarray
    misdescribed: np.ndarray


def _values(p: Partition, X: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact post-activations ``(n, N)`` of neurons ``ids`` at ``X`` (NaN outside ``p``)."""
    return np.column_stack([p.evaluate(X, l)[:, i] for l, i in ids])


def score_neurons(p_box: Partition, p_pop: Partition, dist, fv_points: np.ndarray,
                  examples: np.ndarray, *, k: int = 9, delta: float = 0.1,
                  tol: float = 1e-3) -> NeuronScores:
    """Score feature visualisation and dataset examples of every hidden neuron.

    Args:
        p_box: exact partition over the feature-visualisation box (extrema, near-max sets).
        p_pop: exact partition of the same net over a box holding the distribution (quantiles,
            example values); e.g. :func:`toylab.exact.population.population_partition`.
        dist: 2-D Gaussian mixture the examples were drawn from.
        fv_points: ``(N, R, 2)`` :func:`feature_visualisation` results for the hidden neurons
            in order (layer by layer).
        examples: ``(n, 2)`` the training sample the top-k examples come from.
        k: examples per neuron; delta: near-max level; tol: "found the maximum" level, both
            as fractions of the neuron's range on the box.
    Returns:
        :class:`NeuronScores`.
    """
    for name, value in (("delta", delta), ("tol", tol)):
        if not 0 < value < 1:
            raise ValueError(f"{name}={value!r} must lie in (0, 1) (a fraction of the range)")
    ids = hidden_neurons(p_box.widths)
    p_pop = as_population(p_pop, dist)
    fv_points = np.asarray(fv_points, np.float64)
    if fv_points.shape[:1] + fv_points.shape[2:] != (len(ids), 2):
        raise ValueError(f"fv_points has shape {fv_points.shape}; need ({len(ids)}, starts, 2)"
                         " (one row per hidden neuron, layer by layer)")
    examples = np.asarray(examples, np.float64).reshape(-1, 2)
    if len(examples) == 0:
        raise ValueError("examples is empty; pass the (n, 2) training sample the top-k "
                         "examples come from")
    box_area = float(p_box.areas.sum())
    ex_values = _values(p_pop, examples, ids)
    rows = []
    for n, neuron in enumerate(map(tuple, ids)):
        ext = neuron_extrema(p_box, neuron)
        span = ext.max - ext.min
        fv_val = p_box.evaluate(fv_points[n], neuron[0])[:, neuron[1]]
        top = top_examples(ex_values[:, n], k)
        topv = ex_values[top, n]
        if span <= 0:
            rows.append((True, ext.max, ext.min, ext.argmax, fv_val.max()) + (np.nan,) * 14)
            continue
        level, near = ext.max - tol * span, ext.max - delta * span
        best = int(np.argmax(fv_val))
        verts, counts = superlevel_polygons(p_box, neuron, level)
        fv_dist = distance_to_set(fv_points[n, best], verts, counts, fv_val[best:best + 1] >= level)
        near_v, near_c = superlevel_polygons(p_box, neuron, near)
        near_mass = mixture_polygon_moments(pad_csr(near_v, near_c), dist)
        tq = top_quantile(p_pop, dist, neuron, k / len(examples))
        rows.append((
            False, ext.max, ext.min, ext.argmax, fv_val[best],
            (ext.max - fv_val[best]) / span, float(fv_val[best] >= level),
            float(np.mean(fv_val >= level)), float(fv_dist[0]),
            float(geo.polygon_areas(near_v, near_c).sum() / box_area),
            float(np.asarray(dist.weights) @ near_mass.m0.sum(1)),
            float(topv.mean()), (ext.max - topv.max()) / span, tq.mean,
            (topv.mean() - tq.mean) / span, (ext.max - tq.threshold) / span,
            float(np.mean(topv >= near)), float(np.mean(topv >= tq.threshold)),
            float(not np.any(topv >= near)),
        ))
    cols = list(zip(*rows))
    return NeuronScores(
        ids, np.array(cols[0], bool), np.array(cols[1]), np.array(cols[2]), np.stack(cols[3]),
        np.array(cols[4]), fv_points, *(np.array(c, float) for c in cols[5:]))
