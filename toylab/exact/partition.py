"""Exact linear-region partition of a piecewise-linear network over a 2-D (slice of) input space.

A network with piecewise-linear activations is affine on each cell of a partition of input
space into convex polygons (its *linear regions*; Pascanu, Montufar & Bengio 2014, "On the
number of response regions of deep feed-forward networks with piece-wise linear
activations"; Montufar et al. 2014). The partition is built by exact refinement, layer by
layer and neuron by neuron (the "layer-wise hyperplane arrangement" of Serra, Tjandraatmadja &
Ramalingam 2018, in 2-D): inside a region every earlier neuron is in a fixed activation piece,
so neuron ``(l, i)``'s pre-activation is affine there, ``z = u . a_r + c_r``, and the region
splits along the lines ``z = beta`` for each breakpoint ``beta`` of the activation. All
polygons are cut at once by :func:`toylab.exact.geometry.cut_polygons` (numpy, no Python
loop over polygons).

What makes it scale (10^5-10^6 regions, benchmarks/README.md). A layer starts with one
vectorised test of every (start region, neuron) pair: a line that misses a start region's
box leaves all of that region's later pieces on one side, so a neuron only looks at the
descendants of the few start regions it reaches (a few per region past the first layer), and
since a region's neurons can be applied in any order, the cuts go in rounds, every region
cut by its own next neuron at once (:func:`_refine_layer`). The next layer's maps are formed
once per start region and corrected per region by the few neurons whose pieces differ
(:func:`_next_table`), in cache-sized chunks; memory per region is
:func:`bytes_per_region`.

What is exact. The lines the algorithm cuts along are float64: the first layer's are the
weights themselves (for a slice of a d-D input, the float64 products ``directions @ W``,
``origin @ W + b``), a deeper layer's are the float64 products of the earlier
per-region maps (within ``~width * 2^-53`` relative of the exact composition). Every
*combinatorial* decision is exact for these lines, at any coordinate scale: each polygon
vertex is kept as the intersection of two lines (its edges'), the side of a vertex is the
sign of the cutting line's affine function there, taken in float64 when it exceeds a
rigorous forward error bound and otherwise computed in rational arithmetic
(:func:`toylab.exact.geometry.cut_sides`). A region is cut only when it has vertices strictly
on both sides, so there is no snapping tolerance and no area cutoff: no real cell is merged
or dropped however small, a line through a corner or through an earlier crossing (exactly)
creates no sliver, and one that misses it by 1e-16 creates the real sliver. Vertex
coordinates are float64 intersections of their two lines (error radius stated per vertex);
areas are computed from them, so a cell narrower than that rounding can have an area that
rounds to 0. Memory is guarded (:func:`bytes_per_region`, ``max_bytes``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from collections.abc import Sequence

import numpy as np

from toylab.exact import geometry as geo
from toylab.models import Activation, as_layers, check_finite_layers, get_activation
from toylab.units import format_bytes

Neuron = tuple[int, int]


# ----------------------------------------------------------------------------- inputs


def _pl_activation(name: str) -> Activation:
    act = get_activation(name)
    if not act.piecewise_linear:
        raise ValueError(
            f"activation={act.name!r} is smooth: exact partitions need a piecewise-linear "
            "activation (relu, leaky_relu, abs, hard_tanh, linear). For smooth networks use "
            "toylab.symbolic (exact sympy expressions) or toylab.exact.smooth (grid evaluation "
            "with stated tolerances)"
        )
    return act


def slice_frame(d: int, origin, directions) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``origin (d,)`` and ``directions (2, d)`` of the 2-D slice ``x = origin + u @
    directions`` of a ``d``-D input space (defaults for ``d = 2``: the plane itself)."""
    if directions is None:
        if d != 2:
            raise ValueError(
                f"the network takes {d}-D inputs; pass directions= (2, {d}) (and optionally "
                f"origin= ({d},)) to partition the 2-D slice x = origin + u @ directions"
            )
        directions = np.eye(2)
    directions = np.asarray(directions, np.float64)
    if directions.shape != (2, d):
        raise ValueError(
            f"directions has shape {directions.shape}; the network takes {d}-D inputs, so pass "
            f"two direction vectors as a (2, {d}) array"
        )
    origin = np.zeros(d) if origin is None else np.asarray(origin, np.float64)
    if origin.shape != (d,):
        raise ValueError(f"origin has shape {origin.shape}; the network takes {d}-D inputs, "
                         f"pass a ({d},) point")
    if not (np.all(np.isfinite(origin)) and np.all(np.isfinite(directions))):
        raise ValueError("origin/directions contain non-finite values; pass finite arrays")
    return origin, directions


def _resolve(net, activation):
    layers, name = as_layers(net, activation, dtype=np.float64)
    check_finite_layers(layers)
    return layers, _pl_activation(name)


def activation_pieces(act: Activation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(breakpoints (K-1,), slopes (K,), intercepts (K,))`` of a piecewise-linear activation
    with ``K`` pieces: piece ``k`` is ``slopes[k] z + intercepts[k]`` between breakpoints."""
    pieces = np.array(act.pieces, np.float64)
    return pieces[:-1, 1], pieces[:, 2], pieces[:, 3]


def _post(A, c, pattern, slopes, intercepts):
    """Post-activation affine maps from pre-activation maps and piece indices."""
    sl, ic = slopes[pattern], intercepts[pattern]
    return A * sl[:, None, :], c * sl + ic


# ----------------------------------------------------------------------------- result


class LayerMaps(Sequence):
    """Per-layer affine maps of a partition's regions, ``(A (R, 2, w), c (R, w))`` per layer
    (logits last), each layer formed by ``form(layer)`` on first access and kept: reading
    the logits' maps (``p.pre[-1]``) forms ``24 R C`` bytes, not the ``24 R sum(widths)`` of
    every layer. Indexing, slicing (a tuple), iteration and ``len`` as a tuple."""

    def __init__(self, n_layers: int, form):
        self._n, self._form, self._formed = n_layers, form, {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, layer):
        if isinstance(layer, slice):
            return tuple(self[i] for i in range(*layer.indices(self._n)))
        i = int(layer) + (self._n if int(layer) < 0 else 0)
        if not 0 <= i < self._n:
            raise IndexError(f"layer {layer} out of range for {self._n} layers (the logits last)")
        if i not in self._formed:
            self._formed[i] = self._form(i)
        return self._formed[i]

    def __repr__(self) -> str:
        return f"LayerMaps({self._n} layers, formed: {sorted(self._formed)})"


def _check_maps_fit(n_regions: int, width: int, layer: int, what: str, per_entry: int):
    """Refuse to form ``n_regions x width`` affine maps (``per_entry`` bytes each, with the
    temporaries) where that passes :func:`default_max_bytes`."""
    need = per_entry * n_regions * width
    if need > default_max_bytes():
        raise MemoryError(
            f"p.{what}[{layer}] would form the affine maps of {n_regions} regions x {width} "
            f"neurons, about {format_bytes(need)}, above {format_bytes(default_max_bytes())} "
            f"(half the physical memory); read them at points with p.evaluate(U, {layer}, "
            f"pre={what == 'pre'}), per region from the compact p.tables[{layer}] at rows "
            f"p.table_rows[{layer}], or for fewer regions"
        )


def _layer_index(layer, n_hidden: int) -> int:
    """Validate ``layer`` (None: the logits, negative: from the end) -> ``0..n_hidden``."""
    if layer is None:
        return n_hidden
    if not isinstance(layer, (int, np.integer)) or not -n_hidden - 1 <= layer <= n_hidden:
        raise ValueError(
            f"layer={layer!r} is out of range; hidden layers are 0..{n_hidden - 1} and "
            f"{n_hidden} (or None) is the logits"
        )
    return int(layer) % (n_hidden + 1)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Partition:
    """The linear regions of a PL network over a convex 2-D domain (in slice coordinates).

    Attributes:
        vertices: ``(V, 2)`` all region vertices, region after region, each CCW.
        offsets: ``(R + 1,)`` region ``r`` is ``vertices[offsets[r]:offsets[r + 1]]``.
        areas: ``(R,)`` region areas.
        patterns: per hidden layer, ``(R, width_l)`` int8 index of each neuron's activation
            piece (into ``ACTIVATIONS[activation].pieces``).
        tables: per layer including the logits, the distinct pre-activation affine maps
            ``(A (T_l, 2, width_l), c (T_l, width_l))`` (one per region of the partition by
            the earlier layers; compact storage behind :attr:`pre`); ``None`` for the hidden
            layers of ``partition(..., hidden_maps=False)``.
        table_rows: per layer ``(R,)`` row of ``tables[l]`` that applies in each region.
        pre: (property) per layer incl. the logits ``(A (R, 2, width_l), c (R, width_l))``: in
            region ``r`` the pre-activation is ``z = u @ A[r] + c[r]`` (:class:`LayerMaps`: a
            layer is formed when first read).
        post: (property) the same for post-activations (logits: = pre).
        domain: ``(m, 2)`` CCW domain polygon, in slice coordinates ``u``.
        origin: ``(d,)``; directions: ``(2, d)``: input ``x = origin + u @ directions``.
        activation: activation name; widths: ``(d, hidden..., out)``; layers: float64 layer list.
        edge_lines: ``(V, 3)`` the float64 line ``(a0, a1, c)`` of the edge leaving each
            vertex; a vertex is exactly the intersection of its two edges' lines, which makes
            exact side tests possible (:func:`toylab.exact.geometry.cut_sides`).
        vertex_rad: ``(V,)`` each vertex's coordinates are within this of that intersection.
    """

    vertices: np.ndarray
    offsets: np.ndarray
    areas: np.ndarray
    patterns: tuple[np.ndarray, ...]
    tables: tuple[tuple[np.ndarray, np.ndarray], ...] = field(repr=False)
    table_rows: tuple[np.ndarray, ...] = field(repr=False)
    domain: np.ndarray
    origin: np.ndarray
    directions: np.ndarray
    activation: str
    widths: tuple[int, ...]
    layers: list = field(repr=False)
    edge_lines: np.ndarray = field(repr=False)
    vertex_rad: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.areas)

    def __repr__(self) -> str:
        return (f"Partition({len(self)} regions, widths={self.widths}, "
                f"activation={self.activation!r}, area={self.areas.sum():.6g})")

    @property
    def counts(self) -> np.ndarray:
        """``(R,)`` vertices per region."""
        return np.diff(self.offsets)

    @property
    def pieces(self) -> geo.Pieces:
        """The regions with their exact vertex descriptions (:class:`geometry.Pieces`)."""
        return geo.Pieces(self.vertices, self.edge_lines, self.vertex_rad, self.counts)

    @property
    def n_hidden(self) -> int:
        return len(self.tables) - 1

    @cached_property
    def pre(self) -> LayerMaps:
        """Per layer incl. the logits, pre-activation maps ``(A (R, 2, w), c (R, w))``, each
        layer formed from the compact tables when first read (:class:`LayerMaps`); a
        ``MemoryError`` naming the alternatives where a layer's maps would pass half the
        physical memory."""
        return LayerMaps(len(self.tables), self._pre_maps)

    def _table(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """``tables[layer]``, or an error where the partition did not keep it."""
        if self.tables[layer] is None:
            raise ValueError(
                f"the affine maps of hidden layer {layer} were not kept (this partition was "
                "made with hidden_maps=False, which keeps the logits' maps only); partition "
                "again with hidden_maps=True to read hidden neurons"
            )
        return self.tables[layer]

    def _pre_maps(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        (A, c), rows = self._table(layer), self.table_rows[layer]
        _check_maps_fit(len(rows), A.shape[2], layer, "pre", 24)
        return _frozen(np.take(A, rows, 0)), _frozen(np.take(c, rows, 0))

    @cached_property
    def polygons(self) -> list[np.ndarray]:
        """Regions as a list of ``(m_r, 2)`` CCW vertex arrays."""
        return geo.split_list(self.vertices, self.counts)

    @cached_property
    def post(self) -> LayerMaps:
        """Per layer, post-activation affine maps ``(A (R, 2, w), c (R, w))``; logits: = pre.
        Each layer formed when first read, as :attr:`pre`."""
        return LayerMaps(len(self.tables), self._post_maps)

    def _post_maps(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        if layer == self.n_hidden:
            return self.pre[layer]
        (A, c), rows = self._table(layer), self.table_rows[layer]
        _check_maps_fit(len(rows), A.shape[2], layer, "post", 48)  # with the pre maps
        _, slopes, intercepts = activation_pieces(get_activation(self.activation))
        pre = np.take(A, rows, 0), np.take(c, rows, 0)
        return tuple(_frozen(x) for x in _post(*pre, self.patterns[layer], slopes, intercepts))

    @cached_property
    def region_of_vertex(self) -> np.ndarray:
        """``(V,)`` region index of every vertex."""
        return geo.segment_ids(self.counts)

    @cached_property
    def centroids(self) -> np.ndarray:
        """``(R, 2)`` area centroids (interior points) of the regions."""
        return geo.polygon_centroids(self.vertices, self.counts)

    @cached_property
    def _locator(self) -> geo.Locator:
        return geo.build_locator(self.vertices, self.counts, self.domain)

    def locate(self, U) -> np.ndarray:
        """Region index ``(n,)`` of points ``U (n, 2)`` (slice coordinates); -1 outside the
        domain and at points with a NaN (or infinite) coordinate. Points on a shared edge get
        one of the regions meeting there."""
        U = np.asarray(U, np.float64).reshape(-1, 2)
        return geo.locate(self._locator, U)

    def affine(self, layer=None, *, pre: bool = False):
        """``(A (R, 2, w), c (R, w))`` of ``layer`` (None: logits), post- or pre-activation."""
        layer = _layer_index(layer, self.n_hidden)
        return (self.pre if pre else self.post)[layer]

    def evaluate(self, U, layer=None, *, pre: bool = False) -> np.ndarray:
        """Exact network values at points ``U (n, 2)`` from their regions' affine maps.

        Args:
            U: points in slice coordinates.
            layer: hidden layer index, or None for the logits.
            pre: pre-activations instead of post-activations.
        Returns:
            ``(n, width_layer)``; rows of points outside the domain (or not finite) are NaN.
        """
        layer = _layer_index(layer, self.n_hidden)
        U = np.asarray(U, np.float64).reshape(-1, 2)
        r = self.locate(U)
        rr = np.maximum(r, 0)
        A, c = self._table(layer)
        t = self.table_rows[layer][rr]
        out = U[:, :1] * A[t, 0] + U[:, 1:] * A[t, 1] + c[t]
        if not pre and layer < self.n_hidden:
            _, slopes, intercepts = activation_pieces(get_activation(self.activation))
            piece = self.patterns[layer][rr]
            out = slopes[piece] * out + intercepts[piece]
        out[r < 0] = np.nan
        return out

    def inputs(self, U) -> np.ndarray:
        """Network inputs ``x = origin + u @ directions``, ``(n, d)``, of slice points ``U``."""
        return self.origin + np.asarray(U, np.float64) @ self.directions


# ----------------------------------------------------------------------------- algorithm


_VERTEX_BYTES = 8 * (2 + 3 + 1)
"""Per stored vertex: coordinates, the line of its outgoing edge, its error radius."""

_REGION_BYTES = 8 * 7
"""Per region slot: start, count, box centre and reach (4), src."""

_VERTS_PER_REGION = 8.5
"""Vertex-store entries per region: each cut appends both pieces' vertices (the replaced
ones stay as garbage until the end), 8.5 per final region measured for 2-w-w-w-3 He nets."""

_GROWTH = 3
"""Amortised growth doubles a full buffer and copies it while the old one is alive: up to 3x
the used size at that moment."""


def bytes_per_region(width: int, next_width: int) -> int:
    """Estimated peak bytes per region while a hidden layer of ``width`` neurons feeding
    ``next_width`` is refined and its regions' next-layer maps are formed (an estimate: see
    benchmarks/README.md for the measured peaks).

    Counted: the vertex store (:data:`_VERTS_PER_REGION` x 48 bytes), region slots and the
    layer's int8 pattern (each up to :data:`_GROWTH` times) and its kept copy, and the next
    layer's table, 3 floats per next neuron (:func:`_next_table`). The memory guard adds what
    is already held: this layer's table (one row per start region), the earlier layers'
    tables, patterns and parent indices, and the chunks' working set :data:`_WORKING_BYTES`
    (:func:`peak_bytes_estimate`). So 2-256-256-256-3 needs ~8.6 kB per region while its second
    layer is refined, on top of the 0.19 GB held by then.
    """
    return int(_GROWTH * (_VERTS_PER_REGION * _VERTEX_BYTES + _REGION_BYTES + width) + width
               + 24 * next_width)


_FINAL_VERTEX_BYTES = _VERTEX_BYTES + 8 + 4 * 8
"""Per vertex of the final regions: its compacted copy, its gather index and the area sum's
float temporaries (:func:`geometry.polygon_areas`)."""


def final_bytes(n_regions: int, n_vertices: int, hidden_widths) -> int:
    """Bytes that the last step of :func:`partition` allocates on top of the maps and
    patterns it holds: the compacted vertices of the ``n_regions`` final regions, their areas
    and offsets, their start region in every layer and their pieces in every hidden layer
    (``(n_regions, width)`` int8 each)."""
    n_layers = len(hidden_widths) + 1
    return (n_vertices * _FINAL_VERTEX_BYTES
            + n_regions * (sum(hidden_widths) + 8 * (n_layers + 2)))


def peak_bytes_estimate(p: "Partition") -> int:
    """The memory guard's estimate of the peak bytes of computing ``p``: the largest over its
    hidden layers of the maps, patterns and parent indices held plus the regions after the
    layer times :func:`bytes_per_region`, and at the end all of those held plus
    :func:`final_bytes`; to compare with a measured peak."""
    held, peak = _WORKING_BYTES, 0
    widths = p.widths[1:]
    starts = [int(rows.max()) + 1 for rows in p.table_rows]  # table rows: no region vanishes
    for layer, (w, m) in enumerate(zip(widths[:-1], widths[1:])):
        held += 24 * starts[layer] * w
        regions = starts[layer + 1]
        peak = max(peak, held + regions * bytes_per_region(w, m))
        held += regions * (w + 8)
        if p.tables[layer] is None:  # hidden_maps=False: freed once the next maps exist
            held -= 24 * starts[layer] * w
    held += 24 * starts[-1] * widths[-1]
    return max(peak, held + final_bytes(len(p), len(p.vertices), widths[:-1]))


class _Work:
    """Mutable working state of the refinement, in amortised-growth buffers.

    Regions are cut in place: a cut region keeps its slot (now its ``s >= 0`` piece) and its
    ``s <= 0`` piece is appended; both pieces' vertices are appended to the vertex store
    (the old ones become garbage). Each cut adds one region, so the store stays O(regions).

    Per vertex: ``verts`` (float64 coordinates), ``lines`` (the line of the edge leaving it;
    the vertex is exactly the intersection of its incoming and outgoing edge lines), ``rad``
    (bound on the coordinates' error, see :func:`geometry.intersect_lines`).

    Per region: ``start``, ``count`` (its vertices in the store), bounding box centre ``cx,
    cy`` and *reach* ``ex, ey`` (half-extents widened by the largest vertex error radius and
    the rounding of ``a . (cx, cy) + c``, see :func:`_reach`), ``src`` (row of the current
    layer's start table), ``pattern`` (this layer's
    pieces so far; a cut copies the row, so a region inherits its parent's pieces).
    """

    _REGION_FIELDS = ("start", "count", "cx", "cy", "ex", "ey", "src", "pattern")

    def __init__(self, domain: np.ndarray):
        domain = _without_straight_corners(domain)
        lines = geo.edge_lines(domain)
        corners, rad = geo.intersect_lines(np.roll(lines, 1, 0), lines)
        self.verts, self.lines, self.rad, self.nv = corners, lines, rad, len(domain)
        self.nr = 1
        self.start = np.zeros(1, np.int64)
        self.count = np.array([len(domain)])
        self.cx, self.cy, self.ex, self.ey = _reach(*geo.bounds(corners, self.count),
                                                    rad.max(keepdims=True))

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.nr]

    def _reserve(self, n_verts: int, n_regions: int):
        if self.nv + n_verts > len(self.verts):
            for name in ("verts", "lines", "rad"):
                setattr(self, name, _grown(getattr(self, name), self.nv + n_verts))
        if self.nr + n_regions > len(self.start):
            for name in self._REGION_FIELDS:
                setattr(self, name, _grown(getattr(self, name), self.nr + n_regions))

    def cut(self, regions: np.ndarray, pieces: geo.Pieces):
        """Replace ``regions (k,)`` by their positive pieces and append their negative ones
        (``pieces`` as :func:`geometry.cut_polygons` gives, ``2k`` polygons)."""
        k = len(regions)
        counts = pieces.counts
        self._reserve(len(pieces.verts), k)
        new = np.arange(self.nr, self.nr + k)
        rows = np.concatenate([regions, new])
        sl = slice(self.nv, self.nv + len(pieces.verts))
        self.verts[sl], self.lines[sl], self.rad[sl] = pieces.verts, pieces.lines, pieces.rad
        starts = self.nv + counts.cumsum() - counts
        self.start[rows] = starts
        self.nv += len(pieces.verts)
        self.count[rows] = counts
        lo, hi = geo.bounds(pieces.verts, counts)
        rmax = np.maximum.reduceat(pieces.rad, starts - starts[0])
        self.cx[rows], self.cy[rows], self.ex[rows], self.ey[rows] = _reach(lo, hi, rmax)
        self.src[new], self.pattern[new] = self.src[regions], self.pattern[regions]
        self.nr += k
        return new

    def new_layer(self, pattern: np.ndarray):
        """Start a layer: the current regions become its start table (``src`` = themselves),
        each with the ``pattern (R0, w)`` of pieces it has wherever no line reaches it."""
        n = len(self.start)
        self.src = np.arange(n)
        self.pattern = np.zeros((n, pattern.shape[1]), np.int8)
        self.pattern[: len(pattern)] = pattern

    def csr(self) -> geo.Pieces:
        """The regions, compacted, in region order."""
        counts = self.view("count")
        idx = geo.gather_index(self.view("start"), counts)
        return geo.Pieces(self.verts[idx], self.lines[idx], self.rad[idx], counts.copy())


def _without_straight_corners(poly: np.ndarray) -> np.ndarray:
    """The polygon without vertices at which it does not turn (exactly, in rational
    arithmetic): a vertex must be the intersection of two non-parallel edge lines."""
    P = [tuple(map(Fraction, v)) for v in poly.tolist()]
    m = len(P)
    turns = [(P[k][0] - P[k - 1][0]) * (P[(k + 1) % m][1] - P[k][1])
             - (P[k][1] - P[k - 1][1]) * (P[(k + 1) % m][0] - P[k][0]) for k in range(m)]
    return poly[np.array([t != 0 for t in turns])]


def _reach(lo, hi, rmax) -> tuple[np.ndarray, ...]:
    """Per region ``cx, cy, ex, ey`` from bounding boxes ``lo, hi (R, 2)`` and largest vertex
    error radii ``rmax (R,)``: every exact vertex ``v`` has ``|a . v + c - fl(a . (cx, cy) +
    c)| <= |a0| ex + |a1| ey + 8u |c|``, with ``e = h + rmax + 8u (|centre| + h)`` (``h``:
    half-extent); the ``8u`` terms cover the rounding of the centre, of ``h`` and of the
    evaluation."""
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    e = half + rmax[:, None] + 8 * geo.UNIT_ROUNDOFF * (np.abs(centre) + half)
    return centre[:, 0], centre[:, 1], e[:, 0], e[:, 1]


def _grown(arr: np.ndarray, need: int) -> np.ndarray:
    out = np.zeros((max(need, 2 * len(arr)),) + arr.shape[1:], arr.dtype)
    out[: len(arr)] = arr
    return out


def _cut_regions(work: _Work, regions: np.ndarray, a0, a1, c) -> tuple[np.ndarray, ...]:
    """Cut each of ``regions (k,)`` along its line ``u . (a0, a1) + c = 0`` (``(k,)`` each).

    A region is looked at vertex by vertex only where its bounding box (widened by its
    vertices' error radius and the rounding of the test, :func:`_reach`) does not settle the
    side; there the side of each vertex is decided exactly (:func:`geometry.cut_sides`). A
    region is cut iff it has vertices strictly on both sides, so both pieces are real
    (positive exact area). Returns ``(regions', positive, parent)``: the regions followed by
    the pieces the cuts appended (on the negative side), whether each lies on the positive
    side, and for each appended piece the position in ``regions`` of the region it came from.
    """
    zc = a0 * work.cx[regions] + a1 * work.cy[regions] + c
    reach = (np.abs(a0) * work.ex[regions] + np.abs(a1) * work.ey[regions]
             + 8 * geo.UNIT_ROUNDOFF * np.abs(c))
    side = zc > 0  # where the reach test below decides; a constant line (a = 0): sign of c
    look = np.flatnonzero(~(np.abs(zc) > reach))  # NaN reach (0 * inf): look
    none = np.zeros(0, np.int64)
    if len(look) == 0:
        return regions, side, none
    cand = regions[look]
    cnt = work.count[cand]
    idx = geo.gather_index(work.start[cand], cnt)
    verts, lines, rad = work.verts[idx], work.lines[idx], work.rad[idx]
    L = np.repeat(geo.pow2_normalised(np.stack([a0[look], a1[look], c[look]], 1)), cnt, axis=0)
    vside = geo.cut_sides(geo.Pieces(verts, lines, rad, cnt), L)
    starts = cnt.cumsum() - cnt
    positive = np.logical_or.reduceat(vside > 0, starts)
    cut = positive & np.logical_or.reduceat(vside < 0, starts)
    side[look] = positive
    k = np.flatnonzero(cut)
    if len(k) == 0:
        return regions, side, none
    vcut = np.repeat(cut, cnt)
    pieces = geo.cut_polygons(verts[vcut], lines[vcut], rad[vcut], cnt[k], vside[vcut], L[vcut])
    new = work.cut(cand[k], pieces)
    return (np.concatenate([regions, new]), np.concatenate([side, np.zeros(len(k), bool)]),
            look[k])


_CHUNK_BYTES = 1 << 22
"""Working-set size of one chunk of :func:`_start_tests` and :func:`_next_table` (a few MB,
so the chunk's temporaries stay in cache and no large array is allocated per step)."""

_WORKING_BYTES = 4 * _CHUNK_BYTES
"""What the memory guard adds for the temporaries of one chunk (a few at a time)."""


def _start_tests(work: _Work, A, c, breakpoints) -> tuple[np.ndarray, np.ndarray]:
    """For every start region ``t`` (the ``R0`` current regions) and neuron ``j`` of the
    layer: ``(pieces (R0, w) int8, reached (R0, w) bool)``. Where no breakpoint's line
    ``z_j = beta`` reaches ``t``'s bounding box (:func:`_reach`, the test of
    :func:`_cut_regions`), ``z_j`` keeps one side of every breakpoint on all of ``t`` and so
    on every piece ``t`` is later cut into: its piece index is ``pieces[t, j]`` and neuron
    ``j`` need not look at ``t``'s descendants at all. The box contains the exact polygon
    ``t`` (its reach covers the vertices' error radii) and every later piece lies in it, so
    this is exact, like the per-region test."""
    R0, w = c.shape
    pieces = np.zeros((R0, w), np.int8)
    reached = np.zeros((R0, w), bool)
    step = max(64, _CHUNK_BYTES // (8 * w))
    for lo in range(0, R0, step):  # in cache-sized chunks of start regions
        rows = slice(lo, lo + step)
        cx, cy, ex, ey = (work.view(name)[rows, None] for name in ("cx", "cy", "ex", "ey"))
        a0, a1 = A[rows, 0], A[rows, 1]
        dz = a0 * cx + a1 * cy
        spread = np.abs(a0) * ex + np.abs(a1) * ey
        for beta in breakpoints:
            cb = c[rows] - beta
            zc = dz + cb
            reached[rows] |= ~(np.abs(zc) > spread + 8 * geo.UNIT_ROUNDOFF * np.abs(cb))
            pieces[rows] += zc > 0
    return pieces, reached


def _rank_within(keys: np.ndarray) -> np.ndarray:
    """For sorted ``keys (n,)``: each entry's position among the entries with its key."""
    return np.arange(len(keys)) - np.searchsorted(keys, keys)


def _rounds(reached: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(start regions, neurons)`` pairs of ``reached (R0, w)`` in rounds: round ``k``
    holds each start region's ``k``-th reached neuron, so within a round every start region
    (and so every current region) meets at most one neuron."""
    t, j = np.nonzero(reached)  # sorted by t
    rank = _rank_within(t)
    order = np.argsort(rank, kind="stable")
    bounds = geo.offsets_of(np.bincount(rank))
    return [(t[order[lo:hi]], j[order[lo:hi]]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _refine_layer(work: _Work, A, c, breakpoints, layer, limits, held: int):
    """Cut by every neuron of one hidden layer. ``A (R0, 2, w)``, ``c (R0, w)``: its pre maps
    per start-table region (``work.src`` indexes them).

    A neuron looks only at the descendants of the start regions its lines reach
    (:func:`_start_tests`), and the order of a start region's neurons is free (the result is
    the same arrangement), so the work goes in rounds (:func:`_rounds`): in round ``k``
    every region is cut by its start region's ``k``-th reached neuron, all at once. So a layer
    takes ``max_t (neurons reaching t)`` vectorised steps, not ``w``. ``held``: bytes the
    earlier layers' maps and patterns keep (for the memory guard)."""
    pieces, reached = _start_tests(work, A, c, breakpoints)
    work.new_layer(pieces)
    neuron_of = np.full(len(pieces), -1)
    for k, (starts, neurons) in enumerate(_rounds(reached)):
        neuron_of[starts] = neurons
        regions = np.flatnonzero(neuron_of[work.view("src")] >= 0)
        j = neuron_of[work.src[regions]]
        piece = np.zeros(len(regions), np.int8)
        for beta in breakpoints:
            t = work.src[regions]
            regions, side, parent = _cut_regions(work, regions, A[t, 0, j], A[t, 1, j],
                                                 c[t, j] - beta)
            j, piece = np.concatenate([j, j[parent]]), np.concatenate([piece, piece[parent]])
            piece += side
        work.pattern[regions, j] = piece
        neuron_of[starts] = -1
        limits.check(work.nr, layer, f"at layer {layer}, round {k} of its cuts", held)


@dataclass(frozen=True)
class _Limits:
    """The region cap and the memory guard, checked after every round of cuts."""

    max_regions: int
    max_bytes: float
    per_region: tuple[int, ...]  # bytes_per_region of each hidden layer

    def _above_limit(self) -> str:
        return (f"above max_bytes={format_bytes(self.max_bytes)}; pass a larger max_bytes= (if "
                "the machine has the memory), a smaller domain, or a region cap max_regions=")

    def check_final(self, n: int, n_vertices: int, hidden_widths, held: int):
        need = held + final_bytes(n, n_vertices, hidden_widths)
        if need > self.max_bytes:
            raise ValueError(
                f"partition reached its {n} final regions; storing them needs about "
                f"{format_bytes(need)} ({format_bytes(need - held)} for their vertices and "
                f"per-layer patterns plus {format_bytes(held)} for the maps and patterns of "
                "all layers and the working chunks), " + self._above_limit()
            )

    def check(self, n: int, layer: int, where: str, held: int):
        if n > self.max_regions:
            raise ValueError(
                f"partition reached {n} regions {where}, above max_regions={self.max_regions}; "
                f"raise the cap with max_regions= (memory ~{self.per_region[layer]} bytes per "
                "region in this layer) or shrink the domain"
            )
        need = held + n * self.per_region[layer]
        if need > self.max_bytes:
            raise ValueError(
                f"partition reached {n} regions {where}; it needs about {format_bytes(need)} "
                f"({self.per_region[layer]} bytes per region in this layer plus "
                f"{format_bytes(held)} for the maps and patterns of this and earlier "
                "layers and the working chunks), " + self._above_limit()
            )


def default_max_bytes() -> float:
    """Default memory limit of :func:`partition`: half of the machine's physical memory
    (8 GiB where that cannot be read)."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8.0 * 2**30


def _compose(chain: list[np.ndarray]) -> list[np.ndarray]:
    """From per-layer parent maps ``chain[l]: regions after layer l -> table l``, the map of
    the final regions into every table."""
    out = [chain[-1]]
    for par in reversed(chain[:-1]):
        out.append(par[out[-1]])
    return out[::-1]


_SPARSE_BELOW = 16
""":func:`_next_table` corrects the kept slots' products term by term where fewer than 1/16
of a chunk's pieces differ from their start region's kept slot, else forms the chunk's
products densely (a BLAS product beats ~w/16 gathered rank-one updates per region)."""


def _post_times(table: np.ndarray, pattern, slopes, intercepts, W, b, out: np.ndarray):
    """``out (T, 3, m)`` = each row's post map (``table (T, 3, w)`` pre maps, ``pattern (T,
    w)`` pieces) times ``W (w, m)``, plus ``b`` on the offsets; dense, in cache-sized chunks of
    rows."""
    w, m = W.shape
    step = max(64, _CHUNK_BYTES // (24 * w))
    for lo in range(0, len(table), step):
        rows = slice(lo, lo + step)
        maps = table[rows] * np.take(slopes, pattern[rows])[:, None, :]
        maps[:, 2] += np.take(intercepts, pattern[rows])
        out[rows] = (maps.reshape(-1, w) @ W).reshape(-1, 3, m)
        out[rows, 2] += b


def _next_table(table: np.ndarray, src, pattern, slopes, intercepts, W, b) -> np.ndarray:
    """The next layer's pre maps in every region: ``(R, 3, m)``, rows ``A[0], A[1], c``.

    ``table (R0, 3, w)`` holds this layer's pre maps per start region, ``src (R,)`` and
    ``pattern (R, w)`` each region's start region and pieces (region ``t < R0`` is the piece
    of start region ``t`` that kept its slot); in region ``r`` the post map is ``slope[p] *
    (u @ A + c) + intercept[p]`` and the next pre map that times ``W (w, m)`` plus ``b
    (m,)``. It is formed densely for the ``R0`` kept slots only; every other piece differs
    from its start region's kept slot in the few neurons whose lines cross the start region,
    so its map is that slot's corrected by their rank-one terms ``(delta slope * maps[:, j])
    W[j]``: ``O(R0 w m + (differences) m)`` instead of ``O(R w m)``, in chunks, with no
    memory beyond the result (on some machines the first touch of fresh memory costs more
    than the arithmetic)."""
    R0, R, (w, m) = len(table), len(src), W.shape
    out = np.empty((R, 3, m))
    kept = out[:R0]
    _post_times(table, pattern[:R0], slopes, intercepts, W, b, kept)
    step = max(64, _CHUNK_BYTES // (8 * max(w, 3 * m)))
    for lo in range(R0, R, step):
        rows = slice(lo, lo + step)
        t = src[rows]
        new = pattern[rows]
        old = pattern[t]
        differ = new != old
        fixed = out[rows]
        if np.count_nonzero(differ) > differ.size // _SPARSE_BELOW:  # the first layers
            _post_times(table[t], new, slopes, intercepts, W, b, fixed)
            continue
        r, j = np.nonzero(differ)  # sorted by r
        tr, pn, po = t[r], new[r, j], old[r, j]
        coef = table[tr, :, j] * (slopes[pn] - slopes[po])[:, None]
        coef[:, 2] += intercepts[pn] - intercepts[po]
        np.take(kept, t, axis=0, out=fixed, mode="clip")  # t is in range; "raise" buffers
        rank = _rank_within(r)  # k-th differing neuron of its row
        for k in range(rank.max(initial=-1) + 1):  # a row at most once per k
            at = np.flatnonzero(rank == k)
            fixed[r[at]] += coef[at, :, None] * W[j[at], None, :]
    return out


def _split_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Read-only views ``(A (T, 2, w), c (T, w))`` of a ``(T, 3, w)`` table (no copy)."""
    table.flags.writeable = False
    return table[:, :2], table[:, 2]


def _overflow(layers, extent: float, where: str) -> ValueError:
    return ValueError(
        f"the partition overflowed float64 {where} (inputs up to {extent:.3g} in size, weights "
        f"up to {max(np.abs(W).max() for W, _ in layers):.3g}, biases up to "
        f"{max(np.abs(b).max() for _, b in layers):.3g}); rescale the inputs or the weights"
    )


def _check_finite_maps(maps, layer: int, layers, extent: float):
    """Stop at the first layer whose pre-activation maps (slopes or offsets) overflowed: every
    later cut and map would be computed from them."""
    if not all(np.isfinite(m).all() for m in maps):
        raise _overflow(layers, extent, f"in the pre-activation maps of layer {layer}")


def _partition_2d(layers, act: Activation, domain, limits: _Limits,
                  hidden_maps: bool = True) -> tuple:
    """Core: layers already sliced to 2-D inputs. Returns ``(pieces, areas, tables,
    table_rows, patterns)`` for :class:`Partition` (``pieces``: :class:`geometry.Pieces`);
    without ``hidden_maps`` a hidden layer's table is freed once the next layer's is formed
    (``None`` in ``tables``)."""
    breakpoints, slopes, intercepts = activation_pieces(act)
    W0, b0 = layers[0]
    table = np.concatenate([W0, b0[None]])[None]  # layer 0's pre maps: one start region
    work = _Work(domain)
    tables, chain, patterns = [], [], []
    held = _WORKING_BYTES  # + the tables and patterns kept so far (the guard counts them)
    for depth in range(len(layers) - 1):
        _check_finite_maps([table], depth, layers, np.abs(domain).max())
        held += table.nbytes
        _refine_layer(work, *_split_table(table), breakpoints, depth, limits, held)
        src, pattern = work.view("src").copy(), work.view("pattern").copy()
        held += pattern.nbytes + src.nbytes
        tables.append(_split_table(table) if hidden_maps else None)
        chain.append(src)
        patterns.append(pattern)
        if not hidden_maps:
            held -= table.nbytes
        table = _next_table(table, src, pattern, slopes, intercepts, *layers[depth + 1])
    _check_finite_maps([table], len(layers) - 1, layers, np.abs(domain).max())
    tables.append(_split_table(table))
    held += table.nbytes
    n = work.nr
    limits.check_final(n, int(work.view("count").sum()), [p.shape[1] for p in patterns], held)
    pieces = work.csr()
    del work  # the vertex store and region slots go before the per-region copies below
    chain.append(np.arange(n))
    anc = _compose(chain)
    pats = tuple(_frozen(np.take(p, i, 0)) for p, i in zip(patterns, anc[1:]))
    del patterns
    areas = geo.polygon_areas(pieces.verts, pieces.counts)
    return pieces, areas, tuple(tables), tuple(map(_frozen, anc)), pats


def _hugepage_switch():
    """numpy's ``_set_madvise_hugepage`` (``numpy._core`` from 2.0, ``numpy.core`` before), or
    None."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._set_madvise_hugepage
        except (ImportError, AttributeError):
            continue
    return None


@contextlib.contextmanager
def _without_hugepage_advice():
    """numpy without its ``madvise(MADV_HUGEPAGE)`` on large allocations, restored after.

    Where transparent huge pages are on "madvise" with synchronous defragmentation (this
    VM's kernel default), every first touch of advised memory can stall on page compaction:
    the partition writes GBs of fresh tables, and without the advice 2-256^3 ran 1.1-1.5x
    faster (benchmarks/README.md). Only speed changes; where numpy lacks the switch this does
    nothing."""
    switch = _hugepage_switch()
    if switch is None:
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


def _check_max_bytes(max_bytes) -> float:
    if max_bytes is None:
        return default_max_bytes()
    ok = isinstance(max_bytes, (int, float, np.integer, np.floating)) and not isinstance(
        max_bytes, bool)
    if not ok or not np.isfinite(max_bytes) or max_bytes <= 0:
        raise ValueError(
            f"max_bytes={max_bytes!r} must be a finite positive number of bytes (None: half "
            f"the physical memory, here {format_bytes(default_max_bytes())}); it cannot disable "
            "the memory guard"
        )
    return float(max_bytes)


def partition(net, domain=None, *, activation: str | None = None, origin=None,
              directions=None, max_regions: int = 1_000_000, max_bytes=None,
              hidden_maps: bool = True) -> Partition:
    """Exact linear-region partition of a piecewise-linear network.

    Args:
        net: an :class:`~toylab.models.MLP` or a layer list ``[(W (in, out), b (out,)), ...]``;
            all weights finite.
        domain: convex polygon ``(m, 2)``, box ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``, a 2-D
            distribution (its ``.domain`` box), or None for
            :data:`~toylab.exact.geometry.DEFAULT_BOX`. In slice coordinates ``u``.
        activation: required with a layer list; must be piecewise-linear.
        origin: ``(d,)``, directions: ``(2, d)``: partition the slice
            ``x = origin + u @ directions`` (required when ``d != 2``).
        max_regions: stop with a ValueError beyond this many regions.
        max_bytes: stop with a ValueError when the estimated memory (regions x
            :func:`bytes_per_region` of the layer being refined plus what is held, and the
            final step: :func:`peak_bytes_estimate`) exceeds this; None: half the physical
            memory (:func:`default_max_bytes`).
        hidden_maps: keep every hidden layer's affine maps (``p.tables``, behind ``pre``,
            ``post`` and ``evaluate`` of hidden layers). ``False`` keeps the logits' maps only
            and frees each hidden layer's once the next layer's are formed: the regions,
            patterns and logits are the same, the partition keeps a sixth of the memory
            (2-256^5: 1.05 instead of 6.10 GiB) and its peak is lower by the earlier layers'
            tables (27% at 2-256^5, 32% at 2-256^6); reading a hidden layer's maps is then an
            error.
    Returns:
        :class:`Partition`.
    """
    layers, act = _resolve(net, activation)
    d = layers[0][0].shape[0]
    origin, directions = slice_frame(d, origin, directions)
    dom = geo.as_domain(domain)
    if not (isinstance(max_regions, (int, np.integer)) and max_regions >= 1):
        raise ValueError(f"max_regions={max_regions!r} must be a positive integer")
    widths = [W.shape[1] for W, _ in layers]
    limits = _Limits(int(max_regions), _check_max_bytes(max_bytes),
                     tuple(bytes_per_region(w, nw) for w, nw in zip(widths[:-1], widths[1:])))
    W0, b0 = layers[0]
    sliced = [(directions @ W0, origin @ W0 + b0)] + list(layers[1:])
    with _without_hugepage_advice():
        pieces, areas, tables, rows, pats = _partition_2d(sliced, act, dom, limits,
                                                          bool(hidden_maps))
    if not np.isfinite(areas).all():
        raise _overflow(layers, np.abs(dom).max(), "in the region areas")
    return Partition(
        vertices=_frozen(pieces.verts),
        offsets=_frozen(geo.offsets_of(pieces.counts)),
        areas=_frozen(areas),
        patterns=pats,
        tables=tables,
        table_rows=rows,
        domain=_frozen(dom),
        origin=_frozen(origin),
        directions=_frozen(directions),
        activation=act.name,
        widths=(d,) + tuple(widths),
        layers=layers,
        edge_lines=_frozen(pieces.lines),
        vertex_rad=_frozen(pieces.rad),
    )


# ----------------------------------------------------------------------------- 1-D lines


@dataclass(frozen=True, eq=False)
class LinePartition:
    """Linear pieces of a PL network along the segment ``x = origin + t * direction``.

    Attributes:
        breakpoints: ``(S + 1,)`` increasing ``t`` values; segment ``k`` is
            ``[breakpoints[k], breakpoints[k + 1]]``.
        patterns: per hidden layer ``(S, width)`` int8 activation piece indices.
        pre: per layer incl. logits ``(slope (S, w), intercept (S, w))``:
            ``z = t * slope[k] + intercept[k]`` on segment ``k``.
        origin: ``(d,)``; direction: ``(d,)``; activation; widths; layers.
    """

    breakpoints: np.ndarray
    patterns: tuple[np.ndarray, ...]
    pre: tuple[tuple[np.ndarray, np.ndarray], ...]
    origin: np.ndarray
    direction: np.ndarray
    activation: str
    widths: tuple[int, ...]
    layers: list = field(repr=False)

    def __len__(self) -> int:
        return len(self.breakpoints) - 1

    @cached_property
    def post(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per layer ``(slope, intercept)`` of the post-activations; logits: = pre."""
        _, slopes, intercepts = activation_pieces(get_activation(self.activation))
        hidden = tuple((slopes[p] * a, slopes[p] * b + intercepts[p])
                       for (a, b), p in zip(self.pre[:-1], self.patterns))
        return hidden + (self.pre[-1],)

    def locate(self, t) -> np.ndarray:
        """Segment index ``(n,)`` of parameters ``t (n,)``; -1 outside the range and at NaN."""
        t = np.asarray(t, np.float64).reshape(-1)
        k = np.searchsorted(self.breakpoints, t, side="right") - 1
        k = np.where(t == self.breakpoints[-1], len(self) - 1, k)
        inside = (t >= self.breakpoints[0]) & (t <= self.breakpoints[-1])  # False at NaN
        return np.where(inside, k, -1)

    def evaluate(self, t, layer=None, *, pre: bool = False) -> np.ndarray:
        """``(n, width)`` values of ``layer`` (None: logits) at ``t (n,)``; NaN outside."""
        layer = _layer_index(layer, len(self.pre) - 1)
        slope, icpt = (self.pre if pre else self.post)[layer]
        t = np.asarray(t, np.float64).reshape(-1)
        k = self.locate(t)
        kk = np.maximum(k, 0)
        out = t[:, None] * slope[kk] + icpt[kk]
        out[k < 0] = np.nan
        return out


UNIT_RAD = 2 * geo.UNIT_ROUNDOFF
"""A breakpoint ``t = fl(-c / a)`` is within ``UNIT_RAD * |t|`` of the exact root."""


def _point_sides(bp, bline, a, c) -> np.ndarray:
    """Exact sign ``(n,)`` int8 of ``z = a t + c`` at breakpoints ``bp (n,)``, each the float64
    root ``-c'/a'`` of its line ``bline (n, 2) = (a', c')``: in float64 where ``|z|`` exceeds
    its forward error bound, else in rational arithmetic (``sign(c a' - a c') sign(a')``)."""
    t = a * bp
    z = t + c
    bound = np.abs(a) * UNIT_RAD * np.abs(bp) + 8 * geo.UNIT_ROUNDOFF * (np.abs(t) + np.abs(c))
    side = np.sign(z).astype(np.int8)
    for i in np.flatnonzero(~(np.abs(z) > bound)):
        a1, c1, ai, ci = map(Fraction, (*bline[i].tolist(), float(a[i]), float(c[i])))
        val = ci * a1 - ai * c1
        side[i] = ((val > 0) - (val < 0)) * (1 if a1 > 0 else -1)
    return side


def _cut_segments(bp, bline, src, pattern, a, c, j, breakpoints):
    """Split segments ``[bp[k], bp[k+1]]`` where ``z = t a + c`` crosses each breakpoint,
    deciding the side of every end point exactly (:func:`_point_sides`)."""
    piece = np.zeros(len(src), np.int8)
    for beta in breakpoints:
        av, cv = a[src], c[src] - beta
        s_lo = _point_sides(bp[:-1], bline[:-1], av, cv)
        s_hi = _point_sides(bp[1:], bline[1:], av, cv)
        side = ((s_lo > 0) | (s_hi > 0)).astype(np.int8)
        k = np.flatnonzero(s_lo * s_hi < 0)
        if len(k):
            t_cut = np.clip(-cv[k] / av[k], bp[k], bp[k + 1])
            reps = np.ones(len(src), np.int64)
            reps[k] = 2
            parent = np.repeat(np.arange(len(src)), reps)
            first = geo.offsets_of(reps)[k]  # position of each cut segment's left child
            side = side[parent]
            side[first] = s_lo[k] > 0
            side[first + 1] = s_lo[k] < 0
            bp = np.insert(bp, k + 1, t_cut)
            bline = np.insert(bline, k + 1, np.stack([av[k], cv[k]], 1), axis=0)
            src, pattern, piece = src[parent], pattern[parent], piece[parent]
        piece = piece + side
    pattern[:, j] = piece
    return bp, bline, src, pattern


def partition_line(net, origin, direction, t_range=(0.0, 1.0), *,
                   activation: str | None = None) -> LinePartition:
    """Exact linear pieces of a PL network along ``x = origin + t * direction``,
    ``t in t_range``.

    Args:
        net: MLP or layer list; activation: required with a layer list, piecewise-linear.
        origin: ``(d,)``; direction: ``(d,)``; t_range: ``(lo, hi)`` with ``lo < hi``.
    Returns:
        :class:`LinePartition`.
    """
    layers, act = _resolve(net, activation)
    d = layers[0][0].shape[0]
    origin, direction = np.asarray(origin, np.float64), np.asarray(direction, np.float64)
    if origin.shape != (d,) or direction.shape != (d,):
        raise ValueError(
            f"origin {origin.shape} and direction {direction.shape} must both be ({d},) for a "
            f"network with {d}-D inputs"
        )
    lo, hi = (float(x) for x in t_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"t_range={t_range!r} must be finite (lo, hi) with lo < hi")
    breakpoints, slopes, intercepts = activation_pieces(act)
    W0, b0 = layers[0]
    bp = np.array([lo, hi])
    bline = np.array([[1.0, -lo], [1.0, -hi]])  # t - lo = 0 and t - hi = 0, exactly
    table = ((direction @ W0)[None], (origin @ W0 + b0)[None])
    src = np.zeros(1, np.int64)
    tables, chain, patterns = [], [], []
    extent = max(np.abs(origin + lo * direction).max(), np.abs(origin + hi * direction).max())
    for depth in range(len(layers) - 1):
        _check_finite_maps(table, depth, layers, extent)
        a, c = table
        pattern = np.zeros((len(src), a.shape[1]), np.int8)
        for j in range(a.shape[1]):
            bp, bline, src, pattern = _cut_segments(bp, bline, src, pattern, a[:, j], c[:, j],
                                                    j, breakpoints)
        tables.append(table)
        chain.append(src)
        patterns.append(pattern)
        sl, ic = slopes[pattern], intercepts[pattern]
        pa, pc = a[src] * sl, c[src] * sl + ic
        W, b = layers[depth + 1]
        table = (pa @ W, pc @ W + b)
        src = np.arange(len(src))
    _check_finite_maps(table, len(layers) - 1, layers, extent)
    tables.append(table)
    chain.append(src)
    anc = _compose(chain)
    return LinePartition(
        breakpoints=_frozen(bp),
        patterns=tuple(_frozen(p[i]) for p, i in zip(patterns, anc[1:])),
        pre=tuple((_frozen(a[i]), _frozen(c[i])) for (a, c), i in zip(tables, anc)),
        origin=_frozen(origin),
        direction=_frozen(direction),
        activation=act.name,
        widths=(d,) + tuple(W.shape[1] for W, _ in layers),
        layers=layers,
    )


def neuron_address(p, neuron: Sequence[int]) -> tuple[int, int]:
    """Validate a neuron address ``(layer, index)`` against a partition's widths."""
    try:
        layer, index = (int(x) for x in neuron)
    except (TypeError, ValueError):
        raise ValueError(f"neuron={neuron!r} must be a (layer, index) pair of ints") from None
    n_layers = len(p.widths) - 1
    if not 0 <= layer < n_layers or not 0 <= index < p.widths[layer + 1]:
        raise ValueError(
            f"neuron={neuron!r} does not exist; layers are 0..{n_layers - 1} (the last is the "
            f"logits) with widths {p.widths[1:]}"
        )
    return layer, index
