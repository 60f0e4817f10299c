"""Results of study runs: config hashing, an on-disk cache, and atomic writes.

A run is named by its study and config: ``<out>/<study>/<hash>/`` holds ``results.json``
(config, headline summary, package versions) and ``arrays.npz`` (parameters, curves).

How a result is stored, and why. ``<hash>`` is a relative symbolic link to an immutable folder
``<out>/<study>/.objects/<hash>/<id>/``, written completely (and fsynced) before the link is
pointed at it. Replacing the link -- ``os.replace`` of a fresh link over the old one, a single
``rename(2)`` -- is the one atomic step that publishes a result, so a reader sees the previous
result or the new one whatever point a writer is interrupted at, and ``<hash>/results.json``
stays a path a person can open. Writers of one ``<hash>`` hold an exclusive ``flock`` on
``.objects/<hash>/lock`` around write, publish and clean-up, so the clean-up (every stored
folder but the linked one, and the leftovers of interrupted writers) never deletes a folder
that another writer is still writing; the kernel drops the lock when its holder dies, so a
killed run never blocks the next. Readers take no lock; one that loses a race with a writer
(the folder it was reading is replaced and removed) reads the new one. A lock alone would not
do: swapping a real folder takes two renames, and an interruption between them leaves no
result in place (the bug of earlier versions). POSIX only (``flock``, symbolic links).

Loading checks what it reads (the keys of ``results.json``, the CRCs of ``arrays.npz``) and
treats a damaged result as absent, warning with its path, so the run recomputes it. Folders and
files get the user's umask. Folders written by earlier versions (a real ``<hash>/`` folder, and
``.<hash>.stale`` or ``.<hash>.XXXXXXXX`` leftovers of interrupted writes) still load, and the
next save of that ``<hash>`` replaces or removes them. Replacing a real folder takes two
renames; interrupted between them, that one save leaves no result and the run recomputes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import secrets
import shutil
import sys
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from tqdm.auto import tqdm

RESULTS_ENV = "TOYLAB_RESULTS"
"""Environment variable naming the results root; ``toylab run --out DIR`` sets it."""
RESULTS_FILE = "results.json"
ARRAYS_FILE = "arrays.npz"
HASH_LENGTH = 12
STORE_DIR = ".objects"
"""Folder, beside the result folders, holding the stored results they link to."""
LOCK_FILE = "lock"
_READ_ATTEMPTS = 20


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
    """Store a run's result and publish it in one atomic step (module docstring: how and why).

    Any number of processes may save the same folder at once (the last to publish wins), and
    an interruption at any point leaves the previous result (or none, if there was none) in
    place and a later save working.

    Args:
        folder: the run's results folder, ``<out>/<study>/<hash>``; a forced re-run replaces
            the result it names.
        study: study name.
        config: frozen config dataclass.
        summary: headline numbers (JSON types, NumPy scalars or arrays).
        arrays: named arrays, each stored with its shape and dtype.
    Returns:
        the result as read back from disk, with ``path=folder``.
    """
    folder = Path(folder)
    record = {
        "study": study,
        "config": config_dict(config),
        "summary": json.loads(json.dumps(summary, default=_jsonable)),
        "versions": versions(),
    }
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    store = folder.parent / STORE_DIR / folder.name
    store.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(store / LOCK_FILE):
        stored = store / secrets.token_hex(8)
        os.mkdir(stored)  # mode 0o777 less the umask (tempfile.mkdtemp would force 0o700)
        try:
            _write(stored, record, arrays)
            _publish(folder, stored)
        finally:
            _collect_garbage(folder, store)  # also removes `stored` if it was not published
        try:
            record, arrays = _read(stored)
        except _Unreadable as err:
            raise OSError(f"the result just written to {stored} cannot be read back: {err}") \
                from err
    return StudyResult(record["study"], record["config"], record["summary"], arrays, folder)


def load_result(folder: Path) -> StudyResult | None:
    """Read a run's result; ``None`` if there is none or it is damaged.

    A damaged result (``results.json`` truncated, not UTF-8, not an object with ``study``,
    ``config`` and ``summary``; ``arrays.npz`` missing, truncated or failing its CRC) gives
    ``None`` and a ``RuntimeWarning`` naming the folder and the damage, so the caller
    recomputes it. Never returns a partly written result.
    """
    folder = Path(folder)
    target = _target(folder)
    for _ in range(_READ_ATTEMPTS):
        if target is None:
            return None
        try:
            record, arrays = _read(target)
        except _Unreadable as err:
            moved = _target(folder)
            if moved != target:  # a concurrent save replaced it while we read: read the new one
                target = moved
                continue
            warnings.warn(f"ignoring the cached result in {folder}: {err}; it will be "
                          f"recomputed", RuntimeWarning, stacklevel=2)
            return None
        return StudyResult(record["study"], record["config"], record["summary"], arrays, folder)
    return None  # concurrent saves kept replacing it: a cache miss


def check_writable(path: Path, *, argument: str = "out") -> None:
    """Raise ``ValueError`` unless this process can write under ``path``; call it before
    computing, so that a read-only or misnamed results folder fails in a second, not after
    the whole run.

    ``path`` need not exist: its nearest existing ancestor must be a folder in which a file
    can be created (probed by creating and removing one, which also catches read-only file
    systems and ACLs that permission bits do not show).

    Args:
        path: the folder results (or figures) will be written under.
        argument: how the caller names it in the fix, e.g. ``"--out"`` or ``"--figures"``.
    Raises:
        ValueError: ``path`` or an ancestor is a file, or the folder is not writable; the
            message names the path, the reason and the fix.
    """
    path = Path(path)
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        what = "it" if existing == path else str(existing)
        raise ValueError(f"cannot write to {path}: {what} exists and is not a folder; pass "
                         f"{argument} a folder (it is created if missing)")
    probe = existing / f".toylab-write-probe-{secrets.token_hex(8)}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as err:
        raise ValueError(f"cannot write to {path}: {existing} is not writable ({err.strerror});"
                         f" pass {argument} a folder you can write to, or fix the permissions of"
                         f" {existing}") from err
    os.unlink(probe)


def cached_run(study: str, config, compute: Callable[[Any], tuple[dict, dict]], *,
               out: Path, force: bool = False) -> tuple[StudyResult, bool]:
    """Return the cached result of ``(study, config)``, computing and saving it if needed.

    Before computing, checks that the result can be written (:func:`check_writable`), so a
    read-only ``out`` fails before the work, not after it.

    Args:
        study: study name (first path component under ``out``).
        config: frozen config dataclass.
        compute: ``config -> (summary dict, arrays dict)``.
        out: root results folder.
        force: recompute even if a cached result exists.
    Returns:
        ``(result, reused)`` where ``reused`` says whether the cache answered.
    Raises:
        ValueError: the results folder cannot be written (from :func:`check_writable`).
    """
    folder = Path(out) / study / config_hash(study, config)
    if not force:
        cached = load_result(folder)
        if cached is not None:
            return cached, True
    check_writable(folder.parent, argument="out")
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


class _Unreadable(Exception):
    """A stored result that cannot be read; the message says which file and why."""


@contextlib.contextmanager
def _exclusive_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` (created if missing, never removed)."""
    import fcntl  # POSIX only: imported here so that the rest of the lab imports anywhere

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write(stored: Path, record: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write and fsync ``results.json`` and ``arrays.npz`` into the new folder ``stored``."""
    with open(stored / RESULTS_FILE, "x", encoding="utf-8") as file:
        file.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())
    with open(stored / ARRAYS_FILE, "xb") as file:
        np.savez_compressed(file, **arrays)
        file.flush()
        os.fsync(file.fileno())


def _publish(folder: Path, stored: Path) -> None:
    """Point ``folder`` at ``stored`` (in ``folder.parent / STORE_DIR``) in one rename."""
    link = stored.parent / f"link-{secrets.token_hex(8)}"
    os.symlink(Path(STORE_DIR, folder.name, stored.name), link)
    if folder.is_dir() and not folder.is_symlink():  # written by an earlier version
        os.rename(folder, stored.parent / f"legacy-{secrets.token_hex(8)}")
    os.replace(link, folder)


def _collect_garbage(folder: Path, store: Path) -> None:
    """Remove what ``folder`` does not link to from ``store``, and earlier versions' leftovers.

    Call with the store's lock held. Failures are ignored: garbage left behind is harmless
    and the next save retries.
    """
    current = _target(folder)
    leftover = re.compile(rf"\.{re.escape(folder.name)}\.(stale|[a-z0-9_]{{8}})")
    doomed = [entry for entry in store.iterdir() if entry.name != LOCK_FILE and entry != current]
    with os.scandir(folder.parent) as entries:
        doomed += [Path(entry.path) for entry in entries if leftover.fullmatch(entry.name)
                   and entry.is_dir(follow_symlinks=False)]
    for entry in doomed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def _target(folder: Path) -> Path | None:
    """The folder a result folder's link points to; ``folder`` itself if it is not a link
    (written by an earlier version); ``None`` if there is nothing there."""
    try:
        return folder.parent / os.readlink(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:  # EINVAL: not a link
        return folder


def _read(stored: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(record, arrays)`` of a stored result; raises :class:`_Unreadable` naming the damage."""
    try:
        record = json.loads((stored / RESULTS_FILE).read_bytes().decode("utf-8"))
    except (OSError, ValueError) as err:  # ValueError: bad JSON or not UTF-8
        raise _Unreadable(f"{RESULTS_FILE}: {err}") from err
    if not isinstance(record, dict):
        raise _Unreadable(f"{RESULTS_FILE} holds a {type(record).__name__}, not an object")
    wrong = [key for key, kind in (("study", str), ("config", dict), ("summary", dict))
             if not isinstance(record.get(key), kind)]
    if wrong:
        raise _Unreadable(f"{RESULTS_FILE} lacks a valid {', '.join(wrong)}")
    try:
        with np.load(stored / ARRAYS_FILE) as npz:
            arrays = {name: npz[name] for name in npz.files}  # reading checks each CRC
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise _Unreadable(f"{ARRAYS_FILE}: {type(err).__name__}: {err}") from err
    return record, arrays
