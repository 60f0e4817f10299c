"""Spectra of curvature matrices: full eigendecomposition, top-``k`` eigenpairs, spectral density.

Three routes, from exact to matrix-free:

- :func:`eigendecomposition` of an exact matrix (:func:`toylab.landscape.curvature_matrix`),
  LAPACK ``syevd``/``syevr`` with its working memory checked against ``max_bytes`` first;
- :func:`top_eigen`: the top ``k`` eigenpairs, by Lanczos on exact products (never forming
  the matrix: ARPACK on jitted HVPs, or full reorthogonalisation on layer-factored products)
  or from the exact matrix (:data:`TOP_EIGEN_METHODS`);
- :func:`spectral_density`: stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017) from
  :func:`lanczos_tridiagonal` on products only;
- :func:`residual_norms`: ``||M v - lambda v||`` of any eigenpairs by exact products, a bound
  on their eigenvalue error.

The matrix-free routes hold ``O(P)`` memory (:func:`lanczos_bytes`, checked against
``max_bytes``), so they run on nets of 10^5-10^6 parameters (benchmarks/lanczos.py).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from scipy.stats import norm

from toylab.landscape.curvature import (
    DEFAULT_CHUNK,
    MAX_BYTES,
    blocks_apply,
    check_curvature,
    check_memory,
    dense_blas,
    factored_bytes,
    problem_factored_product,
    problem_matrix,
    problem_operator,
    product_bytes,
)
from toylab.landscape.problem import Problem, check_int, float64, resolve
from toylab.models import n_params


# ----------------------------------------------------------------------------- full spectrum


def eigh_bytes(size: int, *, vectors: bool = True) -> int:
    """Estimated extra bytes of a LAPACK ``syevd`` of a ``(size, size)`` float64 matrix: the
    working copy, plus ``2 size^2`` workspace when eigenvectors are wanted."""
    return 8 * size * size * (3 if vectors else 1)


class Spectrum(NamedTuple):
    """Eigenpairs in descending order of eigenvalue.

    Attributes:
        eigenvalues: ``(k,)`` descending.
        eigenvectors: ``(P, k)`` orthonormal columns (column ``j`` for ``eigenvalues[j]``), or
            ``None`` when only values were asked for.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None


def eigendecomposition(M, *, k: int | None = None, vectors: bool = True,
                       max_bytes: float = MAX_BYTES) -> Spectrum:
    """Eigendecomposition of a symmetric matrix in descending order (LAPACK via
    ``scipy.linalg.eigh``: ``syevd`` for the full spectrum, ``syevr`` for the top ``k``).

    Args:
        M: ``(P, P)`` symmetric (only its lower triangle is read).
        k: number of top eigenpairs, or ``None`` for all ``P``.
        vectors: also return eigenvectors.
        max_bytes: limit for the estimated LAPACK working memory (:func:`eigh_bytes`).
    Returns:
        :class:`Spectrum`.
    """
    M = np.asarray(M, np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M has shape {M.shape}; need a square (P, P) matrix")
    if not np.all(np.isfinite(M)):
        raise ValueError("M contains NaN or inf; check the network parameters and data")
    size = M.shape[0]
    k = size if k is None else check_k(k, size, "eigendecomposition")
    check_memory(eigh_bytes(size, vectors=vectors), max_bytes,
                 f"the eigendecomposition of a {size} x {size} matrix")
    subset = None if k == size else (size - k, size - 1)
    with dense_blas(size):
        out = scipy.linalg.eigh(M, eigvals_only=not vectors, subset_by_index=subset,
                                driver="evd" if subset is None else "evr",
                                check_finite=False)  # checked above, with a clearer error
    values, vecs = (out, None) if not vectors else out
    return Spectrum(values[::-1].copy(), None if vecs is None else vecs[:, ::-1].copy())


def check_k(k, size: int, where: str, *, strict: bool = False) -> int:
    """``1 <= k <= size`` (``< size`` if ``strict``), else a ValueError naming ``k``."""
    hi = size - 1 if strict else size
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) \
            or not np.isfinite(k) or int(k) != k or not 1 <= k <= hi:
        raise ValueError(
            f"k={k!r} must be an integer with 1 <= k <= {hi} for {where} with P={size} "
            "parameters"
            + (" (ARPACK needs k < P; use method='exact' for all eigenpairs)" if strict else "")
        )
    return int(k)


# ----------------------------------------------------------------------------- matrix-free memory


def lanczos_bytes(widths, n_points: int, n_basis: int) -> int:
    """Estimated peak bytes of a matrix-free Lanczos run on a net of ``widths`` and
    ``n_points`` points that keeps ``n_basis`` Lanczos vectors: ``n_basis + 4`` float64
    ``(P,)`` vectors (ARPACK's ``ncv`` basis and its ``3 P`` work vectors, or the stored basis
    of :func:`lanczos_tridiagonal` for SLQ), ARPACK's ``ncv (ncv + 8)`` work array, and one
    curvature product (:func:`toylab.landscape.curvature.product_bytes`). No ``(P, P)`` array
    is ever formed, so memory is linear in ``P`` (8 MiB per million parameters per vector)."""
    size = n_params(widths)
    return 8 * size * (n_basis + 4) + 8 * n_basis * (n_basis + 8) + product_bytes(widths,
                                                                                 n_points)


def arpack_basis(k: int, size: int) -> int:
    """Lanczos vectors ARPACK keeps for ``k`` eigenpairs: scipy's default
    ``min(P, max(2 k + 1, 20))`` (``ncv`` of ``scipy.sparse.linalg.eigsh``)."""
    return min(size, max(2 * k + 1, 20))


# ----------------------------------------------------------------------------- top eigenpairs


def _top_lanczos(p: Problem, k: int, curvature: str, *, seed: int, tol: float,
                 chunk: int, max_bytes: float) -> Spectrum:
    check_k(k, p.n_params, "top_eigen(method='lanczos')", strict=True)
    ncv = arpack_basis(k, p.n_params)
    check_memory(lanczos_bytes(p.spec.widths, p.X.shape[0], ncv), max_bytes,
                 f"Lanczos with {ncv} vectors of P={p.n_params} parameters on "
                 f"{p.X.shape[0]} points")
    v0 = np.random.default_rng(seed).standard_normal(p.n_params)
    values, vecs = scipy.sparse.linalg.eigsh(problem_operator(p, curvature), k=k, which="LA",
                                             v0=v0, tol=tol, ncv=ncv)
    order = np.argsort(values)[::-1]
    return Spectrum(values[order], vecs[:, order])


LANCZOS_STEPS = 1000
"""Most Lanczos steps (stored basis vectors) of ``top_eigen(method='factored')``; ~85 give
10 pairs of a 1,251-parameter net to machine precision and ~150 of a 4,547-parameter one
(benchmarks/hessian.py)."""


CHECK_EVERY = 8
"""``factored`` tests convergence every this many Lanczos steps (one jitted call of
:func:`_lanczos_steps` each): a test (the top ``k`` eigenpairs of the tridiagonal matrix,
0.2-0.6 ms) costs about two steps at P = 1,251, so testing every 4 steps was
12-23% slower for k = 10 (A/B in one process, benchmarks/README.md)."""


BASIS_ROWS = 64
"""The device Lanczos basis starts with room for this many vectors and doubles when full (each
size compiles :func:`_lanczos_steps` once, ~1 s): every step projects against the whole buffer
(zero rows past the basis), at most twice the rows in use but one matrix product, which here
beats XLA's dynamic slices of only the rows in use."""


def _ritz(alpha, beta, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` eigenpairs ``(theta (k,) descending, S (m, k))`` of the tridiagonal
    ``T`` (LAPACK ``stebz`` + ``stein``)."""
    m = len(alpha)
    theta, S = scipy.linalg.eigh_tridiagonal(np.asarray(alpha), np.asarray(beta), select="i",
                                             select_range=(m - k, m - 1))
    return theta[::-1], S[:, ::-1]


def _project_out(Q: jax.Array, w: jax.Array) -> jax.Array:
    """``w`` minus its projection on the rows of ``Q (cap, P)`` (orthonormal basis vectors,
    then zero rows), by classical Gram-Schmidt."""
    return w - (Q @ w) @ Q


REORTHOGONALISE_BELOW = 2 ** -0.5
"""A second Gram-Schmidt pass is made when the first shrinks the vector below this fraction
of its norm (Daniel, Gragg, Kaufman & Stewart 1976): a large cancellation can leave
components of the basis in it; otherwise one pass leaves them at rounding level."""


@partial(jax.jit, static_argnames=("product",), donate_argnames=("Q", "alpha", "beta"))
def _lanczos_steps(product, data, Q, alpha, beta, j, stop, breakdown):
    """Lanczos steps ``j .. stop - 1`` with full reorthogonalisation, in one compiled loop
    (Golub & Van Loan 2013, Alg. 10.1.1, then one pass of :func:`_project_out` against the
    whole basis, two where it cancels): step ``i`` sets ``alpha[i] = q_i . M q_i`` and
    ``beta[i]``, the norm of ``M q_i`` projected off the basis, and stores the next basis
    vector in ``Q[i + 1]`` (``Q (cap, P)``; ``product(data, v) = M v``). Stops after a step
    whose ``beta`` is at most ``breakdown * max |alpha|`` (an invariant subspace). Returns
    ``(Q, alpha, beta, steps done so far, broke down)``."""
    cap = Q.shape[0]

    def step(state):
        i, Q, alpha, beta, _ = state
        q = Q[i]
        w = product(data, q)
        a = q @ w
        alpha = alpha.at[i].set(a)
        w = w - a * q - jnp.where(i > 0, beta[i - 1], 0.0) * Q[i - 1]  # the three-term step
        before = jnp.linalg.norm(w)
        w = _project_out(Q, w)
        w = jax.lax.cond(jnp.linalg.norm(w) < REORTHOGONALISE_BELOW * before,
                         lambda w: _project_out(Q, w), lambda w: w, w)
        b = jnp.linalg.norm(w)
        beta = beta.at[i].set(b)
        broke = b <= breakdown * jnp.maximum(jnp.abs(alpha).max(), np.finfo(float).tiny)
        # no next vector at a breakdown or past the end (out-of-range scatters are dropped)
        Q = Q.at[jnp.where(broke, cap, i + 1)].set(w / jnp.where(broke, 1.0, b))
        return i + 1, Q, alpha, beta, broke

    j, Q, alpha, beta, broke = jax.lax.while_loop(lambda s: (s[0] < stop) & ~s[4], step,
                                                  (j, Q, alpha, beta, jnp.zeros((), bool)))
    return Q, alpha, beta, j, broke


def _full_basis_rows(n_steps: int) -> int:
    """Rows of the largest basis buffer :func:`_device_lanczos` may grow to."""
    return -(-n_steps // BASIS_ROWS) * BASIS_ROWS


def _factored_lanczos_bytes(p: Problem, steps: int) -> int:
    """Estimated peak bytes of ``factored`` with up to ``steps`` Lanczos steps: the factors
    and the basis at its peak, the largest buffer and the half-size one it is copied from."""
    rows = _full_basis_rows(steps) * 3 // 2
    return (lanczos_bytes(p.spec.widths, p.X.shape[0], rows)
            + factored_bytes(p.spec.widths, p.X.shape[0]))


def _grown_basis(Q: jax.Array, alpha, beta, rows: int):
    """The Lanczos state with room for ``rows`` basis vectors (zero rows appended)."""
    pad = rows - Q.shape[0]
    return (jnp.pad(Q, ((0, pad), (0, 0))), jnp.pad(alpha, (0, pad)), jnp.pad(beta, (0, pad)))


def _device_lanczos(product, data, v0: np.ndarray, n_steps: int, *, breakdown: float,
                    stop: Callable, rng: np.random.Generator):
    """Lanczos with full reorthogonalisation on a jitted product, on the device: the steps
    run :data:`CHECK_EVERY` at a time in :func:`_lanczos_steps`; ``stop(alpha, beta, b)``
    (host) is asked after each call. At an invariant subspace the run goes on from a random
    unit vector orthogonal to the basis with ``beta = 0`` at the join (so that eigenvalues of
    any multiplicity are reached).

    Returns:
        ``(alpha (m,), beta (m - 1,), Q (m, P), b)``: ``T = Q M Q^T`` and the residual norm
        ``b`` of the last step (``M Q^T = Q^T T + b q_{m+1} e_m^T``).
    """
    size = v0.shape[0]
    full = _full_basis_rows(n_steps)
    rows = min(BASIS_ROWS, full)
    Q = jnp.zeros((rows, size)).at[0].set(v0 / np.linalg.norm(v0))
    alpha, beta = jnp.zeros(rows), jnp.zeros(rows)
    m = 0
    while True:
        end = min(m + CHECK_EVERY, n_steps)
        if end >= Q.shape[0] and Q.shape[0] < full:  # room for the vector after step end - 1
            Q, alpha, beta = _grown_basis(Q, alpha, beta, min(2 * Q.shape[0], full))
        Q, alpha, beta, m, broke = _lanczos_steps(product, data, Q, alpha, beta, m, end,
                                                  breakdown)
        m = int(m)
        a, b = np.asarray(alpha)[:m], np.asarray(beta)[:m]
        if m == n_steps or stop(a, b[:-1], b[-1]):
            return a, b[:-1], Q[:m], b[-1]
        if bool(broke):
            basis = np.asarray(Q[:m])
            w = _orthogonalise(rng.standard_normal(size), basis)
            Q = Q.at[m].set(w / np.linalg.norm(w))
            beta = beta.at[m - 1].set(0.0)


def _top_factored(p: Problem, k: int, curvature: str, *, seed: int, tol: float,
                  chunk: int, max_bytes: float) -> Spectrum:
    k = check_k(k, p.n_params, "top_eigen(method='factored')")
    steps = min(p.n_params, LANCZOS_STEPS)
    check_memory(_factored_lanczos_bytes(p, steps), max_bytes,
                 f"Lanczos with up to {steps} vectors of P={p.n_params} parameters on "
                 f"{p.X.shape[0]} factored points")
    # ARPACK's test (dsconv): Ritz estimate b |s_mi| <= tol max(eps^(2/3), |theta_i|)
    eps = np.finfo(float).eps / 2  # LAPACK's dlamch('E'), ARPACK's tol=0
    tol = tol or eps

    def converged(alpha, beta, b) -> bool:
        if len(alpha) < k:
            return False
        theta, S = _ritz(alpha, beta, k)
        return bool(np.all(b * np.abs(S[-1]) <= tol * np.maximum(eps ** (2 / 3), np.abs(theta))))

    rng = np.random.default_rng(seed)
    product, data = problem_factored_product(p, curvature)
    alpha, beta, Q, b = _device_lanczos(product, data, rng.standard_normal(p.n_params), steps,
                                        breakdown=eps, stop=converged, rng=rng)
    if not converged(alpha, beta, b):
        raise ValueError(f"top_eigen(method='factored') did not converge in {steps} Lanczos "
                         f"steps to tol={tol!r}; use method='lanczos' (ARPACK, restarted) or "
                         "method='exact'")
    theta, S = _ritz(alpha, beta, k)
    return Spectrum(theta, np.asarray(Q.T @ S))


def _top_exact(p: Problem, k: int, curvature: str, *, seed: int, tol: float,
               chunk: int, max_bytes: float) -> Spectrum:
    check_k(k, p.n_params, "top_eigen(method='exact')")
    M = problem_matrix(p, curvature, chunk=chunk, max_bytes=max_bytes)
    return eigendecomposition(M, k=k, max_bytes=max_bytes)


TOP_EIGEN_METHODS: dict[str, Callable[..., Spectrum]] = {
    "lanczos": _top_lanczos,
    "factored": _top_factored,
    "exact": _top_exact,
}
"""``lanczos``: ARPACK's implicitly restarted Lanczos (``scipy.sparse.linalg.eigsh``) on
jitted forward-over-reverse products (any curvature, any net); ``factored``: Lanczos with full
reorthogonalisation and no restarts (:func:`_device_lanczos`, one compiled loop per
:data:`CHECK_EVERY` steps; ARPACK's convergence test) on the exact layer-factored products of
:func:`toylab.landscape.curvature.problem_factored_product`
(Hessian of piecewise-linear nets, Gauss-Newton of any; ~2-3x cheaper products and, unrestarted,
about half ARPACK's count on clustered spectra); ``exact``: full matrix then LAPACK ``syevr``
for the top ``k``. ``auto`` (the default of :func:`top_eigen`) takes ``factored`` where it
applies and its memory fits ``max_bytes``, else ``lanczos``."""


def _auto_top_method(p: Problem, curvature: str, max_bytes: float) -> str:
    fits = _factored_lanczos_bytes(p, min(p.n_params, LANCZOS_STEPS)) <= max_bytes
    return "factored" if fits and blocks_apply(p, curvature) is None else "lanczos"


def problem_top_eigen(p: Problem, k: int, *, curvature: str = "hessian", method: str = "auto",
                      seed: int = 0, tol: float = 0.0, chunk: int = DEFAULT_CHUNK,
                      max_bytes: float = MAX_BYTES) -> Spectrum:
    """Top-``k`` eigenpairs of a resolved problem's curvature (call inside float64)."""
    check_curvature(curvature)
    if not (isinstance(tol, (int, float, np.integer, np.floating)) and np.isfinite(tol)
            and tol >= 0):
        raise ValueError(f"tol={tol!r} must be a finite number >= 0 (ARPACK's relative "
                         "accuracy; 0 means machine precision)")
    if method == "auto":
        method = _auto_top_method(p, curvature, max_bytes)
    elif method not in TOP_EIGEN_METHODS:
        raise ValueError(f"method={method!r} is unknown; choose 'auto' or one of "
                         f"{sorted(TOP_EIGEN_METHODS)}")
    return TOP_EIGEN_METHODS[method](p, k, curvature, seed=seed, tol=tol, chunk=chunk,
                                     max_bytes=max_bytes)


@float64
def top_eigen(net, X, y, k: int, *, curvature: str = "hessian", method: str = "auto",
              activation: str | None = None, loss: str = "cross_entropy", seed: int = 0,
              tol: float = 0.0, chunk: int = DEFAULT_CHUNK,
              max_bytes: float = MAX_BYTES) -> Spectrum:
    """The ``k`` largest (algebraic) eigenpairs of a curvature matrix.

    Args:
        net, X, y, activation, loss: as :func:`toylab.landscape.curvature_matrix`.
        k: number of eigenpairs; ``1 <= k < P`` for ``lanczos``.
        curvature: name in :data:`toylab.landscape.CURVATURES`.
        method: ``auto`` (``factored`` where it applies and fits ``max_bytes``, else
            ``lanczos``) or a name in :data:`TOP_EIGEN_METHODS`; ``lanczos`` and ``factored``
            never form the matrix.
        seed: seed of the Lanczos start vector (results are deterministic given it).
        tol: ARPACK's relative accuracy, also ``factored``'s (0 = machine precision);
            :func:`residual_norms` bounds the eigenvalue errors of the result.
        chunk: basis vectors per batch when ``exact`` forms the matrix.
        max_bytes: limit for the estimated peak memory: for ``lanczos``
            :func:`lanczos_bytes` with :func:`arpack_basis` vectors (``O(P)``), for
            ``factored`` with the basis buffer for :data:`LANCZOS_STEPS` steps (1.5x at its
            growth) plus :func:`toylab.landscape.curvature.factored_bytes`, for ``exact`` the
            matrix and its eigendecomposition (``O(P^2)``).
    Returns:
        :class:`Spectrum` with ``k`` descending eigenvalues and ``(P, k)`` eigenvectors.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    return problem_top_eigen(p, k, curvature=curvature, method=method, seed=seed, tol=tol,
                             chunk=chunk, max_bytes=max_bytes)


def problem_residual_norms(p: Problem, spectrum: Spectrum,
                           curvature: str = "hessian") -> np.ndarray:
    """``||M v_j - lambda_j v_j||`` for every eigenpair of ``spectrum`` (call inside float64)."""
    check_curvature(curvature)
    vecs = spectrum.eigenvectors
    values = np.asarray(spectrum.eigenvalues, np.float64)
    if vecs is None or np.ndim(vecs) != 2 or np.shape(vecs) != (p.n_params, values.size):
        raise ValueError(
            f"spectrum.eigenvectors has shape {np.shape(vecs) if vecs is not None else None}; "
            f"residual norms need ({p.n_params}, {values.size}) eigenvectors of this net "
            "(from top_eigen or eigendecomposition with vectors=True)")
    matvec = problem_operator(p, curvature).matvec
    return np.array([np.linalg.norm(matvec(vecs[:, j]) - lam * vecs[:, j])
                     for j, lam in enumerate(values)])


@float64
def residual_norms(net, X, y, spectrum: Spectrum, *, curvature: str = "hessian",
                   activation: str | None = None, loss: str = "cross_entropy") -> np.ndarray:
    """Residual norms ``r_j = ||M v_j - lambda_j v_j||`` of eigenpairs, by one exact
    matrix-free product each (never the matrix).

    For symmetric ``M`` and unit ``v_j``, some eigenvalue of ``M`` lies within ``r_j`` of
    ``lambda_j`` (Parlett 1998, *The Symmetric Eigenvalue Problem*, Thm. 4.5.1), so ``r_j``
    is a computable bound on the eigenvalue error of a Lanczos (or any) eigenpair.

    Args:
        net, X, y, activation, loss, curvature: as :func:`toylab.landscape.curvature_matrix`.
        spectrum: :class:`Spectrum` with ``k`` eigenvalues and ``(P, k)`` unit eigenvectors.
    Returns:
        ``(k,)`` float64 residual norms, in the order of ``spectrum.eigenvalues``.
    """
    return problem_residual_norms(resolve(net, X, y, activation=activation, loss=loss),
                                  spectrum, curvature)


# ----------------------------------------------------------------------------- SLQ


def lanczos_tridiagonal(matvec: Callable[[np.ndarray], np.ndarray], v0: np.ndarray,
                        n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos tridiagonalisation with full reorthogonalisation (Golub & Van Loan 2013,
    Alg. 10.1.1 + classical Gram-Schmidt applied twice against all previous vectors), on the
    host, for any ``matvec`` (``top_eigen``'s ``factored`` method runs its own steps on the
    device, :func:`_device_lanczos`).

    Stops early on breakdown (an invariant Krylov subspace), where the quadrature it feeds is
    exact. scipy's ARPACK does not expose the tridiagonal matrix, hence this routine.

    Args:
        matvec: symmetric ``(P,) -> (P,)``.
        v0: ``(P,)`` non-zero start vector.
        n_steps: at most this many steps (``<= P``).
    Returns:
        ``(alpha (m,), beta (m - 1,))``: diagonal and off-diagonal of ``T = Q^T M Q``.
    """
    Q = np.zeros((n_steps, v0.shape[0]))
    alpha, beta = [], []
    q = v0 / np.linalg.norm(v0)
    for j in range(n_steps):
        Q[j] = q
        w = matvec(q)
        alpha.append(q @ w)
        w = _orthogonalise(w, Q[: j + 1])
        b = np.linalg.norm(w)
        if j == n_steps - 1 or b <= 1e-10 * max(np.abs(alpha).max(), np.finfo(float).tiny):
            break
        beta.append(b)
        q = w / b
    return np.asarray(alpha), np.asarray(beta)


def _orthogonalise(w: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """``w`` minus its projection on the orthonormal rows of ``Q``, by classical Gram-Schmidt
    applied twice ("twice is enough", Giraud et al. 2005)."""
    for _ in range(2):
        w = w - Q.T @ (Q @ w)
    return w


class SpectralDensity(NamedTuple):
    """Stochastic Lanczos quadrature of a curvature's spectrum (Ubaru, Chen & Saad 2017;
    Ghorbani, Krishnan & Xiao 2019).

    For start vector ``l`` the Gauss quadrature nodes ``theta_lj`` (Ritz values) and weights
    ``tau_lj`` (squared first components of the eigenvectors of ``T``) satisfy
    ``sum_j tau_lj theta_lj^s = v_l^T M^s v_l / |v_l|^2`` exactly for ``s < 2 m``.

    Attributes:
        nodes: ``(n_vectors, m)``; weights: ``(n_vectors, m)``, each row summing to 1 (rows of
        runs that stopped early are zero-padded).
    """

    nodes: np.ndarray
    weights: np.ndarray

    def density(self, grid, sigma: float) -> np.ndarray:
        """Gaussian-smoothed density ``phi(t) = mean_l sum_j tau_lj N(t; theta_lj, sigma^2)``
        (Ghorbani et al. 2019, Eq. 3) at ``grid: (G,)``; integrates to 1."""
        if not sigma > 0:
            raise ValueError(f"sigma={sigma!r} must be a positive kernel width")
        grid = np.asarray(grid, np.float64)
        kernel = norm.pdf(grid[:, None, None], loc=self.nodes, scale=sigma)
        return np.einsum("lj,glj->g", self.weights, kernel) / self.nodes.shape[0]


@float64
def spectral_density(net, X, y, *, n_vectors: int = 8, n_steps: int = 80,
                     curvature: str = "hessian", activation: str | None = None,
                     loss: str = "cross_entropy", seed: int = 0,
                     max_bytes: float = MAX_BYTES) -> SpectralDensity:
    """Stochastic Lanczos quadrature (SLQ) of the curvature's spectral density.

    Args:
        net, X, y, activation, loss, curvature: as :func:`toylab.landscape.curvature_matrix`.
        n_vectors: Rademacher start vectors (Ubaru et al. 2017, Alg. 1).
        n_steps: Lanczos steps per vector (clipped to ``P``).
        seed: seed of the start vectors.
        max_bytes: limit for the estimated peak memory (:func:`lanczos_bytes` with
            ``n_steps`` stored vectors; one start vector runs at a time).
    Returns:
        :class:`SpectralDensity`.
    """
    p = resolve(net, X, y, activation=activation, loss=loss)
    n_vectors = check_int("n_vectors", n_vectors, example="8")
    steps = min(check_int("n_steps", n_steps, example="80"), p.n_params)
    check_memory(lanczos_bytes(p.spec.widths, p.X.shape[0], steps), max_bytes,
                 f"stochastic Lanczos quadrature with {steps} steps of P={p.n_params} "
                 f"parameters on {p.X.shape[0]} points")
    op = problem_operator(p, curvature)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_vectors, p.n_params))
    nodes, weights = np.zeros((n_vectors, steps)), np.zeros((n_vectors, steps))
    for l, v0 in enumerate(signs):
        alpha, beta = lanczos_tridiagonal(op.matvec, v0, steps)
        theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta)
        nodes[l, : theta.size], weights[l, : theta.size] = theta, S[0] ** 2
    return SpectralDensity(nodes, weights)
