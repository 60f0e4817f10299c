"""toylab.results: config hashing, cache reuse, atomic writes that survive concurrent writers
and interruption at every step."""

import errno
import fcntl
import multiprocessing
import os
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from toylab import results


@dataclass(frozen=True)
class Cfg:
    a: int = 1
    widths: tuple = (2, 3)


def compute(config):
    return {"score": config.a * 2.0}, {"values": np.arange(3) * config.a}


def test_hash_is_stable_and_sensitive():
    assert results.config_hash("s", Cfg()) == results.config_hash("s", Cfg())
    assert results.config_hash("s", Cfg()) != results.config_hash("s", Cfg(a=2))
    assert results.config_hash("s", Cfg()) != results.config_hash("t", Cfg())
    assert results.run_label("s", Cfg()).startswith("s-")


def test_cached_run_round_trips_and_reuses(tmp_path):
    calls = []

    def counting(config):
        calls.append(config)
        return compute(config)

    first, reused = results.cached_run("s", Cfg(), counting, out=tmp_path)
    assert not reused and first.summary == {"score": 2.0}
    np.testing.assert_array_equal(first.arrays["values"], [0, 1, 2])
    second, reused = results.cached_run("s", Cfg(), counting, out=tmp_path)
    assert reused and len(calls) == 1 and second.config == {"a": 1, "widths": [2, 3]}
    _, reused = results.cached_run("s", Cfg(), counting, out=tmp_path, force=True)
    assert not reused and len(calls) == 2
    record = (first.path / results.RESULTS_FILE).read_text()
    assert '"versions"' in record and '"jax"' in record


def test_interrupted_compute_leaves_nothing(tmp_path):
    def interrupted(config):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        results.cached_run("s", Cfg(), interrupted, out=tmp_path)
    assert results.load_result(tmp_path / "s" / results.config_hash("s", Cfg())) is None


def test_interrupted_write_keeps_the_old_result_and_no_temp_files(tmp_path, monkeypatch):
    old, _ = results.cached_run("s", Cfg(), compute, out=tmp_path)

    def failing_savez(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        results.cached_run("s", Cfg(), compute, out=tmp_path, force=True)
    kept = results.load_result(old.path)
    assert kept is not None and kept.summary == old.summary
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [results.STORE_DIR, old.path.name]
    assert_only_the_linked_result_is_stored(old.path)


def assert_only_the_linked_result_is_stored(folder):
    """The store of ``folder`` holds the lock and the folder it links to, nothing else."""
    store = folder.parent / results.STORE_DIR / folder.name
    target = os.readlink(folder)
    assert target == os.path.join(results.STORE_DIR, folder.name, os.path.basename(target))
    assert sorted(p.name for p in store.iterdir()) == sorted([results.LOCK_FILE,
                                                              os.path.basename(target)])
    assert sorted(p.name for p in folder.iterdir()) == [results.ARRAYS_FILE, results.RESULTS_FILE]


def test_non_dataclass_config_is_rejected():
    with pytest.raises(TypeError, match="config"):
        results.config_hash("s", {"a": 1})


def payload(tag):
    """Summary and arrays that name the same tag, so a result mixing two saves is detected."""
    return {"tag": tag}, {"values": np.full(64, tag), "more": np.arange(tag % 7 + 1)}


def assert_is_one_of(result, tags):
    """``result`` is a complete result of one of ``tags``: summary and arrays agree."""
    assert result is not None
    tag = result.summary["tag"]
    assert tag in tags
    np.testing.assert_array_equal(result.arrays["values"], np.full(64, tag))
    np.testing.assert_array_equal(result.arrays["more"], np.arange(tag % 7 + 1))


WRITERS, SAVES = 8, 20


def _writer(folder, writer, errors):
    try:
        for i in range(SAVES):
            results.save_result(folder, "s", Cfg(), *payload(1000 * (writer + 1) + i))
    except BaseException:
        errors.put(f"writer {writer}: {traceback.format_exc()}")


def _reader(folder, done, errors, reads):
    """Load in a loop while the writers run: every load is a complete result."""
    count = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a damaged read would warn
            while not done.is_set() or count == 0:
                result = results.load_result(folder)
                tags = {0} | {1000 * (w + 1) + i for w in range(WRITERS) for i in range(SAVES)}
                assert_is_one_of(result, tags)
                count += 1
    except BaseException:
        errors.put(f"reader: {traceback.format_exc()}")
    reads.put(count)


def test_concurrent_writers_and_a_reader_never_collide_or_see_a_partial_result(tmp_path):
    """8 processes x 20 forced saves to one folder while a process reads it: no save raises,
    every read is a complete result (never None: a result exists throughout), and the folder
    ends as one complete result with nothing else stored (issue 11 item 9: the old two-rename
    swap raised ENOTEMPTY / FileNotFoundError here)."""
    folder = tmp_path / "s" / "run"
    results.save_result(folder, "s", Cfg(), *payload(0))
    ctx = multiprocessing.get_context("fork")  # spawn would re-import JAX in every process
    errors, reads, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_reader, args=(folder, done, errors, reads))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(folder, w, errors)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
    done.set()
    reader.join(60)
    assert reads.get(timeout=5) > 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures, "\n".join(failures)
    assert [p.exitcode for p in writers + [reader]] == [0] * (WRITERS + 1)
    final = results.load_result(folder)
    assert_is_one_of(final, {1000 * (w + 1) + SAVES - 1 for w in range(WRITERS)} |
                     {1000 * (w + 1) + i for w in range(WRITERS) for i in range(SAVES)})
    assert_only_the_linked_result_is_stored(folder)


class _Faults:
    """Counts calls to the file-system operations a save makes, and raises ``error`` instead
    of call number ``at`` (0-based); ``None`` never raises."""

    def __init__(self, monkeypatch, error):
        self.calls, self.at, self.error = 0, None, error
        for module, name in [(os, "mkdir"), (os, "open"), (os, "symlink"), (os, "rename"),
                             (os, "replace"), (os, "unlink"), (os, "rmdir"), (os, "fsync"),
                             (fcntl, "flock"), (np, "savez_compressed")]:
            monkeypatch.setattr(module, name, self._wrap(getattr(module, name)))
        monkeypatch.setattr(results, "open", self._wrap(open), raising=False)

    def _wrap(self, function):
        def faulty(*args, **kwargs):
            self.calls += 1
            if self.at is not None and self.calls - 1 == self.at:
                raise self.error()
            return function(*args, **kwargs)
        return faulty


@pytest.mark.parametrize("error", [KeyboardInterrupt, lambda: OSError(errno.ENOSPC, "full")],
                         ids=["interrupt", "disk-full"])
def test_a_fault_at_every_step_of_a_save_keeps_the_old_or_the_new_result(tmp_path, monkeypatch,
                                                                         error):
    """Raise at step k of a forced save, for every k: afterwards the folder loads as the old or
    the new result (never damaged, never absent), and the next save succeeds and leaves only
    its own result stored (issue 11 item 9: the old scheme lost the result to a ``.stale``
    folder between its two renames, and every later forced save failed)."""
    folder = tmp_path / "s" / "run"
    results.save_result(folder, "s", Cfg(), *payload(0))
    faults = _Faults(monkeypatch, error)
    faults.at, old, k = None, 0, 0
    while True:
        faults.calls, faults.at = 0, k
        new = old + 1
        try:
            results.save_result(folder, "s", Cfg(), *payload(new))
            finished = faults.calls <= k
        except (KeyboardInterrupt, OSError):
            finished = False
        faults.at = None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_is_one_of(results.load_result(folder), {old, new})
        recovered = results.save_result(folder, "s", Cfg(), *payload(new + 1))
        assert recovered.summary == {"tag": new + 1}
        assert_is_one_of(results.load_result(folder), {new + 1})
        assert_only_the_linked_result_is_stored(folder)
        old, k = new + 1, k + 1
        if finished:
            break
    assert k > 10  # the save has that many steps, and each was interrupted once
