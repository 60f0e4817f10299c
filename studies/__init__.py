"""Registered studies: one module per scientific question.

Each study module defines

- ``NAME`` (the CLI name) and ``DESCRIPTION`` (one line for ``toylab list``);
- ``Config``: a frozen dataclass of keyword hyperparameters with a ``seeds: int`` field and a
  ``quick()`` classmethod returning the under-a-minute smoke configuration;
- ``compute(config) -> (summary, arrays)``: headline numbers under stable keys (JSON types)
  and named NumPy arrays; pure given the config;
- ``make_figures(result, out) -> list[Path]``: paper figures (PDF + PNG) from a
  :class:`toylab.results.StudyResult`, written under the folder ``out``.
"""

from __future__ import annotations

from types import ModuleType

from studies import blobs

STUDIES: dict[str, ModuleType] = {module.NAME: module for module in (blobs,)}


def get_study(name: str) -> ModuleType:
    """Look up a study by CLI name, with an error listing the valid names."""
    if name not in STUDIES:
        raise ValueError(f"study {name!r} is unknown; choose one of {sorted(STUDIES)}")
    return STUDIES[name]
