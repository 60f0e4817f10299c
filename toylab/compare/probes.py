"""What a neuron or a layer *could* reach: attainable first-layer correlations and exact
per-layer linear probes (issue 12, item 2), and random fold lines drawn like an
initialisation's (the random-fold null of every fold statistic).

- :func:`ramp_correlations` / :func:`attainable`: the population correlation of every
  first-layer ramp ``relu(u.x - b)`` with the class log-odds, the mixture log-density and each
  class's log-density, and the best ``|corr|`` any live ramp attains (the normaliser of a
  first-layer neuron's correlation with that target);
- :func:`probe_r2`: exact population R^2 of the best affine readout of a layer's neurons;
- :func:`line_segments` / :func:`bounding_box`: lines clipped to a box as equal pieces, so the
  density-weighted fold distances of :mod:`toylab.compare.neurons` apply to random lines.

Moved here from ``studies/neurons_vs_boundary.py`` (which re-exports them) so that the atlas
(:mod:`toylab.compare.atlas`) and every study can use them.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, logsumexp

from toylab.compare.neurons import NeuronProfile
from toylab.exact import geometry as geo

RAMP_TARGETS = ("log_odds", "log_density", "log_density_0", "log_density_1")
"""Targets of :func:`ramp_correlations` (named as in :func:`toylab.compare.neurons.targets`;
``distance_bayes`` equals ``log_odds`` up to scale when the classes share a covariance)."""

LINE_PIECES = 32
"""Equal pieces a random fold line is cut into for its density-weighted distances."""

GAUSS_HERMITE_NODES = 16
"""Nodes of the Gauss-Hermite rule along a ramp's level lines (:func:`ramp_correlations`)."""


def ramp_correlations(dist, *, angles: int = 180, points: int = 801,
                      nodes: int = GAUSS_HERMITE_NODES,
                      chunk: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Population correlation of every first-layer ramp ``f = relu(u.x - b)`` with the
    :data:`RAMP_TARGETS`, on a grid of directions ``u`` and offsets ``b``.

    ``f`` depends on ``x`` only through ``t = u.x``, so with ``s = v.x`` (``v`` orthogonal to
    ``u``) every moment is a 1-D integral over ``t`` of ``F_g(t) = int g(t u + s v) p(t, s) ds``:
    per mixture component ``s | t`` is Gaussian, so ``F_g`` is a Gauss-Hermite sum with
    ``nodes`` nodes (exact for the affine log-odds and the quadratic component log-densities,
    spectrally accurate for the smooth mixture log-density). The ``t`` integrals use the
    trapezoid rule on ``points`` offsets spanning every component's marginal +-9 sd; since
    ``f`` vanishes at ``t = b``, taking ``b`` on the grid makes the kink a grid point (error
    ``O(h^2)``).

    Args:
        dist: two-class 2-D Gaussian mixture; angles: directions ``u`` on the circle;
        points: offsets ``b`` per direction; chunk: directions evaluated at once (memory).
    Returns:
        ``theta (A,)``, ``b (A, M)``, ``mass (A, M)`` = ``P(u.x > b)`` (exact),
        ``corr (A, M, len(RAMP_TARGETS))``.
    """
    theta = np.linspace(0, 2 * np.pi, int(angles), endpoint=False)
    parts = [_ramp_chunk(dist, theta[i:i + chunk], int(points), int(nodes))
             for i in range(0, len(theta), chunk)]
    return (theta,) + tuple(np.concatenate(p) for p in zip(*parts))


def _ramp_chunk(dist, theta: np.ndarray, points: int, nodes: int):
    """:func:`ramp_correlations` for the directions ``theta``: ``(b, mass, corr)``."""
    means, covs, w = np.asarray(dist.means), np.asarray(dist.covs), np.asarray(dist.weights)
    U = np.stack([np.cos(theta), np.sin(theta)], 1)  # (A, 2)
    V = np.stack([-np.sin(theta), np.cos(theta)], 1)
    mt, ms = U @ means.T, V @ means.T  # (A, K) marginal means of t and s
    vt = np.einsum("ad,kde,ae->ak", U, covs, U)
    vs = np.einsum("ad,kde,ae->ak", V, covs, V)
    cts = np.einsum("ad,kde,ae->ak", U, covs, V)
    sd = np.sqrt(vt)
    lo, hi = (mt - 9 * sd).min(1), (mt + 9 * sd).max(1)
    t = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, points)[None]  # (A, M)
    h = ((hi - lo) / (points - 1))[:, None]
    z, gw = np.polynomial.hermite.hermgauss(nodes)
    gw = gw / np.sqrt(np.pi)
    # s | t, k ~ N(ms + cts (t - mt) / vt, vs - cts^2 / vt)
    cond_mean = ms[:, None] + (cts / vt)[:, None] * (t[..., None] - mt[:, None])  # (A, M, K)
    cond_sd = np.sqrt(np.maximum(vs - cts**2 / vt, 0.0))[:, None]  # (A, 1, K)
    S = cond_mean[..., None] + np.sqrt(2) * cond_sd[..., None] * z  # (A, M, K, Q)
    X = t[..., None, None, None] * U[:, None, None, None] + S[..., None] * V[:, None, None, None]
    G = _ramp_target_values(dist, X.reshape(-1, 2)).reshape(S.shape + (len(RAMP_TARGETS),))
    zt = (t[..., None] - mt[:, None]) / sd[:, None]  # (A, M, K)
    dens = w * np.exp(-0.5 * zt**2) / (np.sqrt(2 * np.pi) * sd[:, None])  # w_k p_k(t)
    P = dens.sum(-1)  # (A, M)
    F = np.einsum("amk,q,amkqj->amj", dens, gw, G)
    F2 = np.einsum("amk,q,amkqj->amj", dens, gw, G**2)
    Eg, Eg2 = h * F.sum(1), h * F2.sum(1)  # (A, J)

    def tail(values):  # h * sum_{i >= m} values_i, for every m
        return h.reshape((-1,) + (1,) * (values.ndim - 1)) * np.cumsum(values[:, ::-1], 1)[:, ::-1]

    A0, A1, A2 = tail(P), tail(t * P), tail(t * t * P)
    B0, B1 = tail(F), tail(t[..., None] * F)
    Ef = A1 - t * A0
    Ef2 = A2 - 2 * t * A1 + t * t * A0
    Efg = B1 - t[..., None] * B0
    var_f = np.maximum(Ef2 - Ef**2, 0.0)
    var_g = Eg2 - Eg**2
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (Efg - Ef[..., None] * Eg[:, None]) / np.sqrt(var_f[..., None] * var_g[:, None])
    mass = np.einsum("k,amk->am", w, 0.5 * erfc(zt / np.sqrt(2)))
    return t, mass, corr


def _ramp_target_values(dist, X: np.ndarray) -> np.ndarray:
    """``(n, len(RAMP_TARGETS))`` target values at ``X (n, 2)``."""
    joint = dist.class_log_joint(X)
    comp = dist.component_log_density(X)
    return np.column_stack([joint[:, 1] - joint[:, 0], logsumexp(comp, axis=1),
                            comp - np.log(dist.weights)])


def attainable(dist, *, angles: int, points: int, min_mass: float) -> np.ndarray:
    """``(len(RAMP_TARGETS),)`` best ``|corr|`` of a first-layer ramp that is active on at
    least ``min_mass`` of the probability (the dead-neuron cut), per target."""
    _, _, mass, corr = ramp_correlations(dist, angles=angles, points=points)
    ok = mass >= min_mass
    return np.array([np.nanmax(np.abs(corr[..., j])[ok]) for j in range(corr.shape[-1])])


def probe_r2(profile: NeuronProfile, covs: list[np.ndarray]) -> np.ndarray:
    """Exact population R^2 of the best affine readout of each hidden layer's neurons, per
    target: ``R^2 = c^T C^+ c / Var(g)`` with ``C`` the layer's exact covariance and
    ``c_i = Cov(f_i, g) = corr_i std_i std_g``, so ``R^2 = (corr std)^T C^+ (corr std)``
    (constant neurons contribute nothing).

    Args:
        profile: the network's :class:`~toylab.compare.neurons.NeuronProfile`.
        covs: per hidden layer the ``(N_l, N_l)`` covariance of its post-activations
            (:meth:`~toylab.exact.population.PopulationPartition.layer_moments`).
    Returns:
        ``(layers, targets)``.
    """
    out = []
    for layer, C in enumerate(covs):
        rows = profile.neurons[:, 0] == layer
        a = np.nan_to_num(profile.corr[rows]) * profile.std[rows, None]  # (N_l, J)
        out.append(np.einsum("ij,ik,kj->j", a, np.linalg.pinv(C, rcond=1e-10, hermitian=True), a))
    return np.array(out)


def line_segments(normals: np.ndarray, offsets: np.ndarray, box: np.ndarray, *,
                  pieces: int = LINE_PIECES) -> list[np.ndarray]:
    """The lines ``{x: normals_i . x + offsets_i = 0}`` clipped to ``box``, each as ``pieces``
    equal segments ``(pieces, 2, 2)`` (so the density-weighted distances of
    :func:`~toylab.compare.neurons.fold_distance` resolve the density along it), or
    ``(0, 2, 2)`` for a line that misses the box."""
    n2 = np.sum(normals**2, 1)
    x0 = -offsets[:, None] * normals / n2[:, None]
    d = np.stack([-normals[:, 1], normals[:, 0]], 1) / np.sqrt(n2)[:, None]
    half = np.linalg.norm(box[:, 1] - box[:, 0]) + np.linalg.norm(x0, axis=1)
    S = np.stack([x0 - half[:, None] * d, x0 + half[:, None] * d], 1)
    planes = geo.box_halfplanes(box)
    out = []
    for seg in S:
        clipped = geo.clip_segments(seg[None], *planes)
        if len(clipped):
            ends = clipped[0, 0] + np.linspace(0, 1, pieces + 1)[:, None] * (
                clipped[0, 1] - clipped[0, 0])
            clipped = np.stack([ends[:-1], ends[1:]], 1)
        out.append(clipped)
    return out


def bounding_box(p) -> np.ndarray:
    """``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]`` of a partition's domain."""
    return np.stack([p.domain.min(0), p.domain.max(0)], 1)
