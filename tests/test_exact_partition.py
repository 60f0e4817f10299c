"""toylab.exact.partition: the exact linear-region partition, checked against the plain forward
pass (toylab.models, float64) and brute-force geometry."""

from fractions import Fraction
from math import comb

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

from toylab import models
from toylab.exact import geometry as geo
from toylab.exact import partition, partition_line
from toylab.models import ACTIVATIONS, MLP, PIECEWISE_LINEAR

# ----------------------------------------------------------------------------- helpers

DEGENERACIES = ("dead", "zero_row", "duplicate", "parallel", "corner", "concurrent", "opposite")


def forward(layers, X, activation):
    """Reference: the plain float64 forward pass of toylab.models (pre, post per layer).

    Rows are padded to a multiple of 4096 so that JAX compiles few distinct shapes.
    """
    X = np.asarray(X, np.float64)
    n = len(X)
    padded = np.zeros((-(-n // 4096) * 4096, X.shape[1]))
    padded[:n] = X
    with jax.enable_x64(True):
        out = models.activations([(np.asarray(W), np.asarray(b)) for W, b in layers], padded,
                                 activation)
        return [np.asarray(z)[:n] for z in out.pre], [np.asarray(h)[:n] for h in out.post]


def random_domain(rng, kind):
    """A box ``(2, 2)`` or a convex polygon (hull of random points, random orientation)."""
    if kind == "box":
        lo = rng.uniform(-3, 0, 2)
        return np.stack([lo, lo + rng.uniform(0.5, 4, 2)], 1)
    pts = rng.normal(size=(12, 2)) * rng.uniform(0.5, 3)
    hull = pts[ConvexHull(pts).vertices]
    return hull if rng.random() < 0.5 else hull[::-1]


def random_net(rng, widths, degeneracies=(), domain=None):
    """He-normal weights, N(0, 0.5^2) biases, with the requested degenerate constructions in the
    first hidden layer (dead / zero input row / duplicate / parallel / through a domain corner /
    three lines through one point / same line with opposite orientation) and a dead neuron
    in later layers for 'dead'."""
    layers = [(rng.normal(size=(a, b)) * np.sqrt(2 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(widths[:-1], widths[1:])]
    W, b = layers[0]
    w = W.shape[1]
    corners = geo.as_domain(domain)
    for deg in degeneracies:
        i, j, k = rng.integers(0, w, 3)
        if deg in ("corner", "concurrent") and W.shape[0] != 2:
            continue  # these refer to points of the 2-D input plane
        if deg == "dead":
            for Wl, bl in layers[:-1]:
                q = rng.integers(0, Wl.shape[1])
                Wl[:, q], bl[q] = 0.0, rng.choice([-1.0, 0.0, 1.0])
        elif deg == "zero_row":
            W[rng.integers(0, W.shape[0])] = 0.0
        elif deg == "duplicate" and i != j:
            W[:, j], b[j] = W[:, i], b[i]
        elif deg == "parallel" and i != j:
            W[:, j], b[j] = 2.5 * W[:, i], b[i] + 0.3
        elif deg == "corner":
            b[i] = -corners[rng.integers(0, len(corners))] @ W[:, i]
        elif deg == "concurrent":
            q = rng.uniform(corners.min(0), corners.max(0))
            for m in (i, j, k):
                b[m] = -q @ W[:, m]
        elif deg == "opposite" and i != j:
            W[:, j], b[j] = -W[:, i], -b[i]
    return layers


def inside_convex(poly, U, tol=0.0):
    """Brute force: points ``U`` in the CCW convex polygon ``poly`` (edge cross products)."""
    e = np.roll(poly, -1, 0) - poly
    cross = e[:, 0] * (U[:, None, 1] - poly[:, 1]) - e[:, 1] * (U[:, None, 0] - poly[:, 0])
    return (cross >= -tol).all(1)


def sample_domain(rng, dom, n):
    """``n`` uniform points in the CCW convex polygon ``dom`` (rejection from its box)."""
    out = []
    while sum(len(o) for o in out) < n:
        U = rng.uniform(dom.min(0), dom.max(0), size=(4 * n, 2))
        out.append(U[inside_convex(dom, U)])
    return np.concatenate(out)[:n]


def piece_index(z, activation):
    """Activation piece of each pre-activation (which breakpoints it is above)."""
    bps = np.array(ACTIVATIONS[activation].breakpoints)
    return (z[..., None] > bps).sum(-1)


def fraction_layers(layers):
    """The float64 layers as exact rationals (nested lists of Fractions)."""
    return [([[Fraction(w) for w in row] for row in np.asarray(W).tolist()],
             [Fraction(v) for v in np.asarray(b).tolist()]) for W, b in layers]


def exact_patterns(layers, x, activation):
    """Reference: the forward pass in rational arithmetic (every float64 weight is a rational)
    at one point ``x`` (list of Fractions); per hidden layer the activation piece indices.
    ``layers``: float64 layers, or their :func:`fraction_layers` to convert only once."""
    if isinstance(layers[0][1], np.ndarray):
        layers = fraction_layers(layers)
    bps = [Fraction(b) for b in ACTIVATIONS[activation].breakpoints]
    pieces = [(Fraction(p[2]), Fraction(p[3])) for p in ACTIVATIONS[activation].pieces]
    h, out = list(x), []
    for W, b in layers[:-1]:
        z = list(b)
        for hi, row in zip(h, W):
            if hi:
                z = [zj + hi * w for zj, w in zip(z, row)]
        idx = [sum(zj > beta for beta in bps) for zj in z]
        out.append(np.array(idx, np.int8))
        h = [pieces[k][0] * zj + pieces[k][1] for k, zj in zip(idx, z)]
    return out


def assert_close_rel(got, ref, rtol=1e-9):
    scale = max(np.abs(ref).max(initial=0.0), 1e-300)
    np.testing.assert_allclose(got, ref, rtol=0, atol=rtol * scale)


nets = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "hidden": st.lists(st.integers(1, 8), min_size=1, max_size=3),
    "out": st.integers(1, 4),
    "activation": st.sampled_from(PIECEWISE_LINEAR),
    "degeneracies": st.lists(st.sampled_from(DEGENERACIES), max_size=3, unique=True),
    "domain": st.sampled_from(["box", "polygon"]),
})


def build(case):
    rng = np.random.default_rng(case["seed"])
    domain = random_domain(rng, case["domain"])
    widths = [2] + case["hidden"] + [case["out"]]
    layers = random_net(rng, widths, case["degeneracies"], domain)
    return rng, layers, domain, partition(layers, domain, activation=case["activation"])


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40)
@given(case=nets)
def test_evaluate_equals_forward_pass_for_every_layer(case):
    rng, layers, domain, p = build(case)
    U = sample_domain(rng, p.domain, 2000)
    pre, post = forward(layers, U, case["activation"])
    for layer in range(len(layers)):
        assert_close_rel(p.evaluate(U, layer, pre=True), pre[layer])
        assert_close_rel(p.evaluate(U, layer), post[layer])
    assert_close_rel(p.evaluate(U), post[-1])


@settings(max_examples=30)
@given(case=nets)
def test_regions_tile_the_domain(case):
    rng, layers, domain, p = build(case)
    dom = geo.as_domain(domain)
    dom_area = geo.polygon_areas(dom, np.array([len(dom)]))[0]
    assert abs(p.areas.sum() - dom_area) <= 1e-9 * dom_area
    # no area cutoff: a near-degeneracy (a line rounded to pass 1e-16 beside a corner) is a
    # real cell whose float64 area may round to 0 (or to minus a rounding error)
    assert p.areas.min() >= -1e-13 * dom_area
    np.testing.assert_allclose(geo.polygon_areas(p.vertices, p.counts), p.areas,
                               rtol=1e-12, atol=1e-15 * dom_area)
    # every region is a convex CCW polygon inside the domain
    scale = geo.length_scale(dom)
    for poly in p.polygons:
        e = np.roll(poly, -1, 0) - poly
        turn = e[:, 0] * np.roll(e, -1, 0)[:, 1] - e[:, 1] * np.roll(e, -1, 0)[:, 0]
        assert turn.min() >= -1e-12 * scale**2
        assert inside_convex(dom, poly, tol=1e-12 * scale**2).all()
    # random points lie in exactly one region (brute force over all regions), found by locate
    U = sample_domain(rng, dom, 300)
    hits = np.stack([inside_convex(poly, U) for poly in p.polygons], 1)
    assert (hits.sum(1) == 1).all()
    np.testing.assert_array_equal(p.locate(U), hits.argmax(1))


@settings(max_examples=30)
@given(case=nets)
def test_each_region_has_one_pattern_and_affine_map(case):
    rng, layers, domain, p = build(case)
    act = case["activation"]
    counts = p.counts
    # interior points: centroids and random convex combinations of each region's vertices
    weights = rng.dirichlet(np.ones(counts.max()), size=(len(p), 3))
    combos = []
    for k, poly in enumerate(p.polygons):
        w = weights[k, :, : len(poly)]
        combos.append(w / w.sum(1, keepdims=True) @ poly)
    U = np.concatenate([p.centroids, np.concatenate(combos)])
    region = np.concatenate([np.arange(len(p)), np.repeat(np.arange(len(p)), 3)])
    pre, _ = forward(layers, U, act)
    for layer, (A, c) in enumerate(p.pre):
        z_region = np.einsum("nk,nkw->nw", U, A[region]) + c[region]
        assert_close_rel(z_region, pre[layer])
        if layer < p.n_hidden:
            mismatch = piece_index(pre[layer], act) != p.patterns[layer][region]
            # a different piece only where the float64 forward pass cannot tell (rounding
            # level of the pre-activation at that point: a local, scale-free tolerance)
            tol = 1e-12 * (np.einsum("nk,nkw->nw", np.abs(U), np.abs(A[region]))
                           + np.abs(c[region]))
            bps = np.array(ACTIVATIONS[act].breakpoints)
            gap = np.abs(pre[layer][..., None] - bps).min(-1, initial=np.inf)
            assert np.all(gap[mismatch] <= tol[mismatch])


@settings(max_examples=15)
@given(case=nets)
def test_patterns_identify_regions(case):
    """Each region has its own activation pattern (the pattern sets are convex, so two
    regions with one pattern would have been one region)."""
    _, _, _, p = build(case)
    if p.patterns:
        assert len(np.unique(np.hstack(p.patterns), axis=0)) == len(p)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), d=st.sampled_from([3, 4]),
       activation=st.sampled_from(PIECEWISE_LINEAR))
def test_slices_of_higher_dimensional_inputs(seed, d, activation):
    rng = np.random.default_rng(seed)
    layers = random_net(rng, [d, 6, 5, 3])
    origin, directions = rng.normal(size=d), rng.normal(size=(2, d))
    p = partition(layers, [[-2, 2], [-1, 3]], activation=activation, origin=origin,
                  directions=directions)
    assert abs(p.areas.sum() - 16.0) <= 1e-9 * 16
    U = sample_domain(rng, p.domain, 1000)
    pre, post = forward(layers, origin + U @ directions, activation)
    np.testing.assert_allclose(p.inputs(U), origin + U @ directions)
    for layer in range(len(layers)):
        assert_close_rel(p.evaluate(U, layer), post[layer])
        assert_close_rel(p.evaluate(U, layer, pre=True), pre[layer])


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), d=st.sampled_from([1, 2, 3]),
       activation=st.sampled_from(PIECEWISE_LINEAR),
       degeneracies=st.lists(st.sampled_from(DEGENERACIES), max_size=3, unique=True))
def test_partition_line_equals_forward_pass(seed, d, activation, degeneracies):
    rng = np.random.default_rng(seed)
    layers = random_net(rng, [d, 7, 7, 2], degeneracies)
    origin, direction = rng.normal(size=d), rng.normal(size=d)
    lp = partition_line(layers, origin, direction, (-3.0, 2.0), activation=activation)
    bp = lp.breakpoints
    assert bp[0] == -3.0 and bp[-1] == 2.0 and np.all(np.diff(bp) >= 0)
    t = np.concatenate([rng.uniform(-3, 2, 2000), bp])
    pre, post = forward(layers, origin + t[:, None] * direction, activation)
    for layer in range(len(layers)):
        assert_close_rel(lp.evaluate(t, layer), post[layer])
        assert_close_rel(lp.evaluate(t, layer, pre=True), pre[layer])
    # each segment's pattern is the exact (rational) forward pass's at its exact midpoint;
    # segments shorter than their end points' rounding (near-degeneracies) cannot be probed
    probe = np.flatnonzero(np.diff(bp) > 8e-16 * np.abs(bp).max())
    for k in probe:
        t_mid = (Fraction(bp[k]) + Fraction(bp[k + 1])) / 2
        x = [Fraction(o) + t_mid * Fraction(v) for o, v in zip(origin, direction)]
        for layer, pat in enumerate(exact_patterns(layers, x, activation)):
            np.testing.assert_array_equal(pat, lp.patterns[layer][k])
    assert np.isnan(lp.evaluate([-3.5, 2.5])).all()


def test_line_partition_matches_the_planar_partition():
    """Along a line in a 2-D net, the 1-D breakpoints are where the line crosses region
    edges: every segment midpoint has the pattern of the region it lies in."""
    rng = np.random.default_rng(3)
    layers = random_net(rng, [2, 10, 10, 3])
    p = partition(layers, None, activation="relu")
    lp = partition_line(layers, np.array([-4.0, -1.0]), np.array([1.0, 0.3]), (0.0, 8.0),
                        activation="relu")
    mid = (lp.breakpoints[:-1] + lp.breakpoints[1:]) / 2
    r = p.locate(np.array([-4.0, -1.0]) + mid[:, None] * np.array([1.0, 0.3]))
    for pat2, pat1 in zip(p.patterns, lp.patterns):
        np.testing.assert_array_equal(pat2[r], pat1)


# ----------------------------------------------------------------------------- exact counts


def test_arrangement_of_lines_in_general_position_has_known_region_count():
    """n lines with all pairwise intersections inside the domain cut it into 1 + n + C(n, 2)
    regions (Zaslavsky / Euler)."""
    rng = np.random.default_rng(0)
    n = 12
    angles = np.sort(rng.uniform(0, np.pi, n))
    W = np.stack([np.cos(angles), np.sin(angles)])
    b = rng.uniform(-1, 1, n)
    A = np.stack([W.T[:, None].repeat(n, 1), W.T[None].repeat(n, 0)], 2)
    iu = np.triu_indices(n, 1)
    X = np.linalg.solve(A[iu], -np.stack([b[iu[0]], b[iu[1]]], 1)[..., None])[..., 0]
    half = np.abs(X).max() + 1.0
    p = partition([(W, b), (np.ones((n, 1)), np.zeros(1))], [[-half, half]] * 2,
                  activation="relu")
    assert len(p) == 1 + n + comb(n, 2)


@pytest.mark.parametrize("activation", PIECEWISE_LINEAR)
def test_degenerate_lines_create_no_slivers(activation):
    """Lines through domain corners, three lines through one point, duplicated, opposite and
    zero neurons: the counts and areas are known exactly."""
    box = [[-1, 1], [-1, 1]]
    # diagonal through two corners; three lines through the origin (one duplicated, one
    # reversed); a zero neuron; all on [-1, 1]^2
    W = np.array([[1.0, 1.0, 0.0, 1.0, 1.0, -1.0, 0.0],
                  [1.0, 0.0, 1.0, -1.0, -1.0, 1.0, 0.0]])
    b = np.zeros(7)
    p = partition([(W, b), (np.ones((7, 1)), np.zeros(1))], box, activation=activation)
    n_bp = len(ACTIVATIONS[activation].breakpoints)
    if n_bp == 0:
        assert len(p) == 1
    elif activation == "hard_tanh":
        assert np.isclose(p.areas.sum(), 4.0, rtol=1e-12) and p.areas.min() > 1e-3
    else:
        # four distinct lines through the centre, at 0, 45, 90 and 135 degrees: 8 triangles
        assert len(p) == 8
        np.testing.assert_allclose(np.sort(p.areas), np.full(8, 0.5), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "abs"])
def test_four_lines_through_every_grid_point(activation):
    """Lines x = k, y = k, x + y = k, x - y = k (integer k) on [-4, 4]^2: four lines meet at
    every integer point, and every unit square splits into 4 triangles of area 1/4."""
    ks, kd = np.arange(-4, 5), np.arange(-8, 9)
    one = np.ones
    W = np.concatenate([np.stack([one(9), 0 * ks]), np.stack([0 * ks, one(9)]),
                        np.stack([one(17), one(17)]), np.stack([one(17), -one(17)])], 1)
    b = -np.concatenate([ks, ks, kd, kd]).astype(float)
    p = partition([(W, b), (np.ones((len(b), 1)), np.zeros(1))], [[-4, 4], [-4, 4]],
                  activation=activation)
    assert len(p) == 256
    np.testing.assert_allclose(p.areas, 0.25, rtol=1e-12)
    assert np.all(p.counts == 3)


def test_parallel_and_dead_neurons():
    box = [[0, 4], [0, 1]]
    W = np.array([[1.0, 2.0, -3.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    b = np.array([-1.0, -4.0, 9.0, -1.0, -1.0])  # lines x = 1, 2, 3; a dead neuron; a duplicate
    p = partition([(W, b), (np.ones((5, 2)), np.zeros(2))], box, activation="relu")
    assert len(p) == 4
    np.testing.assert_allclose(np.sort(p.areas), np.ones(4), rtol=1e-12)
    assert np.all(p.patterns[0][:, 3] == 0)


def test_mlp_input_and_default_domain():
    model = MLP((2, 6, 3), "leaky_relu", rngs=nnx.Rngs(0))
    p = partition(model)
    assert p.activation == "leaky_relu" and p.widths == (2, 6, 3)
    np.testing.assert_array_equal(p.domain, geo.as_domain(geo.DEFAULT_BOX))
    U = np.random.default_rng(0).uniform(-4, 4, (500, 2))
    layers, _ = models.as_layers(model, dtype=np.float64)
    assert_close_rel(p.evaluate(U), forward(layers, U, "leaky_relu")[1][-1])


def test_points_outside_the_domain():
    p = partition([(np.eye(2), np.zeros(2)), (np.ones((2, 1)), np.zeros(1))], [[0, 1], [0, 1]],
                  activation="relu")
    U = np.array([[0.5, 0.5], [1.5, 0.5], [-0.1, 0.2], [1.0, 1.0]])
    np.testing.assert_array_equal(p.locate(U) >= 0, [True, False, False, True])
    assert np.isnan(p.evaluate(U)[1:3]).all() and not np.isnan(p.evaluate(U)[[0, 3]]).any()


def test_distribution_like_domain_and_polygon_orientation():
    class Dist:
        domain = np.array([[-2.0, 1.0], [0.0, 3.0]])

    layers = random_net(np.random.default_rng(1), [2, 5, 2])
    p1 = partition(layers, Dist(), activation="abs")
    p2 = partition(layers, [[-2, 0], [-2, 3], [1, 3], [1, 0]], activation="abs")  # clockwise
    assert len(p1) == len(p2)
    np.testing.assert_allclose(np.sort(p1.areas), np.sort(p2.areas), rtol=1e-12)


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_problem():
    layers = random_net(np.random.default_rng(0), [2, 4, 2])
    with pytest.raises(ValueError, match="smooth.*toylab.symbolic.*toylab.exact.smooth"):
        partition(layers, activation="tanh")
    with pytest.raises(ValueError, match="not convex"):
        partition(layers, [[0, 0], [2, 0], [1, 0.5], [2, 2], [0, 2]], activation="relu")
    with pytest.raises(ValueError, match="not convex"):  # a pentagram: every turn is left
        star = np.array([[np.cos(a), np.sin(a)] for a in np.pi / 2 + 4 * np.pi / 5 * np.arange(5)])
        partition(layers, star, activation="relu")
    with pytest.raises(ValueError, match="repeated vertices"):
        partition(layers, [[0, 0], [1, 0], [1, 0], [0, 1]], activation="relu")
    with pytest.raises(ValueError, match="zero area"):
        partition(layers, [[0, 0], [1, 1], [2, 2]], activation="relu")
    with pytest.raises(ValueError, match="empty"):
        partition(layers, [[1, 0], [0, 1]], activation="relu")
    with pytest.raises(ValueError, match="shape"):
        partition(layers, np.zeros((4, 3)), activation="relu")
    with pytest.raises(ValueError, match="directions="):
        partition(random_net(np.random.default_rng(0), [3, 4, 2]), activation="relu")
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        partition(random_net(np.random.default_rng(0), [3, 4, 2]), activation="relu",
                  directions=np.eye(2))
    with pytest.raises(ValueError, match="activation="):
        partition(layers)
    big = random_net(np.random.default_rng(0), [2, 16, 16, 2])
    with pytest.raises(ValueError, match=r"reached \d+ regions.*max_regions=10.*max_regions="):
        partition(big, activation="relu", max_regions=10)
    p = partition(layers, activation="relu")
    with pytest.raises(ValueError, match="layer=5"):
        p.evaluate(np.zeros((1, 2)), 5)
    with pytest.raises(ValueError, match="t_range"):
        partition_line(layers, np.zeros(2), np.ones(2), (1.0, 1.0), activation="relu")


@pytest.mark.parametrize("where", ["weights", "offsets"])
def test_float64_overflow_is_an_error_not_infinite_maps(where):
    """Finite layers whose products overflow float64 -- in a slope (huge weights) or only in an
    offset (huge biases times moderate weights, with every slope finite) -- stop the planar and
    the line partition with an error naming the layer, instead of returning inf maps."""
    big = np.array([[1e300, 0.0], [0.0, 1e300]]) if where == "weights" else np.eye(2)
    layers = [(big, np.full(2, 1e308 if where == "offsets" else 0.0)),
              (np.full((2, 1), 1e10), np.zeros(1))]
    with pytest.warns(RuntimeWarning, match="overflow"):
        with pytest.raises(ValueError, match="overflowed float64 in the pre-activation maps of "
                                             "layer 1.*rescale"):
            partition(layers, activation="relu")
        with pytest.raises(ValueError, match="overflowed float64 .*layer 1"):
            partition_line(layers, np.zeros(2), np.ones(2), activation="relu")


def test_numpy_hugepage_setting_is_restored_after_a_partition_and_an_error():
    """partition turns numpy's huge-page advice off while it runs (a speed setting of this
    VM's kernel) and must leave numpy's global state as it found it, error or not."""
    import sys
    switch = sys.modules["toylab.exact.partition"]._hugepage_switch()
    if switch is None:
        pytest.skip("this numpy has no _set_madvise_hugepage")
    layers = random_net(np.random.default_rng(0), [2, 16, 16, 2])
    original = switch(True)
    try:
        for setting in (True, False):
            switch(setting)
            partition(layers, activation="relu")
            assert switch(setting) is setting
            with pytest.raises(ValueError, match="max_regions=10"):
                partition(layers, activation="relu", max_regions=10)
            assert switch(setting) is setting
    finally:
        switch(original)


@pytest.mark.parametrize("hidden_maps", [True, False])
@pytest.mark.parametrize("widths", [[2, 24, 24, 3], [2, 48, 48, 48, 3]])
def test_memory_guard_admits_exactly_its_estimate_and_the_estimate_bounds_the_peak(
        widths, hidden_maps):
    """The guard checks, as the partition grows, the same sums :func:`peak_bytes_estimate`
    reports for the finished partition (its final step included: the compacted vertices and
    every final region's pieces per layer, 1.4 GB at 10^6 regions of 2-256^6): a limit of
    the estimate passes, one byte less stops. And the estimate bounds the peak of what numpy
    allocated (tracemalloc), final step included, by at most twice it beyond the fixed
    allowance for the working chunks. With ``hidden_maps=False`` too, where each hidden
    layer's maps are freed as the next layer's are formed."""
    import sys
    import tracemalloc

    module = sys.modules["toylab.exact.partition"]
    layers = random_net(np.random.default_rng(3), widths)
    tracemalloc.start()
    try:
        p = partition(layers, activation="relu", hidden_maps=hidden_maps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    need = module.peak_bytes_estimate(p)
    assert peak <= need <= module._WORKING_BYTES + 2 * peak  # a bound, and not a loose one
    run = dict(activation="relu", hidden_maps=hidden_maps)
    assert len(partition(layers, max_bytes=need, **run)) == len(p)
    with pytest.raises(ValueError, match=r"above max_bytes="):
        partition(layers, max_bytes=need - 1, **run)


def test_without_hidden_maps_the_same_partition_and_logits_in_less_memory():
    """``hidden_maps=False`` frees each hidden layer's maps once the next layer's are formed:
    the regions, patterns and logits are bit for bit those of the full partition, the memory
    estimate is lower for a deep net, and reading a hidden layer's maps is a clear error."""
    import sys

    estimate = sys.modules["toylab.exact.partition"].peak_bytes_estimate
    layers = random_net(np.random.default_rng(4), [2, 40, 40, 40, 40, 3], ("dead", "parallel"))
    full = partition(layers, activation="relu")
    lean = partition(layers, activation="relu", hidden_maps=False)
    for name in ("vertices", "offsets", "areas", "edge_lines", "vertex_rad"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name))
    for a, b in zip(lean.patterns + lean.table_rows + lean.tables[-1],
                    full.patterns + full.table_rows + full.tables[-1]):
        np.testing.assert_array_equal(a, b)
    U = np.random.default_rng(5).uniform(-3, 3, (500, 2))
    np.testing.assert_array_equal(lean.evaluate(U), full.evaluate(U))
    np.testing.assert_array_equal(lean.pre[-1][0], full.pre[-1][0])
    assert lean.tables[:-1] == (None,) * 4
    assert estimate(lean) < estimate(full)
    for read in (lambda: lean.pre[1], lambda: lean.post[0], lambda: lean.evaluate(U, 2)):
        with pytest.raises(ValueError, match=r"maps of hidden layer \d were not kept.*"
                                             r"hidden_maps=True"):
            read()


@pytest.mark.parametrize("scale", [1.0, 1e-200, 1e-310])
def test_tiny_weights_still_fold(scale):
    """A neuron with tiny (even subnormal) weights still splits the domain: the crossing
    test must not underflow (s * s_next < 0 would be -0.0 < 0, False)."""
    net = [(np.array([[scale], [0.0]]), np.zeros(1)), (np.ones((1, 1)), np.zeros(1))]
    p = partition(net, [[-1, 1], [-1, 1]], activation="relu")
    assert len(p) == 2
    np.testing.assert_allclose(np.sort(p.areas), [2.0, 2.0])


# ----------------------------------------------------------------------------- segment geometry


def test_clip_segments_against_sampled_membership():
    """Liang-Barsky clipping against a box equals the sampled part of each segment in the box."""
    rng = np.random.default_rng(0)
    box = np.array([[-1.0, 2.0], [-0.5, 1.5]])
    S = rng.uniform(-3, 3, size=(300, 2, 2))
    S[:5, :, 0] = 2.0  # on the right side: touching segments are kept or dropped consistently
    clipped = geo.clip_segments(S, *geo.box_halfplanes(box))
    t = np.linspace(0, 1, 2001)
    pts = S[:, None, 0] + t[None, :, None] * (S[:, None, 1] - S[:, None, 0])  # (n, T, 2)
    inside = ((pts >= box[:, 0]) & (pts <= box[:, 1])).all(-1)
    hit = inside.sum(1) >= 2
    assert len(clipped) == hit.sum()
    a, d = S[hit, 0], S[hit, 1] - S[hit, 0]
    t_clip = np.einsum("nkj,nj->nk", clipped - a[:, None], d) / (d * d).sum(1)[:, None]
    t_in = np.where(inside[hit], t, np.nan)
    # the clipped ends are the first and last sampled parameters inside, within one step
    np.testing.assert_allclose(t_clip[:, 0], np.nanmin(t_in, 1), atol=1 / 2000)
    np.testing.assert_allclose(t_clip[:, 1], np.nanmax(t_in, 1), atol=1 / 2000)
    assert np.all((clipped >= box[:, 0] - 1e-12) & (clipped <= box[:, 1] + 1e-12))
    with pytest.raises(ValueError, match="box has shape"):
        geo.box_halfplanes(np.zeros((3, 2)))


def test_point_segment_distances_and_nearest_segment():
    """Distances against a dense sampling of each segment (an upper bound that converges), and
    the pruned nearest-segment distance against the dense minimum."""
    rng = np.random.default_rng(1)
    S = rng.normal(size=(40, 2, 2))
    S[0, 1] = S[0, 0]  # a zero-length segment is its point
    P = rng.normal(size=(200, 2)) * 2
    D = geo.point_segment_distances(P, S)
    t = np.linspace(0, 1, 4001)
    samples = S[:, None, 0] + t[None, :, None] * (S[:, None, 1] - S[:, None, 0])  # (m, T, 2)
    sampled = np.linalg.norm(P[:, None, None] - samples[None], axis=-1).min(-1)
    step = np.linalg.norm(S[:, 1] - S[:, 0], axis=1) / 4000
    assert np.all(D <= sampled + 1e-12)
    assert np.all(sampled - D <= step[None] / 2 + 1e-12)
    np.testing.assert_array_equal(geo.segment_distance(P, S), D.min(1))
    np.testing.assert_array_equal(geo.segment_distance(P, S[:3]), D[:, :3].min(1))
    assert np.all(np.isinf(geo.segment_distance(P[:3], np.zeros((0, 2, 2)))))
    assert geo.segment_distance(np.zeros((0, 2)), S).shape == (0,)
    # past BRUTE_PAIRS the cell-pruned path runs: the same minimum, bit for bit
    S_many = rng.normal(size=(300, 2, 2))
    P_many = np.concatenate([rng.normal(size=(2000, 2)) * 3, P])
    assert len(P_many) * len(S_many) > geo.BRUTE_PAIRS
    np.testing.assert_array_equal(geo.segment_distance(P_many, S_many),
                                  geo.point_segment_distances(P_many, S_many).min(1))


# ----------------------------------------------------------------------------- scale-free exactness


def _lines_crossing_near_origin(rng, n, radius):
    """A 2-n relu layer whose n lines pass at distances 0.3..1 x ``radius`` from the origin,
    with normals within 0.8 pi of each other; random scales and orientations. Returns
    ``(W (2, n), b (n,), r)`` with ``r`` the largest |coordinate| of a pairwise crossing."""
    theta = np.sort(rng.uniform(0, 0.8 * np.pi, n))
    scale = rng.uniform(0.5, 2, n) * rng.choice([-1.0, 1.0], n)
    W = np.stack([np.cos(theta), np.sin(theta)]) * scale
    b = -radius * scale * rng.uniform(0.3, 1.0, n)
    i, j = np.triu_indices(n, 1)
    M = np.stack([W.T[i], W.T[j]], 1)  # (pairs, 2, 2)
    X = np.linalg.solve(M, -np.stack([b[i], b[j]], 1)[..., None])[..., 0]
    return W, b, np.abs(X).max(initial=0.0)


def _net_283():
    """The 2-8-3 net of issue 11: its 8 lines cross within |x| < 70 (37 regions)."""
    rng = np.random.default_rng(0)
    W, b, r = _lines_crossing_near_origin(rng, 8, 20.0)
    assert r < 70
    return [(W, b), (rng.normal(size=(8, 3)), rng.normal(size=3))]


@pytest.mark.parametrize("half", [100.0, 1e3, 1e6, 1e8, 1e10, 1e14])
def test_the_283_net_has_37_regions_on_every_box(half):
    """Issue 11 item 2: toylab used to give 37 regions on +-100, 36 on +-1e6, 18 on +-1e8, 16
    on +-1e10, and values off by up to 6.6 near the crossings."""
    layers = _net_283()
    p = partition(layers, [[-half, half], [-half, half]], activation="relu")
    assert len(p) == 37 == 1 + 8 + comb(8, 2)
    assert abs(p.areas.sum() - 4 * half * half) <= 1e-12 * 4 * half * half
    rng = np.random.default_rng(1)
    U = np.concatenate([rng.uniform(-70, 70, (3000, 2)), rng.uniform(-half, half, (1000, 2))])
    _, post = forward(layers, U, "relu")
    assert_close_rel(p.evaluate(U), post[-1], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), log_scale=st.floats(-3, 10), n=st.integers(2, 9),
       log_box=st.floats(0.01, 8))
def test_region_count_does_not_depend_on_the_box(seed, log_scale, n, log_box):
    """n lines in general position crossing within ``r`` (about 1..100 x scale) of the
    origin: 1 + n + C(n, 2) regions on every box from 10^0.01 to 10^8 times ``r``, at scales
    1e-3..1e10; the maps equal the forward pass (relative 1e-9 of the largest value, near the
    crossings and over the box) and the areas tile the box."""
    rng = np.random.default_rng(seed)
    scale = 10.0**log_scale
    W, b, r = _lines_crossing_near_origin(rng, n, scale)
    layers = [(W, b), (rng.normal(size=(n, 2)), rng.normal(size=2))]
    half = r * 10.0**log_box
    p = partition(layers, [[-half, half], [-half, half]], activation="relu")
    assert len(p) == 1 + n + comb(n, 2)
    assert abs(p.areas.sum() - 4 * half * half) <= 1e-12 * 4 * half * half
    near = rng.uniform(-r, r, (500, 2))
    for U in (near, rng.uniform(-half, half, (500, 2))):
        _, post = forward(layers, U, "relu")
        assert_close_rel(p.evaluate(U), post[-1])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), log_scale=st.floats(-3, 10),
       activation=st.sampled_from(["relu", "abs", "leaky_relu"]))
def test_deep_partitions_are_the_same_at_every_scale(seed, log_scale, activation):
    """A 2-6-5-3 net whose features sit at ``scale`` (first-layer weights divided by it) on a
    box of size ``scale``: the same regions (count and activation patterns) as at scale 1 --
    the patterns are scale invariant in exact arithmetic, and a generic net is far from the
    rounding-level near-degeneracies where the rescaled weights could differ -- and the maps
    equal the forward pass; areas tile the box."""
    rng = np.random.default_rng(seed)
    scale = 10.0**log_scale
    layers = random_net(rng, [2, 6, 5, 3])
    scaled = [(layers[0][0] / scale, layers[0][1])] + layers[1:]
    ref = partition(layers, [[-3, 3], [-2, 4]], activation=activation)
    p = partition(scaled, [[-3 * scale, 3 * scale], [-2 * scale, 4 * scale]],
                  activation=activation)
    assert len(p) == len(ref)
    key = lambda q: sorted(map(bytes, np.hstack(q.patterns)))  # noqa: E731
    assert key(p) == key(ref)
    assert abs(p.areas.sum() - 36 * scale**2) <= 1e-12 * 36 * scale**2
    U = sample_domain(rng, p.domain, 1000)
    pre, post = forward(scaled, U, activation)
    for layer in range(len(scaled)):
        assert_close_rel(p.evaluate(U, layer), post[layer])
        assert_close_rel(p.evaluate(U, layer, pre=True), pre[layer])


@pytest.mark.slow
def test_w192_net_keeps_its_tiny_cells():
    """Issue 16: the 2-192-192-192-3 He net (N(0, 0.5^2) biases, seed 0) on [-4, 4]^2 has
    138,581 regions; the old area cutoff merged the 6 of area 5e-16..5e-14. Each of them is
    checked by the exact rational forward pass at its centroid (its pattern, and no other
    region has that pattern); the maps equal the forward pass at every centroid."""
    rng = np.random.default_rng(0)
    widths = (2, 192, 192, 192, 3)
    layers = [(rng.normal(size=(a, b)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.5)
              for a, b in zip(widths[:-1], widths[1:])]
    p = partition(layers, [[-4.0, 4.0], [-4.0, 4.0]], activation="relu")
    assert len(p) == 138_581
    assert abs(p.areas.sum() - 64.0) <= 1e-9 * 64.0
    full = np.hstack(p.patterns)
    rows = np.ascontiguousarray(np.packbits(full, axis=1)).view(f"V{(full.shape[1] + 7) // 8}")
    assert len(np.unique(rows)) == len(p)  # every region its own pattern
    tiny = np.flatnonzero(p.areas < 1e-13)
    assert len(tiny) == 6 and p.areas[tiny].min() > 0
    exact = fraction_layers(layers)
    for r in tiny:
        x = [Fraction(v) for v in p.centroids[r]]
        assert np.array_equal(np.concatenate(exact_patterns(exact, x, "relu")), full[r])
    # every region's maps equal the forward pass at its centroid (138,581 points; without
    # point location, whose bucket grid takes longer to build than the partition here)
    U = p.centroids
    pre, _ = forward(layers, U, "relu")
    for layer, (A, c) in enumerate(p.pre):
        assert_close_rel(np.einsum("nk,nkw->nw", U, A) + c, pre[layer])
