"""toylab.testing: the strategies honour their bounds, reach the degenerate cases they
promise, reject impossible bounds, and the profiles load."""

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from toylab import models
from toylab import testing as tt
from toylab.exact.geometry import as_domain, polygon_areas


REACH = settings(max_examples=300, database=None, phases=[Phase.generate])
"""For ``find``: generate until the degenerate case appears (no shrinking)."""


def _cross_class_distances(dist):
    i, j = np.triu_indices(dist.n_components, 1)
    keep = dist.labels[i] != dist.labels[j]
    return np.linalg.norm(dist.means[i[keep]] - dist.means[j[keep]], axis=1)


def _conditions(dist):
    eig = np.linalg.eigvalsh(dist.covs)
    return eig[:, -1] / eig[:, 0]


BOUNDS = dict(min_dim=1, max_dim=3, min_classes=2, max_classes=3, min_components=3,
              max_components=5, min_separation=0.5, max_separation=4.0, max_condition=50.0)


@settings(max_examples=30)
@given(tt.distributions(**BOUNDS))
def test_distributions_honour_their_bounds(dist):
    assert 1 <= dist.dim <= 3 and 2 <= dist.n_classes <= 3
    assert max(3, dist.n_classes) <= dist.n_components <= 5
    assert set(dist.labels.tolist()) == set(range(dist.n_classes))
    sep = _cross_class_distances(dist).min()
    assert 0.5 * (1 - 1e-9) <= sep <= 4.0 * (1 + 1e-9)
    assert np.all(_conditions(dist) <= 50.0 * (1 + 1e-6))
    assert np.linalg.eigvalsh(dist.covs)[:, -1].max() == pytest.approx(1.0)
    assert np.all(dist.weights >= 0.5 / dist.n_components - 1e-12)


@settings(max_examples=20)
@given(tt.distributions(max_classes=2, max_components=2, shared_covariance=True,
                        balanced=True, degenerate=False))
def test_well_conditioned_two_class_worlds(dist):
    assert dist.n_components == dist.n_classes == 2
    np.testing.assert_array_equal(dist.covs[0], dist.covs[1])
    np.testing.assert_array_equal(dist.weights, [0.5, 0.5])
    assert _cross_class_distances(dist).min() >= 1.0 * (1 - 1e-9)
    assert _conditions(dist).max() <= 10.0 * (1 + 1e-6)
    assert dist.bayes_error_with_bound().method == "closed_form"


@pytest.mark.parametrize(
    "name, strategy, condition",
    [
        ("coincident means", tt.distributions(),
         lambda d: _cross_class_distances(d).min() == 0.0),
        ("nearly singular covariance", tt.distributions(),
         lambda d: _conditions(d).max() >= 0.99e3),
        ("several components per class", tt.distributions(),
         lambda d: d.n_components > d.n_classes),
    ],
)
def test_distributions_reach_degenerate_worlds(name, strategy, condition):
    find(strategy, condition, settings=REACH)


@settings(max_examples=30)
@given(tt.networks(input_dim=3, output_dim=2, min_width=2, max_width=5, min_depth=0,
                   max_depth=3, activations=models.PIECEWISE_LINEAR))
def test_networks_honour_their_bounds(net):
    layers = models.validate_layers(net.layers)
    widths = models.widths_of(layers)
    assert widths[0] == 3 and widths[-1] == 2 and 0 <= len(widths) - 2 <= 3
    assert all(2 <= w <= 5 for w in widths[1:-1])
    assert net.activation in models.PIECEWISE_LINEAR
    assert all(W.dtype == np.float64 and np.all(np.isfinite(W)) for W, _ in layers)


def _first_layer(net):
    W, b = net.layers[0]
    return np.vstack([W, b[None]])  # (in + 1, width): one column per hyperplane


def _has_duplicate_columns(M):
    return len(np.unique(M.T, axis=0)) < M.shape[1]


def _has_parallel_columns(M):
    U = M[:-1] / np.maximum(np.linalg.norm(M[:-1], axis=0), 1e-300)
    G = np.abs(U.T @ U)
    return bool(np.any(np.isclose(G[np.triu_indices(len(G), 1)], 1.0, rtol=0, atol=1e-12)))


def _has_coincident_columns(M):
    """Two first-layer neurons with the same hyperplane (weights and bias proportional)."""
    U = M / np.maximum(np.linalg.norm(M, axis=0), 1e-300)
    G = np.abs(U.T @ U)
    return bool(np.any(np.isclose(G[np.triu_indices(len(G), 1)], 1.0, rtol=0, atol=1e-12)))


DEGENERATE = {
    "dead": lambda n: np.any(np.all(n.layers[0][0] == 0, axis=0) & (n.layers[0][1] < 0)),
    "silent": lambda n: np.any(np.all(n.layers[1][0] == 0, axis=1)),
    "duplicate": lambda n: _has_duplicate_columns(_first_layer(n)),
    "coincident": lambda n: _has_coincident_columns(_first_layer(n))
    and not _has_duplicate_columns(_first_layer(n)),
    "parallel": lambda n: _has_parallel_columns(_first_layer(n))
    and not _has_coincident_columns(_first_layer(n)),
    "zero_weight": lambda n: np.any(n.layers[0][0] == 0),
    "zero_bias": lambda n: np.any(n.layers[0][1] == 0),
}
"""What each edit of :data:`toylab.testing.DEGENERACIES` leaves in a net's first layers."""


def test_every_degeneracy_has_a_check():
    assert set(DEGENERATE) == set(tt.DEGENERACIES)


@pytest.mark.parametrize("name", sorted(tt.DEGENERACIES))
def test_every_degeneracy_edit_creates_its_degeneracy(name):
    rng = np.random.default_rng(0)
    net = tt.Network([(rng.normal(size=(2, 4)), rng.normal(size=4)),
                      (rng.normal(size=(4, 3)), rng.normal(size=3))], "relu")
    assert not DEGENERATE[name](net)
    tt.DEGENERACIES[name](net.layers, 0, 1, 2, -0.5)
    assert DEGENERATE[name](net)


@pytest.mark.parametrize("name", sorted(DEGENERATE) + ["dyadic"])
def test_networks_reach_degenerate_weights(name):
    dyadic = lambda n: all(np.all(W * 4 == np.round(W * 4)) for W, _ in n.layers)
    find(tt.networks(min_width=3), DEGENERATE.get(name, dyadic), settings=REACH)


@settings(max_examples=30)
@given(tt.networks(widths=(2, 4, 3), degenerate=False))
def test_fixed_widths_and_generic_weights(net):
    assert net.widths == (2, 4, 3)
    W, b = net.layers[0]
    assert np.all(W != 0) and not _has_parallel_columns(_first_layer(net))


@settings(max_examples=40)
@given(tt.domains(min_size=1.0, max_size=5.0, max_offset=1.0, max_aspect=3.0))
def test_domains_are_valid_and_bounded(domain):
    poly = as_domain(domain)  # the library's own validation: convex, non-degenerate
    span = np.ptp(poly, axis=0)
    assert np.all(span <= 5.0 * (1 + 1e-9))
    assert span.max() / span.min() <= 3.0 * (1 + 1e-9) or len(domain) > 2
    assert polygon_areas(poly, np.array([len(poly)]))[0] > 0
    centre = (poly.max(0) + poly.min(0)) / 2
    assert np.all(np.abs(centre) <= 1.0 + 5.0)


def test_domains_reach_thin_boxes_and_triangles():
    find(tt.domains(), lambda d: d.shape == (2, 2)
         and np.ptp(d, 1).max() / np.ptp(d, 1).min() >= 99.0, settings=REACH)
    find(tt.domains(), lambda d: d.shape == (3, 2), settings=REACH)


@settings(max_examples=30, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_parameter_directions_are_unit_vectors_of_the_right_size(data):
    net = data.draw(tt.networks(max_width=4))
    v = data.draw(tt.parameter_directions(net))
    assert v.shape == (models.n_params(net.widths),)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def _support(v, net):
    """``(layers, neurons touched)`` of the non-zero entries of ``v``: the layers they lie in,
    and the ``(layer, neuron)`` pairs they are incoming to or outgoing from."""
    idx = models.param_index(net.widths)
    nz = np.flatnonzero(v)
    layers = set(idx.layer[nz].tolist())
    touched = [{(int(idx.layer[p]), int(idx.neuron[p]))}
               | ({(int(idx.layer[p]) - 1, int(idx.source[p]))} if idx.source[p] >= 0 else set())
               for p in nz]
    return layers, set.intersection(*touched) if touched else set()


DIRECTION_KINDS = {
    "gaussian": lambda v, net: np.count_nonzero(v) == v.size,
    "coordinate": lambda v, net: np.count_nonzero(v) == 1,
    "neuron": lambda v, net: len(_support(v, net)[1]) >= 1,  # one neuron shared by all entries
    "layer": lambda v, net: len(_support(v, net)[0]) == 1,
    "sparse": lambda v, net: np.count_nonzero(v) == min(3, v.size)
    and np.ptp(np.abs(v[v != 0])) <= 1e-15,
}
"""What each kind of :data:`toylab.testing.DIRECTIONS` looks like."""


def test_every_direction_kind_has_a_check():
    assert set(DIRECTION_KINDS) == set(tt.DIRECTIONS)


@pytest.mark.parametrize("kind", sorted(tt.DIRECTIONS))
@settings(max_examples=10, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_direction_kind_is_what_it_says(kind, data):
    net = data.draw(tt.networks(max_width=4, min_depth=1))
    v = data.draw(tt.parameter_directions(net.widths, kinds=[kind]))
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert DIRECTION_KINDS[kind](v, net)


@settings(max_examples=6)
@given(tt.trained_networks(tt.distributions(max_classes=2, max_components=2,
                                            degenerate=False),
                           hidden=[()], learning_rates=[0.1], steps=100, snapshot_every=50))
def test_trained_networks_are_trained_on_their_world(net):
    assert net.config.widths == (2, 2) and len(net.trajectory) == 3
    logits = models.apply(net.layers, net.X, net.activation)
    assert np.mean(np.argmax(logits, 1) == net.y) == pytest.approx(net.final_accuracy, abs=1e-2)
    assert net.final_accuracy > 0.5
    np.testing.assert_array_equal(net.trajectory[-1][0][0], net.layers[0][0])


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: tt.distributions(min_dim=3, max_dim=2), "min_dim"),
        (lambda: tt.distributions(min_classes=0), "min_classes"),
        (lambda: tt.distributions(max_classes=4, max_components=3, min_classes=4),
         "max_components"),
        (lambda: tt.distributions(min_separation=5.0, max_separation=1.0), "min_separation"),
        (lambda: tt.distributions(max_condition=0.5), "max_condition"),
        (lambda: tt.distributions(max_separation=float("inf")), "max_separation"),
        (lambda: tt.distributions(shared_covariance="yes"), "shared_covariance"),
        (lambda: tt.networks(min_width=4, max_width=2), "min_width"),
        (lambda: tt.networks(min_depth=-1), "min_depth"),
        (lambda: tt.networks(activations=["swish"]), "activations"),
        (lambda: tt.networks(widths=(2, 0, 3)), "widths"),
        (lambda: tt.domains(min_size=0.0), "min_size"),
        (lambda: tt.domains(max_aspect=0.5), "max_aspect"),
        (lambda: tt.parameter_directions((2, 3, 2), kinds=["diagonal"]), "kinds"),
        (lambda: tt.trained_networks(hidden=((8, 0),)), "hidden"),
        (lambda: tt.trained_networks(learning_rates=(0.0,)), "learning_rates"),
        (lambda: tt.trained_networks(steps=100, snapshot_every=30), "snapshot_every"),
    ],
)
def test_impossible_bounds_are_rejected_eagerly(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_profiles_are_documented_and_load():
    assert set(tt.PROFILES) == {"ci", "dev", "thorough"}
    assert tt.PROFILES["ci"]["derandomize"] and tt.PROFILES["ci"]["deadline"] is None
    for name in set(tt.PROFILES) - {"ci"}:
        assert tt.PROFILES[name]["deadline"].total_seconds() > 0
    current = settings._current_profile
    try:
        for name, options in tt.PROFILES.items():
            assert tt.load_profile(name) == name
            assert settings.default.max_examples == options["max_examples"]
    finally:
        settings.load_profile(current)
    with pytest.raises(ValueError, match="HYPOTHESIS_PROFILE"):
        tt.load_profile("fast")
