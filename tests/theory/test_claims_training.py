"""Statistical theory claims about trained networks: fixed seeds, several worlds, stated
tolerances. Each test trains through :func:`toylab.testing.trained_networks` (one compiled
program per shape; results cached) and derandomized hypothesis picks the worlds.

S1 (a linear network trained to convergence is nearly Bayes-optimal). For two classes with
one Gaussian component each and a shared covariance, the Bayes classifier is linear (Fisher
1936) and logistic regression is consistent with excess risk ``O((d + 1) / n)`` (Efron 1975;
Ng & Jordan 2002). With ``d = 2``, ``n = 512`` and full-batch Adam run to convergence we
require excess risk < 0.03 (about ``8 (d + 1) / n``) in every derandomized world; measured
maximum 0.012 over 20 worlds. This is the example of docs/property-testing.md.

S2 (the gradient lies in the top Hessian subspace; Gur-Ari, Roberts & Dyer 2018). After a
short initial phase the gradient's squared overlap with the top-``k`` Hessian eigenspace,
``k`` = number of classes, is close to 1. Stated tolerance: overlap >= 0.9 at step 100 and
at the end (step 500) in the well-separated preset worlds ``blobs(2)``, ``blobs(3)``.

Where tiny networks break the published claims (recorded as strict xfails, so a change that
makes them hold is noticed):

S2' the overlap >= 0.9 in generated well-separated worlds (separation 5-8 standard
deviations, 2-3 classes): measured 0.1-0.99, below 0.9 in about half of the worlds.

S3 (the number of Hessian outliers equals the number of classes; Sagun et al. 2017, Papyan
2019). Counted by the largest log-gap rule of :func:`toylab.landscape.count_outliers`: measured
1-5 outliers for 3 classes and up to 20 for 2 (the gap to the exact null space of dead and
rescaling directions wins), so the claim fails for these 2-8-C networks.
"""

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import toylab.landscape as L
from toylab import data
from toylab import testing as tt
from toylab.exact.population import excess_risk, population_partition

NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
"""Statistical claims over fixed worlds report the failing world as drawn (shrinking would
train many more networks)."""

SEPARABLE_PRESETS = st.sampled_from([data.blobs(2), data.blobs(3)])


@settings(max_examples=10)
@given(tt.trained_networks(
    tt.distributions(max_classes=2, max_components=2, shared_covariance=True,
                     degenerate=False),
    hidden=[()], activations="linear", learning_rates=[0.1], steps=2000,
    snapshot_every=2000, n_points=512))
def test_linear_network_is_nearly_bayes_optimal(net):
    """S1."""
    p = population_partition(net.layers, net.dist, activation=net.activation)
    assert excess_risk(p, net.dist).value < 0.03


def _overlaps(net) -> tuple[float, float]:
    """Gradient overlap with the top-C Hessian subspace at step 100 and at the end."""
    k = net.dist.n_classes
    return tuple(L.gradient_overlap(layers, net.X, net.y, k=k, activation=net.activation).overlap
                 for layers in (net.trajectory[1], net.layers))


@pytest.mark.slow
@settings(max_examples=6, phases=NO_SHRINK)
@given(tt.trained_networks(SEPARABLE_PRESETS))
def test_gradient_lies_in_the_top_subspace_of_separable_presets(net):
    """S2."""
    assert min(_overlaps(net)) >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="S2': the overlap depends on the optimizer and the world's overlap, "
                          "not only the classes (studies tiny-subspace, edge-of-stability: 20 "
                          "seeds, GD final overlap 0.89 [0.76, 0.98] on blobs(3) with seeds "
                          "below 0.5, 0.04 on overlapping_blobs(3) where SGD at the same lr "
                          "keeps 0.81; GD far below the edge, eta*lambda_max 0.003-0.75)")
@settings(max_examples=12, phases=NO_SHRINK)
@given(tt.trained_networks(tt.distributions(min_separation=5.0, max_separation=8.0,
                                            max_components=3, max_condition=4.0,
                                            degenerate=False)))
def test_gradient_lies_in_the_top_subspace_of_generated_worlds(net):
    """S2'."""
    assert min(_overlaps(net)) >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="S3: per seed the largest log-gap outlier count equals k for "
                          "blobs(2) in 90% of seeds but for blobs(3) in only 10-20% (counts "
                          "1-6, mean 2.9 [2.2, 3.7]; shuffled-label null 9): the largest gap "
                          "falls inside the outliers or at the null space (study tiny-subspace)")
@settings(max_examples=6, phases=NO_SHRINK)
@given(tt.trained_networks(SEPARABLE_PRESETS))
def test_number_of_hessian_outliers_equals_number_of_classes(net):
    """S3 at the end of training."""
    H = L.hessian(net.layers, net.X, net.y, activation=net.activation)
    assert L.count_outliers(np.linalg.eigvalsh((H + H.T) / 2)) == net.dist.n_classes
