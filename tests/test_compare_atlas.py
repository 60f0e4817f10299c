"""The per-neuron atlas against independent computations on a tiny network."""

import csv
import json

import numpy as np
import pytest
import sympy
from scipy.stats import norm

from toylab.compare.atlas import atlas, fold_location, incoming_directions
from toylab.compare.editing import population_risk_of
from toylab.compare.landscape_neurons import first_order_change
from toylab.compare.probes import bounding_box, line_segments
from toylab.data import GaussianMixture, curved
from toylab.exact.population import population_partition
from toylab.landscape import hessian, neuron_table
from toylab.symbolic import input_symbols


def _net(seed=3, widths=(2, 3, 3, 2)):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
            for a, b in zip(widths[:-1], widths[1:])]


@pytest.fixture(scope="module")
def world():
    return curved().shifted([0.5, -0.3])


@pytest.fixture(scope="module")
def setup(world):
    net = _net()
    s = world.sample(0, 200)
    p = population_partition(net, world, activation="relu")
    null = line_segments(np.array([[1.0, 0.2], [0.1, 1.0], [1.0, -1.0]]),
                         np.array([0.0, 0.5, -0.3]), bounding_box(p))
    a = atlas(net, world, s.X, s.y, activation="relu", top_k=2, siblings=[net, _net(4)],
              null_folds=null, attainable={"log_odds": 0.9}, rtol=1e-2, digits=15)
    return net, s, a


def test_ablation_columns_match_the_risk_of_the_edited_network(world, setup):
    """Zero / mean ablation = the exact risk of the net with the neuron's outgoing weights
    removed (its mean folded into the next biases), computed here by hand."""
    net, _, a = setup
    risk = population_risk_of(net, world, activation="relu")[0]
    for n, (l, i) in enumerate(a.neurons):
        for mode, value in (("zero", 0.0), ("mean", a.columns["mean"][n])):
            edited = [(W.copy(), b.copy()) for W, b in net]
            W, b = edited[l + 1]
            b += value * W[i]
            W[i] = 0.0
            direct = population_risk_of(edited, world, activation="relu")[0] - risk
            assert a.columns[f"ablation_{mode}"][n] == pytest.approx(direct, abs=1e-9)


def test_formula_evaluates_to_the_forward_pass(setup):
    net, s, a = setup
    xs = input_symbols(2)
    post, h = [], s.X  # float64 NumPy forward pass
    for W, b in net[:-1]:
        h = np.maximum(h @ W + b, 0.0)
        post.append(h)
    for (l, i), text in zip(a.neurons, a.formulas):
        f = sympy.lambdify(xs, sympy.sympify(text, locals={str(x): x for x in xs}), "numpy")
        got = np.broadcast_to(np.asarray(f(s.X[:, 0], s.X[:, 1]), float), (len(s.X),))
        np.testing.assert_allclose(got, post[l][:, i], rtol=1e-9, atol=1e-9)


def test_incoming_directions_partition_the_boundary_velocity(world, setup):
    """The first-order boundary velocity is linear in the direction: the hidden neurons'
    incoming blocks plus the logits' blocks add up to the full direction's velocity."""
    net = setup[0]
    widths = (2, 3, 3, 2)
    p = population_partition(net, world, activation="relu")
    v = np.random.default_rng(0).normal(size=neuron_table(widths)[1].shape[1])
    parts = incoming_directions(v, widths)
    logits = v - parts.sum(1)
    assert np.all(parts * logits[:, None] == 0)  # disjoint supports
    total = sum(first_order_change(p, d).velocity for d in list(parts.T) + [logits])
    np.testing.assert_allclose(total, first_order_change(p, v).velocity, atol=1e-10)


def test_fold_location_of_a_line_under_a_standard_gaussian():
    """A vertical line x = c under N(0, I): mass phi(c), centroid (c, 0)."""
    dist = GaussianMixture(np.zeros((1, 2)), np.eye(2)[None])
    c = 0.7
    segs = np.array([[[c, -12.0], [c, 12.0]]])
    mass, centroid = fold_location(segs, dist)
    assert mass == pytest.approx(norm.pdf(c), rel=1e-9)
    np.testing.assert_allclose(centroid, [c, 0.0], atol=1e-9)
    assert fold_location(np.zeros((0, 2, 2)), dist)[0] == 0.0


def test_columns_are_consistent(setup):
    _, _, a = setup
    c = a.columns
    for share in ("hessian_share", "gradient_share"):
        assert np.all(c[share] >= 0) and c[share].sum() <= 1 + 1e-12
    live = c["active_mass"] > 0.01
    np.testing.assert_allclose(c["analogue_corr"][live], 1.0, atol=1e-6)  # sibling = itself
    first = a.neurons[:, 0] == 0
    np.testing.assert_allclose(c["corr_log_odds_vs_attainable"][first],
                               np.abs(c["corr_log_odds"][first]) / 0.9)
    assert np.all(np.isnan(c["corr_log_odds_vs_attainable"][~first]))
    rank = c["fold_to_bayes_null_rank"]
    assert np.all((rank[np.isfinite(rank)] >= 0) & (rank[np.isfinite(rank)] <= 1))
    assert np.all(c["boundary_speed_top"][np.isfinite(c["boundary_speed_top"])] >= 0)


def test_csv_and_json_round_trip(setup, tmp_path):
    _, _, a = setup
    with open(a.to_csv(tmp_path / "atlas.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(a.neurons)
    assert float(rows[1]["ablation_zero"]) == pytest.approx(a.columns["ablation_zero"][1])
    assert rows[0]["formula"] == a.formulas[0]
    data = json.loads(a.to_json(tmp_path / "atlas.json").read_text())
    assert len(data["rows"]) == len(a.neurons) and data["meta"]["top_k"] == 2


def test_bad_input(world, setup):
    net, s, _ = setup
    with pytest.raises(ValueError, match="top_k"):
        atlas(net, world, s.X, s.y, activation="relu", top_k=0)
    with pytest.raises(ValueError, match="X has shape"):
        atlas(net, world, s.X[:, :1], s.y, activation="relu")


def test_hessian_share_matches_a_hand_attribution(setup):
    """The top-2 subspace's projector diagonal, split by hand over the flat order (per layer
    W row-major, then b): a hidden neuron owns its incoming column and bias and its outgoing
    row; shares are normalised over all neurons (logits included)."""
    net, s, a = setup
    Hm = hessian(net, s.X, s.y, activation="relu")
    V = np.linalg.eigh((Hm + Hm.T) / 2)[1][:, -2:]
    diag, pos, blocks = (V**2).sum(1), 0, []
    for W, b in net:
        dW = diag[pos:pos + W.size].reshape(W.shape)
        db = diag[pos + W.size:pos + W.size + b.size]
        blocks.append((dW, db))
        pos += W.size + b.size
    mass = []
    for l, (dW, db) in enumerate(blocks):
        for j in range(dW.shape[1]):
            out = blocks[l + 1][0][j].sum() if l + 1 < len(blocks) else 0.0
            mass.append(dW[:, j].sum() + db[j] + out)
    mass = np.array(mass) / np.sum(mass)
    np.testing.assert_allclose(a.columns["hessian_share"], mass[:len(a.neurons)], atol=1e-10)


def test_featureviz_columns_against_a_dense_grid_on_the_core_box(world, setup):
    """Fidelity columns on the data's core box: the best feature-visualisation shortfall and
    the best example's shortfall, recomputed by a plain forward pass (the maximum from a
    401 x 401 grid plus the box corners, which bounds the exact maximum from below within the
    grid's resolution, the examples from the training sample itself)."""
    net, s, a = setup
    lo, hi = np.asarray(world.covering_box(0.01), np.float64).T
    g = np.linspace(0, 1, 401)
    grid = lo + np.stack(np.meshgrid(g, g), -1).reshape(-1, 2) * (hi - lo)

    def hidden(X):
        out, h = [], X
        for W, b in net[:-1]:
            h = np.maximum(h @ W + b, 0.0)
            out.append(h)
        return out

    on_grid, on_data = hidden(grid), hidden(s.X)
    for n, (l, i) in enumerate(a.neurons):
        f, fx = on_grid[l][:, i], on_data[l][:, i]
        span = f.max() - f.min()
        if span == 0:
            assert np.isnan(a.columns["fv_gap_core"][n])
            continue
        best_example = np.sort(fx)[-1]
        # the exact maximum is >= the grid's, so the exact shortfall is >= the grid one
        assert a.columns["topk_max_gap_core"][n] >= (f.max() - best_example) / span - 1e-9
        assert a.columns["topk_max_gap_core"][n] <= (f.max() - best_example) / span + 0.02
        assert 0 <= a.columns["fv_gap_core"][n] <= 1
        assert a.columns["fv_found_core"][n] == (a.columns["fv_gap_core"][n] <= 1e-3)
        misdescribed = not np.any(np.sort(fx)[-9:] >= f.max() - 0.1 * span + 0.02 * span)
        if not misdescribed:  # a grid-certified example inside the near-max set
            assert a.columns["misdescribed_core"][n] == 0
