"""Counting linear regions: exact counts, brute-force grid checks, theory references.

Exact counts come from :func:`toylab.exact.partition` (regions in a box) and
:func:`toylab.exact.population.regions_carrying` (fewest regions carrying a given
probability). This module adds what a region-count study compares them with:

* :func:`grid_patterns`: the brute-force count, distinct activation patterns of a plain
  float64 forward pass on a grid. Each activation pattern of a PL network is attained on a
  convex set (induction over layers: with earlier patterns fixed, a layer's pre-activations
  are affine), so every exact region carries a distinct pattern and the grid count is a lower
  bound on the exact count that converges as the grid is refined;
* :func:`arrangement_regions`: the closed-form count for one hidden layer, where the regions
  are the cells of an arrangement of lines. Inside a convex domain, adding a line that
  crosses it adds ``1 +`` (its crossings with earlier lines inside the domain) cells
  (Euler's formula), so ``R = 1 + n_lines + n_crossings`` for lines in general position
  (Zaslavsky 1975 for the whole plane: ``1 + N + C(N, 2)``);
* :func:`serra_bound`: the maximal number of regions of a deep rectifier network over the
  whole input space (Serra, Tjandraatmadja & Ramalingam 2018, "Bounding and counting linear
  regions of deep neural networks", Theorem 1), which grows exponentially with depth;
* :func:`hanin_rolnick_network`: random networks initialised as in Hanin & Rolnick 2019
  ("Complexity of linear regions in deep networks"; "Deep ReLU networks have surprisingly
  few activation patterns"): He-normal weights and i.i.d. normal biases. Their theorem bounds
  the expected number of regions per unit volume by ``(C N)^{n_0} / n_0!`` for ``N`` neurons
  in total and input dimension ``n_0`` -- growing with ``N``, not exponentially with depth;
* :func:`power_law`: the log-log least-squares fit ``count ~ a N^k`` used to read off ``k``.
"""

from __future__ import annotations

from math import comb
from typing import NamedTuple, Sequence

import numpy as np
import scipy.stats

from toylab.exact import geometry as geo
from toylab.exact.partition import partition
from toylab.exact.population import population_partition
from toylab.models import as_layers, check_widths, get_activation


# ----------------------------------------------------------------------------- counts


class RegionCount(NamedTuple):
    """Exact region counts of one network under one distribution.

    Attributes:
        domain: regions meeting ``dist.domain`` (the box holding >= 99.9% of the mass).
        mass: fewest regions carrying ``mass_level`` of the probability.
        mass_level: the probability level (e.g. 0.99).
    """

    domain: int
    mass: int
    mass_level: float


def region_count(net, dist, *, activation: str | None = None,
                 mass_level: float = 0.99) -> RegionCount:
    """Exact :class:`RegionCount` of a PL network: ``len(partition(net, dist.domain))`` and
    ``population_partition(net, dist).regions_carrying(mass_level)``."""
    in_domain = partition(net, dist.domain, activation=activation)
    carrying = population_partition(net, dist, activation=activation).regions_carrying(mass_level)
    return RegionCount(len(in_domain), carrying, float(mass_level))


class GridPatterns(NamedTuple):
    """Brute-force activation patterns on a grid.

    Attributes:
        patterns: ``(G, H)`` int8 distinct patterns (piece index of each of the ``H`` hidden
            neurons, layer after layer, as ``Partition.patterns`` stacks them).
        points: ``(G, 2)`` one grid point showing each pattern.
        count: ``G``.
    """

    patterns: np.ndarray
    points: np.ndarray
    count: int


def pattern_of(net, X, *, activation: str | None = None) -> np.ndarray:
    """Activation pattern ``(n, H)`` int8 at points ``X (n, d)`` by a plain NumPy float64
    forward pass through the activation's pieces: each hidden pre-activation's piece index
    (``np.digitize`` against the breakpoints; values on a breakpoint go to the upper piece),
    and the post-activation ``slope * z + intercept`` of that piece."""
    layers, name = as_layers(net, activation, dtype=np.float64)
    pieces = np.asarray(get_activation(name).pieces, np.float64)
    breakpoints, slopes, intercepts = pieces[:-1, 1], pieces[:, 2], pieces[:, 3]
    h, out = np.asarray(X, np.float64), []
    for W, b in layers[:-1]:
        z = h @ W + b
        piece = np.digitize(z, breakpoints)
        h = slopes[piece] * z + intercepts[piece]
        out.append(piece.astype(np.int8))
    return np.hstack(out)


def grid_patterns(net, box, resolution: int = 512, *, activation: str | None = None,
                  seed: int = 0) -> GridPatterns:
    """Distinct activation patterns at the centres of a ``resolution x resolution`` grid of
    cells covering ``box``, each centre jittered uniformly inside its cell (``seed``) so no
    point sits on a breakpoint line by construction.

    A lower bound on the number of exact regions in ``box`` (module docstring).

    Args:
        net: layer list or MLP with 2 inputs; box: ``(2, 2)``; resolution: cells per axis.
    Returns:
        :class:`GridPatterns`.
    """
    box = np.asarray(box, np.float64)
    if box.shape != (2, 2) or not np.all(box[:, 0] < box[:, 1]):
        raise ValueError(f"box={box.tolist()} must be [[xlo, xhi], [ylo, yhi]] with lo < hi")
    if not (isinstance(resolution, (int, np.integer)) and resolution >= 1):
        raise ValueError(f"resolution={resolution!r} must be a positive int (cells per axis)")
    cell = (box[:, 1] - box[:, 0]) / resolution
    ij = np.stack(np.meshgrid(np.arange(resolution), np.arange(resolution)), -1).reshape(-1, 2)
    jitter = np.random.default_rng(seed).uniform(0.05, 0.95, ij.shape)
    X = box[:, 0] + (ij + jitter) * cell
    patterns, first = np.unique(pattern_of(net, X, activation=activation), axis=0,
                                return_index=True)
    return GridPatterns(patterns, X[first], len(patterns))


# ----------------------------------------------------------------------------- theory


def arrangement_regions(W, b, box) -> int:
    """Cells of the line arrangement ``{x : x . W[:, j] + b[j] = 0}`` inside ``box``.

    For lines in general position (no two parallel lines coinciding, no three through one
    point) a convex domain is cut into ``1 + (#lines crossing it) + (#pairwise crossings
    inside it)`` cells; this is the exact region count of a one-hidden-layer relu network.
    Lines with zero normal are ignored.

    Args:
        W: ``(2, N)`` normals; b: ``(N,)`` offsets; box: ``(2, 2)``.
    Returns:
        the number of cells.
    """
    W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
    box = np.asarray(box, np.float64)
    corners = geo.as_domain(box)  # validates the box
    live = np.any(W != 0, axis=0)
    W, b = W[:, live], b[live]
    values = corners @ W + b  # (4, N)
    crosses = (values.min(0) < 0) & (values.max(0) > 0)
    W, b = W[:, crosses], b[crosses]
    n = W.shape[1]
    i, j = np.triu_indices(n, 1)
    det = W[0, i] * W[1, j] - W[1, i] * W[0, j]
    ok = det != 0
    i, j, det = i[ok], j[ok], det[ok]
    # x solves [W_i W_j]^T x = -[b_i, b_j] (Cramer's rule)
    x0 = (-b[i] * W[1, j] + b[j] * W[1, i]) / det
    x1 = (-W[0, i] * b[j] + W[0, j] * b[i]) / det
    lo, hi = box[:, 0], box[:, 1]
    inside = (x0 > lo[0]) & (x0 < hi[0]) & (x1 > lo[1]) & (x1 < hi[1])
    return int(1 + n + inside.sum())


def serra_bound(widths: Sequence[int]) -> int:
    """Maximal number of linear regions of a deep rectifier network (Serra et al. 2018,
    Theorem 1): ``sum_{j in J} prod_l C(n_l, j_l)`` over
    ``J = {0 <= j_l <= min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l)}``.

    Evaluated exactly by dynamic programming over the running minimum.

    Args:
        widths: ``(n_0, n_1, ..., n_L, out)``; the output layer is not counted.
    Returns:
        the bound (Python int).
    """
    widths = check_widths(widths)
    states = {widths[0]: 1}  # running minimum -> summed products
    for n in widths[1:-1]:
        nxt: dict[int, int] = {}
        for m, total in states.items():
            for j in range(min(m, n) + 1):
                key = min(m, n - j)
                nxt[key] = nxt.get(key, 0) + total * comb(n, j)
        states = nxt
    return sum(states.values())


def hanin_rolnick_network(seed: int, widths: Sequence[int], *,
                          bias_std: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """A random float64 network as initialised by Hanin & Rolnick (2019): He-normal weights
    (std ``sqrt(2 / fan_in)``, as :func:`toylab.models.init_layers`) and i.i.d.
    ``N(0, bias_std^2)`` biases. (The library's training init has zero biases, which puts
    every first-layer line through the origin.) NumPy, so no JAX compile per shape.

    Args:
        seed: seed of ``np.random.default_rng``. widths: ``(in, hidden..., out)``.
        bias_std: ``> 0``.
    """
    if not bias_std > 0:
        raise ValueError(f"bias_std={bias_std!r} must be > 0 (use init_layers for zero biases)")
    rng = np.random.default_rng(seed)
    widths = check_widths(widths)
    return [(rng.normal(0.0, np.sqrt(2.0 / a), (a, b)), rng.normal(0.0, bias_std, b))
            for a, b in zip(widths[:-1], widths[1:])]


class PowerLaw(NamedTuple):
    """``y ~ prefactor * x^exponent`` by least squares on ``(log x, log y)``.

    Attributes:
        exponent, prefactor: the fit; exponent_stderr: standard error of the slope
        (``scipy.stats.linregress``); r2: coefficient of determination in log-log space.
    """

    exponent: float
    prefactor: float
    exponent_stderr: float
    r2: float


def power_law(x, y) -> PowerLaw:
    """Fit :class:`PowerLaw` to positive ``x, y (n,)`` (``n >= 3`` for a standard error)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 3 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(
            f"x {x.shape} and y {y.shape} must be equal-length 1-D arrays of >= 3 positive "
            "numbers (a log-log fit needs positive data and a residual)"
        )
    fit = scipy.stats.linregress(np.log(x), np.log(y))
    return PowerLaw(float(fit.slope), float(np.exp(fit.intercept)), float(fit.stderr),
                    float(fit.rvalue**2))
