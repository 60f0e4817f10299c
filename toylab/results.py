"""Results of study runs: config hashing, an on-disk cache, and atomic writes.

A run is named by its study and config: ``<out>/<study>/<hash>/`` holds ``results.json``
(config, headline summary, package versions) and ``arrays.npz`` (parameters, curves). The
folder is written under a temporary name and renamed into place in one step, so an
interrupted run never leaves a half-written result: either the whole folder exists or none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from tqdm.auto import tqdm

RESULTS_ENV = "TOYLAB_RESULTS"
"""Environment variable naming the results root; ``toylab run --out DIR`` sets it."""
RESULTS_FILE = "results.json"
ARRAYS_FILE = "arrays.npz"
HASH_LENGTH = 12


def config_dict(config) -> dict[str, Any]:
    """A frozen config dataclass as a JSON-ready dict (tuples become lists)."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config={config!r} must be a dataclass instance")
    return json.loads(json.dumps(dataclasses.asdict(config), default=_jsonable))


def config_hash(study: str, config) -> str:
    """Stable short hash of ``(study, config)``: the name of the run's results folder."""
    canonical = json.dumps({"study": study, "config": config_dict(config)}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def run_label(study: str, config) -> str:
    """Short human-readable name of a run, e.g. ``blobs-3f2a9c1b0d4e``."""
    return f"{study}-{config_hash(study, config)}"


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """A finished run, as stored on disk.

    Attributes:
        study: study name.
        config: the config as a dict.
        summary: headline numbers under stable keys (JSON types).
        arrays: named NumPy arrays.
        path: the run's results folder.
    """

    study: str
    config: dict
    summary: dict
    arrays: Mapping[str, np.ndarray]
    path: Path


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for pkg in ("toylab", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "sympy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def save_result(folder: Path, study: str, config, summary: dict,
                arrays: Mapping[str, np.ndarray]) -> StudyResult:
    """Write a run's folder atomically: build it under a temp name, then rename into place.

    An existing folder (a forced re-run) is replaced; the old one is removed only after the
    new one is complete.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "study": study,
        "config": config_dict(config),
        "summary": json.loads(json.dumps(summary, default=_jsonable)),
        "versions": versions(),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (tmp / RESULTS_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        np.savez_compressed(tmp / ARRAYS_FILE, **{k: np.asarray(v) for k, v in arrays.items()})
        if folder.exists():
            stale = folder.with_name(f".{folder.name}.stale")
            os.replace(folder, stale)
            os.replace(tmp, folder)
            shutil.rmtree(stale)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return load_result(folder)


def load_result(folder: Path) -> StudyResult | None:
    """Read a run's folder; ``None`` if it is absent or incomplete."""
    folder = Path(folder)
    try:
        record = json.loads((folder / RESULTS_FILE).read_text())
        with np.load(folder / ARRAYS_FILE) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return StudyResult(record["study"], record["config"], record["summary"], arrays, folder)


def cached_run(study: str, config, compute: Callable[[Any], tuple[dict, dict]], *,
               out: Path, force: bool = False) -> tuple[StudyResult, bool]:
    """Return the cached result of ``(study, config)``, computing and saving it if needed.

    Args:
        study: study name (first path component under ``out``).
        config: frozen config dataclass.
        compute: ``config -> (summary dict, arrays dict)``.
        out: root results folder.
        force: recompute even if a cached result exists.
    Returns:
        ``(result, reused)`` where ``reused`` says whether the cache answered.
    """
    folder = Path(out) / study / config_hash(study, config)
    if not force:
        cached = load_result(folder)
        if cached is not None:
            return cached, True
    summary, arrays = compute(config)
    return save_result(folder, study, config, summary, arrays), False


def results_root() -> Path:
    """Root of the results cache: ``$TOYLAB_RESULTS``, default ``results``.

    Studies that cache their sweep cells separately (so an interrupted sweep resumes) put
    them here; the CLI points it at ``--out``.
    """
    return Path(os.environ.get(RESULTS_ENV, "results"))


def progress(iterable: Iterable, *, desc: str, total: int | None = None, **kwargs) -> Iterable:
    """The lab's progress bar (tqdm on stderr; silent when ``TOYLAB_PROGRESS=0``)."""
    disable = os.environ.get("TOYLAB_PROGRESS", "1") == "0" or not sys.stderr
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False, **kwargs)


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serialisable")
