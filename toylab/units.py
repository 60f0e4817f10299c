"""Readable quantities for messages: :func:`format_bytes`, the one byte formatter of every
memory guard (``toylab.train``'s memory plan, ``toylab.exact.partition``'s region budget,
``toylab.landscape``'s dense-matrix guard).
"""

from __future__ import annotations

import math
import numbers

UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))
"""Binary units, largest first (IEC 80000-13: 1 KiB = 1024 bytes)."""


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps the number at least 1, to three
    significant digits: ``"512 B"``, ``"1.5 KiB"``, ``"2.25 MiB"``, ``"1000 MiB"``,
    ``"4 GiB"``, ``"2048 GiB"`` (never exponent notation); whole bytes below 1 KiB;
    ``"inf B"`` / ``"nan B"`` for a non-finite ``n``.

    Args:
        n: a number of bytes (int or float, any sign).
    Raises:
        TypeError: ``n`` is not a real number.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise TypeError(f"n={n!r} must be a number of bytes, e.g. 1536")
    n = float(n)
    if not math.isfinite(n):
        return f"{n} B"
    for unit, size in UNITS:
        if abs(n) >= size:
            value = n / size
            return f"{value:.3g} {unit}" if abs(value) < 999.5 else f"{value:.0f} {unit}"
    return f"{n:.0f} B"
