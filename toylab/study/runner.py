"""Running a study: its config, its cached result, its figures.

A study is a module with

- ``NAME`` (the CLI name) and ``DESCRIPTION`` (one line for ``toylab list``);
- ``Config``: a frozen dataclass of keyword hyperparameters subclassing
  :class:`~toylab.study.cells.WorldsConfig` (``train: TrainConfig``, ``n_train``,
  ``data_seed``, ``seeds``) or :class:`~toylab.study.cells.EnsembleConfig` (one ``world:
  World``), with a ``quick()`` classmethod returning the under-a-minute smoke configuration;
- ``compute(config, ctx) -> (summary, arrays)``: headline numbers (each a
  :func:`toylab.study.stats.headline` object) and named arrays; ``ctx`` is a
  :class:`~toylab.study.cells.Context` through which cells are trained and cached;
- ``figures(result, config) -> dict[str, Figure]``: the paper figures, by file stem, built
  from a stored :class:`~toylab.results.StudyResult` and its config (rebuilt by
  :func:`config_of`); the study only draws, :func:`write_figures` styles and saves;
- optionally ``tables(result, config) -> dict[str, table]``: tables written next to the
  figures as ``<name>.csv`` (each table has ``to_csv(path) -> Path``, e.g.
  :class:`toylab.compare.atlas.Atlas`);
- optionally ``representatives(result) -> list[Representative]``: the study's representative
  networks with their worlds, for ``toylab export NAME`` (explorable HTML pages).

:func:`write_figures` calls ``study.figures`` inside the house style
(:func:`toylab.plots.house_style`, so fonts and sizes apply while the figures are built) and
saves every figure as ``<stem>.pdf`` and ``<stem>.png`` (:func:`toylab.plots.save_all`).
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

from toylab.plots import house_style, save_all
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


def write_figures(study: ModuleType, result: StudyResult, out: Path) -> list[Path]:
    """Build a study's figures (and tables) from a stored result and write them under ``out``.

    ``study.figures(result, config)`` runs inside :func:`toylab.plots.house_style`; each figure
    is saved as ``out/<stem>.pdf`` and ``out/<stem>.png`` and closed; each table of the
    optional ``study.tables(result, config)`` is written as ``out/<name>.csv``.

    Returns:
        every path written: the figures' in the order ``figures`` returned them (PDF, then
        PNG), then the tables'.
    """
    config = config_of(study, result)
    with house_style():
        figures = study.figures(result, config)
    paths = save_all(out, figures)
    tables = study.tables(result, config) if hasattr(study, "tables") else {}
    Path(out).mkdir(parents=True, exist_ok=True)
    return paths + [table.to_csv(Path(out) / f"{name}.csv") for name, table in tables.items()]


def run_study(study: ModuleType, config, *, results_root: Path = Path("results"),
              figures_root: Path = Path("figures"),
              force: bool = False) -> tuple[StudyResult, list[Path], bool]:
    """Compute (or load) a study's result and write its figures.

    Returns:
        ``(result, figure paths, reused)``.
    """
    result, reused = compute_result(study, config, results_root=results_root, force=force)
    paths = write_figures(study, result, figure_dir(study, config, figures_root))
    return result, paths, reused
