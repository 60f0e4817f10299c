"""Shared argument checks and small strategies of the toylab strategies: every strategy
validates its bounds eagerly and raises a ValueError naming the argument."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from toylab.models import ACTIVATIONS


def int_range(lo_name: str, lo, hi_name: str, hi, minimum: int) -> tuple[int, int]:
    """``(lo, hi)`` as ints, each ``>= minimum`` and ``lo <= hi``, else a ValueError naming them."""
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo} > {hi_name}={hi}: the range is empty; "
                         f"pass {lo_name} <= {hi_name}")
    return int(lo), int(hi)


def float_range(lo_name: str, lo, hi_name: str, hi, minimum: float) -> tuple[float, float]:
    """``(lo, hi)`` as finite floats, each ``>= minimum`` and ``lo <= hi``, else a ValueError."""
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < minimum:
            raise ValueError(f"{name}={value!r} must be a finite number >= {minimum}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo} > {hi_name}={hi}: the range is empty; "
                         f"pass {lo_name} <= {hi_name}")
    return float(lo), float(hi)


def optional_bool(name: str, value) -> None:
    """``value`` is ``True``, ``False`` or ``None``, else a ValueError naming ``name``."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be True, False or None (either)")


def seeds() -> st.SearchStrategy[int]:
    """Seeds of the NumPy generators that draw continuous details (any uint32)."""
    return st.integers(0, 2**32 - 1)


def range_with_ends(lo: float, hi: float, log: bool = False) -> st.SearchStrategy[float]:
    """Floats in ``[lo, hi]`` (log-uniform if ``log``) that hit both ends often."""
    if lo == hi:
        return st.just(lo)
    if log:
        inner = st.floats(np.log(lo), np.log(hi)).map(lambda t: float(np.clip(np.exp(t), lo, hi)))
    else:
        inner = st.floats(lo, hi)
    return st.one_of(st.sampled_from([lo, hi]), inner)


def check_activations(activations) -> tuple[str, ...]:
    """A name or names from :data:`toylab.models.ACTIVATIONS` as a non-empty tuple."""
    names = (activations,) if isinstance(activations, str) else tuple(activations)
    if not names:
        raise ValueError("activations=() is empty; pass names from toylab.models.ACTIVATIONS")
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(
                f"activations contains {name!r}, which is unknown; choose from "
                f"{sorted(ACTIVATIONS)}"
            )
    return names
