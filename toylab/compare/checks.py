"""Argument checks shared by the compare analyses."""

from __future__ import annotations

import numpy as np


def check_box(box, name: str = "box") -> np.ndarray:
    """``box`` as a float64 ``(2, 2)`` array ``[[xlo, xhi], [ylo, yhi]]`` with ``lo < hi``,
    else a ValueError naming it."""
    box = np.asarray(box, np.float64)
    if box.shape != (2, 2) or not np.all(box[:, 0] < box[:, 1]):
        raise ValueError(f"{name}={box.tolist()} must be [[xlo, xhi], [ylo, yhi]] with lo < hi")
    return box
