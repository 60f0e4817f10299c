"""Closed-form polygon moments of Gaussians vs adaptive cubature and exact limits."""

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy.integrate import cubature, quad
from scipy.spatial import ConvexHull
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from toylab.exact.gaussian import (
    Moments,
    mixture_polygon_moments,
    mixture_segment_moments,
    normal_mass,
    pad_csr,
    pad_polygons,
    polygon_moments,
    standard_line_integrals,
)

ATOL = 1e-12  # closed form vs cubature run at 1e-14


def _quad_triangle(tri, mean, cov):
    """(m0, m1, m2) over a triangle by adaptive cubature on the Duffy-mapped unit square."""
    a, b, c = tri
    rv = multivariate_normal(mean, cov)
    jac = abs((b - a)[0] * (c - b)[1] - (b - a)[1] * (c - b)[0])

    def f(uv):
        u, v = uv[:, :1], uv[:, 1:]
        x = a + u * (b - a) + u * v * (c - b)
        w = rv.pdf(x) * u[:, 0] * jac
        outer = x[:, :, None] * x[:, None, :]
        return np.concatenate([w[:, None], w[:, None] * x, w[:, None] * outer.reshape(-1, 4)], 1)

    r = cubature(f, [0.0, 0.0], [1.0, 1.0], rtol=1e-14, atol=1e-15, max_subdivisions=20000)
    assert r.status == "converged"
    est = r.estimate
    return Moments(est[0], est[1:3], est[3:].reshape(2, 2))


def _quad_polygon(poly, mean, cov):
    """Fan-triangulate a convex polygon and sum triangle cubatures."""
    parts = [_quad_triangle(poly[[0, k, k + 1]], mean, cov) for k in range(1, len(poly) - 1)]
    return Moments(*(sum(p[i] for p in parts) for i in range(3)))


def _assert_close(got: Moments, want: Moments, atol=ATOL):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=atol)


gaussians = st.builds(
    lambda mx, my, sx, sy, rho: (np.array([mx, my]),
                                 np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])),
    st.floats(-3, 3), st.floats(-3, 3), st.floats(0.2, 3), st.floats(0.2, 3), st.floats(-0.95, 0.95),
)
offsets = st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=3, max_size=3)
SCALES = {"small": 0.05, "unit": 1.0, "wide": 4.0, "huge": 40.0}


def _triangle(g, offs, scale, shift):
    mean, cov = g
    L = np.linalg.cholesky(cov)
    tri = mean + (np.asarray(offs) * scale + shift) @ L.T
    d1, d2 = tri[1] - tri[0], tri[2] - tri[0]
    return tri, 0.5 * abs(d1[0] * d2[1] - d1[1] * d2[0])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(g=gaussians, offs=offsets, scale=st.sampled_from(sorted(SCALES)),
       shift=st.tuples(st.floats(-7, 7), st.floats(-7, 7)))
def test_triangles_match_cubature(g, offs, scale, shift):
    """Random triangles: containing the mean, far in the tail, tiny, huge."""
    tri, area = _triangle(g, offs, SCALES[scale], np.asarray(shift))
    assume(area > 1e-6 * SCALES[scale] ** 2)  # degenerate ones: test_thin_and_degenerate
    _assert_close(polygon_moments(tri, *g), _quad_triangle(tri, *g))


@settings(max_examples=10, deadline=None, derandomize=True)
@given(g=gaussians, seed=st.integers(0, 2**31 - 1), scale=st.floats(0.3, 5.0))
def test_convex_polygons_match_cubature(g, seed, scale):
    mean, cov = g
    pts = mean + np.random.default_rng(seed).normal(size=(8, 2)) * scale
    poly = pts[ConvexHull(pts).vertices]  # counter-clockwise in 2-D
    _assert_close(polygon_moments(poly, mean, cov), _quad_polygon(poly, mean, cov))


def test_thin_and_degenerate():
    mean, cov = np.array([0.4, -0.1]), np.array([[1.0, 0.3], [0.3, 0.5]])
    thin = np.array([[-2.0, -1.0], [2.5, 1.2], [0.25, 0.1 + 1e-4]])
    _assert_close(polygon_moments(thin, mean, cov), _quad_triangle(thin, mean, cov))
    # edge through the mean (s = 0 in whitened coordinates) and a vertex at the mean
    through = np.array([mean, mean + [3.0, 0.0], mean + [0.0, 2.0]])
    _assert_close(polygon_moments(through, mean, cov), _quad_triangle(through, mean, cov))
    # zero-area polygons and repeated vertices carry nothing extra
    flat = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    _assert_close(polygon_moments(flat, mean, cov), Moments(0.0, np.zeros(2), np.zeros((2, 2))), 0)
    tri = np.array([[-1.0, -1.0], [2.0, 0.0], [0.0, 2.0]])
    dup = tri[[0, 0, 1, 2, 2]]
    _assert_close(polygon_moments(dup, mean, cov), polygon_moments(tri, mean, cov), 1e-15)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(g=gaussians, seed=st.integers(0, 2**31 - 1), angle=st.floats(0, np.pi),
       cut=st.floats(-0.9, 0.9))
def test_additivity_under_a_cut(g, seed, angle, cut):
    """Splitting a convex polygon by a line: the two pieces' moments add up to the whole."""
    mean, cov = g
    pts = mean + np.random.default_rng(seed).normal(size=(10, 2)) * 2.0
    poly = pts[ConvexHull(pts).vertices]
    w = np.array([np.cos(angle), np.sin(angle)])
    proj = poly @ w
    c = proj.min() + (cut + 1) / 2 * (proj.max() - proj.min())
    pieces = [_clip(poly, w, c), _clip(poly, -w, -c)]
    parts = polygon_moments([p for p in pieces if len(p)], mean, cov)
    whole = polygon_moments(poly, mean, cov)
    _assert_close(Moments(*(x.sum(0) for x in parts)), whole, 1e-14)


def _clip(poly, w, c):
    """Sutherland-Hodgman: the part of a convex polygon with ``x . w <= c``."""
    out = []
    for p, q in zip(poly, np.roll(poly, -1, 0)):
        fp, fq = p @ w - c, q @ w - c
        if fp <= 0:
            out.append(p)
        if fp * fq < 0:
            out.append(p + fp / (fp - fq) * (q - p))
    return np.array(out)


def test_nonconvex_and_orientation():
    mean, cov = np.array([0.2, 0.1]), np.array([[0.8, -0.2], [-0.2, 1.1]])
    ell = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)
    parts = polygon_moments([np.array([[0, 0], [2, 0], [2, 1], [0, 1]], float),
                             np.array([[0, 1], [1, 1], [1, 2], [0, 2]], float)], mean, cov)
    _assert_close(polygon_moments(ell, mean, cov), Moments(*(x.sum(0) for x in parts)), 1e-15)
    _assert_close(polygon_moments(ell[::-1], mean, cov), polygon_moments(ell, mean, cov), 1e-15)


@pytest.mark.parametrize("half", [1e2, 1e4, 1e8])
def test_whole_plane_limit(half):
    mean, cov = np.array([1.5, -2.0]), np.array([[2.0, 0.7], [0.7, 0.5]])
    box = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    got = polygon_moments(box, mean, cov)
    _assert_close(got, Moments(1.0, mean, cov + np.outer(mean, mean)), 1e-14)


@pytest.mark.parametrize("h", [-3.0, -0.5, 0.0, 1.0, 4.0, 8.0])
def test_half_plane(h):
    """A huge box cut by a line at Mahalanobis distance h has mass Phi(-h) (unbounded regions)."""
    mean, cov = np.array([0.5, 0.5]), np.array([[1.0, 0.6], [0.6, 2.0]])
    L = np.linalg.cholesky(cov)
    # the whitened half-plane {z : z . u >= h} is {x : (x - mean) . w >= h} with w = L^-T u
    u = np.array([0.6, 0.8])
    w = np.linalg.solve(L.T, u)
    R = 60.0  # > 30 standard deviations: the box's outside mass is far below 1e-16
    box = mean + np.array([[-R, -R], [R, -R], [R, R], [-R, R]])
    piece = _clip(box, -w, -(h + mean @ w))
    got = polygon_moments(piece, mean, cov)
    assert abs(got.m0 - ndtr(-h)) < 1e-14
    # E[Z 1{Z.u >= h}] = u phi(h) in whitened coordinates
    phi = np.exp(-h * h / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(got.m1, mean * ndtr(-h) + L @ u * phi, rtol=0, atol=1e-14)


def test_batch_formats_and_mixture_agree():
    rng = np.random.default_rng(0)
    polys = [rng.normal(size=(k, 2)) for k in (3, 5, 4)]
    polys = [p[ConvexHull(p).vertices] for p in polys]
    means = np.array([[0.0, 0.0], [1.0, -1.0]])
    covs = np.array([[[1.0, 0.2], [0.2, 0.5]], [[0.3, 0.0], [0.0, 2.0]]])
    batch = polygon_moments(polys, means, covs)
    assert batch.m0.shape == (2, 3) and batch.m1.shape == (2, 3, 2) and batch.m2.shape == (2, 3, 2, 2)
    counts = np.array([len(p) for p in polys])
    V = np.zeros((3, 6, 2)) + 99.0
    for i, p in enumerate(polys):
        V[i, : len(p)] = p
    _assert_close(polygon_moments(V, means, covs, counts=counts), batch, 0)
    _assert_close(polygon_moments(pad_polygons(polys), means, covs), batch, 0)
    _assert_close(polygon_moments(pad_csr(np.concatenate(polys), counts), means, covs), batch, 0)
    with pytest.raises(ValueError, match="counts="):
        pad_csr(np.concatenate(polys), counts + 1)
    for k in range(2):
        for i, p in enumerate(polys):
            one = polygon_moments(p, means[k], covs[k])
            _assert_close(one, Moments(*(x[k, i] for x in batch)), 1e-16)

    class Mix:
        pass

    mix = Mix()
    mix.means, mix.covs = means, covs
    _assert_close(mixture_polygon_moments(polys, mix), batch, 0)
    mix.means, mix.covs = np.zeros((2, 3)), np.tile(np.eye(3), (2, 1, 1))
    with pytest.raises(ValueError, match="2-D mixture"):
        mixture_polygon_moments(polys, mix)


def test_bad_input():
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="cov="):
        polygon_moments(tri, np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="mean has shape"):
        polygon_moments(tri, np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="polygons\\[0\\]"):
        polygon_moments([np.zeros((3, 3))], np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="counts="):
        polygon_moments(tri[None], np.zeros(2), np.eye(2), counts=[5])
    with pytest.raises(TypeError, match="polygons is a"):
        polygon_moments("square", np.zeros(2), np.eye(2))


# ----------------------------------------------------------------------------- line integrals


class _Mix:
    """A bare 2-D mixture (means, covs, weights): the gaussian module needs nothing else."""

    def __init__(self, means, covs, weights):
        self.means, self.covs, self.weights = np.asarray(means), np.asarray(covs), weights


MIX = _Mix([[0.0, 0.0], [1.5, -1.0]], [[[1.0, 0.6], [0.6, 0.8]], [[0.2, 0.0], [0.0, 3.0]]],
           np.array([0.3, 0.7]))


@pytest.mark.parametrize("lo, hi", [(-1.0, 2.0), (-40.0, 40.0), (8.0, 9.5), (-9.5, -8.0),
                                    (30.0, 31.0), (-np.inf, 0.3), (0.0, 0.0)])
def test_normal_mass_matches_high_precision(lo, hi):
    """Phi(hi) - Phi(lo) to relative precision in both tails, vs mpmath at 50 digits (the
    tail form of the reference avoids its own cancellation). The relative error allowed,
    ``2 eps (1 + x^2)`` with ``x`` the endpoint nearer 0, is scipy ``ndtr``'s own in the tail
    (``exp(-x^2/2)`` amplifies the rounding of ``x^2``)."""
    mpmath.mp.dps = 50
    want = float(mpmath.ncdf(-lo) - mpmath.ncdf(-hi) if lo + hi > 0
                 else mpmath.ncdf(hi) - mpmath.ncdf(lo))
    x = min(abs(lo), abs(hi))
    assert abs(float(normal_mass(lo, hi)) - want) <= 2.2e-16 * (1 + x * x) * want


def test_segment_moments_match_quadrature():
    """Per-component int N ds and int x N ds along random segments vs scipy.integrate.quad."""
    rng = np.random.default_rng(3)
    S = rng.normal(size=(6, 2, 2)) * 2.0
    got = mixture_segment_moments(S, MIX)
    assert got.m0.shape == (2, 6) and got.m1.shape == (2, 6, 2)
    for k in range(2):
        rv = multivariate_normal(MIX.means[k], MIX.covs[k])
        for s, (a, b) in enumerate(S):
            L = np.linalg.norm(b - a)

            def f(t, j):
                x = a + t * (b - a)
                return rv.pdf(x) * L * (1.0 if j < 0 else x[j])

            want = [quad(f, 0, 1, args=(j,), epsabs=1e-16, epsrel=1e-13)[0] for j in (-1, 0, 1)]
            assert abs(got.m0[k, s] - want[0]) < 1e-14
            np.testing.assert_allclose(got.m1[k, s], want[1:], rtol=0, atol=1e-14)


def test_segment_moments_far_tail_and_whole_line():
    """A long segment on the line x0 = h under N(0, I) carries phi1(h) to relative precision
    (no cancellation in the tail); moments along it are h phi1(h) and 0; a zero-length
    segment carries nothing."""
    mix = _Mix([[0.0, 0.0]], [np.eye(2)], np.ones(1))
    for h in (0.5, 5.0, 25.0):
        seg = np.array([[[h, -60.0], [h, 60.0]], [[h, 1.0], [h, 1.0]]])
        got = mixture_segment_moments(seg, mix)
        phi = np.exp(-h * h / 2) / np.sqrt(2 * np.pi)
        assert got.m0[0, 0] == pytest.approx(phi, rel=1e-14)
        assert got.m1[0, 0, 0] == pytest.approx(h * phi, rel=1e-14)
        assert abs(got.m1[0, 0, 1]) <= 1e-16 * phi
        assert got.m0[0, 1] == 0 and np.all(got.m1[0, 1] == 0)


def test_line_integrals_are_the_polygon_edge_terms():
    """Divergence theorem: E[Z 1_P] = -oint phi n ds, with the standard line integrals."""
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(9, 2)) * 1.5
    poly = pts[ConvexHull(pts).vertices]  # counter-clockwise
    a, b = poly, np.roll(poly, -1, 0)
    line, _ = standard_line_integrals(a, b)
    d = b - a
    outward = np.stack([d[:, 1], -d[:, 0]], 1) / np.linalg.norm(d, axis=1)[:, None]
    flux = -np.sum(outward * line[:, None], 0)
    want = _quad_polygon(poly, np.zeros(2), np.eye(2)).m1
    np.testing.assert_allclose(flux, want, rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="segments has shape"):
        mixture_segment_moments(np.zeros((3, 2)), MIX)
    with pytest.raises(ValueError, match="equal"):
        standard_line_integrals(np.zeros((2, 2)), np.zeros((3, 2)))
