"""Do hidden neurons model the data distribution, or only the decision boundary?

Every hidden neuron's response ``f`` of a piecewise-linear network is affine on each linear
region ``P_r`` of the exact partition, ``f(x) = a_r . x + c_r``. Its population moments
``E[f]``, ``Var[f]`` are exact (closed-form Gaussian polygon moments,
:func:`toylab.exact.population.layer_moments`). Its correlation with a *non-affine* target
``g`` (class log-odds, a component's log-density, a signed distance to a boundary) needs

    E[f g] = sum_r a_r . E[X g(X) 1_{P_r}] + c_r E[g(X) 1_{P_r}],

so only the per-region target moments ``E[g 1_P]`` and ``E[X g 1_P]`` must be integrated:
:func:`toylab.compare.region_quadrature.region_integrals` does it by globally adaptive
Gauss-Legendre quadrature with an order-doubling error estimate.

The signed distances are exact (:func:`toylab.exact.geometry.segment_distance`; a traced
curved Bayes boundary to within :data:`BAYES_TRACE_TOL`).
So in a :class:`NeuronProfile`: ``mean``, ``std``, ``active_mass`` are exact; ``corr`` is
quadrature with the error estimate ``corr_error``; fold depths are exact; the density-weighted
fold-to-boundary distances are 1-D Gauss-Legendre with an order-doubling check.

Neuron kinds (:func:`classify`, thresholds in :class:`KindThresholds`):

* ``dead``: the neuron is constant on all but ``dead_mass`` of the probability (it varies
  only on regions of total probability ``< dead_mass``);
* ``boundary``: ``max |corr|`` with a boundary target (log-odds, signed distance to the Bayes
  or to the learned boundary) is ``>= corr`` and the best density target is below ``corr``;
* ``density``: ``max |corr|`` with the mixture's or a component's log-density is ``>= corr``,
  boundary targets below;
* ``both``: both families reach ``corr``; ``other``: neither does.

Independently, a neuron's *fold* (where its pre-activation crosses a breakpoint) is
``at_boundary`` when it reaches into the data (minimum Mahalanobis distance to a component
mean ``<= fold_depth``) and its density-weighted mean distance to the learned decision
boundary is ``<= fold_radius``.

Only two-class 2-D mixtures are supported (the log-odds and the signed distances need the
sign of one class pair); anything else raises a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy.special import logsumexp

from toylab.compare.editing import hidden_neurons
from toylab.compare.region_quadrature import QUADRATURE_ORDER, region_integrals
from toylab.exact import geometry as geo
from toylab.exact.boundary import decision_boundary, folds
from toylab.exact.partition import Partition
from toylab.exact.population import PopulationPartition, bayes_segments, population_partition

BAYES_TRACE_TOL = 1e-4
"""Sagitta tolerance of the traced Bayes boundary (curved log-odds), in input units: distances
to it are exact to within this."""


# ----------------------------------------------------------------------------- targets


def _check_binary(dist) -> None:
    if dist.n_classes != 2 or np.asarray(dist.means).shape[1] != 2:
        raise ValueError(
            f"dist={dist!r} has {dist.n_classes} classes in {np.asarray(dist.means).shape[1]}-D; "
            "boundary targets need a two-class 2-D mixture (e.g. toylab.data.curved())"
        )


class Targets(NamedTuple):
    """Named target functions of the input.

    Attributes:
        names: ``(J,)`` target names.
        evaluate: ``evaluate(X (n, 2), region (n,)) -> (n, J)``.
        bayes: ``(s, 2, 2)`` segments of the Bayes boundary; learned: of the learned one.
    """

    names: tuple[str, ...]
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray]
    bayes: np.ndarray
    learned: np.ndarray


BOUNDARY_TARGETS = ("log_odds", "distance_bayes", "distance_learned")
"""Targets that describe the decision boundary; the density targets are ``log_density`` (the
mixture) and ``log_density_k`` (the components)."""


def targets(p: Partition, dist) -> Targets:
    """The targets of the neurons-vs-boundary comparison for a network and a two-class mixture.

    * ``log_odds``: ``log(pi_1 p_1(x)) - log(pi_0 p_0(x))``;
    * ``log_density``: the mixture's ``log p(x)`` (where the data is, whatever its class);
    * ``log_density_k``: ``log N(x; mu_k, Sigma_k)`` of every component ``k``;
    * ``distance_bayes``: signed distance to the Bayes boundary (positive where class 1 wins);
    * ``distance_learned``: signed distance to the network's decision boundary (positive where
      logit 1 > logit 0), measured to its exact segments in ``p``'s domain.

    A boundary that does not cross the domain gives a constant 0 target (correlation NaN).

    Distances are exact for the learned boundary and for an affine Bayes boundary, and exact
    to within ``BAYES_TRACE_TOL`` for a traced (curved) one.
    """
    _check_binary(dist)
    if p.widths[-1] != 2:
        raise ValueError(f"net has {p.widths[-1]} outputs; a two-class mixture needs 2 logits")
    box = np.stack([p.domain.min(0), p.domain.max(0)], 1)
    bayes = bayes_segments(dist, 0, 1, box, tol=BAYES_TRACE_TOL).segments
    learned = decision_boundary(p)
    A, c = p.pre[-1]
    dA, dc = A[:, :, 1] - A[:, :, 0], c[:, 1] - c[:, 0]
    names = ("log_odds", "log_density") + tuple(
        f"log_density_{k}" for k in range(dist.n_components)) + ("distance_bayes",
                                                                 "distance_learned")

    def evaluate(X, region):
        joint = dist.class_log_joint(X)
        log_odds = joint[:, 1] - joint[:, 0]
        comp = dist.component_log_density(X)
        mixture = logsumexp(comp, axis=1)
        margin = np.einsum("nd,nd->n", X, dA[region]) + dc[region]
        return np.column_stack([log_odds, mixture, comp - np.log(dist.weights),
                                _signed(log_odds, X, bayes),
                                _signed(margin, X, learned)])

    return Targets(names, evaluate, bayes, learned)


def _signed(side: np.ndarray, X: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """``sign(side) * distance(X, segs)``; 0 everywhere when there is no boundary."""
    if len(segs) == 0:
        return np.zeros(len(X))
    return np.sign(side) * geo.segment_distance(X, segs)


# ----------------------------------------------------------------------------- folds


def fold_depth(segs: np.ndarray, dist) -> float:
    """Smallest Mahalanobis distance ``|L_k^{-1}(x - mu_k)|`` from any component mean to a
    fold ``(s, 2, 2)`` (exact); ``inf`` for an empty fold."""
    if len(segs) == 0:
        return float("inf")
    best = np.inf
    for mean, cov in zip(np.asarray(dist.means), np.asarray(dist.covs)):
        Z = (segs - mean) @ np.linalg.inv(np.linalg.cholesky(cov)).T
        best = min(best, float(geo.point_segment_distances(np.zeros(2), Z).min()))
    return best


def _weighted_line_mean(segs, dist, boundary: np.ndarray, order: int) -> float:
    t, w = np.polynomial.legendre.leggauss(order)
    t, w = (t + 1) / 2, w / 2
    X = segs[:, None, 0] + t[None, :, None] * (segs[:, None, 1] - segs[:, None, 0])
    length = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    logp = dist.log_density(X.reshape(-1, 2)).reshape(X.shape[:2])
    weight = np.exp(logp - logp.max()) * w * length[:, None]
    d = geo.segment_distance(X.reshape(-1, 2), boundary).reshape(X.shape[:2])
    return float(np.sum(weight * d) / np.sum(weight))


def fold_distance(segs: np.ndarray, dist, boundary: np.ndarray, *,
                  order: int = QUADRATURE_ORDER) -> tuple[float, float]:
    """Density-weighted mean distance from a fold ``(s, 2, 2)`` to a boundary ``(b, 2, 2)``,
    ``int_fold d(x) p(x) ds / int_fold p(x) ds`` (1-D Gauss-Legendre on each fold segment).

    Returns:
        ``(value, error)``: the ``2 order`` result and its order-doubling error estimate;
        ``(nan, nan)`` for an empty fold or boundary.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order={order!r} must be a positive integer, e.g. {QUADRATURE_ORDER}")
    if len(segs) == 0 or len(boundary) == 0:
        return float("nan"), float("nan")
    hi = _weighted_line_mean(segs, dist, boundary, 2 * order)
    return hi, abs(hi - _weighted_line_mean(segs, dist, boundary, order))


# ----------------------------------------------------------------------------- profiles


class NeuronProfile(NamedTuple):
    """How every hidden neuron relates to the data distribution and the boundaries.

    Attributes:
        neurons: ``(N, 2)`` int ``(layer, index)`` of each hidden neuron.
        targets: ``(J,)`` target names (:func:`targets`).
        mean, std: ``(N,)`` exact population mean and standard deviation.
        active_mass: ``(N,)`` exact probability of the regions where the neuron is not
            constant.
        corr: ``(N, J)`` population correlation with each target (NaN for a constant neuron).
        corr_error: ``(N, J)`` first-order error estimate of ``corr`` from the quadrature
            error estimates.
        fold_depth: ``(N,)`` exact smallest Mahalanobis distance of the fold from a mean.
        fold_to_bayes, fold_to_learned: ``(N,)`` density-weighted mean distance of the fold to
            the Bayes / learned boundary (NaN without fold).
        neglected_mass: probability outside the integration domain.
        converged: the quadrature met its error budget everywhere.
    """

    neurons: np.ndarray
    targets: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    active_mass: np.ndarray
    corr: np.ndarray
    corr_error: np.ndarray
    fold_depth: np.ndarray
    fold_to_bayes: np.ndarray
    fold_to_learned: np.ndarray
    neglected_mass: float
    converged: bool


def _hidden_maps(p: Partition) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All hidden neurons' post-activation maps: ``A (R, 2, N)``, ``c (R, N)``, ids ``(N, 2)``."""
    A = np.concatenate([p.post[l][0] for l in range(p.n_hidden)], 2)
    c = np.concatenate([p.post[l][1] for l in range(p.n_hidden)], 1)
    ids = hidden_neurons(p.widths)
    return A, c, ids


def _correlations(p: PopulationPartition, tg: Targets, *, order, rtol):
    """Correlations ``(N, J)`` of every hidden neuron with every target, and error estimates
    (neuron moments read from ``p``, integrated once)."""
    J = len(tg.names)
    ri = region_integrals(p, p.dist, lambda X, r: (lambda G: np.hstack([G, G * G]))(
        tg.evaluate(X, r)), order=order, rtol=rtol)
    A, c, _ = _hidden_maps(p)
    Eg, Eg2 = ri.m0.sum(0)[:J], ri.m0.sum(0)[J:]
    dEg, dEg2 = ri.m0_error.sum(0)[:J], ri.m0_error.sum(0)[J:]
    Efg = np.einsum("rdn,rjd->nj", A, ri.m1[:, :J]) + c.T @ ri.m0[:, :J]
    dEfg = np.einsum("rdn,rjd->nj", np.abs(A), ri.m1_error[:, :J]) + np.abs(c).T @ ri.m0_error[:, :J]
    moments = [p.layer_moments(l) for l in range(p.n_hidden)]
    Ef = np.concatenate([m.mean for m in moments])
    Vf = np.concatenate([np.diag(m.cov) for m in moments])
    Vg = Eg2 - Eg**2
    dVg = dEg2 + 2 * np.abs(Eg) * dEg
    sf, sg = np.sqrt(np.maximum(Vf, 0))[:, None], np.sqrt(np.maximum(Vg, 0))[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (Efg - Ef[:, None] * Eg[None]) / (sf * sg)
        err = ((dEfg + np.abs(Ef)[:, None] * dEg[None]) / (sf * sg)
               + np.abs(corr) * dVg[None] / (2 * Vg[None]))
    return Ef, np.sqrt(np.maximum(Vf, 0)), corr, err, ri


def _active_mass(p: PopulationPartition) -> np.ndarray:
    """``(N,)`` probability of the regions where each hidden neuron's gradient is non-zero."""
    A, _, _ = _hidden_maps(p)
    live = np.any(A != 0, axis=1)  # (R, N)
    return p.region_masses.value @ live


def neuron_profile(net, dist, *, activation: str | None = None, order: int = QUADRATURE_ORDER,
                   rtol: float = 1e-6) -> NeuronProfile:
    """Compare every hidden neuron of ``net`` with the data distribution and the boundaries.

    Args:
        net: MLP or layer list with 2 inputs and 2 logits; activation: required with a layer
            list, piecewise-linear.
        dist: two-class 2-D Gaussian mixture.
        order, rtol: quadrature settings
            (:func:`toylab.compare.region_quadrature.region_integrals`).
    Returns:
        :class:`NeuronProfile`.
    """
    _check_binary(dist)
    p = population_partition(net, dist, activation=activation)  # region moments: once
    tg = targets(p, dist)
    mean, std, corr, err, ri = _correlations(p, tg, order=order, rtol=rtol)
    _, _, ids = _hidden_maps(p)
    geometry = []
    for neuron in map(tuple, ids):
        segs = folds(p, neuron)
        geometry.append((fold_depth(segs, dist), fold_distance(segs, dist, tg.bayes)[0],
                         fold_distance(segs, dist, tg.learned)[0]))
    depth, to_bayes, to_learned = (np.array(g) for g in zip(*geometry))
    return NeuronProfile(ids, tg.names, mean, std, _active_mass(p), corr, err, depth,
                         to_bayes, to_learned, ri.neglected_mass, ri.converged)


# ----------------------------------------------------------------------------- kinds


KINDS = ("dead", "boundary", "density", "both", "other")
"""Neuron kinds of :func:`classify`, in this order."""


@dataclass(frozen=True)
class KindThresholds:
    """Thresholds of :func:`classify` (module docstring).

    Attributes:
        corr: ``|corr|`` a neuron needs with a target family to be of that kind.
        dead_mass: a neuron varying on less probability than this is dead.
        fold_depth: a fold reaches into the data within this Mahalanobis distance of a mean.
        fold_radius: a fold in the data is at the boundary when its density-weighted mean
            distance to the learned boundary is at most this (input units).
    """

    corr: float = 0.9
    dead_mass: float = 0.01
    fold_depth: float = 2.0
    fold_radius: float = 0.5

    def __post_init__(self):
        for name in ("corr", "dead_mass", "fold_depth", "fold_radius"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a positive finite number")
        if self.corr > 1 or self.dead_mass >= 1:
            raise ValueError(f"corr={self.corr} must be <= 1 and dead_mass={self.dead_mass} < 1")


class Kinds(NamedTuple):
    """Output of :func:`classify`.

    Attributes:
        kind: ``(N,)`` int index into :data:`KINDS`.
        boundary_corr: ``(N,)`` best ``|corr|`` with a boundary target.
        density_corr: ``(N,)`` best ``|corr|`` with the mixture or a component log-density.
        fold_in_data: ``(N,)`` bool; fold_at_boundary: ``(N,)`` bool.
    """

    kind: np.ndarray
    boundary_corr: np.ndarray
    density_corr: np.ndarray
    fold_in_data: np.ndarray
    fold_at_boundary: np.ndarray


def classify(profile: NeuronProfile, thresholds: KindThresholds = KindThresholds()) -> Kinds:
    """Assign every neuron a kind from :data:`KINDS` (rules in the module docstring)."""
    names = np.array(profile.targets)
    boundary = np.isin(names, BOUNDARY_TARGETS)
    density = np.char.startswith(names.astype(str), "log_density")
    absc = np.nan_to_num(np.abs(profile.corr), nan=0.0)
    b, d = absc[:, boundary].max(1), absc[:, density].max(1)
    hit_b, hit_d = b >= thresholds.corr, d >= thresholds.corr
    kind = np.select([profile.active_mass < thresholds.dead_mass, hit_b & hit_d, hit_b, hit_d],
                     [KINDS.index("dead"), KINDS.index("both"), KINDS.index("boundary"),
                      KINDS.index("density")], KINDS.index("other"))
    in_data = profile.fold_depth <= thresholds.fold_depth
    at_boundary = in_data & (np.nan_to_num(profile.fold_to_learned, nan=np.inf)
                             <= thresholds.fold_radius)
    return Kinds(kind, b, d, in_data, at_boundary)


def kind_fractions(kinds: Kinds) -> dict[str, float]:
    """Fraction of neurons of each kind, plus ``fold_in_data`` and ``fold_at_boundary``."""
    n = max(len(kinds.kind), 1)
    out = {name: float(np.count_nonzero(kinds.kind == i)) / n for i, name in enumerate(KINDS)}
    out["fold_in_data"] = float(np.mean(kinds.fold_in_data)) if len(kinds.kind) else 0.0
    out["fold_at_boundary"] = float(np.mean(kinds.fold_at_boundary)) if len(kinds.kind) else 0.0
    return out
