"""Strategies for worlds: labelled Gaussian mixtures (:func:`distributions`) and convex 2-D
domains (:func:`domains`)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from toylab.data import GaussianMixture
from toylab.testing.bounds import float_range, int_range, optional_bool, range_with_ends, seeds


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random orthogonal ``(d, d)`` matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _covariance(rng: np.random.Generator, d: int, scale: float, condition: float) -> np.ndarray:
    """SPD ``(d, d)`` with largest eigenvalue ``scale**2`` and condition number ``condition``
    (exactly, for ``d >= 2``; intermediate eigenvalues log-uniform in between)."""
    if d == 1:
        return np.array([[scale**2]])
    t = np.concatenate([[0.0], rng.uniform(0, 1, d - 2), [1.0]])
    eig = scale**2 * condition ** (-t)
    R = _rotation(rng, d)
    cov = (R * eig) @ R.T
    return (cov + cov.T) / 2


TINY_SEPARATION = 1e-6
"""Drawn separations below this become ``min_separation`` (exactly 0 by default): coincident
means are the degenerate case; separations like 1e-300 would only probe float underflow."""

MIN_SPREAD_RATIO = 0.25
"""Generated means span at most ``1 / MIN_SPREAD_RATIO`` times their separation per axis
(unless the fallback line layout is needed), which keeps worlds compact."""


def _cross_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(labels), 1)
    keep = labels[i] != labels[j]
    return i[keep], j[keep]


def _means(rng: np.random.Generator, labels: np.ndarray, d: int, separation: float) -> np.ndarray:
    """``(K, d)`` means whose smallest distance between different classes is ``separation``.

    Raw means are uniform in ``[-1, 1]^d``, redrawn (up to 20 times) until the closest
    cross-class pair is at least :data:`MIN_SPREAD_RATIO` of the spread, else evenly spaced
    on the first axis;
    then scaled. ``separation == 0`` scales to unit separation and then makes the closest
    cross-class pair coincide.
    """
    i, j = _cross_pairs(labels)
    for _ in range(20):
        raw = rng.uniform(-1, 1, (len(labels), d))
        dist = np.linalg.norm(raw[i] - raw[j], axis=1)
        if dist.min() >= MIN_SPREAD_RATIO * np.ptp(raw, 0).max():
            break
    else:
        raw = np.zeros((len(labels), d))
        raw[:, 0] = np.arange(len(labels))
        dist = np.linalg.norm(raw[i] - raw[j], axis=1)
    means = raw / dist.min() * (separation if separation > 0 else 1.0)
    if separation == 0:
        k = int(np.argmin(dist))
        means[j[k]] = means[i[k]]
    return means


def distributions(
    *,
    min_dim: int = 2,
    max_dim: int = 2,
    min_classes: int = 2,
    max_classes: int = 3,
    min_components: int | None = None,
    max_components: int | None = None,
    min_separation: float | None = None,
    max_separation: float = 6.0,
    max_condition: float | None = None,
    shared_covariance: bool | None = None,
    balanced: bool | None = None,
    degenerate: bool = True,
) -> st.SearchStrategy[GaussianMixture]:
    """Labelled Gaussian mixtures with bounded shape and difficulty.

    Units: every covariance has its largest eigenvalue in ``[1/4, 1]`` (one component exactly
    1), so distances are in units of the largest standard deviation.

    Args:
        min_dim, max_dim: input dimension ``d``.
        min_classes, max_classes: number of classes ``C`` (each class present).
        min_components, max_components: number of components ``K >= C`` (default ``C`` to
            ``C + 2``; extra components get random classes, as in XOR).
        min_separation, max_separation: smallest distance between the means of components of
            different classes. Default minimum: 0 (coincident means) if ``degenerate`` else 1.
            Draws below :data:`TINY_SEPARATION` are replaced by ``min_separation``.
        max_condition: largest condition number of a covariance (each drawn log-uniformly in
            ``[1, max_condition]``, hitting both ends). Default ``1e3`` if ``degenerate``
            (standard deviations ~32x apart, within reach of the Bayes-error quadrature's
            grid, ``toylab.data.MAX_GRID_POINTS``) else 10.
        shared_covariance: ``True`` for one covariance shared by all components (linear Bayes
            boundaries between single-component classes), ``False`` for one each, ``None``
            for either.
        balanced: ``True`` for equal mixing weights, ``False`` for random weights (each at
            least ``1/(2K)``), ``None`` for either.
        degenerate: include near-degenerate worlds through the default bounds above.
    Returns:
        a strategy of :class:`toylab.data.GaussianMixture`.
    """
    d_lo, d_hi = int_range("min_dim", min_dim, "max_dim", max_dim, 1)
    c_lo, c_hi = int_range("min_classes", min_classes, "max_classes", max_classes, 1)
    k_lo = c_lo if min_components is None else min_components
    k_hi = c_hi + 2 if max_components is None else max_components
    k_lo, k_hi = int_range("min_components", k_lo, "max_components", k_hi, 1)
    if k_hi < c_lo:
        raise ValueError(
            f"max_components={k_hi} < min_classes={c_lo}: every class needs a component; "
            f"pass max_components >= {c_lo}"
        )
    sep_lo = (0.0 if degenerate else 1.0) if min_separation is None else min_separation
    sep_lo, sep_hi = float_range("min_separation", sep_lo, "max_separation", max_separation,
                                  0.0)
    cond_hi = (1e3 if degenerate else 10.0) if max_condition is None else max_condition
    float_range("1", 1.0, "max_condition", cond_hi, 1.0)
    optional_bool("shared_covariance", shared_covariance)
    optional_bool("balanced", balanced)

    @st.composite
    def mixture(draw) -> GaussianMixture:
        d = draw(st.integers(d_lo, d_hi))
        C = draw(st.integers(c_lo, c_hi))
        K = draw(st.integers(max(C, k_lo), k_hi))
        extra = draw(st.lists(st.integers(0, C - 1), min_size=K - C, max_size=K - C))
        labels = np.array(list(range(C)) + extra, dtype=np.int64)
        separation = draw(range_with_ends(sep_lo, sep_hi).map(
            lambda s: s if s >= TINY_SEPARATION else sep_lo))
        shared = draw(st.booleans()) if shared_covariance is None else shared_covariance
        n_covs = 1 if shared else K
        conditions = draw(st.lists(range_with_ends(1.0, cond_hi, log=True),
                                   min_size=n_covs, max_size=n_covs))
        equal = draw(st.booleans()) if balanced is None else balanced
        rng = np.random.default_rng(draw(seeds()))
        scales = np.concatenate([[1.0], rng.uniform(0.5, 1.0, n_covs - 1)])
        covs = np.stack([_covariance(rng, d, s, c) for s, c in zip(scales, conditions)])
        covs = np.broadcast_to(covs, (K, d, d)) if shared else covs
        weights = np.full(K, 1.0 / K) if equal else 0.5 / K + 0.5 * rng.dirichlet(np.ones(K))
        means = _means(rng, labels, d, separation)
        return GaussianMixture(means, covs, weights / weights.sum(), labels, name="generated")

    return mixture()


# ----------------------------------------------------------------------------- domains


def domains(
    *,
    min_size: float = 0.1,
    max_size: float = 10.0,
    max_offset: float = 2.0,
    max_aspect: float | None = None,
    polygons: bool = True,
    degenerate: bool = True,
) -> st.SearchStrategy[np.ndarray]:
    """Convex 2-D domains as accepted by :func:`toylab.exact.partition`.

    A box ``[[xlo, xhi], [ylo, yhi]]`` (2, 2) with side lengths in ``[min_size, max_size]``
    and aspect ratio at most ``max_aspect``, centred within ``max_offset`` of the origin in
    each coordinate; or (``polygons``) a convex polygon ``(m, 2)``, ``3 <= m <= 8``, CCW,
    inscribed in the ellipse inscribed in such a box.

    Args:
        min_size, max_size: side lengths of the box.
        max_offset: largest ``|centre|`` coordinate.
        max_aspect: largest side ratio; default 100 (thin domains, reachable with the default
            sizes) if ``degenerate`` else 4.
        polygons: include polygons besides boxes.
        degenerate: thin domains through the default ``max_aspect``.
    Returns:
        a strategy of float64 arrays, boxes ``(2, 2)`` or polygons ``(m, 2)``.
    """
    lo, hi = float_range("min_size", min_size, "max_size", max_size, 0.0)
    if lo <= 0:
        raise ValueError(f"min_size={min_size!r} must be > 0; a domain needs positive area")
    float_range("max_offset", max_offset, "max_offset", max_offset, 0.0)
    aspect = (100.0 if degenerate else 4.0) if max_aspect is None else max_aspect
    float_range("1", 1.0, "max_aspect", aspect, 1.0)
    optional_bool("polygons", polygons)

    @st.composite
    def domain(draw) -> np.ndarray:
        width = draw(range_with_ends(lo, hi, log=True))
        ratio = draw(range_with_ends(1.0, aspect, log=True))
        height = float(np.clip(width / ratio if draw(st.booleans()) else width * ratio, lo, hi))
        centre = np.array([draw(range_with_ends(-max_offset, max_offset)) for _ in range(2)])
        if not (polygons and draw(st.booleans())):
            return np.array([[centre[0] - width / 2, centre[0] + width / 2],
                             [centre[1] - height / 2, centre[1] + height / 2]])
        m = draw(st.integers(3, 8))
        rng = np.random.default_rng(draw(seeds()))
        gaps = rng.uniform(0.3, 1.0, m)
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(gaps) / gaps.sum()
        return centre + np.stack([width / 2 * np.cos(angle), height / 2 * np.sin(angle)], 1)

    return domain()
