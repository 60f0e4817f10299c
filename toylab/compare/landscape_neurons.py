"""Loss-landscape directions in input space: how a parameter direction moves every neuron's
response, the decision boundary and every neuron's fold, weighted by the data; and which
neurons it involves.

:func:`first_order_change` gives the exact derivative along a parameter direction ``v`` of
every region's affine maps (``jax.jvp`` of the input-Jacobian at the region's centroid, on the
exact partition), the normal velocity of every decision-boundary segment and the rate of change
of the population accuracy. A unit direction ``v`` (a Hessian eigenvector) then moves each
piece of the decision boundary and of each hidden neuron's fold along its normal with the
exact first-order *normal velocity* ``w(u) = -dz(u) / |grad_u z|``, where ``z`` is the
tie-line (boundary) or pre-activation (fold) affine map of the region and ``dz = u . dA + dc``
its derivative along ``v``. ``w`` is affine along each segment, so everything below is a
closed-form line integral of ``|affine| x Gaussian mixture density``
(:func:`segment_integrals`):

* ``mass = int p ds``: data density along the curve (probability per unit length, summed);
* ``flux = int |w| p ds``: the rate at which probability mass is swept by the moving curve per
  unit parameter step (for the decision boundary: the first-order rate at which points change
  predicted class) -- the data-weighted displacement;
* ``motion = int |w| ds``: the purely geometric displacement rate (no data weighting);
* ``flux / mass``: the mean normal speed of the curve, weighted by the density along it;
* ``flux / motion`` inside a window (the data's domain box): the mean data density where the
  curve moves (small when a direction moves folds where there is no data).

Neuron participation of a direction is :func:`toylab.landscape.neuron_shares` and its
participation ratio (effective number of neurons): parameter-space attribution, which needs no
partition and lives in :mod:`toylab.landscape.neurons`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from toylab.compare.checks import check_box
from toylab.compare.editing import hidden_neurons
from toylab.exact.boundary import decision_boundary, folds
from toylab.exact.gaussian import check_plane_mixture, mixture_segment_moments
from toylab.exact.partition import Partition
from toylab.landscape import neuron_shares, participation_ratio
from toylab.landscape.problem import check_direction, flat_params
from toylab.models import activations, get_activation, unflatten


# ----------------------------------------------------------------------------- first-order change

CONSISTENCY_RTOL = 1e-9
"""Largest relative mismatch allowed between the affine maps jax finds at a region's interior
point and the partition's own maps (a larger one means the point was not interior)."""


@partial(jax.jit, static_argnames=("widths", "activation"))
def _region_maps(theta, v, U, origin, directions, widths, activation):
    """Per region (rows of ``U``), every layer's pre-activation map ``(A (2, w), c (w,))`` at
    ``theta`` and its derivative along ``v`` (jvp in ``theta`` of the input-Jacobian)."""

    def maps(t, u):
        pre = lambda uu: tuple(activations(unflatten(t, widths), origin + uu @ directions,
                                           activation).pre)
        A = tuple(j.T for j in jax.jacfwd(pre)(u))
        return A, tuple(z - u @ a for z, a in zip(pre(u), A))

    def one(u):
        return jax.jvp(lambda t: maps(t, u), (theta,), (v,))

    return jax.vmap(one)(U)


class FirstOrderChange(NamedTuple):
    """Exact first-order change of a piecewise-linear net along a parameter direction ``v``,
    on its exact linear-region partition (slice coordinates ``u``).

    Attributes:
        pre: per layer incl. the logits, ``(dA (R, 2, w), dc (R, w))``: in region ``r`` the
            pre-activation ``z = u @ A[r] + c[r]`` changes at rate ``u @ dA[r] + dc[r]``.
        post: the same for post-activations (hidden: piece slope x ``pre``; logits: = pre).
        segments: ``(S, 2, 2)`` decision-boundary segments
            (:func:`toylab.exact.decision_boundary`); pairs: ``(S, 2)`` tied classes ``[k, j]``.
        normals: ``(S, 2)`` unit normals ``grad_u (z_k - z_j) / |.|``, pointing into class k.
        velocity: ``(S, 2)`` normal velocity of the tie line at both segment ends,
            ``-(u . da + db) / |a|`` with ``a, b`` the tie line's coefficients: positive means
            the boundary moves into class k's cell (class j gains).
        accuracy_rate: ``d/de`` of the population accuracy along ``v`` (``None`` without a
            distribution).
    """

    pre: tuple
    post: tuple
    segments: np.ndarray
    pairs: np.ndarray
    normals: np.ndarray
    velocity: np.ndarray
    accuracy_rate: float | None


def _check_interior(p, maps) -> None:
    for layer, ((A, c), (A_ref, c_ref)) in enumerate(zip(zip(*maps), p.pre)):
        scale = max(np.abs(A_ref).max(), np.abs(c_ref).max(), 1.0)
        err = max(np.abs(np.asarray(A) - A_ref).max(), np.abs(np.asarray(c) - c_ref).max())
        if err > CONSISTENCY_RTOL * scale:
            raise ValueError(
                f"layer {layer}: the affine maps at the region centroids differ from the "
                f"partition's by {err:.2e}; a centroid lies on a fold (degenerate region). "
                "Recompute the partition (toylab.exact.partition) for these exact parameters"
            )


def _boundary_motion(p, pre_rates):
    """Segments, pairs, unit normals and end-point normal velocities of the decision boundary."""
    segments, pairs = decision_boundary(p, classes=True)
    A, c = p.pre[-1]
    dA, dc = pre_rates[-1]
    region = p.locate(segments.mean(axis=1))
    k, j = pairs[:, 0], pairs[:, 1]
    a = A[region, :, k] - A[region, :, j]                     # (S, 2)
    da, db = dA[region, :, k] - dA[region, :, j], dc[region, k] - dc[region, j]
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    rate = np.einsum("sei,si->se", segments, da) + db[:, None]  # (S, 2) at both ends
    return segments, pairs, a / norm, -rate / norm


def _accuracy_rate(p, dist, segments, pairs, velocity) -> float:
    """``sum_seg int w(s) [p(x, j) - p(x, k)] ds`` (joint densities ``pi_c p(x | c)``, in
    slice coordinates, times ``|det directions|``), in closed form: ``w`` is affine along each
    segment, so with ``t in [0, 1]`` along a segment of input length ``L_x``,
    ``int_0^1 w(t) f dt = w_0 F_0 / L_x + (w_1 - w_0) F_1 / L_x^2`` for the line integrals
    ``F_0 = int f ds``, ``F_1 = int s f ds`` of each class's joint density
    (:func:`toylab.exact.gaussian.mixture_segment_moments`)."""
    if p.widths[0] != 2:
        raise ValueError("accuracy_rate needs a partition of the 2-D input plane "
                         f"(the net takes {p.widths[0]}-D inputs)")
    X = p.inputs(segments.reshape(-1, 2)).reshape(-1, 2, 2)
    length_u = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    delta = X[:, 1] - X[:, 0]
    length_x = np.linalg.norm(delta, axis=1)
    keep = length_x > 0
    if not keep.any():
        return 0.0
    X, delta, length_x, length_u = X[keep], delta[keep], length_x[keep], length_u[keep]
    velocity, pairs = velocity[keep], pairs[keep]
    mom = mixture_segment_moments(X, dist)                      # (K, S), (K, S, 2)
    e = delta / length_x[:, None]
    along = np.einsum("si,ksi->ks", e, mom.m1 - X[None, :, 0] * mom.m0[..., None])
    weights = np.asarray(dist.weights, np.float64)
    labels = np.asarray(dist.labels)
    k, j = pairs[:, 0], pairs[:, 1]
    sign = ((labels[:, None] == j[None]).astype(float)
            - (labels[:, None] == k[None]).astype(float)) * weights[:, None]   # (K, S)
    F0, F1 = np.sum(sign * mom.m0, 0), np.sum(sign * along, 0)
    w0, dw = velocity[:, 0], velocity[:, 1] - velocity[:, 0]
    per_segment = length_u * (w0 * F0 / length_x + dw * F1 / length_x**2)
    return float(np.sum(per_segment) * abs(np.linalg.det(p.directions)))


def first_order_change(p, v, *, dist=None) -> FirstOrderChange:
    """Exact first-order change of every neuron's response and of the decision boundary of a
    piecewise-linear net along a parameter direction ``v``.

    Inside a region the activation pattern is fixed, so each layer's pre-activation is an
    affine map of ``u`` whose coefficients are polynomials in the parameters; their
    derivative along ``v`` is ``jax.jvp`` of the input-Jacobian at the region's centroid --
    exact, not a finite difference (checked against the partition's own maps). Boundary
    segments move with the normal velocity of their tie line; the population accuracy
    changes at the rate ``sum_seg int w [p(x, j) - p(x, k)] ds``.

    Args:
        p: :class:`toylab.exact.Partition` of the net (``toylab.exact.partition`` or
            ``toylab.exact.population.population_partition``).
        v: ``(P,)`` parameter direction in the flat order.
        dist: optional 2-D :class:`toylab.data.GaussianMixture` for ``accuracy_rate``.
    Returns:
        :class:`FirstOrderChange`.
    """
    if not isinstance(p, Partition):
        raise TypeError(f"p is a {type(p).__name__}; pass the exact partition of the net, "
                        "toylab.exact.partition(net, domain, activation=...) or "
                        "toylab.exact.population_partition(net, dist, activation=...)")
    if dist is not None:
        check_plane_mixture(dist)
    theta, widths, activation = flat_params(p.layers, p.activation)
    v = check_direction(v, theta.size, "v")
    with jax.enable_x64(True):
        maps, rates = _region_maps(jnp.asarray(theta), jnp.asarray(v),
                                   jnp.asarray(p.centroids), jnp.asarray(p.origin),
                                   jnp.asarray(p.directions), widths, activation)
        maps, rates = jax.tree.map(np.asarray, (maps, rates))
    _check_interior(p, maps)
    pre = tuple(zip(*rates))
    slopes = np.array([piece[2] for piece in get_activation(activation).pieces])
    post = tuple((dA * slopes[pat][:, None, :], dc * slopes[pat])
                 for (dA, dc), pat in zip(pre[:-1], p.patterns)) + (pre[-1],)
    segments, pairs, normals, velocity = _boundary_motion(p, pre)
    rate = None if dist is None else _accuracy_rate(p, dist, segments, pairs, velocity)
    return FirstOrderChange(pre, post, segments, pairs, normals, velocity, rate)


# ----------------------------------------------------------------------------- line integrals


class SegmentIntegrals(NamedTuple):
    """Per segment ``(S,)`` integrals along segments of a curve moving with normal velocity
    ``w`` (affine along each segment) under a 2-D Gaussian mixture with density ``p``.

    Attributes:
        mass: ``int p ds``; flux: ``int |w| p ds``; motion: ``int |w| ds``; length: ``int ds``.
    """

    mass: np.ndarray
    flux: np.ndarray
    motion: np.ndarray
    length: np.ndarray


def _line_moments(P0, e, lo, hi, dist) -> tuple[np.ndarray, np.ndarray]:
    """``int_lo^hi p(P0 + s e) ds`` and ``int_lo^hi s p(P0 + s e) ds`` per segment, from the
    closed-form mixture line integrals of :func:`toylab.exact.gaussian.mixture_segment_moments`
    (``int s p ds = e . (int x p ds - P0 int p ds)``).

    Args:
        P0: ``(S, 2)`` line origins; e: ``(S, 2)`` unit directions; lo, hi: ``(S,)``.
    Returns:
        ``(I0 (S,), I1 (S,))`` of the mixture density.
    """
    ends = np.stack([P0 + lo[:, None] * e, P0 + hi[:, None] * e], 1)
    mom = mixture_segment_moments(ends, dist)
    w = np.asarray(dist.weights, np.float64)
    I0, m1 = w @ mom.m0, np.tensordot(w, mom.m1, 1)
    return I0, np.einsum("si,si->s", e, m1 - P0 * I0[:, None])


def segment_integrals(segments, velocity, dist) -> SegmentIntegrals:
    """Closed-form line integrals of a moving piecewise-linear curve (module docstring).

    The velocity is affine along each segment, ``w(s) = w0 + (w1 - w0) s / L``; ``|w|`` is
    integrated exactly by splitting at its zero. Exact up to float rounding (closed-form
    Gaussian line integrals, :func:`toylab.exact.gaussian.mixture_segment_moments`), with
    absolute, not relative, accuracy: a segment much shorter than the data's scale whose
    velocity changes sign carries a ``flux`` error of order ``1e-16 |w1 - w0| / length``
    times the density (measured: 1e-10 for a 1e-8-long segment). Totals over real partitions
    (:func:`direction_motion`) agree with the previous line-frame implementation to 4e-15.

    Args:
        segments: ``(S, 2, 2)`` in input coordinates; velocity: ``(S, 2)`` normal velocity at
            both ends; dist: 2-D Gaussian mixture.
    Returns:
        :class:`SegmentIntegrals`.
    """
    segments = np.asarray(segments, np.float64).reshape(-1, 2, 2)
    velocity = np.asarray(velocity, np.float64).reshape(-1, 2)
    if len(segments) != len(velocity):
        raise ValueError(f"segments {segments.shape} and velocity {velocity.shape} must have "
                         "one row per segment")
    P0 = segments[:, 0]
    delta = segments[:, 1] - P0
    L = np.linalg.norm(delta, axis=1)
    keep = L > 0
    e = np.divide(delta, L[:, None], out=np.zeros_like(delta), where=keep[:, None])
    e[~keep] = (1.0, 0.0)  # zero-length segments integrate to 0 anyway
    w0, w1 = velocity[:, 0], velocity[:, 1]
    beta = np.divide(w1 - w0, L, out=np.zeros_like(L), where=keep)
    crosses = (w0 * w1 < 0) & keep
    root = np.where(crosses, -w0 / np.where(beta != 0, beta, 1.0), L)  # zero of w, else L
    zero = np.zeros_like(L)
    first0, first1 = _line_moments(P0, e, zero, root, dist)
    second0, second1 = _line_moments(P0, e, root, L, dist)
    sign0 = np.sign(np.where(w0 != 0, w0, w1))  # sign of w on [0, root]
    flux = sign0 * (w0 * first0 + beta * first1) - sign0 * (w0 * second0 + beta * second1)
    motion = np.where(crosses, (np.abs(w0) * root + np.abs(w1) * (L - root)) / 2,
                      L * (np.abs(w0) + np.abs(w1)) / 2)
    return SegmentIntegrals(first0 + second0, flux, motion, L)


def clip_to_box(segments, velocity, box) -> tuple[np.ndarray, np.ndarray]:
    """The parts of segments inside an axis-aligned box, with their (linearly interpolated)
    end-point velocities (Liang-Barsky clipping; empty parts dropped).

    Args:
        segments: ``(S, 2, 2)``; velocity: ``(S, 2)``; box: ``(2, 2)`` ``[[xlo, xhi], [ylo, yhi]]``.
    Returns:
        ``segments (S', 2, 2)``, ``velocity (S', 2)``.
    """
    segments = np.asarray(segments, np.float64).reshape(-1, 2, 2)
    velocity = np.asarray(velocity, np.float64).reshape(-1, 2)
    box = check_box(box)
    start, delta = segments[:, 0], segments[:, 1] - segments[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (box[:, 0] - start) / delta, (box[:, 1] - start) / delta  # (S, 2)
    inside = (start >= box[:, 0]) & (start <= box[:, 1])
    enter = np.where(delta != 0, np.minimum(t0, t1), np.where(inside, -np.inf, np.inf))
    leave = np.where(delta != 0, np.maximum(t0, t1), np.where(inside, np.inf, -np.inf))
    lo, hi = np.maximum(enter.max(1), 0.0), np.minimum(leave.min(1), 1.0)
    keep = lo < hi
    lo, hi = lo[keep], hi[keep]
    start, delta, v = start[keep], delta[keep], velocity[keep]
    clipped = np.stack([start + lo[:, None] * delta, start + hi[:, None] * delta], 1)
    dv = v[:, 1] - v[:, 0]
    return clipped, np.stack([v[:, 0] + lo * dv, v[:, 0] + hi * dv], 1)


# ----------------------------------------------------------------------------- folds


def fold_velocity(p: Partition, change, neuron: Sequence[int], *,
                  segments: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fold segments of hidden neuron ``(layer, index)`` and their normal velocity along the
    direction of ``change``.

    A fold edge separates two regions that agree on every layer before the neuron's, so the
    neuron's pre-activation map ``z = u . a + c`` and its derivative ``u . da + dc`` are the
    same on both sides; the velocity is ``-(u . da + dc) / |a|`` at the segment ends.

    Args:
        p: the partition; change: :func:`first_order_change` of ``p``.
        neuron: hidden ``(layer, index)``.
        segments: ``folds(p, neuron)`` if already computed.
    Returns:
        ``segments (S, 2, 2)``, ``velocity (S, 2)``.
    """
    layer, i = (int(x) for x in neuron)
    segments = folds(p, (layer, i)) if segments is None else segments
    if len(segments) == 0:
        return segments, np.zeros((0, 2))
    region = p.locate(segments.mean(axis=1))
    a = p.pre[layer][0][region, :, i]
    da, dc = change.pre[layer][0][region, :, i], change.pre[layer][1][region, i]
    rate = np.einsum("sei,si->se", segments, da) + dc[:, None]
    return segments, -rate / np.linalg.norm(a, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- directions


class DirectionMotion(NamedTuple):
    """Data-weighted first-order motion of one network along parameter directions.

    Every array has a leading axis ``(k,)`` over the directions (columns of ``V``). Mass and
    flux integrals run over the whole partition (all but ~1e-12 of the probability for a
    ``population_partition``); the geometric motion, and the flux it is compared with, only
    over ``box`` (folds extend to the partition's edge, far beyond the data).

    Attributes:
        boundary_mass: ``int_boundary p ds`` (the same for every direction).
        boundary_flux: ``int_boundary |w| p ds``.
        boundary_motion: ``int_{boundary in box} |w| ds``.
        fold_mass: ``(k, H)`` per hidden neuron ``int_fold p ds``.
        fold_flux: ``(k, H)`` ``int_fold |w| p ds``.
        fold_flux_box: ``(k, H)`` ``int_{fold in box} |w| p ds``.
        fold_motion: ``(k, H)`` ``int_{fold in box} |w| ds``.
        neurons: ``(H, 2)`` the hidden neurons ``(layer, index)``.
        box: ``(2, 2)``.
    """

    boundary_mass: np.ndarray
    boundary_flux: np.ndarray
    boundary_motion: np.ndarray
    fold_mass: np.ndarray
    fold_flux: np.ndarray
    fold_flux_box: np.ndarray
    fold_motion: np.ndarray
    neurons: np.ndarray
    box: np.ndarray

    @property
    def boundary_speed(self) -> np.ndarray:
        """``(k,)`` mean normal speed of the boundary weighted by the density along it."""
        return self.boundary_flux / self.boundary_mass

    @property
    def fold_density(self) -> np.ndarray:
        """``(k,)`` mean data density where the folds move inside ``box``:
        ``sum flux_box / sum motion`` (probability per unit area)."""
        return self.fold_flux_box.sum(1) / self.fold_motion.sum(1)


def direction_motion(p: Partition, dist, V, *, box=None) -> DirectionMotion:
    """First-order motion of the decision boundary and of every hidden fold along each column
    of ``V`` (module docstring).

    Args:
        p: exact partition of a 2-input network (e.g. ``population_partition``, so that the
            integrals cover all but ~1e-12 of the mass); dist: 2-D Gaussian mixture.
        V: ``(P,)`` or ``(P, k)`` parameter directions in the flat order (unit norm for
            comparable per-unit-step rates).
        box: ``(2, 2)`` window of the geometric motion; default ``dist.domain``.
    Returns:
        :class:`DirectionMotion`.
    """
    V = np.asarray(V, np.float64)
    V = V[:, None] if V.ndim == 1 else V
    box = check_box(dist.domain if box is None else box)
    neurons = hidden_neurons(p.widths)
    fold_segments = [folds(p, tuple(n)) for n in neurons]
    fold_mass = np.array([segment_integrals(s, np.zeros((len(s), 2)), dist).mass.sum()
                          for s in fold_segments])
    rows = []
    for v in V.T:
        change = first_order_change(p, v)
        b = segment_integrals(change.segments, change.velocity, dist)
        b_box = segment_integrals(*clip_to_box(change.segments, change.velocity, box), dist)
        moving = [fold_velocity(p, change, n, segments=s) for n, s in zip(neurons, fold_segments)]
        whole = [segment_integrals(*m, dist) for m in moving]
        inside = [segment_integrals(*clip_to_box(*m, box), dist) for m in moving]
        rows.append((b.mass.sum(), b.flux.sum(), b_box.motion.sum(),
                     [f.flux.sum() for f in whole], [f.flux.sum() for f in inside],
                     [f.motion.sum() for f in inside]))
    mass, flux, motion, f_flux, f_box, f_motion = (np.array(x, np.float64) for x in zip(*rows))
    return DirectionMotion(mass, flux, motion, np.broadcast_to(fold_mass, f_flux.shape).copy(),
                           f_flux, f_box, f_motion, neurons, box)


class Participation(NamedTuple):
    """How parameter directions spread over neurons (:func:`toylab.landscape.neuron_shares`).

    Attributes:
        shares: ``(N, k)`` each neuron's share of each direction (columns sum to 1; neurons in
            :func:`toylab.landscape.neuron_table` order: hidden layers, then logits).
        ratio: ``(k,)`` participation ratio, the effective number of neurons involved.
        layer_shares: ``(L + 1, k)`` total share per layer (hidden layers, then logits).
    """

    shares: np.ndarray
    ratio: np.ndarray
    layer_shares: np.ndarray


def participation(V, widths: Sequence[int]) -> Participation:
    """:class:`Participation` of the columns of ``V: (P, k)`` in a ``widths`` network."""
    shares = neuron_shares(V, widths)
    layer_of = np.repeat(np.arange(len(widths) - 1), widths[1:])
    layer_shares = np.stack([shares[layer_of == l].sum(0) for l in range(len(widths) - 1)])
    return Participation(shares, np.array([participation_ratio(s) for s in shares.T]),
                         layer_shares)
