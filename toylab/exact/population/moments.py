"""Population quantities of exactly partitioned networks under a 2-D Gaussian mixture.

A piecewise-linear network is affine on each linear region ``P_r`` of its exact partition
(:mod:`toylab.exact.partition`), so every expectation of a neuron, a product of neurons or the
0-1 loss under a Gaussian mixture ``sum_k w_k N(mu_k, Sigma_k)`` reduces to the closed-form
polygon moments of :mod:`toylab.exact.gaussian`:

    E[y 1_{P_r}] = a_r . m1_r + c_r m0_r,
    E[y y' 1_{P_r}] = a_r^T m2_r a'_r + c_r (a'_r . m1_r) + c'_r (a_r . m1_r) + c_r c'_r m0_r,

for ``y = u . a_r + c_r`` on ``P_r``. No sampling, no grid.

Whole plane. A partition covers a bounded convex domain; :func:`population_partition` builds
it on ``dist.covering_box(mass_outside)`` (union the distribution's own box), so that at most
``mass_outside`` of the probability lies outside. Every result reports

* ``mass_outside``: the probability outside the partition's domain, computed in closed form
  as ``1 - sum_k w_k P_k(domain)`` (absolute accuracy ~1e-15);
* ``error_bound``: a rigorous bound on ``|value - whole-plane value|``. For probabilities it
  is ``mass_outside``. For neuron moments it bounds the neglected tail integral
  ``E[|y| 1_outside]`` (and its second-moment analogue) using the global Lipschitz bound
  ``|y(u)| <= |y(mu_k)| + Lip |u - mu_k|`` (``Lip`` = product of layer spectral norms times
  the activation's largest slope) and the fact that the outside lies beyond the largest
  Mahalanobis disk of radius ``rho_k`` around ``mu_k`` inside the domain; in 2-D the radius
  ``R = |z|`` of a standard normal is Rayleigh, so ``P(R > rho) = exp(-rho^2/2)``,
  ``E[R 1{R > rho}] = rho exp(-rho^2/2) + sqrt(2 pi) Q(rho)`` and
  ``E[R^2 1{R > rho}] = (rho^2 + 2) exp(-rho^2/2)``.

Only 2-D inputs (the network's own input plane, no slice) and 2-D mixtures are supported;
anything else raises a ValueError.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import contourpy
import numpy as np
import sympy
from scipy.special import logsumexp, ndtr

from toylab.exact import geometry as geo
from toylab.exact.boundary import class_cells, decision_boundary
from toylab.exact.gaussian import Moments, mixture_polygon_moments, pad_csr
from toylab.exact.partition import Partition, neuron_address, partition
from toylab.models import get_activation

DEFAULT_MASS_OUTSIDE = 1e-12
"""Probability allowed outside the partition's domain by :func:`population_partition`."""


# ----------------------------------------------------------------------------- results


class Exact(NamedTuple):
    """An exact population quantity.

    Attributes:
        value: the quantity over the partition's domain (float or array).
        error_bound: rigorous bound on ``|value - whole-plane value|`` (same shape as
            ``value``), from the probability outside the domain.
        mass_outside: probability outside the partition's domain.
    """

    value: float | np.ndarray
    error_bound: float | np.ndarray
    mass_outside: float


class RegionMasses(NamedTuple):
    """Probability of every linear region.

    Attributes:
        value: ``(R,)`` ``P(X in P_r)`` under the mixture.
        per_class: ``(C, R)`` ``P(X in P_r, Y = c)`` (sums over classes to ``value``).
        mass_outside: probability outside the domain, ``1 - value.sum()`` up to rounding.
    """

    value: np.ndarray
    per_class: np.ndarray
    mass_outside: float


class LayerMoments(NamedTuple):
    """Means and covariance of all post-activations of one layer.

    Attributes:
        mean: ``(W,)`` ``E[y_i]``.
        cov: ``(W, W)`` ``Cov[y_i, y_j]``.
        mean_bound: ``(W,)`` rigorous bound on the error of ``mean`` (outside the domain).
        cov_bound: ``(W, W)`` rigorous bound on the error of ``cov``.
        mass_outside: probability outside the domain.
    """

    mean: np.ndarray
    cov: np.ndarray
    mean_bound: np.ndarray
    cov_bound: np.ndarray
    mass_outside: float


# ----------------------------------------------------------------------------- inputs


def _check_dist(dist) -> None:
    means = np.asarray(dist.means)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(
            f"dist has {means.shape[-1]}-D inputs (means of shape {means.shape}); exact "
            "population quantities integrate over the plane and need a 2-D distribution"
        )


def _check_plane(p: Partition) -> None:
    if p.widths[0] != 2 or np.any(p.origin != 0) or np.any(p.directions != np.eye(2)):
        raise ValueError(
            f"partition is of a {p.widths[0]}-D network or of a 2-D slice (origin "
            f"{p.origin.tolist()}, directions {p.directions.tolist()}); population quantities "
            "need the partition of a 2-input network over its own input plane"
        )


def _groups(dist) -> tuple[np.ndarray, np.ndarray]:
    """Component weights of the whole mixture and of each class.

    Returns:
        ``weights (K,)`` and ``class_weights (C, K)`` = ``w_k [label_k = c]`` (not normalised).
    """
    w = np.asarray(dist.weights, np.float64)
    labels = np.asarray(dist.labels)
    onehot = labels[None, :] == np.arange(dist.n_classes)[:, None]
    return w, onehot * w[None, :]


def domain_mass_outside(p: Partition, dist) -> float:
    """Probability outside ``p``'s domain, ``1 - sum_k w_k P_k(domain)`` in closed form.

    Args:
        p: a partition. dist: a 2-D Gaussian mixture.
    Returns:
        float in ``[0, 1]`` (absolute accuracy ~1e-15).
    """
    _check_dist(dist)
    inside = np.asarray(dist.weights) @ mixture_polygon_moments(p.domain, dist).m0
    return float(np.clip(1.0 - inside, 0.0, 1.0))


def population_partition(net, dist, *, activation: str | None = None,
                         mass_outside: float = DEFAULT_MASS_OUTSIDE, box=None,
                         max_regions: int = 1_000_000) -> Partition:
    """Exact partition of ``net`` over a box carrying all but ``mass_outside`` of ``dist``.

    Args:
        net: MLP or layer list with 2 inputs; activation: required with a layer list.
        dist: 2-D Gaussian mixture (``toylab.data.GaussianMixture``).
        mass_outside: probability allowed outside the domain (``dist.covering_box``).
        box: ``(2, 2)`` box to include as well; default ``dist.domain``.
        max_regions: passed to :func:`~toylab.exact.partition.partition`.
    Returns:
        :class:`~toylab.exact.partition.Partition` on the union (bounding box) of
        ``dist.covering_box(mass_outside)`` and ``box``.
    """
    _check_dist(dist)
    if not 0 < mass_outside < 1:
        raise ValueError(f"mass_outside={mass_outside!r} must lie in (0, 1), e.g. 1e-12")
    cover = np.asarray(dist.covering_box(mass_outside), np.float64)
    box = np.asarray(dist.domain if box is None else box, np.float64)
    if box.shape != (2, 2):
        raise ValueError(f"box has shape {box.shape}; pass [[xlo, xhi], [ylo, yhi]]")
    domain = np.stack([np.minimum(cover[:, 0], box[:, 0]), np.maximum(cover[:, 1], box[:, 1])], 1)
    return partition(net, domain, activation=activation, max_regions=max_regions)


# ----------------------------------------------------------------------------- regions


def _region_moments(p: Partition, dist, group_weights: np.ndarray) -> Moments:
    """Mixture moments of every region for each weighting of the components.

    Args:
        group_weights: ``(G, K)`` component weights (e.g. the mixture, or one class).
    Returns:
        :class:`~toylab.exact.gaussian.Moments` with leading shape ``(G, R)``.
    """
    _check_dist(dist)
    _check_plane(p)
    mom = mixture_polygon_moments(pad_csr(p.vertices, p.counts), dist)
    return Moments(*(np.tensordot(group_weights, m, axes=(1, 0)) for m in mom))


def region_masses(p: Partition, dist) -> RegionMasses:
    """Exact probability of every linear region, overall and jointly with each class.

    Args:
        p: partition of a 2-input network. dist: 2-D Gaussian mixture.
    Returns:
        :class:`RegionMasses` (``value (R,)``, ``per_class (C, R)``, ``mass_outside``).
    """
    w, cw = _groups(dist)
    m0 = _region_moments(p, dist, np.vstack([w, cw])).m0
    return RegionMasses(m0[0], m0[1:], domain_mass_outside(p, dist))


def regions_carrying(p: Partition, dist, mass: float = 0.99) -> int:
    """Fewest regions whose total probability is at least ``mass``.

    Args:
        p: partition. dist: 2-D Gaussian mixture. mass: target probability in ``(0, 1]``.
    Returns:
        int, the smallest ``n`` such that the ``n`` most probable regions carry ``>= mass``.
    """
    masses = region_masses(p, dist)
    total = masses.value.sum()
    if not 0 < mass <= total:
        raise ValueError(
            f"mass={mass!r} must lie in (0, {total:.17g}], the probability the partition "
            "covers; build the partition with population_partition for whole-plane coverage"
        )
    cum = np.cumsum(np.sort(masses.value)[::-1])
    return int(np.searchsorted(cum, mass) + 1)


# ----------------------------------------------------------------------------- neurons


def _columns(p: Partition, neurons: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Post-activation maps of the given neurons: ``A (R, 2, n)``, ``c (R, n)``."""
    addr = [neuron_address(p, nrn) for nrn in neurons]
    A = np.stack([p.post[l][0][:, :, i] for l, i in addr], -1)
    c = np.stack([p.post[l][1][:, i] for l, i in addr], -1)
    return A, c


def _affine_moments(mom: Moments, A: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum over regions of the moments of piecewise-affine functions (module docstring).

    Args:
        mom: moments with leading shape ``(G, R)``. A: ``(R, 2, n)``. c: ``(G, R, n)``
            offsets (per group, so that they can be centred per group).
    Returns:
        ``first (G, n)`` = ``E[y 1_domain]`` and ``second (G, n, n)`` = ``E[y y^T 1_domain]``.
    """
    Am1 = np.einsum("gri,rin->grn", mom.m1, A)
    first = Am1.sum(1) + np.einsum("gr,grn->gn", mom.m0, c)
    cross = np.einsum("grn,grm->gnm", Am1, c)
    second = (np.einsum("rin,grij,rjm->gnm", A, mom.m2, A) + cross + np.swapaxes(cross, 1, 2)
              + np.einsum("gr,grn,grm->gnm", mom.m0, c, c))
    return first, second


def _lipschitz(p: Partition, neurons: Sequence[tuple[int, int]]) -> np.ndarray:
    """``(n,)`` global Lipschitz bounds of the neurons' post-activations (product of spectral
    norms of the earlier layers, the neuron's incoming weight norm, activation slopes)."""
    slope = max(abs(piece[2]) for piece in get_activation(p.activation).pieces)
    norms = [np.linalg.norm(W, 2) for W, _ in p.layers]
    n_hidden = len(p.layers) - 1
    out = []
    for layer, i in neurons:
        own = np.linalg.norm(p.layers[layer][0][:, i]) * (slope if layer < n_hidden else 1.0)
        out.append(own * np.prod([slope * norms[m] for m in range(layer)]))
    return np.array(out)


def _tail_bounds(p: Partition, dist, group_weights, neurons, A, c):
    """Rigorous bounds on ``P(out)`` ``(G,)``, ``|E[y 1_out]|`` ``(G, n)`` and
    ``|E[y y^T 1_out]|`` ``(G, n, n)`` per component weighting (not normalised).

    See the module docstring (Lipschitz growth + Rayleigh tail beyond the inscribed
    Mahalanobis disk).
    """
    means = np.asarray(dist.means, np.float64)
    covs = np.asarray(dist.covs, np.float64)
    dom = p.domain
    edge = np.roll(dom, -1, 0) - dom
    normal = np.stack([edge[:, 1], -edge[:, 0]], 1) / np.linalg.norm(edge, axis=1)[:, None]
    # distance of mu_k inside each edge line, in units of the component's std along the normal
    depth = np.einsum("ei,kei->ke", normal, dom[None] - means[:, None])
    std = np.sqrt(np.einsum("ei,kij,ej->ke", normal, covs, normal))
    rho = np.maximum((depth / std).min(1), 0.0)
    sigma = np.sqrt(np.linalg.eigvalsh(covs)[:, -1])
    tail = np.exp(-0.5 * rho**2)
    P0, P1, P2 = tail, rho * tail + np.sqrt(2 * np.pi) * ndtr(-rho), (rho**2 + 2) * tail
    lip = _lipschitz(p, [neuron_address(p, nrn) for nrn in neurons])
    # |y(mu_k)| <= |y(x0)| + Lip |mu_k - x0| at an anchor x0 in the domain (mu_k if inside)
    r = p.locate(means)
    anchor = np.where((r >= 0)[:, None], means, p.centroids[0])
    ra = np.where(r >= 0, r, 0)
    y0 = np.abs(np.einsum("ki,kin->kn", anchor, A[ra]) + c[ra])
    alpha = y0 + lip[None] * np.linalg.norm(means - anchor, axis=1)[:, None]  # (K, n)
    b = lip[None] * sigma[:, None]  # (K, n)
    first = alpha * P0[:, None] + b * P1[:, None]
    second = (alpha[:, :, None] * alpha[:, None, :] * P0[:, None, None]
              + (alpha[:, :, None] * b[:, None, :] + b[:, :, None] * alpha[:, None, :])
              * P1[:, None, None]
              + b[:, :, None] * b[:, None, :] * P2[:, None, None])
    return group_weights @ P0, group_weights @ first, np.tensordot(group_weights, second, (1, 0))


def _stats(p: Partition, dist, neurons, group_weights) -> LayerMoments:
    """Means and covariances of the given neurons under each component weighting.

    The covariance is computed from the centred maps ``y - E[y]`` (no cancellation).
    Error bounds: with ``delta = E[y] - m`` (``|delta| <= b1``), the domain estimate is
    ``Cov + delta delta^T - E[(y - m)(y - m)^T 1_out]``, bounded termwise by the tail bounds.

    Args:
        neurons: ``n`` addresses. group_weights: ``(G, K)``.
    Returns:
        :class:`LayerMoments` with a leading ``(G,)`` axis on every array.
    """
    A, c = _columns(p, neurons)
    mom = _region_moments(p, dist, group_weights)
    G = len(group_weights)
    norm = group_weights.sum(1)
    mean = _affine_moments(mom, A, np.broadcast_to(c, (G,) + c.shape))[0] / norm[:, None]
    cov = _affine_moments(mom, A, c[None] - mean[:, None, :])[1] / norm[:, None, None]
    b0, b1, b2 = _tail_bounds(p, dist, group_weights, neurons, A, c)
    b0, b1, b2 = b0 / norm, b1 / norm[:, None], b2 / norm[:, None, None]
    m = np.abs(mean)
    cov_bound = (b2 + m[:, :, None] * b1[:, None, :] + b1[:, :, None] * m[:, None, :]
                 + m[:, :, None] * m[:, None, :] * b0[:, None, None]
                 + b1[:, :, None] * b1[:, None, :])
    return LayerMoments(mean, cov, b1, cov_bound, domain_mass_outside(p, dist))


def _layer_neurons(p: Partition, layer: int) -> list[tuple[int, int]]:
    layer, _ = neuron_address(p, (layer, 0))
    return [(layer, i) for i in range(p.widths[layer + 1])]


def layer_moments(p: Partition, dist, layer: int) -> LayerMoments:
    """Exact means and covariance of every post-activation of ``layer`` under ``dist``.

    Args:
        p: partition of a 2-input network. dist: 2-D Gaussian mixture.
        layer: hidden layer index (the last index is the logits).
    Returns:
        :class:`LayerMoments` (``mean (W,)``, ``cov (W, W)`` and their error bounds).
    """
    return _moments_of(p, dist, _layer_neurons(p, layer))


def _moments_of(p: Partition, dist, neurons) -> LayerMoments:
    w, _ = _groups(dist)
    s = _stats(p, dist, neurons, w[None])
    return LayerMoments(*(x[0] for x in s[:4]), s.mass_outside)


def neuron_expectation(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``E[y]`` of neuron ``(layer, index)``'s post-activation under ``dist`` (exact)."""
    m = _moments_of(p, dist, [neuron])
    return Exact(float(m.mean[0]), float(m.mean_bound[0]), m.mass_outside)


def neuron_variance(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``Var[y]`` of neuron ``(layer, index)``'s post-activation under ``dist`` (exact)."""
    m = _moments_of(p, dist, [neuron])
    return Exact(float(m.cov[0, 0]), float(m.cov_bound[0, 0]), m.mass_outside)


def neuron_covariance(p: Partition, dist, n1: Sequence[int], n2: Sequence[int]) -> Exact:
    """``Cov[y1, y2]`` of two neurons (any layers) under ``dist`` (exact)."""
    m = _moments_of(p, dist, [n1, n2])
    return Exact(float(m.cov[0, 1]), float(m.cov_bound[0, 1]), m.mass_outside)


def neuron_correlation(p: Partition, dist, n1: Sequence[int], n2: Sequence[int]) -> Exact:
    """Pearson correlation of two neurons under ``dist`` (exact).

    The error bound propagates the covariance bounds through ``c / sqrt(v1 v2)`` by interval
    arithmetic (extremes over the corners of the error box). When a variance does not exceed
    its own error bound (a dead or constant neuron) the correlation is undefined: NaN value
    and bound.
    """
    m = _moments_of(p, dist, [n1, n2])
    (v1, c12), (_, v2) = m.cov
    (e1, ec), (_, e2) = m.cov_bound
    if v1 <= e1 or v2 <= e2:
        return Exact(float("nan"), float("nan"), m.mass_outside)
    value = c12 / np.sqrt(v1 * v2)
    corners = [(c12 + sc * ec) / np.sqrt((v1 + s1 * e1) * (v2 + s2 * e2))
               for sc in (-1, 1) for s1 in (-1, 1) for s2 in (-1, 1)]
    return Exact(float(value), float(np.max(np.abs(np.array(corners) - value))), m.mass_outside)


def class_conditional_means(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``E[y | Y = c]`` for every class ``c``: ``value (C,)``, ``error_bound (C,)``."""
    _, cw = _groups(dist)
    s = _stats(p, dist, [neuron], cw)
    return Exact(s.mean[:, 0], s.mean_bound[:, 0], s.mass_outside)


# ----------------------------------------------------------------------------- decisions


def _prediction_cells(p: Partition) -> tuple[np.ndarray, np.ndarray]:
    """Polygons where the network predicts each class, ties to the lowest index (np.argmax).

    Returns:
        padded polygons ``(N, M, 2)`` (:func:`~toylab.exact.gaussian.pad_csr`) and their
        ``label (N,)``. A class cell on which a lower
        class's logit is identically equal (a tie over positive area) is dropped; cells of
        different classes otherwise overlap only along edges (measure zero).
    """
    cells = class_cells(p)
    A, c = p.pre[-1]
    reg, lab = np.repeat(cells.region, cells.counts), np.repeat(cells.label, cells.counts)
    scale = geo.length_scale(p.domain)
    shadowed = np.zeros(len(cells.counts), bool)
    for j in range(A.shape[2]):
        av, cv = A[reg, :, lab] - A[reg, :, j], c[reg, lab] - c[reg, j]
        diff = cells.verts[:, 0] * av[:, 0] + cells.verts[:, 1] * av[:, 1] + cv
        tied = (np.abs(diff) <= geo.affine_tol(av, cv, scale)) & (j < lab)
        shadowed |= geo.segment_sum(tied.astype(float), cells.counts) == cells.counts
    keep = ~shadowed
    return pad_csr(cells.verts[np.repeat(keep, cells.counts)], cells.counts[keep]), cells.label[keep]


def population_accuracy(p: Partition, dist) -> Exact:
    """Exact accuracy ``sum_c pi_c P(argmax logits = c | Y = c)`` of the network under ``dist``.

    The class cells (regions clipped to where each logit is largest,
    :func:`~toylab.exact.boundary.class_cells`) are polygons, so each term is a closed-form
    Gaussian polygon mass. Ties go to the lowest class index, as ``np.argmax``.

    Returns:
        :class:`Exact`; ``error_bound = mass_outside`` (points outside the domain may be
        classified either way).
    """
    _check_dist(dist)
    _check_plane(p)
    polys, label = _prediction_cells(p)
    out = domain_mass_outside(p, dist)
    m0 = mixture_polygon_moments(polys, dist).m0  # (K, N)
    correct = np.asarray(dist.labels)[:, None] == label[None, :]
    value = float(np.sum(np.asarray(dist.weights)[:, None] * correct * m0))
    return Exact(value, out, out)


def population_risk(p: Partition, dist) -> Exact:
    """Exact 0-1 risk ``1 - accuracy`` under ``dist`` (see :func:`population_accuracy`)."""
    acc = population_accuracy(p, dist)
    return Exact(1.0 - acc.value, acc.error_bound, acc.mass_outside)


def excess_risk(p: Partition, dist) -> Exact:
    """``risk - Bayes error``; ``error_bound`` adds the Bayes error's own bound
    (``dist.bayes_error_with_bound()``) to the risk's."""
    risk = population_risk(p, dist)
    bayes = dist.bayes_error_with_bound()
    return Exact(risk.value - bayes.value, risk.error_bound + bayes.error_bound, risk.mass_outside)


# ----------------------------------------------------------------------------- boundaries


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


_BOX_NORMALS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def _box_halfplanes(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(normals (4, 2), offsets (4,))`` with ``n . x + o >= 0`` inside ``box``."""
    return _BOX_NORMALS, np.array([-box[0, 0], box[0, 1], -box[1, 0], box[1, 1]])


def _clip_segments(S: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Parts of segments ``S (n, 2, 2)`` in ``{x : normals @ x + offsets >= 0}`` (Liang-Barsky)."""
    a, d = S[:, 0], S[:, 1] - S[:, 0]
    num, den = a @ normals.T + offsets, d @ normals.T  # constraint: num + t den >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -num / den
    lo = np.max(np.where(den > 0, t, -np.inf), 1, initial=0.0)
    hi = np.min(np.where(den < 0, t, np.inf), 1, initial=1.0)
    ok = (lo < hi) & ~np.any((den == 0) & (num < 0), 1)
    return np.stack([a + lo[:, None] * d, a + hi[:, None] * d], 1)[ok]


def _point_segment_distances(P: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``(n, m)`` Euclidean distances from points ``P (n, 2)`` to segments ``S (m, 2, 2)``."""
    a, d = S[:, 0], S[:, 1] - S[:, 0]
    L2 = np.sum(d * d, 1)
    rel = P[:, None, :] - a[None]
    t = np.clip(np.sum(rel * d[None], 2) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    return np.linalg.norm(rel - t[..., None] * d[None], axis=2)


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
        Dp = _point_segment_distances(p[s:s + step], T)
        Dq = _point_segment_distances(q[s:s + step], T)
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
    normals, offsets = _box_halfplanes(box)
    if others:
        normals = np.vstack([normals] + [o[None, 1:] for o in others])
        offsets = np.concatenate([offsets, [o[0] for o in others]])
    return _clip_segments(_line_in_box(g, box), normals, offsets)


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
    segs = _clip_segments(segs, *_box_halfplanes(box))
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


def hausdorff_to_bayes(p: Partition, dist, i: int = 0, j: int = 1, *, box=None,
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
        p: partition of a 2-input network. dist: 2-D Gaussian mixture.
        i, j: distinct classes. box: ``(2, 2)``, default ``dist.domain``.
        tol: accuracy target. grid: marching-squares resolution for curved boundaries.
    Returns:
        :class:`BoundaryDistance`; ``inf`` when exactly one of the two boundaries is empty in
        the box, 0 when both are.
    """
    _check_dist(dist)
    _check_plane(p)
    box = np.asarray(dist.domain if box is None else box, np.float64)
    if box.shape != (2, 2) or not np.all(box[:, 0] < box[:, 1]):
        raise ValueError(f"box={box.tolist()} must be [[xlo, xhi], [ylo, yhi]] with lo < hi")
    if not tol > 0:
        raise ValueError(f"tol={tol!r} must be positive, e.g. 1e-8")
    segs, pairs = decision_boundary(p, classes=True)
    learned = _clip_segments(segs[(pairs[:, 0] == min(i, j)) & (pairs[:, 1] == max(i, j))],
                             *_box_halfplanes(box))
    bayes, residual, exact = bayes_segments(dist, i, j, box, tol=tol, grid=grid)
    h1 = _directed_hausdorff(learned, bayes, tol)
    h2 = _directed_hausdorff(bayes, learned, tol)
    if len(learned) == 0 and len(bayes) == 0:
        h1 = h2 = 0.0
    tolerance = tol if exact else 2 * tol + residual
    return BoundaryDistance(max(h1, h2), tolerance, h1, h2, exact, box)
