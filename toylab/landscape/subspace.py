"""Outliers, the top subspace and the gradient (Gur-Ari, Roberts & Dyer 2018, arXiv 1812.04754).

Gur-Ari et al. observe that after a short initial phase the gradient lies mostly in the
subspace spanned by the top ``k`` Hessian eigenvectors, ``k`` the number of classes, and that
this subspace changes little during training. The functions here measure both: the overlap
``|P_k g|^2 / |g|^2`` and the similarity of top subspaces at different times.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import scipy.linalg

from toylab.landscape.curvature import DEFAULT_CHUNK, MAX_BYTES
from toylab.landscape.spectra import Spectrum, problem_top_eigen
from toylab.landscape.problem import Problem, float64, problem_gradient, resolve

ORTHONORMAL_TOL = 1e-8
"""Largest allowed ``|V^T V - I|`` entry for a matrix accepted as orthonormal columns."""

NUMERICAL_ZERO = 1e-12
"""Eigenvalues below ``NUMERICAL_ZERO * lambda_max`` are treated as zero by the outlier rule."""


def count_outliers(eigenvalues, *, max_count: int = 20) -> int:
    """Number of eigenvalues separated from the bulk by the largest relative gap.

    Rule: sort descending, clip at ``NUMERICAL_ZERO * lambda_1`` (so zero/negative eigenvalues
    count as tiny positive ones), and return ``j* = argmax_{1 <= j <= m} log(lambda_j /
    lambda_{j+1})`` with ``m = min(max_count, len - 1)``: the outliers are the eigenvalues above
    the largest log-gap among the top ``m + 1``. The rule locates the best separation; it does
    not test that one exists (a flat spectrum still gets ``j* >= 1``). ``0`` if
    ``lambda_1 <= 0``.

    Args:
        eigenvalues: ``(P,)`` any order.
        max_count: largest number of outliers considered.
    Returns:
        the outlier count ``j*``.
    """
    lam = np.sort(np.asarray(eigenvalues, np.float64).ravel())[::-1]
    if lam.size < 2 or not np.all(np.isfinite(lam)):
        raise ValueError(f"eigenvalues has {lam.size} entries (need >= 2, all finite)")
    if int(max_count) != max_count or max_count < 1:
        raise ValueError(f"max_count={max_count!r} must be a positive int")
    if lam[0] <= 0:
        return 0
    top = np.maximum(lam[: min(int(max_count), lam.size - 1) + 1], NUMERICAL_ZERO * lam[0])
    return int(np.argmax(np.diff(-np.log(top)))) + 1


def check_orthonormal(V, n_params: int | None = None, name: str = "V") -> np.ndarray:
    """``V: (P, k)`` with orthonormal columns, else a ValueError naming ``name``."""
    V = np.asarray(V, np.float64)
    if V.ndim == 1:
        V = V[:, None]
    if V.ndim != 2 or (n_params is not None and V.shape[0] != n_params) or V.shape[1] == 0:
        want = f"({n_params}, k)" if n_params is not None else "(P, k)"
        raise ValueError(f"{name} has shape {V.shape}; need {want} with k >= 1 columns")
    if V.shape[1] > V.shape[0]:
        raise ValueError(f"{name} has k={V.shape[1]} > P={V.shape[0]} columns; need k <= P")
    err = np.abs(V.T @ V - np.eye(V.shape[1])).max()
    if not err <= ORTHONORMAL_TOL:
        raise ValueError(
            f"{name} columns are not orthonormal (max |V^T V - I| = {err:.2e}); pass eigenvectors "
            "or orthonormalise with scipy.linalg.orth(V)"
        )
    return V


def top_subspace_overlap(g, V) -> float:
    """``|P_V g|^2 / |g|^2 = |V^T g|^2 / |g|^2`` (Gur-Ari et al. 2018, Eq. 2).

    Args:
        g: ``(P,)`` non-zero vector (typically the full-batch gradient).
        V: ``(P, k)`` orthonormal columns (typically the top-k Hessian eigenvectors).
    Returns:
        overlap in ``[0, 1]`` (clipped at 1 against round-off).
    """
    g = np.asarray(g, np.float64)
    if g.ndim != 1 or not np.all(np.isfinite(g)):
        raise ValueError(f"g has shape {g.shape}; need a finite (P,) vector")
    V = check_orthonormal(V, g.shape[0])
    norm2 = g @ g
    if norm2 == 0:
        raise ValueError("g is the zero vector; its overlap with a subspace is undefined")
    return float(min(1.0, np.sum((V.T @ g) ** 2) / norm2))


def subspace_overlap(A, B) -> float:
    """Mean squared cosine of the principal angles between ``span(A)`` and ``span(B)``
    (``scipy.linalg.subspace_angles``); ``= |Q_A^T Q_B|_F^2 / min(k_A, k_B)``.

    Args:
        A: ``(P, k_A)``, B: ``(P, k_B)``, any full-or-deficient-rank columns.
    Returns:
        overlap in ``[0, 1]``: 1 when the smaller span lies inside the larger, 0 when orthogonal.
    """
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(f"A {A.shape} and B {B.shape} must be (P, k) matrices with the same P")
    return float(np.mean(np.cos(scipy.linalg.subspace_angles(A, B)) ** 2))


def captured_fraction(V, directions) -> np.ndarray:
    """``|Pi v_j|^2`` for each column ``v_j`` of ``V: (P, k)``, where ``Pi`` projects onto the
    span of ``directions: (P, m)`` (rank-revealing ``scipy.linalg.orth``) -> ``(k,)``."""
    Q = scipy.linalg.orth(np.asarray(directions, np.float64))
    V = np.asarray(V, np.float64)
    if V.ndim not in (1, 2) or V.shape[0] != Q.shape[0] or not np.all(np.isfinite(V)) \
            or np.any(np.all(V == 0, axis=0)):
        raise ValueError(f"V has shape {V.shape}; pass finite non-zero columns of length "
                         f"P={Q.shape[0]}, the length of the directions' columns")
    return np.sum((Q.T @ V) ** 2, axis=0) / np.sum(V**2, axis=0)


class GradientOverlap(NamedTuple):
    """The full-batch gradient and the top-k eigenspace at one point.

    Attributes:
        overlap: ``|P_k g|^2 / |g|^2``.
        gradient: ``(P,)``.
        top: :class:`Spectrum` of the top ``k`` Hessian eigenpairs.
    """

    overlap: float
    gradient: np.ndarray
    top: Spectrum


def _gradient_overlap(p: Problem, k: int, *, method: str, seed: int, chunk: int,
                      max_bytes: float) -> GradientOverlap:
    g = problem_gradient(p)
    top = problem_top_eigen(p, k, method=method, seed=seed, chunk=chunk, max_bytes=max_bytes)
    return GradientOverlap(top_subspace_overlap(g, top.eigenvectors), g, top)


@float64
def gradient_overlap(net, X, y, *, k: int | None = None, activation: str | None = None,
                     loss: str = "cross_entropy", method: str = "exact", seed: int = 0,
                     chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> GradientOverlap:
    """Overlap of the full-batch gradient with the top-``k`` Hessian eigenspace.

    Args:
        net, X, y, activation, loss: as :func:`toylab.landscape.hessian`.
        k: subspace dimension; default the number of classes (output width).
        method: ``exact`` (full Hessian, LAPACK) or ``lanczos`` (matrix-free), see
            :data:`toylab.landscape.TOP_EIGEN_METHODS`.
    Returns:
        :class:`GradientOverlap`.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    k = p.spec.widths[-1] if k is None else k
    return _gradient_overlap(p, k, method=method, seed=seed, chunk=chunk, max_bytes=max_bytes)


class TrajectoryOverlap(NamedTuple):
    """Gradient / top-subspace measurements along a recorded training trajectory.

    Attributes:
        overlap: ``(T,)`` ``|P_k g_t|^2 / |g_t|^2`` with the Hessian recomputed at each snapshot.
        gradient_norm: ``(T,)`` ``|g_t|``.
        eigenvalues: ``(T, k)`` top-k Hessian eigenvalues, descending.
        subspaces: ``(T, P, k)`` top-k eigenvectors.
        similarity: ``(T, T)`` :func:`subspace_overlap` between the top subspaces at every pair
            of snapshots (1 on the diagonal).
    """

    overlap: np.ndarray
    gradient_norm: np.ndarray
    eigenvalues: np.ndarray
    subspaces: np.ndarray
    similarity: np.ndarray


@float64
def trajectory_overlap(snapshots: Sequence, X, y, *, k: int | None = None,
                       activation: str | None = None, loss: str = "cross_entropy",
                       method: str = "exact", seed: int = 0, chunk: int = DEFAULT_CHUNK,
                       max_bytes: float = MAX_BYTES) -> TrajectoryOverlap:
    """Gur-Ari et al. (2018) along a trajectory: gradient overlap with the top-k Hessian
    eigenspace at every snapshot, and how the top subspace itself moves.

    Args:
        snapshots: sequence of nets (layer lists / MLPs of one architecture), e.g.
            ``[result.snapshot(s, t) for t in range(T)]`` from :mod:`toylab.train`.
        X, y, activation, loss, k, method, ...: as :func:`gradient_overlap`.
    Returns:
        :class:`TrajectoryOverlap`. A snapshot with a zero gradient raises ``ValueError``.
    """
    if len(snapshots) == 0:
        raise ValueError("snapshots is empty; pass a sequence of nets along a trajectory")
    problems = [resolve(net, X, y, activation=activation, loss=loss) for net in snapshots]
    widths = {q.spec.widths for q in problems}
    if len(widths) != 1:
        raise ValueError(f"snapshots mix architectures {sorted(widths)}; pass one run's snapshots")
    k = problems[0].spec.widths[-1] if k is None else k
    runs = [_gradient_overlap(q, k, method=method, seed=seed, chunk=chunk, max_bytes=max_bytes)
            for q in problems]
    subspaces = np.stack([r.top.eigenvectors for r in runs])
    similarity = np.array([[subspace_overlap(a, b) for b in subspaces] for a in subspaces])
    return TrajectoryOverlap(
        overlap=np.array([r.overlap for r in runs]),
        gradient_norm=np.array([np.linalg.norm(r.gradient) for r in runs]),
        eigenvalues=np.stack([r.top.eigenvalues for r in runs]),
        subspaces=subspaces,
        similarity=similarity,
    )
