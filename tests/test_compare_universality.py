"""compare.universality: the parallel network computes both nets, a net matched with a permuted
copy of itself has correlation 1 and recovers the permutation, exact cross-correlations vs
Monte Carlo (4 SE), fold Hausdorff distances, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab.compare import universality as un
from toylab.data import curved, xor
from toylab.models import activations


def _net(seed, widths=(2, 5, 4, 2)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)), rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


def _permuted(net, perms):
    """The same function with hidden layer ``l``'s neurons reordered by ``perms[l]``."""
    out = [list(pair) for pair in net]
    for l, perm in enumerate(perms):
        out[l][0], out[l][1] = out[l][0][:, perm], out[l][1][perm]
        out[l + 1][0] = out[l + 1][0][perm, :]
    return [tuple(pair) for pair in out]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.integers(1, 3),
       activation=st.sampled_from(["relu", "abs", "hard_tanh", "leaky_relu"]))
def test_parallel_network_computes_both_networks(seed, depth, activation):
    a = _net(seed, (2,) + (3,) * depth + (2,))
    b = _net(seed + 1, (2,) + (4,) * depth + (3,))
    joint = un.parallel_network(a, b, activation=activation)
    X = np.random.default_rng(seed).normal(size=(50, 2)) * 3
    ja, jb, jj = (activations(n, X, activation).post for n in (a, b, joint))
    for l in range(depth + 1):
        np.testing.assert_allclose(np.asarray(jj[l]),
                                   np.hstack([np.asarray(ja[l]), np.asarray(jb[l])]),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_matching_a_permuted_copy_gives_correlation_one_and_recovers_the_permutation(seed):
    dist = curved()
    net = _net(seed)
    rng = np.random.default_rng(seed + 100)
    perms = [rng.permutation(5), rng.permutation(4)]
    cc = un.cross_correlations(net, _permuted(net, perms), dist, activation="relu")
    for layer, (c, perm) in enumerate(zip(cc, perms)):
        live = c.std_a > 0
        m = un.match_neurons(c.corr)
        inverse = np.argsort(perm)  # B's neuron j is A's neuron perm[j]
        np.testing.assert_array_equal(m.partner[live], inverse[live])
        np.testing.assert_allclose(m.corr[live], 1.0, atol=1e-9 + c.bound[live].max())
        assert np.all(np.isnan(m.corr[~live]))


def test_dead_neurons_get_nan_correlations():
    net = _net(3, (2, 3, 2))
    net[0] = (net[0][0], np.array([0.0, 0.0, -500.0]))
    c = un.cross_correlations(net, net, xor(), activation="relu")[0]
    assert c.std_a[2] == 0 and np.all(np.isnan(c.corr[2])) and np.all(np.isnan(c.corr[:, 2]))
    m = un.match_neurons(c.corr)
    assert m.partner[:2].tolist() == [0, 1] and np.isnan(m.best[2])


def test_exact_cross_correlation_matches_monte_carlo_within_4_se():
    dist = xor()
    a, b = _net(5, (2, 4, 3, 2)), _net(6, (2, 4, 3, 2))
    cc = un.cross_correlations(a, b, dist, activation="relu")
    X = dist.sample(3, 200_000).X
    pa, pb = activations(a, X, "relu").post, activations(b, X, "relu").post
    batches, checked = 40, 0
    for layer, c in enumerate(cc):
        Fa, Fb = np.asarray(pa[layer], float), np.asarray(pb[layer], float)
        for i in range(Fa.shape[1]):
            for j in range(Fb.shape[1]):
                if np.isnan(c.corr[i, j]):
                    continue
                rho = np.corrcoef(Fa[:, i], Fb[:, j])[0, 1]
                per = np.array([np.corrcoef(x, y)[0, 1] if x.std() > 0 and y.std() > 0 else
                                np.nan for x, y in zip(np.split(Fa[:, i], batches),
                                                       np.split(Fb[:, j], batches))])
                per = per[np.isfinite(per)]
                if len(per) < batches // 2:  # active on too little mass to test by sampling
                    continue
                se = np.std(per, ddof=1) / np.sqrt(len(per))
                assert abs(c.corr[i, j] - rho) <= 4 * se + c.bound[i, j] + 1e-6
                checked += 1
    assert checked >= 20


def test_cross_correlations_integrate_the_joint_partition_once(monkeypatch):
    """All layers read one set of region moments (plus the domain's mass): two integrations
    for a three-layer pair, not one per layer."""
    from toylab.exact.population import moments

    calls = []
    real = moments.mixture_polygon_moments
    monkeypatch.setattr(moments, "mixture_polygon_moments",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    cc = un.cross_correlations(_net(1, (2, 4, 3, 3, 2)), _net(2, (2, 4, 3, 3, 2)), xor(),
                               activation="relu")
    assert len(cc) == 3 and len(calls) == 2


def test_fold_hausdorff():
    seg = np.array([[[0.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 1.0]]])
    assert un.fold_hausdorff(seg, seg) == 0.0
    assert un.fold_hausdorff(seg, seg[::-1, ::-1]) == pytest.approx(0.0, abs=1e-15)
    shifted = seg + np.array([0.0, 0.3])
    assert un.fold_hausdorff(seg, shifted, spacing=0.01) == pytest.approx(0.3, abs=0.01)
    short = seg[:1] * np.array([0.5, 1.0])  # [0, 0.5] x {0}: B is 0.5 + 1 away at (1, 1)
    assert un.fold_hausdorff(seg, short, spacing=0.001) == pytest.approx(np.hypot(0.5, 1.0),
                                                                         abs=0.001)
    empty = np.zeros((0, 2, 2))
    assert un.fold_hausdorff(empty, empty) == 0.0 and un.fold_hausdorff(seg, empty) == np.inf


def test_bad_input():
    with pytest.raises(ValueError, match="equal depth"):
        un.parallel_network(_net(0, (2, 3, 2)), _net(0, (2, 3, 3, 2)), activation="relu")
    with pytest.raises(ValueError, match="corr has shape"):
        un.match_neurons(np.zeros(3))
    with pytest.raises(ValueError, match="spacing"):
        un.fold_hausdorff(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), spacing=0)
    m = un.match_neurons(np.array([[0.2, 0.9, 0.1]]))  # rectangular: 1 x 3
    assert m.partner.tolist() == [1] and m.corr[0] == 0.9
    m = un.match_neurons(np.array([[0.5], [0.7]]))  # 2 x 1: one neuron stays unmatched
    assert m.partner.tolist() == [-1, 0] and np.isnan(m.corr[0])
