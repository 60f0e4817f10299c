"""Closed-form Gaussian integrals over polygons: mass, first and second moments.

For a bivariate normal ``X ~ N(mean, cov)`` and a simple polygon ``P`` (convex or not, any
size, vertices in either orientation) this module computes, in float64 and without
quadrature,

    m0 = P(X in P),   m1 = E[X 1_P]  (2,),   m2 = E[X X^T 1_P]  (2, 2),

vectorised over many polygons and over the components of a mixture.

Method. Whiten ``z = L^{-1}(x - mean)`` with ``cov = L L^T`` (Cholesky); the affine map keeps
polygons polygons and their orientation, and ``z ~ N(0, I)`` with density
``phi(z) = phi1(z1) phi1(z2)``. Every edge ``a -> b`` lies on a line ``z = t e + s nu``
(``e`` the unit edge direction, ``nu`` its left normal, ``s = a . nu`` the signed distance of
the line from the origin, ``t`` the coordinate along the line measured from the foot of the
perpendicular ``s nu``), and on that line ``phi(z) = phi1(s) phi1(t)``.

* ``m0`` -- signed fan of triangles ``(0, a, b)``. Splitting each triangle at the foot of the
  perpendicular gives right triangles ``(0, F, F + t e)``, ``|F| = h = |s|``, of signed mass

      G(h, t) = arctan(t / h) / (2 pi) - T(h, t / h),

  the wedge mass minus the mass beyond the edge's line inside the wedge, where
  ``T(h, a) = P(Z1 > h, 0 < Z2 < a Z1)`` is Owen's T function (Owen 1956, "Tables for
  computing bivariate normal probabilities", Ann. Math. Stat. 27, eq. 2.1;
  :func:`scipy.special.owens_t`). The triangle ``(0, a, b)`` contributes
  ``-sign(s) [G(h, t_b) - G(h, t_a)]``; the subtraction performs the split at the foot
  automatically (``t_a < 0 < t_b`` when the edge is seen across the perpendicular), and edges
  whose line passes through the origin (``s = 0``) contribute nothing.
* ``m1`` -- divergence theorem: ``grad phi = -z phi``, so
  ``int_P z phi dz = -oint_{dP} phi n ds`` with ``n`` the outward normal, and along an edge
  ``int phi ds = phi1(s) [Phi(t_b) - Phi(t_a)]``.
* ``m2`` -- ``d_i d_j phi = (z_i z_j - delta_ij) phi``, so
  ``int_P z_i z_j phi dz = delta_ij m0 - oint n_i z_j phi ds`` and along an edge
  ``int z_j phi ds = phi1(s) [s nu_j (Phi(t_b) - Phi(t_a)) + e_j (phi1(t_a) - phi1(t_b))]``.

Finally un-whiten: ``E[X 1_P] = mean m0 + L m1`` and
``E[X X^T 1_P] = L m2 L^T + mean (L m1)^T + (L m1) mean^T + mean mean^T m0``.

Accuracy: absolute errors are a few float64 roundings per edge, scaled by the largest
whitened vertex norm ``rho`` (an edge line's distance ``s`` is a difference of products of
size ``rho``): about ``1e-16 * max(1, rho)`` per edge. Measured against adaptive cubature at
1e-14: max abs error 1.5e-15 (triangles of size 0.05 sigma) to 1.4e-14 (size 40 sigma, m2).
Masses of polygons far in the tail are accurate in absolute, not relative, terms (they are
differences of O(1) wedge masses). Huge polygons are fine: a box with corners at 1e8 gives
mass 1, mean and second moment to 1e-14, since edges far from the mean contribute their exact
wedge angle and vanishing tail terms.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from scipy.special import ndtr, owens_t

_TWO_PI = 2.0 * np.pi


class Moments(NamedTuple):
    """Gaussian moments restricted to polygons.

    Attributes:
        m0: ``(...)`` probability mass ``P(X in P)``.
        m1: ``(..., 2)`` first moment ``E[X 1_P]``.
        m2: ``(..., 2, 2)`` second moment ``E[X X^T 1_P]`` (symmetric).
    The leading shape is ``(B,)`` for a batch of polygons, ``(K, B)`` for a mixture's ``K``
    components, and ``()`` for one polygon with one Gaussian.
    """

    m0: np.ndarray
    m1: np.ndarray
    m2: np.ndarray


def pad_csr(vertices: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Padded batch from polygons stored back to back (CSR, as :class:`Partition` stores them).

    Each polygon is padded by repeating its last vertex; the padding adds only zero-length
    edges, which carry no mass, so the padded array describes the same closed polygons.

    Args:
        vertices: ``(V, 2)`` all vertices, polygon after polygon.
        counts: ``(B,)`` vertices per polygon (``>= 1``, summing to ``V``).
    Returns:
        ``(B, max counts, 2)`` float64 array.
    """
    counts = np.asarray(counts, np.int64)
    vertices = np.asarray(vertices, np.float64)
    if counts.ndim != 1 or np.any(counts < 1) or counts.sum() != len(vertices):
        raise ValueError(
            f"counts={counts!r} must be (B,) positive vertex counts summing to len(vertices)="
            f"{len(vertices)}"
        )
    start = np.cumsum(counts) - counts
    slot = np.minimum(np.arange(counts.max(initial=1))[None, :], counts[:, None] - 1)
    return vertices[start[:, None] + slot]


def pad_polygons(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Stack polygons of different vertex counts into one padded array (see :func:`pad_csr`).

    Args:
        polygons: sequence of ``(m_i, 2)`` vertex arrays (``m_i >= 1``).
    Returns:
        ``(B, max m_i, 2)`` float64 array.
    """
    polygons = [np.asarray(v, dtype=np.float64) for v in polygons]
    for i, v in enumerate(polygons):
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] == 0:
            raise ValueError(
                f"polygons[{i}] has shape {v.shape}; each polygon must be an (m, 2) array of "
                "vertices with m >= 1"
            )
    if not polygons:
        return np.zeros((0, 1, 2))
    return pad_csr(np.concatenate(polygons), [len(v) for v in polygons])


def _as_vertex_array(polygons, counts) -> tuple[np.ndarray, bool]:
    """Resolve the accepted polygon formats to ``((B, M, 2) array, single?)``."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 2:
        if counts is not None:
            raise ValueError("counts= applies to a padded (B, M, 2) batch; omit it for one polygon")
        return pad_polygons([polygons]), True
    if isinstance(polygons, np.ndarray) and polygons.ndim == 3:
        if polygons.shape[2] != 2:
            raise ValueError(
                f"polygons has shape {polygons.shape}; a padded batch must be (B, M, 2)"
            )
        V = np.array(polygons, dtype=np.float64)
        if counts is not None:
            counts = np.asarray(counts)
            if counts.shape != (V.shape[0],) or np.any(counts < 1) or np.any(counts > V.shape[1]):
                raise ValueError(
                    f"counts={counts!r} must be (B,) = ({V.shape[0]},) ints in [1, {V.shape[1]}]"
                )
            slot = np.minimum(np.arange(V.shape[1])[None, :], counts[:, None] - 1)
            V = np.take_along_axis(V, slot[..., None], axis=1)
        return V, False
    if counts is not None:
        raise ValueError("counts= applies to a padded (B, M, 2) array; omit it for a list")
    if isinstance(polygons, (list, tuple)):
        return pad_polygons(polygons), False
    raise TypeError(
        f"polygons is a {type(polygons).__name__}; pass an (m, 2) array, a list of (m_i, 2) "
        "arrays, or a padded (B, M, 2) array with counts="
    )


def _cholesky(cov: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"cov={cov.tolist()!r} is not symmetric positive definite; pass a valid covariance"
        ) from None


def _phi1(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(_TWO_PI)


def _ndtr_diff(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``Phi(hi) - Phi(lo)`` without cancellation in the upper tail."""
    upper = lo + hi > 0
    return np.where(upper, ndtr(-lo) - ndtr(-hi), ndtr(hi) - ndtr(lo))


def _right_triangle_mass(h: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Signed standard-normal mass of the right triangle ``(0, F, F + t e)``, ``|F| = h > 0``.

    ``G(h, t) = arctan(t/h)/(2 pi) - T(h, t/h)`` (Owen 1956, eq. 2.1).
    """
    a = t / h
    return np.arctan(a) / _TWO_PI - owens_t(h, a)


def standard_moments(Z: np.ndarray) -> Moments:
    """Moments of closed polygons under the standard bivariate normal ``N(0, I)``.

    Args:
        Z: ``(..., M, 2)`` vertices; edges run ``Z[..., k] -> Z[..., k+1 mod M]``.
            Zero-length edges are allowed (they contribute nothing).
    Returns:
        :class:`Moments` with ``m0 (...)``, ``m1 (..., 2)``, ``m2 (..., 2, 2)``, signed by the
        orientation (positive for counter-clockwise polygons).
    """
    a = Z
    b = np.roll(Z, -1, axis=-2)
    d = b - a
    length = np.hypot(d[..., 0], d[..., 1])
    live = length > 0
    e = d / np.where(live, length, 1.0)[..., None]
    nu = np.stack([-e[..., 1], e[..., 0]], axis=-1)  # left normal
    n = -nu  # outward normal of a counter-clockwise polygon
    s = np.sum(a * nu, axis=-1)
    ta = np.sum(a * e, axis=-1)
    tb = np.sum(b * e, axis=-1)

    h = np.abs(s)
    seen = live & (h > 0)
    h_safe = np.where(seen, h, 1.0)
    fan = -np.sign(s) * (_right_triangle_mass(h_safe, tb) - _right_triangle_mass(h_safe, ta))
    m0 = np.sum(np.where(seen, fan, 0.0), axis=-1)

    phi_s = np.where(live, _phi1(s), 0.0)
    dPhi = _ndtr_diff(ta, tb)
    line = phi_s * dPhi  # int_edge phi ds
    m1 = -np.sum(n * line[..., None], axis=-2)

    # int_edge z_j phi ds = phi1(s) [s nu_j dPhi + e_j (phi1(ta) - phi1(tb))]
    zphi = line[..., None] * s[..., None] * nu + (phi_s * (_phi1(ta) - _phi1(tb)))[..., None] * e
    flux = np.einsum("...ki,...kj->...ij", n, zphi)
    m2 = m0[..., None, None] * np.eye(2) - flux
    m2 = 0.5 * (m2 + np.swapaxes(m2, -1, -2))
    return Moments(m0, m1, m2)


def polygon_moments(polygons, mean, cov, *, counts=None) -> Moments:
    """Exact ``P(X in P)``, ``E[X 1_P]``, ``E[X X^T 1_P]`` for ``X ~ N(mean, cov)``.

    Closed forms via whitening, Owen's T function and the divergence theorem (see the module
    docstring for the derivation). Polygons may be given in either orientation; the result is
    the integral over the enclosed region.

    Args:
        polygons: one ``(m, 2)`` vertex array, a list of ``(m_i, 2)`` arrays, or a padded
            ``(B, M, 2)`` array (with ``counts (B,)``, or already padded by repeating a vertex).
        mean: ``(2,)`` or ``(K, 2)`` for ``K`` Gaussians at once.
        cov: ``(2, 2)`` or ``(K, 2, 2)``, symmetric positive definite.
        counts: ``(B,)`` vertex counts of a padded batch.
    Returns:
        :class:`Moments`; leading shape ``()`` / ``(B,)`` for one polygon / a batch, preceded by
        ``(K,)`` when ``mean`` is ``(K, 2)``.
    """
    V, single = _as_vertex_array(polygons, counts)
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    many = mean.ndim == 2
    if mean.shape[-1:] != (2,) or mean.ndim not in (1, 2):
        raise ValueError(f"mean has shape {mean.shape}; need (2,) or (K, 2) for 2-D Gaussians")
    if cov.shape != mean.shape[:-1] + (2, 2):
        raise ValueError(
            f"cov has shape {cov.shape}; with mean of shape {mean.shape} it must be "
            f"{mean.shape[:-1] + (2, 2)}"
        )
    mu = mean.reshape(-1, 2)
    L = _cholesky(cov.reshape(-1, 2, 2))
    Linv = np.linalg.inv(L)
    Z = np.einsum("kij,kbmj->kbmi", Linv, V[None] - mu[:, None, None, :])
    std = standard_moments(Z)
    sign = np.sign(_shoelace(V))[None]  # whitening keeps the orientation (det L > 0)
    m0 = sign * std.m0
    Lm1 = sign[..., None] * np.einsum("kij,kbj->kbi", L, std.m1)
    Lm2L = sign[..., None, None] * np.einsum("kij,kbjl,kml->kbim", L, std.m2, L)
    mu_b = mu[:, None, :]
    cross = mu_b[..., :, None] * Lm1[..., None, :]
    m1 = Lm1 + mu_b * m0[..., None]
    m2 = (Lm2L + cross + np.swapaxes(cross, -1, -2)
          + (mu_b[..., :, None] * mu_b[..., None, :]) * m0[..., None, None])
    out = Moments(m0, m1, m2)
    if single:
        out = Moments(*(x[:, 0] for x in out))
    if not many:
        out = Moments(*(x[0] for x in out))
    return out


def _shoelace(V: np.ndarray) -> np.ndarray:
    """Signed areas ``(B,)`` of closed polygons ``V (B, M, 2)`` (positive = counter-clockwise)."""
    W = np.roll(V, -1, axis=-2)
    return 0.5 * np.sum(V[..., 0] * W[..., 1] - V[..., 1] * W[..., 0], axis=-1)


def mixture_polygon_moments(polygons, dist, *, counts=None) -> Moments:
    """Per-component polygon moments of a 2-D Gaussian mixture.

    Everything downstream is a sum over components weighted by ``dist.weights``, e.g.
    ``P(X in P) = dist.weights @ moments.m0``.

    Args:
        polygons: as in :func:`polygon_moments`.
        dist: an object with ``means (K, 2)`` and ``covs (K, 2, 2)`` (e.g.
            :class:`toylab.data.GaussianMixture` in 2-D).
        counts: as in :func:`polygon_moments`.
    Returns:
        :class:`Moments` with leading shape ``(K, B)`` (``(K,)`` for a single polygon).
    """
    means = np.asarray(dist.means, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(
            f"dist has means of shape {means.shape}; exact polygon moments need a 2-D mixture "
            "(means of shape (K, 2)); project or slice the distribution to 2-D first"
        )
    return polygon_moments(polygons, means, np.asarray(dist.covs, dtype=np.float64),
                           counts=counts)
