"""Initialisations and parameterisations: named choices in lookup tables, traceable functions.

**Weights** are He-normal (std ``sqrt(2 / fan_in)``, He et al. 2015), drawn by
:func:`toylab.models.init_layers` from the run's init key, so a seed has the same weights
whatever its bias init. **Biases** (:data:`INITS`) are drawn from a separate key
(``fold_in(init_key, 1)``):

- ``"zeros"``: all biases 0 (the default; every first-layer fold then starts through the
  origin, which for data centred there builds the answer in, see issue 12).
- ``"normal"``: every bias ``~ N(0, bias_std^2)`` (He weights with a stated bias scale).
- ``"data"``: data-dependent: first-layer neuron ``i`` gets ``b_i = -w_i . x_j`` for a
  training point ``x_j`` drawn uniformly from the run's own data (distinct points while
  there are at least as many points as neurons), so its fold ``w_i . x + b_i = 0`` passes
  through ``x_j``; deeper layers' biases ``~ N(0, bias_std^2)``.

**init_scale** multiplies every initial parameter, weights and biases (so each fold stays
where the bias init put it and only the scale changes): a large scale trains lazily, near the
linearisation at init, a small one in the rich, feature-learning regime (Chizat, Oyallon &
Bach 2019, "On lazy training in differentiable programming"; Woodworth et al. 2020).

**Parameterisations** (:data:`PARAMETERIZATIONS`), with ``n_l`` the width of hidden layer
``l`` and ``n_L`` the last hidden width:

- ``"standard"``: ``f(x) = h_L W_L + b_L`` with He ``W_L``; one learning rate for all.
- ``"mean_field"``: the maximal-update (muP) parameterisation in its output-multiplier form
  (Yang & Hu 2021, "Feature learning in infinite-width neural networks"; table 8 of Yang et
  al. 2022, "Tensor Programs V"), which for one hidden layer is the mean-field scaling of Mei,
  Montanari & Nguyen 2018 (``f = (1/N) sum_i a_i sigma(w_i . x)``, step size times N).
  Exactly: ``f(x) = (1/n_L) h_L W_L + b_L`` with ``W_L ~ N(0, 1)`` (other weights He), and
  each tensor's update multiplied by a width factor. For ``sgd``/``momentum``: input
  weights and hidden biases times their fan-out (``n_1``, ``n_l``), output weights times
  their fan-in ``n_L``, hidden-to-hidden weights and the output bias times 1. For ``adam``:
  hidden-to-hidden weights times ``1 / fan_in``, all else times 1. Only widths count as
  "width" (the input dimension and the number of outputs are O(1), factor 1), and the factors
  are absolute (no base width: at ``n = 1`` both parameterisations coincide up to the output
  init). Weight decay is scaled with the update it belongs to. Trained networks are stored
  in the standard form (``W_L / n_L``), so every analysis reads them as usual.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from toylab.models import Layers, init_layers

Array = jax.Array


# ----------------------------------------------------------------------------- bias inits


def _zero_biases(key: Array, layers: Layers, X: Array, bias_std: Array) -> list[Array]:
    return [b for _, b in layers]


def _normal_biases(key: Array, layers: Layers, X: Array, bias_std: Array) -> list[Array]:
    keys = jax.random.split(key, len(layers))
    return [bias_std.astype(b.dtype) * jax.random.normal(k, b.shape, b.dtype)
            for k, (_, b) in zip(keys, layers)]


def _data_biases(key: Array, layers: Layers, X: Array, bias_std: Array) -> list[Array]:
    pick, rest = jax.random.split(key)
    W0 = layers[0][0]  # (d, n_1)
    n, width = X.shape[0], W0.shape[1]
    points = X[jax.random.choice(pick, n, (width,), replace=width > n)]  # (n_1, d)
    first = -jnp.sum(W0.T * points.astype(W0.dtype), axis=-1)
    return [first] + _normal_biases(rest, layers, X, bias_std)[1:]


class BiasInit(NamedTuple):
    """A bias initialisation: ``init(key, he_layers, X (n, d), bias_std) -> [b_l, ...]``."""

    init: Callable[[Array, Layers, Array, Array], list[Array]]
    description: str


INITS: dict[str, BiasInit] = {
    "zeros": BiasInit(_zero_biases, "all biases 0 (He et al. 2015)"),
    "normal": BiasInit(_normal_biases, "every bias ~ N(0, bias_std^2)"),
    "data": BiasInit(_data_biases, "first-layer folds through random training points "
                     "(b_i = -w_i . x_j); deeper biases ~ N(0, bias_std^2)"),
}
"""Bias init name -> :class:`BiasInit` (see the module docstring)."""


# ----------------------------------------------------------------------------- parameterisations


def _needs_hidden_layer(name: str) -> Callable[[Sequence[int]], None]:
    def check(widths: Sequence[int]) -> None:
        if len(widths) < 3:
            raise ValueError(
                f"parameterization={name!r} needs a hidden layer (its output multiplier is "
                f"1 / hidden width) but widths={tuple(widths)} has none; add one, e.g. "
                f"widths={(widths[0], 16, widths[-1])}, or use 'standard'")
    return check


def _mean_field_factors(widths: Sequence[int], optimizer: str) -> tuple[tuple[float, float], ...]:
    last = len(widths) - 2  # index of the output layer
    factors = []
    for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        hidden_to_hidden = 0 < layer < last
        if optimizer == "adam":
            weight = 1.0 / fan_in if hidden_to_hidden else 1.0
            bias = 1.0
        else:  # sgd, momentum
            weight = float(fan_out if layer == 0 else fan_in if layer == last else 1)
            bias = 1.0 if layer == last else float(fan_out)
        factors.append((weight, bias))
    return tuple(factors)


class Parameterization(NamedTuple):
    """How widths enter the forward pass, the output init and the per-tensor step sizes.

    Attributes:
        check: ``check(widths)`` raises ``ValueError`` if the widths do not allow it.
        output_multiplier: ``widths -> m``: the output layer computes ``m * h_L W_L + b_L``
            (``None``: no multiplier).
        output_std: ``widths -> s``: output weights ``~ N(0, s^2)`` (``None``: He).
        update_factors: ``(widths, optimizer) -> ((weight factor, bias factor), ...)`` per
            layer, multiplying the optimizer's updates (``None``: all 1).
        description: one line.
    """

    check: Callable[[Sequence[int]], None]
    output_multiplier: Callable[[Sequence[int]], float | None]
    output_std: Callable[[Sequence[int]], float | None]
    update_factors: Callable[[Sequence[int], str], tuple[tuple[float, float], ...] | None]
    description: str


PARAMETERIZATIONS: dict[str, Parameterization] = {
    "standard": Parameterization(
        check=lambda widths: None,
        output_multiplier=lambda widths: None,
        output_std=lambda widths: None,
        update_factors=lambda widths, optimizer: None,
        description="f = h_L W_L + b_L, He init, one learning rate",
    ),
    "mean_field": Parameterization(
        check=_needs_hidden_layer("mean_field"),
        output_multiplier=lambda widths: 1.0 / widths[-2],
        output_std=lambda widths: 1.0,
        update_factors=_mean_field_factors,
        description="muP / mean-field: f = h_L W_L / n_L + b_L, W_L ~ N(0, 1), width-scaled "
                    "steps (Yang & Hu 2021; Mei et al. 2018)",
    ),
}
"""Parameterisation name -> :class:`Parameterization` (see the module docstring)."""


# ----------------------------------------------------------------------------- one run's init


def init_run(key: Array, X: Array, init_scale: Array, bias_std: Array, *, widths, dtype,
             bias_init: str, parameterization: str) -> Layers:
    """Initial parameters of one run, in the *trained* parameterisation (traceable).

    Args:
        key: the run's init key. X: ``(n, d)`` the run's training inputs (``"data"`` init).
        init_scale, bias_std: scalars (traced). widths, dtype: the network's.
        bias_init: name in :data:`INITS`. parameterization: name in :data:`PARAMETERIZATIONS`.
    Returns:
        layer list ``[(W (in, out), b (out,)), ...]``; the output weights are the stored ones
        (before any output multiplier).
    """
    layers = init_layers(key, widths, dtype=dtype)
    std = PARAMETERIZATIONS[parameterization].output_std(widths)
    if std is not None:  # the He draw of the output layer, rescaled to std ``std``
        W, b = layers[-1]
        layers[-1] = (W * jnp.asarray(std * math.sqrt(widths[-2] / 2.0), dtype), b)
    biases = INITS[bias_init].init(jax.random.fold_in(key, 1), layers, X, bias_std)
    scale = init_scale.astype(dtype)
    return [(W * scale, b * scale) for (W, _), b in zip(layers, biases)]
