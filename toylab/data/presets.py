"""Preset worlds: the lookup table :data:`DISTRIBUTIONS` and :func:`make`.

Every preset is a 2-D world by default; ``dim > 2`` pads the means with zeros and the
covariances with independent coordinates of the stated variance. Move a preset off the
origin with :meth:`~toylab.data.GaussianMixture.shifted` and turn it with
:meth:`~toylab.data.GaussianMixture.rotated`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from toylab.data import checks
from toylab.data.mixture import GaussianMixture

CORNER_LABELLINGS: dict[str, tuple[int, int, int, int]] = {
    "xor": (0, 0, 1, 1),
    "blobs": (0, 1, 2, 3),
    "halves": (0, 1, 0, 1),
    "corner": (0, 1, 1, 1),
}
"""Class of each of the four corner components ``(s, s), (-s, -s), (s, -s), (-s, s)`` of
:func:`four_corners`: XOR (diagonal pairs), four blobs, left/right halves (linear boundary
``x0 = 0``), and one corner against the rest (an L-shaped boundary)."""


def _embed(means2: np.ndarray, covs2: np.ndarray, dim: int, extra_var: float) -> tuple[np.ndarray, np.ndarray]:
    """Pad 2-D means/covariances to ``dim`` dims: zero means, variance ``extra_var``, independent."""
    checks.count("dim", dim, 2)
    K = len(means2)
    means = np.zeros((K, dim))
    means[:, :2] = means2
    covs = np.tile(extra_var * np.eye(dim), (K, 1, 1))
    covs[:, :2, :2] = covs2
    return means, covs


def _circle(name: str, k: int, radius: float, std: float, dim: int) -> GaussianMixture:
    """``k`` isotropic classes, means equally spaced on a circle starting at the top."""
    checks.count("k", k, 2)
    checks.positive(radius=radius, std=std)
    angle = np.pi / 2 + 2 * np.pi * np.arange(k) / k
    means2 = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    means, covs = _embed(means2, np.tile(std**2 * np.eye(2), (k, 1, 1)), dim, std**2)
    return GaussianMixture(means, covs, name=f"{name}{k}")


def blobs(k: int = 3, radius: float = 3.0, std: float = 0.6, *, dim: int = 2) -> GaussianMixture:
    """``k`` well-separated isotropic classes on a circle of ``radius`` (name ``blobs{k}``).

    "Well separated" holds for small ``k`` only: with the defaults the Bayes error is 1.5e-5
    for ``k = 3`` and 0.122 for ``k = 10`` (neighbouring means ``2 radius sin(pi / k)`` apart)."""
    return _circle("blobs", k, radius, std, dim)


def overlapping_blobs(k: int = 3, radius: float = 1.5, std: float = 1.0, *, dim: int = 2) -> GaussianMixture:
    """Like :func:`blobs` but non-separable (Bayes error well above 0)."""
    return _circle("overlapping_blobs", k, radius, std, dim)


def two_gaussians(separation: float = 3.0, std: float = 1.0, *, dim: int = 2) -> GaussianMixture:
    """Two classes ``N((+-separation/2, 0, ...), std^2 I)``: linear Bayes boundary ``x0 = 0``,
    Bayes error ``Phi(-separation / (2 std))``."""
    checks.positive(separation=separation, std=std)
    checks.count("dim", dim, 1)
    means = np.zeros((2, dim))
    means[:, 0] = [-separation / 2, separation / 2]
    return GaussianMixture(means, np.broadcast_to(std**2 * np.eye(dim), (2, dim, dim)), name="two_gaussians")


def four_corners(separation: float = 2.0, std: float = 0.5, *, labelling: str = "xor",
                 dim: int = 2) -> GaussianMixture:
    """Four isotropic components of weight 1/4 at ``(s, s), (-s, -s), (s, -s), (-s, s)``
    (``s = separation``), assigned to classes by ``CORNER_LABELLINGS[labelling]``.

    Every labelling has the same ``p(x)`` (bit-identical densities) and a different
    ``p(y | x)``: the relabelling experiment (hold ``p(x)``, change the posterior). Name
    ``four_corners_{labelling}``.
    """
    checks.positive(separation=separation, std=std)
    if labelling not in CORNER_LABELLINGS:
        raise ValueError(f"labelling={labelling!r} is unknown; choose one of {sorted(CORNER_LABELLINGS)}")
    s = separation
    means2 = np.array([[s, s], [-s, -s], [s, -s], [-s, s]])
    means, covs = _embed(means2, np.tile(std**2 * np.eye(2), (4, 1, 1)), dim, std**2)
    return GaussianMixture(means, covs, labels=list(CORNER_LABELLINGS[labelling]),
                           name=f"four_corners_{labelling}")


def xor(separation: float = 2.0, std: float = 0.5, *, dim: int = 2) -> GaussianMixture:
    """Four isotropic components at ``(+-s, +-s)``; class 0 owns ``(s, s)`` and ``(-s, -s)``
    (:func:`four_corners` with the ``"xor"`` labelling, name ``xor``)."""
    gm = four_corners(separation, std, labelling="xor", dim=dim)
    return gm.relabelled(gm.labels, name="xor")


def curved(separation: float = 1.5, wide_std: float = 2.0, narrow_std: float = 0.7, *, dim: int = 2) -> GaussianMixture:
    """Two classes with unequal covariances and a parabolic Bayes boundary.

    Class 0 is a wide horizontal cloud ``N((0, separation/2), diag(wide^2, narrow^2))``, class 1
    a round cloud ``N((0, -separation/2), narrow^2 I)`` below it. The precision matrices differ
    only in the ``x0`` entry, so the QDA boundary is the parabola
    ``x1 = c - (1/narrow^2 - 1/wide^2) x0^2 / (2 separation / narrow^2)``, bending around
    class 1 inside the domain.

    The world is centred on the origin (its parabola's axis is ``x0 = 0``). For a curved
    boundary off the origin, where a network's initial folds through the origin do not sit
    on it, shift (and turn) it: ``make("curved").shifted([1.5, -0.8])``,
    ``make("curved").rotated(30).shifted([1.5, -0.8])``; Bayes error and posterior move exactly.
    """
    checks.positive(separation=separation, wide_std=wide_std, narrow_std=narrow_std)
    means2 = np.array([[0.0, separation / 2], [0.0, -separation / 2]])
    covs2 = np.array([np.diag([wide_std**2, narrow_std**2]), narrow_std**2 * np.eye(2)])
    means, covs = _embed(means2, covs2, dim, narrow_std**2)
    return GaussianMixture(means, covs, name="curved")


DISTRIBUTIONS: dict[str, Callable[..., GaussianMixture]] = {
    "blobs": blobs,
    "two_gaussians": two_gaussians,
    "xor": xor,
    "curved": curved,
    "overlapping_blobs": overlapping_blobs,
    "four_corners": four_corners,
}
"""Preset distributions by name; every entry builds with its defaults in 2-D."""


def make(name: str, *, rotate=None, shift=None, **kwargs) -> GaussianMixture:
    """Build the preset ``DISTRIBUTIONS[name](**kwargs)``, then turn it about the origin by
    ``rotate`` (degrees in 2-D, or a rotation matrix; :meth:`GaussianMixture.rotated`) and move
    it by ``shift`` (:meth:`GaussianMixture.shifted`), so a config that names a preset and its
    keyword arguments can also place it off the origin:
    ``make("curved", rotate=30, shift=(1.5, -0.8))``."""
    if name not in DISTRIBUTIONS:
        raise ValueError(f"name={name!r} is not a preset distribution; choose one of {sorted(DISTRIBUTIONS)}")
    gm = DISTRIBUTIONS[name](**kwargs)
    if rotate is not None:
        gm = gm.rotated(rotate)
    return gm if shift is None else gm.shifted(shift)
