"""Bad input to the population entry points (toylab.exact.population, compare.editing): one
row per case, each a clear ValueError/TypeError naming the argument, the value and the fix
(issue 11 item 1).

Every non-finite row failed on the code before its fix: a NaN network got a partition, an
"exact" population accuracy of 1.0 and a negative excess risk."""

import dataclasses

import numpy as np
import pytest

from toylab import data
from toylab.compare import editing as ed
from toylab.exact import population as pop
from toylab.exact.partition import partition

DIST = data.make("blobs", k=3)
WIDTHS = (2, 5, 4, 3)


def _net(value=None, layer=1):
    """A random float64 net; ``value`` (NaN/inf) put into one weight of ``layer``."""
    rng = np.random.default_rng(0)
    net = [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in zip(WIDTHS[:-1], WIDTHS[1:])]
    if value is not None:
        net[layer][0][2, 1] = value
    return net


@pytest.fixture(scope="module")
def finite():
    return pop.population_partition(_net(), DIST, activation="relu")


def _poisoned(p, value):
    """The partition of a finite net carrying non-finite weights, as a partition of a
    non-finite net would (its regions are meaningless)."""
    return dataclasses.replace(partition(_net(), p.domain, activation="relu"),
                               layers=_net(value))


POPULATION_FUNCTIONS = {
    "as_population": lambda p: pop.as_population(p, DIST),
    "domain_mass_outside": lambda p: pop.domain_mass_outside(p, DIST),
    "region_masses": lambda p: pop.region_masses(p, DIST),
    "regions_carrying": lambda p: pop.regions_carrying(p, DIST, 0.9),
    "layer_moments": lambda p: pop.layer_moments(p, DIST, 0),
    "neuron_expectation": lambda p: pop.neuron_expectation(p, DIST, (0, 1)),
    "neuron_variance": lambda p: pop.neuron_variance(p, DIST, (0, 1)),
    "neuron_covariance": lambda p: pop.neuron_covariance(p, DIST, (0, 1), (1, 0)),
    "neuron_correlation": lambda p: pop.neuron_correlation(p, DIST, (0, 1), (1, 0)),
    "class_conditional_means": lambda p: pop.class_conditional_means(p, DIST, (0, 1)),
    "population_accuracy": lambda p: pop.population_accuracy(p, DIST),
    "population_risk": lambda p: pop.population_risk(p, DIST),
    "excess_risk": lambda p: pop.excess_risk(p, DIST),
    "hausdorff_to_bayes": lambda p: pop.hausdorff_to_bayes(p, DIST),
}


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_population_partition_rejects_a_non_finite_net(value):
    with pytest.raises(ValueError, match=r"non-finite weight values in layer 1 \(first: neuron 1"):
        pop.population_partition(_net(value), DIST, activation="relu")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_editing_rejects_a_non_finite_net(value):
    with pytest.raises(ValueError, match="non-finite"):
        ed.population_risk_of(_net(value), DIST, activation="relu")
    with pytest.raises(ValueError, match="non-finite"):
        ed.edit_effect(_net(), _net(value), DIST, activation="relu")


@pytest.mark.parametrize("name", sorted(POPULATION_FUNCTIONS))
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_population_functions_reject_a_partition_of_a_non_finite_net(finite, name, value):
    with pytest.raises(ValueError, match="non-finite weight values in layer 1"):
        POPULATION_FUNCTIONS[name](_poisoned(finite, value))


def test_dist_is_required_with_a_plain_partition(finite):
    plain = partition(_net(), finite.domain, activation="relu")
    with pytest.raises(ValueError, match="dist=None needs a PopulationPartition"):
        pop.population_accuracy(plain)
    with pytest.raises(TypeError, match="p is a list; pass a toylab.exact.partition.Partition"):
        pop.population_accuracy(_net(), DIST)


def test_logits_view_rejects_bad_columns(finite):
    for columns in ([], [3], [-1], [[0, 1]]):
        with pytest.raises(ValueError, match="columns=.* logit indices in 0..2"):
            ed.logits_view(finite, columns)
