"""Theory claims about Bayes optimality, with exact population risks (toylab.exact.population).

B1 (Bayes optimality; e.g. Devroye, Gyorfi & Lugosi 1996, Thm 2.1). The Bayes classifier
``argmax_c pi_c p_c(x)`` minimises the 0-1 risk over all classifiers, so no network has a
lower exact population risk than the Bayes error: ``excess_risk >= 0`` up to the stated
bounds (probability outside the partition's domain plus the Bayes error's own bound).

B2 (the minimum is attained by a linear network; Fisher 1936, LDA). For classes with one
Gaussian component each and a shared covariance ``S``, the logits
``z_c = m_c^T S^-1 x - m_c^T S^-1 m_c / 2 + log pi_c`` differ from ``log pi_c p_c(x)`` by a
term common to all classes, so the network with no hidden layer ``W = S^-1 M^T``,
``b_c = -m_c^T S^-1 m_c / 2 + log pi_c`` *is* the Bayes classifier: its exact risk equals
the Bayes error (closed form for two classes, quadrature with a bound for more).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import testing as tt
from toylab.exact.population import excess_risk, population_partition
from toylab.models import PIECEWISE_LINEAR

TWO_CLASS_SHARED = tt.distributions(max_classes=2, max_components=2, shared_covariance=True)
"""Two classes, one component each, shared covariance: closed-form Bayes error."""


def _lda_network(dist):
    """The Bayes classifier of a shared-covariance, one-component-per-class mixture as a
    layer list with no hidden layer (B2)."""
    order = np.argsort(dist.labels)  # component of class c
    means, prec = dist.means[order], np.linalg.inv(dist.covs[0])
    W = prec @ means.T
    b = -0.5 * np.einsum("ci,ij,cj->c", means, prec, means) + np.log(dist.weights[order])
    return [(W, b)]


@settings(max_examples=20)
@given(st.data())
def test_no_network_beats_the_bayes_error(data):
    """B1 over two-class shared-covariance worlds (degenerate ones included) and networks
    of every piecewise-linear activation."""
    dist = data.draw(TWO_CLASS_SHARED)
    net = data.draw(tt.networks(output_dim=2, activations=PIECEWISE_LINEAR))
    excess = excess_risk(population_partition(net.layers, dist, activation=net.activation),
                         dist)
    assert excess.value >= -excess.error_bound


@settings(max_examples=20)
@given(TWO_CLASS_SHARED)
def test_the_linear_bayes_network_attains_the_bayes_error(dist):
    """B2, two classes: exact risk = closed-form Bayes error."""
    p = population_partition(_lda_network(dist), dist, activation="linear")
    excess = excess_risk(p, dist)
    assert abs(excess.value) <= excess.error_bound + 1e-12


@pytest.mark.slow
@settings(max_examples=10)
@given(tt.distributions(min_classes=3, max_classes=3, max_components=3,
                        shared_covariance=True, max_condition=30.0))
def test_the_linear_bayes_network_attains_the_quadrature_bayes_error(dist):
    """B2, three classes: exact risk = Bayes error by quadrature, within its bound."""
    p = population_partition(_lda_network(dist), dist, activation="linear")
    excess = excess_risk(p, dist)
    assert abs(excess.value) <= excess.error_bound + 1e-9


@pytest.mark.slow
@settings(max_examples=15)
@given(st.data())
def test_no_network_beats_the_bayes_error_in_general_worlds(data):
    """B1 over worlds with several components per class and unequal covariances (Bayes
    error by quadrature), degenerate ones included."""
    dist = data.draw(tt.distributions(max_classes=3, max_components=4))
    net = data.draw(tt.networks(output_dim=dist.n_classes, activations=PIECEWISE_LINEAR))
    excess = excess_risk(population_partition(net.layers, dist, activation=net.activation),
                         dist)
    assert excess.value >= -excess.error_bound


def test_population_accuracy_of_nearly_tied_logits():
    """B1's degenerate edge, found by hypothesis (the library returned accuracy 0 until
    ``exact.boundary.class_cells`` normalised its half-planes): a linear net whose two logits
    differ by ``2e-200 x0`` predicts class 0 on ``x0 > 0`` (accuracy ``Phi(-1.5) = 0.0668`` on
    ``two_gaussians``); were the logits treated as tied, class 0 everywhere (0.5)."""
    from toylab import data
    from toylab.exact.population import population_accuracy

    dist = data.two_gaussians()
    net = [(np.array([[1e-200, -1e-200], [0.0, 0.0]]), np.zeros(2))]
    acc = population_accuracy(population_partition(net, dist, activation="linear"), dist)
    assert 0.0668 - 1e-4 <= acc.value <= 0.5 + acc.error_bound


@pytest.mark.slow
def test_bayes_error_quadrature_on_coincident_means_of_different_classes():
    """A degenerate world hypothesis found for B1: components of classes 0 and 1 share a mean
    (with isotropic covariances 0.38 I and 0.81 I the Bayes boundary is a circle around it).
    ``bayes_error_with_bound`` raised 'did not converge' (tanh-sinh error 2e-8 > 1e-11) until
    the quadrature split the outer integral at the circle's vertical tangencies."""
    from toylab.data import GaussianMixture

    means = np.array([[-0.41433128, -0.99647337], [0.94640155, -0.40297656],
                      [-0.37182409, 0.78299275], [-0.37182409, 0.78299275]])
    covs = np.array([np.eye(2), [[1.12028039e-02, -1.97841016e-02],
                                 [-1.97841016e-02, 2.93277676e-01]],
                     0.382425057 * np.eye(2), 0.811147425 * np.eye(2)])
    dist = GaussianMixture(means, covs, labels=[0, 1, 0, 1])
    assert 0 < dist.bayes_error_with_bound().value < 0.5
