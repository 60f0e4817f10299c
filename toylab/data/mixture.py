"""The labelled Gaussian mixture: densities, sampling, boxes, Bayes quantities and exact
transforms (shift, rotation, posterior-preserving tilt, relabelling).

A :class:`GaussianMixture` has ``K`` Gaussian components ``N(m_k, S_k)`` with mixing weights
``w_k`` and a class label per component, so a class may own several components (XOR). For a
point ``x`` in ``R^d``:

* ``component_log_density``: ``log(w_k N(x; m_k, S_k))``;
* ``class_log_joint``: ``log(pi_c p_c(x)) = logsumexp_{k: label_k = c} log(w_k N_k(x))``;
* ``class_posterior``: ``P(c | x)``, Bayes' rule;
* ``bayes_error_with_bound``: ``1 - E[max_c P(c | x)]`` (:mod:`toylab.data.bayes`).

Everything is NumPy float64; no JAX here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.special
import sympy

from toylab.data import bayes, boundary, checks
from toylab.data.quadrature import group_logsumexp

DOMAIN_MASS_OUTSIDE = 1e-3
""":attr:`GaussianMixture.domain` holds at least ``1 - DOMAIN_MASS_OUTSIDE`` of the mass."""

ROTATION_ATOL = 1e-12
"""A rotation matrix ``R`` must satisfy ``|R^T R - I| <= ROTATION_ATOL`` entrywise and ``det R > 0``."""


class Sample(NamedTuple):
    """A labelled sample: ``X (n, d)`` float64, ``y (n,)`` int64 class, ``component (n,)`` int64."""

    X: np.ndarray
    y: np.ndarray
    component: np.ndarray


class Moments(NamedTuple):
    """First two moments of a mixture and of each class.

    Attributes:
        class_weights: ``(C,)`` priors ``pi_c``.
        mean: ``(d,)`` mean of ``p(x)``.
        covariance: ``(d, d)`` covariance of ``p(x)`` (its spread).
        class_means: ``(C, d)`` means of ``p(x | c)`` (NaN for a class of prior 0).
        class_covariances: ``(C, d, d)`` covariances of ``p(x | c)`` (NaN for prior 0).
    """

    class_weights: np.ndarray
    mean: np.ndarray
    covariance: np.ndarray
    class_means: np.ndarray
    class_covariances: np.ndarray


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def _nice_step(span: float) -> float:
    """Smallest of ``{1, 2, 5} x 10^k`` that is at least ``span / 10`` (plot tick spacing)."""
    raw = span / 10
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _mixture_moments(weights: np.ndarray, means: np.ndarray, covs: np.ndarray):
    """Mean ``(d,)`` and covariance ``(d, d)`` of ``sum_k w_k N(m_k, S_k)`` (weights summing
    to 1): ``sum w_k m_k`` and ``sum w_k (S_k + (m_k - mu)(m_k - mu)^T)``."""
    mu = weights @ means
    centred = means - mu
    return mu, np.einsum("k,kij->ij", weights, covs) + np.einsum("k,ki,kj->ij", weights, centred, centred)


@dataclass(frozen=True, eq=False, repr=False)
class GaussianMixture:
    """A labelled Gaussian mixture ``p(x) = sum_k w_k N(x; m_k, S_k)`` in ``R^d``.

    Args:
        means: ``(K, d)`` component means.
        covs: per-component covariance, each a scalar variance (``s * I``), a length-``d``
            diagonal or a ``(d, d)`` SPD matrix: an array of shape ``(K,)``, ``(K, d)`` or
            ``(K, d, d)``, or a length-``K`` sequence of mixed specs. A single spec of shape
            ``()``, ``(d,)`` or ``(d, d)`` is shared by all components when that reading is
            unambiguous (it is not when ``K == d``: then pass ``(K, d, d)``).
        weights: ``(K,)`` mixing weights, ``>= 0``, summing to 1 within 1e-9 (default uniform).
        labels: ``(K,)`` class of each component, classes ``0..C-1`` each present (default
            ``arange(K)``); several components may share a class.
        name: short name used in reprs, configs and figure names.

    Stored (normalised, read-only float64/int64): ``means (K, d)``, ``covs (K, d, d)``,
    ``weights (K,)``, ``labels (K,)``.
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray | None = None
    labels: np.ndarray | None = None
    name: str = "custom"
    _chol: np.ndarray = field(init=False, repr=False)
    _whiten: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        means = checks.finite("means", np.asarray(self.means, dtype=np.float64))
        if means.ndim != 2 or 0 in means.shape:
            raise ValueError(
                f"means has shape {means.shape}; need (K, d) with K, d >= 1 "
                f"(for 1-D data pass [[m0], [m1], ...])"
            )
        K, d = means.shape
        covs = checks.covariances(self.covs, K, d)
        set_ = object.__setattr__
        set_(self, "means", _readonly(means))
        set_(self, "covs", _readonly(covs))
        set_(self, "weights", _readonly(checks.mixing_weights(self.weights, K)))
        set_(self, "labels", _readonly(checks.class_labels(self.labels, K)))
        set_(self, "_chol", _readonly(np.linalg.cholesky(covs)))
        # L^{-1} per component, so whitening a batch of points is one small matmul
        # (scipy's solve_triangular per call costs ~2.5x more on (n, 2) batches).
        set_(self, "_whiten", _readonly(np.stack([
            scipy.linalg.solve_triangular(L, np.eye(d), lower=True) for L in self._chol])))

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(name={self.name!r}, dim={self.dim}, "
            f"n_components={self.n_components}, n_classes={self.n_classes})"
        )

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def class_weights(self) -> np.ndarray:
        """``(C,)`` class priors ``pi_c = sum_{k: label_k = c} w_k``."""
        return np.bincount(self.labels, weights=self.weights, minlength=self.n_classes)

    def moments(self) -> Moments:
        """Class priors, mean and covariance (spread) of ``p(x)`` and of each ``p(x | c)``,
        exactly from the parameters (law of total covariance); see :class:`Moments`."""
        mean, cov = _mixture_moments(self.weights, self.means, self.covs)
        C, d = self.n_classes, self.dim
        class_means, class_covs = np.full((C, d), np.nan), np.full((C, d, d), np.nan)
        prior = self.class_weights
        for c in np.flatnonzero(prior > 0):
            k = self.labels == c
            class_means[c], class_covs[c] = _mixture_moments(self.weights[k] / prior[c],
                                                             self.means[k], self.covs[k])
        return Moments(prior, mean, cov, class_means, class_covs)

    # ---- sampling ---------------------------------------------------------------------------

    def sample(self, seed: int, n: int) -> Sample:
        """Draw ``n`` labelled points with ``np.random.default_rng(seed)`` (deterministic).

        Args:
            seed: non-negative integer.
            n: number of points, ``>= 1``.

        Returns:
            :class:`Sample` ``(X (n, d), y (n,), component (n,))``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"n={n!r} must be a positive integer (number of samples), e.g. n=1000")
        rng = np.random.default_rng(checks.seed(seed))
        component = rng.choice(self.n_components, size=n, p=self.weights).astype(np.int64)
        z = rng.standard_normal((n, self.dim))
        X = self.means[component] + np.einsum("nij,nj->ni", self._chol[component], z)
        return Sample(X, self.labels[component], component)

    # ---- densities --------------------------------------------------------------------------

    def _points(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(
                f"X has shape {X.shape}; need (n, {self.dim}) (use X.reshape(-1, {self.dim}))"
            )
        return checks.finite("X", X)

    def component_log_density(self, X) -> np.ndarray:
        """``log(w_k N(x; m_k, S_k))`` via the Cholesky factor ``S_k = L L^T``:
        ``z = L^{-1} (x - m_k)``, ``-(|z|^2 + log det S_k + d log 2 pi) / 2 + log w_k``.

        Args:
            X: ``(n, d)`` finite points (``n = 0`` gives an empty result).

        Returns:
            ``(n, K)``; ``-inf`` for zero-weight components.
        """
        X = self._points(X)
        out = np.empty((len(X), self.n_components))
        for k, (m, L, L_inv) in enumerate(zip(self.means, self._chol, self._whiten)):
            z = (X - m) @ L_inv.T
            log_det = 2.0 * np.sum(np.log(np.diag(L)))
            out[:, k] = -0.5 * (np.einsum("ni,ni->n", z, z) + log_det
                                + self.dim * np.log(2 * np.pi))
        with np.errstate(divide="ignore"):
            return out + np.log(self.weights)

    def log_density(self, X) -> np.ndarray:
        """``log p(x)``, ``(n,)`` for ``X (n, d)``."""
        return scipy.special.logsumexp(self.component_log_density(X), axis=1)

    def class_log_joint(self, X) -> np.ndarray:
        """``log(pi_c p_c(x))``, ``(n, C)``: log-sum-exp over each class's components."""
        return group_logsumexp(self.component_log_density(X), self.labels, self.n_classes)

    def class_posterior(self, X) -> np.ndarray:
        """``P(c | x)`` by Bayes' rule, ``(n, C)``; rows sum to 1."""
        joint = self.class_log_joint(X)
        return np.exp(joint - scipy.special.logsumexp(joint, axis=1, keepdims=True))

    def bayes_predict(self, X) -> np.ndarray:
        """Bayes-optimal class ``argmax_c pi_c p_c(x)``, ``(n,)`` int64."""
        return np.argmax(self.class_log_joint(X), axis=1).astype(np.int64)

    # ---- boxes ------------------------------------------------------------------------------

    def mass_outside(self, box) -> float:
        """Union bound on the probability mass outside an axis-aligned box.

        ``sum_k w_k sum_i [Phi((lo_i - m_ki) / s_ki) + Phi((m_ki - hi_i) / s_ki)]`` with
        ``s_ki = sqrt(S_k,ii)``, clipped to 1.

        Args:
            box: ``(d, 2)`` rows ``[lo, hi]``.
        """
        box = checks.finite("box", np.asarray(box, dtype=np.float64))
        if box.shape != (self.dim, 2) or np.any(box[:, 0] >= box[:, 1]):
            raise ValueError(f"box={box.tolist()} must have shape ({self.dim}, 2) rows [lo, hi], lo < hi")
        sd = np.sqrt(np.diagonal(self.covs, axis1=1, axis2=2))  # (K, d)
        tails = scipy.special.ndtr((box[:, 0] - self.means) / sd) + scipy.special.ndtr(
            (self.means - box[:, 1]) / sd
        )
        return float(min(1.0, np.sum(self.weights[:, None] * tails)))

    def covering_box(self, mass_outside: float) -> np.ndarray:
        """A box whose outside mass is at most ``mass_outside`` by the union bound.

        Every positive-weight component gets ``m_ki +- t s_ki`` with ``2 d Phi(-t) = mass_outside``,
        so :meth:`mass_outside` of the returned box is ``<= mass_outside``.

        Returns:
            ``(d, 2)`` rows ``[lo, hi]``.
        """
        if not (0 < mass_outside < 1):
            raise ValueError(f"mass_outside={mass_outside!r} must lie in (0, 1)")
        t = -scipy.special.ndtri(mass_outside / (2 * self.dim))
        live = self.weights > 0
        sd = np.sqrt(np.diagonal(self.covs, axis1=1, axis2=2))[live]
        m = self.means[live]
        return np.stack([(m - t * sd).min(axis=0), (m + t * sd).max(axis=0)], axis=1)

    @property
    def domain(self) -> np.ndarray:
        """``(d, 2)`` plotting window holding >= 99.9% of the mass.

        ``covering_box(DOMAIN_MASS_OUTSIDE)`` rounded outward to a common 1-2-5 tick step.
        """
        box = self.covering_box(DOMAIN_MASS_OUTSIDE)
        step = _nice_step(float(np.max(box[:, 1] - box[:, 0])))
        return np.stack([np.floor(box[:, 0] / step), np.ceil(box[:, 1] / step)], axis=1) * step

    # ---- Bayes quantities -------------------------------------------------------------------

    def bayes_error_with_bound(self) -> bayes.BayesError:
        """Bayes error ``1 - E[max_c P(c | x)]`` with an absolute error bound: closed forms for
        two single-Gaussian classes with shared or proportional covariances (any ``d``), else
        deterministic quadrature for ``d <= 2`` (:func:`toylab.data.bayes.bayes_error_with_bound`).

        Raises:
            ValueError: ``d > 2`` without a closed form.
        """
        return bayes.bayes_error_with_bound(self)

    def bayes_error(self) -> float:
        """Bayes error as a float; see :meth:`bayes_error_with_bound` for method and bound."""
        return self.bayes_error_with_bound().value

    def bayes_boundary(self, i: int = 0, j: int = 1, symbols=None) -> sympy.Expr:
        """``log(pi_i p_i(x)) - log(pi_j p_j(x))`` as a sympy expression, whose zero set is the
        Bayes boundary between classes ``i`` and ``j``; see :func:`toylab.data.boundary.bayes_boundary`."""
        return boundary.bayes_boundary(self, i, j, symbols)

    # ---- exact transforms -------------------------------------------------------------------

    def _vector(self, name: str, value) -> np.ndarray:
        v = checks.finite(name, np.asarray(value, dtype=np.float64))
        if v.shape != (self.dim,):
            raise ValueError(f"{name} has shape {v.shape}; need ({self.dim},), one entry per input dimension")
        return v

    def shifted(self, offset, name: str | None = None) -> GaussianMixture:
        """The mixture of ``x + offset`` for ``x ~ self``: means ``m_k + offset``, same
        covariances, weights and labels. Every Bayes quantity moves with it:
        ``P'(c | x + offset) = P(c | x)``, the Bayes boundary is translated, the Bayes error is
        unchanged.

        Args:
            offset: ``(d,)`` translation.
            name: of the result (default ``"{name}_shifted"``).

        Example: a curved Bayes boundary off the origin, ``make("curved").shifted([1.5, -0.8])``.
        """
        offset = self._vector("offset", offset)
        return GaussianMixture(self.means + offset, self.covs, self.weights, self.labels,
                               name=name or f"{self.name}_shifted")

    def rotated(self, rotation, center=None, name: str | None = None) -> GaussianMixture:
        """The mixture of ``R (x - center) + center`` for ``x ~ self``: means
        ``R (m_k - center) + center``, covariances ``R S_k R^T``; ``P'(c | R x) = P(c | x)``
        (about the origin), the Bayes error is unchanged.

        Args:
            rotation: in 2-D an angle in degrees (counter-clockwise); in any ``d`` a ``(d, d)``
                rotation matrix (orthogonal within ``ROTATION_ATOL``, determinant ``+1``).
            center: ``(d,)`` fixed point (default the origin).
            name: of the result (default ``"{name}_rotated"``).
        """
        R = np.asarray(rotation, dtype=np.float64)
        if R.ndim == 0:
            checks.finite("rotation", R)
            if self.dim != 2:
                raise ValueError(
                    f"rotation={float(R)!r} is an angle, which fixes a rotation only in 2-D; this "
                    f"mixture is {self.dim}-D: pass a ({self.dim}, {self.dim}) rotation matrix "
                    f"(e.g. scipy.spatial.transform.Rotation.from_euler(...).as_matrix() in 3-D)"
                )
            a = math.radians(float(R))
            R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        else:
            checks.finite("rotation", R)
            if R.shape != (self.dim, self.dim):
                raise ValueError(
                    f"rotation has shape {R.shape}; pass an angle in degrees (2-D) or a "
                    f"({self.dim}, {self.dim}) rotation matrix"
                )
            err = float(np.max(np.abs(R.T @ R - np.eye(self.dim))))
            if err > ROTATION_ATOL or np.linalg.det(R) <= 0:
                raise ValueError(
                    f"rotation={R.tolist()} is not a rotation (|R^T R - I| = {err:.3g}, det = "
                    f"{np.linalg.det(R):.3g}); need an orthogonal matrix with det +1, e.g. the Q of "
                    f"np.linalg.qr with a column sign flipped if det < 0"
                )
        c = np.zeros(self.dim) if center is None else self._vector("center", center)
        covs = R @ self.covs @ R.T
        return GaussianMixture((self.means - c) @ R.T + c, (covs + np.swapaxes(covs, 1, 2)) / 2,
                               self.weights, self.labels, name=name or f"{self.name}_rotated")

    def tilted(self, means, covs, weights=None, name: str | None = None) -> GaussianMixture:
        """The posterior-preserving tilt by ``r(x) = sum_j v_j N(x; a_j, B_j)``.

        Every class-conditional density is multiplied by the same ``r`` and renormalised,
        ``p'(x | c) = p(x | c) r(x) / Z_c`` with ``Z_c = integral p(x | c) r(x) dx``, and the
        priors become ``pi'_c = pi_c Z_c / Z`` (``Z = sum_c pi_c Z_c``), so that
        ``pi'_c p'(x | c) = pi_c p(x | c) r(x) / Z``: the posterior ``p'(c | x) = p(c | x)``
        exactly, the Bayes classifier and boundary are unchanged, and ``p'(x) = p(x) r(x) / Z``.

        Closed form (a product of Gaussians is a scaled Gaussian; e.g. Petersen & Pedersen,
        The Matrix Cookbook, sec. 8.1.8): component ``(k, j)`` of the result has covariance
        ``S_kj = (S_k^-1 + B_j^-1)^-1 = S_k (S_k + B_j)^-1 B_j``, mean
        ``m_kj = B_j (S_k + B_j)^-1 m_k + S_k (S_k + B_j)^-1 a_j``, weight
        ``w_k v_j N(m_k; a_j, S_k + B_j) / Z`` and the label of ``k`` (``K J`` components,
        weights computed in log space; tilt components of weight 0 are dropped). The spread narrows (``S_kj < S_k``) and a tilt away
        from a class lowers its prior: read both from :meth:`moments`.

        Args:
            means: ``(J, d)`` tilt means ``a_j``.
            covs: tilt covariances ``B_j``, in any form :class:`GaussianMixture` accepts.
            weights: ``(J,)`` tilt weights ``v_j`` (default uniform).
            name: of the result (default ``"{name}_tilted"``).

        Raises:
            ValueError: bad tilt parameters; a class of positive prior whose tilted prior
                underflows to 0 in float64 (the tilt starves it); or a product component whose
                weight falls below float64's smallest normal number (``r`` is astronomically
                small at that component relative to the others), since dropping it would
                change ``p(y | x)`` where it dominates.
        """
        a = checks.finite("means", np.asarray(means, dtype=np.float64))
        if a.ndim != 2 or a.shape[1] != self.dim or len(a) == 0:
            raise ValueError(
                f"means has shape {a.shape}; the tilt needs (J, {self.dim}) means, J >= 1 "
                f"(one Gaussian: [[...]])"
            )
        J, d = a.shape
        B = checks.covariances(covs, J, d)
        v = checks.mixing_weights(weights, J)
        a, B, v, J = a[v > 0], B[v > 0], v[v > 0], int(np.sum(v > 0))  # r's zero terms add nothing
        S = self.covs[:, None]  # (K, 1, d, d)
        T = S + B[None]  # (K, J, d, d): S_k + B_j
        Tinv = np.linalg.inv(T)
        new_covs = S @ Tinv @ B[None]
        new_covs = (new_covs + np.swapaxes(new_covs, -1, -2)) / 2
        new_means = (np.einsum("jab,kjbc,kc->kja", B, Tinv, self.means)
                     + np.einsum("kab,kjbc,jc->kja", self.covs, Tinv, a))
        diff = self.means[:, None] - a[None]  # (K, J, d)
        L = np.linalg.cholesky(T)
        z = np.linalg.solve(L, diff[..., None])[..., 0]
        log_norm = (-0.5 * np.sum(z**2, -1) - np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), -1)
                    - 0.5 * d * np.log(2 * np.pi))
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)[:, None] + np.log(v)[None] + log_norm
        log_w = (log_w - scipy.special.logsumexp(log_w)).ravel()
        new_weights = np.exp(log_w)
        labels = np.repeat(self.labels, J)
        prior = np.bincount(labels, new_weights, minlength=self.n_classes)
        starved = np.flatnonzero((prior == 0) & (self.class_weights > 0))
        if len(starved):
            raise ValueError(
                f"the tilt (means={a.tolist()}) starves classes {starved.tolist()}: their tilted "
                f"priors underflow to 0 in float64; move the tilt's means toward those classes or "
                f"widen its covariances"
            )
        lost = np.flatnonzero((np.outer(self.weights, v).ravel() > 0)
                              & (new_weights < np.finfo(np.float64).tiny))
        if len(lost):
            k, j = divmod(int(lost[0]), J)
            raise ValueError(
                f"the tilt (means={a.tolist()}) leaves {len(lost)} product components with weights "
                f"below float64's smallest normal number (first: component {k} x tilt {j}, log "
                f"weight {log_w[lost[0]]:.1f}), so p(y|x) would not be preserved where they "
                f"dominate; widen the tilt's covariances or move its means toward component {k}"
            )
        return GaussianMixture(new_means.reshape(-1, d), new_covs.reshape(-1, d, d), new_weights,
                               labels, name=name or f"{self.name}_tilted")

    def relabelled(self, labels, name: str | None = None) -> GaussianMixture:
        """The same ``p(x)`` (means, covariances, weights) with the components assigned to
        classes by ``labels``: ``p(x)`` is unchanged exactly, ``p(c | x)`` follows the new
        classes.

        Args:
            labels: ``(K,)`` class of each component, classes ``0..C-1`` each present.
            name: of the result (default ``"{name}_relabelled"``).
        """
        return GaussianMixture(self.means, self.covs, self.weights, labels,
                               name=name or f"{self.name}_relabelled")
