"""Strategy for trained networks (:func:`trained_networks`): small nets trained with
:func:`toylab.train.train_ensemble` on samples of drawn distributions, cached."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from toylab.data import GaussianMixture
from toylab.testing import bounds
from toylab.testing.worlds import distributions


class TrainedNetwork(NamedTuple):
    """A network trained on samples of a distribution.

    Attributes:
        layers: final float64 layer list; activation: its activation.
        dist: the distribution; X: ``(n, d)``, y: ``(n,)`` the training sample.
        config: the :class:`toylab.train.TrainConfig`; seed: init seed.
        trajectory: float64 layer lists at ``config.snapshot_steps``.
        final_loss, final_accuracy: on the training sample.
    """

    layers: list
    activation: str
    dist: GaussianMixture
    X: np.ndarray
    y: np.ndarray
    config: object
    seed: int
    trajectory: tuple
    final_loss: float
    final_accuracy: float

    def __repr__(self) -> str:  # hypothesis prints falsifying examples with repr
        return (f"TrainedNetwork(widths={self.config.widths}, activation={self.activation!r}, "
                f"dist={self.dist!r}, means={self.dist.means.tolist()}, seed={self.seed}, "
                f"learning_rate={self.config.learning_rate}, final_loss={self.final_loss:.4g}, "
                f"final_accuracy={self.final_accuracy:.4g})")


class _World:
    """A distribution hashed by its parameters (GaussianMixture compares by identity), so
    equal worlds drawn twice share a cache entry."""

    def __init__(self, dist: GaussianMixture):
        self.dist = dist
        self.key = tuple(np.asarray(a).tobytes()
                         for a in (dist.means, dist.covs, dist.weights, dist.labels))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _World) and self.key == other.key


@lru_cache(maxsize=256)
def _train_cached(world: _World, config, sample_seed: int, seed: int, n_points: int):
    """Train one seed (shape ``(1,)``, so every call of a config shape reuses one program)."""
    from toylab.train import train_ensemble

    sample = world.dist.sample(sample_seed, n_points)
    run = train_ensemble(sample.X, sample.y, [seed], config=config, on_divergence="report")
    trajectory = tuple(
        [(np.asarray(W[0, t], np.float64), np.asarray(b[0, t], np.float64))
         for W, b in run.snapshots]
        for t in range(len(run.snapshot_steps))
    )
    return trajectory[-1], sample.X, sample.y, trajectory, float(run.final_loss[0]), \
        float(run.final_accuracy[0])


def trained_networks(
    dists: st.SearchStrategy[GaussianMixture] | None = None,
    *,
    hidden: Sequence[Sequence[int]] = ((8,),),
    activations: str | Sequence[str] = "relu",
    learning_rates: Sequence[float] = (1e-2,),
    steps: int = 500,
    snapshot_every: int = 100,
    n_points: int = 256,
    seeds: Sequence[int] = (0, 1, 2),
    optimizer: str = "adam",
) -> st.SearchStrategy[TrainedNetwork]:
    """Networks trained (float32, full batch) on a sample of a drawn distribution.

    Every example trains one seed on ``n_points`` points of the drawn distribution, so the
    compiled program depends only on ``(hidden, activation, d, C)`` -- draw from few of
    those. The learning rate is a traced input (no recompilation) and results are cached by
    ``(distribution, config, seed)``, so hypothesis' replays and shrinking cost nothing.
    Diverged runs are rejected.

    Args:
        dists: strategy of distributions (default: :func:`distributions` in 2-D with 2-3
            well-separated classes, ``degenerate=False``).
        hidden: hidden-layer width tuples to choose from, e.g. ``((8,), (8, 8))``; ``()`` is
            a linear model.
        activations: activation name(s); learning_rates: to choose from.
        steps, snapshot_every, optimizer: training (see :class:`toylab.train.TrainConfig`).
        n_points: training sample size (sample seed drawn from ``seeds`` too).
        seeds: init seeds to choose from.
    Returns:
        a strategy of :class:`TrainedNetwork`.
    """
    from toylab.train import TrainConfig

    names = bounds.check_activations(activations)
    hidden = tuple(tuple(int(w) for w in h) for h in hidden)
    if not hidden or any(h and min(h) < 1 for h in hidden):
        raise ValueError(f"hidden={hidden!r} must be tuples of positive widths, e.g. "
                         "((8,), (8, 8)), or () for no hidden layer")
    rates = tuple(float(r) for r in learning_rates)
    if not rates or min(rates) <= 0:
        raise ValueError(f"learning_rates={learning_rates!r} must be positive, e.g. (1e-2,)")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds=() is empty; pass init seeds to choose from, e.g. (0, 1, 2)")
    bounds.int_range("n_points", n_points, "n_points", n_points, 1)
    TrainConfig(steps=steps, snapshot_every=snapshot_every, optimizer=optimizer)  # validate
    dists = dists if dists is not None else distributions(max_classes=3, degenerate=False)

    @st.composite
    def trained(draw) -> TrainedNetwork:
        dist = draw(dists)
        config = TrainConfig(
            widths=(dist.dim,) + draw(st.sampled_from(hidden)) + (dist.n_classes,),
            activation=draw(st.sampled_from(names)), optimizer=optimizer,
            learning_rate=draw(st.sampled_from(rates)), steps=steps,
            snapshot_every=snapshot_every,
        )
        seed, sample_seed = draw(st.sampled_from(seeds)), draw(st.sampled_from(seeds))
        layers, X, y, trajectory, loss, acc = _train_cached(_World(dist), config, sample_seed,
                                                            seed, n_points)
        assume(np.isfinite(loss))
        return TrainedNetwork(layers, config.activation, dist, X, y, config, seed, trajectory,
                              loss, acc)

    return trained()
