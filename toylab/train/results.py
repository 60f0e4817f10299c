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


class TrainState(NamedTuple):
    """Where the training of an ensemble stands: all a later segment needs to continue it
    exactly as one longer run would (:func:`toylab.train.train_segment`).

    Attributes:
        params: ``[(W (S, in, out), b (S, out)), ...]`` in the parameterisation's own form
            (``"mean_field"``: without the output multiplier, so not ``TrainResult.layers``;
            ``"standard"``: the same values).
        opt_state: the optax state of every seed (each leaf with leading axis ``S``; Adam's
            moments and step count, momentum's velocity).
        step: optimizer steps done (minibatches continue from this step's draw).
        seeds: ``(S,)`` the seeds, which also draw the minibatches.
    """

    params: Layers
    opt_state: object
    step: int
    seeds: np.ndarray


def join_segments(results) -> TrainResult:
    """One :class:`TrainResult` of consecutive segments (:func:`toylab.train.train_segment`)
    of the same seeds, as one run of all their steps records it: curves concatenated, the
    snapshot where one segment ends and the next begins kept once, the final values of the
    last segment.

    Args:
        results: a non-empty sequence of segment results, each starting at the step where the
            one before ended (its ``snapshot_steps[0]``).
    Raises:
        ValueError: the segments are not consecutive, or are of different seeds.
    """
    results = list(results)
    if not results:
        raise ValueError("results is empty; pass the TrainResult of every segment, in order")
    for i, (a, b) in enumerate(zip(results, results[1:])):
        if b.snapshot_steps[0] != a.snapshot_steps[-1] or not np.array_equal(a.seeds, b.seeds):
            raise ValueError(
                f"results[{i + 1}] starts at step {b.snapshot_steps[0]} with seeds "
                f"{b.seeds.tolist()} but results[{i}] ends at step {a.snapshot_steps[-1]} with "
                f"seeds {a.seeds.tolist()}; pass consecutive segments of the same seeds")
    last = results[-1]
    snapshots = [tuple(np.concatenate([p[:, :1]] + [r.snapshots[l][k][:, 1:] for r in results],
                                      axis=1) for k, p in enumerate(layer))
                 for l, layer in enumerate(results[0].snapshots)]
    return last._replace(
        loss=np.concatenate([r.loss for r in results], axis=1),
        accuracy=np.concatenate([r.accuracy for r in results], axis=1),
        snapshots=snapshots,
        snapshot_steps=np.concatenate([results[0].snapshot_steps[:1]] +
                                      [r.snapshot_steps[1:] for r in results]))


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
