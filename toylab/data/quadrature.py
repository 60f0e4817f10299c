"""Bayes error of a 1-D or 2-D Gaussian mixture by deterministic quadrature.

``err = integral (p(x) - max_c pi_c p_c(x)) dx``. Along each vertical line ``x0 = s`` (the
real line in 1-D) the Bayes class is piecewise constant, and on each piece the integral of the
other classes' densities is a difference of normal CDFs, so the inner integral is exact once
the class-change points are known (:func:`line_pieces`). The outer integral over ``x0`` is split
where the sequence of Bayes classes along the line changes and at the vertical tangencies of
the boundary (:func:`split_points`); on each piece the integrand is analytic and tanh-sinh
quadrature (Takahasi & Mori 1974; scipy ``tanhsinh``) integrates it.

Two ways to find the class changes along a line:

* **Exact** (every class has at most one component of positive weight): along a line each
  class's ``log(pi_c p_c)`` is a quadratic in ``t``, so every change is a root of a pairwise
  difference, solved in closed form; the vertical tangencies are the roots of each pair's
  discriminant, a quadratic in ``s``, and the triple junctions the roots of the resultant of
  two pairs, a quartic in ``s``. No class change and no split point is missed inside the box.
* **Grid scan** (classes with several components, e.g. XOR): the Bayes class on a grid of
  ``GRID_CELLS_PER_SD`` cells per smallest conditional standard deviation, plus the interior
  maxima of the pairwise log-odds where a class may win inside one cell, each change refined
  by a bracketing root finder; tangencies come from 2-D root solves seeded on the scan
  lattice. Features smaller than one cell that the log-odds' slopes do not reveal are missed.

Everything is NumPy float64.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.ndimage
import scipy.special
from scipy.integrate import tanhsinh
from scipy.optimize import elementwise, root

if TYPE_CHECKING:  # the mixture module imports this one
    from toylab.data.mixture import GaussianMixture

QUADRATURE_MASS_OUTSIDE = 1e-12
"""Bayes-error quadrature integrates over ``covering_box(QUADRATURE_MASS_OUTSIDE)``."""

QUADRATURE_ATOL = 1e-11
"""Absolute tolerance asked of each outer tanh-sinh integral (per topology piece)."""

QUADRATURE_MINLEVEL = 5
"""tanh-sinh starts comparing levels only from this level (``2^5`` nodes per unit step), so
its error estimate never rests on a handful of nodes that straddle the mass."""

GRID_CELLS_PER_SD = 16
"""Argmax-scan resolution along a line: cells per smallest conditional standard deviation."""

MAX_GRID_POINTS = 50_000
"""Largest argmax-scan grid per line; beyond it the mixture is too anisotropic for quadrature."""

LINE_CHUNK_ELEMENTS = 2**21
"""Lines are processed in chunks of at most this many (point x component) evaluations."""

SPLIT_SCAN_LINES = 257
"""Number of vertical lines scanned for changes of the Bayes-class sequence (outer split points)."""

SPLIT_XTOL = 1e-12
"""Bisection tolerance (relative to the box width) for the outer split points."""

JUNCTION_CELL_NODES = 8
"""Grid scan: a cell whose two ends have different Bayes classes is subdivided by this many
interior nodes (a third class winning inside the cell, near a junction, is then missed only
if its interval is shorter than a ninth of a cell)."""

TANGENCY_SLOPE_RTOL = 1e-12
"""A class pair's log-odds slope along a line counts as zero (no sign) below this fraction of
the two classes' own slopes: rounding noise of an identically vertical boundary seeds no
tangency solve."""

TANGENCY_RESIDUAL = 1e-10
"""A vertical-tangency root solve is accepted when ``|f_ab|`` (log-odds) and ``|df_ab/dx1|``
(per unit length) are both below this."""

TOP_PAIR_RTOL = 1e-9
"""An exact tangency point is kept when its two classes tie for the top there within this
relative tolerance of ``log(pi_c p_c)`` (other tangencies cannot change the Bayes class)."""


class Pieces(NamedTuple):
    """The Bayes class along lines: ``edges (m, P + 1)`` sorted from ``lo`` to ``hi`` and
    ``classes (m, P)``, the Bayes class on ``[edges[:, i], edges[:, i + 1]]`` (pieces may
    have zero width)."""

    edges: np.ndarray
    classes: np.ndarray


def _norm_logpdf(x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Elementwise ``log N(x; mean, sd^2)`` (scipy.stats' generic machinery costs ~100x more in
    the quadrature's inner loops; tests compare against scipy.stats)."""
    return -0.5 * ((x - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)


def _gauss_mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``Phi(hi) - Phi(lo)`` elementwise (``lo <= hi``), using the upper tail when ``lo > 0``."""
    return np.where(
        lo > 0, scipy.special.ndtr(-lo) - scipy.special.ndtr(-hi),
        scipy.special.ndtr(hi) - scipy.special.ndtr(lo),
    )


def group_logsumexp(comp: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class log-sum-exp of component log terms.

    Args:
        comp: ``(..., K)`` log terms ``log(w_k N_k)``.
        labels: ``(K,)`` class of each component.
        n_classes: ``C``.

    Returns:
        ``(..., C)``: ``logsumexp_{k: labels_k = c} comp[..., k]``.
    """
    return np.stack([np.logaddexp.reduce(comp[..., labels == c], axis=-1)
                     for c in range(n_classes)], axis=-1)


def exact_lines(gm: GaussianMixture) -> bool:
    """Whether every class has at most one component of positive weight, so that class changes
    along lines are roots of quadratics (the exact method of this module)."""
    live = gm.labels[gm.weights > 0]
    return bool(np.all(np.bincount(live, minlength=gm.n_classes) <= 1))


# --------------------------------------------------------------------------------------------
# the mixture along lines
# --------------------------------------------------------------------------------------------


def _line_restriction(gm: GaussianMixture, s: np.ndarray):
    """Components restricted to the vertical lines ``x0 = s`` (2-D) or to the real line (1-D).

    In 2-D, ``w_k N((s, t); m_k, S_k) = exp(log_pref_k(s)) N(t; mu_k(s), sd_k^2)`` with
    ``log_pref_k = log w_k + log N(s; m_k0, S_k00)``, ``mu_k = m_k1 + S_k01 / S_k00 (s - m_k0)``
    and the Schur complement ``sd_k^2 = S_k11 - S_k01^2 / S_k00``.

    Args:
        s: ``(m,)`` line positions (ignored in 1-D, where ``m = 1``).

    Returns:
        ``log_pref (m, K)``, ``mu (m, K)``, ``sd (K,)``.
    """
    with np.errstate(divide="ignore"):
        log_w = np.log(gm.weights)
    if gm.dim == 1:
        return log_w[None], gm.means[None, :, 0], np.sqrt(gm.covs[:, 0, 0])
    m0, m1 = gm.means[:, 0], gm.means[:, 1]
    s00, s01, s11 = gm.covs[:, 0, 0], gm.covs[:, 0, 1], gm.covs[:, 1, 1]
    s = np.asarray(s, dtype=np.float64)[:, None]
    log_pref = log_w + _norm_logpdf(s, m0, np.sqrt(s00))
    mu = m1 + s01 / s00 * (s - m0)
    return log_pref, mu, np.sqrt(s11 - s01**2 / s00)


def _line_components(t, log_pref, mu, sd) -> np.ndarray:
    """``log(w_k N_k)`` along lines: ``t (m, n)`` with line parameters ``(m, K)`` -> ``(m, n, K)``."""
    return log_pref[:, None, :] + _norm_logpdf(t[..., None], mu[:, None, :], sd)


def _line_log_joint(t, log_pref, mu, sd, gm: GaussianMixture) -> np.ndarray:
    """``log(pi_c p_c)`` along lines: ``t (m, n)`` with line parameters ``(m, K)`` -> ``(m, n, C)``."""
    return group_logsumexp(_line_components(t, log_pref, mu, sd), gm.labels, gm.n_classes)


def _line_log_joint_slope(t, log_pref, mu, sd, gm: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """``log(pi_c p_c)`` along lines and its derivative along them, both ``(m, n, C)``.

    ``d/dt log(pi_c p_c) = sum_{k: label_k = c} r_k (mu_k - t) / sd_k^2`` with the within-class
    responsibilities ``r_k = w_k N_k / (pi_c p_c)`` (log-sum-exp, stable in the tails).
    """
    comp = _line_components(t, log_pref, mu, sd)
    joint = group_logsumexp(comp, gm.labels, gm.n_classes)
    with np.errstate(invalid="ignore"):
        resp = np.nan_to_num(np.exp(comp - joint[..., gm.labels]))
    onehot = gm.labels[:, None] == np.arange(gm.n_classes)[None, :]
    return joint, (resp * (mu[:, None, :] - t[..., None]) / sd**2) @ onehot


# --------------------------------------------------------------------------------------------
# class changes along lines: exact (one component per class) ...
# --------------------------------------------------------------------------------------------


def _live_pairs(gm: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """Positive-weight components ``i < j`` of different classes, as two ``(P,)`` index arrays."""
    live = np.flatnonzero(gm.weights > 0)
    i, j = np.triu_indices(len(live), 1)
    keep = gm.labels[live[i]] != gm.labels[live[j]]
    return live[i[keep]], live[j[keep]]


def _component_quadratics(gm: GaussianMixture, s: np.ndarray):
    """``log(w_k N_k) = alpha_k t^2 + beta_k t + gamma_k`` along the lines ``x0 = s`` (up to
    the common ``-log(2 pi) / 2``).

    Returns:
        ``alpha (K,)``, ``beta (m, K)``, ``gamma (m, K)``.
    """
    log_pref, mu, sd = _line_restriction(gm, s)
    prec = 1.0 / sd**2
    return -0.5 * prec, mu * prec, log_pref - np.log(sd) - 0.5 * mu**2 * prec


def _pair_quadratics(gm: GaussianMixture, s: np.ndarray):
    """``log(w_i N_i) - log(w_j N_j) = A t^2 + B t + E`` along the lines ``x0 = s`` for the
    pairs of :func:`_live_pairs`.

    Returns:
        ``A (P,)``, ``B (m, P)``, ``E (m, P)``.
    """
    alpha, beta, gamma = _component_quadratics(gm, s)
    i, j = _live_pairs(gm)
    return alpha[i] - alpha[j], beta[:, i] - beta[:, j], gamma[:, i] - gamma[:, j]


def _quadratic_roots(A: np.ndarray, B: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Both real roots of ``A t^2 + B t + E`` (NaN where there is none; one root where
    ``A = 0``), cancellation-free (``q = -(B + sign(B) sqrt(B^2 - 4AE)) / 2``).

    Returns:
        ``(..., 2)`` roots, broadcast over the inputs.
    """
    A, B, E = np.broadcast_arrays(A, B, E)
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = B * B - 4 * A * E
        q = -0.5 * (B + np.copysign(np.sqrt(disc), B))
        quad = np.stack([q / A, E / q], axis=-1)
        linear = np.stack([-E / B, np.full(B.shape, np.nan)], axis=-1)
    roots = np.where((A == 0)[..., None], linear, quad)
    return np.where(np.isfinite(roots), roots, np.nan)


def _pieces(lo: float, hi: float, first: np.ndarray, line: np.ndarray, points: np.ndarray,
            after: np.ndarray) -> Pieces:
    """:class:`Pieces` from the class changes of ``m`` lines: line ``line[i]`` changes to class
    ``after[i]`` at ``points[i]`` (sorted within each line, lines in order); ``first (m,)`` is
    the class at ``lo``. Lines with fewer changes are padded with zero-width pieces at ``hi``."""
    m = len(first)
    counts = np.bincount(line, minlength=m)
    rank = np.arange(len(line)) - np.repeat(np.cumsum(counts) - counts, counts)
    width = counts.max(initial=0)
    edges = np.full((m, width + 2), hi)
    edges[:, 0] = lo
    edges[line, rank + 1] = points
    classes = np.repeat(first[:, None], width + 1, axis=1)
    classes[line, rank + 1] = after
    return Pieces(edges, classes)


def _exact_pieces(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> Pieces:
    """Bayes class along each line ``x0 = s`` between all roots of all pairwise differences
    (the Bayes class cannot change between consecutive roots)."""
    A, B, E = _pair_quadratics(gm, s)
    r = _quadratic_roots(A, B, E).reshape(len(B), -1)
    r = np.sort(np.where((r > lo) & (r < hi), r, hi), axis=1)
    edges = np.concatenate([np.full((len(r), 1), lo), r, np.full((len(r), 1), hi)], axis=1)
    mid = (edges[:, 1:] + edges[:, :-1]) / 2
    log_pref, mu, sd = _line_restriction(gm, s)
    live = np.flatnonzero(gm.weights > 0)  # one per class: its log term is the class's
    z = (mid[..., None] - mu[:, None, live]) / sd[live]
    winners = gm.labels[live][np.argmax(log_pref[:, None, live] - np.log(sd[live]) - 0.5 * z * z, axis=-1)]
    line, cell = np.nonzero(winners[:, 1:] != winners[:, :-1])
    return _pieces(lo, hi, winners[:, 0], line, edges[line, cell + 1], winners[line, cell + 1])


def _exact_tangencies(gm: GaussianMixture, box: np.ndarray) -> np.ndarray:
    """``x0`` of the vertical tangencies of every pairwise boundary where its two classes are
    the top two: zeros of the discriminant ``B(s)^2 - 4 A E(s)`` of :func:`_pair_quadratics`,
    a quadratic in ``s`` (interpolated at three points, then two Newton steps on the direct
    formula), at which the tangent point ``t = -B / (2A)`` lies in the box and ties for the top.

    Returns:
        ``(q,)`` tangency abscissae (unsorted).
    """
    (lo0, hi0), (lo1, hi1) = box
    c, h = (lo0 + hi0) / 2, (hi0 - lo0) / 2

    def disc(s):
        A, B, E = _pair_quadratics(gm, s)
        return B * B - 4 * A * E  # (m, P)

    dm, d0, dp = disc(np.array([c - h, c, c + h]))
    a2, a1 = (dp + dm) / 2 - d0, (dp - dm) / 2
    u = _quadratic_roots(a2, a1, d0)  # (P, 2) in units of h around c
    keep = np.isfinite(u) & (np.abs(u) <= 1)
    pair, _ = np.nonzero(keep)
    s = c + h * u[keep]
    slope = (2 * a2[pair] * u[keep] + a1[pair]) / h
    s = _polish(lambda x: disc(x)[np.arange(len(x)), pair], s, slope)
    if not len(s):
        return s
    A, B, _ = _pair_quadratics(gm, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -B[np.arange(len(s)), pair] / (2 * A[pair])
    inside = np.isfinite(t) & (t >= lo1) & (t <= hi1)
    s, t, pair = s[inside], t[inside], pair[inside]
    i, j = _live_pairs(gm)
    return s[_ties(gm, s, t, np.stack([i[pair], j[pair]], axis=1))]


def _ties(gm: GaussianMixture, s: np.ndarray, t: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``(q,)`` bool: at the points ``(s, t)`` the classes of the components ``members (q, r)``
    tie (within ``TOP_PAIR_RTOL``) and no other class is above them."""
    if not len(s):
        return np.zeros(0, bool)
    log_pref, mu, sd = _line_restriction(gm, s)
    joint = _line_log_joint(t[:, None], log_pref, mu, sd, gm)[:, 0]  # (q, C)
    rows = np.arange(len(s))[:, None]
    tied = joint[rows, gm.labels[members]]
    low = tied.min(axis=1)
    tol = TOP_PAIR_RTOL * (1 + np.abs(low))
    others = joint.copy()
    others[rows, gm.labels[members]] = -np.inf
    return (tied.max(axis=1) - low <= tol) & (others.max(axis=1) <= low + tol)


def _polish(poly_at, s: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Two Newton steps on ``poly_at(s) (q,)`` with the interpolant's slope ``(q,)``."""
    for _ in range(2):
        with np.errstate(divide="ignore", invalid="ignore"):
            step = poly_at(s) / slope
        s = np.where(np.isfinite(step), s - step, s)
    return s


def _exact_junctions(gm: GaussianMixture, box: np.ndarray) -> np.ndarray:
    """``x0`` of the points where three classes tie for the top (triple junctions of the Bayes
    boundary), exactly: for live components ``i, j, k`` of three classes, ``f_ij = f_ik = 0``
    along the line ``x0 = s`` have a common root ``t`` iff the resultant
    ``(A1 E2 - A2 E1)^2 - (A1 B2 - A2 B1)(B1 E2 - B2 E1)`` of the two quadratics of
    :func:`_pair_quadratics` vanishes (``B1 E2 - B2 E1`` when both are linear). It is a
    polynomial of degree <= 4 in ``s``: interpolated at 5 Chebyshev points, its real roots in
    the box polished by two Newton steps on the direct formula; kept where the three classes
    tie for the top at the common root ``t = (A1 E2 - A2 E1) / (A2 B1 - A1 B2)`` (``-E1 / B1``).

    Returns:
        ``(q,)`` junction abscissae (unsorted).
    """
    (lo0, hi0), (lo1, hi1) = box
    live = np.flatnonzero(gm.weights > 0)
    if gm.dim != 2 or len(live) < 3:
        return np.zeros(0)
    trip = np.array([t for t in itertools.combinations(live, 3)
                     if len(set(gm.labels[list(t)].tolist())) == 3]).reshape(-1, 3)
    if not len(trip):
        return np.zeros(0)
    i, j, k = trip.T
    linear = np.zeros(len(trip), bool)

    def parts(s):
        alpha, beta, gamma = _component_quadratics(gm, s)
        A1, B1, E1 = alpha[i] - alpha[j], beta[:, i] - beta[:, j], gamma[:, i] - gamma[:, j]
        A2, B2, E2 = alpha[i] - alpha[k], beta[:, i] - beta[:, k], gamma[:, i] - gamma[:, k]
        return A1, B1, E1, A2, B2, E2

    def resultant(s):  # (m, T)
        A1, B1, E1, A2, B2, E2 = parts(s)
        quad = (A1 * E2 - A2 * E1) ** 2 - (A1 * B2 - A2 * B1) * (B1 * E2 - B2 * E1)
        return np.where(linear, B1 * E2 - B2 * E1, quad)

    A1, _, _, A2, _, _ = parts(np.zeros(1))
    linear[:] = (A1 == 0) & (A2 == 0)
    c, h = (lo0 + hi0) / 2, (hi0 - lo0) / 2
    u_nodes = np.cos(np.pi * (np.arange(5) + 0.5) / 5)
    coef = np.polynomial.polynomial.polyfit(u_nodes, resultant(c + h * u_nodes), 4)  # (5, T)
    out_s, out_trip = [], []
    for n in range(len(trip)):
        p = coef[:, n]
        if not np.any(p):
            continue  # identically tied triple (coincident boundaries): no isolated junction
        u = np.polynomial.polynomial.polyroots(np.trim_zeros(p, "b"))
        u = u.real[(np.abs(u.imag) <= 1e-6 * (1 + np.abs(u.real))) & (np.abs(u.real) <= 1)]
        out_s += list(c + h * u)
        out_trip += [n] * len(u)
    if not out_s:
        return np.zeros(0)
    s, n = np.array(out_s), np.array(out_trip)
    dcoef = np.polynomial.polynomial.polyder(coef[:, n], axis=0)
    slope = np.polynomial.polynomial.polyval((s - c) / h, dcoef, tensor=False) / h
    s = _polish(lambda x: resultant(x)[np.arange(len(x)), n], s, slope)
    A1, B1, E1, A2, B2, E2 = (np.broadcast_to(x, (len(s), len(trip)))[np.arange(len(s)), n]
                              for x in parts(s))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(linear[n], -E1 / B1, (A1 * E2 - A2 * E1) / (A2 * B1 - A1 * B2))
    inside = np.isfinite(t) & (t >= lo1) & (t <= hi1)
    s, t, n = s[inside], t[inside], n[inside]
    return s[_ties(gm, s, t, trip[n])]


# --------------------------------------------------------------------------------------------
# ... and by grid scan (classes with several components)
# --------------------------------------------------------------------------------------------


def _grid_size(gm: GaussianMixture, lo: float, hi: float) -> int:
    """Points of the argmax-scan grid on ``[lo, hi]``: ``GRID_CELLS_PER_SD`` cells per smallest
    conditional standard deviation (:func:`_line_restriction`)."""
    sd_min = float(_line_restriction(gm, np.zeros(1))[2].min())
    n = int(np.ceil((hi - lo) / sd_min * GRID_CELLS_PER_SD)) + 1
    if n > MAX_GRID_POINTS:
        raise ValueError(
            f"{gm!r} is too anisotropic for Bayes-error quadrature: smallest conditional sd "
            f"{sd_min:.3g} on a line of length {hi - lo:.3g} needs {n} grid points (max "
            f"{MAX_GRID_POINTS}); raise toylab.data.quadrature.MAX_GRID_POINTS (time and "
            f"memory grow linearly)"
        )
    return n


def _grid_pieces(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> Pieces:
    """Bayes class along each line ``x0 = s`` from the argmax on a grid, each change of class
    refined to machine precision by a bracketing root finder (Chandrupatla, via scipy
    ``find_root``).

    A class ``a`` can win on an interval shorter than a grid cell whose two ends are won by
    ``b`` (near a tangency of the boundary to the line). Then ``f_ab = log(pi_a p_a) -
    log(pi_b p_b)`` has an interior maximum above 0 in that cell: every cell where ``df_ab/dt``
    goes from ``+`` to ``-`` gets its maximum solved for and, if ``f_ab > 0`` there, added as a
    grid node, so the excursion is bracketed. Missed are only excursions inside a cell where
    ``df_ab/dt`` changes sign twice (a boundary curving back within ``sd_min /
    GRID_CELLS_PER_SD``)."""
    log_pref, mu, sd = _line_restriction(gm, s)
    m = len(log_pref)
    nodes = np.broadcast_to(np.linspace(lo, hi, _grid_size(gm, lo, hi)), (m, _grid_size(gm, lo, hi)))
    L, dL = _line_log_joint_slope(nodes, log_pref, mu, sd, gm)
    win = np.argmax(L, -1)
    with np.errstate(invalid="ignore"):
        g = dL - np.take_along_axis(dL, win[..., None], -1)  # d f_{a, winner} / dt
    hump = (win[:, 1:] == win[:, :-1])[..., None] & (g[:, :-1] > 0) & (g[:, 1:] < 0)
    line, cell, a = np.nonzero(hump)
    extra_line, extra_t = np.empty(0, np.int64), np.empty(0)
    if len(line):
        b = win[line, cell]

        def slope(x, line, a, b):
            dl = _line_log_joint_slope(x[:, None], log_pref[line], mu[line], sd, gm)[1][:, 0]
            return np.take_along_axis(dl, a[:, None], 1)[:, 0] - np.take_along_axis(dl, b[:, None], 1)[:, 0]

        top = elementwise.find_root(slope, (nodes[line, cell], nodes[line, cell + 1]), args=(line, a, b)).x
        Lt = _line_log_joint(top[:, None], log_pref[line], mu[line], sd, gm)[:, 0]
        up = Lt[np.arange(len(top)), a] > Lt[np.arange(len(top)), b]
        extra_line, extra_t = line[up], top[up]
    # a cell whose ends differ may hide a third class near a junction: subdivide it
    line, cell = np.nonzero(win[:, 1:] != win[:, :-1])
    frac = np.arange(1, JUNCTION_CELL_NODES + 1) / (JUNCTION_CELL_NODES + 1)
    sub = nodes[line, cell][:, None] + frac * (nodes[line, cell + 1] - nodes[line, cell])[:, None]
    extra_line = np.r_[extra_line, np.repeat(line, JUNCTION_CELL_NODES)]
    extra_t = np.r_[extra_t, sub.ravel()]
    if len(extra_line):
        order = np.argsort(extra_line, kind="stable")
        extra_line, extra_t = extra_line[order], extra_t[order]
        counts = np.bincount(extra_line, minlength=m)
        rank = np.arange(len(extra_line)) - np.repeat(np.cumsum(counts) - counts, counts)
        extra = np.full((m, counts.max()), hi)
        extra[extra_line, rank] = extra_t
        nodes = np.sort(np.concatenate([nodes, extra], axis=1), axis=1)
        win = np.argmax(_line_log_joint(nodes, log_pref, mu, sd, gm), -1)
    line, cell = np.nonzero(win[:, 1:] != win[:, :-1])
    a, b = win[line, cell], win[line, cell + 1]

    def gap(x, line, a, b):
        joint = _line_log_joint(x[:, None], log_pref[line], mu[line], sd, gm)[:, 0]
        return np.take_along_axis(joint, a[:, None], 1)[:, 0] - np.take_along_axis(joint, b[:, None], 1)[:, 0]

    roots = np.empty(0)
    if len(line):
        roots = elementwise.find_root(gap, (nodes[line, cell], nodes[line, cell + 1]), args=(line, a, b)).x
    return _pieces(lo, hi, win[:, 0], line, roots, b)


def _pair_signs(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float):
    """For every class pair ``a < b`` on the argmax-scan grid of each line ``x0 = s``: the signs
    of ``f_ab = log(pi_a p_a) - log(pi_b p_b)`` and of ``df_ab/dx1`` (0 where it is within
    rounding, ``TANGENCY_SLOPE_RTOL``, of zero) and whether ``a, b`` are the two largest.

    Returns:
        three ``(m, n, P)`` arrays (int8, int8, bool), pairs in ``np.triu_indices`` order.
    """
    log_pref, mu, sd = _line_restriction(gm, s)
    t = np.linspace(lo, hi, _grid_size(gm, lo, hi))
    L, dL = _line_log_joint_slope(np.broadcast_to(t, (len(s), len(t))), log_pref, mu, sd, gm)
    a, b = np.triu_indices(gm.n_classes, 1)
    with np.errstate(invalid="ignore"):
        f, g = np.nan_to_num(L[..., a] - L[..., b]), dL[..., a] - dL[..., b]
    g = np.where(np.abs(g) > TANGENCY_SLOPE_RTOL * (np.abs(dL[..., a]) + np.abs(dL[..., b])), g, 0.0)
    top = np.minimum(L[..., a], L[..., b]) >= np.sort(L, axis=-1)[..., -2:-1]
    return np.sign(f).astype(np.int8), np.sign(g).astype(np.int8), top


def _cells_changing_sign(sign: np.ndarray) -> np.ndarray:
    """``(m - 1, n - 1, P)`` bool: the grid cell has corners of both strict signs."""
    corners = np.stack([sign[:-1, :-1], sign[1:, :-1], sign[:-1, 1:], sign[1:, 1:]])
    return (corners.max(0) > 0) & (corners.min(0) < 0)


def _lattice_tangencies(gm: GaussianMixture, box: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``x0`` of the points where a boundary between two classes is tangent to a vertical line
    (grid-scan method).

    There the number of class changes along vertical lines changes even when the strip where it
    differs is narrower than the scan spacing (a near-vertical boundary that bulges by 1e-3,
    missed by the sequence scan of :func:`split_points`). They solve ``f_ab = df_ab/dx1 = 0``:
    every cell of the scan lattice (lines ``s`` x argmax-scan grid) in which ``f_ab`` changes
    sign, ``df_ab/dx1`` changes sign in it or a neighbouring cell, and ``a, b`` are the top two
    at a corner, seeds a 2-D root solve (scipy ``root``, MINPACK hybrid Powell); roots inside
    the cell or its neighbours with residuals below ``TANGENCY_RESIDUAL`` are kept (MINPACK
    flags a root it reached at machine precision as "no progress", so its flag is not used).
    A tangency is missed when the lattice shows neither sign change near it (a boundary feature
    narrower in ``x0`` than the scan spacing and crossed by no scan line); then tanh-sinh sees a
    kink and raises "did not converge" rather than returning a wrong value. Extra points (e.g.
    tangencies where a third class wins) only split the outer integral more.

    Returns:
        ``(q,)`` tangency abscissae (unsorted, possibly repeated).
    """
    (_, _), (lo1, hi1) = box
    parts = _chunked(_pair_signs, gm, s, lo1, hi1)
    f_sign, g_sign, top = (np.concatenate(x) for x in zip(*parts))
    tops = top[:-1, :-1] | top[1:, :-1] | top[:-1, 1:] | top[1:, 1:]
    slope_near = scipy.ndimage.binary_dilation(_cells_changing_sign(g_sign),
                                               np.ones((3, 3, 1), bool))
    cells = np.argwhere(_cells_changing_sign(f_sign) & slope_near & tops)
    pairs = np.stack(np.triu_indices(gm.n_classes, 1), 1)
    t = np.linspace(lo1, hi1, f_sign.shape[1])
    out = []
    for i, j, p in cells:
        a, b = pairs[p]

        def system(x, a=a, b=b):
            log_pref, mu, sd = _line_restriction(gm, x[:1])
            L, dL = _line_log_joint_slope(x[1:].reshape(1, 1), log_pref, mu, sd, gm)
            return [L[0, 0, a] - L[0, 0, b], dL[0, 0, a] - dL[0, 0, b]]

        sol = root(system, [(s[i] + s[i + 1]) / 2, (t[j] + t[j + 1]) / 2], method="hybr",
                   options={"xtol": 1e-14})
        near = (s[max(i - 1, 0)] <= sol.x[0] <= s[min(i + 2, len(s) - 1)]
                and t[max(j - 1, 0)] <= sol.x[1] <= t[min(j + 2, len(t) - 1)])
        if near and np.max(np.abs(sol.fun)) <= TANGENCY_RESIDUAL:
            out.append(sol.x[0])
    return np.array(out)


# --------------------------------------------------------------------------------------------
# line integrals and the outer integral
# --------------------------------------------------------------------------------------------


def _points_per_line(gm: GaussianMixture, lo: float, hi: float) -> int:
    """Points evaluated per line: the argmax grid, or the piece midpoints of the exact method."""
    if exact_lines(gm):
        return 2 * len(_live_pairs(gm)[0]) + 1
    return _grid_size(gm, lo, hi)


def _chunked(fn, gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> list:
    """``fn(gm, chunk, lo, hi)`` over chunks of the lines ``s`` bounded by ``LINE_CHUNK_ELEMENTS``."""
    rows = max(1, LINE_CHUNK_ELEMENTS // (_points_per_line(gm, lo, hi) * gm.n_components))
    return [fn(gm, chunk, lo, hi) for chunk in np.array_split(s, -(-len(s) // rows))]


def line_pieces(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> Pieces:
    """The Bayes class along each line ``x0 = s`` (``t`` in ``[lo, hi]``), exactly when every
    class has one live component (:func:`exact_lines`), else by the grid scan.

    Args:
        s: ``(m,)`` line positions (``m = 1``, ignored, in 1-D).
    """
    return (_exact_pieces if exact_lines(gm) else _grid_pieces)(gm, np.asarray(s, np.float64), lo, hi)


def _line_errors(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``F(s) = integral_lo^hi [p(s, t) - max_c pi_c p_c(s, t)] dt`` for each line ``x0 = s``:
    on each piece of :func:`line_pieces` with Bayes class ``c*`` the integral of the other
    classes' densities is ``sum_{k: label_k != c*} pref_k [Phi((b - mu_k)/sd_k) - Phi((a - mu_k)/sd_k)]``.

    Returns:
        ``(m,)`` line integrals.
    """
    edges, classes = line_pieces(gm, s, lo, hi)
    log_pref, mu, sd = _line_restriction(gm, s)
    z = (edges[:, :, None] - mu[:, None, :]) / sd  # (m, P + 1, K)
    mass = _gauss_mass(z[:, :-1], z[:, 1:])  # (m, P, K)
    others = gm.labels[None, None, :] != classes[:, :, None]
    return np.sum(np.exp(log_pref)[:, None, :] * mass * others, axis=(1, 2))


def _signatures(gm: GaussianMixture, s: np.ndarray, lo: float, hi: float) -> list[tuple[int, ...]]:
    """Run-length-compressed Bayes-class sequence (pieces of positive width) of each line."""
    edges, classes = line_pieces(gm, s, lo, hi)
    out = []
    for e, c in zip(edges, classes):
        c = c[e[1:] > e[:-1]]
        out.append(tuple(c[np.r_[True, c[1:] != c[:-1]]].tolist()))
    return out


def split_points(gm: GaussianMixture, box: np.ndarray) -> np.ndarray:
    """Positions ``x0`` where the Bayes-class sequence along vertical lines changes.

    Between consecutive split points the class-change points along a line move analytically
    with ``x0`` (implicit function theorem at simple roots), so the outer integrand is analytic
    there. Changes are located on ``SPLIT_SCAN_LINES`` equally spaced lines plus the lines
    through each component's mean and its mean +- one standard deviation in ``x0`` (so a
    class island around a component narrower than the spacing is crossed), and refined by
    bisection to
    ``SPLIT_XTOL`` times the box width; vertical tangencies of the boundary (and, with one
    component per class, triple junctions), whose changes may be too narrow for the scan, are
    solved for directly (:func:`_exact_tangencies` and :func:`_exact_junctions`, or
    :func:`_lattice_tangencies`). Points closer than ``SPLIT_XTOL`` times the box width are
    merged.

    Args:
        box: ``(2, 2)`` rows ``[lo, hi]``.

    Returns:
        sorted ``(p,)`` interior split points.
    """
    (lo0, hi0), (lo1, hi1) = box
    live = gm.weights > 0
    m0, sd0 = gm.means[live, 0], np.sqrt(gm.covs[live, 0, 0])
    s = np.unique(np.r_[np.linspace(lo0, hi0, SPLIT_SCAN_LINES), m0 - sd0, m0, m0 + sd0])
    s = s[(s >= lo0) & (s <= hi0)]
    sig = sum(_chunked(_signatures, gm, s, lo1, hi1), [])
    idx = np.array([i for i in range(len(s) - 1) if sig[i] != sig[i + 1]], dtype=np.int64)
    left, right = s[idx], s[idx + 1]
    left_sig = [sig[i] for i in idx]
    while len(idx) and np.max(right - left) > SPLIT_XTOL * (hi0 - lo0):
        mid = (left + right) / 2
        same = np.array([a == b for a, b in zip(sum(_chunked(_signatures, gm, mid, lo1, hi1), []), left_sig)])
        left, right = np.where(same, mid, left), np.where(same, right, mid)
    if exact_lines(gm):
        tangencies = np.r_[_exact_tangencies(gm, box), _exact_junctions(gm, box)]
    else:
        tangencies = _lattice_tangencies(gm, box, s)
    tol = SPLIT_XTOL * (hi0 - lo0)
    bisected = (left + right) / 2
    if len(tangencies):  # a solved tangency is more accurate than bisection near it
        bisected = bisected[np.min(np.abs(bisected[:, None] - tangencies[None]), axis=1) > tol]
    points = np.sort(np.r_[bisected, tangencies])
    points = points[(points > lo0) & (points < hi0)]
    return points[np.diff(points, prepend=-np.inf) > tol]


def bayes_error_integral(gm: GaussianMixture) -> tuple[float, float]:
    """``(value, error_bound)`` of the Bayes error by the quadrature of this module; see
    :func:`toylab.data.bayes.bayes_error_quadrature` for the method and the bound.

    Raises:
        ValueError: ``d > 2``.
        RuntimeError: tanh-sinh did not reach ``QUADRATURE_ATOL`` on some piece.
    """
    box = gm.covering_box(QUADRATURE_MASS_OUTSIDE)
    outside = gm.mass_outside(box)
    if gm.dim == 1:
        value = float(_line_errors(gm, np.zeros(1), *box[0])[0])
        return value, outside + 8 * float(np.finfo(np.float64).eps)
    if gm.dim != 2:
        raise ValueError(f"quadrature supports d <= 2; got d={gm.dim} for {gm!r}")
    (lo0, hi0), (lo1, hi1) = box
    edges = np.r_[lo0, split_points(gm, box), hi0]

    def outer(s):
        return np.concatenate(_chunked(_line_errors, gm, s.ravel(), lo1, hi1)).reshape(s.shape)

    res = tanhsinh(outer, edges[:-1], edges[1:], atol=QUADRATURE_ATOL, rtol=0.0,
                   minlevel=QUADRATURE_MINLEVEL)
    if not np.all(res.success):
        raise RuntimeError(
            f"Bayes-error quadrature for {gm!r} did not converge on pieces "
            f"{np.flatnonzero(~res.success).tolist()} of {edges.tolist()} (errors {res.error.tolist()})"
        )
    return float(np.sum(res.integral)), float(np.sum(res.error) + outside)
