"""Curvature matrices of the training loss: exact (chunked) and matrix-free.

Three curvatures share one interface, the table :data:`CURVATURES` of matrix-vector products
``M v`` for the mean loss ``L(theta) = (1/n) sum_i l(z_i, y_i)`` with logits
``z_i = f(x_i; theta)`` and ``J_i = dz_i/dtheta``:

- ``"hessian"``: ``H v``, forward-over-reverse (``jax.jvp`` of ``jax.grad``; Pearlmutter 1994).
- ``"gauss_newton"``: ``G v = (1/n) sum_i J_i^T H_out,i J_i v`` with ``H_out,i = d^2 l/dz_i^2``
  (Sagun et al. 2017; Papyan 2019): jvp of the logits, HVP of the loss in logit space, vjp.
- ``"fisher"``: the *empirical* (uncentred) Fisher ``F v = (1/n) sum_i g_i g_i^T v`` with
  per-example gradients ``g_i = J_i^T r_i``, ``r_i = dl/dz_i`` (Kunstner et al. 2019), through
  the same jvp/vjp with ``H_out,i`` replaced by ``r_i r_i^T``.

The exact path (:func:`curvature_matrix`, :func:`hessian`) has two algorithms
(:data:`MATRIX_METHODS`). ``hvp`` applies a product to every basis vector, ``chunk`` at a
time (``jax.lax.map(..., batch_size=chunk)``, i.e. a vmap of products over chunks of basis
vectors), so memory is the ``(P, P)`` result plus ``chunk`` products. ``blocks`` uses the
layer structure of an MLP: every per-point logit gradient w.r.t. a layer is an outer product
of the layer's input and a pulled-back cotangent, so ``G = A^T A / n`` is one BLAS product of
the rank-reduced factor rows ``A`` (:data:`GRAM_FACTORS`), and for piecewise-linear nets the
residual ``R`` has closed-form off-diagonal layer blocks (its diagonal layer blocks are exactly
zero); see :func:`_layer_factors`. An estimate of the peak memory is checked against
``max_bytes`` before anything is allocated. :func:`curvature_operator` gives the matrix-free
products that the iterative eigen-solvers of :mod:`toylab.landscape.spectra` use;
:func:`problem_factored_product` (and its LinearOperator, :func:`problem_factored_operator`)
gives the same products from the ``blocks`` factors without forming ``A`` (where ``blocks``
applies).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

from toylab.landscape.problem import (
    Problem,
    Spec,
    check_int,
    float64,
    logits_of,
    loss_of,
    resolve,
)
from toylab.models import LOSSES, get_activation, n_params, unflatten
from toylab.units import format_bytes

readable_bytes = format_bytes
"""The old name of :func:`toylab.units.format_bytes` (``benchmarks/lanczos.py`` imports it)."""

Array = jax.Array

MAX_BYTES = 4 * 2**30
"""Default memory limit (bytes) for an exact curvature matrix or its eigendecomposition."""

DEFAULT_CHUNK = 16
"""Basis vectors per vmapped batch in the exact path. The chunk sweeps of
benchmarks/hessian.py on a shared 2-core CPU were noisy (8 to 128 within 2x of each other,
8-16 fastest in two of three runs); 16 keeps the working memory small."""

FACTOR_BYTES = 64 * 2**20
"""Bytes of the factor matrix ``A`` (rows ``J_i^T a_ik``) held at once by the ``blocks``
method; points beyond it are processed in chunks."""

BLAS_THREADS_FROM = 1024
"""Matrices at least this large use every core for their BLAS/LAPACK calls (toylab's default
is one thread, which suits its many tiny products): a 1,251 x 1,251 eigendecomposition takes
81 ms on two threads and 141 ms on one (benchmarks/README.md). Below ~1,000 threads do not
pay, and on busy cores they cost far more than they save: a 322 x 322 eigendecomposition
with vectors took 0.48 s on two threads and 0.019 s on one at load average 5 (2-core machine,
2026-12-02), which made the Hessian studies' analyses 10-25x slower under load."""


def dense_blas(size: int):
    """Context: BLAS/LAPACK on all cores for a ``(size, size)`` problem of at least
    :data:`BLAS_THREADS_FROM`, else unchanged (``threadpoolctl``)."""
    if size < BLAS_THREADS_FROM:
        return contextlib.nullcontext()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return threadpool_limits(limits=cores or 1, user_api="blas")

_LIVE_ARRAYS = 8
"""Estimated live float64 arrays per hidden/output unit and point in one product."""


# ----------------------------------------------------------------------------- products


def _hvp(theta: Array, v: Array, X: Array, y: Array, spec: Spec) -> Array:
    """``H v`` by forward-over-reverse differentiation."""
    return jax.jvp(lambda t: jax.grad(loss_of)(t, X, y, spec), (theta,), (v,))[1]


def _sandwich(weigh: Callable, theta: Array, v: Array, X: Array, y: Array, spec: Spec) -> Array:
    """``J^T W J v``: ``u = J v`` (jvp), ``w = weigh(z, u)`` in logit space, ``J^T w`` (vjp)."""
    z, push = jax.linearize(lambda t: logits_of(t, X, spec), theta)
    pull = jax.linear_transpose(push, theta)
    out = lambda z: LOSSES[spec.loss](z, y)
    return pull(weigh(out, z, push(v)))[0]


def _gauss_newton_weight(out: Callable, z: Array, u: Array) -> Array:
    """``(1/n) H_out,i u_i`` for every point: the HVP of the mean loss in logit space."""
    return jax.jvp(jax.grad(out), (z,), (u,))[1]


def _fisher_weight(out: Callable, z: Array, u: Array) -> Array:
    """``(1/n) r_i (r_i . u_i)``; ``jax.grad(out)`` returns ``r_i / n``."""
    r_over_n = jax.grad(out)(z)
    return z.shape[0] * r_over_n * jnp.sum(r_over_n * u, axis=-1, keepdims=True)


CURVATURES: dict[str, Callable[[Array, Array, Array, Array, Spec], Array]] = {
    "hessian": _hvp,
    "gauss_newton": partial(_sandwich, _gauss_newton_weight),
    "fisher": partial(_sandwich, _fisher_weight),
}
"""Curvature name -> ``product(theta (P,), v (P,), X, y, spec) -> M v (P,)``."""


def _softmax_factors(z: Array) -> Array:
    """``(n, C, C)``: row ``c'`` of point ``i`` is ``sqrt(p_ic') (e_c' - p_i)``."""
    p = jax.nn.softmax(z, axis=-1)
    eye = jnp.eye(z.shape[-1], dtype=z.dtype)
    return jnp.sqrt(p)[..., None] * (eye - p[:, None, :])


def _identity_factors(z: Array) -> Array:
    return jnp.broadcast_to(jnp.eye(z.shape[-1], dtype=z.dtype), z.shape + z.shape[-1:])


OUTPUT_FACTORS: dict[str, Callable[[Array], Array]] = {
    "cross_entropy": _softmax_factors,
    "mse": _identity_factors,
}
"""Loss name -> ``a(z (n, C)) -> (n, C, C)`` with ``sum_c' a[i, c'] a[i, c']^T`` equal to the
per-point output Hessian ``d^2 l / dz_i^2``. For softmax cross-entropy this is Papyan
(2019)'s factorisation ``diag(p) - p p^T = sum_c' p_c' (e_c' - p)(e_c' - p)^T``; for
``mse`` (``l = |z - t|^2 / 2``) the identity."""


@partial(jax.jit, static_argnames=("spec", "curvature"))
def _product(theta, v, X, y, spec, curvature):
    return CURVATURES[curvature](theta, v, X, y, spec)


@partial(jax.jit, static_argnames=("spec", "curvature", "chunk"))
def _basis_products(theta, X, y, spec, curvature, chunk):
    """Row ``i`` is ``M e_i``; basis vectors are built inside, ``chunk`` at a time."""
    size = theta.shape[0]
    column = lambda i: CURVATURES[curvature](
        theta, jax.nn.one_hot(i, size, dtype=theta.dtype), X, y, spec
    )
    return jax.lax.map(column, jnp.arange(size), batch_size=chunk)


def _reduced_softmax_factors(z: Array) -> Array:
    """``(n, C - 1, C)`` factors of ``diag(p) - p p^T`` (rank ``C - 1``): with ``q = sqrt(p)``,
    ``diag(p) - p p^T = diag(q) (I - q q^T) diag(q)`` and ``I - q q^T = V V^T`` for the first
    ``C - 1`` columns ``V`` of the Householder reflector ``I - u u^T / (1 + q_C)``,
    ``u = q + e_C``, which maps ``e_C`` to ``-q`` (Golub & Van Loan 2013, Sec. 5.1.2)."""
    q = jnp.sqrt(jax.nn.softmax(z, axis=-1))
    C = z.shape[-1]
    u = q.at[:, -1].add(1.0)
    V = jnp.eye(C, dtype=z.dtype) - u[:, :, None] * u[:, None, :] / u[:, -1, None, None]
    return jnp.swapaxes(q[:, :, None] * V[:, :, : C - 1], 1, 2)


GRAM_FACTORS: dict[str, Callable[[Array], Array]] = {
    "cross_entropy": _reduced_softmax_factors,
    "mse": _identity_factors,
}
"""Loss name -> fewest factors ``(n, K, C)`` of the per-point output Hessian (rank ``C - 1``
for softmax cross-entropy, ``C`` for ``mse``): the rows of ``A`` in ``G = A^T A / n``."""


def _forward(layers, X: Array, activation: str):
    """Layer inputs ``[h_{l-1}, 1]`` (one per layer), the pre-activations ``pre_l`` and slopes
    ``D_l`` of every hidden layer's activation (``jax.jvp``'s derivative, one-sided at a
    breakpoint), and the logits."""
    act = get_activation(activation).fn
    inputs, pres, slopes, h = [], [], [], X
    for i, (W, b) in enumerate(layers):
        inputs.append(jnp.concatenate([h, jnp.ones_like(h[:, :1])], axis=1))  # (n, in + 1)
        pre = h @ W + b
        if i < len(layers) - 1:
            h, slope = jax.jvp(act, (pre,), (jnp.ones_like(pre),))
            pres.append(pre)
            slopes.append(slope)                                             # (n, out)
    return inputs, pres, slopes, pre


@partial(jax.jit, static_argnames=("spec",))
def piece_states(theta: Array, X: Array, spec: Spec):
    """The linear piece every point lies on, for a piecewise-linear net.

    Returns:
        ``(slopes, offsets, z)``: per hidden layer ``l`` the ``(n, w_l)`` slopes ``D_l`` and
        offsets ``o_l`` of the activation at the point's pre-activations, so that the
        activation is ``D_l pre + o_l`` on that piece, and the ``(n, C)`` logits. Slopes are
        ``jax.jvp``'s, as in the exact Hessian; offsets are the intercepts of the piece
        (``Activation.pieces``) whose closed interval holds ``pre`` and whose slope is
        ``D_l``, exact constants, so points on the same pieces get bitwise-equal offsets
        (where no piece matches, e.g. jax's averaged slope at a kink of ``hard_tanh``, the
        offset is ``act(pre) - D_l pre``). Points with equal slopes and offsets share one
        affine map ``x -> z`` (one linear region, or a union of regions on the same pieces).
    """
    act = get_activation(spec.activation)
    _, pres, slopes, z = _forward(unflatten(theta, spec.widths), X, spec.activation)
    offsets = []
    for pre, slope in zip(pres, slopes):
        offset = act.fn(pre) - slope * pre
        for lo, hi, s, c in act.pieces or ():
            offset = jnp.where((pre >= lo) & (pre <= hi) & (slope == s), c, offset)
        offsets.append(offset)
    return slopes, offsets, z


def _pullbacks(layers, X, y, weight, n_total, spec, residual, gram=True):
    """Layer inputs ``[h_{l-1}, 1]``, activation slopes and the logit-space factors pulled back
    to every layer's pre-activations: ``(inputs, slopes, pulled, K)`` with ``pulled[l]`` of
    shape ``(n, K [+1], out_l)``, rows ``w_i a_ik`` (:data:`GRAM_FACTORS`, weights ``w_i``;
    none, ``K = 0``, without ``gram``) and, with ``residual``, last the pulled-back
    ``r_i = dL/dz_i`` (mean over ``n_total``)."""
    inputs, _, slopes, z = _forward(layers, X, spec.activation)
    a = GRAM_FACTORS[spec.loss](z) * weight[:, None, None]                   # (n, K, C)
    if not gram:
        a = a[:, :0]
    K = a.shape[1]
    if residual:  # LOSSES are means over the rows given: rescale to the mean over n_total
        r = jax.grad(lambda zz: LOSSES[spec.loss](zz, y))(z) * (X.shape[0] / n_total)
        a = jnp.concatenate([a, (r * weight[:, None])[:, None, :]], axis=1)
    pulled = [a]                                                             # (n, K [+1], out_l)
    for (W, _), slope in zip(layers[:0:-1], slopes[::-1]):
        pulled.insert(0, (pulled[0] @ W.T) * slope[:, None, :])
    return inputs, slopes, pulled, K


@partial(jax.jit, static_argnames=("spec", "residual", "gram"))
def _layer_factors(theta, X, y, weight, n_total, spec, residual, gram=True):
    """Per-layer factors of ``G`` and ``R`` for the points ``X`` with weights ``weight`` (1, or
    0 for padding) out of ``n_total`` (Kronecker structure of an MLP's Jacobian, e.g. Martens &
    Grosse 2015, Sec. 3).

    With layer inputs ``h_{l-1}`` (plus a constant 1 for the bias), slopes ``D_l`` of the
    activation at the pre-activations and cotangents ``g_l`` of a logit-space vector pulled
    back to layer ``l``'s pre-activations (:func:`_pullbacks`), the gradient of ``a . z``
    w.r.t. layer ``l``'s ``(W_l, b_l)`` is the outer product ``[h_{l-1}, 1] g_l^T``, already in
    the flat order.

    Returns:
        ``(A, R_parts)``: ``A: (n K, P)`` rows ``w_i J_i^T a_ik`` (:data:`GRAM_FACTORS`; ``None``
        when ``gram`` is false, which only the residual needs), and, with
        ``residual``, for every pair of layers ``l < k`` the block of
        ``R = sum_ic r_ic d^2 z_ic`` between layer ``l``'s parameters and ``W_k`` (``r = dL/dz``,
        including the ``1/n``):
        ``R[(l, a, b), (k, a', b')] = sum_i [h_{l-1}, 1]_ia T_i[b, a'] gbar_ik[b']`` with
        ``T = dh_{k-1}/dpre_l`` and ``gbar_k`` the pull-back of ``r``. This second derivative
        is exact for piecewise-linear activations, whose slopes are locally constant; the
        blocks with ``b_k`` and the diagonal layer blocks vanish. For ``k = l + 1`` the block
        is diagonal in ``(b, a')`` (``T = diag(D_l)``) and is returned compact, as
        ``U[a, b, b']`` (``(in_l + 1, out_l, out_k)``; :func:`_dense_block` expands it), else
        as the dense ``((in_l + 1) out_l, in_k out_k)`` block.
    """
    layers = unflatten(theta, spec.widths)
    inputs, slopes, pulled, K = _pullbacks(layers, X, y, weight, n_total, spec, residual,
                                           gram)
    n = X.shape[0]
    A = jnp.concatenate([jnp.einsum("na,nkb->nkab", x, g[:, :K]).reshape(n * K, -1)
                         for x, g in zip(inputs, pulled)], axis=1) if gram else None
    blocks = []
    if residual:
        gbar = [g[:, K] for g in pulled]
        for l in range(len(layers)):
            T = None
            for k in range(l + 1, len(layers)):
                if k == l + 1:  # T = diag(D_l): R[(a, b), (b, b')] = U[a, b, b']
                    blocks.append(jnp.einsum("na,nb,nc->abc", inputs[l], slopes[l], gbar[k]))
                    continue
                W_prev = layers[k - 1][0]
                T = (slopes[l][:, :, None] * W_prev if T is None else T @ W_prev)
                T = T * slopes[k - 1][:, None, :]
                block = jnp.einsum("na,nbe,nd->abed", inputs[l], T, gbar[k])
                blocks.append(block.reshape(block.shape[0] * block.shape[1], -1))
    return A, blocks


def _dense_block(part: np.ndarray) -> np.ndarray:
    """A residual block of :func:`_layer_factors` as a dense ``(rows, cols)`` matrix: the
    compact ``U[a, b, b']`` of adjacent layers becomes ``R[(a, b), (b, b')]``."""
    if part.ndim == 2:
        return part
    a, b, c = part.shape
    return (part[:, :, None, :] * np.eye(b)[:, :, None]).reshape(a * b, b * c)


@partial(jax.jit, static_argnames=("spec",))
def _gram_factors(theta, X, y, spec):
    """Layer inputs ``(n, in_l + 1)`` and pulled-back output factors ``(n, K, out_l)`` of all
    points (:func:`_pullbacks`): ``A`` of :func:`_layer_factors` without forming it."""
    inputs, _, pulled, _ = _pullbacks(unflatten(theta, spec.widths), X, y,
                                      jnp.ones(X.shape[0], X.dtype), X.shape[0], spec, False)
    return inputs, pulled


def check_curvature(curvature: str) -> str:
    """``curvature`` if it names an entry of :data:`CURVATURES`, else a ValueError listing them."""
    if curvature not in CURVATURES:
        raise ValueError(f"curvature={curvature!r} is unknown; choose one of {sorted(CURVATURES)}")
    return curvature


# ----------------------------------------------------------------------------- memory


def product_bytes(widths, n_points: int) -> int:
    """Estimated peak bytes of one jitted curvature product ``M v`` on ``n_points`` points:
    ~:data:`_LIVE_ARRAYS` float64 arrays of ``n_points`` x units plus four ``(P,)`` vectors.
    Independent of how many products a solver makes (they run one after another)."""
    size = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    return 8 * (_LIVE_ARRAYS * n_points * sum(widths[1:]) + 4 * size)


def matrix_bytes(widths, n_points: int, *, chunk: int = DEFAULT_CHUNK,
                 method: str = "hvp") -> int:
    """Estimated peak bytes of :func:`curvature_matrix` with ``method`` (see
    :data:`MATRIX_METHODS`): ``hvp`` holds the float64 ``(P, P)`` result plus ``chunk``
    simultaneous products (each ~``_LIVE_ARRAYS`` arrays of ``n_points`` x units); ``blocks``
    holds two ``(P, P)`` arrays (result and update), the factor rows ``A`` of one point chunk
    (at most :data:`FACTOR_BYTES`) and the residual's layer blocks (at most ``P^2 / 2``)
    with their per-point intermediates."""
    size = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))
    if method == "hvp":
        return 8 * size * size + min(chunk, size) * product_bytes(widths, n_points)
    m = _point_chunk(widths, n_points, widths[-1])
    per_point = 8 * m * (widths[-1] * size + 2 * max(widths[1:]) ** 2)
    return 2 * 8 * size * size + per_point + 8 * size * size // 2


def check_memory(needed: int, max_bytes: float, what: str) -> None:
    """A ValueError pointing to the iterative path when ``needed > max_bytes``; ``max_bytes``
    must be a positive number (``float('inf')`` turns the guard off, NaN is refused)."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float, np.integer,
                                                                 np.floating)) \
            or not max_bytes > 0:
        raise ValueError(f"max_bytes={max_bytes!r} must be a positive number of bytes, e.g. "
                         f"{MAX_BYTES} (the default); pass float('inf') to turn the memory "
                         "guard off")
    if needed > max_bytes:
        raise ValueError(
            f"{what} needs about {format_bytes(needed)} > max_bytes={max_bytes!r} "
            f"({format_bytes(max_bytes)}); use the iterative path instead: "
            "toylab.landscape.top_eigen(...) for the top "
            "eigenpairs or toylab.landscape.spectral_density(...) for the spectral density "
            "(both use matrix-free products), or pass a larger max_bytes="
        )


# ----------------------------------------------------------------------------- exact path


def _hvp_matrix(p: Problem, curvature: str, chunk: int) -> np.ndarray:
    rows = _basis_products(jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y), p.spec,
                           curvature, min(chunk, p.n_params))
    return np.asarray(rows).T


def _point_chunk(widths, n_points: int, rows_per_point: int) -> int:
    """Points per call of :func:`_layer_factors`, so that ``A`` stays within
    :data:`FACTOR_BYTES`."""
    return int(np.clip(FACTOR_BYTES // (8 * rows_per_point * n_params(widths)), 1, n_points))


def _factor_chunks(p: Problem, residual: bool, gram: bool = True):
    """:func:`_layer_factors` of the points of ``p``, :func:`_point_chunk` points per call
    (the last call padded with weight-0 points): yields ``(A, R_parts)`` as NumPy arrays."""
    widths, n = p.spec.widths, p.X.shape[0]
    K = widths[-1] - 1 if p.spec.loss == "cross_entropy" else widths[-1]
    m = _point_chunk(widths, n, K)
    pad = -n % m
    X = np.concatenate([p.X, np.zeros((pad, p.X.shape[1]))])
    y = np.concatenate([p.y, np.zeros((pad,) + p.y.shape[1:], p.y.dtype)])
    weight = np.concatenate([np.ones(n), np.zeros(pad)])
    theta = jnp.asarray(p.theta)
    for start in range(0, n + pad, m):
        part = slice(start, start + m)
        A, R_parts = _layer_factors(theta, jnp.asarray(X[part]), jnp.asarray(y[part]),
                                    jnp.asarray(weight[part]), float(n), p.spec, residual,
                                    gram)
        yield (None if A is None else np.asarray(A)), [np.asarray(block) for block in R_parts]


def _layer_pairs(widths) -> list[tuple[int, int]]:
    """The pairs ``l < k`` of layers in the order of :func:`_layer_factors`' residual blocks."""
    L = len(widths) - 1
    return [(l, k) for l in range(L) for k in range(l + 1, L)]


def layer_starts(widths) -> np.ndarray:
    """``(L + 1,)`` flat index where each layer's ``(W_l, b_l)`` starts (and ``P`` last)."""
    return np.cumsum([0] + [(a + 1) * b for a, b in zip(widths[:-1], widths[1:])])


def residual_blocks(p: Problem) -> list[tuple[int, int, np.ndarray]]:
    """The non-zero layer blocks of the Hessian's residual ``R = H - G`` of a piecewise-linear
    net (call inside float64; :func:`_layer_factors` gives the closed form).

    Returns:
        ``[(l, k, U_lk), ...]`` for every pair of layers ``l < k``: ``U_lk`` of shape
        ``((in_l + 1) out_l, in_k out_k)`` is the block of ``R`` between layer ``l``'s
        ``(W_l, b_l)`` (rows, flat order) and ``W_k`` (columns); ``R`` is the sum of these
        blocks and their transposes (every other block, ``b_k``'s and the diagonal layer
        blocks included, is exactly zero).
    """
    return [(l, k, _dense_block(part))
            for (l, k), part in zip(_layer_pairs(p.spec.widths), _residual_parts(p))]


def _residual_parts(p: Problem) -> list[np.ndarray]:
    """The residual blocks of :func:`_layer_factors` (compact for adjacent layers) summed over
    all points."""
    parts = None
    for _, R_parts in _factor_chunks(p, residual=True, gram=False):
        parts = R_parts if parts is None else [b + r for b, r in zip(parts, R_parts)]
    return parts


def _blocks_matrix(p: Problem, curvature: str, chunk: int) -> np.ndarray:
    """``G = A^T A / n`` from :func:`_layer_factors` point chunk by point chunk (one BLAS
    product each), plus for the Hessian the residual's off-diagonal layer blocks and their
    transposes."""
    residual = curvature == "hessian"
    widths, n = p.spec.widths, p.X.shape[0]
    M, blocks = np.zeros((p.n_params, p.n_params)), None
    with dense_blas(p.n_params):
        for A, R_parts in _factor_chunks(p, residual):
            M += A.T @ A
            blocks = R_parts if blocks is None else [b + r for b, r in zip(blocks, R_parts)]
    M /= n
    starts = layer_starts(widths)
    for (l, k), part in zip(_layer_pairs(widths), blocks if residual else ()):
        block = _dense_block(part)
        rows = slice(starts[l], starts[l + 1])
        cols = slice(starts[k], starts[k] + widths[k] * widths[k + 1])  # W_k, not b_k
        M[rows, cols] += block
        M[cols, rows] += block.T
    return M


MATRIX_METHODS: dict[str, Callable[[Problem, str, int], np.ndarray]] = {
    "hvp": _hvp_matrix,
    "blocks": _blocks_matrix,
}
"""Exact-matrix algorithms. ``hvp``: the curvature product applied to all ``P`` basis vectors
(any curvature, any activation). ``blocks``: ``G = A^T A / n`` from the layer-factored
per-point Jacobians and rank-reduced output-Hessian factors (:data:`GRAM_FACTORS`), plus, for
the Hessian of a piecewise-linear net, the residual's closed-form off-diagonal layer blocks
(:func:`_layer_factors`); 10-20x faster than ``hvp`` (benchmarks/hessian.py)."""


def blocks_apply(p: Problem, curvature: str) -> str | None:
    """Why ``blocks`` cannot compute this matrix (nor :func:`problem_factored_operator` its
    products), or ``None`` if it can."""
    if curvature not in ("hessian", "gauss_newton"):
        return f"curvature={curvature!r} (blocks covers hessian and gauss_newton)"
    if p.spec.loss not in OUTPUT_FACTORS:
        return f"loss={p.spec.loss!r} has no output factorisation in OUTPUT_FACTORS"
    if curvature == "hessian" and not get_activation(p.spec.activation).piecewise_linear:
        return (f"activation={p.spec.activation!r} is smooth, so the residual's diagonal "
                "blocks do not vanish")
    return None


def problem_matrix(p: Problem, curvature: str = "hessian", *, method: str = "auto",
                   chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> np.ndarray:
    """Exact ``(P, P)`` curvature matrix of a resolved problem (call inside float64).

    ``method="auto"`` uses ``blocks`` where it applies and fits in ``max_bytes``, else ``hvp``.
    """
    check_curvature(curvature)
    chunk = check_int("chunk", chunk, example=f"{DEFAULT_CHUNK} (basis vectors per batch)")
    widths, n = p.spec.widths, p.X.shape[0]
    if method == "auto":
        fits = matrix_bytes(widths, n, chunk=chunk, method="blocks") <= max_bytes
        method = "blocks" if blocks_apply(p, curvature) is None and fits else "hvp"
    elif method not in MATRIX_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose 'auto' or one of "
                         f"{sorted(MATRIX_METHODS)}")
    elif method == "blocks" and blocks_apply(p, curvature) is not None:
        raise ValueError(f"method='blocks' does not apply: {blocks_apply(p, curvature)}; "
                         "use method='hvp'")
    check_memory(matrix_bytes(widths, n, chunk=chunk, method=method), max_bytes,
                 f"the exact {curvature} of P={p.n_params} parameters on {n} points")
    return MATRIX_METHODS[method](p, curvature, int(chunk))


@float64
def curvature_matrix(net, X, y, *, curvature: str = "hessian", activation: str | None = None,
                     loss: str = "cross_entropy", method: str = "auto",
                     chunk: int = DEFAULT_CHUNK, max_bytes: float = MAX_BYTES) -> np.ndarray:
    """Exact curvature matrix ``(P, P)`` of the mean training loss in the flat order.

    Args:
        net: layer list or :class:`toylab.models.MLP`; X: ``(n, d)``; y: ``(n,)`` labels.
        curvature: name in :data:`CURVATURES` (``hessian``, ``gauss_newton``, ``fisher``).
        activation: required for a layer list; loss: name in :data:`toylab.models.LOSSES`.
        method: ``auto`` (``blocks`` where it applies and fits, else ``hvp``) or a name in
            :data:`MATRIX_METHODS`; both are exact and agree to round-off.
        chunk: basis vectors per vmapped batch of products (memory vs speed).
        max_bytes: limit for the estimated peak memory (:func:`matrix_bytes`); above it a
            ``ValueError`` points to :func:`toylab.landscape.top_eigen` /
            :func:`toylab.landscape.spectral_density`.
    Returns:
        ``M: (P, P)`` float64 with column ``j`` equal to ``M e_j`` (not symmetrised).
    """
    return problem_matrix(resolve(net, X, y, activation=activation, loss=loss), curvature,
                          method=method, chunk=chunk, max_bytes=max_bytes)


def hessian(net, X, y, *, activation: str | None = None, loss: str = "cross_entropy",
            method: str = "auto", chunk: int = DEFAULT_CHUNK,
            max_bytes: float = MAX_BYTES) -> np.ndarray:
    """Exact Hessian ``(P, P)`` of the mean training loss: forward-over-reverse HVPs of all
    basis vectors ``chunk`` at a time (``hvp``), or Gauss-Newton + residual blocks for
    piecewise-linear nets (``blocks``); see :func:`curvature_matrix`."""
    return curvature_matrix(net, X, y, curvature="hessian", activation=activation, loss=loss,
                            method=method, chunk=chunk, max_bytes=max_bytes)


# ----------------------------------------------------------------------------- matrix-free products


def _linear_operator(size: int, product: Callable[[Array], Array]):
    """Symmetric ``scipy`` LinearOperator of a float64 JAX product ``v -> M v``."""

    def matvec(v):
        with jax.enable_x64(True):
            return np.asarray(product(jnp.asarray(np.ravel(v), jnp.float64)))

    return scipy.sparse.linalg.LinearOperator((size, size), matvec=matvec, rmatvec=matvec,
                                              dtype=np.float64)


def problem_operator(p: Problem, curvature: str = "hessian") -> scipy.sparse.linalg.LinearOperator:
    """``scipy`` LinearOperator of jitted float64 curvature products of a resolved problem."""
    check_curvature(curvature)
    with jax.enable_x64(True):
        theta, X, y = jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y)
    return _linear_operator(p.n_params, lambda v: _product(theta, v, X, y, p.spec, curvature))


def _factored_product(inputs, pulled, parts, v, widths):
    """``M v = A^T (A v) / n + R v`` from the factors of :func:`_gram_factors` (``A``'s rows
    ``[h_{l-1}, 1] kron g_lk`` per point, never formed) and the residual parts of
    :func:`_residual_parts` (none for the Gauss-Newton matrix). Traceable; jitted by
    :class:`FactoredProduct` or inside a caller's loop."""
    starts = layer_starts(widths)
    V = [v[s:e].reshape(a + 1, b)
         for s, e, a, b in zip(starts[:-1], starts[1:], widths[:-1], widths[1:])]
    u = sum(jnp.einsum("nkb,nb->nk", g, x @ Vl) for x, g, Vl in zip(inputs, pulled, V))
    out = [x.T @ jnp.einsum("nkb,nk->nb", g, u) / x.shape[0] for x, g in zip(inputs, pulled)]
    for (l, k), part in zip(_layer_pairs(widths), parts):
        W_k = V[k][:-1]  # R couples layer l to W_k, not b_k
        if part.ndim == 3:  # adjacent layers: R[(a, b), (b, c)] = U[a, b, c]
            out[l] = out[l] + jnp.sum(part * W_k, axis=2)  # sums, not einsum: XLA:CPU
            to_k = jnp.sum(part * V[l][:, :, None], axis=0)  # batched dots are slow
        else:
            out[l] = out[l] + (part @ W_k.reshape(-1)).reshape(V[l].shape)
            to_k = (part.T @ V[l].reshape(-1)).reshape(W_k.shape)
        out[k] = out[k].at[:-1].add(to_k)
    return jnp.concatenate([o.reshape(-1) for o in out])


@dataclass(frozen=True)
class FactoredProduct:
    """The exact product ``(data, v) -> M v`` of :func:`_factored_product` for nets of
    ``widths``, with ``data = (inputs, pulled, parts)``: hashable by value, so a jitted loop
    that takes it as a static argument (:func:`toylab.landscape.spectra._lanczos_steps`)
    compiles once per shape, not once per call."""

    widths: tuple[int, ...]

    def __call__(self, data, v: Array) -> Array:
        return _factored_product(*data, v, self.widths)


@partial(jax.jit, static_argnames=("product",))
def _apply(product: FactoredProduct, data, v: Array) -> Array:
    """One jitted product (compiled once per ``product`` and shapes)."""
    return product(data, v)


def factored_bytes(widths, n_points: int) -> int:
    """Estimated bytes of :func:`problem_factored_product`'s data: per layer the ``n_points``
    inputs and ``C`` pulled-back factors (:func:`_gram_factors`), the residual parts (compact
    ``(in_l + 1) out_l out_k`` for adjacent layers, dense blocks with their per-point
    ``T: (n, out_l, in_k)`` otherwise) and one product's intermediates (:func:`product_bytes`).
    Linear in ``n_points`` and ``P`` for nets of two hidden layers; no ``(P, P)`` array."""
    units = sum((a + 1) + widths[-1] * b for a, b in zip(widths[:-1], widths[1:]))
    parts = 0
    for l, k in _layer_pairs(widths):
        rows = (widths[l] + 1) * widths[l + 1]
        parts += rows * widths[k + 1] if k == l + 1 else (
            rows * widths[k] * widths[k + 1] + n_points * widths[l + 1] * widths[k])
    return 8 * (n_points * units + parts) + product_bytes(widths, n_points)


def problem_factored_product(p: Problem, curvature: str = "hessian"
                             ) -> tuple[FactoredProduct, tuple]:
    """``(product, data)`` with ``product(data, v) = M v`` exact, from the layer factors of a
    resolved problem (call inside float64): ``A^T (A v) / n`` with ``A``'s rows kept as
    per-point layer inputs and pulled-back output factors (two matrix products per layer,
    ``2 n P`` multiply-adds; the forward and backward passes that an HVP redoes every time are
    done once here), plus the residual's closed-form layer blocks for the Hessian. Where
    ``blocks`` applies (:func:`blocks_apply`)."""
    check_curvature(curvature)
    reason = blocks_apply(p, curvature)
    if reason is not None:
        raise ValueError(f"the factored product does not apply: {reason}; use "
                         "problem_operator (forward-over-reverse products)")
    theta, X, y = jnp.asarray(p.theta), jnp.asarray(p.X), jnp.asarray(p.y)
    inputs, pulled = _gram_factors(theta, X, y, p.spec)
    parts = [jnp.asarray(part) for part in _residual_parts(p)] if curvature == "hessian" else []
    return FactoredProduct(p.spec.widths), (inputs, pulled, parts)


def problem_factored_operator(p: Problem,
                              curvature: str = "hessian") -> scipy.sparse.linalg.LinearOperator:
    """``scipy`` LinearOperator of :func:`problem_factored_product` (call inside float64).
    Measured 0.3-0.4 ms against 0.7-1.0 ms per jitted HVP at P = 1,251 and 0.7-0.9 ms against
    1.7-2.5 ms at P = 4,547 (512 points, shared 2-core CPU, 2026-12-03); inside a jitted loop
    (:func:`toylab.landscape.spectra._lanczos_steps`) 0.14 and 0.44 ms."""
    product, data = problem_factored_product(p, curvature)
    return _linear_operator(p.n_params, lambda v: _apply(product, data, v))


def curvature_operator(net, X, y, *, curvature: str = "hessian", activation: str | None = None,
                       loss: str = "cross_entropy") -> scipy.sparse.linalg.LinearOperator:
    """Matrix-free ``(P, P)`` LinearOperator ``v -> M v`` of jitted float64 products.

    Args: as :func:`curvature_matrix`.
    Returns:
        ``scipy.sparse.linalg.LinearOperator`` (symmetric; ``matvec == rmatvec``).
    """
    return problem_operator(resolve(net, X, y, activation=activation, loss=loss), curvature)
