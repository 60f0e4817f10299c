"""From parameter directions to neurons.

A parameter-space direction ``v: (P,)`` (a Hessian eigenvector, a gradient) is attributed to
neurons through :func:`toylab.models.param_index`: neuron ``(l, i)`` owns its *incoming*
weights and bias (``layer == l, neuron == i``) and touches its *outgoing* weights
(``layer == l + 1, source == i``). Every parameter is incoming to exactly one neuron, and a
hidden-to-next weight is also outgoing from its source, so a neuron's share counts both.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
from scipy.integrate import quad_vec

from toylab.exact.boundary import decision_boundary
from toylab.landscape.problem import check_direction, flat_params
from toylab.landscape.subspace import check_orthonormal
from toylab.models import activations, check_widths, get_activation, param_index, unflatten


class NeuronMass(NamedTuple):
    """How a direction's squared norm distributes over neurons.

    Attributes:
        neurons: ``(N, 2)`` int ``(layer, index)`` of every neuron, hidden layers then logits.
        incoming: ``(N,)`` fraction of ``|v|^2`` on the neuron's incoming weights and bias
            (sums to 1 over all neurons).
        outgoing: ``(N,)`` fraction on its outgoing weights (0 for logits).
        share: ``(N,)`` ``(incoming + outgoing)`` normalised to sum to 1.
    """

    neurons: np.ndarray
    incoming: np.ndarray
    outgoing: np.ndarray
    share: np.ndarray

    @property
    def participation_ratio(self) -> float:
        """``(sum_n s_n)^2 / sum_n s_n^2`` of the shares: the effective number of neurons the
        direction involves, in ``[1, N]``."""
        return participation_ratio(self.share)

    def carriers(self, fraction: float = 0.9) -> np.ndarray:
        """``(m, 2)`` the fewest neurons whose shares sum to at least ``fraction`` of the
        total, largest share first."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction={fraction!r} must lie in (0, 1]")
        order = np.argsort(self.share, kind="stable")[::-1]
        m = int(np.searchsorted(np.cumsum(self.share[order]), fraction)) + 1
        return self.neurons[order[: min(m, order.size)]]


def participation_ratio(mass) -> float:
    """``(sum m)^2 / sum m^2`` of non-negative masses ``m: (N,)``."""
    mass = np.asarray(mass, np.float64)
    if mass.ndim != 1 or np.any(mass < 0) or not mass.sum() > 0:
        raise ValueError("mass must be a 1-D array of non-negative numbers with a positive sum")
    return float(mass.sum() ** 2 / np.sum(mass**2))


def neuron_table(widths: Sequence[int]) -> tuple[np.ndarray, scipy.sparse.csr_matrix,
                                                  scipy.sparse.csr_matrix]:
    """``(neurons (N, 2), incoming (N, P), outgoing (N, P))``: 0/1 membership matrices of the
    flat parameters, from :func:`toylab.models.param_index`."""
    widths = check_widths(widths)
    idx = param_index(widths)
    offsets = np.concatenate([[0], np.cumsum(widths[1:])])
    neurons = np.array([(l, i) for l, w in enumerate(widths[1:]) for i in range(w)], dtype=int)
    size, n = idx.layer.size, neurons.shape[0]
    cols = np.arange(size)
    incoming = scipy.sparse.csr_matrix((np.ones(size), (offsets[idx.layer] + idx.neuron, cols)),
                                       shape=(n, size))
    out = (idx.layer > 0) & (idx.source >= 0)
    outgoing = scipy.sparse.csr_matrix(
        (np.ones(out.sum()), (offsets[idx.layer[out] - 1] + idx.source[out], cols[out])),
        shape=(n, size))
    return neurons, incoming, outgoing


def neuron_shares(V, widths: Sequence[int]) -> np.ndarray:
    """Neuron shares ``(N, k)`` of each column of ``V: (P, k)`` (see :class:`NeuronMass`);
    rows follow :func:`neuron_table`'s neuron order."""
    V = np.asarray(V, np.float64)
    V = V[:, None] if V.ndim == 1 else V
    _, incoming, outgoing = neuron_table(widths)
    touch = (incoming + outgoing) @ V**2
    return touch / touch.sum(axis=0, keepdims=True)


def _mass(squares: np.ndarray, widths: tuple[int, ...]) -> NeuronMass:
    """:class:`NeuronMass` of non-negative per-parameter masses ``squares: (P,)``."""
    neurons, incoming, outgoing = neuron_table(widths)
    total = squares.sum()
    if total == 0:
        raise ValueError("the direction is the zero vector; its neuron attribution is undefined")
    inc, out = incoming @ squares / total, outgoing @ squares / total
    return NeuronMass(neurons, inc, out, (inc + out) / (inc + out).sum())


def neuron_mass(v, widths: Sequence[int]) -> NeuronMass:
    """Attribute a parameter direction to neurons.

    Args:
        v: ``(P,)`` non-zero direction in the flat order.
        widths: the net's ``(in, hidden..., out)``.
    Returns:
        :class:`NeuronMass` of the squared entries ``v_p^2``.
    """
    widths = check_widths(widths)
    v = check_direction(v, neuron_table(widths)[1].shape[1], "v")
    return _mass(v**2, widths)


def subspace_mass(V, widths: Sequence[int]) -> NeuronMass:
    """Attribute a subspace to neurons through the diagonal of its projector ``V V^T``
    (``sum_j V_pj^2`` per parameter): the same for every orthonormal basis of the span, so
    near-degenerate eigenvectors do not matter.

    Args:
        V: ``(P, k)`` orthonormal columns; widths: the net's ``(in, hidden..., out)``.
    Returns:
        :class:`NeuronMass` (incoming fractions sum to 1 over all neurons).
    """
    widths = check_widths(widths)
    V = check_orthonormal(V, neuron_table(widths)[1].shape[1])
    return _mass(np.sum(V**2, axis=1), widths)


def rescaling_direction(net, layer: int, index: int) -> np.ndarray:
    """Tangent ``(P,)`` of the rescaling symmetry of hidden neuron ``(layer, index)``:
    ``d/ds`` at ``s = 0`` of (incoming weights and bias ``x e^s``, outgoing weights
    ``x e^-s``), i.e. ``+theta`` on incoming and ``-theta`` on outgoing parameters.

    For positively homogeneous activations (relu, leaky_relu, abs, linear) the network
    function, hence the loss, is constant along the symmetry, so the loss's directional
    derivative along this tangent is zero (Dinh et al. 2017).
    """
    theta, widths, _ = flat_params(net, need_activation=False)
    n_hidden = len(widths) - 2
    if int(layer) != layer or not 0 <= layer < n_hidden:
        raise ValueError(f"layer={layer!r} must name a hidden layer, 0 <= layer < {n_hidden}")
    if int(index) != index or not 0 <= index < widths[layer + 1]:
        raise ValueError(f"index={index!r} must lie in [0, {widths[layer + 1]}) for layer {layer}")
    idx = param_index(widths)
    inc = (idx.layer == layer) & (idx.neuron == index)
    out = (idx.layer == layer + 1) & (idx.source == index)
    return np.where(inc, theta, 0.0) - np.where(out, theta, 0.0)


# ----------------------------------------------------------------------------- exact partition

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
    slice coordinates, times ``|det directions|``), by adaptive quadrature (``quad_vec``)."""
    if p.widths[0] != 2:
        raise ValueError("accuracy_rate needs a partition of the 2-D input plane "
                         f"(the net takes {p.widths[0]}-D inputs)")
    if len(segments) == 0:
        return 0.0
    start, delta = segments[:, 0], segments[:, 1] - segments[:, 0]
    length = np.linalg.norm(delta, axis=1)
    k, j = pairs[:, 0], pairs[:, 1]
    rows = np.arange(len(segments))

    def integrand(t):
        joint = np.exp(dist.class_log_joint(p.inputs(start + t * delta)))
        w = (1 - t) * velocity[:, 0] + t * velocity[:, 1]
        return w * (joint[rows, j] - joint[rows, k]) * length

    total, _ = quad_vec(integrand, 0.0, 1.0, epsabs=1e-14, epsrel=1e-12)
    return float(np.sum(total) * abs(np.linalg.det(p.directions)))


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
