"""Gradient descent projected onto (or off) the exact top-``k`` Hessian eigenspace.

Song, Ahn & Yun (ICLR 2025, "Does SGD really happen in tiny subspaces?") train with every
update projected onto the top-``k`` eigenspace of the current Hessian ("Dom-SGD") or with that
component removed ("Bulk-SGD"), and find that Dom-SGD stalls while Bulk-SGD trains like SGD:
the gradient's large overlap with the top subspace (Gur-Ari et al. 2018) does not mean the
top subspace is where learning happens. :func:`projected_gd` is the full-batch version for
tiny nets, with the *exact* top-``k`` eigenvectors (full float64 Hessian, LAPACK) recomputed
every ``every`` steps; the steps in between run as one jitted ``lax.scan``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from toylab.landscape.problem import check_int, float64, loss_of, resolve
from toylab.landscape.spectra import problem_top_eigen

PROJECTIONS = ("none", "dominant", "bulk")
"""Update of :func:`projected_gd`: ``none`` (plain GD, ``-eta g``), ``dominant`` (``-eta V V^T
g``, Dom-GD) or ``bulk`` (``-eta (I - V V^T) g``, Bulk-GD), ``V`` the top-``k`` eigenvectors."""


class ProjectedRun(NamedTuple):
    """One projected-GD run.

    Attributes:
        theta: ``(P,)`` final flat parameters.
        loss: ``(steps + 1,)`` training loss before every step and after the last.
        checkpoints: ``(steps / every + 1, P)`` parameters at every recomputation of the
            eigenspace (step ``0, every, 2 every, ...``) and at the end.
        top_eigenvalues: ``(steps / every, k)`` the top-``k`` eigenvalues at each recomputation.
        overlap: ``(steps / every,)`` the gradient's overlap ``|V^T g|^2 / |g|^2`` there.
        eigen_seconds: wall seconds of each exact Hessian + top-``k`` eigendecomposition.
    """

    theta: np.ndarray
    loss: np.ndarray
    checkpoints: np.ndarray
    top_eigenvalues: np.ndarray
    overlap: np.ndarray
    eigen_seconds: np.ndarray


@partial(jax.jit, static_argnames=("spec", "every", "projection"))
def _block(theta, V, X, y, learning_rate, spec, every, projection):
    """``every`` projected GD steps from ``theta``: ``(theta, losses (every,), overlap)``."""
    grad = jax.value_and_grad(loss_of)

    def project(g):
        inside = V @ (V.T @ g)
        return {"none": g, "dominant": inside, "bulk": g - inside}[projection]

    def step(t, _):
        value, g = grad(t, X, y, spec)
        return t - learning_rate * project(g), value

    g0 = jax.grad(loss_of)(theta, X, y, spec)
    overlap = jnp.sum((V.T @ g0) ** 2) / jnp.sum(g0**2)
    theta, losses = jax.lax.scan(step, theta, None, length=every)
    return theta, losses, overlap


@float64
def projected_gd(net, X, y, *, learning_rate: float, steps: int, k: int, every: int,
                 projection: str, activation: str | None = None,
                 loss: str = "cross_entropy") -> ProjectedRun:
    """Full-batch GD with every update projected onto / off the exact top-``k`` Hessian
    eigenspace, recomputed every ``every`` steps (Song, Ahn & Yun 2025).

    Args:
        net, X, y, activation, loss: as :func:`toylab.landscape.hessian` (the start point).
        learning_rate: step size ``eta > 0``.
        steps: number of steps, a multiple of ``every``.
        k: dimension of the dominant subspace (``1 <= k <= P``).
        every: steps between recomputations of the eigenspace (``every = 1``: every step).
        projection: one of :data:`PROJECTIONS`.
    Returns:
        :class:`ProjectedRun` (float64).
    """
    if projection not in PROJECTIONS:
        raise ValueError(f"projection={projection!r} is unknown; choose one of {PROJECTIONS}")
    steps = check_int("steps", steps, example="500")
    every = check_int("every", every, example="10 (steps between eigenspace updates)")
    if steps % every:
        raise ValueError(f"steps={steps} must be a multiple of every={every}; e.g. "
                         f"steps={steps - steps % every or every}")
    if not (isinstance(learning_rate, (int, float, np.floating)) and np.isfinite(learning_rate)
            and learning_rate > 0) or isinstance(learning_rate, bool):
        raise ValueError(f"learning_rate={learning_rate!r} must be a finite number > 0, e.g. 0.1")
    p = resolve(net, X, y, activation=activation, loss=loss)
    Xj, yj = jnp.asarray(p.X), jnp.asarray(p.y)
    theta = p.theta
    losses, checkpoints, tops, overlaps, seconds = [], [theta], [], [], []
    for _ in range(steps // every):
        start = time.perf_counter()
        top = problem_top_eigen(p._replace(theta=np.asarray(theta)), k, method="exact")
        seconds.append(time.perf_counter() - start)
        out, block_losses, overlap = _block(jnp.asarray(theta), jnp.asarray(top.eigenvectors),
                                            Xj, yj, float(learning_rate), p.spec, every,
                                            projection)
        theta = np.asarray(out)
        losses.append(np.asarray(block_losses))
        checkpoints.append(theta)
        tops.append(top.eigenvalues)
        overlaps.append(float(overlap))
    final = float(loss_of(jnp.asarray(theta), Xj, yj, p.spec))
    return ProjectedRun(theta, np.append(np.concatenate(losses), final), np.stack(checkpoints),
                        np.stack(tops), np.array(overlaps), np.array(seconds))
