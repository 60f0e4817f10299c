"""Bayes error ``1 - E[max_c P(c | x)]`` of a Gaussian mixture, with an error bound.

Methods, tried in order by :func:`bayes_error_with_bound`:

1. :func:`bayes_error_shared_covariance`: two single-Gaussian classes with one covariance
   (any ``d``), Fukunaga's closed form.
2. :func:`bayes_error_proportional_covariance`: two single-Gaussian classes with covariances
   ``S`` and ``c S``, ``c != 1`` (any ``d``; concentric Gaussians included): the Bayes region
   of one class is a ball after whitening, so the error is a sum of non-central chi-square
   tails.
3. :func:`bayes_error_quadrature`: ``d <= 2``, deterministic quadrature
   (:mod:`toylab.data.quadrature`).

Everything is NumPy float64.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats

from toylab.data import quadrature as quad

if TYPE_CHECKING:  # the mixture module imports this one
    from toylab.data.mixture import GaussianMixture

EPS = float(np.finfo(np.float64).eps)

CHI2_RTOL = 1e-13
"""Relative accuracy assumed of scipy's (non-central) chi-square tails (``chdtrc``/``chndtr``,
Boost); tests/test_data.py checks them against an mpmath Poisson-mixture series to 1e-14."""

PROPORTIONAL_MIN_GAP = 1e-3
"""Covariances ``S`` and ``c S`` use the chi-square closed form when ``|c - 1| >= this``
(closer to 1 the ball's centre and radius lose digits; there ``S`` and ``c S`` are nearly
shared and quadrature is accurate)."""


class BayesError(NamedTuple):
    """Bayes error with an absolute error bound.

    Attributes:
        value: the Bayes error ``1 - E[max_c P(c | x)]``.
        error_bound: bound on ``|value - true Bayes error|`` (see the method's docstring:
            rounding only for the closed forms; for quadrature a rigorous tail term plus
            tanh-sinh's error estimate).
        method: ``"closed_form"``, ``"chi_square"`` or ``"quadrature"``.
    """

    value: float
    error_bound: float
    method: str


def _two_single_gaussians(gm: GaussianMixture) -> tuple[int, int] | None:
    """The two components ``(k0, k1)`` when the mixture has two classes of one component each."""
    if gm.n_classes != 2 or gm.n_components != 2:
        return None
    return int(np.flatnonzero(gm.labels == 0)[0]), int(np.flatnonzero(gm.labels == 1)[0])


def bayes_error_shared_covariance(gm: GaussianMixture) -> BayesError:
    """Two Gaussian classes with a shared covariance (Fukunaga 1990, sec. 3.3).

    With Mahalanobis distance ``Delta`` between the means and ``lam = log(pi_0 / pi_1)``, the
    log-likelihood ratio is ``N(+-Delta^2/2, Delta^2)`` under each class, giving
    ``err = pi_0 Phi(-Delta/2 - lam/Delta) + pi_1 Phi(-Delta/2 + lam/Delta)``
    (``Phi(-Delta/2)`` for equal priors). The bound is float rounding only.

    Raises:
        ValueError: the mixture is not two single-component classes with one covariance.
    """
    pair = _two_single_gaussians(gm)
    if pair is None or not np.array_equal(gm.covs[0], gm.covs[1]):
        raise ValueError(f"{gm!r} is not two single-Gaussian classes with a shared covariance")
    k0, k1 = pair
    pi0, pi1 = (float(gm.weights[k]) for k in pair)
    L = np.linalg.cholesky(gm.covs[k0])
    delta = float(np.linalg.norm(scipy.linalg.solve_triangular(L, gm.means[k1] - gm.means[k0], lower=True)))
    if min(pi0, pi1) == 0.0:
        value = 0.0
    elif delta == 0.0:
        value = min(pi0, pi1)
    else:
        lam = math.log(pi0 / pi1)
        value = pi0 * scipy.special.ndtr(-delta / 2 - lam / delta) + pi1 * scipy.special.ndtr(
            -delta / 2 + lam / delta
        )
    return BayesError(float(value), 8 * EPS, "closed_form")


def proportional_factor(gm: GaussianMixture) -> float | None:
    """``c`` when the mixture is two single-Gaussian classes with covariances ``S`` and ``c S``
    (to rounding: ``|S_1 - c S_0| <= 64 eps |S_1|`` entrywise) and ``|c - 1| >=
    PROPORTIONAL_MIN_GAP``; else ``None``."""
    pair = _two_single_gaussians(gm)
    if pair is None:
        return None
    S0, S1 = gm.covs[pair[0]], gm.covs[pair[1]]
    c = float(np.trace(S1) / np.trace(S0))
    if abs(c - 1) < PROPORTIONAL_MIN_GAP or np.max(np.abs(S1 - c * S0)) > 64 * EPS * np.max(np.abs(S1)):
        return None
    return c


def _chi2(df: int, nc: float):
    """``chi2'(df, nc)`` as a frozen scipy distribution (central when ``nc = 0``)."""
    return scipy.stats.chi2(df) if nc == 0 else scipy.stats.ncx2(df, nc)


def bayes_error_proportional_covariance(gm: GaussianMixture) -> BayesError:
    """Two Gaussian classes ``N(m_0, S)``, ``N(m_1, c S)`` with ``c != 1`` (any ``d``).

    Whitening by ``S = L L^T`` (``y = L^-1 x``, ``u_i = L^-1 m_i``) makes the classes
    ``N(u_0, I)`` and ``N(u_1, c I)``. Class 0 wins where
    ``a |y - v|^2 < rho`` with ``a = (1 - 1/c) / 2``, centre ``v = (c u_0 - u_1) / (c - 1)`` and
    ``rho = log(pi_0 / pi_1) + (d/2) log c + a |v|^2 - |u_0|^2 / 2 + |u_1|^2 / (2c)``: inside the
    ball ``|y - v|^2 < R^2 = rho / a`` if ``c > 1``, outside it if ``c < 1``. Under class 0,
    ``|y - v|^2 ~ chi2'(d, |u_0 - v|^2)``; under class 1, ``|y - v|^2 / c ~ chi2'(d, |u_1 - v|^2 / c)``
    (non-central chi-square; Johnson, Kotz & Balakrishnan 1995, ch. 29), so
    ``err = pi_0 P(class 1 region | 0) + pi_1 P(class 0 region | 1)`` is two chi-square tails.
    Concentric isotropic classes (``u_0 = u_1``) are central chi-squares: ``N(0, I)`` vs
    ``N(0, 2I)`` in 2-D gives ``R^2 = 4 log 2`` and ``err = (1/4 + 1/2) / 2 = 3/8``.

    Bound: ``CHI2_RTOL`` relative on each tail plus rounding of ``R^2`` propagated through the
    density of the chi-square at ``R^2`` (``64 eps (1 + R^2)`` in ``R^2``).

    Raises:
        ValueError: not two single-Gaussian classes with proportional covariances.
    """
    c = proportional_factor(gm)
    if c is None:
        raise ValueError(f"{gm!r} is not two single-Gaussian classes with covariances S and c S, c != 1")
    k0, k1 = _two_single_gaussians(gm)
    pi0, pi1 = float(gm.weights[k0]), float(gm.weights[k1])
    if min(pi0, pi1) == 0.0:
        return BayesError(0.0, 0.0, "chi_square")
    d = gm.dim
    L = np.linalg.cholesky(gm.covs[k0])
    u0 = scipy.linalg.solve_triangular(L, gm.means[k0], lower=True)
    u1 = scipy.linalg.solve_triangular(L, gm.means[k1], lower=True)
    a = (1 - 1 / c) / 2
    v = (c * u0 - u1) / (c - 1)
    rho = (math.log(pi0 / pi1) + d / 2 * math.log(c) + a * float(v @ v)
           - float(u0 @ u0) / 2 + float(u1 @ u1) / (2 * c))
    r2 = rho / a
    if r2 <= 0:  # the ball is empty: class 1 wins everywhere (c > 1) or class 0 does (c < 1)
        return BayesError(pi0 if c > 1 else pi1, 8 * EPS, "chi_square")
    nc0, nc1 = float((u0 - v) @ (u0 - v)), float((u1 - v) @ (u1 - v)) / c
    inside0 = c > 1  # class 0 wins inside the ball
    dist0, dist1 = _chi2(d, nc0), _chi2(d, nc1)
    e0 = float(dist0.sf(r2) if inside0 else dist0.cdf(r2))  # P(class 1 region | class 0)
    e1 = float(dist1.cdf(r2 / c) if inside0 else dist1.sf(r2 / c))  # P(class 0 region | class 1)
    value = pi0 * e0 + pi1 * e1
    dr2 = 64 * EPS * (1 + abs(r2) + abs(rho) / abs(a))
    slope = pi0 * dist0.pdf(r2) + pi1 * dist1.pdf(r2 / c) / c
    bound = CHI2_RTOL * value + float(slope) * dr2 + 8 * EPS
    return BayesError(float(value), float(bound), "chi_square")


def bayes_error_quadrature(gm: GaussianMixture) -> BayesError:
    """Bayes error in 1-D or 2-D by deterministic quadrature (:mod:`toylab.data.quadrature`).

    ``err = integral (p(x) - max_c pi_c p_c(x)) dx``; the integrand is ``>= 0`` and ``<= p``.
    Over the box ``B = covering_box(QUADRATURE_MASS_OUTSIDE)`` the inner integral along each
    vertical line is exact given the class-change points (:func:`quadrature.line_pieces`);
    in 2-D the outer integral over ``x0`` is split at :func:`quadrature.split_points` and each
    piece, on which the integrand is analytic, is integrated by tanh-sinh quadrature
    (Takahasi & Mori 1974; scipy ``tanhsinh``), which also handles the ``(x0 - a)^(3/2)``
    behaviour at tangency split points.

    Error bound: ``mass_outside(B)`` (rigorous: the integrand is at most ``p``) plus the sum of
    tanh-sinh's error estimates (successive-level differences: an estimate, not a proof; with
    ``minlevel`` below ``QUADRATURE_MINLEVEL`` it was fooled, stopping at level 2 with an estimate
    of 2e-12 for an actual error of 9e-9). Root-finding error enters at second order because the
    integrand is continuous across the boundary. In 1-D the whole integral is exact up to rounding.

    The bound holds only if the outer integrand is analytic on each piece. With one live
    component per class the class changes along a line, the vertical tangencies and the
    triple junctions are exact roots of polynomials (quadratics and resultant quartics); only
    a boundary entering and leaving through the box's top or bottom edge between two of the
    ``SPLIT_SCAN_LINES`` scan lines (a kink of the size of the density there, below the
    ``QUADRATURE_MASS_OUTSIDE`` tail) can be missed. With several components per class
    (grid scan, sub-cell excursions bracketed at the log-odds' interior maxima, cells at a
    class change subdivided ``JUNCTION_CELL_NODES`` times, extra scan lines through every
    component's mean) a boundary that curves back within one grid cell, a third class
    winning on less than a ninth of a cell next to a junction, or an island narrower than
    the scan spacing away from every component mean can also be missed. When the plain grid scan was
    used for every mixture it missed the short chords near a circle's tangencies: concentric
    ``N(0, I)`` vs ``N(0, 2I)`` gave ``0.375000000047`` with bound ``5e-13`` (true 3/8),
    ``blobs(10)`` was off by 1.5e-11 (bound 3e-13), ``overlapping_blobs(5)`` and ``(9)`` by
    3e-7, and ``overlapping_blobs`` with ``k >= 6`` (many boundaries meeting at the origin)
    did not converge; with the scan alone locating junctions, a thin third-class island
    between two scan lines was missed (error 2.2e-3, bound 9e-13; tests/test_data.py).

    Measured (tests/test_data.py, tests/theory/test_claims_worlds.py): on generated
    shared-covariance and proportional-covariance mixtures, concentric ones included,
    ``|quadrature - closed form| <= bound``; generated worlds and their rigid motions (a
    different quadrature: other lines, other split points) agree within the two bounds; on
    the presets the value agrees with scipy ``dblquad``.

    Raises:
        ValueError: ``d > 2``.
        RuntimeError: tanh-sinh did not reach ``QUADRATURE_ATOL`` on some piece (a missed
            split point: the integrand has a kink there).
    """
    value, bound = quad.bayes_error_integral(gm)
    return BayesError(value, bound, "quadrature")


def bayes_error_with_bound(gm: GaussianMixture) -> BayesError:
    """Bayes error with an absolute error bound, by the first method that applies (module
    docstring).

    Raises:
        ValueError: ``d > 2`` without a closed form.
    """
    pair = _two_single_gaussians(gm)
    if pair is not None and np.array_equal(gm.covs[0], gm.covs[1]):
        return bayes_error_shared_covariance(gm)
    if proportional_factor(gm) is not None:
        return bayes_error_proportional_covariance(gm)
    if gm.dim > 2:
        raise ValueError(
            f"bayes_error of {gm!r}: in d={gm.dim} only the closed forms (two single-Gaussian "
            f"classes with a shared or proportional covariance) are available; quadrature needs "
            f"d <= 2: use a 2-D slice of the world (e.g. make(name, dim=2)) or estimate the error "
            f"by Monte Carlo on gm.sample(seed, n)"
        )
    return bayes_error_quadrature(gm)
