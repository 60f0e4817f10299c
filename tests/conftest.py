"""Project-wide pytest setup: hypothesis profiles and quiet progress bars.

Profiles (select with ``HYPOTHESIS_PROFILE=dev pytest`` etc.):

- ``ci`` (default): derandomized, 25 examples per test, no deadline (JAX compiles on first
  call), so the default run is reproducible and stays under ~5 minutes on 2 cores;
- ``dev``: random, 50 examples, for everyday local runs;
- ``thorough``: random, 500 examples, for a long search before a release.

Tests that set ``max_examples`` themselves keep their own count.
"""

import os

# Small linear algebra is slower with threaded BLAS on 2 busy cores (60 ms vs 0.4 ms per call).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hypothesis import HealthCheck, settings

os.environ.setdefault("TOYLAB_PROGRESS", "0")

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=50, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
