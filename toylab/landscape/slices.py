"""Loss slices, filter-normalised directions, linear paths and trajectory projections.

Slices evaluate the training loss on a 1-D or 2-D affine grid ``theta + a d_1 (+ b d_2)``
(Goodfellow et al. 2015; Li et al. 2018). Random directions are filter-normalised
(Li et al. 2018, Sec. 4): every filter of the direction -- for a dense layer, the incoming
weight vector ``W[:, j]`` of neuron ``j`` -- is rescaled to the norm of the same filter of the
parameters. Biases: we follow Li et al.'s reference code (``ignore='biasbn'``, the default of
their ``plot_surface.py``), which sets the bias components of the direction to zero.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from toylab.landscape.problem import (
    check_direction,
    check_int,
    flat_params,
    float64,
    losses_at,
    resolve,
)
from toylab.landscape.subspace import check_orthonormal
from toylab.models import param_index


# ----------------------------------------------------------------------------- directions


def _filter_ids(widths) -> tuple[np.ndarray, np.ndarray]:
    """``(is_weight (P,), filter id (P,))``: the filter of a weight is its destination neuron."""
    idx = param_index(widths)
    offsets = np.concatenate([[0], np.cumsum(widths[1:])])
    return idx.source >= 0, offsets[idx.layer] + idx.neuron


def filter_normalize(direction, net) -> np.ndarray:
    """Filter-normalise a direction (Li et al. 2018, Eq. 1; biases zeroed as in their code).

    Args:
        direction: ``(P,)`` in the flat order.
        net: layer list or MLP giving the reference parameters ``theta``.
    Returns:
        ``(P,)``: ``d_f <- d_f |theta_f| / |d_f|`` for every filter ``f`` (a filter whose
        direction is zero stays zero), bias components 0.
    """
    theta, widths, _ = flat_params(net, need_activation=False)
    d = check_direction(direction, theta.size)
    is_weight, fid = _filter_ids(widths)
    n_filters = fid.max() + 1
    theta_norm = np.sqrt(np.bincount(fid[is_weight], theta[is_weight] ** 2, n_filters))
    d_norm = np.sqrt(np.bincount(fid[is_weight], d[is_weight] ** 2, n_filters))
    scale = np.divide(theta_norm, d_norm, out=np.zeros(n_filters), where=d_norm > 0)
    return np.where(is_weight, d * scale[fid], 0.0)


def random_direction(net, *, seed: int = 0) -> np.ndarray:
    """A filter-normalised Gaussian direction ``(P,)`` (Li et al. 2018), deterministic in
    ``seed`` (``np.random.default_rng``)."""
    theta, _, _ = flat_params(net, need_activation=False)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0, example="0"))
    return filter_normalize(rng.standard_normal(theta.size), net)


# ----------------------------------------------------------------------------- slices


class LossSlice(NamedTuple):
    """Loss on a grid ``theta + sum_j grids[j][a_j] directions[j]``.

    Attributes:
        grids: one ``(A_j,)`` coordinate array per direction.
        directions: ``(m, P)``, ``m`` in {1, 2}.
        losses: ``(A_1,)`` or ``(A_1, A_2)`` (``losses[a, b]`` at ``grids[0][a], grids[1][b]``).
    """

    grids: tuple[np.ndarray, ...]
    directions: np.ndarray
    losses: np.ndarray


@float64
def loss_slice(net, X, y, directions, grids: Sequence, *, activation: str | None = None,
               loss: str = "cross_entropy") -> LossSlice:
    """1-D or 2-D slice of the training loss through ``net``'s parameters.

    Args:
        net, X, y, activation, loss: as :func:`toylab.landscape.hessian`.
        directions: ``(P,)`` or ``(m, P)`` with ``m`` in {1, 2} (eigenvectors,
            :func:`random_direction`, ...).
        grids: one 1-D coordinate array per direction.
    Returns:
        :class:`LossSlice`.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    D = np.asarray(directions, np.float64)
    D = D[None] if D.ndim == 1 else D
    if D.ndim != 2 or D.shape[0] not in (1, 2):
        raise ValueError(f"directions has shape {np.shape(directions)}; need (P,) or (m, P), m <= 2")
    D = np.stack([check_direction(d, p.n_params, f"directions[{j}]") for j, d in enumerate(D)])
    grids = tuple(np.asarray(g, np.float64) for g in grids)
    if len(grids) != D.shape[0] or any(g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g))
                                       for g in grids):
        raise ValueError(f"grids needs {D.shape[0]} non-empty 1-D arrays of finite coordinates, "
                         "one per direction")
    coords = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, D.shape[0])
    losses = losses_at(p, p.theta + coords @ D)
    return LossSlice(grids, D, losses.reshape([g.size for g in grids]))


class LinearPath(NamedTuple):
    """Loss along ``(1 - t) theta_a + t theta_b``.

    Attributes:
        alphas: ``(m,)`` values of ``t`` in [0, 1]; losses: ``(m,)``.
        barrier: ``max_t [L(t) - ((1 - t) L(0) + t L(1))]`` (Frankle et al. 2020, linear mode
            connectivity); ``<= 0`` means no barrier on the grid.
    """

    alphas: np.ndarray
    losses: np.ndarray
    barrier: float


@float64
def linear_path(net_a, net_b, X, y, *, n_points: int = 51, activation: str | None = None,
                loss: str = "cross_entropy") -> LinearPath:
    """Loss on the straight line between two solutions and its barrier height.

    Args:
        net_a, net_b: two nets of one architecture; X, y, activation, loss: as
            :func:`toylab.landscape.hessian`.
        n_points: grid points on ``[0, 1]`` including both ends (>= 2).
    Returns:
        :class:`LinearPath`.
    """
    if int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points={n_points!r} must be an int >= 2")
    a = resolve(net_a, X, y, activation=activation, loss=loss)
    b = resolve(net_b, X, y, activation=activation, loss=loss)
    if a.spec != b.spec:
        raise ValueError(f"net_a {a.spec.widths}/{a.spec.activation} and net_b "
                         f"{b.spec.widths}/{b.spec.activation} differ; pass one architecture")
    t = np.linspace(0.0, 1.0, int(n_points))
    losses = losses_at(a, (1 - t)[:, None] * a.theta + t[:, None] * b.theta)
    chord = (1 - t) * losses[0] + t * losses[-1]
    return LinearPath(t, losses, float(np.max(losses - chord)))


# ----------------------------------------------------------------------------- trajectories


def trajectory_matrix(snapshots) -> np.ndarray:
    """``(T, P)`` flat parameters of a trajectory given as nets or already as a matrix."""
    if isinstance(snapshots, np.ndarray) and snapshots.ndim == 2:
        thetas = snapshots.astype(np.float64)
    else:
        flats = [flat_params(net, need_activation=False) for net in snapshots]
        shapes = sorted({widths for _, widths, _ in flats})
        if len(shapes) > 1:
            raise ValueError(f"snapshots mix architectures {shapes}; a trajectory is one net's "
                             "parameters over time")
        thetas = np.stack([theta for theta, _, _ in flats]) if flats else np.zeros((0, 0))
    if thetas.shape[0] == 0 or not np.all(np.isfinite(thetas)):
        raise ValueError("snapshots must be a non-empty trajectory of finite parameters")
    return thetas


def project_trajectory(snapshots, directions, *, origin=None) -> np.ndarray:
    """Coordinates ``(T, k)`` of ``theta_t - origin`` along orthonormal ``directions: (P, k)``
    (e.g. top Hessian eigenvectors); ``origin`` defaults to the last snapshot."""
    thetas = trajectory_matrix(snapshots)
    D = check_orthonormal(directions, thetas.shape[1], "directions")
    origin = thetas[-1] if origin is None else check_direction(origin, thetas.shape[1], "origin")
    return (thetas - origin) @ D


class TrajectoryPCA(NamedTuple):
    """PCA of a trajectory (Li et al. 2018, Sec. 7).

    Attributes:
        directions: ``(P, k)`` orthonormal principal directions.
        explained: ``(k,)`` fraction of the variance of ``theta_t - theta_T`` each explains.
        coordinates: ``(T, k)`` ``(theta_t - theta_T) @ directions``.
    """

    directions: np.ndarray
    explained: np.ndarray
    coordinates: np.ndarray


def trajectory_pca(snapshots, k: int = 2) -> TrajectoryPCA:
    """Principal directions of ``{theta_t - theta_T}`` (centred, as Li et al.'s sklearn PCA)
    and the trajectory's coordinates along them (measured from the final point).

    Args:
        snapshots: nets or ``(T, P)`` flat parameters, ``T >= k + 1``.
        k: number of directions.
    Returns:
        :class:`TrajectoryPCA`.
    """
    thetas = trajectory_matrix(snapshots)
    if int(k) != k or not 1 <= k <= min(thetas.shape[0] - 1, thetas.shape[1]):
        raise ValueError(f"k={k!r} needs 1 <= k <= min(T - 1, P) = "
                         f"{min(thetas.shape[0] - 1, thetas.shape[1])}")
    M = thetas - thetas[-1]
    _, s, Vt = np.linalg.svd(M - M.mean(axis=0), full_matrices=False)
    if not np.sum(s**2) > 0:
        raise ValueError("snapshots never move (all equal); a trajectory PCA is undefined")
    D = Vt[:k].T
    return TrajectoryPCA(D, s[:k] ** 2 / np.sum(s**2), M @ D)
