"""Do analogous features form across models? Exact cross-network neuron similarity.

Two networks ``A`` and ``B`` with the same input are partitioned *together* by running them as
one wide network (:func:`parallel_network`): its first layer is ``[W_A | W_B]`` and every
later layer is block-diagonal, so its hidden layer ``l`` holds ``A``'s layer ``l`` next to
``B``'s and every neuron keeps its response function. On each linear region of the joint
partition both networks are affine, so the exact cross-covariance of ``A``'s and ``B``'s
neurons under a Gaussian mixture is a block of :func:`toylab.exact.population.layer_moments`
of the joint network (no sampling). :func:`cross_correlation` turns it into the exact
population correlation matrix, with a first-order error bound propagated from the moments'
rigorous tail bounds.

Neurons are matched one-to-one by the Hungarian algorithm (Kuhn 1955; scipy's
``linear_sum_assignment``) maximising the summed correlation (:func:`match_neurons`, as in
Li et al. 2016, "Convergent learning: do different neural networks learn the same
representations?", which matches by sampled correlations). Fold geometry is compared by the
Hausdorff distance between two neurons' folds (:func:`fold_hausdorff`), computed on the
folds' exact segments sampled at a fixed spacing ``h`` (so it is exact to within ``h``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import directed_hausdorff

from toylab.exact.population import population_partition
from toylab.models import as_layers


def parallel_network(net_a, net_b, *, activation: str | None = None) -> list:
    """One network computing ``A`` and ``B`` side by side (module docstring).

    Args:
        net_a, net_b: MLPs or layer lists with the same input size and number of layers;
            activation: required with layer lists (both nets use it).
    Returns:
        float64 layer list; hidden layer ``l`` holds ``A``'s neurons ``0..w_A-1`` then ``B``'s,
        the logits likewise.
    """
    la, name = as_layers(net_a, activation, dtype=np.float64)
    lb, name_b = as_layers(net_b, activation, dtype=np.float64)
    if name != name_b:
        raise ValueError(f"net_a uses {name!r} but net_b uses {name_b!r}; pass nets with one "
                         "activation")
    if len(la) != len(lb) or la[0][0].shape[0] != lb[0][0].shape[0]:
        raise ValueError(
            f"net_a has {len(la)} layers on {la[0][0].shape[0]} inputs, net_b {len(lb)} on "
            f"{lb[0][0].shape[0]}; parallel networks need equal depth and input size")
    first = (np.hstack([la[0][0], lb[0][0]]), np.concatenate([la[0][1], lb[0][1]]))
    rest = [(scipy.linalg.block_diag(Wa, Wb), np.concatenate([ba, bb]))
            for (Wa, ba), (Wb, bb) in zip(la[1:], lb[1:])]
    return [first] + rest


class CrossCorrelation(NamedTuple):
    """Exact population correlation between the neurons of one layer of two networks.

    Attributes:
        corr: ``(w_A, w_B)``; NaN in rows/columns of neurons with zero variance.
        bound: ``(w_A, w_B)`` first-order error bound from the moments' tail bounds.
        std_a: ``(w_A,)``; std_b: ``(w_B,)`` exact standard deviations.
        mass_outside: probability outside the joint partition's domain.
    """

    corr: np.ndarray
    bound: np.ndarray
    std_a: np.ndarray
    std_b: np.ndarray
    mass_outside: float


def cross_correlations(net_a, net_b, dist, *, activation: str | None = None
                       ) -> list[CrossCorrelation]:
    """Exact cross-correlations of every hidden layer of ``A`` with the same layer of ``B``.

    Args:
        net_a, net_b: networks with 2 inputs and the same depth; activation as
            :func:`parallel_network` (piecewise-linear).
        dist: 2-D Gaussian mixture.
    Returns:
        One :class:`CrossCorrelation` per hidden layer.
    """
    la, name = as_layers(net_a, activation, dtype=np.float64)
    joint = parallel_network(net_a, net_b, activation=activation)
    p = population_partition(joint, dist, activation=name)
    out = []
    for layer, (W, _) in enumerate(la[:-1]):
        wa = W.shape[1]
        m = p.layer_moments(layer)  # region moments integrated once for all layers
        var, vbound = np.diag(m.cov), np.diag(m.cov_bound)
        std = np.sqrt(np.maximum(var, 0.0))
        cov, cbound = m.cov[:wa, wa:], m.cov_bound[:wa, wa:]
        sa, sb = std[:wa, None], std[None, wa:]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where((sa > 0) & (sb > 0), cov / (sa * sb), np.nan)
            rel = vbound / np.where(var > 0, var, np.nan)
            bound = (cbound / (sa * sb) + 0.5 * np.abs(corr) * (rel[:wa, None] + rel[None, wa:]))
        out.append(CrossCorrelation(corr, bound, std[:wa], std[wa:], m.mass_outside))
    return out


class Matching(NamedTuple):
    """One-to-one matching of ``A``'s neurons to ``B``'s.

    Attributes:
        partner: ``(w_A,)`` index of the ``B`` neuron matched to each ``A`` neuron (-1 when
            ``B`` has fewer neurons).
        corr: ``(w_A,)`` correlation of each matched pair (NaN for an unmatched or constant
            neuron).
        best: ``(w_A,)`` largest correlation with any ``B`` neuron (not one-to-one).
    """

    partner: np.ndarray
    corr: np.ndarray
    best: np.ndarray


def match_neurons(corr: np.ndarray) -> Matching:
    """Hungarian matching maximising the summed correlation (constant neurons, NaN, count as
    correlation -1 so they are matched last).

    Args:
        corr: ``(w_A, w_B)`` correlations.
    Returns:
        :class:`Matching`.
    """
    corr = np.asarray(corr, np.float64)
    if corr.ndim != 2:
        raise ValueError(f"corr has shape {corr.shape}; pass a (w_A, w_B) correlation matrix")
    rows, cols = linear_sum_assignment(np.nan_to_num(corr, nan=-1.0), maximize=True)
    partner = np.full(corr.shape[0], -1)
    partner[rows] = cols
    matched = np.full(corr.shape[0], np.nan)
    matched[rows] = corr[rows, cols]
    best = np.where(np.isnan(corr), -np.inf, corr).max(1, initial=-np.inf)
    best[np.isinf(best)] = np.nan
    return Matching(partner, matched, best)


def _sample_segments(segs: np.ndarray, spacing: float) -> np.ndarray:
    """Points ``(m, 2)`` on segments ``(s, 2, 2)``: both endpoints and at most ``spacing``
    apart along each segment."""
    length = np.linalg.norm(segs[:, 1] - segs[:, 0], axis=1)
    n = np.maximum(np.ceil(length / spacing).astype(np.int64), 1)
    owner = np.repeat(np.arange(len(segs)), n + 1)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)
    t = (k / n[owner])[:, None]
    return segs[owner, 0] + t * (segs[owner, 1] - segs[owner, 0])


def fold_hausdorff(segs_a: np.ndarray, segs_b: np.ndarray, *, spacing: float = 0.01) -> float:
    """Hausdorff distance between two folds (unions of segments ``(s, 2, 2)``), to within
    ``spacing``: both are sampled with points at most ``spacing`` apart (every point of a fold
    is within ``spacing / 2`` of a sample) and scipy's ``directed_hausdorff`` is taken both
    ways. 0 when both folds are empty, ``inf`` when exactly one is."""
    if not spacing > 0:
        raise ValueError(f"spacing={spacing!r} must be a positive length, e.g. 0.01")
    segs_a = np.asarray(segs_a, np.float64).reshape(-1, 2, 2)
    segs_b = np.asarray(segs_b, np.float64).reshape(-1, 2, 2)
    if len(segs_a) == 0 or len(segs_b) == 0:
        return 0.0 if len(segs_a) == len(segs_b) else float("inf")
    pa, pb = _sample_segments(segs_a, spacing), _sample_segments(segs_b, spacing)
    return float(max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0]))
