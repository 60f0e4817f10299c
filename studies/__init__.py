"""Registered studies: one module per scientific question.

Each study module follows the harness protocol (:mod:`toylab.study.runner`):

- ``NAME`` (the CLI name) and ``DESCRIPTION`` (one line for ``toylab list``);
- ``Config``: a frozen dataclass subclassing :class:`toylab.study.WorldsConfig` (``train:
  TrainConfig``, ``n_train``, ``data_seed``, ``seeds``) or, for one world,
  :class:`toylab.study.EnsembleConfig` (adds ``world: World``, ``sampling``), with a
  ``quick()`` classmethod returning the under-a-minute smoke configuration;
- ``compute(config, ctx) -> (summary, arrays)``: headline objects
  (:func:`toylab.study.headline`) and named arrays; cells are trained and cached through
  ``ctx`` (:class:`toylab.study.Context`);
- ``figures(result, config) -> dict[str, Figure]``: the paper figures by file stem, drawn from
  a stored :class:`toylab.results.StudyResult`; :func:`toylab.study.write_figures` builds them
  in the house style and saves each as PDF + PNG (optionally ``tables(result, config)``:
  tables saved as CSV next to them).
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
