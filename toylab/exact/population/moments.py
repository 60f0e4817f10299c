"""Population quantities of exactly partitioned networks under a 2-D Gaussian mixture.

One object carries a partition under a distribution: :class:`PopulationPartition` (built by
:func:`population_partition`) is a :class:`~toylab.exact.partition.Partition` (every partition
consumer takes it) that also holds the distribution, and integrates each region once under
every mixture component (the closed forms below); region masses, accuracy, risk, excess risk,
region counts and all neuron moments are read from those moments, each computed at most once
per object (lazily, on first use). The module functions (``layer_moments(p, dist, layer)``,
``population_accuracy(p, dist)``, ...) take a plain partition with its distribution, or a
:class:`PopulationPartition` (``dist`` then optional), and read from it.

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

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import NamedTuple, Sequence

import numpy as np
from scipy.special import ndtr

from toylab.exact import geometry as geo
from toylab.exact.boundary import class_cells
from toylab.exact.gaussian import Moments, check_plane_mixture, mixture_polygon_moments, pad_csr
from toylab.exact.partition import Partition, neuron_address, partition
from toylab.models import as_layers, check_finite_layers, get_activation

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


def check_input_plane(p: Partition) -> None:
    """Raise a ValueError unless ``p`` partitions a 2-input network over its own input plane
    (population integrals are over the input plane, not over a slice of a larger input)."""
    if p.widths[0] != 2 or np.any(p.origin != 0) or np.any(p.directions != np.eye(2)):
        raise ValueError(
            f"partition is of a {p.widths[0]}-D network or of a 2-D slice (origin "
            f"{p.origin.tolist()}, directions {p.directions.tolist()}); population quantities "
            "need the partition of a 2-input network over its own input plane"
        )


_PARTITION_CACHE = frozenset(name for name, attr in vars(Partition).items()
                             if isinstance(attr, cached_property))
"""Names of :class:`Partition`'s cached properties (shared with a PopulationPartition of it)."""


# ----------------------------------------------------------------------------- the object


@dataclass(frozen=True, eq=False, repr=False)
class PopulationPartition(Partition):
    """A partition under a 2-D Gaussian mixture, with its population quantities.

    A :class:`~toylab.exact.partition.Partition` (every field, property and method; pass it
    wherever a partition is taken) plus the distribution ``dist``. Build it with
    :func:`population_partition` (a box carrying all but ``1e-12`` of the probability) or
    :func:`as_population` (any partition of a 2-input network over its input plane).

    Every quantity is read from the per-component region moments
    :attr:`component_moments`, integrated once (closed forms of :mod:`toylab.exact.gaussian`);
    each cached property below is computed on first use and then kept.

    Attributes:
        dist: the 2-D Gaussian mixture (``toylab.data.GaussianMixture``).
        component_moments: :class:`~toylab.exact.gaussian.Moments`, leading shape ``(K, R)``:
            every region's moments under every component (unweighted).
        moments: mixture moments of every region, ``m0 (R,)``, ``m1 (R, 2)``, ``m2 (R, 2, 2)``.
        class_moments: joint moments with each class, ``E[. 1_{P_r} 1_{Y = c}]``, leading
            shape ``(C, R)``.
        mass_outside: probability outside the domain (closed form, accuracy ~1e-15).
        region_masses: :class:`RegionMasses`.
        accuracy, risk, excess_risk: :class:`Exact` 0-1 accuracy, risk and risk minus the Bayes
            error (see :func:`population_accuracy`, :func:`excess_risk`).

    Neuron moments: :meth:`layer_moments`, :meth:`neuron_expectation`,
    :meth:`neuron_variance`, :meth:`neuron_covariance`, :meth:`neuron_correlation`,
    :meth:`class_conditional_means`; region counts: :meth:`regions_carrying`.
    """

    dist: object

    def __post_init__(self):
        check_plane_mixture(self.dist)
        check_input_plane(self)
        check_finite_layers(self.layers, name="the partition's network")

    def __repr__(self) -> str:
        name = getattr(self.dist, "name", type(self.dist).__name__)
        return (f"PopulationPartition({len(self)} regions, widths={self.widths}, "
                f"activation={self.activation!r}, dist={name!r})")

    # ------------------------------------------------------------------ integrals (once)

    @cached_property
    def component_moments(self) -> Moments:
        return mixture_polygon_moments(pad_csr(self.vertices, self.counts), self.dist)

    @cached_property
    def _weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Component weights ``(1, K)`` of the mixture and ``(C, K)`` of each class
        (``w_k [label_k = c]``, not normalised)."""
        w = np.asarray(self.dist.weights, np.float64)
        labels = np.asarray(self.dist.labels)
        onehot = labels[None, :] == np.arange(self.dist.n_classes)[:, None]
        return w[None], onehot * w[None, :]

    def _grouped(self, group_weights: np.ndarray) -> Moments:
        """Region moments for each weighting ``(G, K)`` of the components: leading ``(G, R)``."""
        return Moments(*(np.tensordot(group_weights, m, axes=(1, 0))
                         for m in self.component_moments))

    @cached_property
    def _mixture_moments(self) -> Moments:
        return self._grouped(self._weights[0])

    @cached_property
    def class_moments(self) -> Moments:
        return self._grouped(self._weights[1])

    @property
    def moments(self) -> Moments:
        return Moments(*(m[0] for m in self._mixture_moments))

    @cached_property
    def mass_outside(self) -> float:
        inside = np.asarray(self.dist.weights) @ mixture_polygon_moments(self.domain, self.dist).m0
        return float(np.clip(1.0 - inside, 0.0, 1.0))

    @cached_property
    def region_masses(self) -> RegionMasses:
        return RegionMasses(self._mixture_moments.m0[0], self.class_moments.m0,
                            self.mass_outside)

    @cached_property
    def accuracy(self) -> Exact:
        polys, label = _prediction_cells(self)
        m0 = mixture_polygon_moments(polys, self.dist).m0  # (K, N)
        correct = np.asarray(self.dist.labels)[:, None] == label[None, :]
        value = float(np.sum(np.asarray(self.dist.weights)[:, None] * correct * m0))
        return Exact(value, self.mass_outside, self.mass_outside)

    @property
    def risk(self) -> Exact:
        acc = self.accuracy
        return Exact(1.0 - acc.value, acc.error_bound, acc.mass_outside)

    @cached_property
    def excess_risk(self) -> Exact:
        risk, bayes = self.risk, self.dist.bayes_error_with_bound()
        return Exact(risk.value - bayes.value, risk.error_bound + bayes.error_bound,
                     risk.mass_outside)

    # ------------------------------------------------------------------ read-outs

    def regions_carrying(self, mass: float = 0.99) -> int:
        """Fewest regions whose total probability is at least ``mass`` (in ``(0, 1]``)."""
        masses = self.region_masses.value
        total = masses.sum()
        if not 0 < mass <= total:
            raise ValueError(
                f"mass={mass!r} must lie in (0, {total:.17g}], the probability the partition "
                "covers; build the partition with population_partition for whole-plane coverage"
            )
        cum = np.cumsum(np.sort(masses)[::-1])
        return int(np.searchsorted(cum, mass) + 1)

    def moments_of(self, neurons: Sequence[Sequence[int]], *,
                   per_class: bool = False) -> LayerMoments:
        """Means and covariance of the post-activations of ``neurons`` (``n`` addresses
        ``(layer, index)``, any layers).

        Args:
            neurons: the neurons; per_class: condition on each class ``Y = c`` instead.
        Returns:
            :class:`LayerMoments` with ``mean (n,)``, ``cov (n, n)`` (``(C, n)``,
            ``(C, n, n)`` with ``per_class``) and their error bounds.
        """
        if per_class:
            return _stats(self, neurons, self._weights[1], self.class_moments)
        s = _stats(self, neurons, self._weights[0], self._mixture_moments)
        return LayerMoments(*(x[0] for x in s[:4]), s.mass_outside)

    def layer_moments(self, layer: int) -> LayerMoments:
        """Exact means and covariance of every post-activation of ``layer`` (hidden layer
        index; the last index is the logits): ``mean (W,)``, ``cov (W, W)``, error bounds."""
        layer, _ = neuron_address(self, (layer, 0))
        return self.moments_of([(layer, i) for i in range(self.widths[layer + 1])])

    def neuron_expectation(self, neuron: Sequence[int]) -> Exact:
        """``E[y]`` of neuron ``(layer, index)``'s post-activation (exact)."""
        m = self.moments_of([neuron])
        return Exact(float(m.mean[0]), float(m.mean_bound[0]), m.mass_outside)

    def neuron_variance(self, neuron: Sequence[int]) -> Exact:
        """``Var[y]`` of neuron ``(layer, index)``'s post-activation (exact)."""
        m = self.moments_of([neuron])
        return Exact(float(m.cov[0, 0]), float(m.cov_bound[0, 0]), m.mass_outside)

    def neuron_covariance(self, n1: Sequence[int], n2: Sequence[int]) -> Exact:
        """``Cov[y1, y2]`` of two neurons (any layers) (exact)."""
        m = self.moments_of([n1, n2])
        return Exact(float(m.cov[0, 1]), float(m.cov_bound[0, 1]), m.mass_outside)

    def neuron_correlation(self, n1: Sequence[int], n2: Sequence[int]) -> Exact:
        """Pearson correlation of two neurons (exact).

        The error bound propagates the covariance bounds through ``c / sqrt(v1 v2)`` by
        interval arithmetic (extremes over the corners of the error box). When a variance does
        not exceed its own error bound (a dead or constant neuron) the correlation is
        undefined: NaN value and bound.
        """
        m = self.moments_of([n1, n2])
        (v1, c12), (_, v2) = m.cov
        (e1, ec), (_, e2) = m.cov_bound
        if v1 <= e1 or v2 <= e2:
            return Exact(float("nan"), float("nan"), m.mass_outside)
        value = c12 / np.sqrt(v1 * v2)
        corners = [(c12 + sc * ec) / np.sqrt((v1 + s1 * e1) * (v2 + s2 * e2))
                   for sc in (-1, 1) for s1 in (-1, 1) for s2 in (-1, 1)]
        return Exact(float(value), float(np.max(np.abs(np.array(corners) - value))),
                     m.mass_outside)

    def class_conditional_means(self, neuron: Sequence[int]) -> Exact:
        """``E[y | Y = c]`` for every class ``c``: ``value (C,)``, ``error_bound (C,)``."""
        s = self.moments_of([neuron], per_class=True)
        return Exact(s.mean[:, 0], s.mean_bound[:, 0], s.mass_outside)

    # ------------------------------------------------------------------ tail bounds

    @cached_property
    def _component_tails(self):
        """Per component: Rayleigh tail integrals ``P0, P1, P2 (K,)`` beyond the largest
        inscribed Mahalanobis disk, largest std ``sigma (K,)``, an anchor point in the domain
        ``(K, 2)`` (the mean if inside), its region ``(K,)`` and its distance to the mean."""
        means = np.asarray(self.dist.means, np.float64)
        covs = np.asarray(self.dist.covs, np.float64)
        dom = self.domain
        edge = np.roll(dom, -1, 0) - dom
        normal = np.stack([edge[:, 1], -edge[:, 0]], 1) / np.linalg.norm(edge, axis=1)[:, None]
        # distance of mu_k inside each edge line, in units of the component's std along the normal
        depth = np.einsum("ei,kei->ke", normal, dom[None] - means[:, None])
        std = np.sqrt(np.einsum("ei,kij,ej->ke", normal, covs, normal))
        rho = np.maximum((depth / std).min(1), 0.0)
        sigma = np.sqrt(np.linalg.eigvalsh(covs)[:, -1])
        tail = np.exp(-0.5 * rho**2)
        P = (tail, rho * tail + np.sqrt(2 * np.pi) * ndtr(-rho), (rho**2 + 2) * tail)
        r = self.locate(means)
        anchor = np.where((r >= 0)[:, None], means, self.centroids[0])
        return P, sigma, anchor, np.where(r >= 0, r, 0), np.linalg.norm(means - anchor, axis=1)


def as_population(p: Partition, dist=None) -> PopulationPartition:
    """``p`` under ``dist`` as a :class:`PopulationPartition`.

    Returns ``p`` itself when it already is one of ``dist`` (the same object) or ``dist`` is
    None; otherwise a new one sharing ``p``'s arrays and already computed properties (the
    population quantities are then integrated afresh for ``dist``).

    Args:
        p: partition of a 2-input network over its input plane (finite weights).
        dist: 2-D Gaussian mixture; optional when ``p`` is a :class:`PopulationPartition`.
    """
    if isinstance(p, PopulationPartition) and (dist is None or dist is p.dist):
        return p
    if not isinstance(p, Partition):
        raise TypeError(f"p is a {type(p).__name__}; pass a toylab.exact.partition.Partition or "
                        "a PopulationPartition (population_partition(net, dist))")
    if dist is None:
        raise ValueError("dist=None needs a PopulationPartition; pass the distribution with a "
                         "plain Partition, or build it with population_partition(net, dist)")
    out = PopulationPartition(**{f.name: getattr(p, f.name) for f in fields(Partition) if f.init},
                              dist=dist)
    vars(out).update({k: v for k, v in vars(p).items() if k in _PARTITION_CACHE})
    return out


def population_partition(net, dist, *, activation: str | None = None,
                         mass_outside: float = DEFAULT_MASS_OUTSIDE, box=None,
                         max_regions: int = 1_000_000) -> PopulationPartition:
    """Exact partition of ``net`` over a box carrying all but ``mass_outside`` of ``dist``,
    with its population quantities (:class:`PopulationPartition`).

    Args:
        net: MLP or layer list with 2 inputs (finite weights); activation: required with a
            layer list.
        dist: 2-D Gaussian mixture (``toylab.data.GaussianMixture``).
        mass_outside: probability allowed outside the domain (``dist.covering_box``).
        box: ``(2, 2)`` box to include as well; default ``dist.domain``.
        max_regions: passed to :func:`~toylab.exact.partition.partition`.
    Returns:
        :class:`PopulationPartition` on the union (bounding box) of
        ``dist.covering_box(mass_outside)`` and ``box``.
    """
    check_plane_mixture(dist)
    if not 0 < mass_outside < 1:
        raise ValueError(f"mass_outside={mass_outside!r} must lie in (0, 1), e.g. 1e-12")
    layers, name = as_layers(net, activation, dtype=np.float64)
    check_finite_layers(layers)
    cover = np.asarray(dist.covering_box(mass_outside), np.float64)
    box = np.asarray(dist.domain if box is None else box, np.float64)
    if box.shape != (2, 2):
        raise ValueError(f"box has shape {box.shape}; pass [[xlo, xhi], [ylo, yhi]]")
    domain = np.stack([np.minimum(cover[:, 0], box[:, 0]), np.maximum(cover[:, 1], box[:, 1])], 1)
    return as_population(partition(layers, domain, activation=name, max_regions=max_regions),
                         dist)


# ----------------------------------------------------------------------------- neuron moments


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


def _tail_bounds(p: PopulationPartition, group_weights, neurons, A, c):
    """Rigorous bounds on ``P(out)`` ``(G,)``, ``|E[y 1_out]|`` ``(G, n)`` and
    ``|E[y y^T 1_out]|`` ``(G, n, n)`` per component weighting (not normalised).

    See the module docstring (Lipschitz growth + Rayleigh tail beyond the inscribed
    Mahalanobis disk).
    """
    (P0, P1, P2), sigma, anchor, ra, reach = p._component_tails
    lip = _lipschitz(p, [neuron_address(p, nrn) for nrn in neurons])
    # |y(mu_k)| <= |y(x0)| + Lip |mu_k - x0| at an anchor x0 in the domain (mu_k if inside)
    y0 = np.abs(np.einsum("ki,kin->kn", anchor, A[ra]) + c[ra])
    alpha = y0 + lip[None] * reach[:, None]  # (K, n)
    b = lip[None] * sigma[:, None]  # (K, n)
    first = alpha * P0[:, None] + b * P1[:, None]
    second = (alpha[:, :, None] * alpha[:, None, :] * P0[:, None, None]
              + (alpha[:, :, None] * b[:, None, :] + b[:, :, None] * alpha[:, None, :])
              * P1[:, None, None]
              + b[:, :, None] * b[:, None, :] * P2[:, None, None])
    return group_weights @ P0, group_weights @ first, np.tensordot(group_weights, second, (1, 0))


def _stats(p: PopulationPartition, neurons, group_weights, mom: Moments) -> LayerMoments:
    """Means and covariances of the given neurons under each component weighting.

    The covariance is computed from the centred maps ``y - E[y]`` (no cancellation).
    Error bounds: with ``delta = E[y] - m`` (``|delta| <= b1``), the domain estimate is
    ``Cov + delta delta^T - E[(y - m)(y - m)^T 1_out]``, bounded termwise by the tail bounds.

    Args:
        neurons: ``n`` addresses. group_weights: ``(G, K)``; mom: the region moments of
            these weightings, leading ``(G, R)``.
    Returns:
        :class:`LayerMoments` with a leading ``(G,)`` axis on every array.
    """
    A, c = _columns(p, neurons)
    G = len(group_weights)
    norm = group_weights.sum(1)
    mean = _affine_moments(mom, A, np.broadcast_to(c, (G,) + c.shape))[0] / norm[:, None]
    cov = _affine_moments(mom, A, c[None] - mean[:, None, :])[1] / norm[:, None, None]
    b0, b1, b2 = _tail_bounds(p, group_weights, neurons, A, c)
    b0, b1, b2 = b0 / norm, b1 / norm[:, None], b2 / norm[:, None, None]
    m = np.abs(mean)
    cov_bound = (b2 + m[:, :, None] * b1[:, None, :] + b1[:, :, None] * m[:, None, :]
                 + m[:, :, None] * m[:, None, :] * b0[:, None, None]
                 + b1[:, :, None] * b1[:, None, :])
    return LayerMoments(mean, cov, b1, cov_bound, p.mass_outside)


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


# ----------------------------------------------------------------------------- functions


def domain_mass_outside(p: Partition, dist=None) -> float:
    """Probability outside ``p``'s domain, ``1 - sum_k w_k P_k(domain)`` in closed form (float
    in ``[0, 1]``, absolute accuracy ~1e-15). Here and below ``p`` is a partition of a 2-input
    network over its input plane, or a :class:`PopulationPartition` (``dist`` then optional:
    None means ``p.dist``); ``dist`` is a 2-D Gaussian mixture."""
    return as_population(p, dist).mass_outside


def region_masses(p: Partition, dist=None) -> RegionMasses:
    """Exact probability of every linear region, overall and jointly with each class:
    :class:`RegionMasses` (``value (R,)``, ``per_class (C, R)``, ``mass_outside``)."""
    return as_population(p, dist).region_masses


def regions_carrying(p: Partition, dist=None, mass: float = 0.99) -> int:
    """The smallest ``n`` such that the ``n`` most probable regions carry ``>= mass`` (in
    ``(0, 1]``) of the probability (:meth:`PopulationPartition.regions_carrying`)."""
    return as_population(p, dist).regions_carrying(mass)


def layer_moments(p: Partition, dist, layer: int) -> LayerMoments:
    """Exact means and covariance of every post-activation of ``layer`` under ``dist``.

    Args:
        p, dist: as :func:`domain_mass_outside`. layer: hidden layer index (the last index is
            the logits).
    Returns:
        :class:`LayerMoments` (``mean (W,)``, ``cov (W, W)`` and their error bounds).
    """
    return as_population(p, dist).layer_moments(layer)


def neuron_expectation(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``E[y]`` of neuron ``(layer, index)``'s post-activation under ``dist`` (exact;
    ``dist`` None with a :class:`PopulationPartition`)."""
    return as_population(p, dist).neuron_expectation(neuron)


def neuron_variance(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``Var[y]`` of neuron ``(layer, index)``'s post-activation under ``dist`` (exact)."""
    return as_population(p, dist).neuron_variance(neuron)


def neuron_covariance(p: Partition, dist, n1: Sequence[int], n2: Sequence[int]) -> Exact:
    """``Cov[y1, y2]`` of two neurons (any layers) under ``dist`` (exact)."""
    return as_population(p, dist).neuron_covariance(n1, n2)


def neuron_correlation(p: Partition, dist, n1: Sequence[int], n2: Sequence[int]) -> Exact:
    """Pearson correlation of two neurons under ``dist`` (exact; NaN for a constant neuron,
    see :meth:`PopulationPartition.neuron_correlation`)."""
    return as_population(p, dist).neuron_correlation(n1, n2)


def class_conditional_means(p: Partition, dist, neuron: Sequence[int]) -> Exact:
    """``E[y | Y = c]`` for every class ``c``: ``value (C,)``, ``error_bound (C,)``."""
    return as_population(p, dist).class_conditional_means(neuron)


def population_accuracy(p: Partition, dist=None) -> Exact:
    """Exact accuracy ``sum_c pi_c P(argmax logits = c | Y = c)`` of the network under ``dist``.

    The class cells (regions clipped to where each logit is largest,
    :func:`~toylab.exact.boundary.class_cells`) are polygons, so each term is a closed-form
    Gaussian polygon mass. Ties go to the lowest class index, as ``np.argmax``.

    Returns:
        :class:`Exact`; ``error_bound = mass_outside`` (points outside the domain may be
        classified either way).
    """
    return as_population(p, dist).accuracy


def population_risk(p: Partition, dist=None) -> Exact:
    """Exact 0-1 risk ``1 - accuracy`` under ``dist`` (see :func:`population_accuracy`)."""
    return as_population(p, dist).risk


def excess_risk(p: Partition, dist=None) -> Exact:
    """``risk - Bayes error``; ``error_bound`` adds the Bayes error's own bound
    (``dist.bayes_error_with_bound()``) to the risk's."""
    return as_population(p, dist).excess_risk
