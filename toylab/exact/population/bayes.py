"""The Bayes decision boundary as segments, and its Hausdorff distance to a network's.

:func:`bayes_segments` gives the Bayes boundary between two classes of a 2-D Gaussian mixture
inside a box: exact (clipped lines) when the log-odds involved are affine, else traced by
marching squares with Newton projection and a chord-sagitta check.
:func:`hausdorff_to_bayes` compares it with the exact learned decision boundary
(:func:`toylab.exact.boundary.decision_boundary`) by branch and bound on unions of segments.
Point/segment geometry is :mod:`toylab.exact.geometry`'s.
"""

from __future__ import annotations

from typing import NamedTuple

import contourpy
import numpy as np
import sympy
from scipy.special import logsumexp

from toylab.exact import geometry as geo
from toylab.exact.boundary import decision_boundary
from toylab.exact.partition import Partition
from toylab.exact.population.moments import as_population


class BoundaryDistance(NamedTuple):
    """Hausdorff distance between the learned and the Bayes decision boundary in a box.

    Attributes:
        value: ``max(learned_to_bayes, bayes_to_learned)``.
        tolerance: ``|value - true distance| <= tolerance`` (for a traced, curved Bayes
            boundary this relies on the chord-sagitta check, see :func:`hausdorff_to_bayes`).
        learned_to_bayes: ``sup_{x on learned} dist(x, Bayes)``.
        bayes_to_learned: ``sup_{x on Bayes} dist(x, learned)``.
        bayes_exact: True when the Bayes boundary is a line (computed exactly), False when
            it was traced numerically.
        box: ``(2, 2)`` the box both boundaries were restricted to.
    """

    value: float
    tolerance: float
    learned_to_bayes: float
    bayes_to_learned: float
    bayes_exact: bool
    box: np.ndarray


def _interval_bounds(p: np.ndarray, q: np.ndarray, T: np.ndarray, *,
                     chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``max_{x in [p, q]} dist(x, T)`` for sub-segments ``[p_n, q_n]``.

    Lower: ``max(f(p), f(q))``. Upper: ``min_b max(d_b(p), d_b(q))``, valid because the
    distance to one segment ``b`` is convex along a line. Computed in chunks of about
    ``chunk`` point-segment pairs.
    """
    step = max(1, chunk // len(T))
    lower, upper = [], []
    for s in range(0, len(p), step):
        Dp = geo.point_segment_distances(p[s:s + step], T)
        Dq = geo.point_segment_distances(q[s:s + step], T)
        lower.append(np.maximum(Dp.min(1), Dq.min(1)))
        upper.append(np.maximum(Dp, Dq).min(1))
    return np.concatenate(lower), np.concatenate(upper)


def _directed_hausdorff(S: np.ndarray, T: np.ndarray, tol: float) -> float:
    """``sup_{x in S} dist(x, T)`` for unions of segments ``S, T (n, 2, 2)``, to within ``tol``
    (the returned value is attained, the true supremum is at most ``tol`` larger).

    Branch and bound (:func:`_interval_bounds`): sub-segments of ``S`` whose upper bound
    exceeds the best value found by more than ``tol`` are halved until none is left.
    """
    if len(S) == 0:
        return 0.0
    if len(T) == 0:
        return float("inf")
    p, q = S[:, 0], S[:, 1]
    best = 0.0
    while len(p):
        lower, upper = _interval_bounds(p, q, T)
        best = max(best, float(lower.max()))
        live = upper > best + tol
        p, q = p[live], q[live]
        m = 0.5 * (p + q)
        p, q = np.concatenate([p, m]), np.concatenate([m, q])
    return best


def _linear_coefficients(expr, symbols) -> np.ndarray | None:
    """``(g0, g1, g2)`` with ``expr = g0 + g1 x0 + g2 x1`` if ``expr`` is affine, else None."""
    if not expr.is_polynomial(*symbols) or sympy.Poly(expr, *symbols).total_degree() > 1:
        return None
    zero = dict.fromkeys(symbols, 0)
    return np.array([float(expr.subs(zero))] + [float(expr.diff(s)) for s in symbols])


def _line_in_box(g: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The line ``g0 + g[1:] . x = 0`` as one segment ``(1, 2, 2)`` long enough to span ``box``
    (empty ``(0, 2, 2)`` for a constant ``g``)."""
    n = g[1:]
    if not np.any(n):
        return np.zeros((0, 2, 2))
    foot = -g[0] * n / (n @ n)
    along = np.array([-n[1], n[0]]) / np.linalg.norm(n)
    reach = np.linalg.norm(foot - box.mean(1)) + np.linalg.norm(box[:, 1] - box[:, 0])
    return np.array([[foot - reach * along, foot + reach * along]])


def _exact_bayes_segments(dist, i: int, j: int, box: np.ndarray) -> np.ndarray | None:
    """The Bayes ``i``/``j`` boundary in ``box`` when every log-odds involved is affine: the
    line ``f_ij = 0`` clipped to the box and to ``f_ik >= 0`` for the other classes ``k``
    (where ``i`` and ``j`` beat them). None when some log-odds is not affine."""
    x = sympy.symbols("x0:2", real=True)
    g = _linear_coefficients(dist.bayes_boundary(i, j, symbols=x), x)
    others = [_linear_coefficients(dist.bayes_boundary(i, k, symbols=x), x)
              for k in range(dist.n_classes) if k not in (i, j)]
    if g is None or any(o is None for o in others):
        return None
    normals, offsets = geo.box_halfplanes(box)
    if others:
        normals = np.vstack([normals] + [o[None, 1:] for o in others])
        offsets = np.concatenate([offsets, [o[0] for o in others]])
    return geo.clip_segments(_line_in_box(g, box), normals, offsets)


def _log_odds(dist, i: int, j: int, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f = log(pi_i p_i) - log(pi_j p_j)`` ``(n,)`` and its gradient ``(n, 2)`` at ``X (n, 2)``.

    ``grad log(pi_c p_c) = sum_{k in c} r_k Sigma_k^{-1} (mu_k - x)`` with within-class
    responsibilities ``r_k = w_k N_k(x) / (pi_c p_c(x))`` (log-sum-exp, stable in the tails).
    """
    comp = dist.component_log_density(X)  # (n, K)
    labels = np.asarray(dist.labels)
    pull = np.einsum("kij,nkj->nki", np.linalg.inv(dist.covs), dist.means[None] - X[:, None])
    out = []
    for c in (i, j):
        own = comp[:, labels == c]
        joint = logsumexp(own, axis=1)
        with np.errstate(invalid="ignore"):
            resp = np.nan_to_num(np.exp(own - joint[:, None]))
        out.append((joint, np.einsum("nk,nki->ni", resp, pull[:, labels == c])))
    (fi, gi), (fj, gj) = out
    return fi - fj, gi - gj


def _project(dist, i, j, X, edge_dir, *, iters: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Newton-project points onto ``f_ij = 0``: along the gradient, or along ``edge_dir (n, 2)``
    where it is non-zero (box-boundary points stay on their edge).

    Returns:
        projected points ``(n, 2)`` and the residual distance estimates ``|f| / |grad f|``.
    """
    X = X.copy()
    active = np.arange(len(X))
    for _ in range(iters):
        if len(active) == 0:
            break
        Xa, ea = X[active], edge_dir[active]
        f, g = _log_odds(dist, i, j, Xa)
        gn = np.linalg.norm(g, axis=1)
        t = np.where(np.any(ea != 0, 1)[:, None], ea, g / np.maximum(gn, 1e-300)[:, None])
        slope = np.sum(g * t, 1)
        step = np.where(slope != 0, f / np.where(slope != 0, slope, 1.0), 0.0)
        X[active] = Xa - step[:, None] * t
        active = active[np.abs(step) > 1e-13 * (1 + np.abs(Xa).max(1))]
    f, g = _log_odds(dist, i, j, X)
    return X, np.abs(f) / np.maximum(np.linalg.norm(g, axis=1), 1e-300)


def _edge_directions(X: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``(n, 2)`` unit tangent of the box edge each point lies on, 0 for interior points."""
    scale = np.abs(box).max()
    on_x = np.any(np.abs(X[:, :1] - box[0][None]) <= 1e-12 * scale, 1)  # vertical edges
    on_y = np.any(np.abs(X[:, 1:] - box[1][None]) <= 1e-12 * scale, 1)
    return np.where(on_x[:, None], [0.0, 1.0], np.where(on_y[:, None], [1.0, 0.0], 0.0))


class BayesSegments(NamedTuple):
    """The Bayes boundary between two classes inside a box.

    Attributes:
        segments: ``(s, 2, 2)``.
        residual: largest vertex distance estimate to the true curve (0 when exact).
        exact: whether every log-odds involved is affine (the segments are then exact).
    """

    segments: np.ndarray
    residual: float
    exact: bool


def bayes_segments(dist, i: int = 0, j: int = 1, box=None, *, tol: float = 1e-8,
                   grid: int = 257) -> BayesSegments:
    """The Bayes ``i``/``j`` decision boundary in ``box`` (default ``dist.domain``) as segments:
    exact (clipped lines) when the log-odds are affine, else traced by marching squares with
    Newton projection to within ``tol`` (see :func:`hausdorff_to_bayes` for the method)."""
    box = np.asarray(dist.domain if box is None else box, np.float64)
    segments = _exact_bayes_segments(dist, i, j, box)
    if segments is not None:
        return BayesSegments(segments, 0.0, True)
    segments, residual = _traced_bayes_segments(dist, i, j, box, tol, grid)
    return BayesSegments(segments, residual, False)


def _traced_bayes_segments(dist, i, j, box, tol, grid) -> tuple[np.ndarray, float]:
    """Polyline approximation ``(s, 2, 2)`` of the curved Bayes ``i``/``j`` boundary in ``box``
    and its residual (max vertex distance estimate to the curve, at most ~1e-12 when Newton
    converged). See :func:`hausdorff_to_bayes` for the method."""
    xs, ys = np.linspace(*box[0], grid), np.linspace(*box[1], grid)
    XX, YY = np.meshgrid(xs, ys)
    F = _log_odds(dist, i, j, np.stack([XX.ravel(), YY.ravel()], 1))[0].reshape(XX.shape)
    lines = contourpy.contour_generator(xs, ys, F).lines(0.0)
    residual = 0.0
    polylines = []
    for line in lines:
        pts, res = _project(dist, i, j, line, _edge_directions(line, box))
        residual = max(residual, float(res.max(initial=0.0)))
        while len(pts) > 1:  # insert projected chord midpoints until every sagitta <= tol
            mid = 0.5 * (pts[:-1] + pts[1:])
            on, res = _project(dist, i, j, mid, np.zeros_like(mid))
            bad = np.linalg.norm(on - mid, axis=1) > tol
            if not bad.any():
                break
            residual = max(residual, float(res[bad].max()))
            order = np.argsort(np.concatenate([np.arange(len(pts)), np.flatnonzero(bad) + 0.5]))
            pts = np.concatenate([pts, on[bad]])[order]
        polylines.append(np.stack([pts[:-1], pts[1:]], 1))
    segs = np.concatenate(polylines) if polylines else np.zeros((0, 2, 2))
    segs = geo.clip_segments(segs, *geo.box_halfplanes(box))
    return _restrict_to_top_two(dist, i, j, segs), residual


def _restrict_to_top_two(dist, i, j, segs: np.ndarray, *, iters: int = 60) -> np.ndarray:
    """Keep the parts of ``segs`` where classes ``i``, ``j`` beat every other class (margin
    ``log(pi_i p_i) - max_k log(pi_k p_k) >= 0``); cut points by bisection along the chord."""
    others = [k for k in range(dist.n_classes) if k not in (i, j)]
    if not others or len(segs) == 0:
        return segs

    def margin(X):
        L = dist.class_log_joint(X)
        return np.minimum(L[:, i], L[:, j]) - L[:, others].max(1)

    a, b = segs[:, 0].copy(), segs[:, 1].copy()
    ga, gb = margin(a) >= 0, margin(b) >= 0
    mixed = ga != gb
    lo, hi = np.where(ga[:, None], a, b)[mixed], np.where(ga[:, None], b, a)[mixed]
    for _ in range(iters):  # lo inside, hi outside
        mid = 0.5 * (lo + hi)
        inside = margin(mid) >= 0
        lo, hi = np.where(inside[:, None], mid, lo), np.where(inside[:, None], hi, mid)
    a[mixed & ~ga], b[mixed & ~gb] = lo[~ga[mixed]], lo[~gb[mixed]]
    return np.stack([a, b], 1)[ga | gb]


def hausdorff_to_bayes(p: Partition, dist=None, i: int = 0, j: int = 1, *, box=None,
                       tol: float = 1e-8, grid: int = 257) -> BoundaryDistance:
    """Hausdorff distance between the network's and the Bayes decision boundary of classes
    ``i`` and ``j`` inside ``box``.

    Learned boundary: the exact segments of :func:`~toylab.exact.boundary.decision_boundary`
    where logits ``i`` and ``j`` tie as the two largest. Bayes boundary: the zero set of
    ``f = log(pi_i p_i) - log(pi_j p_j)`` (``dist.bayes_boundary``) where ``i`` and ``j`` beat
    the other classes.

    * Affine log-odds (shared covariances, one component per class): exact, a line clipped to
      the box and to the half-planes ``f_ik >= 0``.
    * Otherwise traced: marching squares (``contourpy``) on a ``grid x grid`` lattice, every
      vertex Newton-projected onto ``f = 0`` (along the box edge for boundary points; residual
      ``|f|/|grad f|`` about 1e-13), then projected chord midpoints inserted until no chord's
      midpoint lies farther than ``tol`` from the curve. This sagitta check is a numerical
      estimate, not a proof, and boundary pieces smaller than a grid cell may be missed.

    The distances between the two unions of segments are computed to within ``tol`` by branch
    and bound (:func:`_directed_hausdorff`).

    Args:
        p: partition of a 2-input network (finite weights).
        dist: 2-D Gaussian mixture; default: that of a :class:`PopulationPartition` ``p``.
        i, j: distinct classes. box: ``(2, 2)``, default ``dist.domain``.
        tol: accuracy target. grid: marching-squares resolution for curved boundaries.
    Returns:
        :class:`BoundaryDistance`; ``inf`` when exactly one of the two boundaries is empty in
        the box, 0 when both are.
    """
    p = as_population(p, dist)
    dist = p.dist
    box = np.asarray(dist.domain if box is None else box, np.float64)
    if box.shape != (2, 2) or not np.all(box[:, 0] < box[:, 1]):
        raise ValueError(f"box={box.tolist()} must be [[xlo, xhi], [ylo, yhi]] with lo < hi")
    if not tol > 0:
        raise ValueError(f"tol={tol!r} must be positive, e.g. 1e-8")
    segs, pairs = decision_boundary(p, classes=True)
    learned = geo.clip_segments(segs[(pairs[:, 0] == min(i, j)) & (pairs[:, 1] == max(i, j))],
                             *geo.box_halfplanes(box))
    bayes, residual, exact = bayes_segments(dist, i, j, box, tol=tol, grid=grid)
    h1 = _directed_hausdorff(learned, bayes, tol)
    h2 = _directed_hausdorff(bayes, learned, tol)
    if len(learned) == 0 and len(bayes) == 0:
        h1 = h2 = 0.0
    tolerance = tol if exact else 2 * tol + residual
    return BoundaryDistance(max(h1, h2), tolerance, h1, h2, exact, box)
