"""Region counts: exact partition vs the arrangement formula (one hidden layer), vs brute-force
grid patterns (a lower bound whose patterns are all exact ones), vs Serra et al.'s bound."""

from math import comb

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from toylab import data
from toylab.compare import regions as rg
from toylab.exact import partition
from toylab.exact.population import population_partition, regions_carrying

BOX = np.array([[-3.0, 3.0], [-2.5, 3.5]])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), width=st.integers(1, 14), bias=st.floats(0.1, 3.0))
def test_one_hidden_layer_count_is_the_line_arrangement_count(seed, width, bias):
    net = rg.hanin_rolnick_network(seed, (2, width, 2), bias_std=bias)
    assert len(partition(net, BOX, activation="relu")) == rg.arrangement_regions(*net[0], BOX)


def test_arrangement_ignores_dead_lines_and_lines_missing_the_box():
    W = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    b = np.array([0.0, 0.0, 5.0, 100.0])  # zero normal; line x + y = -100 misses the box
    assert rg.arrangement_regions(W, b, BOX) == 4


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(1, 3))
def test_grid_patterns_are_a_lower_bound_made_of_exact_patterns(seed, depth):
    widths = (2,) + (12 // depth,) * depth + (2,)
    net = rg.hanin_rolnick_network(seed, widths)
    p = partition(net, BOX, activation="relu")
    exact = {tuple(row) for row in np.hstack(p.patterns)}
    assert len(exact) == len(p)  # one pattern per region: pattern sets are convex
    grid = rg.grid_patterns(net, BOX, 128, activation="relu", seed=seed)
    assert grid.count <= len(p)
    assert {tuple(row) for row in grid.patterns} <= exact
    located = p.locate(grid.points)
    np.testing.assert_array_equal(np.hstack(p.patterns)[located], grid.patterns)


def test_fine_grid_finds_every_region_of_a_small_net():
    net = rg.hanin_rolnick_network(3, (2, 4, 2))
    p = partition(net, BOX, activation="relu")
    assert rg.grid_patterns(net, BOX, 400, activation="relu").count == len(p)


def test_serra_bound_known_values_and_it_bounds_exact_counts():
    for n in (1, 5, 12):  # one layer: Zaslavsky's 1 + n + C(n, 2) in the plane
        assert rg.serra_bound((2, n, 3)) == 1 + n + comb(n, 2)
    assert rg.serra_bound((2, 6, 6, 1)) == (1 + 6 + 15) ** 2
    assert rg.serra_bound((1, 3, 3, 1)) == 4 * 4  # 1-D input: each layer multiplies by n + 1
    for depth in (1, 2, 3):
        widths = (2,) + (6,) * depth + (2,)
        net = rg.hanin_rolnick_network(depth, widths)
        assert len(partition(net, BOX, activation="relu")) <= rg.serra_bound(widths)


def test_region_count_matches_its_definition():
    dist = data.xor()
    net = rg.hanin_rolnick_network(0, (2, 8, 8, 2))
    count = rg.region_count(net, dist, activation="relu", mass_level=0.99)
    assert count.domain == len(partition(net, dist.domain, activation="relu"))
    p = population_partition(net, dist, activation="relu")
    assert count.mass == regions_carrying(p, dist, 0.99) <= len(p)


def test_hanin_rolnick_init_has_he_weights_and_normal_biases():
    net = rg.hanin_rolnick_network(0, (2, 4000, 3), bias_std=2.0)
    W, b = net[0]
    assert W.dtype == np.float64 and abs(W.std() - 1.0) < 0.03  # sqrt(2 / fan_in) = 1
    assert abs(b.std() - 2.0) < 0.1
    with pytest.raises(ValueError, match="bias_std=0"):
        rg.hanin_rolnick_network(0, (2, 3, 2), bias_std=0)


def test_power_law_recovers_an_exact_power_and_rejects_bad_input():
    x = np.array([4.0, 8, 16, 32])
    fit = rg.power_law(x, 3 * x**2)
    assert fit.exponent == pytest.approx(2, abs=1e-12) and fit.prefactor == pytest.approx(3)
    with pytest.raises(ValueError, match="positive"):
        rg.power_law([1, 2, 3], [1, 0, 2])
    with pytest.raises(ValueError, match="resolution=0"):
        rg.grid_patterns(rg.hanin_rolnick_network(0, (2, 3, 2)), BOX, 0, activation="relu")
    with pytest.raises(ValueError, match="box="):
        rg.grid_patterns(rg.hanin_rolnick_network(0, (2, 3, 2)), [[1, 0], [0, 1]],
                         activation="relu")
