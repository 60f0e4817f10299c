"""The one byte formatter (toylab.units.format_bytes) and its use by every memory guard."""

import importlib

import numpy as np
import pytest

from toylab.units import format_bytes


@pytest.mark.parametrize("n, text", [
    (0, "0 B"), (12, "12 B"), (1023, "1023 B"), (1023.4, "1023 B"),
    (1024, "1 KiB"), (1536, "1.5 KiB"), (2.25 * 2**20, "2.25 MiB"),
    (1000 * 2**20, "1000 MiB"), (1023.9 * 2**20, "1024 MiB"),
    (4 * 2**30, "4 GiB"), (2048 * 2**30, "2048 GiB"),
    (np.int64(5000), "4.88 KiB"), (-2048, "-2 KiB"),
    (float("inf"), "inf B"), (float("nan"), "nan B"),
])
def test_format_bytes_picks_the_largest_unit_without_exponents(n, text):
    assert format_bytes(n) == text
    assert "e+" not in format_bytes(n)


@pytest.mark.parametrize("bad", ["4GB", None, True])
def test_format_bytes_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match=rf"n={bad!r} must be a number of bytes"):
        format_bytes(bad)


@pytest.mark.parametrize("module", ["toylab.train.memory", "toylab.exact.partition",
                                    "toylab.landscape.curvature"])
def test_every_guard_uses_the_one_formatter(module):
    assert importlib.import_module(module).format_bytes is format_bytes
