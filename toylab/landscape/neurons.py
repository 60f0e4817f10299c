"""From parameter directions to neurons.

A parameter-space direction ``v: (P,)`` (a Hessian eigenvector, a gradient) is attributed to
neurons through :func:`toylab.models.param_index`: neuron ``(l, i)`` owns its *incoming*
weights and bias (``layer == l, neuron == i``) and touches its *outgoing* weights
(``layer == l + 1, source == i``). Every parameter is incoming to exactly one neuron, and a
hidden-to-next weight is also outgoing from its source, so a neuron's share counts both.

Everything here lives in parameter space and needs no partition of the input; how a direction
moves decision boundaries and folds in input space is
:mod:`toylab.compare.landscape_neurons`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import scipy.sparse

from toylab.landscape.problem import check_direction, check_int, flat_params
from toylab.landscape.subspace import check_orthonormal
from toylab.models import check_widths, param_index


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
    if V.ndim != 2 or V.shape[0] != incoming.shape[1] or not np.all(np.isfinite(V)):
        raise ValueError(f"V has shape {V.shape}; a {tuple(widths)} net needs finite directions "
                         f"of shape ({incoming.shape[1]}, k) in toylab.models.flatten order")
    if np.any(np.all(V == 0, axis=0)):
        raise ValueError(f"V has zero columns {np.flatnonzero(np.all(V == 0, axis=0)).tolist()}; "
                         "a zero direction has no neuron attribution")
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
    if check_int("layer", layer, minimum=0) >= n_hidden:
        raise ValueError(f"layer={layer!r} must name a hidden layer, 0 <= layer < {n_hidden}")
    if check_int("index", index, minimum=0) >= widths[layer + 1]:
        raise ValueError(f"index={index!r} must lie in [0, {widths[layer + 1]}) for layer {layer}")
    idx = param_index(widths)
    inc = (idx.layer == layer) & (idx.neuron == index)
    out = (idx.layer == layer + 1) & (idx.source == index)
    return np.where(inc, theta, 0.0) - np.where(out, theta, 0.0)
