"""The explorer's settings, validated: the world (preset, parameters, motion, or a world
file) and the network and its training. Every bad value raises a ValueError naming the field,
the value and the fix, which the page shows as its message."""

from __future__ import annotations

import numpy as np

from toylab.data import GaussianMixture
from toylab.explore.world import EmpiricalWorld, PRESET_PARAMS, preset_world, transformed
from toylab.models import ACTIVATIONS
from toylab.train import TrainConfig

PL_ACTIVATIONS = sorted(n for n, a in ACTIVATIONS.items() if a.piecewise_linear)
"""Activations the explorer offers: the piecewise-linear ones, whose views are exact."""

FILE_WORLD = "world file"
POINTS_WORLD = "uploaded points"
MAX_SEEDS = 8
"""Most seeds one run trains together (one compiled program, the seeds batched)."""
N_SNAPSHOTS = 10
"""Snapshots per run (plus the initialisation) when ``steps`` is a multiple of it."""


def snapshot_every(steps: int) -> int:
    """Snapshot interval: ``steps / N_SNAPSHOTS`` when that divides, else the largest
    divisor of ``steps`` giving at most ``N_SNAPSHOTS`` intervals."""
    for every in range(-(-steps // N_SNAPSHOTS), steps + 1):
        if steps % every == 0:
            return every
    return steps


def parse_world(*, preset: str, params: str, shift_x: float, shift_y: float,
                rotate: float) -> dict:
    """Validate the world settings; returns keyword arguments for :func:`build_world`.

    ``params`` is ``"key=value, ..."`` (the preset's parameters, :data:`PRESET_PARAMS`).
    Raises ValueError naming the field, the value and the fix.
    """
    kwargs = {}
    example = ", ".join(f"{k}={v}" for k, v in PRESET_PARAMS.get(preset, {}).items())
    for item in filter(None, (p.strip() for p in params.split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep:
            raise ValueError(f"parameters: {item!r} is not key=value; e.g. {example}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(
                f"parameters: {key}={value!r} is not a number; e.g. {example}") from None
        default = PRESET_PARAMS.get(preset, {}).get(key)
        kwargs[key] = int(number) if isinstance(default, int) and number.is_integer() else number
    return {"name": preset, "params": kwargs, "shift": (shift_x, shift_y), "rotate": rotate}


def parse_training(*, hidden: str, n_classes: int, activation: str, optimizer: str,
                   learning_rate: str, steps, seed, seeds) -> tuple[TrainConfig, list[int]]:
    """Validate the network and training settings.

    Returns:
        ``(TrainConfig with widths (2, hidden..., n_classes), init seeds)``.
    Raises:
        ValueError naming the field, the value and the fix.
    """
    try:
        hidden_widths = tuple(int(w) for w in hidden.replace(" ", "").split(",") if w)
    except ValueError:
        raise ValueError(f"hidden widths {hidden!r}: write whole numbers separated by commas, "
                         "e.g. 16,16") from None
    if not hidden_widths:
        raise ValueError("hidden widths is empty: give at least one hidden layer, e.g. 16")
    if min(hidden_widths) < 1:
        raise ValueError(f"hidden widths {hidden!r} has a width of {min(hidden_widths)}; every "
                         "layer needs at least 1 neuron, e.g. 16,16")
    for name, value, lo in (("steps", steps, 1), ("seed", seed, 0), ("seeds", seeds, 1)):
        if value is None or int(value) != value or value < lo:
            raise ValueError(f"{name}={value!r} must be a whole number >= {lo}")
    if seeds > MAX_SEEDS:
        raise ValueError(f"seeds={seeds} is more than the page trains at once; pick <= {MAX_SEEDS}")
    if activation not in PL_ACTIVATIONS:
        raise ValueError(f"activation={activation!r}: the explorer draws exact views, which need "
                         f"a piecewise-linear activation; choose one of {PL_ACTIVATIONS}")
    try:
        lr = float(learning_rate)
    except ValueError:
        raise ValueError(f"learning rate {learning_rate!r} is not a number; e.g. 0.01") from None
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate {learning_rate!r} must be a positive number; e.g. 0.01")
    config = TrainConfig(widths=(2, *hidden_widths, n_classes), activation=activation,
                         optimizer=optimizer, learning_rate=lr, steps=int(steps),
                         snapshot_every=snapshot_every(int(steps)))
    return config, list(range(int(seed), int(seed) + int(seeds)))


def build_world(name: str, params: dict, shift, rotate: float,
                file_world: GaussianMixture | None = None,
                points: EmpiricalWorld | None = None) -> GaussianMixture | EmpiricalWorld:
    """The world of :func:`parse_world`'s settings (``name == FILE_WORLD``: ``file_world``
    moved by ``shift``/``rotate``; ``name == POINTS_WORLD``: the uploaded ``points``, which
    are not moved)."""
    if name == POINTS_WORLD:
        if tuple(shift) != (0.0, 0.0) or rotate != 0.0:
            raise ValueError(f"shift={tuple(shift)}, rotate={rotate}: uploaded points are used "
                             "as they are; set shift and rotate to 0 (or move the points in "
                             "the CSV)")
        return points
    if name == FILE_WORLD:
        dist = transformed(file_world, shift=shift, rotate=rotate)
    else:
        dist = preset_world(name, params, shift=shift, rotate=rotate)
    if dist.n_classes < 2:
        raise ValueError("the world has one class; give the components at least two labels")
    return dist
