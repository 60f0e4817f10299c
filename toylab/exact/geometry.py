"""Vectorised geometry of many convex polygons at once (float64, numpy only).

A *polygon set* is stored compactly as ``verts (V, 2)`` (all vertices, polygon after
polygon, each counter-clockwise) plus ``counts (R,)`` (vertices per polygon); polygon ``r``
is ``verts[offsets[r]:offsets[r + 1]]`` with ``offsets = [0, cumsum(counts)]`` (CSR). Every
function here works on all polygons in one pass, with no Python loop over polygons.

Exact cutting. A polygon set may carry, per vertex, the float64 line of the edge leaving it
and an error radius (:class:`Pieces`): each vertex is then exactly the intersection of its
two edges' lines, and :func:`cut_sides` decides on which side of a line it lies exactly
(float64 with a rigorous error bound, rational arithmetic where that cannot decide), at any
coordinate scale. :func:`cut_polygons` and :func:`clip_exact` cut on those sides: a polygon
is cut only when it has vertices strictly on both sides, so no cell of the arrangement of
these float64 lines is dropped or invented; no tolerance or area cutoff is involved. The
partition and :mod:`toylab.exact.boundary` use these.

Snapping (for polygons without vertex lines). :func:`clip_halfplane` takes the values ``s``
of an affine function at the vertices and treats vertices with ``|s| <= tol`` as on the line
(:func:`affine_tol`: relative to a length scale), so a line through a vertex creates no
sliver.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

SNAP_RTOL = 1e-10
"""Vertices within ``SNAP_RTOL * scale`` (in units of the affine function, see
:func:`affine_tol`) of a cutting line count as on it."""

EDGE_RTOL = 1e-9
"""Edges shorter than ``EDGE_RTOL`` times their end points' coordinate magnitude are ignored
by point location (their normal direction is rounding noise)."""

DEFAULT_BOX = np.array([[-4.0, 4.0], [-4.0, 4.0]])
DEFAULT_BOX.flags.writeable = False
"""Domain used when none is given: ``[-4, 4]^2`` (rows = dimensions, as a distribution's
``.domain``)."""


# ----------------------------------------------------------------------------- CSR helpers


def offsets_of(counts: np.ndarray) -> np.ndarray:
    """``counts (R,)`` -> ``offsets (R + 1,)`` with ``offsets[0] = 0``."""
    out = np.zeros(len(counts) + 1, np.int64)
    counts.cumsum(out=out[1:])
    return out


def segment_ids(counts: np.ndarray) -> np.ndarray:
    """``(V,)`` polygon index of every vertex."""
    return np.repeat(np.arange(len(counts)), counts)


def next_index(counts: np.ndarray) -> np.ndarray:
    """``(V,)`` index of the next vertex (cyclically) within the same polygon.

    Empty polygons (count 0) are allowed.
    """
    ends = counts.cumsum()
    nxt = np.arange(1, ends[-1] + 1) if len(ends) else np.zeros(0, np.int64)
    nonempty = counts > 0
    nxt[ends[nonempty] - 1] = (ends - counts)[nonempty]
    return nxt


def segment_sum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-polygon sums of per-vertex ``values (V,)``; empty polygons give 0."""
    if len(counts) and counts.min() > 0:
        return np.add.reduceat(values, counts.cumsum() - counts) if len(values) else values
    return np.bincount(segment_ids(counts), weights=values, minlength=len(counts))


def polygon_areas(verts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Signed areas ``(R,)`` by the shoelace formula (positive for CCW).

    Coordinates are taken relative to each polygon's first vertex, so the rounding error is
    relative to the polygon's own size, not to its distance from the origin. Polygons with
    fewer than 3 vertices have area 0.
    """
    if len(verts) == 0:
        return np.zeros(len(counts))
    starts = np.minimum(counts.cumsum() - counts, len(verts) - 1)
    d = verts - np.repeat(verts[starts], counts, axis=0)
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


def affine_tol(a, c, scale: float):
    """Snapping tolerance of :func:`clip_halfplane` for the affine function ``u -> a . u + c``
    on a domain whose coordinates are at most ``scale`` in size: ``SNAP_RTOL * (|a|_1 scale +
    |c|)``, i.e. the rounding-noise level of evaluating it, times a safety factor of about 1e6.

    Args:
        a: ``(..., 2)`` gradients; c: ``(...)`` offsets.
    """
    return SNAP_RTOL * ((np.abs(a[..., 0]) + np.abs(a[..., 1])) * scale + np.abs(c))


def _halves(verts, counts, s):
    """Both halves ``s >= 0`` and ``s <= 0`` of every polygon (``s`` already snapped; all
    counts >= 1).

    Returns ``(verts', counts' (2R,))``: the ``s >= 0`` pieces of all polygons, then the
    ``s <= 0`` pieces. The crossing points are computed once and shared bit-for-bit by both
    halves, so the halves tile the polygon.
    """
    n = len(s)
    nxt = next_index(counts)
    sn = s[nxt]
    cross = ((s > 0) & (sn < 0)) | ((s < 0) & (sn > 0))  # not s * sn < 0: it underflows
    both = np.empty((n, 2, 2))  # per vertex: the vertex, then the crossing on its edge
    both[:, 0] = verts
    both[:, 1] = verts
    i = np.flatnonzero(cross)
    both[i, 1] += (s[i] / (s[i] - sn[i]))[:, None] * (verts[nxt[i]] - verts[i])
    mask = np.empty((2, n, 2), bool)
    np.greater_equal(s, 0, out=mask[0, :, 0])
    np.less_equal(s, 0, out=mask[1, :, 0])
    mask[:, :, 1] = cross
    keep = np.flatnonzero(mask.ravel())
    per_vertex = mask.sum(2)
    out_counts = np.add.reduceat(per_vertex, counts.cumsum() - counts, axis=1).ravel()
    return both.reshape(-1, 2)[keep % (2 * n)], out_counts


UNIT_ROUNDOFF = 2.0**-53
"""``u``: float64 operations are exact up to a relative error ``u`` (round to nearest)."""

_FILTER = 8 * UNIT_ROUNDOFF  # >= gamma_3 (three roundings of a dot product) with margin


def edge_lines(poly: np.ndarray) -> np.ndarray:
    """``(m, 3)`` lines ``(a0, a1, c)`` (zero set ``a0 x + a1 y + c = 0``, positive on the left
    of ``poly[k] -> poly[k + 1]``) through the edges of a polygon ``(m, 2)``, in float64.

    Axis-parallel edges (every edge of a box) get the exact lines ``(0, +-1, -+y)`` and
    ``(+-1, 0, -+x)``, so a box's corners are exactly the intersections of its edge lines;
    other edges' lines are rounded (the domain is then the polygon of those lines, whose
    corners are within rounding of the given ones).
    """
    q = np.roll(poly, -1, 0)
    lines = np.stack([poly[:, 1] - q[:, 1], q[:, 0] - poly[:, 0],
                      poly[:, 0] * q[:, 1] - q[:, 0] * poly[:, 1]], 1)
    horizontal, vertical = poly[:, 1] == q[:, 1], poly[:, 0] == q[:, 0]
    sx, sy = np.sign(q[:, 0] - poly[:, 0]), np.sign(q[:, 1] - poly[:, 1])
    lines[horizontal] = np.stack([0 * sx, sx, -sx * poly[:, 1]], 1)[horizontal]
    lines[vertical] = np.stack([-sy, 0 * sy, sy * poly[:, 0]], 1)[vertical]
    return lines


def pow2_normalised(L: np.ndarray) -> np.ndarray:
    """Lines ``L (n, 3)`` whose largest coefficient is outside ``[2^-400, 2^400]`` scaled by a
    power of two to bring it into ``[0.5, 1)``: exact (zero sets and signs unchanged) unless
    two coefficients of one line differ by more than ``2^600``. Keeps the products in
    :func:`intersect_lines` clear of underflow and overflow; zero lines stay zero."""
    m = np.abs(L).max(1)
    far = np.flatnonzero(((m < 2.0**-400) & (m > 0)) | (m > 2.0**400))
    if len(far) == 0:
        return L
    L = L.copy()
    L[far] = np.ldexp(L[far], -np.frexp(m[far])[1][:, None])
    return L


def intersect_lines(E: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersections of lines ``E (n, 3)`` and ``L (n, 3)`` by Cramer's rule, with a rigorous
    error radius.

    Returns ``(xy (n, 2), rad (n,))``: each coordinate of the exact intersection of the two
    float64 lines is within ``rad`` of ``xy``. The bound comes from the forward error of the
    2 x 2 minors ``D, X, Y`` (each ``<= 3u (|p| + |q|)`` for ``p - q``), ``|X_t/D_t - X/D| <=
    (e_X + |x| e_D) / (|D| - e_D)``, plus the rounding of the quotient; ``rad = inf`` when
    ``|D| <= e_D`` (lines parallel to within rounding).
    """
    e0, e1, ec = E.T
    a0, a1, c = L.T
    p, q = e0 * a1, e1 * a0
    D, eD = p - q, 3 * UNIT_ROUNDOFF * (np.abs(p) + np.abs(q))
    p, q = e1 * c, a1 * ec
    X, eX = p - q, 3 * UNIT_ROUNDOFF * (np.abs(p) + np.abs(q))
    p, q = ec * a0, c * e0
    Y, eY = p - q, 3 * UNIT_ROUNDOFF * (np.abs(p) + np.abs(q))
    ok = np.abs(D) > eD
    safe = np.where(ok, D, 1.0)
    x, y = X / safe, Y / safe
    den = np.where(ok, np.abs(D) - eD, 1.0)
    ax, ay = np.abs(x), np.abs(y)
    rad = (np.maximum(eX + ax * eD, eY + ay * eD) / den
           + UNIT_ROUNDOFF * np.maximum(ax, ay)) * (1 + _FILTER)
    rad[~ok] = np.inf
    return np.stack([x, y], 1), rad


def exact_sides(P, Q, L) -> np.ndarray:
    """Exact sign ``(n,)`` int8 of ``L``'s affine function at the intersection of lines ``P``
    and ``Q`` (each ``(n, 3)`` float64 ``(a0, a1, c)``), in rational arithmetic
    (:class:`fractions.Fraction`; every float64 is a rational, so this is exact).

    The sign is that of ``det [P; Q; L] / det [P_a; Q_a]``; a Python loop, used only where the
    float64 filter of :func:`cut_sides` cannot decide. ``P`` and ``Q`` must not be parallel.
    """
    out = np.zeros(len(L), np.int8)
    for i, (p, q, l) in enumerate(zip(np.asarray(P).tolist(), np.asarray(Q).tolist(),
                                      np.asarray(L).tolist())):
        p0, p1, pc, q0, q1, qc, l0, l1, lc = map(Fraction, p + q + l)
        D = p0 * q1 - p1 * q0
        if D == 0:
            raise ArithmeticError(f"vertex defined by parallel lines {p} and {q}")
        val = l0 * (p1 * qc - q1 * pc) + l1 * (pc * q0 - qc * p0) + lc * D
        out[i] = (val > 0) - (val < 0) if D > 0 else (val < 0) - (val > 0)
    return out


def prev_index(counts: np.ndarray, idx=None) -> np.ndarray:
    """Index of the previous vertex (cyclically) within the same polygon, of every vertex or
    only of the vertices ``idx`` (all counts >= 1)."""
    if idx is None:
        nxt = next_index(counts)
        prev = np.empty_like(nxt)
        prev[nxt] = np.arange(len(nxt))
        return prev
    starts = counts.cumsum() - counts
    poly = np.searchsorted(starts, idx, side="right") - 1
    return np.where(idx == starts[poly], starts[poly] + counts[poly] - 1, idx - 1)


class Pieces(NamedTuple):
    """Polygons with exact vertex descriptions: ``verts (V, 2)``, ``lines (V, 3)`` (line of the
    edge leaving each vertex), ``rad (V,)`` (coordinate error radius), ``counts (R,)``."""

    verts: np.ndarray
    lines: np.ndarray
    rad: np.ndarray
    counts: np.ndarray


def cut_polygons(verts, lines, rad, counts, side, L) -> Pieces:
    """Both halves of every convex polygon cut by its line ``L`` (``(V, 3)``, per vertex).

    ``side (V,)`` is the exact side of each vertex (:func:`cut_sides`); every polygon must
    have vertices strictly on both sides. A new vertex is the intersection of a crossed
    edge's line with ``L``, computed from the two lines (:func:`intersect_lines`), not by
    interpolating the rounded end points, so its error does not grow with the cut depth;
    only where that is worse than the edge's own extent (lines parallel to within rounding)
    is it interpolated along the edge. It is shared bit-for-bit by both halves. In each
    half, edges along ``L`` get ``L`` as their line.

    Returns :class:`Pieces` with ``2R`` polygons: the ``side > 0`` halves, then the ``< 0``.
    """
    n = len(side)
    nxt = next_index(counts)
    sn = side[nxt]
    cross = side * sn < 0
    i = np.flatnonzero(cross)
    xy, r = intersect_lines(lines[i], L[i])
    # the exact crossing lies on the edge between its exact end points, so interpolating on
    # the float64 edge is within the edge's extent (+ the end points' radii) of it: better
    # where the edge's line and L are (nearly) parallel and Cramer's rule is ill-conditioned
    vi, vj = verts[i], verts[nxt[i]]
    edge_rad = np.abs(vj - vi).max(1) + np.maximum(rad[i], rad[nxt[i]])
    worse = np.flatnonzero(~(r <= edge_rad))
    if len(worse):
        w = i[worse]
        si = (verts[w] * L[w, :2]).sum(1) + L[w, 2]
        sj = (verts[nxt[w]] * L[w, :2]).sum(1) + L[w, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.clip(np.nan_to_num(si / (si - sj), nan=0.5), 0.0, 1.0)
        xy[worse] = vi[worse] + t[:, None] * (vj[worse] - vi[worse])
        r[worse] = edge_rad[worse] * (1 + _FILTER)
    both = np.empty((n, 2, 2))  # per vertex: the vertex, then the crossing on its edge
    both[:, 0], both[i, 1] = verts, xy
    brad = np.empty((n, 2))
    brad[:, 0], brad[i, 1] = rad, r
    pos, neg = side > 0, side < 0
    mask = np.empty((2, n, 2), bool)  # half (>= 0, <= 0), vertex, slot (vertex, crossing)
    np.logical_not(neg, out=mask[0, :, 0])
    np.logical_not(pos, out=mask[1, :, 0])
    mask[:, :, 1] = cross
    keep = np.flatnonzero(mask.ravel())
    out_counts = np.add.reduceat(mask.sum(2), counts.cumsum() - counts, axis=1).ravel()
    k = keep % (2 * n)
    v, crossing = k >> 1, (k & 1).astype(bool)
    # the line of the edge leaving each output vertex: its own edge's, or L where the half's
    # boundary runs along the cut (from the exit crossing, or from an on-line vertex into the
    # other side)
    sgn = np.where(keep < 2 * n, 1, -1).astype(np.int8)
    along = np.where(crossing, side[v] * sgn > 0, (side[v] == 0) & (sn[v] * sgn < 0))
    out_lines = lines[v]
    out_lines[along] = L[v[along]]
    return Pieces(both.reshape(-1, 2)[k], out_lines, brad.ravel()[k], out_counts)


def cut_sides(pieces: Pieces, L) -> np.ndarray:
    """Exact side ``(V,)`` int8 in ``{-1, 0, 1}`` of every vertex of a polygon set w.r.t. its
    line ``L (V, 3)``.

    Vertex ``k`` is the intersection of the lines of its incoming and outgoing edges
    (``pieces.lines`` of the previous vertex and its own) and lies within ``pieces.rad[k]``
    (per coordinate) of ``pieces.verts[k]``. The sign of ``s = a . v + c`` is taken in
    float64 where ``|s|`` exceeds its forward error bound ``(|a0| + |a1|) rad + 8u (|a0 x| +
    |a1 y| + |c|)`` (``u = 2^-53``) or where ``L`` is constant (``a = 0``: the sign of
    ``c``), else decided exactly by :func:`exact_sides`. So the result is the exact side of
    the exact vertex: no tolerance, at any coordinate scale.
    """
    verts, rad = pieces.verts, pieces.rad
    a0, a1, c = L.T
    t0, t1 = verts[:, 0] * a0, verts[:, 1] * a1
    s = t0 + t1 + c
    bound = (np.abs(a0) + np.abs(a1)) * rad + _FILTER * (np.abs(t0) + np.abs(t1) + np.abs(c))
    side = np.sign(s).astype(np.int8)
    unsure = np.flatnonzero(~(np.abs(s) > bound))
    if len(unsure):
        constant = (a0[unsure] == 0) & (a1[unsure] == 0)
        side[unsure[constant]] = np.sign(c[unsure[constant]])
        unsure = unsure[~constant]
    if len(unsure):
        prev = prev_index(pieces.counts, unsure)
        side[unsure] = exact_sides(pieces.lines[prev], pieces.lines[unsure], L[unsure])
    return side


def clip_exact(pieces: Pieces, L) -> tuple[Pieces, np.ndarray]:
    """The part ``s >= 0`` of every convex polygon, ``s`` the affine function of its line
    ``L (V, 3)`` (per vertex), with exact sides (:func:`cut_sides`).

    A polygon on which ``s`` is identically 0 is kept whole; one with no vertex strictly on
    the positive side is dropped (what is left has no area). Returns the clipped polygons (in
    input order) and ``(R',)`` the index of the input polygon each comes from.
    """
    counts = pieces.counts
    side = cut_sides(pieces, L)
    starts = counts.cumsum() - counts
    pos = np.logical_or.reduceat(side > 0, starts)
    neg = np.logical_or.reduceat(side < 0, starts)
    zero = ~np.logical_or.reduceat(side != 0, starts)
    whole, cut = np.flatnonzero((pos & ~neg) | zero), np.flatnonzero(pos & neg)
    vcut = np.repeat(pos & neg, counts)
    halves = cut_polygons(pieces.verts[vcut], pieces.lines[vcut], pieces.rad[vcut], counts[cut],
                          side[vcut], L[vcut])
    n_pos = int(halves.counts[: len(cut)].sum())
    iw = gather_index(starts[whole], counts[whole])
    merged = Pieces(np.concatenate([pieces.verts[iw], halves.verts[:n_pos]]),
                    np.concatenate([pieces.lines[iw], halves.lines[:n_pos]]),
                    np.concatenate([pieces.rad[iw], halves.rad[:n_pos]]),
                    np.concatenate([counts[whole], halves.counts[: len(cut)]]))
    ids = np.concatenate([whole, cut])
    order = np.argsort(ids, kind="stable")
    mc = merged.counts[order]
    idx = gather_index(offsets_of(merged.counts)[:-1][order], mc)
    return Pieces(merged.verts[idx], merged.lines[idx], merged.rad[idx], mc), ids[order]


def bounds(verts, counts) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes ``(lo (R, 2), hi (R, 2))`` of polygons (all counts >= 1)."""
    starts = counts.cumsum() - counts
    return np.minimum.reduceat(verts, starts, axis=0), np.maximum.reduceat(verts, starts, axis=0)


def gather_index(starts, counts) -> np.ndarray:
    """Vertex indices ``(sum counts,)`` of polygons stored at ``starts`` with ``counts``."""
    off = offsets_of(counts)
    return np.arange(off[-1]) + np.repeat(starts - off[:-1], counts)


def clip_halfplane(verts, counts, s, tol) -> tuple[np.ndarray, np.ndarray]:
    """Keep the part ``s >= 0`` of every convex polygon.

    Args:
        verts: ``(V, 2)``; counts: ``(R,)``.
        s: ``(V,)`` affine function values at the vertices; tol: ``(V,)`` snapping tolerance.
    Returns:
        ``(verts', counts' (R,))``, same polygon order; a polygon entirely in ``s < 0`` gets a
        count below 3 (drop it, e.g. by area). All input counts must be >= 1.
    """
    snapped = np.where(np.abs(s) > tol, s, 0.0)
    pv, pc = _halves(verts, counts, snapped)
    n = int(pc[: len(counts)].sum())
    return pv[:n], pc[: len(counts)]


# ----------------------------------------------------------------------------- segments


def box_halfplanes(box) -> tuple[np.ndarray, np.ndarray]:
    """The box ``[[xlo, xhi], [ylo, yhi]]`` as half-planes: ``(normals (4, 2), offsets (4,))``
    with ``normals @ x + offsets >= 0`` exactly inside it (unit normals, so the values are
    distances to the sides)."""
    box = np.asarray(box, np.float64)
    if box.shape != (2, 2):
        raise ValueError(f"box has shape {box.shape}; pass [[xlo, xhi], [ylo, yhi]] (2, 2)")
    normals = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    return normals, np.array([-box[0, 0], box[0, 1], -box[1, 0], box[1, 1]])


def clip_segments(S, normals, offsets) -> np.ndarray:
    """Parts of segments ``S (n, 2, 2)`` inside the convex set ``{x : normals @ x + offsets >=
    0}`` (``normals (k, 2)``, ``offsets (k,)``), by Liang-Barsky (Liang & Barsky 1984, "A new
    concept and method for line clipping").

    Returns ``(m, 2, 2)``, ``m <= n``: the clipped segments in input order; segments that miss
    the set (or touch it in a single point) are dropped.
    """
    S = np.asarray(S, np.float64).reshape(-1, 2, 2)
    a, d = S[:, 0], S[:, 1] - S[:, 0]
    num, den = a @ normals.T + offsets, d @ normals.T  # constraint: num + t den >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -num / den
    lo = np.max(np.where(den > 0, t, -np.inf), 1, initial=0.0)
    hi = np.min(np.where(den < 0, t, np.inf), 1, initial=1.0)
    ok = (lo < hi) & ~np.any((den == 0) & (num < 0), 1)
    return np.stack([a + lo[:, None] * d, a + hi[:, None] * d], 1)[ok]


def _to_segments(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances ``(...)`` from points ``X (..., 2)`` to segments ``[a, b]`` (``(..., 2)``),
    broadcasting over the leading axes; a zero-length segment is its point."""
    dx, dy = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    px, py = X[..., 0] - a[..., 0], X[..., 1] - a[..., 1]
    L2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    px, py = px - t * dx, py - t * dy
    return np.sqrt(px * px + py * py)


def point_segment_distances(P, S) -> np.ndarray:
    """``(n, m)`` Euclidean distances from points ``P (n, 2)`` to segments ``S (m, 2, 2)``
    (dense: memory ``8 n m`` bytes; see :func:`segment_distance` for the nearest one)."""
    P = np.asarray(P, np.float64).reshape(-1, 2)
    S = np.asarray(S, np.float64).reshape(-1, 2, 2)
    return _to_segments(P[:, None], S[None, :, 0], S[None, :, 1])


def _brute_distance(X: np.ndarray, segs: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Exact distances ``(n,)`` from ``X (n, 2)`` to the nearest of ``segs (s, 2, 2)``, in
    chunks of about ``chunk`` point-segment pairs."""
    step = max(1, chunk // len(segs))
    a, b = segs[None, :, 0], segs[None, :, 1]
    return np.concatenate([_to_segments(X[s:s + step, None], a, b).min(1)
                           for s in range(0, len(X), step)] + [np.zeros(0)])


BRUTE_PAIRS = 1 << 18
""":func:`segment_distance` compares every point with every segment up to this many pairs
(a grid of cells would cost more than it prunes)."""


def segment_distance(X, segs, *, cells: int = 64) -> np.ndarray:
    """Euclidean distance ``(n,)`` from points ``X (n, 2)`` to the union of segments
    ``segs (s, 2, 2)``; ``inf`` for an empty set. Exact up to float64 rounding.

    Up to :data:`BRUTE_PAIRS` point-segment pairs, brute force. Beyond, pruned brute force:
    the bounding box of ``X`` is cut into ``c x c`` cells, ``c = min(cells, ceil(sqrt(n)))``
    (no more cells than points); a
    segment is a candidate for a cell unless its distance from the cell centre minus the
    cell's half-diagonal ``h`` exceeds the cell's upper bound ``min_s dist(centre, s) + h``.
    The nearest segment of every point in the cell is always a candidate, so pruning changes
    nothing; each point is then compared with its cell's candidates only (points are batched
    by candidate count, rounded up to a power of two).
    """
    X = np.asarray(X, np.float64).reshape(-1, 2)
    segs = np.asarray(segs, np.float64).reshape(-1, 2, 2)
    if len(segs) == 0:
        return np.full(len(X), np.inf)
    if len(X) * len(segs) <= BRUTE_PAIRS or len(segs) <= 8:
        return _brute_distance(X, segs)
    cells = int(min(cells, np.ceil(np.sqrt(len(X)))))
    lo, hi = X.min(0), X.max(0)
    size = np.maximum(hi - lo, 1e-12 * np.maximum(1.0, np.abs(X).max())) / cells
    axis = np.arange(cells) + 0.5
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


# ----------------------------------------------------------------------------- domains


def as_domain(domain) -> np.ndarray:
    """Validate a convex polygonal domain; returns its CCW vertices ``(m, 2)`` float64.

    Args:
        domain: ``None`` (:data:`DEFAULT_BOX`); a box ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``;
            a convex polygon ``(m, 2)``, ``m >= 3``, either orientation; or an object with a
            ``.domain`` attribute holding a 2-D box (a 2-D distribution).
    Raises:
        ValueError: wrong shape or dimension (a distribution of dimension != 2, whose box
            would otherwise be read as a polygon), non-finite, empty box, repeated vertices, zero
            area, or a non-convex / self-intersecting polygon.
    """
    if domain is None:
        domain = DEFAULT_BOX
    if hasattr(domain, "domain"):
        box = np.asarray(domain.domain)
        if box.shape != (2, 2):
            dim = getattr(domain, "dim", box.shape[0] if box.ndim else "?")
            raise ValueError(
                f"domain is a {dim}-D distribution ({type(domain).__name__}, box shape "
                f"{box.shape}); exact analyses work in a 2-D slice x = origin + u @ directions: "
                f"pass origin= ({dim},) and directions= (2, {dim}) and, as domain, a box "
                "[[u0_lo, u0_hi], [u1_lo, u1_hi]] in the slice coordinates u"
            )
        domain = box
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


def halfplanes(verts, counts, rtol: float = EDGE_RTOL) -> HalfPlanes:
    """Edge half-planes of CCW convex polygons.

    Edges shorter than ``rtol`` times their end points' coordinate magnitude are ignored
    (their normal direction is rounding noise); the threshold is relative to where the edge
    is, not to the domain, so point location is as fine near the origin of a huge domain as
    in a small one. A polygon with no edge left (collapsed by rounding) gets one half-plane
    that nothing satisfies.
    """
    offsets = offsets_of(counts)
    vn = verts[next_index(counts)]
    e = vn - verts
    length = np.hypot(e[:, 0], e[:, 1])
    ok = length > rtol * (np.abs(verts).max(1) + np.abs(vn).max(1))
    safe = np.where(ok, length, 1.0)
    nx, ny = np.where(ok, -e[:, 1] / safe, 0.0), np.where(ok, e[:, 0] / safe, 0.0)
    # the offset from the end point nearer the origin: its rounding is relative to it
    near = np.where((np.abs(verts).max(1) <= np.abs(vn).max(1))[:, None], verts, vn)
    d = np.where(ok, -(nx * near[:, 0] + ny * near[:, 1]), np.inf)
    collapsed = np.flatnonzero(segment_sum(ok.astype(float), counts) == 0)
    d[offsets[collapsed]] = -np.inf
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
    ``cand[start[k]:start[k + 1]]``; ``interior[k]``: the cell lies inside the domain.
    """

    lo: np.ndarray  # (2,)
    size: np.ndarray  # (2,) cell size
    shape: tuple[int, int]
    start: np.ndarray  # (gx * gy + 1,)
    cand: np.ndarray
    interior: np.ndarray  # (gx * gy,) bool
    hp: HalfPlanes
    domain_hp: HalfPlanes
    tol: float


_PAIRS = 1 << 20
"""(region, cell) pairs tested at once by :func:`build_locator` (bounds its memory)."""


def _cells_met(hp: HalfPlanes, i0, nj, n_pairs, lo, size, gy: int, tol: float, a: int,
               b: int) -> tuple[np.ndarray, np.ndarray]:
    """``(cells, regions)`` of the pairs of regions ``a..b-1`` and the grid cells their
    bounding boxes meet (lower cell ``i0``, ``nj`` cells per row, ``n_pairs`` in all) that no
    region edge separates: the separating-axis test with the cell's corner furthest inside
    each edge."""
    reg = np.repeat(np.arange(a, b), n_pairs[a:b])
    k = np.arange(len(reg)) - np.repeat(offsets_of(n_pairs[a:b])[:-1], n_pairs[a:b])
    ii = i0[reg, 0] + k // nj[reg]
    jj = i0[reg, 1] + k % nj[reg]
    cx0, cy0 = lo[0] + ii * size[0], lo[1] + jj * size[1]
    nx, ny, d = hp.nx[reg], hp.ny[reg], hp.d[reg]
    best = (nx * np.where(nx > 0, (cx0 + size[0])[:, None], cx0[:, None])
            + ny * np.where(ny > 0, (cy0 + size[1])[:, None], cy0[:, None]) + d)
    meets = best.min(1) >= -tol
    return (ii * gy + jj)[meets], reg[meets]


def build_locator(verts, counts, domain, *, cells_per_region: float = 8.0,
                  max_cells: int = 1 << 22) -> Locator:
    """Bucket grid with ``~cells_per_region * R`` cells over the domain's bounding box.

    A polygon is listed in a cell when its bounding box meets the cell and no polygon edge
    separates them (separating-axis test), so the lists are exact up to touching. The pairs
    are tested in batches (:data:`_PAIRS`), so memory stays ``O(cells + candidates)`` when a
    few large regions' boxes cover much of the grid (measured on the 138,581 regions of the
    2-192-192-192-3 benchmark net: 8 cells per region build in 2.2 s and locate 10^6 points in
    0.42 s; 16 take 5.2 s and 0.33 s).
    """
    scale = length_scale(domain)
    R = len(counts)
    lo, hi = domain.min(0), domain.max(0)
    ext = hi - lo
    n_cells = int(np.clip(cells_per_region * R, 16, max_cells))
    gx = max(1, int(round(np.sqrt(n_cells * ext[0] / ext[1]))))
    gy = max(1, int(round(n_cells / gx)))
    size = ext / np.array([gx, gy])
    bmin, bmax = bounds(verts, counts)
    shape = np.array([gx, gy])
    i0 = np.clip(np.floor((bmin - lo) / size).astype(np.int64), 0, shape - 1)
    i1 = np.clip(np.floor((bmax - lo) / size).astype(np.int64), 0, shape - 1)
    ni, nj = (i1 - i0 + 1).T
    n_pairs = ni * nj
    hp = halfplanes(verts, counts)
    tol = 1e-12 * scale
    # (region, cell) pairs in batches of ~2^20 (a few large regions' boxes cover many cells)
    ends = np.searchsorted(np.cumsum(n_pairs), np.arange(1, n_pairs.sum() // _PAIRS + 2)
                           * _PAIRS, side="right")
    batches = np.unique(np.concatenate([[0], np.minimum(ends, R), [R]]))
    met = [_cells_met(hp, i0, nj, n_pairs, lo, size, gy, tol, a, b)
           for a, b in zip(batches[:-1], batches[1:])]
    cell = np.concatenate([m[0] for m in met])
    reg = np.concatenate([m[1] for m in met])
    order = np.argsort(cell, kind="stable")
    start = offsets_of(np.bincount(cell, minlength=gx * gy))
    dom_hp = halfplanes(domain, np.array([len(domain)]), 0.0)
    # a cell is inside the convex domain when its four corners are (with a margin)
    ci, cj = np.divmod(np.arange(gx * gy), gy)
    interior = np.ones(gx * gy, bool)
    for di in (0, 1):
        for dj in (0, 1):
            corner = np.stack([lo[0] + (ci + di) * size[0], lo[1] + (cj + dj) * size[1]], 1)
            interior &= inside_distance(dom_hp, np.zeros(len(corner), np.int64), corner) > tol
    return Locator(lo, size, (gx, gy), start, reg[order], interior, hp, dom_hp, tol)


def locate(loc: Locator, U: np.ndarray) -> np.ndarray:
    """Polygon index ``(n,)`` of each point ``U (n, 2)``; -1 outside the domain and for
    points with a NaN or infinite coordinate.

    A point in several candidate polygons (on a shared edge) gets the one it is deepest in.
    """
    U = np.asarray(U, np.float64)
    bad = ~np.isfinite(U).all(1)
    if bad.any():
        out = np.full(len(U), -1, np.int64)
        out[~bad] = locate(loc, U[~bad])
        return out
    gx, gy = loc.shape
    ij = np.floor((U - loc.lo) / loc.size)
    cell = (np.clip(ij[:, 0], 0, gx - 1) * gy + np.clip(ij[:, 1], 0, gy - 1)).astype(np.int64)
    inside = loc.interior[cell]
    edge = np.flatnonzero(~inside)
    inside[edge] = inside_distance(loc.domain_hp, np.zeros(len(edge), np.int64), U[edge]) >= -loc.tol
    first, n_cand = loc.start[cell], loc.start[cell + 1] - loc.start[cell]
    found = np.where(inside & (n_cand > 0), loc.cand[np.minimum(first, len(loc.cand) - 1)], -1)
    multi = np.flatnonzero(inside & (n_cand > 1))
    if len(multi):
        Um, fm, nm = U[multi], first[multi], n_cand[multi]
        best = np.full(len(multi), -np.inf)
        choice = found[multi]
        for slot in range(int(nm.max())):
            sel = np.flatnonzero(nm > slot) if slot > 1 else np.arange(len(multi))
            reg = loc.cand[fm[sel] + slot]
            dist = inside_distance(loc.hp, reg, Um[sel])
            better = dist > best[sel]
            best[sel[better]] = dist[better]
            choice[sel[better]] = reg[better]
        found[multi] = choice
    return found
