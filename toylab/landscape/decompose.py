"""Decompositions of the Hessian: Gauss-Newton / residual split and the class structure of G.

``H = G + R`` (Sagun et al. 2017; Papyan 2019): ``G = (1/n) sum_i J_i^T H_out,i J_i`` is the
Gauss-Newton term (positive semi-definite for convex losses), ``R = (1/n) sum_i sum_c
(dl/dz_ic) d^2 z_ic/dtheta^2`` the residual, which vanishes for a model linear in its
parameters.

Class structure (Papyan 2019, "Measurements of three-level hierarchical structure in the
outliers in the spectrum of deepnet Hessians", Sec. 2): factor ``H_out,i = sum_c' a_ic' a_ic'^T``
(for softmax cross-entropy ``a_ic' = sqrt(p_ic') (e_c' - p_i)``, since
``diag(p) - p p^T = sum_c' p_c' (e_c' - p)(e_c' - p)^T``; for MSE ``a_ic' = e_c'``), so that
``G = (1/n) sum_i sum_c' d_ic' d_ic'^T`` with logit-gradient vectors ``d_ic' = J_i^T a_ic'``.
Their class means ``delta_cc' = mean_{i: y_i = c} d_ic'`` split ``G`` exactly into
``G_means = sum_c (n_c/n) sum_c' delta_cc' delta_cc'^T`` plus within-class covariances
(PSD), and the means are the directions behind the outliers. The C class-mean gradients
``gbar_c = mean_{i: y_i = c} grad l_i`` (``grad l_i = -d_{i,y_i} / sqrt(p_{i,y_i})`` for
cross-entropy) are the directions Papyan and Fort & Ganguli (2019) find spanning the top-C
eigenspace.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from toylab.landscape.curvature import (
    DEFAULT_CHUNK,
    MAX_BYTES,
    OUTPUT_FACTORS,
    curvature_matrix,
    problem_matrix,
)
from toylab.landscape.spectra import Spectrum, problem_top_eigen
from toylab.landscape.problem import float64, logits_of, resolve
from toylab.landscape.subspace import captured_fraction, subspace_overlap
from toylab.models import LOSSES

Array = jax.Array


class GaussNewtonSplit(NamedTuple):
    """``hessian = gauss_newton + residual``, each ``(P, P)`` float64."""

    hessian: np.ndarray
    gauss_newton: np.ndarray
    residual: np.ndarray


@float64
def gauss_newton_split(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy",
                       chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> GaussNewtonSplit:
    """Exact ``H``, ``G`` and ``R = H - G`` (Sagun et al. 2017; Papyan 2019).

    Args: as :func:`toylab.landscape.curvature_matrix` (``max_bytes`` applies to each matrix).
    Returns:
        :class:`GaussNewtonSplit`.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    H = problem_matrix(p, "hessian", chunk=chunk, max_bytes=max_bytes)
    G = problem_matrix(p, "gauss_newton", chunk=chunk, max_bytes=max_bytes)
    return GaussNewtonSplit(H, G, H - G)


def empirical_fisher(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy",
                     chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> np.ndarray:
    """Empirical Fisher ``F = (1/n) sum_i g_i g_i^T`` ``(P, P)`` from per-example gradients
    (uncentred; Kunstner et al. 2019); see :func:`toylab.landscape.curvature_matrix`."""
    from toylab.landscape.curvature import curvature_matrix

    return curvature_matrix(net, X, y, curvature="fisher", activation=activation, loss=loss,
                            chunk=chunk, max_bytes=max_bytes)


# ----------------------------------------------------------------------------- class structure


@partial(jax.jit, static_argnames=("spec",))
def _class_directions(theta, X, y, onehot, spec):
    """``(class_means (C, P), logit_means (C, C, P))`` by vjps with class-weighted cotangents."""
    z, pull = jax.vjp(lambda t: logits_of(t, X, spec), theta)
    per_class = onehot / jnp.maximum(onehot.sum(0), 1)          # (n, C): 1[y_i = c] / n_c
    r = z.shape[0] * jax.grad(lambda z: LOSSES[spec.loss](z, y))(z)  # (n, C) dl_i/dz_i
    factors = OUTPUT_FACTORS[spec.loss](z)                      # (n, C', C)
    grad_cts = per_class.T[:, :, None] * r[None]                # (C, n, C)
    logit_cts = per_class.T[:, None, :, None] * jnp.swapaxes(factors, 0, 1)[None]  # (C, C', n, C)
    pull_many = jax.vmap(lambda ct: pull(ct)[0])
    C = z.shape[-1]
    return pull_many(grad_cts), pull_many(logit_cts.reshape(C * C, *z.shape)).reshape(C, C, -1)


class ClassStructure(NamedTuple):
    """Class-mean directions of ``G`` and how much of its top-C eigenspace they span.

    Attributes:
        counts: ``(C,)`` points per class.
        class_means: ``(C, P)`` mean per-example loss gradient of each class, ``gbar_c``.
        logit_means: ``(C, C, P)`` Papyan's ``delta_cc'`` (class ``c``, logit ``c'``).
        means_weights: ``(C,)`` ``n_c / n``, so ``G_means = sum_c w_c sum_c' delta delta^T``.
        top: :class:`Spectrum` of the top-C eigenpairs of the chosen curvature.
        captured_class: ``(C,)`` fraction ``|Pi v_j|^2`` of each top eigenvector inside the
            span of the class means.
        captured_logit: ``(C,)`` the same for the span of all ``C^2`` logit means.
        overlap: mean squared cosine of the principal angles between the top-C eigenspace and
            the span of the class means (1 = the class means span it).
    """

    counts: np.ndarray
    class_means: np.ndarray
    logit_means: np.ndarray
    means_weights: np.ndarray
    top: Spectrum
    captured_class: np.ndarray
    captured_logit: np.ndarray
    overlap: float


@float64
def class_structure(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy",
                    curvature: str = "gauss_newton", method: str = "exact", seed: int = 0,
                    chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> ClassStructure:
    """Papyan (2019) class structure: class-mean logit-gradient directions and the top-C
    eigenspace of ``G`` (or ``H``) they span.

    Args:
        net, X, activation: as :func:`toylab.landscape.hessian`; y: ``(n,)`` int labels.
        loss: a name in :data:`OUTPUT_FACTORS`.
        curvature: whose top-C eigenspace to compare (``gauss_newton`` or ``hessian``).
        method, seed, chunk, max_bytes: as :func:`toylab.landscape.top_eigen`.
    Returns:
        :class:`ClassStructure`.
    """
    if loss not in OUTPUT_FACTORS:
        raise ValueError(f"loss={loss!r} has no output factorisation; choose one of "
                         f"{sorted(OUTPUT_FACTORS)}")
    p = resolve(net, X, y, activation=activation, loss=loss)
    if p.y.ndim != 1:
        raise ValueError("y must be (n,) integer labels for a class structure, not targets")
    C = p.spec.widths[-1]
    onehot = np.eye(C)[p.y]
    means, logit_means = (np.asarray(a) for a in _class_directions(
        jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y), jnp.asarray(onehot), p.spec))
    top = problem_top_eigen(p, C, curvature=curvature,
                            method=method, seed=seed, chunk=chunk, max_bytes=max_bytes)
    counts = onehot.sum(0).astype(int)
    return ClassStructure(
        counts=counts,
        class_means=means,
        logit_means=logit_means,
        means_weights=counts / counts.sum(),
        top=top,
        captured_class=captured_fraction(top.eigenvectors, means.T),
        captured_logit=captured_fraction(top.eigenvectors, logit_means.reshape(C * C, -1).T),
        overlap=subspace_overlap(top.eigenvectors, means.T),
    )


def means_term(cs: ClassStructure) -> np.ndarray:
    """``G_means = sum_c (n_c/n) sum_c' delta_cc' delta_cc'^T`` ``(P, P)``; ``G - G_means`` is the
    (PSD) sum of within-class covariances of the logit gradients (Papyan 2019)."""
    return np.einsum("c,cap,caq->pq", cs.means_weights, cs.logit_means, cs.logit_means)
