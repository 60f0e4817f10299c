"""Registered studies: one module per scientific question.

Each study module follows the harness protocol (:mod:`toylab.study.runner`):

- ``NAME`` (the CLI name) and ``DESCRIPTION`` (one line for ``toylab list``);
- ``Config``: a frozen dataclass nesting ``train: TrainConfig`` (and ``world: World`` where it
  uses one preset), with a ``seeds: int`` field and a ``quick()`` classmethod returning the
  under-a-minute smoke configuration;
- ``compute(config, ctx) -> (summary, arrays)``: headline objects
  (:func:`toylab.study.headline`) and named arrays; cells are trained and cached through
  ``ctx`` (:class:`toylab.study.Context`);
- ``make_figures(result, out) -> list[Path]``: paper figures (PDF + PNG) from a stored
  :class:`toylab.results.StudyResult`, written under the folder ``out``.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def _discover() -> dict[str, ModuleType]:
    """Every module in this package that defines ``NAME`` is a study (no manual registry)."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME"):
            found[module.NAME] = module
    return found


STUDIES: dict[str, ModuleType] = _discover()


def get_study(name: str) -> ModuleType:
    """Look up a study by CLI name, with an error listing the valid names."""
    if name not in STUDIES:
        raise ValueError(f"study {name!r} is unknown; choose one of {sorted(STUDIES)}")
    return STUDIES[name]
