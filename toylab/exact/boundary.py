"""Exact geometry of a :class:`~toylab.exact.partition.Partition` that needs no distribution:
neuron folds, extrema and superlevel sets, the decision boundary and class regions, region
statistics.

Everything here is read off the partition's polygons and per-region affine maps; nothing is
sampled. A neuron's *fold* is where its pre-activation crosses a breakpoint of the
activation (the zero set for relu; Hanin & Rolnick 2019, "Deep ReLU networks have
surprisingly few activation patterns", call these the neuron's bent hyperplane). Because the
partition was cut along every such line, folds lie on region edges.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from toylab.exact import geometry as geo
from toylab.exact.partition import Partition, activation_pieces, neuron_address
from toylab.models import get_activation


def _vertex_values(p: Partition, a: np.ndarray, c: np.ndarray):
    """Per-vertex gradient ``(V, 2)``, offset ``(V,)`` and value ``(V,)`` of the per-region
    affine function ``u -> u . a[r] + c[r]`` (``a (R, 2)``, ``c (R,)``)."""
    reg = p.region_of_vertex
    av, cv = a[reg], c[reg]
    return av, cv, p.vertices[:, 0] * av[:, 0] + p.vertices[:, 1] * av[:, 1] + cv


def _hidden(p: Partition, neuron) -> tuple[int, int]:
    layer, index = neuron_address(p, neuron)
    if layer == p.n_hidden:
        raise ValueError(
            f"neuron={neuron!r} is a logit, which has no activation and so no folds; use "
            "decision_boundary(p) for where logits tie"
        )
    return layer, index


def _edges_on(verts, counts, on) -> tuple[np.ndarray, np.ndarray]:
    """Edges whose two endpoints are both ``on``, skipping polygons that lie entirely on the
    line (there the function is constant at the level). Returns the segments ``(s, 2, 2)``
    and the index ``(s,)`` of each segment's start vertex."""
    nxt = geo.next_index(counts)
    whole = np.repeat(geo.segment_sum(on.astype(float), counts) == counts, counts)
    start = np.flatnonzero(on & on[nxt] & ~whole)
    return np.stack([verts[start], verts[nxt[start]]], 1), start


def _region_lines(p: Partition, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Per-vertex lines ``(V, 3)`` of the per-region affine functions ``u . a[r] + c[r]``
    (``a (R, 2)``, ``c (R,)``), scaled by powers of two (exactly) out of under/overflow."""
    L = geo.pow2_normalised(np.concatenate([a, c[:, None]], 1))
    return L[p.region_of_vertex]


def folds(p: Partition, neuron) -> np.ndarray:
    """Segments ``(s, 2, 2)`` where hidden neuron ``(layer, index)``'s pre-activation equals a
    breakpoint of the activation (for relu: its zero set), in slice coordinates.

    An edge is on the fold when both its end points are exactly on the line (decided by
    :func:`toylab.exact.geometry.cut_sides`, no tolerance). Each fold edge is reported
    once, by the region on its upper side; consecutive segments of one straight fold are not
    merged. Empty ``(0, 2, 2)`` for ``linear`` or a neuron that never crosses a breakpoint in
    the domain.
    """
    layer, i = _hidden(p, neuron)
    A, c = p.pre[layer]
    breakpoints, _, _ = activation_pieces(get_activation(p.activation))
    piece = p.patterns[layer][:, i][p.region_of_vertex]
    segs = [np.zeros((0, 2, 2))]
    for k, beta in enumerate(breakpoints):
        on = (geo.cut_sides(p.pieces, _region_lines(p, A[:, :, i], c[:, i] - beta)) == 0) & (
            piece > k)
        segs.append(_edges_on(p.vertices, p.counts, on)[0])
    return np.concatenate(segs)


def _lengths(segs: np.ndarray) -> np.ndarray:
    return np.hypot(*(segs[:, 1] - segs[:, 0]).T)


def fold_length(p: Partition, neuron) -> float:
    """Total length of :func:`folds` of ``neuron`` (slice-coordinate units)."""
    return float(_lengths(folds(p, neuron)).sum())


def fold_lengths(p: Partition) -> list[np.ndarray]:
    """Fold length of every hidden neuron: per hidden layer a ``(width_l,)`` array."""
    return [np.array([fold_length(p, (l, i)) for i in range(w)])
            for l, w in enumerate(p.widths[1:-1])]


class Extrema(NamedTuple):
    """Exact maximum and minimum of a neuron over the domain and where they are attained."""

    max: float
    argmax: np.ndarray  # (2,)
    min: float
    argmin: np.ndarray  # (2,)


def neuron_extrema(p: Partition, neuron, *, pre: bool = False) -> Extrema:
    """Max and min of neuron ``(layer, index)``'s response (post-activation; ``pre=True``:
    pre-activation; logits: the logit) over the domain.

    An affine function on a convex polygon attains its extrema at vertices, so the exact
    extrema are the extreme vertex values over all regions.
    """
    layer, i = neuron_address(p, neuron)
    A, c = p.affine(layer, pre=pre)
    _, _, f = _vertex_values(p, A[:, :, i], c[:, i])
    hi, lo = int(np.argmax(f)), int(np.argmin(f))
    return Extrema(float(f[hi]), p.vertices[hi].copy(), float(f[lo]), p.vertices[lo].copy())


def superlevel_area(p: Partition, neuron, threshold: float, *, pre: bool = False) -> float:
    """Area of ``{u in domain : f(u) >= threshold}`` for neuron ``(layer, index)``'s response
    ``f`` (post-activation unless ``pre``): every region is clipped by the half-plane of its
    affine piece, with exact vertex sides (:func:`toylab.exact.geometry.clip_exact`); the
    area is summed from the float64 vertices."""
    layer, i = neuron_address(p, neuron)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r} must be finite")
    A, c = p.affine(layer, pre=pre)
    clipped, _ = geo.clip_exact(p.pieces, _region_lines(p, A[:, :, i], c[:, i] - threshold))
    return float(geo.polygon_areas(clipped.verts, clipped.counts).sum())


class ClassCells(NamedTuple):
    """Per region and class, the polygon where that class's logit is the largest.

    Attributes:
        verts, counts: polygon set (CSR, CCW); region: ``(N,)`` partition region of each cell;
        label: ``(N,)`` its class; lines, rad: per vertex, as
        :attr:`~toylab.exact.partition.Partition.edge_lines` and ``vertex_rad``.
    """

    verts: np.ndarray
    counts: np.ndarray
    region: np.ndarray
    label: np.ndarray
    lines: np.ndarray
    rad: np.ndarray


def _logit_gap_lines(A, c, reg, k, j) -> np.ndarray:
    """Lines ``(n, 3)`` of ``logit_k - logit_j`` in regions ``reg (n,)``, scaled by powers of
    two (exactly) out of under/overflow (logits may differ by ~1e-200)."""
    gap = np.concatenate([A[reg, :, k] - A[reg, :, j], (c[reg, k] - c[reg, j])[:, None]], 1)
    return geo.pow2_normalised(gap)


def class_cells(p: Partition) -> ClassCells:
    """Clip every region by the half-planes ``logit_k >= logit_j`` (all ``j != k``), for each
    class ``k``, with exact vertex sides (:func:`toylab.exact.geometry.clip_exact`): a cell
    is kept iff it has a point where class ``k`` strictly wins against each ``j`` (or ties
    it identically), however small; nothing is dropped by area.

    Cells of tied classes overlap (a tie over a whole cell puts it in every tied class);
    together the cells tile the domain."""
    A, c = p.pre[-1]
    n_cls = A.shape[2]
    out = []
    for k in range(n_cls):
        cells, reg = p.pieces, np.arange(len(p))
        for j in range(n_cls):
            if j == k:
                continue
            L = np.repeat(_logit_gap_lines(A, c, reg, k, j), cells.counts, 0)
            cells, kept = geo.clip_exact(cells, L)
            reg = reg[kept]
        out.append((cells.verts, cells.counts, reg, np.full(len(reg), k), cells.lines,
                    cells.rad))
    v, n, r, lab, lines, rad = (np.concatenate(x) for x in zip(*out))
    return ClassCells(v, n, r, lab, lines, rad)


def class_regions(p: Partition) -> list[list[np.ndarray]]:
    """Per class, the list of ``(m, 2)`` CCW polygons (pieces of regions) where it wins
    (the network's argmax; ties go to every tied class)."""
    cells = class_cells(p)
    polys = geo.split_list(cells.verts, cells.counts)
    return [[q for q, lab in zip(polys, cells.label) if lab == k] for k in range(p.widths[-1])]


def decision_boundary(p: Partition, *, classes: bool = False):
    """Segments ``(s, 2, 2)`` where the two largest logits tie.

    Each segment is an edge of a class cell of class ``k`` on which ``logit_k = logit_j`` for
    some ``j > k`` (so it is reported once): both its end points are exactly on that line
    (:func:`toylab.exact.geometry.cut_sides`, no tolerance).

    Args:
        classes: also return the tied pair ``(s, 2)`` ``[k, j]`` of each segment.
    """
    cells = class_cells(p)
    A, c = p.pre[-1]
    n_cls = A.shape[2]
    reg = np.repeat(cells.region, cells.counts)
    lab = np.repeat(cells.label, cells.counts)
    pieces = geo.Pieces(cells.verts, cells.lines, cells.rad, cells.counts)
    segs, pairs = [np.zeros((0, 2, 2))], [np.zeros((0, 2), np.int64)]
    for j in range(n_cls):
        sub = np.flatnonzero(lab < j)
        L = np.zeros((len(lab), 3))  # constant 0 elsewhere: decided without arithmetic
        L[sub] = _logit_gap_lines(A, c, reg[sub], lab[sub], j)
        on = (geo.cut_sides(pieces, L) == 0) & (lab < j)
        seg_j, start = _edges_on(cells.verts, cells.counts, on)
        segs.append(seg_j)
        pairs.append(np.stack([lab[start], np.full(len(start), j)], 1))
    segs, pairs = np.concatenate(segs), np.concatenate(pairs)
    return (segs, pairs) if classes else segs


class RegionStats(NamedTuple):
    """Distribution-free statistics of a partition.

    Attributes:
        n_regions: R; areas: ``(R,)``; n_vertices: ``(R,)``.
        total_area, min_area, median_area, max_area: of the regions.
        regions_per_layer: number of distinct activation patterns of layers ``0..l`` (the
            regions of the partition by the first ``l + 1`` hidden layers), per hidden layer.
        constant_neurons: per hidden layer ``(width,)`` bool, the neuron stays in one
            activation piece over the whole domain (e.g. a dead relu).
    """

    n_regions: int
    areas: np.ndarray
    n_vertices: np.ndarray
    total_area: float
    min_area: float
    median_area: float
    max_area: float
    regions_per_layer: tuple[int, ...]
    constant_neurons: tuple[np.ndarray, ...]


def region_stats(p: Partition) -> RegionStats:
    """:class:`RegionStats` of a partition."""
    per_layer = tuple(
        len(np.unique(np.hstack(p.patterns[: l + 1]), axis=0)) for l in range(p.n_hidden)
    )
    constant = tuple(np.all(pat == pat[:1], axis=0) for pat in p.patterns)
    a = p.areas
    return RegionStats(len(p), a, p.counts, float(a.sum()), float(a.min()),
                       float(np.median(a)), float(a.max()), per_layer, constant)
