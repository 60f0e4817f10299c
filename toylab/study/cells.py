"""Cells of a study: trained ensembles (config x seeds), trained through :mod:`toylab.sweep`
and cached one by one.

A :class:`TrainCell` names one trained ensemble: a world, a training config, a number of seeds
and a training-sample size. :meth:`Context.train_cells` trains every uncached cell of a study
with :func:`toylab.sweep.run_sweep` -- one compiled program per shape group, runs sharded over
the devices -- then hands each cell's :class:`~toylab.train.TrainResult` to the study's
analysis and caches the analysed cell under ``<results root>/<study>/<kind>/<hash>/``, with
the trained networks stored by :mod:`toylab.study.storage`'s convention. The results folder is
passed explicitly in the :class:`Context`, never through the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from toylab import data
from toylab.results import (StudyResult, cached_run, config_hash, load_result, progress,
                            save_result)
from toylab.study.config import NamedValues, World
from toylab.study.storage import save_layers
from toylab.sweep import run_sweep
from toylab.train import TrainConfig, TrainResult, diverged_seeds

SAMPLINGS = ("per_seed", "shared")
"""How the seeds of a cell get their training data: ``"per_seed"`` (an independent sample per
seed, so seeds are independent units for intervals) or ``"shared"`` (one sample for all)."""


def sample_seed(data_seed: int, member: int) -> int:
    """Seed of member ``member``'s independent training sample, from ``data_seed``
    (:class:`numpy.random.SeedSequence`, so nearby seeds give unrelated streams)."""
    return int(np.random.SeedSequence([int(data_seed), int(member)]).generate_state(1)[0])


@dataclass(frozen=True)
class TrainCell:
    """One trained ensemble: the cache key of a cell.

    Attributes:
        world: the distribution (:class:`~toylab.study.config.World`).
        train: training hyperparameters.
        seeds: number of seeds ``S``; member ``i`` is init seed ``i``.
        n_train: training points per member.
        data_seed: seed of the training samples.
        sampling: one of :data:`SAMPLINGS`.
    """

    world: World = field(default_factory=World)
    train: TrainConfig = field(default_factory=TrainConfig)
    seeds: int = 20
    n_train: int = 512
    data_seed: int = 0
    sampling: str = "per_seed"

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling={self.sampling!r}; choose one of {SAMPLINGS}")
        for name in ("seeds", "n_train"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")

    def distribution(self) -> data.GaussianMixture:
        """The world's distribution (cells with a bespoke world override this)."""
        return self.world.distribution()

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X (S, n, d), y (S, n))``: each member's training sample."""
        dist = self.distribution()
        if self.sampling == "shared":
            s = dist.sample(self.data_seed, self.n_train)
            return (np.broadcast_to(s.X, (self.seeds,) + s.X.shape),
                    np.broadcast_to(s.y, (self.seeds,) + s.y.shape))
        samples = [dist.sample(sample_seed(self.data_seed, i), self.n_train)
                   for i in range(self.seeds)]
        return np.stack([s.X for s in samples]), np.stack([s.y for s in samples])


@dataclass(frozen=True)
class WorldsConfig:
    """The training fields every study that trains cells shares, declared once: the base of a
    study's ``Config``. A study subclasses it (as a frozen dataclass), redeclares ``train``
    (and ``n_train`` / ``seeds`` where its defaults differ) with its own defaults and adds its
    own fields (its worlds, its grid, its analysis settings); its cells come from
    :meth:`cell_in`.

    Attributes:
        train, n_train, data_seed, seeds: as :class:`TrainCell`.
    """

    train: TrainConfig = field(default_factory=TrainConfig)
    n_train: int = 512
    data_seed: int = 0
    seeds: int = 20

    def cell_in(self, world: World, train: TrainConfig | None = None, *,
                sampling: str = "per_seed") -> TrainCell:
        """The :class:`TrainCell` of this config's seeds, sample size and data seed in
        ``world``, trained with ``train`` (default: this config's ``train``)."""
        return TrainCell(world, self.train if train is None else train, self.seeds,
                         self.n_train, self.data_seed, sampling)


@dataclass(frozen=True)
class EnsembleConfig(WorldsConfig):
    """A :class:`WorldsConfig` of one world: the base of a study that trains one ensemble
    (subclassed like :class:`WorldsConfig`, redeclaring ``world`` too).

    Attributes:
        world, sampling: as :class:`TrainCell` (``train``, ``n_train``, ``data_seed``,
            ``seeds`` from :class:`WorldsConfig`).
    """

    world: World = field(default_factory=World)
    sampling: str = "per_seed"

    def cell(self, *, world: World | None = None, train: TrainConfig | None = None) -> TrainCell:
        """The :class:`TrainCell` of this config (optionally in another world or with another
        training config, e.g. other widths)."""
        return self.cell_in(self.world if world is None else world, train,
                            sampling=self.sampling)


Analysis = Callable[[TrainCell, TrainResult], tuple[dict, dict]]
"""``(cell, trained ensemble) -> (summary, arrays)`` of one cell."""


@dataclass(frozen=True)
class AnalysedCell:
    """The cache key of an analysed cell: the trained cell and the analysis settings (so that
    changing a threshold of the analysis recomputes the cell instead of reusing it)."""

    cell: TrainCell
    settings: NamedValues = ()


def train_cells(cells: Sequence[TrainCell]) -> list[TrainResult]:
    """Train every cell: cells with equal compiled shape and data shape share one sweep call.

    Returns:
        one :class:`~toylab.train.TrainResult` per cell, in order (diverged seeds reported,
        not raised; see :func:`~toylab.train.diverged_seeds`).
    """
    groups: dict[tuple, list[int]] = {}
    data_of = [cell.training_data() for cell in cells]
    for i, cell in enumerate(cells):
        groups.setdefault((cell.train.spec, data_of[i][0].shape), []).append(i)
    out: list[TrainResult | None] = [None] * len(cells)
    for members in groups.values():
        X = np.stack([data_of[i][0] for i in members])
        y = np.stack([data_of[i][1] for i in members])
        sweep = run_sweep([cells[i].train for i in members], X, y, cells[members[0]].seeds,
                          on_divergence="report")
        for i, result in zip(members, sweep.results):
            out[i] = result
    return out


def cell_arrays(run: TrainResult) -> dict[str, np.ndarray]:
    """What every trained cell stores besides its analysis: final and initial networks
    (:mod:`toylab.study.storage`), seeds, kept members, loss and accuracy curves."""
    bad = {seed for seed, _ in diverged_seeds(run)}
    arrays = {"seeds": np.asarray(run.seeds),
              "kept": np.asarray([i for i, s in enumerate(run.seeds) if int(s) not in bad],
                                 np.int64),
              "loss": run.loss, "accuracy": run.accuracy,
              "final_loss": run.final_loss, "final_accuracy": run.final_accuracy}
    save_layers(arrays, run.layers)
    save_layers(arrays, [(W[:, 0], b[:, 0]) for W, b in run.snapshots], prefix="init_")
    return arrays


def member_arrays(run: TrainResult, analyse_member: Callable[[int], dict], *,
                  desc: str = "members") -> dict[str, np.ndarray]:
    """A per-member analysis of every member whose training stayed finite, stacked over all
    members.

    Args:
        run: the trained cell; analyse_member: ``member -> {key: array}`` (same keys and
            shapes for every member). desc: progress-bar label.
    Returns:
        ``{key: (S, ...) float64}``: row ``i`` is member ``i`` (position in ``run.seeds``), NaN
        for members whose final loss is not finite.
    """
    finite = [i for i in range(len(run.seeds)) if np.isfinite(run.final_loss[i])]
    if not finite:
        raise ValueError("every member of the cell diverged; lower the learning rate")
    rows = {i: analyse_member(i) for i in progress(finite, desc=desc)}
    template = rows[finite[0]]
    return {key: np.stack([np.asarray(rows[i][key], np.float64) if i in rows
                           else np.full(np.shape(template[key]), np.nan)
                           for i in range(len(run.seeds))]) for key in template}


@dataclass(frozen=True)
class Context:
    """What a study's ``compute`` gets besides its config.

    Attributes:
        study: the study name (first path component of its cells).
        results_root: root of the results cache (``toylab run --out``).
        force: recompute cells even if cached.
    """

    study: str
    results_root: Path
    force: bool = False

    def _folder(self, kind: str, key) -> Path:
        name = f"{self.study}/{kind}"
        return Path(self.results_root) / name / config_hash(name, key)

    def cached(self, kind: str, key, compute: Callable) -> StudyResult:
        """``compute(key) -> (summary, arrays)``, cached under ``kind`` by the hash of ``key``
        (a frozen dataclass)."""
        return cached_run(f"{self.study}/{kind}", key, compute, out=Path(self.results_root),
                          force=self.force)[0]

    def train_cells(self, cells: Sequence[TrainCell], analyse: Analysis, *, kind: str = "cell",
                    settings: dict | None = None) -> list[StudyResult]:
        """Train, analyse and cache every cell; cached cells are loaded, the rest trained
        together (:func:`train_cells`).

        Args:
            cells: the cells (duplicates are computed once).
            analyse: ``(cell, TrainResult) -> (summary, arrays)``; the stored arrays also get
                :func:`cell_arrays` (networks, seeds, kept members, curves).
            settings: the analysis parameters ``analyse`` depends on besides the cell (JSON
                values); part of each cell's cache key.
        Returns:
            one :class:`~toylab.results.StudyResult` per cell, in order.
        """
        extra = tuple(sorted((settings or {}).items()))
        keys = {cell: AnalysedCell(cell, extra) for cell in cells}
        found = {cell: None if self.force else load_result(self._folder(kind, keys[cell]))
                 for cell in keys}
        todo = [cell for cell, result in found.items() if result is None]
        if todo:
            for cell, run in zip(todo, train_cells(todo)):
                summary, arrays = analyse(cell, run)
                summary = {"diverged": sorted(int(s) for s, _ in diverged_seeds(run)), **summary}
                found[cell] = save_result(self._folder(kind, keys[cell]), f"{self.study}/{kind}",
                                          keys[cell], summary, {**cell_arrays(run), **arrays})
        return [found[cell] for cell in cells]

