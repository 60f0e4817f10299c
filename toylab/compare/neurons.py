"""Do hidden neurons model the data distribution, or only the decision boundary?

Every hidden neuron's response ``f`` of a piecewise-linear network is affine on each linear
region ``P_r`` of the exact partition, ``f(x) = a_r . x + c_r``. Its population moments
``E[f]``, ``Var[f]`` are exact (closed-form Gaussian polygon moments,
:func:`toylab.exact.population.layer_moments`). Its correlation with a *non-affine* target
``g`` (class log-odds, a component's log-density, a signed distance to a boundary) needs

    E[f g] = sum_r a_r . E[X g(X) 1_{P_r}] + c_r E[g(X) 1_{P_r}],

so only the per-region target moments ``E[g 1_P]`` and ``E[X g 1_P]`` must be integrated.
:func:`region_integrals` computes them by deterministic quadrature:

* per mixture component ``k``, the regions are mapped to whitened coordinates
  ``z = L_k^{-1}(x - mu_k)`` (``Sigma_k = L_k L_k^T``), where the component's density is the
  standard normal ``phi(z)``, and clipped to the square ``|z_i| <= halfwidth`` (8.5 by
  default: the clipped-off mass is ``< 4 Phi(-8.5) = 4e-17`` per component);
* each clipped region is fan-triangulated and integrated with the collapsed (Duffy)
  tensor-product Gauss-Legendre rule (Stroud 1971, "Approximate calculation of multiple
  integrals", sec. 2.6; Duffy 1982, SIAM J. Numer. Anal. 19), which is exact for polynomials
  of total degree ``2 order - 2``;
* the error of each triangle is estimated by order doubling, ``|I_{2n} - I_n|``; while the
  total estimate (relative to ``sum |I|`` of each moment) exceeds ``rtol``, the triangles
  with the largest estimates, together half of the total, are split into four at their edge
  midpoints and re-integrated (global adaptivity: a kink of the target, e.g. where two
  boundary segments are equally near, is refined only as far as the total error needs). The reported value is ``I_{2n}``, the reported error estimate
  the sum of ``|I_{2n} - I_n|`` (an estimate, not a proof: it is reliable for integrands that
  are smooth on each triangle and conservative for the higher-order ``I_{2n}``).

The signed distances are evaluated exactly up to a stated bound (:func:`segment_distance`).
So in a :class:`NeuronProfile`: ``mean``, ``std``, ``active_mass`` are exact; ``corr`` is
quadrature with the error estimate ``corr_error``; fold depths are exact; the density-weighted
fold-to-boundary distances are 1-D Gauss-Legendre with an order-doubling check.

Neuron kinds (:func:`classify`, thresholds in :class:`KindThresholds`):

* ``dead``: the neuron is constant on all but ``dead_mass`` of the probability (it varies
  only on regions of total probability ``< dead_mass``);
* ``boundary``: ``max |corr|`` with a boundary target (log-odds, signed distance to the Bayes
  or to the learned boundary) is ``>= corr`` and the best density target is below ``corr``;
* ``density``: ``max |corr|`` with the mixture's or a component's log-density is ``>= corr``,
  boundary targets below;
* ``both``: both families reach ``corr``; ``other``: neither does.

Independently, a neuron's *fold* (where its pre-activation crosses a breakpoint) is
``at_boundary`` when it reaches into the data (minimum Mahalanobis distance to a component
mean ``<= fold_depth``) and its density-weighted mean distance to the learned decision
boundary is ``<= fold_radius``.

Only two-class 2-D mixtures are supported (the log-odds and the signed distances need the
sign of one class pair); anything else raises a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp, ndtr

from toylab.exact import geometry as geo
from toylab.exact.boundary import decision_boundary, folds
from toylab.exact.partition import Partition
from toylab.exact.population import layer_moments, population_partition, region_masses

# The Bayes boundary as segments: toylab.exact.population computes it (exactly for affine
# log-odds, traced with a sagitta check otherwise) for hausdorff_to_bayes but does not export
# it yet; these two private helpers are used until a public ``bayes_segments`` exists.
from toylab.exact.population import bayes_segments as exact_bayes_segments

QUADRATURE_ORDER = 4
"""Gauss-Legendre points per direction of the lower rule (the check rule uses twice as many)."""

WHITENED_HALFWIDTH = 8.5
"""Each component is integrated over ``|z_i| <= 8.5`` in its whitened coordinates."""

BAYES_TRACE_TOL = 1e-4
"""Sagitta tolerance of the traced Bayes boundary (curved log-odds), in input units: distances
to it are exact to within this."""

MAX_TRIANGLES = 200_000
"""Adaptive quadrature stops refining when a component would hold more triangles."""


# ----------------------------------------------------------------------------- quadrature


class TriangleRule(NamedTuple):
    """A quadrature rule on a triangle: ``int_T h ~= area(T) sum_q weights[q] h(x_q)`` with
    ``x_q = bary[q] @ vertices``.

    Attributes:
        bary: ``(Q, 3)`` barycentric coordinates of the nodes.
        weights: ``(Q,)`` positive weights summing to 1.
    """

    bary: np.ndarray
    weights: np.ndarray


def triangle_rule(order: int) -> TriangleRule:
    """Collapsed Gauss-Legendre rule with ``order**2`` nodes (Stroud 1971; Duffy 1982).

    The square ``(u, v) in [0, 1]^2`` maps onto the triangle by
    ``x = v0 + u (v1 - v0) + u v (v2 - v1)`` with Jacobian ``2 area u``; a tensor
    Gauss-Legendre rule in ``(u, v)`` then integrates polynomials of total degree up to
    ``2 order - 2`` exactly.

    Args:
        order: Gauss-Legendre points per direction, ``>= 1``.
    Returns:
        :class:`TriangleRule`.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order={order!r} must be a positive integer, e.g. 8")
    t, w = np.polynomial.legendre.leggauss(int(order))
    t, w = (t + 1) / 2, w / 2
    U, V = np.meshgrid(t, t, indexing="ij")
    bary = np.stack([1 - U, U * (1 - V), U * V], -1).reshape(-1, 3)
    weights = (2 * np.outer(w * t, w)).reshape(-1)
    return TriangleRule(bary, weights)


def fan_triangles(verts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fan triangulation of convex polygons from their first vertex.

    Args:
        verts: ``(V, 2)``; counts: ``(R,)`` (polygons with fewer than 3 vertices give none).
    Returns:
        ``tris (T, 3, 2)`` and ``owner (T,)``, the polygon of each triangle.
    """
    counts = np.asarray(counts, np.int64)
    n_tri = np.maximum(counts - 2, 0)
    owner = np.repeat(np.arange(len(counts)), n_tri)
    start = geo.offsets_of(counts)[:-1][owner]
    k = np.arange(n_tri.sum()) - np.repeat(geo.offsets_of(n_tri)[:-1], n_tri)
    tris = np.stack([verts[start], verts[start + k + 1], verts[start + k + 2]], 1)
    return tris, owner


def subdivide(tris: np.ndarray) -> np.ndarray:
    """Split each triangle ``(T, 3, 2)`` into four at its edge midpoints: ``(4T, 3, 2)``,
    the four children of triangle ``t`` at rows ``4t..4t+3``."""
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
    return np.stack([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c),
                                              (ab, bc, ca))], 1).reshape(-1, 3, 2)


def _triangle_areas(tris: np.ndarray) -> np.ndarray:
    d1, d2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    return 0.5 * np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


class RegionIntegrals(NamedTuple):
    """Per-region moments of target functions under a mixture, by quadrature.

    Attributes:
        m0: ``(R, J)`` ``E[g_j(X) 1_{P_r}]``.
        m1: ``(R, J, 2)`` ``E[X g_j(X) 1_{P_r}]``.
        m0_error, m1_error: the same shapes, order-doubling error estimates.
        neglected_mass: probability left out (outside the partition's domain or outside the
            whitened integration squares); ``g`` is not integrated there.
        n_triangles: triangles integrated over all rounds; converged: the total error estimate
            met ``rtol`` within ``max_rounds`` and :data:`MAX_TRIANGLES`.
    """

    m0: np.ndarray
    m1: np.ndarray
    m0_error: np.ndarray
    m1_error: np.ndarray
    neglected_mass: float
    n_triangles: int
    converged: bool


def _whitened_pieces(p: Partition, mean, chol, halfwidth):
    """Regions of ``p`` in the whitened coordinates of one component, clipped to the square
    ``|z_i| <= halfwidth``: ``tris (T, 3, 2)`` and ``owner (T,)`` (region index)."""
    Z = (p.vertices - mean) @ np.linalg.inv(chol).T
    verts, counts = Z, p.counts.copy()
    owner = np.arange(len(p))
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        s = halfwidth - sign * verts[:, axis]
        tol = geo.SNAP_RTOL * (np.abs(verts[:, axis]) + halfwidth)
        verts, counts = geo.clip_halfplane(verts, counts, s, tol)
        keep = counts >= 3
        verts, counts, owner = verts[np.repeat(keep, counts)], counts[keep], owner[keep]
    tris, which = fan_triangles(verts, counts)
    return tris, owner[which]


def _triangle_integrals(tris, owner, mean, chol, fn, rule: TriangleRule) -> np.ndarray:
    """``(T, J, 3)``: ``int_T g phi``, ``int_T x0 g phi``, ``int_T x1 g phi`` (whitened
    triangles, ``x = mean + chol z``)."""
    Z = np.einsum("qk,tkd->tqd", rule.bary, tris)
    X = mean + Z @ chol.T
    T, Q = Z.shape[:2]
    G = np.asarray(fn(X.reshape(-1, 2), np.repeat(owner, Q)), np.float64).reshape(T, Q, -1)
    if not np.all(np.isfinite(G)):
        raise ValueError("fn returned non-finite target values; targets must be finite on the "
                         "whole partition domain (replace undefined values by a constant)")
    base = (rule.weights * np.exp(-0.5 * np.sum(Z * Z, -1)) / (2 * np.pi)
            * _triangle_areas(tris)[:, None])
    m0 = np.einsum("tq,tqj->tj", base, G)
    m1 = np.einsum("tq,tqd,tqj->tjd", base, X, G)
    return np.concatenate([m0[..., None], m1], -1)


def _refine_component(tris, owner, mean, chol, fn, rules, rtol, max_rounds):
    """Globally adaptive quadrature over one component's whitened triangles.

    Each round splits the triangles with the largest error estimates that together carry
    half of the total, until the total (relative to each column's ``sum |I|``) is at most
    ``rtol``. Returns ``(tris, owner, hi (T, J, 3), diff (T, J, 3), n_integrated, converged)``.
    """
    def integrate(t, o):
        hi = _triangle_integrals(t, o, mean, chol, fn, rules[1])
        return hi, np.abs(hi - _triangle_integrals(t, o, mean, chol, fn, rules[0]))

    hi, diff = integrate(tris, owner)
    scale = np.abs(hi).sum(0) + 1e-300
    n_done = len(tris)
    for _ in range(max_rounds):
        err = (diff / scale).reshape(len(tris), -1).max(1)
        total = err.sum()
        if total <= rtol:
            return tris, owner, hi, diff, n_done, True
        worst = np.argsort(-err, kind="stable")
        pick = worst[: np.searchsorted(np.cumsum(err[worst]), 0.5 * total) + 1]
        if len(tris) + 3 * len(pick) > MAX_TRIANGLES:
            break
        kids, kid_owner = subdivide(tris[pick]), np.repeat(owner[pick], 4)
        kid_hi, kid_diff = integrate(kids, kid_owner)
        n_done += len(kids)
        keep = np.ones(len(tris), bool)
        keep[pick] = False
        tris, owner = np.concatenate([tris[keep], kids]), np.concatenate([owner[keep], kid_owner])
        hi, diff = np.concatenate([hi[keep], kid_hi]), np.concatenate([diff[keep], kid_diff])
    total = (diff / scale).reshape(len(tris), -1).max(1).sum()
    return tris, owner, hi, diff, n_done, bool(total <= rtol)


def region_integrals(p: Partition, dist, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                     order: int = QUADRATURE_ORDER, rtol: float = 1e-6, max_rounds: int = 40,
                     halfwidth: float = WHITENED_HALFWIDTH) -> RegionIntegrals:
    """Per-region moments ``E[g 1_P]``, ``E[X g 1_P]`` of targets ``g`` under a mixture by
    globally adaptive Gauss-Legendre quadrature (module docstring).

    Args:
        p: partition of a 2-input network over its own input plane.
        dist: 2-D Gaussian mixture.
        fn: ``fn(X (n, 2), region (n,)) -> (n, J)`` target values (``region`` is the linear
            region each node lies in, so network-dependent targets need no point location).
        order: lower Gauss-Legendre order (the check rule uses ``2 order``).
        rtol: error budget per component, relative to ``sum |I|`` of each moment column.
        max_rounds: maximum number of refinement rounds per component.
        halfwidth: half side of the whitened integration square of each component.
    Returns:
        :class:`RegionIntegrals`.
    """
    if not rtol > 0:
        raise ValueError(f"rtol={rtol!r} must be positive, e.g. 1e-6")
    rules = (triangle_rule(order), triangle_rule(2 * order))
    means, covs = np.asarray(dist.means, np.float64), np.asarray(dist.covs, np.float64)
    value = error = 0.0
    n_tri, converged = 0, True
    for w, mean, cov in zip(dist.weights, means, covs):
        if w == 0:
            continue
        chol = np.linalg.cholesky(cov)
        tris, owner = _whitened_pieces(p, mean, chol, halfwidth)
        _, owner, hi, diff, n, ok = _refine_component(tris, owner, mean, chol, fn, rules, rtol,
                                                      max_rounds)
        n_tri, converged = n_tri + n, converged and ok
        per_region = np.zeros((2, len(p)) + hi.shape[1:])
        np.add.at(per_region[0], owner, hi)
        np.add.at(per_region[1], owner, diff)
        value, error = value + w * per_region[0], error + w * per_region[1]
    box_mass = 1.0 - (1.0 - 2.0 * ndtr(-halfwidth)) ** 2
    outside = max(0.0, 1.0 - float(region_masses(p, dist).value.sum()))
    return RegionIntegrals(value[..., 0], value[..., 1:], error[..., 0], error[..., 1:],
                           outside + box_mass, n_tri, converged)


# ----------------------------------------------------------------------------- distances


def _to_segments(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances ``(...)`` from points ``X (..., 2)`` to segments ``[a, b]`` (``(..., 2)``),
    broadcasting over the leading axes."""
    dx, dy = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    px, py = X[..., 0] - a[..., 0], X[..., 1] - a[..., 1]
    L2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    px, py = px - t * dx, py - t * dy
    return np.sqrt(px * px + py * py)


def _brute_distance(X: np.ndarray, segs: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Exact distances ``(n,)`` from ``X (n, 2)`` to the nearest of ``segs (s, 2, 2)``."""
    step = max(1, chunk // len(segs))
    a, b = segs[None, :, 0], segs[None, :, 1]
    return np.concatenate([_to_segments(X[s:s + step, None], a, b).min(1)
                           for s in range(0, len(X), step)] + [np.zeros(0)])


def segment_distance(X: np.ndarray, segs: np.ndarray, *, cells: int = 64) -> np.ndarray:
    """Exact Euclidean distance ``(n,)`` from points ``X (n, 2)`` to the union of segments
    ``segs (s, 2, 2)``; ``inf`` for an empty set.

    Pruned brute force: the bounding box of ``X`` is cut into ``cells x cells`` cells; a
    segment is a candidate for a cell unless its distance from the cell centre minus the
    cell's half-diagonal ``h`` exceeds the cell's upper bound ``min_s dist(centre, s) + h``.
    The nearest segment of every point in the cell is always a candidate, so the result is
    exact; each point is then compared with its cell's candidates only (points are batched
    by candidate count, rounded up to a power of two).
    """
    X = np.asarray(X, np.float64).reshape(-1, 2)
    segs = np.asarray(segs, np.float64).reshape(-1, 2, 2)
    if len(segs) == 0:
        return np.full(len(X), np.inf)
    if len(X) == 0 or len(segs) <= 8:
        return _brute_distance(X, segs)
    lo, hi = X.min(0), X.max(0)
    size = np.maximum(hi - lo, 1e-12) / cells
    axis = (np.arange(cells) + 0.5)
    centres = lo + np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2) * size
    h = 0.5 * np.hypot(*size)
    D = _to_segments(centres[:, None], segs[None, :, 0], segs[None, :, 1])  # (C, s)
    cand = D - h <= (D.min(1) + h)[:, None]
    n_cand = cand.sum(1)
    order = np.argsort(~cand, axis=1, kind="stable")  # candidates first
    ij = np.clip(((X - lo) / size).astype(np.int64), 0, cells - 1)
    cell = ij[:, 0] * cells + ij[:, 1]
    width = 2 ** np.ceil(np.log2(n_cand[cell])).astype(np.int64)  # bucket points by count
    out = np.empty(len(X))
    for m in np.unique(width):
        pts = np.flatnonzero(width == m)
        slot = np.minimum(np.arange(m)[None], n_cand[cell[pts], None] - 1)
        seg = segs[np.take_along_axis(order[cell[pts]], slot, 1)]  # (b, m, 2, 2), padded
        out[pts] = _to_segments(X[pts, None], seg[:, :, 0], seg[:, :, 1]).min(1)
    return out


def bayes_segments(dist, box, *, tol: float = BAYES_TRACE_TOL) -> np.ndarray:
    """Segments ``(s, 2, 2)`` of the Bayes boundary of a two-class mixture inside ``box``:
    exact for affine log-odds, else traced to within ``tol`` (sagitta-checked, see
    :func:`toylab.exact.population.hausdorff_to_bayes`)."""
    _check_binary(dist)
    box = np.asarray(box, np.float64)
    return exact_bayes_segments(dist, 0, 1, box, tol=tol).segments


# ----------------------------------------------------------------------------- targets


def _check_binary(dist) -> None:
    if dist.n_classes != 2 or np.asarray(dist.means).shape[1] != 2:
        raise ValueError(
            f"dist={dist!r} has {dist.n_classes} classes in {np.asarray(dist.means).shape[1]}-D; "
            "boundary targets need a two-class 2-D mixture (e.g. toylab.data.curved())"
        )


class Targets(NamedTuple):
    """Named target functions of the input.

    Attributes:
        names: ``(J,)`` target names.
        evaluate: ``evaluate(X (n, 2), region (n,)) -> (n, J)``.
        bayes: ``(s, 2, 2)`` segments of the Bayes boundary; learned: of the learned one.
    """

    names: tuple[str, ...]
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray]
    bayes: np.ndarray
    learned: np.ndarray


BOUNDARY_TARGETS = ("log_odds", "distance_bayes", "distance_learned")
"""Targets that describe the decision boundary; the density targets are ``log_density`` (the
mixture) and ``log_density_k`` (the components)."""


def targets(p: Partition, dist) -> Targets:
    """The targets of the neurons-vs-boundary comparison for a network and a two-class mixture.

    * ``log_odds``: ``log(pi_1 p_1(x)) - log(pi_0 p_0(x))``;
    * ``log_density``: the mixture's ``log p(x)`` (where the data is, whatever its class);
    * ``log_density_k``: ``log N(x; mu_k, Sigma_k)`` of every component ``k``;
    * ``distance_bayes``: signed distance to the Bayes boundary (positive where class 1 wins);
    * ``distance_learned``: signed distance to the network's decision boundary (positive where
      logit 1 > logit 0), measured to its exact segments in ``p``'s domain.

    A boundary that does not cross the domain gives a constant 0 target (correlation NaN).

    Distances are exact for the learned boundary and for an affine Bayes boundary, and exact
    to within ``BAYES_TRACE_TOL`` for a traced (curved) one.
    """
    _check_binary(dist)
    if p.widths[-1] != 2:
        raise ValueError(f"net has {p.widths[-1]} outputs; a two-class mixture needs 2 logits")
    box = np.stack([p.domain.min(0), p.domain.max(0)], 1)
    bayes = bayes_segments(dist, box)
    learned = decision_boundary(p)
    A, c = p.pre[-1]
    dA, dc = A[:, :, 1] - A[:, :, 0], c[:, 1] - c[:, 0]
    names = ("log_odds", "log_density") + tuple(
        f"log_density_{k}" for k in range(dist.n_components)) + ("distance_bayes",
                                                                 "distance_learned")

    def evaluate(X, region):
        joint = dist.class_log_joint(X)
        log_odds = joint[:, 1] - joint[:, 0]
        comp = dist.component_log_density(X)
        mixture = logsumexp(comp, axis=1)
        margin = np.einsum("nd,nd->n", X, dA[region]) + dc[region]
        return np.column_stack([log_odds, mixture, comp - np.log(dist.weights),
                                _signed(log_odds, X, bayes),
                                _signed(margin, X, learned)])

    return Targets(names, evaluate, bayes, learned)


def _signed(side: np.ndarray, X: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """``sign(side) * distance(X, segs)``; 0 everywhere when there is no boundary."""
    if len(segs) == 0:
        return np.zeros(len(X))
    return np.sign(side) * segment_distance(X, segs)


# ----------------------------------------------------------------------------- folds


def fold_depth(segs: np.ndarray, dist) -> float:
    """Smallest Mahalanobis distance ``|L_k^{-1}(x - mu_k)|`` from any component mean to a
    fold ``(s, 2, 2)`` (exact); ``inf`` for an empty fold."""
    if len(segs) == 0:
        return float("inf")
    best = np.inf
    for mean, cov in zip(np.asarray(dist.means), np.asarray(dist.covs)):
        Z = (segs - mean) @ np.linalg.inv(np.linalg.cholesky(cov)).T
        best = min(best, float(_to_segments(np.zeros(2), Z[:, 0], Z[:, 1]).min()))
    return best


def _weighted_line_mean(segs, dist, boundary: np.ndarray, order: int) -> float:
    t, w = np.polynomial.legendre.leggauss(order)
    t, w = (t + 1) / 2, w / 2
    X = segs[:, None, 0] + t[None, :, None] * (segs[:, None, 1] - segs[:, None, 0])
    length = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    logp = dist.log_density(X.reshape(-1, 2)).reshape(X.shape[:2])
    weight = np.exp(logp - logp.max()) * w * length[:, None]
    d = segment_distance(X.reshape(-1, 2), boundary).reshape(X.shape[:2])
    return float(np.sum(weight * d) / np.sum(weight))


def fold_distance(segs: np.ndarray, dist, boundary: np.ndarray, *,
                  order: int = QUADRATURE_ORDER) -> tuple[float, float]:
    """Density-weighted mean distance from a fold ``(s, 2, 2)`` to a boundary ``(b, 2, 2)``,
    ``int_fold d(x) p(x) ds / int_fold p(x) ds`` (1-D Gauss-Legendre on each fold segment).

    Returns:
        ``(value, error)``: the ``2 order`` result and its order-doubling error estimate;
        ``(nan, nan)`` for an empty fold or boundary.
    """
    if len(segs) == 0 or len(boundary) == 0:
        return float("nan"), float("nan")
    hi = _weighted_line_mean(segs, dist, boundary, 2 * order)
    return hi, abs(hi - _weighted_line_mean(segs, dist, boundary, order))


# ----------------------------------------------------------------------------- profiles


class NeuronProfile(NamedTuple):
    """How every hidden neuron relates to the data distribution and the boundaries.

    Attributes:
        neurons: ``(N, 2)`` int ``(layer, index)`` of each hidden neuron.
        targets: ``(J,)`` target names (:func:`targets`).
        mean, std: ``(N,)`` exact population mean and standard deviation.
        active_mass: ``(N,)`` exact probability of the regions where the neuron is not
            constant.
        corr: ``(N, J)`` population correlation with each target (NaN for a constant neuron).
        corr_error: ``(N, J)`` first-order error estimate of ``corr`` from the quadrature
            error estimates.
        fold_depth: ``(N,)`` exact smallest Mahalanobis distance of the fold from a mean.
        fold_to_bayes, fold_to_learned: ``(N,)`` density-weighted mean distance of the fold to
            the Bayes / learned boundary (NaN without fold).
        neglected_mass: probability outside the integration domain.
        converged: the quadrature met its error budget everywhere.
    """

    neurons: np.ndarray
    targets: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    active_mass: np.ndarray
    corr: np.ndarray
    corr_error: np.ndarray
    fold_depth: np.ndarray
    fold_to_bayes: np.ndarray
    fold_to_learned: np.ndarray
    neglected_mass: float
    converged: bool


def _hidden_maps(p: Partition) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All hidden neurons' post-activation maps: ``A (R, 2, N)``, ``c (R, N)``, ids ``(N, 2)``."""
    A = np.concatenate([p.post[l][0] for l in range(p.n_hidden)], 2)
    c = np.concatenate([p.post[l][1] for l in range(p.n_hidden)], 1)
    ids = np.array([(l, i) for l in range(p.n_hidden) for i in range(p.widths[l + 1])])
    return A, c, ids


def _correlations(p, dist, tg: Targets, *, order, rtol):
    """Correlations ``(N, J)`` of every hidden neuron with every target, and error estimates."""
    J = len(tg.names)
    ri = region_integrals(p, dist, lambda X, r: (lambda G: np.hstack([G, G * G]))(
        tg.evaluate(X, r)), order=order, rtol=rtol)
    A, c, _ = _hidden_maps(p)
    Eg, Eg2 = ri.m0.sum(0)[:J], ri.m0.sum(0)[J:]
    dEg, dEg2 = ri.m0_error.sum(0)[:J], ri.m0_error.sum(0)[J:]
    Efg = np.einsum("rdn,rjd->nj", A, ri.m1[:, :J]) + c.T @ ri.m0[:, :J]
    dEfg = np.einsum("rdn,rjd->nj", np.abs(A), ri.m1_error[:, :J]) + np.abs(c).T @ ri.m0_error[:, :J]
    moments = [layer_moments(p, dist, l) for l in range(p.n_hidden)]
    Ef = np.concatenate([m.mean for m in moments])
    Vf = np.concatenate([np.diag(m.cov) for m in moments])
    Vg = Eg2 - Eg**2
    dVg = dEg2 + 2 * np.abs(Eg) * dEg
    sf, sg = np.sqrt(np.maximum(Vf, 0))[:, None], np.sqrt(np.maximum(Vg, 0))[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (Efg - Ef[:, None] * Eg[None]) / (sf * sg)
        err = ((dEfg + np.abs(Ef)[:, None] * dEg[None]) / (sf * sg)
               + np.abs(corr) * dVg[None] / (2 * Vg[None]))
    return Ef, np.sqrt(np.maximum(Vf, 0)), corr, err, ri


def _active_mass(p: Partition, dist) -> np.ndarray:
    """``(N,)`` probability of the regions where each hidden neuron's gradient is non-zero."""
    A, _, _ = _hidden_maps(p)
    live = np.any(A != 0, axis=1)  # (R, N)
    return region_masses(p, dist).value @ live


def neuron_profile(net, dist, *, activation: str | None = None, order: int = QUADRATURE_ORDER,
                   rtol: float = 1e-6) -> NeuronProfile:
    """Compare every hidden neuron of ``net`` with the data distribution and the boundaries.

    Args:
        net: MLP or layer list with 2 inputs and 2 logits; activation: required with a layer
            list, piecewise-linear.
        dist: two-class 2-D Gaussian mixture.
        order, rtol: quadrature settings (:func:`region_integrals`).
    Returns:
        :class:`NeuronProfile`.
    """
    _check_binary(dist)
    p = population_partition(net, dist, activation=activation)
    tg = targets(p, dist)
    mean, std, corr, err, ri = _correlations(p, dist, tg, order=order, rtol=rtol)
    _, _, ids = _hidden_maps(p)
    geometry = []
    for neuron in map(tuple, ids):
        segs = folds(p, neuron)
        geometry.append((fold_depth(segs, dist), fold_distance(segs, dist, tg.bayes)[0],
                         fold_distance(segs, dist, tg.learned)[0]))
    depth, to_bayes, to_learned = (np.array(g) for g in zip(*geometry))
    return NeuronProfile(ids, tg.names, mean, std, _active_mass(p, dist), corr, err, depth,
                         to_bayes, to_learned, ri.neglected_mass, ri.converged)


# ----------------------------------------------------------------------------- kinds


KINDS = ("dead", "boundary", "density", "both", "other")
"""Neuron kinds of :func:`classify`, in this order."""


@dataclass(frozen=True)
class KindThresholds:
    """Thresholds of :func:`classify` (module docstring).

    Attributes:
        corr: ``|corr|`` a neuron needs with a target family to be of that kind.
        dead_mass: a neuron varying on less probability than this is dead.
        fold_depth: a fold reaches into the data within this Mahalanobis distance of a mean.
        fold_radius: a fold in the data is at the boundary when its density-weighted mean
            distance to the learned boundary is at most this (input units).
    """

    corr: float = 0.9
    dead_mass: float = 0.01
    fold_depth: float = 2.0
    fold_radius: float = 0.5

    def __post_init__(self):
        for name in ("corr", "dead_mass", "fold_depth", "fold_radius"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a positive finite number")
        if self.corr > 1 or self.dead_mass >= 1:
            raise ValueError(f"corr={self.corr} must be <= 1 and dead_mass={self.dead_mass} < 1")


class Kinds(NamedTuple):
    """Output of :func:`classify`.

    Attributes:
        kind: ``(N,)`` int index into :data:`KINDS`.
        boundary_corr: ``(N,)`` best ``|corr|`` with a boundary target.
        density_corr: ``(N,)`` best ``|corr|`` with the mixture or a component log-density.
        fold_in_data: ``(N,)`` bool; fold_at_boundary: ``(N,)`` bool.
    """

    kind: np.ndarray
    boundary_corr: np.ndarray
    density_corr: np.ndarray
    fold_in_data: np.ndarray
    fold_at_boundary: np.ndarray


def classify(profile: NeuronProfile, thresholds: KindThresholds = KindThresholds()) -> Kinds:
    """Assign every neuron a kind from :data:`KINDS` (rules in the module docstring)."""
    names = np.array(profile.targets)
    boundary = np.isin(names, BOUNDARY_TARGETS)
    density = np.char.startswith(names.astype(str), "log_density")
    absc = np.nan_to_num(np.abs(profile.corr), nan=0.0)
    b, d = absc[:, boundary].max(1), absc[:, density].max(1)
    hit_b, hit_d = b >= thresholds.corr, d >= thresholds.corr
    kind = np.select([profile.active_mass < thresholds.dead_mass, hit_b & hit_d, hit_b, hit_d],
                     [KINDS.index("dead"), KINDS.index("both"), KINDS.index("boundary"),
                      KINDS.index("density")], KINDS.index("other"))
    in_data = profile.fold_depth <= thresholds.fold_depth
    at_boundary = in_data & (np.nan_to_num(profile.fold_to_learned, nan=np.inf)
                             <= thresholds.fold_radius)
    return Kinds(kind, b, d, in_data, at_boundary)


def kind_fractions(kinds: Kinds) -> dict[str, float]:
    """Fraction of neurons of each kind, plus ``fold_in_data`` and ``fold_at_boundary``."""
    n = max(len(kinds.kind), 1)
    out = {name: float(np.count_nonzero(kinds.kind == i)) / n for i, name in enumerate(KINDS)}
    out["fold_in_data"] = float(np.mean(kinds.fold_in_data)) if len(kinds.kind) else 0.0
    out["fold_at_boundary"] = float(np.mean(kinds.fold_at_boundary)) if len(kinds.kind) else 0.0
    return out
