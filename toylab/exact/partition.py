"""Exact linear-region partition of a piecewise-linear network over a 2-D (slice of) input space.

A network with piecewise-linear activations is affine on each cell of a partition of input
space into convex polygons (its *linear regions*; Pascanu, Montufar & Bengio 2014, "On the
number of response regions of deep feed-forward networks with piece-wise linear
activations"; Montufar et al. 2014). The partition is built by exact refinement, layer by
layer and neuron by neuron (the "layer-wise hyperplane arrangement" of Serra, Tjandraatmadja &
Ramalingam 2018, in 2-D): inside a region every earlier neuron is in a fixed activation piece,
so neuron ``(l, i)``'s pre-activation is affine there, ``z = u . a_r + c_r``, and the region
splits along the lines ``z = beta`` for each breakpoint ``beta`` of the activation. All
polygons are cut at once by :func:`toylab.exact.geometry.split_convex` (numpy, no Python
loop over polygons).

Everything is float64. Degeneracies (dead neurons, zero weights, duplicate or parallel
neurons, lines through corners or through earlier intersections) are handled by snapping
vertices within rounding noise of a line onto it and by never splitting off pieces with
area below ``AREA_RTOL`` times the domain area (see :mod:`toylab.exact.geometry`). The price
is confined to rounding-noise scale: a snapped vertex lies at most ``SNAP_RTOL * (|a|_1 scale +
|c|)`` (in pre-activation units) on the wrong side of a line, so a region's stored pattern can
disagree with the forward pass only within that distance of its boundary, and a merged piece
has area below ``AREA_RTOL`` times the domain's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from toylab.exact import geometry as geo
from toylab.models import Activation, as_layers, get_activation

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


def _slice(d: int, origin, directions) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``origin (d,)`` and ``directions (2, d)`` of the slice ``x = origin + u @ D``."""
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
    return layers, _pl_activation(name)


def _pieces(act: Activation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(breakpoints (K-1,), slopes (K,), intercepts (K,))`` of a PL activation."""
    pieces = np.array(act.pieces, np.float64)
    return pieces[:-1, 1], pieces[:, 2], pieces[:, 3]


def _post(A, c, pattern, slopes, intercepts):
    """Post-activation affine maps from pre-activation maps and piece indices."""
    sl, ic = slopes[pattern], intercepts[pattern]
    return A * sl[:, None, :], c * sl + ic


# ----------------------------------------------------------------------------- result


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
            the earlier layers; compact storage behind :attr:`pre`).
        table_rows: per layer ``(R,)`` row of ``tables[l]`` that applies in each region.
        pre: (property) per layer incl. the logits ``(A (R, 2, width_l), c (R, width_l))``: in
            region ``r`` the pre-activation is ``z = u @ A[r] + c[r]``.
        post: (property) the same for post-activations (logits: = pre).
        domain: ``(m, 2)`` CCW domain polygon, in slice coordinates ``u``.
        origin: ``(d,)``; directions: ``(2, d)``: input ``x = origin + u @ directions``.
        activation: activation name; widths: ``(d, hidden..., out)``; layers: float64 layer list.
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
    def n_hidden(self) -> int:
        return len(self.tables) - 1

    @cached_property
    def pre(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per layer incl. the logits, pre-activation maps ``(A (R, 2, w), c (R, w))``."""
        return tuple((_frozen(np.take(A, rows, 0)), _frozen(np.take(c, rows, 0)))
                     for (A, c), rows in zip(self.tables, self.table_rows))

    @cached_property
    def polygons(self) -> list[np.ndarray]:
        """Regions as a list of ``(m_r, 2)`` CCW vertex arrays."""
        return geo.split_list(self.vertices, self.counts)

    @cached_property
    def post(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """Per layer, post-activation affine maps ``(A (R, 2, w), c (R, w))``; logits: = pre."""
        _, slopes, intercepts = _pieces(get_activation(self.activation))
        hidden = tuple(
            tuple(_frozen(x) for x in _post(A, c, pat, slopes, intercepts))
            for (A, c), pat in zip(self.pre[:-1], self.patterns)
        )
        return hidden + (self.pre[-1],)

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
        domain. Points on a shared edge get one of the regions meeting there."""
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
            ``(n, width_layer)``; rows of points outside the domain are NaN.
        """
        layer = _layer_index(layer, self.n_hidden)
        U = np.asarray(U, np.float64).reshape(-1, 2)
        r = self.locate(U)
        rr = np.maximum(r, 0)
        A, c = self.tables[layer]
        t = self.table_rows[layer][rr]
        out = U[:, :1] * A[t, 0] + U[:, 1:] * A[t, 1] + c[t]
        if not pre and layer < self.n_hidden:
            _, slopes, intercepts = _pieces(get_activation(self.activation))
            piece = self.patterns[layer][rr]
            out = slopes[piece] * out + intercepts[piece]
        out[r < 0] = np.nan
        return out

    def inputs(self, U) -> np.ndarray:
        """Network inputs ``x = origin + u @ directions``, ``(n, d)``, of slice points ``U``."""
        return self.origin + np.asarray(U, np.float64) @ self.directions


# ----------------------------------------------------------------------------- algorithm


class _Work:
    """Mutable working state of the refinement, in amortised-growth buffers.

    Regions are cut in place: a cut region keeps its slot (now its ``s >= 0`` piece) and its
    ``s <= 0`` piece is appended; both pieces' vertices are appended to the vertex store
    (the old ones become garbage). Each cut adds one region, so the store stays O(regions).

    Per region: ``start``, ``count`` (its vertices in the store), ``area``, bounding box
    centre ``cx, cy`` and half-extents ``hx, hy``, ``src`` (row of the current layer's start
    table), ``piece`` (current neuron's piece index), ``pattern`` (this layer's pieces so far).
    """

    _REGION_FIELDS = ("start", "count", "area", "cx", "cy", "hx", "hy", "src", "piece",
                      "pattern")

    def __init__(self, domain: np.ndarray, area: float, width: int):
        self.verts, self.nv = domain.copy(), len(domain)
        self.nr = 1
        self.start = np.zeros(1, np.int64)
        self.count = np.array([len(domain)])
        self.area = np.array([area])
        self.cx, self.cy, self.hx, self.hy = geo.boxes(domain, self.count).T.copy()
        self.new_layer(width)

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.nr]

    def _reserve(self, n_verts: int, n_regions: int):
        if self.nv + n_verts > len(self.verts):
            self.verts = _grown(self.verts, self.nv + n_verts)
        if self.nr + n_regions > len(self.start):
            for name in self._REGION_FIELDS:
                setattr(self, name, _grown(getattr(self, name), self.nr + n_regions))

    def cut(self, regions: np.ndarray, pieces):
        """Replace ``regions (k,)`` by their positive pieces and append their negative ones;
        ``pieces = (verts, counts (2k,), areas (2k,))`` as :class:`geometry.Split` gives."""
        verts, counts, areas = pieces
        k = len(regions)
        self._reserve(len(verts), k)
        new = np.arange(self.nr, self.nr + k)
        rows = np.concatenate([regions, new])
        self.verts[self.nv : self.nv + len(verts)] = verts
        self.start[rows] = self.nv + counts.cumsum() - counts
        self.nv += len(verts)
        self.count[rows], self.area[rows] = counts, areas
        lo, hi = geo.bounds(verts, counts)
        self.cx[rows], self.cy[rows] = ((lo + hi) / 2).T
        self.hx[rows], self.hy[rows] = ((hi - lo) / 2).T
        self.src[new], self.piece[new], self.pattern[new] = (
            self.src[regions], self.piece[regions], self.pattern[regions])
        self.nr += k

    def new_layer(self, width: int):
        """Reset the per-layer fields; the current regions become the next start table."""
        n = len(self.start)
        self.src = np.arange(n)
        self.piece = np.zeros(n, np.int8)
        self.pattern = np.zeros((n, width), np.int8)

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Compacted ``(verts (V, 2), counts (R,))`` in region order."""
        counts = self.view("count")
        return self.verts[geo.gather_index(self.view("start"), counts)], counts.copy()


def _grown(arr: np.ndarray, need: int) -> np.ndarray:
    out = np.zeros((max(need, 2 * len(arr)),) + arr.shape[1:], arr.dtype)
    out[: len(arr)] = arr
    return out


def _cut_regions(work: _Work, a0, a1, c, scale: float, area_eps: float) -> np.ndarray:
    """Cut every region along its line ``u . (a0, a1)[r] + c[r] = 0`` (``(R,)`` each).

    Only regions whose bounding box the line can reach are looked at vertex by vertex.
    Returns ``(R',)`` bool: each (new) region lies on the positive side.
    """
    n = work.nr
    zc = a0 * work.cx[:n] + a1 * work.cy[:n] + c
    tol = geo.affine_tol2(a0, a1, c, scale)
    side = zc > 0
    reach = np.abs(a0) * work.hx[:n] + np.abs(a1) * work.hy[:n] + tol
    cand = np.flatnonzero(np.abs(zc) <= reach)
    if len(cand) == 0:
        return side
    cnt = work.count[cand]
    verts = work.verts[geo.gather_index(work.start[cand], cnt)]
    s = verts[:, 0] * np.repeat(a0[cand], cnt) + verts[:, 1] * np.repeat(a1[cand], cnt)
    s += np.repeat(c[cand], cnt)
    sp = geo.split_convex(verts, cnt, work.area[cand], s, np.repeat(tol[cand], cnt), area_eps)
    side[cand] = sp.positive
    if len(sp.cut):
        work.cut(cand[sp.cut], sp.pieces)
        side = np.concatenate([side, np.zeros(len(sp.cut), bool)])
    return side


def _refine_layer(work: _Work, A, c, breakpoints, scale, area_eps, max_regions, layer):
    """Cut by every neuron of one hidden layer. ``A (R0, 2, w)``, ``c (R0, w)``: its pre maps
    per start-table region (``work.src`` indexes them)."""
    At = np.ascontiguousarray(A.transpose(2, 1, 0))  # (w, 2, R0)
    ct = np.ascontiguousarray(c.T)
    for j in range(A.shape[2]):
        work.piece[:] = 0
        for beta in breakpoints:
            src = work.view("src")
            side = _cut_regions(work, At[j, 0][src], At[j, 1][src], ct[j][src] - beta, scale,
                             area_eps)
            work.view("piece")[:] += side
        work.view("pattern")[:, j] = work.view("piece")
        if work.nr > max_regions:
            raise ValueError(
                f"partition reached {work.nr} regions at layer {layer}, neuron {j}, "
                f"above max_regions={max_regions}; raise the cap with max_regions= (memory "
                "grows ~1 kB per region per 10 neurons) or shrink the domain"
            )


def _compose(chain: list[np.ndarray]) -> list[np.ndarray]:
    """From per-layer parent maps ``chain[l]: regions after layer l -> table l``, the map of
    the final regions into every table."""
    out = [chain[-1]]
    for par in reversed(chain[:-1]):
        out.append(par[out[-1]])
    return out[::-1]


def _partition_2d(layers, act: Activation, domain, max_regions) -> tuple:
    """Core: layers already sliced to 2-D inputs. Returns ``(verts, counts, areas, tables,
    table_rows, patterns)`` for :class:`Partition`."""
    breakpoints, slopes, intercepts = _pieces(act)
    scale = geo.length_scale(domain)
    dom_area = geo.polygon_areas(domain, np.array([len(domain)]))[0]
    area_eps = geo.AREA_RTOL * dom_area
    W0, b0 = layers[0]
    table = (W0[None], b0[None])  # pre maps of layer 0 for the single start region
    work = _Work(domain, dom_area, W0.shape[1])
    tables, chain, patterns = [], [], []
    for depth in range(len(layers) - 1):
        A, c = table
        _refine_layer(work, A, c, breakpoints, scale, area_eps, max_regions, depth)
        src, pattern = work.view("src").copy(), work.view("pattern").copy()
        tables.append(table)
        chain.append(src)
        patterns.append(pattern)
        pA, pc = _post(A[src], c[src], pattern, slopes, intercepts)
        W, b = layers[depth + 1]
        table = ((pA.reshape(-1, pA.shape[2]) @ W).reshape(len(src), 2, -1), pc @ W + b)
        work.new_layer(W.shape[1])
    tables.append(table)
    chain.append(np.arange(work.nr))
    anc = _compose(chain)
    tables = tuple((_frozen(A), _frozen(c)) for A, c in tables)
    pats = tuple(_frozen(np.take(p, i, 0)) for p, i in zip(patterns, anc[1:]))
    verts, counts = work.csr()
    return verts, counts, work.view("area").copy(), tables, tuple(map(_frozen, anc)), pats


def partition(net, domain=None, *, activation: str | None = None, origin=None,
              directions=None, max_regions: int = 1_000_000) -> Partition:
    """Exact linear-region partition of a piecewise-linear network.

    Args:
        net: an :class:`~toylab.models.MLP` or a layer list ``[(W (in, out), b (out,)), ...]``.
        domain: convex polygon ``(m, 2)``, box ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``, an
            object with a ``.domain`` box (a distribution), or None for
            :data:`~toylab.exact.geometry.DEFAULT_BOX`. In slice coordinates ``u``.
        activation: required with a layer list; must be piecewise-linear.
        origin: ``(d,)``, directions: ``(2, d)``: partition the slice
            ``x = origin + u @ directions`` (required when ``d != 2``).
        max_regions: stop with a ValueError beyond this many regions.
    Returns:
        :class:`Partition`.
    """
    layers, act = _resolve(net, activation)
    d = layers[0][0].shape[0]
    origin, directions = _slice(d, origin, directions)
    dom = geo.as_domain(domain)
    if not (isinstance(max_regions, (int, np.integer)) and max_regions >= 1):
        raise ValueError(f"max_regions={max_regions!r} must be a positive integer")
    W0, b0 = layers[0]
    sliced = [(directions @ W0, origin @ W0 + b0)] + list(layers[1:])
    verts, counts, areas, tables, rows, pats = _partition_2d(sliced, act, dom, max_regions)
    return Partition(
        vertices=_frozen(verts),
        offsets=_frozen(geo.offsets_of(counts)),
        areas=_frozen(areas),
        patterns=pats,
        tables=tables,
        table_rows=rows,
        domain=_frozen(dom),
        origin=_frozen(origin),
        directions=_frozen(directions),
        activation=act.name,
        widths=(d,) + tuple(W.shape[1] for W, _ in layers),
        layers=layers,
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
        _, slopes, intercepts = _pieces(get_activation(self.activation))
        hidden = tuple((slopes[p] * a, slopes[p] * b + intercepts[p])
                       for (a, b), p in zip(self.pre[:-1], self.patterns))
        return hidden + (self.pre[-1],)

    def locate(self, t) -> np.ndarray:
        """Segment index ``(n,)`` of parameters ``t (n,)``; -1 outside the range."""
        t = np.asarray(t, np.float64).reshape(-1)
        k = np.searchsorted(self.breakpoints, t, side="right") - 1
        k = np.where(t == self.breakpoints[-1], len(self) - 1, k)
        return np.where((t < self.breakpoints[0]) | (t > self.breakpoints[-1]), -1, k)

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


def _cut_segments(bp, src, pattern, a, c, j, breakpoints, scale, len_eps):
    """Split segments ``[bp[k], bp[k+1]]`` where ``z = t a + c`` crosses each breakpoint."""
    piece = np.zeros(len(src), np.int8)
    for beta in breakpoints:
        av, cv = a[src], c[src] - beta
        s_lo, s_hi = bp[:-1] * av + cv, bp[1:] * av + cv
        tol = geo.affine_tol2(av, 0.0, cv, scale)
        pos = (s_lo > tol) | (s_hi > tol)
        cut = ((s_lo > tol) & (s_hi < -tol)) | ((s_lo < -tol) & (s_hi > tol))
        k = np.flatnonzero(cut)
        t_cut = bp[k] + s_lo[k] / (s_lo[k] - s_hi[k]) * (bp[k + 1] - bp[k])
        ok = (t_cut - bp[k] > len_eps) & (bp[k + 1] - t_cut > len_eps)
        # a sliver cut is not made: the segment stays whole on its longer side
        pos_len = np.where(s_lo[k] > 0, t_cut - bp[k], bp[k + 1] - t_cut)
        pos[k[~ok]] = (pos_len > (bp[k + 1] - bp[k]) / 2)[~ok]
        k, t_cut = k[ok], t_cut[ok]
        side = pos.astype(np.int8)
        if len(k):
            reps = np.ones(len(src), np.int64)
            reps[k] = 2
            parent = np.repeat(np.arange(len(src)), reps)
            first = geo.offsets_of(reps)[k]  # position of each cut segment's left child
            side = side[parent]
            side[first] = s_lo[k] > 0
            side[first + 1] = s_lo[k] < 0
            bp = np.insert(bp, k + 1, t_cut)
            src, pattern, piece = src[parent], pattern[parent], piece[parent]
        piece = piece + side
    pattern[:, j] = piece
    return bp, src, pattern


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
    breakpoints, slopes, intercepts = _pieces(act)
    scale = max(abs(lo), abs(hi), hi - lo)
    len_eps = geo.AREA_RTOL * (hi - lo)
    W0, b0 = layers[0]
    bp = np.array([lo, hi])
    table = ((direction @ W0)[None], (origin @ W0 + b0)[None])
    src = np.zeros(1, np.int64)
    tables, chain, patterns = [], [], []
    for depth in range(len(layers) - 1):
        a, c = table
        pattern = np.zeros((len(src), a.shape[1]), np.int8)
        for j in range(a.shape[1]):
            bp, src, pattern = _cut_segments(bp, src, pattern, a[:, j], c[:, j], j, breakpoints,
                                         scale, len_eps)
        tables.append(table)
        chain.append(src)
        patterns.append(pattern)
        sl, ic = slopes[pattern], intercepts[pattern]
        pa, pc = a[src] * sl, c[src] * sl + ic
        W, b = layers[depth + 1]
        table = (pa @ W, pc @ W + b)
        src = np.arange(len(src))
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
