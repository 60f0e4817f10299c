"""Training records: :class:`TrainResult`, divergence detection."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from toylab.models import Layers
from toylab.train.config import TrainConfig


class TrainResult(NamedTuple):
    """An ensemble's training record. Arrays carry a leading seed axis ``S``.

    Attributes:
        layers: final parameters, ``[(W (S, in, out), b (S, out)), ...]`` (standard form:
            ``toylab.models.apply`` computes the trained function, whatever the
            parameterisation).
        loss: ``(S, steps)`` full-data loss before each step.
        accuracy: ``(S, steps)`` full-data accuracy before each step (classification).
        snapshots: ``[(W (S, T, in, out), b (S, T, out)), ...]`` at ``snapshot_steps``.
        snapshot_steps: ``(T,)`` step of each snapshot (``0`` = initialisation).
        seeds: ``(S,)`` the init seeds.
        final_loss, final_accuracy: ``(S,)`` after the last step.
    """

    layers: Layers
    loss: np.ndarray
    accuracy: np.ndarray
    snapshots: Layers
    snapshot_steps: np.ndarray
    seeds: np.ndarray
    final_loss: np.ndarray
    final_accuracy: np.ndarray

    def member(self, index: int) -> Layers:
        """Final layer list of ensemble member ``index`` (position, not seed value)."""
        return [(W[index], b[index]) for W, b in self.layers]

    def snapshot(self, index: int, t: int) -> Layers:
        """Layer list of member ``index`` at snapshot ``t``."""
        return [(W[index, t], b[index, t]) for W, b in self.snapshots]


class TrainingDiverged(FloatingPointError):
    """The loss of some seed became NaN or infinite."""


def collect_result(out: tuple, rows, config: TrainConfig, seeds: np.ndarray) -> TrainResult:
    """A :class:`TrainResult` of runs ``rows`` (indices or a slice) of the NumPy outputs of
    :func:`toylab.train.kernel.train_runs`."""
    final, loss, acc, snaps, final_loss, final_acc = jax.tree.map(lambda a: a[rows], out)
    return TrainResult(
        layers=[tuple(p) for p in final],
        loss=loss,
        accuracy=acc,
        snapshots=[tuple(p) for p in snaps],
        snapshot_steps=config.snapshot_steps,
        seeds=np.asarray(seeds),
        final_loss=final_loss,
        final_accuracy=final_acc,
    )


def check_divergence(result: TrainResult, config: TrainConfig, on_divergence: str) -> None:
    """Raise :class:`TrainingDiverged` for ``on_divergence="raise"`` if any seed diverged."""
    if on_divergence != "raise":
        return
    bad = diverged_seeds(result)
    if bad:
        seed, step = bad[0]
        raise TrainingDiverged(
            f"training diverged: seed {seed} has a non-finite loss at step {step} "
            f"({len(bad)} of {len(result.seeds)} seeds diverged); lower learning_rate="
            f"{config.learning_rate} or use on_divergence='report' to keep the others"
        )


def check_on_divergence(on_divergence) -> str:
    """Validate an ``on_divergence`` argument (``"raise"`` or ``"report"``)."""
    if on_divergence not in ("raise", "report"):
        raise ValueError(f"on_divergence={on_divergence!r}; choose 'raise' or 'report'")
    return on_divergence


def diverged_seeds(result: TrainResult) -> list[tuple[int, int]]:
    """``[(seed, first_bad_step), ...]`` for seeds whose loss became NaN/inf.

    ``first_bad_step == steps`` means only the final loss is non-finite.
    """
    curves = np.concatenate([result.loss, result.final_loss[:, None]], axis=1)
    bad = ~np.isfinite(curves)
    return [
        (int(result.seeds[s]), int(np.argmax(bad[s]))) for s in np.flatnonzero(bad.any(axis=1))
    ]
