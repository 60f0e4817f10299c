"""toylab.exact.boundary: folds, extrema, superlevel sets, decision boundary and class regions,
checked against the float64 forward pass, 1-D line partitions and analytic cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exact_partition import build, forward, inside_convex, nets, random_net, sample_domain

from toylab.exact import (
    class_regions,
    decision_boundary,
    fold_length,
    fold_lengths,
    folds,
    neuron_extrema,
    partition,
    partition_line,
    region_stats,
    superlevel_area,
)
from toylab.exact import geometry as geo
from toylab.models import ACTIVATIONS


def points_on(segs, rng, k=4):
    """``k`` random points on each segment ``(s, 2, 2)``."""
    t = rng.uniform(0, 1, (len(segs), k, 1))
    return (segs[:, None, 0] * (1 - t) + segs[:, None, 1] * t).reshape(-1, 2)


def distance_to_segments(X, segs):
    """``(n,)`` distance of each point to the nearest segment."""
    a, d = segs[:, 0], segs[:, 1] - segs[:, 0]
    rel = X[:, None] - a[None]
    t = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-300), 0, 1)
    return np.hypot(*(rel - t[..., None] * d).transpose(2, 0, 1)).min(1)


def random_lines(rng, dom, n):
    """Random chords: origin in the domain's box, unit direction, t spanning the box."""
    lo, hi = dom.min(0), dom.max(0)
    ang = rng.uniform(0, np.pi, n)
    return rng.uniform(lo, hi, (n, 2)), np.stack([np.cos(ang), np.sin(ang)], 1), np.hypot(*(hi - lo))


# ----------------------------------------------------------------------------- folds


@settings(max_examples=20)
@given(case=nets)
def test_folds_are_exactly_the_breakpoint_crossings(case):
    rng, layers, domain, p = build(case)
    act = case["activation"]
    bps = np.array(ACTIVATIONS[act].breakpoints)
    scale = geo.length_scale(p.domain)
    origins, dirs, span = random_lines(rng, p.domain, 3)
    for layer, width in enumerate(p.widths[1:-1]):
        for i in range(width):
            segs = folds(p, (layer, i))
            if len(bps) == 0:
                assert len(segs) == 0
                continue
            # soundness: the forward pre-activation sits on a breakpoint all along every fold
            if len(segs):
                z = forward(layers, points_on(segs, rng), act)[0][layer][:, i]
                size = np.abs(p.pre[layer][0][:, :, i]).sum(1).max() * scale + \
                    np.abs(p.pre[layer][1][:, i]).max() + 1.0
                assert np.abs(z[:, None] - bps).min(1).max() <= 1e-9 * size
                assert inside_convex(p.domain, segs.reshape(-1, 2), 1e-12 * scale**2).all()
            # completeness: along random lines, every crossing of a breakpoint is on a fold
            for o, d in zip(origins, dirs):
                lp = partition_line(layers, o, d, (-span, span), activation=act)
                inside = np.flatnonzero(p.locate(o + lp.breakpoints[1:-1, None] * d) >= 0)
                kink = lp.patterns[layer][inside, i] != lp.patterns[layer][inside + 1, i]
                X = o + lp.breakpoints[1:-1][inside[kink], None] * d
                if len(X):
                    assert distance_to_segments(X, segs).max() <= 1e-9 * scale


@settings(max_examples=20)
@given(case=nets)
def test_first_layer_fold_length_is_the_clipped_line(case):
    """A first-layer neuron's fold is its line(s) clipped to the domain; compare with a
    direct line-polygon clip."""
    _, layers, domain, p = build(case)
    W, b = layers[0]
    dom = p.domain
    lengths = fold_lengths(p)
    assert [len(x) for x in lengths] == list(p.widths[1:-1])
    for i in range(W.shape[1]):
        expected = 0.0
        w = W[:, i]
        for beta in ACTIVATIONS[case["activation"]].breakpoints:
            if not np.any(w):
                continue
            x0 = w * (beta - b[i]) / (w @ w)  # a point on the line, and its direction
            d = np.array([-w[1], w[0]]) / np.hypot(*w)
            e = np.roll(dom, -1, 0) - dom  # inside: cross(e, x - v) >= 0 for every edge
            num = e[:, 0] * (x0[1] - dom[:, 1]) - e[:, 1] * (x0[0] - dom[:, 0])
            den = e[:, 0] * d[1] - e[:, 1] * d[0]  # num + t den >= 0
            if np.any((den == 0) & (num < 0)):
                continue
            lo = np.max(-num[den > 0] / den[den > 0], initial=-np.inf)
            hi = np.min(-num[den < 0] / den[den < 0], initial=np.inf)
            expected += max(hi - lo, 0.0)
        assert np.isclose(lengths[0][i], expected, rtol=1e-9, atol=1e-9 * geo.length_scale(dom))
        assert lengths[0][i] == pytest.approx(fold_length(p, (0, i)))


# ----------------------------------------------------------------------------- extrema


def lipschitz_bound(layers, activation):
    """Independent Lipschitz bound: product of spectral norms times the largest |slope|."""
    slope = max(abs(s) for *_, s, _ in ACTIVATIONS[activation].pieces)
    return np.prod([np.linalg.norm(W, 2) for W, _ in layers]) * slope ** (len(layers) - 1)


@settings(max_examples=20)
@given(case=nets, pre=st.booleans())
def test_extrema_bound_and_are_attained(case, pre):
    rng, layers, domain, p = build(case)
    act = case["activation"]
    gx = np.linspace(p.domain[:, 0].min(), p.domain[:, 0].max(), 150)
    gy = np.linspace(p.domain[:, 1].min(), p.domain[:, 1].max(), 150)
    G = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    G = np.concatenate([G[inside_convex(p.domain, G)], p.domain])
    zs, hs = forward(layers, G, act)
    for layer in range(len(layers)):
        vals = (zs if pre else hs)[layer]
        lip = lipschitz_bound(layers[: layer + 1], act)
        if not pre and layer < len(layers) - 1:  # one more activation
            lip *= max(abs(s) for *_, s, _ in ACTIVATIONS[act].pieces)
        for i in range(vals.shape[1]):
            ex = neuron_extrema(p, (layer, i), pre=pre)
            size = np.abs(vals[:, i]).max() + 1.0
            at = forward(layers, np.stack([ex.argmax, ex.argmin]), act)[0 if pre else 1][layer][:, i]
            np.testing.assert_allclose(at, [ex.max, ex.min], rtol=0, atol=1e-9 * size)
            assert vals[:, i].max() <= ex.max + 1e-9 * size
            assert vals[:, i].min() >= ex.min - 1e-9 * size
            # the grid comes within Lipschitz * distance of the exact extrema
            for target, best in ((ex.argmax, vals[:, i].max() - ex.max),
                                 (ex.argmin, ex.min - vals[:, i].min())):
                gap = np.hypot(*(G - target).T).min()
                assert best >= -lip * gap - 1e-9 * size
    assert inside_convex(p.domain, np.stack([ex.argmax, ex.argmin]),
                         1e-12 * geo.length_scale(p.domain) ** 2).all()


# ----------------------------------------------------------------------------- superlevel sets


def test_superlevel_area_analytic():
    box = [[-1, 1], [-1, 1]]
    layers = [(np.array([[1.0], [0.0]]), np.zeros(1)), (np.ones((1, 1)), np.zeros(1))]
    p = partition(layers, box, activation="relu")
    assert superlevel_area(p, (0, 0), 0.5) == pytest.approx(1.0, rel=1e-12)
    assert superlevel_area(p, (0, 0), 0.0) == pytest.approx(4.0, rel=1e-12)
    assert superlevel_area(p, (0, 0), -0.5, pre=True) == pytest.approx(3.0, rel=1e-12)
    assert superlevel_area(p, (0, 0), 1.0) <= 1e-12
    assert superlevel_area(p, (1, 0), 0.25) == pytest.approx(1.5, rel=1e-12)


@settings(max_examples=15)
@given(case=nets, q=st.floats(0.05, 0.95))
def test_superlevel_area_matches_monte_carlo(case, q):
    """Against uniform sampling: |MC - exact| <= 5 standard errors (+ 1e-9 A); also the
    extreme thresholds give the full and the empty set."""
    rng, layers, domain, p = build(case)
    act = case["activation"]
    A = p.areas.sum()
    n = 20000
    U = sample_domain(rng, p.domain, n)
    _, hs = forward(layers, U, act)
    layer = int(rng.integers(0, len(layers)))
    i = int(rng.integers(0, p.widths[layer + 1]))
    ex = neuron_extrema(p, (layer, i))
    thr = ex.min + q * (ex.max - ex.min)
    frac = (hs[layer][:, i] >= thr).mean()
    exact = superlevel_area(p, (layer, i), thr)
    se = np.sqrt(max(frac * (1 - frac), 1 / n) / n)
    assert abs(exact / A - frac) <= 5 * se + 1e-9
    assert superlevel_area(p, (layer, i), ex.min) == pytest.approx(A, rel=1e-9)
    size = max(abs(ex.max), abs(ex.min), 1.0)
    assert superlevel_area(p, (layer, i), ex.max + 1e-6 * size) == 0.0


# ----------------------------------------------------------------------------- decision boundary


@settings(max_examples=20)
@given(case=nets)
def test_decision_boundary_is_where_the_top_two_logits_tie(case):
    rng, layers, domain, p = build(case)
    act = case["activation"]
    scale = geo.length_scale(p.domain)
    segs, pairs = decision_boundary(p, classes=True)
    assert np.array_equal(decision_boundary(p), segs)
    if p.widths[-1] == 1:
        assert len(segs) == 0
    if len(segs):
        X = points_on(segs, rng, 3)
        logits = forward(layers, X, act)[1][-1]
        size = np.abs(logits).max() + 1.0
        top = np.sort(logits, 1)
        assert (top[:, -1] - top[:, -2]).max() <= 1e-9 * size
        pair_vals = np.take_along_axis(logits, np.repeat(pairs, 3, 0), 1)
        np.testing.assert_allclose(pair_vals, top[:, -1:].repeat(2, 1), atol=1e-9 * size)
    # completeness: along random lines, every change of the argmax lies on the boundary
    origins, dirs, span = random_lines(rng, p.domain, 3)
    for o, d in zip(origins, dirs):
        lp = partition_line(layers, o, d, (-span, span), activation=act)
        slope, icpt = lp.pre[-1]
        t0, t1 = lp.breakpoints[:-1], lp.breakpoints[1:]
        for k in range(len(lp)):
            g0, g1 = t0[k] * slope[k] + icpt[k], t1[k] * slope[k] + icpt[k]
            if np.argmax(g0) == np.argmax(g1):
                continue
            for a in range(len(g0)):
                for b in range(a + 1, len(g0)):
                    ds = slope[k, a] - slope[k, b]
                    if ds == 0:
                        continue
                    t = -(icpt[k, a] - icpt[k, b]) / ds
                    if not t0[k] <= t <= t1[k]:
                        continue
                    g = t * slope[k] + icpt[k]
                    gsize = np.abs(g).max() + 1.0
                    x = o + t * d
                    if g[a] >= g.max() - 1e-9 * gsize and p.locate(x[None])[0] >= 0:
                        assert distance_to_segments(x[None], segs).min() <= 1e-9 * scale


@settings(max_examples=20)
@given(case=nets)
def test_class_regions_tile_the_domain_by_argmax(case):
    rng, layers, domain, p = build(case)
    regions = class_regions(p)
    assert len(regions) == p.widths[-1]
    polys = [q for cls in regions for q in cls]
    labels = np.concatenate([np.full(len(cls), k) for k, cls in enumerate(regions)])
    areas = geo.polygon_areas(*geo.pack(polys))
    A = p.areas.sum()
    # nothing is dropped by area: a real cell narrower than rounding (a line rounded to pass
    # 1e-16 beside a corner) has a float64 area that rounds to 0 or to minus a rounding error
    assert abs(areas.sum() - A) <= 1e-9 * A and areas.min() >= -1e-13 * A
    U = sample_domain(rng, p.domain, 400)
    winner = np.argmax(forward(layers, U, case["activation"])[1][-1], 1)
    hits = np.stack([inside_convex(q, U) for q in polys], 1)
    assert (hits.sum(1) == 1).all()
    np.testing.assert_array_equal(labels[hits.argmax(1)], winner)


# ----------------------------------------------------------------------------- stats, errors


@settings(max_examples=15)
@given(case=nets)
def test_region_stats(case):
    _, layers, _, p = build(case)
    s = region_stats(p)
    assert s.n_regions == len(p) and s.total_area == pytest.approx(p.areas.sum())
    assert s.min_area <= s.median_area <= s.max_area
    assert np.array_equal(s.n_vertices, p.counts) and s.n_vertices.min() >= 3
    if s.regions_per_layer:
        assert s.regions_per_layer[-1] == len(p)
        assert list(s.regions_per_layer) == sorted(s.regions_per_layer)
    for pat, const in zip(p.patterns, s.constant_neurons):
        assert np.array_equal(const, np.ptp(pat, 0) == 0)


def test_dead_neuron_has_no_fold_and_is_constant():
    layers = random_net(np.random.default_rng(2), [2, 5, 3])
    layers[0][0][:, 1], layers[0][1][1] = 0.0, -1.0
    p = partition(layers, None, activation="relu")
    assert len(folds(p, (0, 1))) == 0 and fold_length(p, (0, 1)) == 0.0
    assert region_stats(p).constant_neurons[0][1]
    ex = neuron_extrema(p, (0, 1))
    assert ex.max == ex.min == 0.0


def test_bad_neuron_arguments():
    p = partition(random_net(np.random.default_rng(0), [2, 4, 2]), activation="relu")
    with pytest.raises(ValueError, match="logit.*decision_boundary"):
        folds(p, (1, 0))
    with pytest.raises(ValueError, match=r"neuron=\(0, 9\) does not exist"):
        neuron_extrema(p, (0, 9))
    with pytest.raises(ValueError, match="pair"):
        fold_length(p, 3)
    with pytest.raises(ValueError, match="threshold"):
        superlevel_area(p, (0, 0), np.nan)
