"""Vectorised geometry of many convex polygons at once (float64, numpy only).

A *polygon set* is stored compactly as ``verts (V, 2)`` (all vertices, polygon after
polygon, each counter-clockwise) plus ``counts (R,)`` (vertices per polygon); polygon ``r``
is ``verts[offsets[r]:offsets[r + 1]]`` with ``offsets = [0, cumsum(counts)]`` (CSR). Every
function here works on all polygons in one pass, with no Python loop over polygons.

Tolerances. A half-plane ``s >= 0`` is given by the values ``s`` of its affine function at
the vertices. Vertices with ``|s| <= tol`` are *snapped*: treated as lying on the line, so a
line through a vertex (a domain corner, the meeting point of earlier lines) creates no
sliver and no near-duplicate vertex. Only polygons with vertices strictly on both sides are
cut, and a cut whose smaller piece has area below ``area_eps`` is not made (the polygon is
kept whole on its larger side).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SNAP_RTOL = 1e-10
"""Vertices within ``SNAP_RTOL * scale`` (in units of the affine function, see
:func:`affine_tol`) of a cutting line count as on it."""

AREA_RTOL = 1e-15
"""Cut pieces with area below ``AREA_RTOL * domain area`` are merged into the other piece."""

EDGE_RTOL = 1e-9
"""Edges shorter than ``EDGE_RTOL * length scale`` are ignored by point location (their
normal direction is rounding noise)."""

DEFAULT_BOX = np.array([[-4.0, 4.0], [-4.0, 4.0]])
"""Domain used when none is given: ``[-4, 4]^2`` (rows = dimensions, as a distribution's
``.domain``)."""


# ----------------------------------------------------------------------------- CSR helpers


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """``counts (R,)`` -> ``offsets (R + 1,)`` with ``offsets[0] = 0``."""
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def segment_ids(counts: np.ndarray) -> np.ndarray:
    """``(V,)`` polygon index of every vertex."""
    return np.repeat(np.arange(len(counts)), counts)


def next_index(counts: np.ndarray) -> np.ndarray:
    """``(V,)`` index of the next vertex (cyclically) within the same polygon.

    Empty polygons (count 0) are allowed.
    """
    offsets = offsets_of(counts)
    nxt = np.arange(1, offsets[-1] + 1)
    nonempty = counts > 0
    nxt[offsets[1:][nonempty] - 1] = offsets[:-1][nonempty]
    return nxt


def segment_sum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-polygon sums of per-vertex ``values (V,)``; empty polygons give 0."""
    return np.bincount(segment_ids(counts), weights=values, minlength=len(counts))


def polygon_areas(verts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Signed areas ``(R,)`` by the shoelace formula (positive for CCW).

    Coordinates are taken relative to each polygon's first vertex, so the rounding error is
    relative to the polygon's own size, not to its distance from the origin. Polygons with
    fewer than 3 vertices have area 0.
    """
    if len(verts) == 0:
        return np.zeros(len(counts))
    offsets = offsets_of(counts)
    first = np.repeat(verts[np.minimum(offsets[:-1], len(verts) - 1)], counts, axis=0)
    d = verts - first
    dn = d[next_index(counts)]
    return 0.5 * segment_sum(d[:, 0] * dn[:, 1] - d[:, 1] * dn[:, 0], counts)


def polygon_centroids(verts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Area centroids ``(R, 2)`` (vertex mean for zero-area polygons)."""
    offsets = offsets_of(counts)
    first = np.repeat(verts[np.minimum(offsets[:-1], max(len(verts) - 1, 0))], counts, axis=0)
    d = verts - first
    dn = d[next_index(counts)]
    cr = d[:, 0] * dn[:, 1] - d[:, 1] * dn[:, 0]
    area6 = 3.0 * segment_sum(cr, counts)
    num = np.stack([segment_sum((d[:, k] + dn[:, k]) * cr, counts) for k in range(2)], 1)
    mean = np.stack([segment_sum(d[:, k], counts) for k in range(2)], 1) / np.maximum(
        counts, 1
    )[:, None]
    ok = np.abs(area6) > 0
    rel = np.where(ok[:, None], num / np.where(ok, area6, 1.0)[:, None], mean)
    return rel + verts[np.minimum(offsets[:-1], max(len(verts) - 1, 0))]


def split_list(verts: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """The polygon set as a list of ``(m_r, 2)`` arrays (views into ``verts``)."""
    return np.split(verts, offsets_of(counts)[1:-1])


def pack(polygons) -> tuple[np.ndarray, np.ndarray]:
    """A list of ``(m_r, 2)`` arrays -> ``(verts (V, 2), counts (R,))``."""
    polygons = [np.asarray(p, np.float64).reshape(-1, 2) for p in polygons]
    counts = np.array([len(p) for p in polygons], np.int64)
    verts = np.concatenate(polygons) if polygons else np.zeros((0, 2))
    return verts, counts


def affine_tol(a: np.ndarray, c: np.ndarray, scale: float) -> np.ndarray:
    """Snapping tolerance for the affine function ``u -> a . u + c`` on a domain whose
    coordinates are at most ``scale`` in size: ``SNAP_RTOL * (|a|_1 scale + |c|)``, i.e. the
    rounding-noise level of evaluating it, times a safety factor of about 1e6.

    Args:
        a: ``(..., 2)`` gradients; c: ``(...)`` offsets.
    """
    return SNAP_RTOL * (np.abs(a).sum(-1) * scale + np.abs(c))


# ----------------------------------------------------------------------------- cutting


def _halves(verts, counts, s):
    """Both halves ``s >= 0`` and ``s <= 0`` of every polygon (``s`` already snapped).

    Returns ``((pos_verts, pos_counts), (neg_verts, neg_counts))``; the crossing points are
    computed once and shared bit-for-bit by both halves, so the halves tile the polygon.
    """
    nxt = next_index(counts)
    sn = s[nxt]
    cross = s * sn < 0
    pts = verts.copy()
    t = s[cross] / (s[cross] - sn[cross])
    pts[cross] = verts[cross] + t[:, None] * (verts[nxt[cross]] - verts[cross])
    cand = np.stack([verts, pts], 1).reshape(-1, 2)
    seg = segment_ids(counts)
    out = []
    for keep in (s >= 0, s <= 0):
        mask = np.stack([keep, cross], 1)
        out.append((cand[mask.ravel()],
                    np.bincount(seg, weights=mask.sum(1), minlength=len(counts)).astype(np.int64)))
    return out


class Split(NamedTuple):
    """Result of :func:`split_convex`.

    Attributes:
        verts, counts, areas: the new polygon set (uncut polygons first, in their old order,
            then the ``s >= 0`` pieces, then the ``s <= 0`` pieces, of the cut polygons).
        parent: ``(R',)`` index of each new polygon's polygon before the split.
        positive: ``(R',)`` bool, the polygon lies on the ``s >= 0`` side.
        n_cut: number of polygons actually cut.
    """

    verts: np.ndarray
    counts: np.ndarray
    areas: np.ndarray
    parent: np.ndarray
    positive: np.ndarray
    n_cut: int


def split_convex(verts, counts, areas, s, tol, area_eps) -> Split:
    """Cut every convex polygon by its own line ``s = 0``.

    Args:
        verts: ``(V, 2)``; counts: ``(R,)``, all >= 3; areas: ``(R,)`` their areas.
        s: ``(V,)`` value at each vertex of the affine function that defines the polygon's line.
        tol: ``(V,)`` snapping tolerance (see module docstring).
        area_eps: pieces smaller than this are not split off.
    Returns:
        :class:`Split`.
    """
    offsets = offsets_of(counts)
    pos, neg = s > tol, s < -tol
    has_pos = np.logical_or.reduceat(pos, offsets[:-1])
    has_neg = np.logical_or.reduceat(neg, offsets[:-1])
    cut = has_pos & has_neg
    if not cut.any():
        return Split(verts, counts, areas, np.arange(len(counts)), has_pos, 0)
    vcut = np.repeat(cut, counts)
    snapped = np.where(pos | neg, s, 0.0)
    (pv, pc), (nv, nc) = _halves(verts[vcut], counts[cut], snapped[vcut])
    pa, na = polygon_areas(pv, pc), polygon_areas(nv, nc)
    real = (pa > area_eps) & (na > area_eps)
    cut_idx = np.flatnonzero(cut)
    positive = has_pos.copy()
    positive[cut_idx[~real]] = pa[~real] > na[~real]
    keep = ~cut
    keep[cut_idx[~real]] = True
    kept = np.flatnonzero(keep)
    real_idx = cut_idx[real]
    n_real = len(real_idx)
    return Split(
        np.concatenate([verts[np.repeat(keep, counts)], pv[np.repeat(real, pc)],
                        nv[np.repeat(real, nc)]]),
        np.concatenate([counts[keep], pc[real], nc[real]]),
        np.concatenate([areas[keep], pa[real], na[real]]),
        np.concatenate([kept, real_idx, real_idx]),
        np.concatenate([positive[keep], np.ones(n_real, bool), np.zeros(n_real, bool)]),
        n_real,
    )


def clip_halfplane(verts, counts, s, tol) -> tuple[np.ndarray, np.ndarray]:
    """Keep the part ``s >= 0`` of every convex polygon.

    Args:
        verts: ``(V, 2)``; counts: ``(R,)``.
        s: ``(V,)`` affine function values at the vertices; tol: ``(V,)`` snapping tolerance.
    Returns:
        ``(verts', counts' (R,))``, same polygon order; a polygon entirely in ``s < 0`` gets a
        count below 3 (drop it, e.g. by area).
    """
    snapped = np.where(np.abs(s) > tol, s, 0.0)
    return _halves(verts, counts, snapped)[0]


# ----------------------------------------------------------------------------- domains


def as_domain(domain) -> np.ndarray:
    """Validate a convex polygonal domain; returns its CCW vertices ``(m, 2)`` float64.

    Args:
        domain: ``None`` (:data:`DEFAULT_BOX`); a box ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``;
            a convex polygon ``(m, 2)``, ``m >= 3``, either orientation; or an object with a
            ``.domain`` attribute holding a box (e.g. a distribution).
    Raises:
        ValueError: wrong shape or dimension, non-finite, empty box, repeated vertices, zero
            area, or a non-convex / self-intersecting polygon.
    """
    if domain is None:
        domain = DEFAULT_BOX
    if hasattr(domain, "domain"):
        domain = domain.domain
    arr = np.asarray(domain, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
        raise ValueError(
            f"domain has shape {arr.shape}; pass a 2-D box [[xlo, xhi], [ylo, yhi]] (2, 2) or "
            "convex polygon vertices (m, 2) with m >= 3 (for higher-dimensional inputs the "
            "domain is in the 2-D slice coordinates u)"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"domain={arr.tolist()} has non-finite entries; use finite bounds")
    if arr.shape[0] == 2:
        (xlo, xhi), (ylo, yhi) = arr
        if not (xlo < xhi and ylo < yhi):
            raise ValueError(
                f"domain box {arr.tolist()} is empty; rows are [lo, hi] per dimension with lo < hi"
            )
        return np.array([[xlo, ylo], [xhi, ylo], [xhi, yhi], [xlo, yhi]])
    return _as_convex_polygon(arr)


def _as_convex_polygon(poly: np.ndarray) -> np.ndarray:
    m = len(poly)
    diff = np.roll(poly, -1, 0) - poly
    scale = np.abs(poly).max() + np.abs(diff).max()
    if np.any(np.abs(diff).max(1) <= 1e-14 * scale) or len(np.unique(poly, axis=0)) < m:
        raise ValueError(
            f"domain polygon {poly.tolist()} has repeated vertices; list each corner once"
        )
    area = polygon_areas(poly, np.array([m]))[0]
    if abs(area) <= 1e-14 * scale**2:
        raise ValueError(f"domain polygon {poly.tolist()} has zero area; it must enclose a region")
    if area < 0:
        poly, diff = poly[::-1].copy(), np.roll(poly[::-1], -1, 0) - poly[::-1]
    turn = diff[:, 0] * np.roll(diff, -1, 0)[:, 1] - diff[:, 1] * np.roll(diff, -1, 0)[:, 0]
    dot = (diff * np.roll(diff, -1, 0)).sum(1)
    winding = np.arctan2(turn, dot).sum() / (2 * np.pi)
    if np.any(turn < -1e-12 * scale**2) or abs(winding - 1) > 1e-6:
        raise ValueError(
            f"domain polygon {poly.tolist()} is not convex (or crosses itself); pass the vertices "
            "of a convex polygon in boundary order, e.g. its scipy.spatial.ConvexHull"
        )
    return np.ascontiguousarray(poly)


def length_scale(domain: np.ndarray) -> float:
    """Coordinate scale of a domain: ``max(max |coordinate|, diameter)``."""
    return float(max(np.abs(domain).max(), np.ptp(domain, 0).max()))


# ----------------------------------------------------------------------------- point location


class HalfPlanes(NamedTuple):
    """Padded unit-normal half-planes of convex polygons: point ``u`` is inside polygon ``r``
    iff ``min_e (n[r, e] . u + d[r, e]) >= 0``; this minimum is the signed distance to the
    boundary (for inside points). Padding has ``n = 0, d = +inf``."""

    nx: np.ndarray  # (R, E)
    ny: np.ndarray  # (R, E)
    d: np.ndarray  # (R, E)


def halfplanes(verts, counts, min_edge: float) -> HalfPlanes:
    """Edge half-planes of CCW convex polygons, ignoring edges shorter than ``min_edge``."""
    offsets = offsets_of(counts)
    e = verts[next_index(counts)] - verts
    length = np.hypot(e[:, 0], e[:, 1])
    ok = length > min_edge
    safe = np.where(ok, length, 1.0)
    nx, ny = np.where(ok, -e[:, 1] / safe, 0.0), np.where(ok, e[:, 0] / safe, 0.0)
    d = np.where(ok, -(nx * verts[:, 0] + ny * verts[:, 1]), np.inf)
    E = int(counts.max())
    slot = np.arange(len(verts)) - np.repeat(offsets[:-1], counts)
    seg = segment_ids(counts)
    out = []
    for vals, fill in ((nx, 0.0), (ny, 0.0), (d, np.inf)):
        pad = np.full((len(counts), E), fill)
        pad[seg, slot] = vals
        out.append(pad)
    return HalfPlanes(*out)


def inside_distance(hp: HalfPlanes, regions: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``(n,)`` signed distance ``min_e`` of points ``U (n, 2)`` to polygons ``regions (n,)``
    (>= 0 inside)."""
    return (hp.nx[regions] * U[:, :1] + hp.ny[regions] * U[:, 1:] + hp.d[regions]).min(1)


class Locator(NamedTuple):
    """Bucket grid over a polygon partition for vectorised point location.

    Cell ``k`` (``k = i * gy + j``) lists the polygons that may meet it in
    ``cand[start[k]:start[k + 1]]``.
    """

    lo: np.ndarray  # (2,)
    size: np.ndarray  # (2,) cell size
    shape: tuple[int, int]
    start: np.ndarray  # (gx * gy + 1,)
    cand: np.ndarray
    hp: HalfPlanes
    domain_hp: HalfPlanes
    tol: float


def build_locator(verts, counts, domain, *, cells_per_region: float = 8.0,
                  max_cells: int = 1 << 22) -> Locator:
    """Bucket grid with ``~cells_per_region * R`` cells over the domain's bounding box.

    A polygon is listed in a cell when its bounding box meets the cell and no polygon edge
    separates them (separating-axis test), so the lists are exact up to touching.
    """
    scale = length_scale(domain)
    R = len(counts)
    lo, hi = domain.min(0), domain.max(0)
    ext = hi - lo
    n_cells = int(np.clip(cells_per_region * R, 16, max_cells))
    gx = max(1, int(round(np.sqrt(n_cells * ext[0] / ext[1]))))
    gy = max(1, int(round(n_cells / gx)))
    size = ext / np.array([gx, gy])
    offsets = offsets_of(counts)
    bmin = np.stack([np.minimum.reduceat(verts[:, k], offsets[:-1]) for k in range(2)], 1)
    bmax = np.stack([np.maximum.reduceat(verts[:, k], offsets[:-1]) for k in range(2)], 1)
    shape = np.array([gx, gy])
    i0 = np.clip(np.floor((bmin - lo) / size).astype(np.int64), 0, shape - 1)
    i1 = np.clip(np.floor((bmax - lo) / size).astype(np.int64), 0, shape - 1)
    ni, nj = (i1 - i0 + 1).T
    n_pairs = ni * nj
    reg = np.repeat(np.arange(R), n_pairs)
    k = np.arange(len(reg)) - np.repeat(offsets_of(n_pairs)[:-1], n_pairs)
    ii = i0[reg, 0] + k // nj[reg]
    jj = i0[reg, 1] + k % nj[reg]
    hp = halfplanes(verts, counts, EDGE_RTOL * scale)
    tol = 1e-12 * scale
    # separating-axis test against each edge: the cell's corner furthest inside the edge
    cx0, cy0 = lo[0] + ii * size[0], lo[1] + jj * size[1]
    nx, ny, d = hp.nx[reg], hp.ny[reg], hp.d[reg]
    best = (nx * np.where(nx > 0, (cx0 + size[0])[:, None], cx0[:, None])
            + ny * np.where(ny > 0, (cy0 + size[1])[:, None], cy0[:, None]) + d)
    meets = best.min(1) >= -tol
    cell = (ii * gy + jj)[meets]
    reg = reg[meets]
    order = np.argsort(cell, kind="stable")
    start = offsets_of(np.bincount(cell, minlength=gx * gy))
    dom_hp = halfplanes(domain, np.array([len(domain)]), 0.0)
    return Locator(lo, size, (gx, gy), start, reg[order], hp, dom_hp, tol)


def locate(loc: Locator, U: np.ndarray) -> np.ndarray:
    """Polygon index ``(n,)`` of each point ``U (n, 2)``; -1 outside the domain.

    A point in several candidate polygons (on a shared edge) gets the one it is deepest in.
    """
    U = np.asarray(U, np.float64)
    out = np.full(len(U), -1, np.int64)
    inside = inside_distance(loc.domain_hp, np.zeros(len(U), np.int64), U) >= -loc.tol
    idx = np.flatnonzero(inside)
    Ui = U[idx]
    gx, gy = loc.shape
    ij = np.floor((Ui - loc.lo) / loc.size).astype(np.int64)
    cell = np.clip(ij[:, 0], 0, gx - 1) * gy + np.clip(ij[:, 1], 0, gy - 1)
    first, n_cand = loc.start[cell], loc.start[cell + 1] - loc.start[cell]
    found = np.where(n_cand > 0, loc.cand[np.minimum(first, len(loc.cand) - 1)], -1)
    multi = np.flatnonzero(n_cand > 1)
    if len(multi):
        Um, fm, nm = Ui[multi], first[multi], n_cand[multi]
        best = np.full(len(multi), -np.inf)
        choice = found[multi]
        for slot in range(int(nm.max())):
            sel = np.flatnonzero(nm > slot)
            reg = loc.cand[fm[sel] + slot]
            dist = inside_distance(loc.hp, reg, Um[sel])
            better = dist > best[sel]
            best[sel[better]] = dist[better]
            choice[sel[better]] = reg[better]
        found[multi] = choice
    out[idx] = found
    return out
