"""Per-region moments of non-polynomial target functions under a 2-D Gaussian mixture, by
globally adaptive Gauss-Legendre quadrature on the triangles of an exact partition.

A hidden neuron's correlation with a target ``g`` (class log-odds, a log-density, a signed
distance) needs ``E[X g(X) 1_{P_r}]`` and ``E[g(X) 1_{P_r}]`` on every linear region ``P_r``;
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
  boundary segments are equally near, is refined only as far as the total error needs).
  The reported value is ``I_{2n}``, the reported error estimate the sum of ``|I_{2n} - I_n|``
  (an estimate, not a proof: it is reliable for integrands that are smooth on each triangle
  and conservative for the higher-order ``I_{2n}``).

Closed forms exist only for polynomial targets (:mod:`toylab.exact.gaussian`, which the tests
use as the independent reference); everything else goes through this quadrature.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from toylab.exact import geometry as geo
from toylab.exact.gaussian import normal_mass
from toylab.exact.partition import Partition
from toylab.exact.population import region_masses

QUADRATURE_ORDER = 4
"""Gauss-Legendre points per direction of the lower rule (the check rule uses twice as many)."""

WHITENED_HALFWIDTH = 8.5
"""Each component is integrated over ``|z_i| <= 8.5`` in its whitened coordinates."""

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
    G = np.asarray(fn(X.reshape(-1, 2), np.repeat(owner, Q)), np.float64)
    if G.ndim not in (1, 2) or G.shape[0] != T * Q:
        raise ValueError(f"fn returned shape {G.shape} for {T * Q} points; it must return "
                         "(n, J) (or (n,) for one target), one row of values per point")
    G = G.reshape(T, Q, -1)
    if not np.all(np.isfinite(G)):
        raise ValueError("fn returned non-finite target values; targets must be finite on the "
                         "whole partition domain (replace undefined values by a constant)")
    base = (rule.weights * np.exp(-0.5 * np.sum(Z * Z, -1)) / (2 * np.pi)
            * np.abs(geo.polygon_areas(tris.reshape(-1, 2), np.full(T, 3)))[:, None])
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
    box_mass = 1.0 - float(normal_mass(-halfwidth, halfwidth)) ** 2
    outside = max(0.0, 1.0 - float(region_masses(p, dist).value.sum()))
    return RegionIntegrals(value[..., 0], value[..., 1:], error[..., 0], error[..., 1:],
                           outside + box_mass, n_tri, converged)
