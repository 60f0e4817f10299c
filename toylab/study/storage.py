"""One convention for trained networks in a result's ``arrays.npz``.

A stored ensemble is a layer list with a leading **member** axis: ``W{d}: (S, in, out)`` and
``b{d}: (S, out)`` for every layer ``d``, optionally under a prefix (``init_W0`` for the
initial network). Member ``i`` is always the ``i``-th seed the ensemble was trained with
(``arrays["seeds"][i]``), diverged or not, in every study; ``arrays["kept"]`` lists the
members whose training stayed finite.
"""

from __future__ import annotations

from typing import Mapping, MutableMapping, Sequence

import numpy as np

from toylab.models import Layers


def save_layers(arrays: MutableMapping[str, np.ndarray], layers: Layers, *,
                prefix: str = "") -> None:
    """Store an ensemble's layers ``[(W (S, in, out), b (S, out)), ...]`` into ``arrays``."""
    for depth, (W, b) in enumerate(layers):
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 3 or b.ndim != 2 or W.shape[0] != b.shape[0]:
            raise ValueError(f"layer {depth} has W {W.shape} and b {b.shape}; need a leading "
                             "member axis: W (S, in, out), b (S, out)")
        arrays[f"{prefix}W{depth}"], arrays[f"{prefix}b{depth}"] = W, b


def n_members(arrays: Mapping[str, np.ndarray], *, prefix: str = "") -> int:
    """Number of stored members under ``prefix``."""
    key = f"{prefix}W0"
    if key not in arrays:
        raise KeyError(f"no stored layers under prefix {prefix!r} (missing {key!r}); stored: "
                       f"{sorted(k for k in arrays if k.endswith('W0'))}")
    return int(arrays[key].shape[0])


def load_layers(result, member: int, *, prefix: str = "",
                dtype=np.float64) -> list[tuple[np.ndarray, np.ndarray]]:
    """Layer list of ``member`` (position in ``arrays["seeds"]``) from a stored result.

    Args:
        result: a :class:`~toylab.results.StudyResult` or a mapping of arrays.
        member: member index, ``0 <= member < S``.
        prefix: ``""`` for the trained nets, ``"init_"`` for their initialisation.
        dtype: NumPy dtype of the returned arrays (float64: exact analyses).
    """
    arrays = getattr(result, "arrays", result)
    size = n_members(arrays, prefix=prefix)
    if isinstance(member, bool) or not isinstance(member, (int, np.integer)) \
            or not 0 <= member < size:
        raise ValueError(f"member={member!r} must be an index in [0, {size}) of the stored "
                         f"ensemble")
    out, depth = [], 0
    while f"{prefix}W{depth}" in arrays:
        out.append((np.asarray(arrays[f"{prefix}W{depth}"][member], dtype),
                    np.asarray(arrays[f"{prefix}b{depth}"][member], dtype)))
        depth += 1
    return out


def kept_members(result) -> list[int]:
    """Members whose training stayed finite (``arrays["kept"]``)."""
    arrays = getattr(result, "arrays", result)
    return [int(i) for i in arrays["kept"]]


def stack_members(nets: Sequence[Layers]) -> Layers:
    """Layer lists of several networks as one ensemble with a leading member axis."""
    return [(np.stack([net[d][0] for net in nets]), np.stack([net[d][1] for net in nets]))
            for d in range(len(nets[0]))]
