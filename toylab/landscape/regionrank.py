"""The exact Hessian spectrum through the linear regions the data occupy (projected eigenproblem).

For a piecewise-linear net with softmax cross-entropy (or ``mse``) the Hessian of the mean
loss over ``n`` points is ``H = G + R`` with ``G = (1/n) sum_i J_i^T H_out,i J_i`` and the
residual ``R`` (:mod:`toylab.landscape.curvature`). Both have low-dimensional ranges that are
known in closed form, so ``H = F^T K F`` with an ``(m, P)`` factor ``F`` and ``m`` often far
below ``P``:

- **Gauss-Newton.** Inside one linear region ``rho`` (a set of points with the same slopes and
  offsets at every hidden unit, :func:`toylab.landscape.curvature.piece_states`) the logits
  are affine in ``x``, and ``J(x)^T a`` is bilinear in the homogeneous input
  ``x~ = (1, x - c_rho)`` and the logit-space vector ``a``: ``J_i^T a = B_rho^T (x~_i kron
  a)`` with ``B_rho`` of ``(d + 1) C`` rows. The output Hessian ``H_out,i = diag(p_i) - p_i
  p_i^T`` annihilates the all-ones vector, so with an orthonormal basis ``N (C, C - 1)`` of
  its complement only ``(d + 1)(C - 1)`` rows are needed, and ``G = sum_rho B_rho^T S_rho
  B_rho`` with ``S_rho = (1/n) sum_{i in rho, k} y_ik y_ik^T``, ``y_ik = x~_i kron (N^T
  a_ik)`` (``a_ik`` the factors of :data:`~toylab.landscape.curvature.GRAM_FACTORS`). Each
  region contributes the rows ``L_rho B_rho`` with ``L_rho^T L_rho = S_rho``: the ``y_ik``
  themselves when the region holds at most ``d + 1`` points (``n_rho (C - 1)`` rows), else
  ``diag(sqrt(w)) V^T`` from ``S_rho = V diag(w) V^T`` (``(d + 1)(C - 1)`` rows). So ``rank G
  <= sum_rho min(n_rho, d + 1)(C - 1)`` (``C`` for ``mse``).
- **Residual.** ``R`` is the sum of its off-diagonal layer blocks ``U_l`` (rows: layer ``l``'s
  ``s_l`` parameters; columns: the ``m_l`` weights of the later layers,
  :func:`~toylab.landscape.curvature.residual_blocks`) and their transposes. With ``E`` the
  coordinate vectors of layer ``l`` and ``E'`` those of the later weights,
  ``E U_l E'^T + E' U_l^T E^T = C D^T + D C^T`` with ``(C, D) = (E, E' U_l^T)`` if ``s_l <=
  m_l`` else ``(E U_l, E')``: ``2 min(s_l, m_l)`` vectors, half of them coordinate vectors.

With ``S`` the set of coordinate vectors and ``X`` the other columns of ``F^T``, the economic
Householder QR of ``X`` without the rows in ``S``, ``X_S' = Q_X T_X``, gives an orthonormal
basis ``Q = [E_S, Q_X]`` of a space that contains ``range(H)``, and every column's
coordinates in it (``[v_S; T_X]`` for ``X``, unit vectors for ``E_S``). Then
``Q^T H Q = T_G T_G^T + sum (T_C T_D^T + T_D T_C^T)`` is an ``(m, m)`` matrix with
``m = |S| + min(P - |S|, columns of X)``, and since ``H = Q (Q^T H Q) Q^T``, the spectrum of
``H`` is that of ``Q^T H Q`` plus ``P - m`` exact zeros (eigenvectors ``Q Y`` and the
orthogonal complement of ``Q``). No rank is decided anywhere: Householder QR returns an
orthonormal ``Q`` whatever the rank of ``X`` (Golub & Van Loan 2013, Sec. 5.2.1-5.2.2; a
dependent column gives a zero or tiny entry of ``T_X`` that enters ``Q^T H Q`` as it is), so
no eigenvalue can be cut off; the rounding is that of the dense path (``eps ||G||`` from the
Gram factor, ``eps ||U_l||`` from the residual columns, Householder QR being backward stable
column by column).

Cost: the QR of a ``(P - |S|) x (columns of X)`` matrix and the ``eigh`` of an ``(m, m)`` one,
against forming the ``(P, P)`` Hessian (``2 n (C - 1) P^2`` flops) and its dense ``eigh``
(``(4/3) P^3``); :func:`hessian_spectrum` picks the cheaper (:data:`PROJECTED_BELOW`).
References: Papyan (2019, 2020) for the factorisation of ``G``; Sagun et al. (2017) for the
rank of ``G``; the studies/README.md bulk-scaling section for the region bound.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from toylab.landscape.curvature import (
    GRAM_FACTORS,
    MAX_BYTES,
    check_memory,
    dense_blas,
    layer_starts,
    piece_states,
    problem_matrix,
    residual_blocks,
)
from toylab.landscape.problem import Problem, float64, resolve
from toylab.landscape.spectra import Spectrum, eigendecomposition, eigh_bytes
from toylab.models import get_activation, unflatten

PROJECTED_BELOW = 0.6
""":func:`hessian_spectrum` with ``method="auto"`` takes the projected path when its size
``m`` is below this fraction of ``P`` (benchmarks/hessian.py, benchmarks/README.md)."""

SPECTRUM_METHODS = ("auto", "projected", "dense")
"""``projected``: :func:`problem_projected_spectrum`; ``dense``: the exact Hessian
(:func:`toylab.landscape.hessian`) and LAPACK's ``eigh`` of it; ``auto``: ``projected`` for
piecewise-linear nets whose projected size is below :data:`PROJECTED_BELOW` ``P``."""


class RangeSize(NamedTuple):
    """Sizes of the projected eigenproblem of a Hessian (or Gauss-Newton matrix).

    Attributes:
        n_params: ``P``.
        regions: distinct linear pieces (slope and offset patterns) the points occupy.
        gram_rows: rows of the Gauss-Newton factor, ``sum_rho min(n_rho, d + 1) K`` with
            ``K = C - 1`` (cross-entropy) or ``C`` (``mse``).
        residual_vectors: non-coordinate vectors spanning the residual's range,
            ``sum_l min(s_l, m_l)`` (0 for ``gauss_newton``).
        coordinates: coordinate vectors of the residual's range (distinct flat indices).
        dim: ``m = coordinates + min(P - coordinates, gram_rows + residual_vectors)``, the
            order of the projected matrix; ``P - dim`` eigenvalues are exactly 0.
    """

    n_params: int
    regions: int
    gram_rows: int
    residual_vectors: int
    coordinates: int
    dim: int


class _Pieces(NamedTuple):
    index: np.ndarray        # (n,) region of every point
    count: np.ndarray        # (R,) points per region
    slopes: list             # per hidden layer (R, w_l)
    offsets: list            # per hidden layer (R, w_l)
    z: np.ndarray            # (n, C) logits


def _why_not(p: Problem, curvature: str) -> str | None:
    """Why the projected spectrum does not apply to this problem, or ``None``."""
    if curvature not in ("hessian", "gauss_newton"):
        return (f"curvature={curvature!r}: the projected spectrum covers 'hessian' and "
                "'gauss_newton'; use toylab.landscape.curvature_matrix + eigendecomposition")
    if not get_activation(p.spec.activation).piecewise_linear:
        return (f"activation={p.spec.activation!r} is smooth: the projected spectrum needs a "
                "piecewise-linear activation (affine logits per region); use method='dense'")
    if p.spec.loss not in GRAM_FACTORS:
        return (f"loss={p.spec.loss!r} has no output factorisation in GRAM_FACTORS; use "
                "method='dense'")
    return None


def _check_applies(p: Problem, curvature: str) -> None:
    reason = _why_not(p, curvature)
    if reason is not None:
        raise ValueError(reason)


def _pieces(p: Problem) -> _Pieces:
    """Group the points by the linear piece they lie on (equal slopes and offsets)."""
    with jax.enable_x64(True):
        slopes, offsets, z = piece_states(jnp.asarray(p.theta), jnp.asarray(p.X), p.spec)
    slopes = [np.asarray(s) for s in slopes]
    offsets = [np.asarray(o) for o in offsets]
    n = p.X.shape[0]
    key = np.concatenate([np.zeros((n, 0))] + slopes + offsets, axis=1) + 0.0  # -0.0 -> 0.0
    if key.shape[1] == 0:  # no hidden layer: one affine map
        first, index = np.zeros(1, int), np.zeros(n, int)
    else:
        _, first, index = np.unique(key, axis=0, return_index=True, return_inverse=True)
        index = index.reshape(-1)
    return _Pieces(index, np.bincount(index), [s[first] for s in slopes],
                   [o[first] for o in offsets], np.asarray(z))


def _logit_basis(loss: str, C: int) -> np.ndarray:
    """``(C, K)``: an orthonormal basis of the space the output Hessians act on: the
    complement of the all-ones vector for cross-entropy (the first ``C - 1`` columns of the
    Householder reflector mapping ``e_1`` to ``1 / sqrt(C)``), all of ``R^C`` for ``mse``."""
    if loss != "cross_entropy":
        return np.eye(C)
    u = np.full(C, 1 / np.sqrt(C))
    u[0] -= 1.0
    H = np.eye(C) - 2 * np.outer(u, u) / (u @ u)  # H e_1 = 1 / sqrt(C)
    return H[:, 1:]


def _gram_rows(p: Problem, pc: _Pieces) -> np.ndarray:
    """``(q_G, P)`` rows ``F_G`` with ``F_G^T F_G = G`` (module docstring): per region
    ``L_rho B_rho``."""
    widths, X, n = p.spec.widths, p.X, p.X.shape[0]
    d, C, R = widths[0], widths[-1], pc.count.size
    with jax.enable_x64(True):
        layers = [(np.asarray(W), np.asarray(b)) for W, b in
                  unflatten(jnp.asarray(p.theta), widths)]
        a = np.asarray(GRAM_FACTORS[p.spec.loss](jnp.asarray(pc.z)))      # (n, Kf, C)
    N = _logit_basis(p.spec.loss, C)                                      # (C, K)
    K, Kf = N.shape[1], a.shape[1]
    D = (d + 1) * K
    centre = np.zeros((R, d))
    np.add.at(centre, pc.index, X)
    centre /= pc.count[:, None]
    xt = np.concatenate([np.ones((n, 1)), X - centre[pc.index]], axis=1)  # (n, d + 1)
    y = (xt[:, None, :, None] * (a @ N)[:, :, None, :]).reshape(n, Kf, D) / np.sqrt(n)

    # L_rho: the y rows of small regions (zero-padded), sqrt(w) V^T of S_rho for the others
    small = pc.count * Kf <= D
    L = np.zeros((R, D, D))
    order = np.argsort(pc.index, kind="stable")
    rank = np.empty(n, int)
    rank[order] = np.arange(n) - np.searchsorted(pc.index[order], pc.index[order])
    pts = np.flatnonzero(small[pc.index])
    for k in range(Kf):
        L[pc.index[pts], rank[pts] * Kf + k] = y[pts, k]
    big = np.flatnonzero(~small)
    if big.size:
        where = np.full(R, -1)
        where[big] = np.arange(big.size)
        S = np.zeros((big.size, D, D))
        pts = np.flatnonzero(~small[pc.index])
        np.add.at(S, where[pc.index[pts]], np.einsum("ikD,ikE->iDE", y[pts], y[pts]))
        w, V = np.linalg.eigh(S)
        # S is a sum of outer products: negative w are rounding (|w| <= eps ||S||)
        L[big] = np.sqrt(np.clip(w, 0, None))[:, :, None] * np.swapaxes(V, 1, 2)
    valid = np.arange(D)[None, :] < np.where(small, pc.count * Kf, D)[:, None]  # (R, D)

    # B_rho: the homogeneous states of each region's affine map, pulled-back logit basis
    e0 = np.zeros(d + 1)
    e0[0] = 1.0
    h = np.concatenate([centre[:, None, :], np.broadcast_to(np.eye(d), (R, d, d))], axis=1)
    inputs = []
    for l, (W, b) in enumerate(layers):
        inputs.append(np.concatenate([h, np.broadcast_to(e0[:, None], (R, d + 1, 1))], axis=2))
        pre = h @ W + e0[None, :, None] * b
        if l < len(layers) - 1:
            h = pc.slopes[l][:, None, :] * pre + e0[None, :, None] * pc.offsets[l][:, None, :]
    pulled = [np.broadcast_to(N.T, (R, K, C))]
    for (W, _), slope in zip(layers[:0:-1], pc.slopes[::-1]):
        pulled.insert(0, (pulled[0] @ W.T) * slope[:, None, :])
    B = np.concatenate([np.einsum("rja,rkb->rjkab", x, g).reshape(R, D, -1)
                        for x, g in zip(inputs, pulled)], axis=2)          # (R, D, P)
    return np.einsum("rsD,rDP->rsP", L, B)[valid]


def _residual_layout(widths) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Per layer ``l`` with later weights: ``(l, rows, cols, coords)``, the flat indices of
    layer ``l``'s ``s_l`` parameters, of the ``m_l`` later weights ``W_k`` (``k > l``, the
    column order of ``U_l``), and the side taken as coordinate vectors (``rows`` if ``s_l <=
    m_l``, else ``cols``)."""
    starts = layer_starts(widths)
    out = []
    for l in range(len(widths) - 2):
        rows = np.arange(starts[l], starts[l + 1])
        cols = np.concatenate([np.arange(starts[k], starts[k] + widths[k] * widths[k + 1])
                               for k in range(l + 1, len(widths) - 1)])  # W_k, not b_k
        out.append((l, rows, cols, rows if rows.size <= cols.size else cols))
    return out


def _residual_pairs(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """``(coords (T,), vectors (T, P))`` with ``R = sum_t e_{c_t} v_t^T + v_t e_{c_t}^T``:
    ``(C, D) = (E_l, E' U_l^T)`` or ``(E_l U_l, E')`` (module docstring)."""
    blocks: dict[int, list[np.ndarray]] = {}
    for l, _, U in residual_blocks(p):
        blocks.setdefault(l, []).append(U)
    coords, vectors = [np.zeros(0, int)], [np.zeros((0, p.n_params))]
    for l, rows, cols, coord in _residual_layout(p.spec.widths):
        U = np.concatenate(blocks[l], axis=1)                                # (s_l, m_l)
        v, on = (U, cols) if coord is rows else (U.T, rows)
        full = np.zeros((coord.size, p.n_params))
        full[:, on] = v
        coords.append(coord)
        vectors.append(full)
    return np.concatenate(coords), np.concatenate(vectors)


def _size(p: Problem, pc: _Pieces, residual: bool) -> RangeSize:
    d, C = p.spec.widths[0], p.spec.widths[-1]
    K = C - 1 if p.spec.loss == "cross_entropy" else C
    gram_rows = int(np.minimum(pc.count, d + 1).sum()) * K
    layout = _residual_layout(p.spec.widths) if residual else []
    vectors = sum(coord.size for *_, coord in layout)
    coords = np.unique(np.concatenate([np.zeros(0, int)] + [c for *_, c in layout])).size
    P = p.n_params
    return RangeSize(P, int(pc.count.size), gram_rows, vectors, coords,
                     coords + min(P - coords, gram_rows + vectors))


def projected_bytes(size: RangeSize, widths, *, vectors: bool = False) -> int:
    """Estimated peak bytes of :func:`problem_projected_spectrum`: the regions' ``B_rho`` and
    factor rows (``2 R (d + 1) C P``), the columns of ``F^T`` and their copy for the QR
    (``2 q P``), the residual's layer blocks (``<= P^2 / 2`` in the worst case, ``sum_l s_l
    m_l``), and :func:`~toylab.landscape.spectra.eigh_bytes` of the ``(m, m)`` matrix plus the
    matrix itself; with ``vectors`` also the full ``Q`` of the QR and the ``(P, P)``
    eigenvectors."""
    P, d, C = size.n_params, widths[0], widths[-1]
    q = size.gram_rows + size.residual_vectors
    blocks = sum((widths[l] + 1) * widths[l + 1] * widths[k] * widths[k + 1]
                 for l in range(len(widths) - 1) for k in range(l + 1, len(widths) - 1))
    out = 8 * (2 * size.regions * (d + 1) * C * P + 2 * q * P + blocks + size.dim ** 2)
    out += eigh_bytes(size.dim, vectors=vectors)
    if vectors:
        out += 8 * 2 * P * P
    return out


def problem_range_size(p: Problem, curvature: str = "hessian") -> RangeSize:
    """:class:`RangeSize` of a resolved problem (one forward pass; call inside float64)."""
    _check_applies(p, curvature)
    return _size(p, _pieces(p), curvature == "hessian")


@float64
def range_size(net, X, y, *, curvature: str = "hessian", activation: str | None = None,
               loss: str = "cross_entropy") -> RangeSize:
    """The sizes of the projected eigenproblem (:class:`RangeSize`) without solving it.

    Args: as :func:`projected_spectrum`.
    Returns:
        :class:`RangeSize`; ``dim`` is the order of the projected matrix.
    """
    return problem_range_size(resolve(net, X, y, activation=activation, loss=loss), curvature)


def problem_projected_spectrum(p: Problem, curvature: str = "hessian", *,
                               vectors: bool = False, max_bytes: float = MAX_BYTES) -> Spectrum:
    """The full spectrum of a resolved problem's Hessian (or Gauss-Newton matrix) by the
    projected eigenproblem (module docstring; call inside float64)."""
    _check_applies(p, curvature)
    return _solve_projected(p, curvature, _pieces(p), vectors=vectors, max_bytes=max_bytes)


def _solve_projected(p: Problem, curvature: str, pc: _Pieces, *, vectors: bool,
                     max_bytes: float) -> Spectrum:
    """:func:`problem_projected_spectrum` given the points' pieces ``pc`` (:func:`_pieces`)."""
    residual = curvature == "hessian"
    size = _size(p, pc, residual)
    check_memory(projected_bytes(size, p.spec.widths, vectors=vectors), max_bytes,
                 f"the projected {curvature} spectrum of P={p.n_params} parameters "
                 f"(order {size.dim}, {size.regions} regions)")
    P = p.n_params
    rows = _gram_rows(p, pc)
    coords, rvecs = _residual_pairs(p) if residual else (np.zeros(0, int), np.zeros((0, P)))
    S = np.unique(coords)
    keep = np.setdiff1d(np.arange(P), S)
    cols = np.concatenate([rows, rvecs])                                   # (q, P)
    X_bar = np.asfortranarray(cols[:, keep].T)                             # (P - |S|, q)
    with dense_blas(P):
        if vectors:
            Q, T = scipy.linalg.qr(X_bar, mode="full", overwrite_a=True, check_finite=False)
        else:
            (T,) = scipy.linalg.qr(X_bar, mode="r", overwrite_a=True, check_finite=False)
    r = min(keep.size, cols.shape[0])
    coef = np.concatenate([cols[:, S].T, T[:r]])                           # (m, q)
    m = S.size + r
    assert m == size.dim, (m, size.dim)
    g = coef[:, : rows.shape[0]]
    with dense_blas(m):
        M = g @ g.T
    Z = np.zeros((m, m))
    np.add.at(Z, np.searchsorted(S, coords), coef[:, rows.shape[0]:].T)
    M += Z + Z.T
    small = eigendecomposition(M, vectors=vectors, max_bytes=max_bytes)
    values = np.concatenate([small.eigenvalues, np.zeros(P - m)])
    order = np.argsort(-values, kind="stable")
    if not vectors:
        return Spectrum(values[order], None)
    V = np.zeros((P, P))
    V[S, :m] = small.eigenvectors[: S.size]
    with dense_blas(P):
        V[keep, :m] = Q[:, :r] @ small.eigenvectors[S.size:]
    V[keep, m:] = Q[:, r:]
    return Spectrum(values[order], V[:, order])


@float64
def projected_spectrum(net, X, y, *, curvature: str = "hessian", vectors: bool = False,
                       activation: str | None = None, loss: str = "cross_entropy",
                       max_bytes: float = MAX_BYTES) -> Spectrum:
    """All ``P`` eigenvalues (and optionally eigenvectors) of the exact Hessian of the mean
    loss of a piecewise-linear net, from the projected eigenproblem ``Q^T H Q`` (module
    docstring): ``eig(H) = eig(Q^T H Q)`` plus ``P - m`` exact zeros, ``H = Q (Q^T H Q) Q^T``
    because ``range(Q) >= range(G) + range(R)``.

    Args:
        net: layer list or :class:`toylab.models.MLP` with a piecewise-linear activation;
            X: ``(n, d)``; y: ``(n,)`` labels (or ``(n, C)`` targets for ``mse``).
        curvature: ``hessian`` or ``gauss_newton`` (``G`` alone).
        vectors: also return the ``(P, P)`` eigenvectors (the complement of ``Q`` for the
            exact zeros; needs the full ``Q`` of the QR, several times the cost).
        activation, loss: as :func:`toylab.landscape.curvature_matrix`.
        max_bytes: limit for the estimated peak memory (:func:`projected_bytes`).
    Returns:
        :class:`~toylab.landscape.spectra.Spectrum` with ``P`` descending eigenvalues.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    return problem_projected_spectrum(p, curvature, vectors=vectors, max_bytes=max_bytes)


def problem_hessian_spectrum(p: Problem, *, vectors: bool = False, method: str = "auto",
                             max_bytes: float = MAX_BYTES) -> Spectrum:
    """:func:`hessian_spectrum` of a resolved problem (call inside float64)."""
    if method not in SPECTRUM_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {SPECTRUM_METHODS}")
    if method == "projected":
        return problem_projected_spectrum(p, vectors=vectors, max_bytes=max_bytes)
    if method == "auto" and _why_not(p, "hessian") is None:
        pc = _pieces(p)  # once: the size decides, and the projected path reuses it
        if _size(p, pc, True).dim < PROJECTED_BELOW * p.n_params:
            return _solve_projected(p, "hessian", pc, vectors=vectors, max_bytes=max_bytes)
    H = problem_matrix(p, "hessian", max_bytes=max_bytes)
    return eigendecomposition(H, vectors=vectors, max_bytes=max_bytes)


@float64
def hessian_spectrum(net, X, y, *, vectors: bool = False, method: str = "auto",
                     activation: str | None = None, loss: str = "cross_entropy",
                     max_bytes: float = MAX_BYTES) -> Spectrum:
    """All ``P`` eigenvalues (and optionally eigenvectors) of the exact Hessian of the mean
    training loss, by whichever exact route is cheaper.

    Args:
        net, X, y, activation, loss: as :func:`toylab.landscape.curvature_matrix`.
        vectors: also return the ``(P, P)`` eigenvectors.
        method: name in :data:`SPECTRUM_METHODS`. ``auto`` takes ``projected``
            (:func:`projected_spectrum`) for piecewise-linear nets whose projected order
            (:func:`range_size`) is below :data:`PROJECTED_BELOW` ``P``, else ``dense``
            (the exact Hessian, :func:`toylab.landscape.hessian`, and LAPACK's ``eigh``).
            Both are exact; they agree to round-off (tests/test_landscape_regionrank.py).
        max_bytes: limit for the estimated peak memory of the chosen route.
    Returns:
        :class:`~toylab.landscape.spectra.Spectrum` with ``P`` descending eigenvalues.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    return problem_hessian_spectrum(p, vectors=vectors, method=method, max_bytes=max_bytes)
