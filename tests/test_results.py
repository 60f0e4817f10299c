"""toylab.results: config hashing, cache reuse, atomic writes."""

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
    assert [p.name for p in (tmp_path / "s").iterdir()] == [old.path.name]


def test_non_dataclass_config_is_rejected():
    with pytest.raises(TypeError, match="config"):
        results.config_hash("s", {"a": 1})
