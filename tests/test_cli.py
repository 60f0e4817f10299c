"""The toylab command line: list, bad names, errors without tracebacks."""

import subprocess
import sys

import pytest

from toylab import cli
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


def test_unknown_option_exits_nonzero_listing_usage():
    proc = subprocess.run([sys.executable, "-m", "toylab.cli", "run", "blobs", "--fast"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "usage" in proc.stderr


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_every_study_follows_the_protocol(name):
    study = STUDIES[name]
    assert study.NAME == name and study.DESCRIPTION
    quick = study.Config.quick()
    assert quick.seeds >= 1 and callable(study.compute) and callable(study.make_figures)
    assert cli.study_config(study, quick=True, seeds=3).seeds == 3
