"""The toylab command line: list, bad names, errors without tracebacks."""

import os

import pytest

from toylab import cli
from toylab.study import study_config
from studies import STUDIES


def test_list_prints_every_study_with_description(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, module in STUDIES.items():
        assert name in out and module.DESCRIPTION in out


def test_unknown_study_is_a_clean_error(capsys):
    assert cli.main(["run", "no-such-study", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "no-such-study" in err and "blobs" in err and "Traceback" not in err


def test_bad_seed_count_is_a_clean_error(capsys):
    assert cli.main(["run", "blobs", "--quick", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_unknown_option_exits_nonzero_listing_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "blobs", "--fast"])
    assert exit_info.value.code != 0 and "usage" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_follows_the_protocol(name):
    study = STUDIES[name]
    assert study.NAME == name and study.DESCRIPTION
    quick = study.Config.quick()
    assert quick.seeds >= 1 and callable(study.compute) and callable(study.figures)
    assert study_config(study, quick=True, seeds=3).seeds == 3
    assert "seeds" in study.Config.__dataclass_fields__


def test_bad_override_is_a_clean_error_listing_valid_keys(capsys):
    assert cli.main(["run", "blobs", "--quick", "--set", "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "train.lr" in err and "train.learning_rate" in err and "Traceback" not in err


def test_out_that_is_a_file_fails_before_computing(capsys, tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    assert cli.main(["run", "blobs", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "not a folder" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--out", "--figures"])
def test_read_only_folders_fail_before_computing(capsys, tmp_path, monkeypatch, option):
    """A folder the process cannot write (simulated by refusing file creation in it, since the
    test may run as root, whom permission bits do not stop) is reported before computing."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refusing_open(path, flags, *args):
        if os.path.dirname(os.fspath(path)) == str(locked) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(cli, "_studies", lambda: pytest.fail("computed before checking"))
    assert cli.main(["run", "blobs", "--quick", option, str(locked / "sub")]) == 2
    err = capsys.readouterr().err
    assert str(locked) in err and "not writable" in err and option in err


def test_headlines_print_one_line_each_and_sweeps_are_skipped():
    head = {"value": 0.5, "ci95": [0.4, 0.6], "n": 20, "null": {"value": 0.1, "ci95": [0, 0.2],
                                                               "n": 20}}
    assert cli._format(head) == "0.5 [0.4, 0.6] (n=20); null 0.1"
    sweep = {"thresholds": [0.7, 0.9], "value": [0.5, 0.4], "ci95": [[0.4, 0.6], [0.3, 0.5]],
             "n": 20}
    assert cli._format(sweep) is None
    assert cli._format(3) == "3"


def test_export_of_a_study_without_representatives_is_a_clean_error(capsys, tmp_path):
    name = next(n for n, m in STUDIES.items() if not hasattr(m, "representatives"))
    assert cli.main(["export", name, "--quick", "--out", str(tmp_path / "r"),
                     "--figures", str(tmp_path / "f")]) == 2
    assert "representatives" in capsys.readouterr().err


@pytest.mark.slow  # ~19 s: two child processes each import JAX and run a quick study
def test_figures_jobs_runs_studies_in_child_processes_and_names_failures(capsys, tmp_path,
                                                                         monkeypatch):
    """``toylab figures --jobs 2`` runs each study as ``toylab run NAME`` in its own process and
    reports every study's status and time; a failing one is named with its error and the
    command exits non-zero (an unknown name: its child fails at once)."""
    assert cli.main(["figures", "--jobs", "0"]) == 2
    assert "--jobs=0" in capsys.readouterr().err
    monkeypatch.setattr(cli, "_studies", lambda: ({"no-such-a": None}, None))
    assert cli.main(["figures", "--jobs", "2", "--out", str(tmp_path / "r"),
                     "--figures", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert "no-such-a: FAILED (exit 2) in " in err
    assert "toylab: error: study 'no-such-a' is unknown" in err
    assert "(2 at once); failed: no-such-a" in err
