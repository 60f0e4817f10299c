"""Bad input to the results cache (issue 11 items 9, 12 and the unclear messages): each row
failed on the cache as it was before (a raw KeyError / BadZipFile / UnicodeDecodeError /
EOFError from a damaged result, a 0700 folder, a read-only or misnamed ``out`` found only after
computing, every forced save failing after an interrupted swap)."""

import json
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest

from toylab import results


@dataclass(frozen=True)
class Cfg:
    a: int = 1


def compute(config):
    return {"score": 2.0 * config.a}, {"values": np.arange(1000) * config.a}


def never(config):
    raise AssertionError("computed although the results folder cannot be written")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_data_byte(path):
    """Flip one byte inside the first member's stored data, keeping the zip structure."""
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    blob = bytearray(path.read_bytes())
    name_len, extra_len = np.frombuffer(blob[info.header_offset + 26:
                                             info.header_offset + 30], "<u2")
    offset = info.header_offset + 30 + int(name_len) + int(extra_len) + info.compress_size // 2
    blob[offset] ^= 0xFF
    path.write_bytes(bytes(blob))


DAMAGE = {
    "arrays.npz truncated": (results.ARRAYS_FILE, _truncate),
    "arrays.npz empty": (results.ARRAYS_FILE, lambda p: p.write_bytes(b"")),
    "arrays.npz bad CRC": (results.ARRAYS_FILE, _flip_a_data_byte),
    "arrays.npz missing": (results.ARRAYS_FILE, lambda p: p.unlink()),
    "results.json truncated": (results.RESULTS_FILE, _truncate),
    "results.json {}": (results.RESULTS_FILE, lambda p: p.write_text("{}")),
    "results.json without summary": (results.RESULTS_FILE, lambda p: p.write_text(json.dumps(
        {k: v for k, v in json.loads(p.read_text()).items() if k != "summary"}))),
    "results.json a list": (results.RESULTS_FILE, lambda p: p.write_text("[1, 2]")),
    "results.json not UTF-8": (results.RESULTS_FILE,
                               lambda p: p.write_bytes(b'{"study": "s\xff\xfe"}')),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_result_is_recomputed_with_a_warning_naming_it(tmp_path, damage):
    """A damaged cached result is a cache miss: ``cached_run`` recomputes and rewrites it, and
    a warning names the folder and the damaged file (a non-UTF-8 ``results.json`` included:
    it is recomputed, not raised)."""
    first, _ = results.cached_run("s", Cfg(), compute, out=tmp_path)
    name, damage_it = DAMAGE[damage]
    damage_it(first.path / name)
    with pytest.warns(RuntimeWarning, match=re.escape(f"{first.path}: {name}")):
        assert results.load_result(first.path) is None
    with pytest.warns(RuntimeWarning, match="recomputed"):
        again, reused = results.cached_run("s", Cfg(), compute, out=tmp_path)
    assert not reused and again.summary == {"score": 2.0}
    np.testing.assert_array_equal(again.arrays["values"], np.arange(1000))
    assert results.load_result(first.path).summary == {"score": 2.0}


def test_result_folders_and_files_respect_the_umask(tmp_path):
    """With umask 022 a result is readable by others (0755 folders, 0644 files), as every
    other file the user makes; it was always 0700 (tempfile.mkdtemp)."""
    previous = os.umask(0o022)
    try:
        result, _ = results.cached_run("s", Cfg(), compute, out=tmp_path)
    finally:
        os.umask(previous)
    assert result.path.stat().st_mode & 0o777 == 0o755
    for name in (results.RESULTS_FILE, results.ARRAYS_FILE):
        assert (result.path / name).stat().st_mode & 0o777 == 0o644


def test_out_that_is_a_file_fails_before_computing(tmp_path):
    out = tmp_path / "results.txt"
    out.write_text("not a folder")
    with pytest.raises(ValueError, match=re.escape(f"{out} exists and is not a folder; pass "
                                                   "out a folder")):
        results.cached_run("s", Cfg(), never, out=out)
    with pytest.raises(ValueError, match=re.escape(f"{out}: it exists and is not a folder; "
                                                   "pass --out a folder")):
        results.check_writable(out, argument="--out")


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot create files in: ``chmod 555``, or for root (who ignores
    permission bits) the immutable attribute, ``chattr +i``."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is unavailable: no read-only folder")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_out_fails_before_computing(read_only_dir):
    """A read-only results folder is found before the study computes (it was found only when
    saving, after the whole run), with the path, the reason and the fix."""
    with pytest.raises(ValueError, match=re.escape(f"cannot write to {read_only_dir / 's'}: "
                                                   f"{read_only_dir} is not writable (")) as err:
        results.cached_run("s", Cfg(), never, out=read_only_dir)
    assert "pass out a folder you can write to" in str(err.value)
    with pytest.raises(ValueError, match="pass --figures a folder you can write to"):
        results.check_writable(read_only_dir / "blobs", argument="--figures")


def test_a_stale_folder_left_by_an_interrupted_swap_does_not_block_forced_saves(tmp_path):
    """Earlier versions swapped folders with two renames; interrupted between them they left
    ``.<hash>.stale`` beside the result, and every later forced save failed with 'Directory
    not empty'. A forced save now succeeds and removes such leftovers."""
    folder = tmp_path / "s" / results.config_hash("s", Cfg())
    for leftover in (folder, folder.with_name(f".{folder.name}.stale"),
                     folder.with_name(f".{folder.name}.ab_12xyz")):  # an old temp folder
        leftover.mkdir(parents=True)
        (leftover / results.RESULTS_FILE).write_text(json.dumps(
            {"study": "s", "config": {"a": 1}, "summary": {"score": -1.0}}))
        np.savez_compressed(leftover / results.ARRAYS_FILE, values=np.zeros(3))
    assert results.load_result(folder).summary == {"score": -1.0}  # the old layout loads
    result, reused = results.cached_run("s", Cfg(), compute, out=tmp_path, force=True)
    assert not reused and results.load_result(folder).summary == {"score": 2.0}
    assert sorted(p.name for p in folder.parent.iterdir()) == [results.STORE_DIR, folder.name]
