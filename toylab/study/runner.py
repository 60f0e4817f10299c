"""Running a study: its config, its cached result, its figures.

A study is a module with

- ``NAME`` (the CLI name) and ``DESCRIPTION`` (one line for ``toylab list``);
- ``Config``: a frozen dataclass of keyword hyperparameters (nesting ``train: TrainConfig``,
  ``world: World`` where it has them) with a ``seeds: int`` field and a ``quick()``
  classmethod returning the under-a-minute smoke configuration;
- ``compute(config, ctx) -> (summary, arrays)``: headline numbers (each a
  :func:`toylab.study.stats.headline` object) and named arrays; ``ctx`` is a
  :class:`~toylab.study.cells.Context` through which cells are trained and cached;
- ``make_figures(result, out) -> list[Path]``: paper figures (PDF + PNG) from a stored
  :class:`~toylab.results.StudyResult`;
- optionally ``representatives(result) -> list[Representative]``: the study's representative
  networks with their worlds, for ``toylab export NAME`` (explorable HTML pages).

:func:`run_study` computes (or loads) the result of a config and writes its figures: the
default config's figures go to ``figures/<study>/`` (the paper figures), the unmodified quick
config's to ``figures/<study>/quick/``, and any other config's to
``figures/<study>/<config hash>/``, so no override can overwrite a paper figure.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import NamedTuple, Sequence

from toylab.results import StudyResult, cached_run, config_hash
from toylab.study.cells import Context
from toylab.study.config import apply_overrides, config_from_dict


class Representative(NamedTuple):
    """A network a study shows, with what is needed to explore it.

    Attributes:
        label: short file-name-safe name, e.g. ``"seed0"`` or ``"curved_w8"``.
        layers: float64 layer list.
        dist: the 2-D world it was trained in (:class:`~toylab.data.GaussianMixture`).
        activation: activation name.
    """

    label: str
    layers: list
    dist: object
    activation: str


def study_config(study: ModuleType, *, quick: bool = False, seeds: int | None = None,
                 overrides: Sequence[str] = ()):
    """The config ``toylab run`` uses: full or quick defaults, ``--seeds`` and ``--set``."""
    config = study.Config.quick() if quick else study.Config()
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds <= 0:
            raise ValueError(f"--seeds {seeds} must be a positive number of seeds")
        config = dataclasses.replace(config, seeds=seeds)
    return apply_overrides(config, overrides)


def config_of(study: ModuleType, result: StudyResult):
    """The study config a stored result was computed with."""
    return config_from_dict(study.Config, result.config)


def figure_dir(study: ModuleType, config, figures_root: Path) -> Path:
    """Where the figures of ``config`` go (see the module docstring)."""
    base = Path(figures_root) / study.NAME
    if config == study.Config():
        return base
    if config == study.Config.quick():
        return base / "quick"
    return base / config_hash(study.NAME, config)


def compute_result(study: ModuleType, config, *, results_root: Path,
                   force: bool = False) -> tuple[StudyResult, bool]:
    """The cached result of ``(study, config)``, computed if needed; ``(result, reused)``."""
    ctx = Context(study.NAME, Path(results_root), force=force)
    return cached_run(study.NAME, config, lambda c: study.compute(c, ctx),
                      out=Path(results_root), force=force)


def run_study(study: ModuleType, config, *, results_root: Path = Path("results"),
              figures_root: Path = Path("figures"),
              force: bool = False) -> tuple[StudyResult, list[Path], bool]:
    """Compute (or load) a study's result and write its figures.

    Returns:
        ``(result, figure paths, reused)``.
    """
    result, reused = compute_result(study, config, results_root=results_root, force=force)
    paths = study.make_figures(result, figure_dir(study, config, figures_root))
    return result, paths, reused
