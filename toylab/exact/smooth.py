"""Grid evaluation and refined level sets for networks of ANY activation, smooth included.

Smooth activations (tanh, gelu, softplus) are not piecewise-linear: their networks have no
linear regions, and their neurons' zero sets and decision boundaries are curves with no
finite description. This module gives the numerical counterpart of
:mod:`toylab.exact.partition` / :mod:`toylab.exact.boundary`, with its accuracy *stated*:

* :func:`grid_evaluate` evaluates every neuron of a layer on a regular grid (float64 forward
  pass, jitted JAX; exact float64 values at the grid points, nothing in between);
* :func:`level_set` traces a level set (a neuron's zero set, or the decision boundary where the
  top two logits tie) by marching squares on a coarse grid (``contourpy``, the contouring
  engine of matplotlib), then moves every contour vertex along its grid edge onto the true
  level set with a bracketed root finder (Chandrupatla's method,
  ``scipy.optimize.elementwise.find_root``) until ``|f - level| <= tol``. Vertices are then
  accurate to ``tol`` in function value; the straight segments *between* vertices are chords
  of the curve, and components smaller than a grid cell can be missed (marching squares
  only sees sign changes at grid nodes).

Which results are exact for which activations::

    result                                   piecewise-linear nets          smooth nets
                                             (relu, leaky_relu, abs,        (tanh, gelu,
                                              hard_tanh, linear)             softplus)
    ---------------------------------------  -----------------------------  -----------------------
    neuron formula (toylab.symbolic)         exact (sympy Max/Min/Abs)      exact (tanh/erf/log-exp)
    linear regions, per-region affine maps   exact (toylab.exact.partition) do not exist
    folds, decision boundary, class regions  exact segments/polygons        level_set: vertices to
                                             (toylab.exact.boundary)        |f - level| <= tol,
                                                                            chords in between
    grid values (grid_evaluate)              float64 at grid points         float64 at grid points
    expectations under the distribution      closed form with error bound   not provided
                                             (toylab.exact.population)

Everything here works on a 2-D input plane or a 2-D slice ``x = origin + u @ directions`` of
a higher-dimensional input (the same convention as :func:`toylab.exact.partition`); points and
domains are in slice coordinates ``u``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import contourpy
import jax
import numpy as np
from scipy.optimize import elementwise

from toylab.exact import geometry as geo
from toylab.exact.partition import slice_frame
from toylab.models import activations, as_layers, check_finite_layers, widths_of

DECISION = "decision"
"""The ``target`` of :func:`level_set` meaning the network's decision boundary."""

CHUNK = 4096
"""Points per call of the jitted forward pass. Every call is padded to this size, so one
network compiles once, whatever the grid size or the root finder's shrinking active set."""


# ----------------------------------------------------------------------------- evaluation


@partial(jax.jit, static_argnames=("activation",))
def _forward(layers, origin, directions, U, activation: str):
    """All layers' pre- and post-activations at slice points ``U (CHUNK, 2)``."""
    return activations(layers, origin + U @ directions, activation)


@dataclass(frozen=True)
class _Evaluator:
    """float64 evaluation of one layer of a network at slice points ``U (n, 2) -> (n, w)``."""

    layers: list
    activation: str
    origin: np.ndarray
    directions: np.ndarray
    layer: int
    pre: bool

    def __call__(self, U) -> np.ndarray:
        U = np.asarray(U, np.float64).reshape(-1, 2)
        n = len(U)
        padded = np.zeros((-(-max(n, 1) // CHUNK) * CHUNK, 2))
        padded[:n] = U
        chunks = []
        with jax.enable_x64(True):
            for s in range(0, len(padded), CHUNK):
                acts = _forward(self.layers, self.origin, self.directions,
                                padded[s : s + CHUNK], self.activation)
                chunks.append(np.asarray((acts.pre if self.pre else acts.post)[self.layer]))
        return np.concatenate(chunks)[:n]


def _check_layer(layer, n_layers: int) -> int:
    """Layer index in ``0..n_layers-1`` (None: the logits; negative counts from the end)."""
    if layer is None:
        return n_layers - 1
    if not isinstance(layer, (int, np.integer)) or not -n_layers <= layer < n_layers:
        raise ValueError(
            f"layer={layer!r} is out of range; hidden layers are 0..{n_layers - 2} and "
            f"{n_layers - 1} (or None) is the logits"
        )
    return int(layer) % n_layers


def _evaluator(net, activation, layer, pre, origin, directions) -> _Evaluator:
    layers, name = as_layers(net, activation, dtype=np.float64)
    check_finite_layers(layers)
    d = widths_of(layers)[0]
    origin, directions = slice_frame(d, origin, directions)
    return _Evaluator(layers, name, origin, directions, _check_layer(layer, len(layers)),
                      bool(pre))


# ----------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class GridResult:
    """A layer's values on a regular grid over a domain's bounding box.

    Attributes:
        xs: ``(nx,)`` first slice coordinate of the grid columns.
        ys: ``(ny,)`` second slice coordinate of the grid rows.
        values: ``(ny, nx, width)``: ``values[j, i]`` is the layer at ``(xs[i], ys[j])``.
        layer: the layer evaluated (the logits are the last).
        pre: pre-activations (True) or post-activations (False).
    """

    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    layer: int
    pre: bool

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(xlo, xhi, ylo, yhi)`` for ``imshow(..., origin="lower", extent=...)``."""
        return (self.xs[0], self.xs[-1], self.ys[0], self.ys[-1])

    @property
    def points(self) -> np.ndarray:
        """``(ny, nx, 2)`` the grid points."""
        return np.stack(np.meshgrid(self.xs, self.ys), -1)


def _grid_axes(domain, resolution) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates ``xs (nx,), ys (ny,)`` spanning the bounding box of ``domain``."""
    poly = geo.as_domain(domain)
    n = np.broadcast_to(np.asarray(resolution), (2,))
    if not (np.issubdtype(n.dtype, np.integer) and np.all(n >= 2)):
        raise ValueError(
            f"resolution={resolution!r} must be an int >= 2 or a pair (nx, ny) of them, e.g. 256"
        )
    lo, hi = poly.min(0), poly.max(0)
    return np.linspace(lo[0], hi[0], int(n[0])), np.linspace(lo[1], hi[1], int(n[1]))


def grid_evaluate(net, domain=None, *, activation: str | None = None,
                  resolution: int | tuple[int, int] = 256, layer: int | None = None,
                  pre: bool = False, origin=None, directions=None) -> GridResult:
    """Evaluate a layer of the network on a regular grid (float64 forward pass, any activation).

    Args:
        net: an :class:`~toylab.models.MLP` or a layer list ``[(W (in, out), b (out,)), ...]``.
        domain: box ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``, convex polygon ``(m, 2)`` (its
            bounding box is gridded), a distribution (its ``.domain``) or None
            (:data:`toylab.exact.geometry.DEFAULT_BOX`); in slice coordinates.
        activation: required with a layer list.
        resolution: grid points per axis, or ``(nx, ny)``.
        layer: hidden layer index, or None for the logits.
        pre: pre-activations instead of post-activations.
        origin, directions: the slice ``x = origin + u @ directions`` (required for d != 2).
    Returns:
        :class:`GridResult` with ``values (ny, nx, width_layer)``.
    """
    f = _evaluator(net, activation, layer, pre, origin, directions)
    xs, ys = _grid_axes(domain, resolution)
    values = f(_grid_points(xs, ys)).reshape(len(ys), len(xs), -1)
    return GridResult(xs, ys, values, f.layer, f.pre)


# ----------------------------------------------------------------------------- level sets


def decision_margins(logits: np.ndarray) -> np.ndarray:
    """Per class, ``logit_c - max_{k != c} logit_k``: ``(..., C) -> (..., C)``.

    Positive exactly where class ``c`` wins, continuous, and zero on the boundary of class
    ``c``'s region, so the decision boundary is the union of the zero sets. A single logit
    (``C = 1``, a binary classifier thresholded at 0) is returned as is.
    """
    logits = np.asarray(logits, np.float64)
    if logits.shape[-1] == 1:
        return logits
    top2 = np.sort(logits, axis=-1)[..., -2:]
    runner_up = np.where(logits == top2[..., 1:], top2[..., :1], top2[..., 1:])
    return logits - runner_up


def _neighbour_class(logits: np.ndarray, c: int) -> np.ndarray:
    """``argmax_{k != c} logit_k``, ``(n, C) -> (n,)``."""
    others = logits.copy()
    others[:, c] = -np.inf
    return others.argmax(-1)


@dataclass(frozen=True)
class LevelSet:
    """A level set traced on a grid and refined onto the true curve.

    Attributes:
        lines: polylines ``(m_i, 2)`` in slice coordinates; every vertex satisfies
            ``|f - level| <= tol`` (see ``residual``); segments between vertices are chords.
        residual: achieved ``max |f(vertex) - level|`` over all vertices (for the decision
            boundary ``f`` is the gap between the top two logits), recomputed after refinement;
            0.0 when there are no vertices.
        tol: the requested tolerance; ``converged`` is ``residual <= tol``.
        level: the level traced.
        target: ``(layer, index)``, ``"decision"``, or None (:func:`trace_level_set`).
        spacing: ``(dx, dy)`` of the coarse grid (chords deviate from the curve by at most
            about a cell; features smaller than a cell may be missed).
    """

    lines: tuple
    residual: float
    tol: float
    level: float
    target: object
    spacing: tuple[float, float]

    @property
    def converged(self) -> bool:
        return self.residual <= self.tol

    @property
    def points(self) -> np.ndarray:
        """``(n, 2)`` all vertices."""
        return np.concatenate([np.zeros((0, 2))] + list(self.lines))

    @property
    def segments(self) -> np.ndarray:
        """``(s, 2, 2)`` consecutive vertex pairs of every polyline (the format of
        :func:`toylab.exact.boundary.decision_boundary`)."""
        segs = [np.stack([q[:-1], q[1:]], 1) for q in self.lines]
        return np.concatenate([np.zeros((0, 2, 2))] + segs)


def _edge_brackets(line: np.ndarray, xs: np.ndarray, ys: np.ndarray):
    """The grid edge each marching-squares vertex lies on.

    ``line (m, 2)`` is in grid-index coordinates, where every vertex has one integer
    coordinate (up to rounding: the one nearer an integer). Returns node index pairs ``(m, 2, 2)`` ``[[col0, row0], [col1, row1]]``.
    """
    ix, iy = line[:, 0], line[:, 1]
    horizontal = np.abs(iy - np.round(iy)) <= np.abs(ix - np.round(ix))  # rounding noise
    col0 = np.where(horizontal, np.minimum(np.floor(ix), len(xs) - 2), np.round(ix))
    row0 = np.where(horizontal, np.round(iy), np.minimum(np.floor(iy), len(ys) - 2))
    lo = np.stack([col0, row0], -1).astype(np.int64)
    hi = lo + np.stack([horizontal, ~horizontal], -1)
    return np.stack([lo, hi], 1)


def _refine(g: Callable, nodes: np.ndarray, xs, ys, tol: float) -> np.ndarray:
    """Move each vertex onto ``g = 0`` along its grid edge (bracketed root finding).

    Args:
        g: ``U (n, 2) -> (n,)`` continuous.
        nodes: ``(m, 2, 2)`` grid-node index pairs (see :func:`_edge_brackets`).
    Returns:
        ``(m, 2)`` refined points; vertices whose edge shows no sign change (a grid node with
        ``g`` exactly 0) stay at the node with the smaller ``|g|``.
    """
    a = np.stack([xs[nodes[:, 0, 0]], ys[nodes[:, 0, 1]]], -1)
    b = np.stack([xs[nodes[:, 1, 0]], ys[nodes[:, 1, 1]]], -1)
    ga, gb = g(a), g(b)
    out = np.where((np.abs(ga) <= np.abs(gb))[:, None], a, b)
    bracket = np.sign(ga) * np.sign(gb) < 0
    if bracket.any():
        a0, step = a[bracket], b[bracket] - a[bracket]

        def along(t, ax, ay, sx, sy):
            return g(np.stack([ax + t * sx, ay + t * sy], -1).reshape(-1, 2)).reshape(t.shape)

        res = elementwise.find_root(along, (np.zeros(len(a0)), np.ones(len(a0))),
                                    args=(a0[:, 0], a0[:, 1], step[:, 0], step[:, 1]),
                                    tolerances=dict(fatol=tol))
        out[bracket] = a0 + res.x[:, None] * step
    return out


def _contour(Z: np.ndarray, level: float) -> list[np.ndarray]:
    """Marching-squares polylines of ``Z (ny, nx)`` at ``level``, in grid-index coordinates."""
    gen = contourpy.contour_generator(z=Z, line_type=contourpy.LineType.Separate)
    return [np.asarray(q, np.float64) for q in gen.lines(level)]


def _runs(line: np.ndarray, keep: np.ndarray) -> list[np.ndarray]:
    """Split polyline ``line (m, 2)`` into maximal runs of kept segments (``keep (m-1,)``)."""
    out, start = [], None
    for s, k in enumerate(np.append(keep, False)):
        if k and start is None:
            start = s
        elif not k and start is not None:
            out.append(line[start : s + 1])
            start = None
    return out


def _traced(Z: np.ndarray, g: Callable, xs, ys, level: float, tol: float) -> list[np.ndarray]:
    """Marching-squares polylines of grid values ``Z (ny, nx)`` at ``level``, every vertex
    refined onto ``g = level`` (``g: U (n, 2) -> (n,)``, the function ``Z`` samples)."""
    return [_refine(lambda U: g(U) - level, _edge_brackets(raw, xs, ys), xs, ys, tol)
            for raw in _contour(Z, level)]


def _check_tol(tol: float) -> float:
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol={tol!r} must be a positive finite tolerance, e.g. 1e-8")
    return float(tol)


def trace_level_set(fn: Callable, domain=None, *, level: float = 0.0, tol: float = 1e-8,
                    resolution: int | tuple[int, int] = 128) -> LevelSet:
    """The level set ``{u : fn(u) = level}`` of any continuous function of the plane.

    NUMERICAL, with stated tolerance (see :func:`level_set`, which applies this to a neuron).

    Args:
        fn: vectorised ``U (n, 2) -> (n,)`` float64, continuous.
        domain: box ``(2, 2)``, convex polygon (its bounding box is gridded), an object with a
            ``.domain`` box, or None (the default box).
        level: the level; tol: tolerance on ``|fn - level|`` at the vertices.
        resolution: coarse grid points per axis, or ``(nx, ny)``.
    Returns:
        :class:`LevelSet` with ``target=None``.
    """
    tol = _check_tol(tol)
    if not np.isfinite(level):
        raise ValueError(f"level={level!r} must be finite")
    xs, ys = _grid_axes(domain, resolution)
    Z = np.asarray(fn(_grid_points(xs, ys)), np.float64).reshape(len(ys), len(xs))
    lines = _traced(Z, fn, xs, ys, float(level), tol)
    residual = float(np.max(np.abs(fn(np.concatenate(lines)) - level))) if lines else 0.0
    return LevelSet(tuple(lines), residual, tol, float(level), None, _spacing(xs, ys))


def trace_decision_boundary(scores: Callable, domain=None, *, tol: float = 1e-8,
                            resolution: int | tuple[int, int] = 128) -> LevelSet:
    """Where the two largest of ``C`` continuous scores tie (for ``C = 1``: where it is 0).

    Traced as the zero sets of the class margins (:func:`decision_margins`); with ``C > 2`` a
    boundary shared by classes ``c < k`` is kept once, from class ``c``'s margin (decided at
    each segment's midpoint). Ties over a 2-D set (identical scores) are not curves and are
    not reported. NUMERICAL, with stated tolerance (see :func:`level_set`).

    Args:
        scores: vectorised ``U (n, 2) -> (n, C)`` float64 (network logits, or a distribution's
            ``class_log_joint`` for the Bayes boundary).
        domain, tol, resolution: as :func:`trace_level_set`; ``residual`` is the largest gap
            between the top two scores at a vertex.
    Returns:
        :class:`LevelSet` with ``target="decision"``.
    """
    tol = _check_tol(tol)
    xs, ys = _grid_axes(domain, resolution)
    margins = decision_margins(scores(_grid_points(xs, ys))).reshape(len(ys), len(xs), -1)
    n_classes = margins.shape[-1]
    lines = []
    for c in range(1 if n_classes <= 2 else n_classes):  # 2 classes: margin 1 = -margin 0
        traced = _traced(margins[..., c], lambda U, c=c: decision_margins(scores(U))[:, c],
                         xs, ys, 0.0, tol)
        if n_classes <= 2:
            lines += traced
            continue
        for pts in traced:
            mid = 0.5 * (pts[:-1] + pts[1:])
            lines += _runs(pts, _neighbour_class(scores(mid), c) > c)
    residual = 0.0
    if lines:
        values = np.asarray(scores(np.concatenate(lines)), np.float64)
        top2 = np.sort(values, -1)[:, -2:]
        gap = np.abs(values[:, 0]) if n_classes == 1 else top2[:, 1] - top2[:, 0]
        residual = float(np.max(gap))
    return LevelSet(tuple(lines), residual, tol, 0.0, DECISION, _spacing(xs, ys))


def _grid_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``(ny * nx, 2)`` grid points, row after row."""
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


def _spacing(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    return float(xs[1] - xs[0]), float(ys[1] - ys[0])


def _check_target(target, n_layers: int, widths) -> object:
    if isinstance(target, str):
        if target != DECISION:
            raise ValueError(f"target={target!r} is unknown; pass {DECISION!r} or a neuron "
                             "(layer, index)")
        return DECISION
    try:
        layer, index = (int(v) for v in target)
    except (TypeError, ValueError):
        raise TypeError(f"target={target!r} must be {DECISION!r} or a (layer, index) pair") from None
    layer = _check_layer(layer, n_layers)
    if not 0 <= index < widths[layer + 1]:
        raise ValueError(f"target={tuple(target)!r}: layer {layer} has {widths[layer + 1]} "
                         "neurons; pick an index below that")
    return (layer, index)


def level_set(net, target, domain=None, *, activation: str | None = None, level: float = 0.0,
              tol: float = 1e-8, resolution: int | tuple[int, int] = 128, pre: bool = True,
              origin=None, directions=None) -> LevelSet:
    """Trace a neuron's level set or the decision boundary and refine it to ``tol``.

    NUMERICAL, with stated tolerance: every returned vertex satisfies ``|f - level| <= tol``
    (reported as ``residual``, recomputed by a fresh float64 forward pass); the polyline
    between vertices is a chord, and curve pieces that never cross a grid edge are missed.
    For piecewise-linear nets the exact answer is :func:`toylab.exact.boundary.folds` /
    :func:`~toylab.exact.boundary.decision_boundary` on :func:`toylab.exact.partition`.

    Method: marching squares on a ``resolution`` grid (``contourpy``), then Chandrupatla's
    bracketed root finder (``scipy.optimize.elementwise.find_root``) along each vertex's grid
    edge, where the sign change brackets the curve.

    Args:
        net: an MLP or a layer list.
        target: ``(layer, index)`` of a neuron (negative layer counts from the logits), or
            ``"decision"``: the set where the top two logits tie (for a single logit, where
            it is 0); see :func:`trace_decision_boundary`.
        domain: as :func:`grid_evaluate` (its bounding box is gridded).
        activation: required with a layer list.
        level: the level of the neuron's function (ignored for ``"decision"``).
        tol: tolerance on ``|f - level|`` at the vertices.
        resolution: coarse grid points per axis, or ``(nx, ny)``.
        pre: for a hidden neuron, trace its pre-activation (default; its zero set is where it
            switches on, the smooth analogue of a ReLU fold) or, with ``pre=False``, its
            post-activation.
        origin, directions: the slice ``x = origin + u @ directions`` (required for d != 2).
    Returns:
        :class:`LevelSet`.
    """
    layers, name = as_layers(net, activation, dtype=np.float64)
    target = _check_target(target, len(layers), widths_of(layers))
    if target == DECISION:
        f = _evaluator(layers, name, None, False, origin, directions)
        return trace_decision_boundary(f, domain, tol=tol, resolution=resolution)
    layer, index = target
    f = _evaluator(layers, name, layer, pre, origin, directions)
    traced = trace_level_set(lambda U: f(U)[:, index], domain, level=level, tol=tol,
                             resolution=resolution)
    return replace(traced, target=target)
