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


def folds(p: Partition, neuron) -> np.ndarray:
    """Segments ``(s, 2, 2)`` where hidden neuron ``(layer, index)``'s pre-activation equals a
    breakpoint of the activation (for relu: its zero set), in slice coordinates.

    Each fold edge is reported once, by the region on its upper side; consecutive segments of
    one straight fold are not merged. Empty ``(0, 2, 2)`` for ``linear`` or a neuron that never
    crosses a breakpoint in the domain.
    """
    layer, i = _hidden(p, neuron)
    A, c = p.pre[layer]
    av, cv, z = _vertex_values(p, A[:, :, i], c[:, i])
    breakpoints, _, _ = activation_pieces(get_activation(p.activation))
    scale = geo.length_scale(p.domain)
    piece = p.patterns[layer][:, i][p.region_of_vertex]
    segs = [np.zeros((0, 2, 2))]
    for k, beta in enumerate(breakpoints):
        on = (np.abs(z - beta) <= geo.affine_tol(av, cv - beta, scale)) & (piece > k)
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
    ``f`` (post-activation unless ``pre``), exact: every region is clipped by the half-plane
    of its affine piece."""
    layer, i = neuron_address(p, neuron)
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold={threshold!r} must be finite")
    A, c = p.affine(layer, pre=pre)
    av, cv, f = _vertex_values(p, A[:, :, i], c[:, i])
    tol = geo.affine_tol(av, cv - threshold, geo.length_scale(p.domain))
    verts, counts = geo.clip_halfplane(p.vertices, p.counts, f - threshold, tol)
    return float(geo.polygon_areas(verts, counts).sum())


class ClassCells(NamedTuple):
    """Per region and class, the polygon where that class's logit is the largest.

    Attributes:
        verts, counts: polygon set (CSR, CCW); region: ``(N,)`` partition region of each cell;
        label: ``(N,)`` its class.
    """

    verts: np.ndarray
    counts: np.ndarray
    region: np.ndarray
    label: np.ndarray


def _unit_affine(a: np.ndarray, c: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Rescale affine functions ``u -> a . u + c`` (``a (n, 2)``, ``c (n,)``) by positive
    factors so that ``|a|_1 scale + |c| = 1`` (identically zero ones stay zero).

    The half-plane ``a . u + c >= 0`` and the relative snapping tolerance are unchanged, but
    the vertex values no longer underflow: for logits differing by ~1e-200, products of two
    vertex values (``geometry.clip_halfplane`` tests crossings by ``s * s_next < 0``) would
    round to 0 and every cell would be lost.
    """
    norm = geo.affine_tol(a, c, scale) / geo.SNAP_RTOL
    unit = np.where(norm > 0, norm, 1.0)
    return a / unit[:, None], c / unit


def class_cells(p: Partition) -> ClassCells:
    """Clip every region by the half-planes ``logit_k >= logit_j`` (all ``j != k``), for each
    class ``k``. Cells of area below ``AREA_RTOL`` times the domain area are dropped.

    Cells of tied classes overlap (a tie over a whole cell puts it in every tied class);
    together the cells cover the domain up to the dropped slivers."""
    A, c = p.pre[-1]
    n_cls = A.shape[2]
    scale = geo.length_scale(p.domain)
    area_eps = geo.AREA_RTOL * p.areas.sum()
    out = []
    for k in range(n_cls):
        verts, counts, reg = p.vertices, p.counts, np.arange(len(p))
        for j in range(n_cls):
            if j == k:
                continue
            av, cv = _unit_affine(A[reg, :, k] - A[reg, :, j], c[reg, k] - c[reg, j], scale)
            av, cv = np.repeat(av, counts, 0), np.repeat(cv, counts)
            s = verts[:, 0] * av[:, 0] + verts[:, 1] * av[:, 1] + cv
            verts, counts = geo.clip_halfplane(verts, counts, s, geo.affine_tol(av, cv, scale))
            keep = geo.polygon_areas(verts, counts) > area_eps
            verts, counts, reg = verts[np.repeat(keep, counts)], counts[keep], reg[keep]
        out.append((verts, counts, reg, np.full(len(reg), k)))
    return ClassCells(*(np.concatenate(x) for x in zip(*out)))


def class_regions(p: Partition) -> list[list[np.ndarray]]:
    """Per class, the list of ``(m, 2)`` CCW polygons (pieces of regions) where it wins
    (the network's argmax; ties go to every tied class)."""
    cells = class_cells(p)
    polys = geo.split_list(cells.verts, cells.counts)
    return [[q for q, lab in zip(polys, cells.label) if lab == k] for k in range(p.widths[-1])]


def decision_boundary(p: Partition, *, classes: bool = False):
    """Segments ``(s, 2, 2)`` where the two largest logits tie.

    Each segment is an edge of a class cell of class ``k`` on which ``logit_k = logit_j`` for
    some ``j > k`` (so it is reported once).

    Args:
        classes: also return the tied pair ``(s, 2)`` ``[k, j]`` of each segment.
    """
    cells = class_cells(p)
    A, c = p.pre[-1]
    n_cls = A.shape[2]
    scale = geo.length_scale(p.domain)
    reg = np.repeat(cells.region, cells.counts)
    lab = np.repeat(cells.label, cells.counts)
    segs, pairs = [np.zeros((0, 2, 2))], [np.zeros((0, 2), np.int64)]
    for j in range(n_cls):
        av = A[reg, :, lab] - A[reg, :, j]
        cv = c[reg, lab] - c[reg, j]
        diff = cells.verts[:, 0] * av[:, 0] + cells.verts[:, 1] * av[:, 1] + cv
        on = (np.abs(diff) <= geo.affine_tol(av, cv, scale)) & (lab < j)
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
