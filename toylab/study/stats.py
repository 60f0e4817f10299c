"""The statistics every headline needs, in one place.

A headline number in ``results.json`` is ``{"value": v, "ci95": [lo, hi], "n": units}`` plus
``"null": {...}`` (the same object for the null comparison) where one exists. Intervals are
bootstrap percentile intervals over independent units -- seeds, each with its own
initialisation and training sample (Efron & Tibshirani 1993, ch. 13); for quantities defined on
*pairs* of seeds (cross-seed matching) the seeds, not the pairs, are resampled
(:func:`pair_bootstrap_ci`), since the pairs sharing a seed are not independent.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.stats

N_RESAMPLES = 9999
"""Bootstrap resamples per interval."""
BOOTSTRAP_SEED = 0
"""Seed of the resampling, so intervals are reproducible."""


def _finite_1d(values, name: str) -> np.ndarray:
    v = np.asarray(values, np.float64).ravel()
    if v.size and not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or inf ({int(np.sum(~np.isfinite(v)))} of "
                         f"{v.size}); drop diverged seeds before taking intervals")
    return v


def bootstrap_ci(values, statistic: Callable = np.mean, *, confidence: float = 0.95,
                 n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over independent units.

    Args:
        values: ``(n,)`` one value per unit (seed).
        statistic: reduces ``(..., n)`` along the last axis (``np.mean``, ``np.median``).
    Returns:
        ``(lo, hi)``; ``(v, v)`` when all values are equal, ``(nan, nan)`` for fewer than 2.
    """
    v = _finite_1d(values, "values")
    if v.size < 2:
        return (float("nan"), float("nan"))
    if np.all(v == v[0]):
        return (float(v[0]), float(v[0]))
    res = scipy.stats.bootstrap((v,), lambda x, axis: statistic(x, axis=axis),
                                confidence_level=confidence, n_resamples=n_resamples,
                                method="percentile", rng=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def headline(values, *, null=None, statistic: Callable = np.mean, **kwargs) -> dict:
    """A headline object ``{"value", "ci95", "n"[, "null"]}`` from per-seed values.

    Args:
        values: ``(n,)`` per-seed values.
        null: per-seed values of the null comparison (same statistic), or ``None``.
        statistic: ``np.mean`` (default) or ``np.median``.
    """
    v = _finite_1d(values, "values")
    out = {"value": float(statistic(v)) if v.size else float("nan"),
           "ci95": list(bootstrap_ci(v, statistic, **kwargs)), "n": int(v.size)}
    if null is not None:
        out["null"] = headline(null, statistic=statistic, **kwargs)
    return out


def pair_bootstrap_ci(matrix, *, confidence: float = 0.95, n_resamples: int = N_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Bootstrap interval of the mean of a pairwise quantity, resampling seeds.

    Args:
        matrix: ``(S, S)`` value of each ordered seed pair ``(i, j)``, ``i != j`` (the diagonal
            is ignored; NaN marks a missing pair).
    Returns:
        ``(lo, hi)`` of the mean over distinct pairs, from resampling the ``S`` seeds with
        replacement and averaging over every pair of *different draws* with different seeds.
    """
    M = np.asarray(matrix, np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"matrix has shape {M.shape}; need (S, S) over seed pairs")
    S = M.shape[0]
    if S < 3:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = np.empty(n_resamples)
    for r in range(n_resamples):
        draw = rng.integers(0, S, S)
        sub = M[np.ix_(draw, draw)]
        use = (draw[:, None] != draw[None, :]) & np.isfinite(sub)
        stats[r] = sub[use].sum() / use.sum() if use.any() else np.nan
    alpha = (1 - confidence) / 2
    return (float(np.nanquantile(stats, alpha)), float(np.nanquantile(stats, 1 - alpha)))


def pair_headline(matrix, *, null=None, **kwargs) -> dict:
    """:func:`headline` for a pairwise ``(S, S)`` quantity; ``n`` counts seeds, not pairs."""
    M = np.asarray(matrix, np.float64)
    off = ~np.eye(M.shape[0], dtype=bool)
    out = {"value": float(np.nanmean(M[off])), "ci95": list(pair_bootstrap_ci(M, **kwargs)),
           "n": int(M.shape[0])}
    if null is not None:
        out["null"] = pair_headline(null, **kwargs)
    return out


def threshold_sweep(per_seed: Callable[[float], Sequence[float]], thresholds: Sequence[float],
                    **kwargs) -> dict:
    """How a thresholded headline moves as its threshold moves.

    Args:
        per_seed: ``threshold -> (n,)`` per-seed values of the headline at that threshold.
        thresholds: the thresholds to sweep.
    Returns:
        ``{"thresholds": [...], "value": [...], "ci95": [[lo, hi], ...], "n": n}``.
    """
    rows = [headline(per_seed(float(t)), **kwargs) for t in thresholds]
    return {"thresholds": [float(t) for t in thresholds], "value": [r["value"] for r in rows],
            "ci95": [r["ci95"] for r in rows], "n": rows[0]["n"] if rows else 0}


def slope_headline(x, y_per_seed, *, log: bool = False, **kwargs) -> dict:
    """Least-squares slope of ``y`` against ``x``, fitted per seed, as a headline.

    Only meaningful for a monotone curve: callers report non-monotone curves as curves.

    Args:
        x: ``(m,)`` levels; y_per_seed: ``(n, m)`` one curve per seed.
        log: fit ``log y ~ log x`` (a power-law exponent).
    """
    x = np.asarray(x, np.float64)
    Y = np.asarray(y_per_seed, np.float64)
    if log:
        x, Y = np.log(x), np.log(Y)
    slopes = [np.polyfit(x, row, 1)[0] for row in Y]
    return headline(slopes, **kwargs)


def adjust_pvalues(pvalues, *, method: str = "bh") -> np.ndarray:
    """Multiple-comparison adjusted p-values (Benjamini-Hochberg ``"bh"`` or
    Benjamini-Yekutieli ``"by"``, via :func:`scipy.stats.false_discovery_control`)."""
    p = _finite_1d(pvalues, "pvalues")
    return scipy.stats.false_discovery_control(p, method=method) if p.size else p
