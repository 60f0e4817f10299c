"""Project-wide pytest setup: toylab's CPU setup, hypothesis profiles, quiet progress bars.

``toylab.use_cpu_cores()`` runs first, as the CLI and the benchmarks do (``import toylab``
itself changes no global state): one JAX CPU device per core, single-threaded BLAS.

The hypothesis profiles are toylab's public ones (``toylab.testing.PROFILES``, documented in
docs/property-testing.md); select one with ``HYPOTHESIS_PROFILE=dev pytest`` etc.:

- ``ci`` (default): derandomized, 25 examples per test, no deadline (JAX compiles on first
  call and CI machines are shared), so the default run is reproducible and stays under ~5
  minutes on 2 cores;
- ``dev``: random, 50 examples, 60 s deadline per example, for everyday local runs;
- ``thorough``: random, 500 examples, 120 s deadline, for a long search before a release.

Tests that set ``max_examples`` themselves keep their own count.
"""

import os

import pytest

import toylab

toylab.use_cpu_cores()

from toylab.testing import load_profile  # noqa: E402

os.environ.setdefault("TOYLAB_PROGRESS", "0")

load_profile()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``run(study) -> (config, StudyResult)``: the study's quick config computed once through
    the harness (:func:`toylab.study.compute_result`), its cells and result cached under a
    temporary results root, as ``toylab run --quick`` would."""
    from toylab.study import compute_result

    def run(study):
        config = study.Config.quick()
        result, _ = compute_result(study, config, results_root=tmp_path_factory.mktemp(study.NAME))
        return config, result

    return run
