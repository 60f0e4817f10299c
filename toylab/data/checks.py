"""Argument checks and parsing shared by the mixture and the presets.

Each check raises ``ValueError`` naming the argument, the bad value and the fix.
"""

from __future__ import annotations

import numpy as np

WEIGHT_SUM_TOL = 1e-9
"""Mixing weights must sum to 1 within this tolerance (they are then renormalised)."""

SINGULAR_RTOL = 1e-12
"""A covariance whose smallest/largest eigenvalue ratio is below this is called singular."""


def finite(name: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` unchanged if every entry is finite, else ``ValueError`` naming ``name``, the
    first non-finite entry and the fix."""
    bad = ~np.isfinite(arr)
    if not np.any(bad):
        return arr
    if arr.ndim == 0:
        raise ValueError(f"{name}={arr.item()!r} is not finite; pass a finite number")
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{name} contains non-finite values (first: {name}[{', '.join(map(str, where))}] = "
        f"{arr[where]!r}; {int(bad.sum())} of {arr.size} entries); every entry must be finite: "
        f"drop or impute those entries first"
    )


def positive(**kwargs) -> None:
    """Each keyword's value must be a positive finite real number."""
    for name, value in kwargs.items():
        if isinstance(value, bool) or not (
            isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0
        ):
            raise ValueError(f"{name}={value!r} must be a positive finite number")


def count(name: str, value, minimum: int) -> None:
    """``value`` must be a Python or NumPy integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")


def seed(value) -> int:
    """A seed for ``np.random.default_rng``: a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"seed={value!r} must be a non-negative integer, e.g. seed=0")
    if value < 0:
        raise ValueError(
            f"seed={value!r} is negative; NumPy seeds are non-negative integers: pass "
            f"seed={-int(value)} or another integer >= 0"
        )
    return int(value)


def one_cov(spec, d: int, name: str) -> np.ndarray:
    """One component's covariance from a scalar variance, a length-``d`` diagonal or ``(d, d)``.

    Returns:
        ``(d, d)`` symmetric positive-definite float64 matrix.
    """
    spec = finite(name, np.asarray(spec, dtype=np.float64))
    if spec.ndim == 0:
        cov = float(spec) * np.eye(d)
    elif spec.shape == (d,):
        cov = np.diag(spec)
    elif spec.shape == (d, d):
        cov = spec
    else:
        raise ValueError(
            f"{name} has shape {spec.shape}; a covariance is a scalar variance, a length-{d} "
            f"diagonal or a ({d}, {d}) matrix"
        )
    scale = np.max(np.abs(cov))
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * scale):
        raise ValueError(f"{name}={cov.tolist()} is not symmetric; pass (S + S.T) / 2")
    cov = (cov + cov.T) / 2
    eig = np.linalg.eigvalsh(cov)
    if eig[0] < -SINGULAR_RTOL * max(eig[-1], 0.0) or eig[-1] <= 0:
        raise ValueError(
            f"{name}={cov.tolist()} is not positive semi-definite (smallest eigenvalue "
            f"{eig[0]:.3g}); a covariance must be symmetric positive definite"
        )
    try:
        np.linalg.cholesky(cov)
        singular = eig[0] <= SINGULAR_RTOL * eig[-1]
    except np.linalg.LinAlgError:
        singular = True
    if singular:
        raise ValueError(
            f"{name}={cov.tolist()} is singular (eigenvalues {eig.tolist()}); add a small ridge, "
            f"e.g. cov + 1e-6 * np.eye({d})"
        )
    return cov


def covariances(covs, K: int, d: int, name: str = "covs") -> np.ndarray:
    """Covariance specs -> ``(K, d, d)``; see :class:`~toylab.data.GaussianMixture` for the
    accepted forms."""
    try:
        arr = np.asarray(covs, dtype=np.float64)
    except (ValueError, TypeError):  # ragged: a sequence of differently shaped specs
        if isinstance(covs, (list, tuple)) and len(covs) == K:
            return np.stack([one_cov(c, d, f"{name}[{k}]") for k, c in enumerate(covs)])
        raise ValueError(
            f"{name}={covs!r} is neither an array nor a sequence of {K} covariance specs "
            f"(scalar, length-{d} diagonal or ({d}, {d}) matrix each)"
        ) from None
    shared = arr.shape in ((), (d,), (d, d))
    per_component = arr.shape in ((K,), (K, d), (K, d, d))
    if shared and per_component and K > 1:
        raise ValueError(
            f"{name} with shape {arr.shape} is ambiguous for K={K} components in d={d}: it could "
            f"be one spec shared by all components or one spec per component; pass a "
            f"({K}, {d}, {d}) array, e.g. np.broadcast_to(cov, ({K}, {d}, {d})) for a shared matrix"
        )
    if shared:
        return np.stack([one_cov(arr, d, name)] * K)
    if per_component:
        return np.stack([one_cov(arr[k], d, f"{name}[{k}]") for k in range(K)])
    raise ValueError(
        f"{name} has shape {arr.shape}; allowed: (), ({d},), ({d}, {d}) shared by all "
        f"components, or ({K},), ({K}, {d}), ({K}, {d}, {d}) per component (K={K} components, d={d})"
    )


def mixing_weights(weights, K: int, name: str = "weights") -> np.ndarray:
    """``(K,)`` weights ``>= 0`` summing to 1 (``None``: uniform), renormalised exactly."""
    if weights is None:
        return np.full(K, 1.0 / K)
    w = finite(name, np.asarray(weights, dtype=np.float64))
    if w.shape != (K,):
        raise ValueError(f"{name} has shape {w.shape}; need ({K},), one weight per mean")
    if w.min() < 0:
        raise ValueError(f"{name}={w.tolist()} has negative entry {w.min()}; weights must be >= 0")
    if abs(w.sum() - 1.0) > WEIGHT_SUM_TOL:
        raise ValueError(
            f"{name}={w.tolist()} sum to {w.sum()!r}, not 1 (tolerance {WEIGHT_SUM_TOL}); "
            f"pass {name} / {name}.sum()"
        )
    # renormalise only when off by more than rounding, so that re-parsing stored weights
    # (transforms of a mixture) leaves them bit-identical
    return w / w.sum() if abs(w.sum() - 1.0) > 4 * K * np.finfo(np.float64).eps else w


def class_labels(labels, K: int) -> np.ndarray:
    """``(K,)`` int64 classes ``0..C-1``, each present (``None``: ``arange(K)``)."""
    if labels is None:
        return np.arange(K, dtype=np.int64)
    lab = np.asarray(labels)
    if lab.shape != (K,):
        raise ValueError(f"labels has shape {lab.shape}; need ({K},), one class per mean")
    if lab.dtype.kind not in "iu":
        raise ValueError(f"labels={lab.tolist()} must be integers 0..C-1, got dtype {lab.dtype}")
    lab = lab.astype(np.int64)
    if lab.min() < 0:
        raise ValueError(f"labels={lab.tolist()} has negative class {lab.min()}; use 0..C-1")
    missing = sorted(set(range(lab.max() + 1)) - set(lab.tolist()))
    if missing:
        raise ValueError(
            f"labels={lab.tolist()} skips classes {missing}; classes must be 0..C-1, each present"
        )
    return lab
