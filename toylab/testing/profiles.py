"""Hypothesis profiles of toylab's property tests (``ci``, ``dev``, ``thorough``)."""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

PROFILES: dict[str, dict] = {
    "ci": dict(
        max_examples=25, derandomize=True, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "dev": dict(
        max_examples=50, deadline=timedelta(seconds=60),
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "thorough": dict(
        max_examples=500, deadline=timedelta(seconds=120),
        suppress_health_check=[HealthCheck.too_slow],
    ),
}
"""Hypothesis profiles, selected with the ``HYPOTHESIS_PROFILE`` environment variable.

- ``ci`` (default): 25 examples per test, derandomized (the same examples on every run, so CI
  is reproducible), no deadline (shared CI machines make timings meaningless).
- ``dev``: 50 random examples, deadline 60 s per example: a hang detector (e.g. a world
  whose partition explodes), generous enough for the JIT compile of a first example.
- ``thorough``: 500 random examples, deadline 120 s, for a long search before a release.

A test's own ``@settings(max_examples=...)`` overrides the profile's count.
"""

DEFAULT_PROFILE = "ci"
PROFILE_ENV = "HYPOTHESIS_PROFILE"


def load_profile(name: str | None = None) -> str:
    """Register :data:`PROFILES` with hypothesis and load one.

    Args:
        name: a key of :data:`PROFILES`; default ``$HYPOTHESIS_PROFILE`` or ``"ci"``.
    Returns:
        the loaded profile's name.
    """
    for key, options in PROFILES.items():
        settings.register_profile(key, **options)
    name = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={name!r} is not a toylab profile; choose one of {sorted(PROFILES)}"
        )
    settings.load_profile(name)
    return name
