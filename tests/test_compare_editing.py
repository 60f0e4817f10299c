"""Editing networks: exact edits vs the forward pass, exact function distances vs Monte Carlo,
dead-neuron and zero-threshold invariances, mean ablation keeps the next layer's mean,
spectral clustering on graphs with known clusters, bad input."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from toylab import data
from toylab.compare import editing as ed
from toylab.exact.population import layer_moments, population_partition
from toylab.models import activations, apply

Z = 4.0  # Monte Carlo agreement within Z standard errors
DIST = data.xor(separation=1.5, std=0.7)


def _net(seed, widths, *, bias=0.5):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a), rng.normal(size=b) * bias)
            for a, b in zip(widths[:-1], widths[1:])]


def _forward(net, X):
    with jax.enable_x64(True):
        return [np.asarray(h, np.float64) for h in activations(net, X, "relu").post]


# ----------------------------------------------------------------------------- edits


def test_replace_neuron_matches_forward_pass_with_the_neuron_overwritten():
    net = _net(0, (2, 5, 4, 3))
    X = DIST.sample(1, 500).X
    for layer, i, value in ((0, 2, 0.7), (1, 3, -1.3)):
        edited = ed.replace_neuron(net, (layer, i), value, activation="relu")
        h = X
        for depth, (W, b) in enumerate(net):  # plain forward pass, neuron overwritten
            h = h @ W + b
            if depth < len(net) - 1:
                h = np.maximum(h, 0)
            if depth == layer:
                h[:, i] = value
        with jax.enable_x64(True):
            np.testing.assert_allclose(np.asarray(apply(edited, X, "relu")), h, rtol=1e-12,
                                       atol=1e-12)


def test_joint_network_blocks_reproduce_both_networks():
    a, b = _net(1, (2, 4, 3, 2)), _net(2, (2, 4, 3, 2))
    b[0] = a[0]  # a shared first layer is kept once
    joint = ed.joint_network(a, b, activation="relu")
    assert joint.shared == 1 and joint.layers[0][0].shape == (2, 4)
    X = DIST.sample(3, 200).X
    hj, ha, hb = _forward(joint.layers, X), _forward(a, X), _forward(b, X)
    for layer in range(3):
        np.testing.assert_allclose(hj[layer][:, joint.columns_a[layer]], ha[layer], atol=1e-12)
        np.testing.assert_allclose(hj[layer][:, joint.columns_b[layer]], hb[layer], atol=1e-12)


def test_function_distance_matches_monte_carlo():
    net = _net(3, (2, 6, 5, 2))
    edited = ed.ablate(net, DIST, (0, 1), "mean", activation="relu")
    dist = ed.function_distance(net, edited, DIST, activation="relu")
    X = DIST.sample(0, 200_000).X
    for layer, (fa, fb) in enumerate(zip(_forward(net, X), _forward(edited, X))):
        sq = (fa - fb) ** 2
        np.testing.assert_array_less(np.abs(dist.sq[layer] - sq.mean(0)),
                                     Z * sq.std(0) / np.sqrt(len(X)) + dist.sq_bound[layer] + 1e-15)
        np.testing.assert_array_less(np.abs(dist.norm_sq_a[layer] - (fa**2).mean(0)),
                                     Z * (fa**2).std(0) / np.sqrt(len(X)) + 1e-6)
    assert np.all(dist.sq[0] == 0)  # the edit starts at layer 1: layer 0 is shared, exactly
    assert np.all(dist.sq[1] > 0) and np.all(np.concatenate(dist.sq_bound) < 1e-6)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6), layer=st.integers(0, 1), mode=st.sampled_from(sorted(ed.ABLATIONS)))
def test_ablating_a_dead_neuron_changes_nothing_exactly(seed, layer, mode):
    net = _net(seed, (2, 5, 4, 2))
    i = seed % net[layer][0].shape[1]
    net[layer][1][i] = -1e3  # dead everywhere the mass is (and on the whole box)
    p = population_partition(net, DIST, activation="relu")
    assert ed.constant_neurons(p)[layer * 5 + i]
    edited = ed.ablate(net, DIST, (layer, i), mode, activation="relu", partition=p)
    eff = ed.edit_effect(net, edited, DIST, activation="relu")
    assert eff.risk_change == 0.0
    assert all(np.all(s == 0.0) for s in eff.distance.sq)


def test_edit_effect_partitions_once_and_reads_both_risks_from_it(monkeypatch):
    """One partition per edit (the joint network's); the risks read from it through
    logits_view equal each network's risk on its own partition to 1e-14."""
    from toylab.exact.population import moments

    net = _net(7, (2, 6, 5, 2))
    edited = ed.prune(net, 0.4)
    separate = [ed.population_risk_of(n, DIST, activation="relu") for n in (net, edited)]
    calls = []
    real = moments.partition
    monkeypatch.setattr(moments, "partition", lambda *a, **k: calls.append(1) or real(*a, **k))
    eff = ed.edit_effect(net, edited, DIST, activation="relu")
    assert len(calls) == 1
    assert abs(eff.risk_before - separate[0][0]) <= 1e-14
    assert abs(eff.risk_after - separate[1][0]) <= 1e-14
    assert eff.risk_bound == max(separate[0][1], separate[1][1])
    assert 0 < eff.risk_change  # pruning 40% of the weights costs accuracy on xor
    given_before = ed.edit_effect(net, edited, DIST, activation="relu", risk_before=separate[0])
    assert given_before.risk_before == separate[0][0] and len(calls) == 2


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_mean_ablation_keeps_the_next_layer_mean(seed):
    """E[z_{l+1}] is linear in y_i, so replacing y_i by E[y_i] leaves it unchanged."""
    net = _net(seed, (2, 6, 3))
    i = seed % 6
    edited = ed.ablate(net, DIST, (0, i), "mean", activation="relu")
    before = layer_moments(population_partition(net, DIST, activation="relu"), DIST, 1)
    after = layer_moments(population_partition(edited, DIST, activation="relu"), DIST, 1)
    scale = np.abs(before.mean).max() + 1
    np.testing.assert_array_less(np.abs(before.mean - after.mean),
                                 before.mean_bound + after.mean_bound + 1e-12 * scale)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_pruning_threshold_zero_is_the_identity(seed):
    net = _net(seed, (2, 4, 4, 2))
    net[1][0][0, 0] = 0.0  # an exact zero weight is kept at threshold 0
    pruned = ed.prune(net, 0.0)
    assert all(np.array_equal(W, W2) and np.array_equal(b, b2)
               for (W, b), (W2, b2) in zip(net, pruned))
    eff = ed.edit_effect(net, pruned, DIST, activation="relu")
    assert eff.risk_change == 0.0 and all(np.all(s == 0.0) for s in eff.distance.sq)


def test_pruning_thresholds_remove_the_requested_fraction():
    net = _net(5, (2, 8, 8, 2))
    n = sum(W.size for W, _ in net)
    fractions = np.array([0.0, 0.25, 0.5, 1.0])
    for f, t in zip(fractions, ed.pruning_thresholds(net, fractions)):
        zeros = sum(int(np.sum(W == 0)) for W, _ in ed.prune(net, t))
        assert zeros == round(f * n)


# ----------------------------------------------------------------------------- modularity


def _two_cliques(weak: float) -> np.ndarray:
    A = np.zeros((8, 8))
    A[:4, :4] = A[4:, 4:] = 1.0
    np.fill_diagonal(A, 0.0)
    A[3, 4] = A[4, 3] = weak
    return A


def test_spectral_clusters_find_two_cliques_and_the_ncut_is_known():
    A = _two_cliques(0.1)
    labels = ed.spectral_clusters(A, 2, seed=0)
    assert len(set(labels[:4])) == 1 and len(set(labels[4:])) == 1 and labels[0] != labels[4]
    vol = 12 + 0.1  # each clique: 4 nodes x degree 3, plus the weak edge
    assert ed.normalized_cut(A, labels) == pytest.approx(2 * 0.1 / vol, rel=1e-14)
    assert ed.normalized_cut(_two_cliques(0.0), labels) == 0.0


def test_weight_graph_has_abs_weights_between_adjacent_layers_only():
    net = _net(6, (2, 3, 2))
    A, units = ed.weight_graph(net)
    assert A.shape == (7, 7) and np.array_equal(A, A.T)
    np.testing.assert_array_equal(A[:2, 2:5], np.abs(net[0][0]))
    np.testing.assert_array_equal(A[2:5, 5:], np.abs(net[1][0]))
    assert np.all(A[:2, 5:] == 0) and units.tolist()[0] == [-1, 0] and units.tolist()[-1] == [1, 1]


def test_modular_network_is_more_clusterable_than_shuffled():
    """Two disjoint sub-networks joined by tiny weights: n-cut far below the shuffled null."""
    rng = np.random.default_rng(0)
    net = []
    for a, b in ((2, 8), (8, 8), (8, 2)):
        W = rng.uniform(0.5, 1.5, (a, b)) * 1e-3
        W[: a // 2, : b // 2] *= 1e3
        W[a // 2 :, b // 2 :] *= 1e3
        net.append((W, np.zeros(b)))
    c = ed.clusterability(net, 2, n_shuffles=10, seed=0)
    assert c.ncut < 0.01 and c.z_score < -3 and c.percentile == 0.0


def test_cluster_alignment_ratio():
    effects = np.array([[2.0, 1.0, np.nan], [1.0, 1.0, 4.0]])
    ratio = ed.cluster_alignment(effects, np.array([0, 1]), np.array([0, 1, 1]))
    np.testing.assert_allclose(ratio, [2.0, 2.5 / 1.0])


# ----------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    net = _net(7, (2, 3, 2))
    with pytest.raises(ValueError, match="neuron=.*not a hidden neuron"):
        ed.ablate(net, DIST, (1, 0), activation="relu")
    with pytest.raises(ValueError, match="mode='max'"):
        ed.ablate(net, DIST, (0, 0), "max", activation="relu")
    with pytest.raises(ValueError, match="threshold=-1"):
        ed.prune(net, -1.0)
    with pytest.raises(ValueError, match="value=nan"):
        ed.replace_neuron(net, (0, 0), float("nan"), activation="relu")
    with pytest.raises(ValueError, match="widths"):
        ed.joint_network(net, _net(7, (2, 4, 2)), activation="relu")
    with pytest.raises(ValueError, match="k=9"):
        ed.spectral_clusters(np.ones((3, 3)), 9)
    with pytest.raises(ValueError, match="fractions="):
        ed.pruning_thresholds(net, [1.5])
