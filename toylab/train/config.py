"""Training configuration: the lookup tables of named choices, :class:`TrainConfig` with its
compile-time (:class:`TrainSpec`) and traced (:class:`Hyper`) parts, and seed validation.

Every field is validated when the config is made (type, finiteness, range), so a bad value
fails here with its name and a fix, never later inside XLA (where a float ``steps`` used to
crash the compiler and leave a broken program in the cache for later valid calls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toylab.models import LOSSES, check_widths, get_activation
from toylab.train.inits import INITS, PARAMETERIZATIONS

Array = jax.Array


# ----------------------------------------------------------------------------- lookup tables


def _sgd(c: "Hyper") -> optax.GradientTransformation:
    return optax.chain(optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate))


def _momentum(c: "Hyper") -> optax.GradientTransformation:
    return optax.chain(
        optax.add_decayed_weights(c.weight_decay), optax.sgd(c.learning_rate, momentum=c.momentum)
    )


def _adam(c: "Hyper") -> optax.GradientTransformation:
    # Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); plain Adam when it is 0.
    return optax.adamw(c.learning_rate, weight_decay=c.weight_decay)


OPTIMIZERS: dict[str, Callable[["Hyper"], optax.GradientTransformation]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "adam": _adam,
}
"""Optimizer name -> optax transformation of a :class:`Hyper` (or a :class:`TrainConfig`: any
object with ``learning_rate``, ``momentum``, ``weight_decay``; scalars or traced arrays).
Weight decay is L2 (added to the gradient) for ``sgd``/``momentum`` and decoupled (AdamW) for
``adam``."""

DTYPES = {"float32": jnp.float32, "float64": jnp.float64}
"""dtype name -> JAX dtype of parameters and data."""

SEED_LIMIT = 2**32
"""Seeds are ints in ``[0, SEED_LIMIT)``: ``jax.random.key`` keeps 32 bits of a seed, so
larger or negative ones would silently train the same network as their value mod 2**32."""


# ----------------------------------------------------------------------------- validation


def _check_name(arg: str, value, table: dict) -> str:
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"{arg}={value!r} is unknown; choose one of {sorted(table)}")
    return value


def _check_int(arg: str, value, *, minimum: int, example: int) -> int:
    """A Python or NumPy int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{arg}={value!r} must be an int (e.g. {arg}={example}), "
                        f"not a {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{arg}={value!r} must be >= {minimum}, e.g. {arg}={example}")
    return int(value)


def _check_real(arg: str, value, *, low: float, low_open: bool, high: float,
                example: float) -> float:
    """A finite real number in ``(low, high)`` or ``[low, high)``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{arg}={value!r} must be a real number (e.g. {arg}={example}), "
                        f"not a {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{arg}={value!r} must be finite, e.g. {arg}={example}")
    if value <= low if low_open else value < low:
        raise ValueError(f"{arg}={value!r} must be {'>' if low_open else '>='} {low:g}, "
                         f"e.g. {arg}={example}")
    if value >= high:
        raise ValueError(f"{arg}={value!r} must be < {high:g}, e.g. {arg}={example}")
    return value


def check_seeds(seeds) -> np.ndarray:
    """Validate init seeds; returns them as an ``(S,)`` int64 array.

    Args:
        seeds: an int ``S >= 1`` meaning seeds ``0..S-1``, or a non-empty 1-d sequence of
            distinct ints in ``[0, 2**32)``. Non-integers (``1.5``, also ``1.0``), negatives and
            values ``>= 2**32`` are rejected: ``jax.random.key`` would reduce them mod 2**32 and
            train the same network under two different recorded seeds. Duplicates are rejected
            too: a repeated seed trains the bit-identical network again, which would count one
            network twice in every per-seed statistic; to repeat a run, index its result.
    Raises:
        TypeError: a non-integer count or seed. ValueError: an empty list, a count < 1, a
            seed out of range, a repeated seed.
    """
    if isinstance(seeds, (bool, np.bool_)):
        raise TypeError(f"seeds={seeds!r} must be a count (int) or a list of ints, not a bool")
    if isinstance(seeds, (int, np.integer)):
        if not 1 <= seeds <= SEED_LIMIT:
            raise ValueError(
                f"seeds={seeds} as a count must be in [1, 2**32] (seeds=S means seeds 0..S-1); "
                "pass a positive count, or a list of seeds such as seeds=[0, 1, 2]")
        return np.arange(int(seeds), dtype=np.int64)
    if isinstance(seeds, (float, np.floating)):
        raise TypeError(f"seeds={seeds!r} must be a count (int) or a list of ints, not a float")
    values = list(np.asarray(seeds, dtype=object).ravel()) if np.ndim(seeds) == 1 else None
    if not values:
        raise ValueError(f"seeds={seeds!r} must be a positive count or a non-empty 1-d list of "
                         "ints, e.g. seeds=[0, 1, 2]")
    for i, s in enumerate(values):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"seeds[{i}]={s!r} is not an int; seeds are ints in [0, 2**32)")
        if not 0 <= s < SEED_LIMIT:
            raise ValueError(
                f"seeds[{i}]={s} is outside [0, 2**32): jax.random.key keeps 32 bits, so it "
                f"would train the same network as seed {int(s) % SEED_LIMIT}; pass seeds in "
                "[0, 4294967295]")
    array = np.asarray([int(s) for s in values], dtype=np.int64)
    unique, first, counts = np.unique(array, return_index=True, return_counts=True)
    if np.any(counts > 1):
        seed = int(unique[np.argmax(counts > 1)])
        where = np.flatnonzero(array == seed).tolist()
        raise ValueError(
            f"seeds has seed {seed} at positions {where}: a repeated seed trains the identical "
            "network twice and would be counted twice in per-seed statistics; pass distinct "
            "seeds (to repeat a run, index the result)")
    return array


# ----------------------------------------------------------------------------- config

_REAL_FIELDS = {  # name: (low, open at low, high (open), example)
    "learning_rate": (0.0, True, math.inf, 1e-2),
    "momentum": (0.0, False, 1.0, 0.9),
    "weight_decay": (0.0, False, math.inf, 1e-4),
    "bias_std": (0.0, False, math.inf, 0.1),
    "init_scale": (0.0, True, math.inf, 1.0),
}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (shared by every seed of an ensemble).

    Attributes:
        widths: ``(in, hidden..., out)``.
        activation: name in ``toylab.models.ACTIVATIONS``.
        optimizer: name in :data:`OPTIMIZERS`.
        learning_rate: finite, > 0. momentum: finite, in ``[0, 1)`` (``momentum`` optimizer).
        weight_decay: finite, >= 0.
        steps: number of optimizer steps (int >= 1).
        batch_size: minibatch size (int >= 1), or ``None`` for full-batch training.
        loss: name in ``toylab.models.LOSSES``.
        snapshot_every: parameters are recorded at steps ``0, k, 2k, ..., steps`` (a divisor
            of ``steps``).
        dtype: ``"float32"`` (default) or ``"float64"``.
        bias_init: name in :data:`~toylab.train.inits.INITS`: ``"zeros"`` (default),
            ``"normal"`` (``N(0, bias_std^2)``) or ``"data"`` (each first-layer fold through a
            random training point). Weights are He-normal whatever the bias init.
        bias_std: standard deviation of ``"normal"`` biases (and of the deeper layers' biases
            with ``"data"``); must be 0 with ``"zeros"``.
        init_scale: every initial parameter is multiplied by it (> 0; large: lazy training,
            small: rich/feature learning, Chizat, Oyallon & Bach 2019; Woodworth et al. 2020).
        parameterization: name in :data:`~toylab.train.inits.PARAMETERIZATIONS`:
            ``"standard"`` (default) or ``"mean_field"`` (output layer times ``1/width`` with
            the matching per-layer learning rates, see :mod:`toylab.train.inits`).

    The defaults reproduce the original initialisation (He weights, zero biases) bit for bit.
    """

    widths: tuple[int, ...] = (2, 16, 16, 3)
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    steps: int = 1000
    batch_size: int | None = None
    loss: str = "cross_entropy"
    snapshot_every: int = 100
    dtype: str = "float32"
    bias_init: str = "zeros"
    bias_std: float = 0.0
    init_scale: float = 1.0
    parameterization: str = "standard"

    def __post_init__(self):
        self._set("widths", check_widths(self.widths))
        get_activation(self.activation)
        for arg, table in (("optimizer", OPTIMIZERS), ("loss", LOSSES), ("dtype", DTYPES),
                           ("bias_init", INITS), ("parameterization", PARAMETERIZATIONS)):
            _check_name(arg, getattr(self, arg), table)
        self._set("steps", _check_int("steps", self.steps, minimum=1, example=1000))
        self._set("snapshot_every", _check_int("snapshot_every", self.snapshot_every,
                                               minimum=1, example=self.steps))
        if self.steps % self.snapshot_every:
            raise ValueError(
                f"snapshot_every={self.snapshot_every!r} must be a positive divisor of "
                f"steps={self.steps}; e.g. snapshot_every={self.steps}"
            )
        if self.batch_size is not None:
            self._set("batch_size", _check_int("batch_size", self.batch_size, minimum=1,
                                               example=64))
        for name, (low, low_open, high, example) in _REAL_FIELDS.items():
            self._set(name, _check_real(name, getattr(self, name), low=low, low_open=low_open,
                                        high=high, example=example))
        if self.bias_init == "zeros" and self.bias_std != 0:
            raise ValueError(
                f"bias_std={self.bias_std} has no effect with bias_init='zeros'; use "
                "bias_init='normal' for N(0, bias_std^2) biases, or bias_std=0")
        PARAMETERIZATIONS[self.parameterization].check(self.widths)

    def _set(self, name: str, value) -> None:
        """Store a validated (normalised) value in the frozen instance under construction."""
        object.__setattr__(self, name, value)

    @property
    def snapshot_steps(self) -> np.ndarray:
        return np.arange(0, self.steps + 1, self.snapshot_every)

    @property
    def spec(self) -> "TrainSpec":
        """The compile-time part: configs with equal specs share one compiled program."""
        return TrainSpec(*(getattr(self, name) for name in TrainSpec._fields))

    @property
    def hyper(self) -> "Hyper":
        """The traced part, as Python floats."""
        return Hyper(*(float(getattr(self, name)) for name in Hyper._fields))


def partial_setter(obj) -> Callable[[str, object], None]:
    """``self._set(name, value)`` for a frozen dataclass under construction (validated values)."""
    return lambda name, value: object.__setattr__(obj, name, value)


class TrainSpec(NamedTuple):
    """The fields of a :class:`TrainConfig` that fix the compiled program (shapes, loop
    lengths, functions); everything else is a traced :class:`Hyper` input."""

    widths: tuple[int, ...]
    activation: str
    optimizer: str
    steps: int
    batch_size: int | None
    loss: str
    snapshot_every: int
    dtype: str
    bias_init: str
    parameterization: str


class Hyper(NamedTuple):
    """Traced hyperparameters: scalars for one run, or ``(R,)`` arrays for R runs. Configs
    that differ only in these share one compiled program (a grid over learning rates or init
    scales is one compilation)."""

    learning_rate: Array
    momentum: Array
    weight_decay: Array
    init_scale: Array
    bias_std: Array
