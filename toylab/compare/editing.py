"""Editing a network and measuring, exactly, what the edit changes.

Three edits of a piecewise-linear network given as a layer list (DESIGN.md contract):

* **ablation** of hidden neuron ``(l, i)``: its post-activation is replaced by a constant
  ``v`` everywhere, by zeroing its outgoing weights and adding ``v W_{l+1}[i, :]`` to the next
  layer's bias (an exact edit of the weights, no hooks). The constant is looked up in
  :data:`ABLATIONS`: ``"zero"`` (``v = 0``) or ``"mean"`` (``v = E[y_i]``, the neuron's exact
  population expectation, :func:`toylab.exact.population.neuron_expectation`);
* **magnitude pruning**: every weight with ``|w| < threshold`` is set to zero (biases kept);
* none at all: :func:`weight_graph` / :func:`clusterability` read the weights as a graph
  and score how modular it is (Filan et al. 2021, "Clusterability in neural networks").

What an edit changes is computed exactly under the analytic distribution:

* the 0-1 risk before and after (the population accuracy of each network, read from the
  one joint partition below through :func:`logits_view`);
* every neuron's function change ``||f - g||_2 = sqrt(E[(f(X) - g(X))^2])``. Both functions
  are piecewise affine, so they are partitioned *jointly*: :func:`joint_network` builds one
  wide network whose layers hold the original's neurons next to the edited ones (layers the
  two share are kept once), its exact partition makes both affine on every region, and the
  difference ``d = u . (a_f - a_g) + (c_f - c_g)`` integrates in closed form against the
  Gaussian polygon moments of :mod:`toylab.exact.gaussian`:
  ``E[d^2 1_P] = da^T m2 da + 2 dc (da . m1) + dc^2 m0``. Identical region maps give an exact
  zero. The error bound is the neglected tail outside the partition's box,
  ``E[d^2 1_out] <= 2 E[f^2 1_out] + 2 E[g^2 1_out]``, each bounded by the ``cov_bound`` of
  :func:`toylab.exact.population.layer_moments` on the same partition (which contains the
  rigorous tail bound on ``E[y^2 1_out]`` as one of its non-negative terms).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, NamedTuple, Sequence

import numpy as np
import scipy.linalg
from scipy.cluster.vq import kmeans2

from toylab.exact.partition import Partition
from toylab.exact.population import PopulationPartition, neuron_expectation, population_partition
from toylab.models import MLP, Layers, as_layers, validate_layers, widths_of


# ----------------------------------------------------------------------------- edits


def _hidden_neuron(layers: Layers, neuron) -> tuple[int, int]:
    """Validate a hidden neuron address ``(layer, index)`` against a layer list."""
    try:
        layer, index = (int(x) for x in neuron)
    except (TypeError, ValueError):
        raise ValueError(f"neuron={neuron!r} must be a (layer, index) pair of ints") from None
    widths = widths_of(layers)
    n_hidden = len(widths) - 2
    if not 0 <= layer < n_hidden or not 0 <= index < widths[layer + 1]:
        raise ValueError(
            f"neuron={neuron!r} is not a hidden neuron; hidden layers are 0..{n_hidden - 1} "
            f"with widths {widths[1:-1]} (logits cannot be ablated)"
        )
    return layer, index


def _weights(net) -> Layers:
    """Float64 layer list of an MLP or layer list (the activation plays no role here)."""
    layers = net.layers() if isinstance(net, MLP) else validate_layers(net)
    return [(np.asarray(W, np.float64), np.asarray(b, np.float64)) for W, b in layers]


def _copy(layers: Layers) -> Layers:
    return [(np.array(W, np.float64), np.array(b, np.float64)) for W, b in layers]


def replace_neuron(net, neuron: Sequence[int], value: float, *,
                   activation: str | None = None) -> Layers:
    """The network with hidden neuron ``(layer, index)``'s output replaced by ``value``.

    The next layer then sees the constant ``value`` instead of the neuron: its outgoing
    weights ``W_{l+1}[i, :]`` become 0 and ``value * W_{l+1}[i, :]`` is added to ``b_{l+1}``.

    Args:
        net: layer list or MLP; activation: required for a layer list.
        neuron: hidden ``(layer, index)``.
        value: the constant (finite).
    Returns:
        a new float64 layer list (``net`` is not modified).
    """
    layers, _ = as_layers(net, activation, dtype=np.float64)
    layer, i = _hidden_neuron(layers, neuron)
    if not np.isfinite(value):
        raise ValueError(f"value={value!r} must be finite (the constant the neuron outputs)")
    out = _copy(layers)
    W, b = out[layer + 1]
    b += value * W[i]
    W[i] = 0.0
    return out


def _zero_value(p: Partition, dist, neuron) -> float:
    return 0.0


def _mean_value(p: Partition, dist, neuron) -> float:
    return neuron_expectation(p, dist, neuron).value


ABLATIONS: dict[str, Callable[[Partition, object, tuple[int, int]], float]] = {
    "zero": _zero_value,
    "mean": _mean_value,
}
"""Ablation mode -> ``value(partition, dist, neuron)``: the constant that replaces the neuron
(``mean``: its exact population expectation ``E[y]``, error below ``1e-12`` by the bound of
:func:`~toylab.exact.population.neuron_expectation`)."""


def ablate(net, dist, neuron: Sequence[int], mode: str = "zero", *,
           activation: str | None = None, partition: Partition | None = None) -> Layers:
    """Ablate hidden neuron ``(layer, index)``: replace it by the constant of ``mode``.

    Args:
        net: layer list or MLP; activation: required for a layer list.
        dist: 2-D Gaussian mixture (used by ``"mean"``).
        neuron: hidden ``(layer, index)``.
        mode: name in :data:`ABLATIONS`.
        partition: ``population_partition(net, dist)`` if already computed (else built when
            the mode needs it).
    Returns:
        edited float64 layer list.
    """
    if mode not in ABLATIONS:
        raise ValueError(f"mode={mode!r} is unknown; choose one of {sorted(ABLATIONS)}")
    layers, name = as_layers(net, activation, dtype=np.float64)
    neuron = _hidden_neuron(layers, neuron)
    if partition is None and mode != "zero":
        partition = population_partition(layers, dist, activation=name)
    return replace_neuron(layers, neuron, ABLATIONS[mode](partition, dist, neuron),
                          activation=name)


def prune(net, threshold: float) -> Layers:
    """Magnitude pruning: every weight with ``|w| < threshold`` set to zero, biases kept.

    The inequality is strict, so ``threshold = 0`` returns the network unchanged.

    Args:
        net: layer list or MLP.
        threshold: ``>= 0``, finite.
    Returns:
        new float64 layer list.
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold={threshold!r} must be a finite number >= 0")
    return [(np.where(np.abs(W) < threshold, 0.0, W), b.copy()) for W, b in _weights(net)]


def pruning_thresholds(net, fractions) -> np.ndarray:
    """Global magnitude thresholds that prune the given fractions of all weights.

    ``threshold(f)`` is the ``(k+1)``-th smallest ``|w|`` with ``k = round(f * n_weights)``
    (just above the largest ``|w|`` for ``k = n_weights``; 0 for ``k = 0``), so :func:`prune`
    with it removes exactly the ``k`` smallest weights when no two magnitudes tie.

    Args:
        net: layer list or MLP; fractions: ``(m,)`` in ``[0, 1]``.
    Returns:
        ``(m,)`` thresholds.
    """
    fractions = np.asarray(fractions, np.float64)
    if fractions.ndim != 1 or np.any((fractions < 0) | (fractions > 1)):
        raise ValueError(f"fractions={fractions.tolist()} must be a 1-D array in [0, 1]")
    mags = np.sort(np.concatenate([np.abs(W).ravel() for W, _ in _weights(net)]))
    k = np.rint(fractions * mags.size).astype(int)
    above = np.concatenate([mags, [np.nextafter(mags[-1], np.inf)]])
    return np.where(k == 0, 0.0, above[k])


# ----------------------------------------------------------------------------- joint network


class JointNetwork(NamedTuple):
    """Two networks of equal widths side by side in one wide network.

    Attributes:
        layers: the wide layer list. Layers ``0..shared-1`` are the two networks' common
            layers, kept once; from layer ``shared`` on each layer holds network ``a``'s
            neurons, then network ``b``'s (block-diagonal weights); the logits likewise.
        columns_a, columns_b: per layer (hidden and logits) the ``(width_l,)`` indices of
            each network's neurons in the wide layer (equal for shared layers).
        shared: number of leading layers the two networks have in common.
    """

    layers: Layers
    columns_a: list[np.ndarray]
    columns_b: list[np.ndarray]
    shared: int


def joint_network(net_a, net_b, *, activation: str | None = None) -> JointNetwork:
    """Build the :class:`JointNetwork` of two networks with the same widths.

    Every layer of the wide network computes, on its two blocks, exactly what the two
    networks compute, so its exact partition refines both networks' partitions and every
    neuron of either network is affine on each of its regions.

    Args:
        net_a, net_b: layer lists or MLPs with equal widths and the same activation.
    Returns:
        :class:`JointNetwork`.
    """
    a, name = as_layers(net_a, activation, dtype=np.float64)
    b, _ = as_layers(net_b, name, dtype=np.float64)
    if widths_of(a) != widths_of(b):
        raise ValueError(
            f"net_a has widths {widths_of(a)} but net_b has {widths_of(b)}; a joint partition "
            "needs networks of equal widths"
        )
    shared = 0
    while shared < len(a) and all(np.array_equal(x, y) for x, y in zip(a[shared], b[shared])):
        shared += 1
    layers, cols_a, cols_b = [], [], []
    for depth, ((Wa, ba), (Wb, bb)) in enumerate(zip(a, b)):
        w = Wa.shape[1]
        if depth < shared:
            layers.append((Wa, ba))
            cols_a.append(np.arange(w))
            cols_b.append(np.arange(w))
            continue
        W = np.hstack([Wa, Wb]) if depth == shared else scipy.linalg.block_diag(Wa, Wb)
        layers.append((W, np.concatenate([ba, bb])))
        cols_a.append(np.arange(w))
        cols_b.append(w + np.arange(w))
    return JointNetwork(layers, cols_a, cols_b, shared)


# ----------------------------------------------------------------------------- distances


class FunctionDistance(NamedTuple):
    """Exact population L2 distances between two networks' neurons, layer by layer.

    Attributes:
        sq: per layer (hidden layers, then logits) ``(width_l,)`` ``E[(f - g)^2]``.
        sq_bound: per layer ``(width_l,)`` rigorous bound on ``|sq - whole-plane value|``.
        norm_sq_a: per layer ``(width_l,)`` ``E[f^2]`` of network ``a`` (for relative changes).
        n_regions: regions of the joint partition.
        mass_outside: probability outside the joint partition's box.
    """

    sq: list[np.ndarray]
    sq_bound: list[np.ndarray]
    norm_sq_a: list[np.ndarray]
    n_regions: int
    mass_outside: float

    @property
    def rms(self) -> list[np.ndarray]:
        """Per layer ``sqrt(E[(f - g)^2])`` (rounding below zero clipped)."""
        return [np.sqrt(np.maximum(s, 0.0)) for s in self.sq]

    @property
    def relative(self) -> list[np.ndarray]:
        """Per layer ``||f - g|| / ||f||`` (NaN where ``f`` is identically 0)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return [r / np.sqrt(n) for r, n in zip(self.rms, self.norm_sq_a)]


def _square_integral(A: np.ndarray, c: np.ndarray, m0, m1, m2) -> np.ndarray:
    """``sum_r E[(u . A_r + c_r)^2 1_{P_r}]`` per column: ``A (R, 2, n)``, ``c (R, n)`` -> ``(n,)``."""
    return (np.einsum("rin,rij,rjn->n", A, m2, A) + 2 * np.einsum("rn,ri,rin->n", c, m1, A)
            + np.einsum("r,rn->n", m0, c * c))


def _distance(p: PopulationPartition, joint: JointNetwork) -> FunctionDistance:
    """:class:`FunctionDistance` of the two networks in ``joint`` from the joint partition's
    region moments (integrated once, shared with its layer moments' tail bounds)."""
    m0, m1, m2 = p.moments
    sq, bound, norm_a = [], [], []
    for layer, (ia, ib) in enumerate(zip(joint.columns_a, joint.columns_b)):
        A, c = p.post[layer]
        sq.append(_square_integral(A[:, :, ia] - A[:, :, ib], c[:, ia] - c[:, ib], m0, m1, m2))
        norm_a.append(_square_integral(A[:, :, ia], c[:, ia], m0, m1, m2))
        cov_bound = np.diag(p.layer_moments(layer).cov_bound)
        bound.append(2 * (cov_bound[ia] + cov_bound[ib]))
    return FunctionDistance(sq, bound, norm_a, len(p), p.mass_outside)


def function_distance(net_a, net_b, dist, *, activation: str | None = None) -> FunctionDistance:
    """Exact ``E[(f - g)^2]`` for every pair of corresponding neurons of two networks.

    Method: the exact partition of :func:`joint_network` over ``dist``'s covering box
    (``population_partition``), per-region differences of the two affine maps and their
    closed-form Gaussian second moments (module docstring). Identical maps give exactly 0.

    Args:
        net_a, net_b: networks of equal widths (layer lists or MLPs).
        dist: 2-D Gaussian mixture. activation: required for layer lists.
    Returns:
        :class:`FunctionDistance`.
    """
    _, name = as_layers(net_a, activation)
    joint = joint_network(net_a, net_b, activation=name)
    return _distance(population_partition(joint.layers, dist, activation=name), joint)


def logits_view(p: PopulationPartition, columns) -> PopulationPartition:
    """The partition ``p`` read as a partition of the network whose logits are ``columns`` of
    ``p``'s logits (same hidden layers, so the same regions and patterns).

    For a :func:`joint_network` partition and ``columns = joint.columns_b[-1]`` this is network
    ``b``'s classifier on a refinement of its own partition: its accuracy and risk are ``b``'s,
    with no partition of ``b`` alone.

    Args:
        p: population partition; columns: ``(m,)`` logit indices (``m >= 1``).
    Returns:
        :class:`~toylab.exact.population.PopulationPartition` of the same distribution.
    """
    columns = np.asarray(columns, np.int64)
    if columns.ndim != 1 or len(columns) == 0 or np.any((columns < 0) | (columns >= p.widths[-1])):
        raise ValueError(f"columns={columns.tolist()} must be a non-empty 1-D list of logit "
                         f"indices in 0..{p.widths[-1] - 1}")
    (A, c), (W, b) = p.tables[-1], p.layers[-1]
    return dataclasses.replace(p, tables=p.tables[:-1] + ((A[:, :, columns], c[:, columns]),),
                               widths=p.widths[:-1] + (len(columns),),
                               layers=list(p.layers[:-1]) + [(W[:, columns], b[columns])])


class EditEffect(NamedTuple):
    """What an edit did to a network, exactly.

    Attributes:
        risk_before, risk_after: population 0-1 risks; risk_bound: bound on each risk's error.
        distance: :class:`FunctionDistance` between every original and edited neuron.
    """

    risk_before: float
    risk_after: float
    risk_bound: float
    distance: FunctionDistance

    @property
    def risk_change(self) -> float:
        return self.risk_after - self.risk_before


def population_risk_of(net, dist, *, activation: str | None = None) -> tuple[float, float]:
    """``(risk, error_bound)`` of a network's exact 0-1 risk under ``dist``."""
    risk = population_partition(net, dist, activation=activation).risk
    return risk.value, risk.error_bound


def edit_effect(net, edited, dist, *, activation: str | None = None,
                risk_before: tuple[float, float] | None = None) -> EditEffect:
    """Exact change in population risk and in every neuron's function caused by an edit.

    One partition per edit: the :func:`joint_network` of ``net`` and ``edited`` is
    partitioned once; both risks are read from it (:func:`logits_view`, each network's
    classifier on a refinement of its own partition) and so are the function distances.

    Args:
        net: the original network; edited: the edited one (same widths).
        dist: 2-D Gaussian mixture; activation: required for layer lists.
        risk_before: ``(risk, error_bound)`` of ``net`` if already known (else read from the
            joint partition).
    Returns:
        :class:`EditEffect`.
    """
    _, name = as_layers(net, activation)
    joint = joint_network(net, edited, activation=name)
    p = population_partition(joint.layers, dist, activation=name)
    risks = [logits_view(p, cols[-1]).risk for cols in (joint.columns_a, joint.columns_b)]
    before = risk_before or (risks[0].value, risks[0].error_bound)
    after = risks[1]
    return EditEffect(before[0], after.value, max(before[1], after.error_bound), _distance(p, joint))


# ----------------------------------------------------------------------------- modularity


def weight_graph(net) -> tuple[np.ndarray, np.ndarray]:
    """The network as an undirected weighted graph (Filan et al. 2021, sec. 2).

    Nodes are all units (inputs, hidden neurons, logits); units of adjacent layers are joined
    by an edge of weight ``|W|``.

    Returns:
        ``adjacency (N, N)`` symmetric, ``units (N, 2)`` int ``(layer, index)`` with layer
        ``-1`` for the inputs (then ``0..`` as in the neuron addressing of DESIGN.md).
    """
    layers = _weights(net)
    widths = widths_of(layers)
    offsets = np.concatenate([[0], np.cumsum(widths)])
    adjacency = np.zeros((offsets[-1], offsets[-1]))
    for depth, (W, _) in enumerate(layers):
        block = (slice(offsets[depth], offsets[depth + 1]),
                 slice(offsets[depth + 1], offsets[depth + 2]))
        adjacency[block] = np.abs(W)
    adjacency = adjacency + adjacency.T
    units = np.array([(l - 1, i) for l, w in enumerate(widths) for i in range(w)], int)
    return adjacency, units


def normalized_cut(adjacency: np.ndarray, labels: np.ndarray) -> float:
    """Shi & Malik (2000) normalised cut ``sum_c cut(c, not c) / vol(c)``.

    ``vol(c)`` is the total degree of cluster ``c``; clusters of zero volume contribute 0.

    Args:
        adjacency: ``(N, N)`` symmetric non-negative. labels: ``(N,)`` cluster of each node.
    Returns:
        the n-cut, in ``[0, k]`` for ``k`` clusters (lower = more clusterable).
    """
    labels = np.asarray(labels)
    onehot = labels[:, None] == np.unique(labels)[None, :]  # (N, k)
    degree = adjacency.sum(1)
    vol = degree @ onehot
    within = np.einsum("ik,ij,jk->k", onehot, adjacency, onehot)
    cut = vol - within
    return float(np.sum(np.divide(cut, vol, out=np.zeros_like(cut), where=vol > 0)))


def spectral_clusters(adjacency: np.ndarray, k: int, *, seed: int = 0,
                      restarts: int = 10) -> np.ndarray:
    """Spectral clustering by the normalised Laplacian (Ng, Jordan & Weiss 2002), as used by
    Filan et al. (2021): the ``k`` eigenvectors of ``L = I - D^-1/2 A D^-1/2`` with the smallest
    eigenvalues (``scipy.linalg.eigh``), rows normalised to unit length, clustered by k-means
    (``scipy.cluster.vq.kmeans2``, k-means++ seeding); of ``restarts`` runs the labelling with
    the lowest :func:`normalized_cut` is kept. Isolated nodes (degree 0) get zero rows.

    Args:
        adjacency: ``(N, N)`` symmetric non-negative. k: clusters, ``2 <= k <= N``.
        seed: seed of the k-means runs (deterministic given it). restarts: k-means runs.
    Returns:
        ``(N,)`` int labels.
    """
    adjacency = np.asarray(adjacency, np.float64)
    n = adjacency.shape[0]
    if adjacency.shape != (n, n) or not np.allclose(adjacency, adjacency.T) or adjacency.min() < 0:
        raise ValueError("adjacency must be a symmetric non-negative (N, N) matrix")
    if not (isinstance(k, (int, np.integer)) and 2 <= k <= n):
        raise ValueError(f"k={k!r} must be an int with 2 <= k <= N={n} (number of clusters)")
    degree = adjacency.sum(1)
    inv_sqrt = np.divide(1.0, np.sqrt(degree), out=np.zeros(n), where=degree > 0)
    laplacian = np.eye(n) - inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]
    _, vectors = scipy.linalg.eigh(laplacian, subset_by_index=(0, k - 1))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    embedding = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    best, best_cut = None, np.inf
    rng = np.random.default_rng(seed)
    for _ in range(restarts):
        with warnings.catch_warnings():  # an empty cluster is just a worse restart
            warnings.simplefilter("ignore", UserWarning)
            _, labels = kmeans2(embedding, k, minit="++", rng=rng)
        cut = normalized_cut(adjacency, labels)
        if cut < best_cut:
            best, best_cut = labels, cut
    return best


def shuffle_weights(net, rng: np.random.Generator) -> Layers:
    """Filan et al.'s (2021) null model: each weight matrix's entries permuted at random
    (layer sizes, weight distribution per layer and biases kept)."""
    return [(rng.permutation(W.ravel()).reshape(W.shape), b.copy()) for W, b in _weights(net)]


class Clusterability(NamedTuple):
    """How modular a network's weight graph is, relative to shuffled networks.

    Attributes:
        ncut: the network's n-cut (lower = more modular).
        labels: ``(N,)`` clusters of the units; units: ``(N, 2)`` as :func:`weight_graph`.
        shuffled: ``(n_shuffles,)`` n-cuts of weight-shuffled copies (Filan et al. 2021).
        z_score: ``(ncut - mean(shuffled)) / std(shuffled)`` (negative = more modular than
            chance).
        percentile: fraction of shuffled n-cuts at or below ``ncut`` (the one-sided p-value of
            "more clusterable than shuffled").
    """

    ncut: float
    labels: np.ndarray
    units: np.ndarray
    shuffled: np.ndarray
    z_score: float
    percentile: float


def clusterability(net, k: int, *, n_shuffles: int = 50, seed: int = 0,
                   restarts: int = 10) -> Clusterability:
    """Spectral-clustering modularity of a network vs its weight-shuffled null distribution
    (Filan et al. 2021, "Clusterability in neural networks", sec. 2-3).

    Args:
        net: layer list or MLP. k: number of clusters. n_shuffles: null samples (>= 2).
        seed: seeds the shuffles and k-means. restarts: k-means runs per clustering.
    Returns:
        :class:`Clusterability`.
    """
    if not (isinstance(n_shuffles, (int, np.integer)) and n_shuffles >= 2):
        raise ValueError(f"n_shuffles={n_shuffles!r} must be an int >= 2 (for a spread)")
    layers = _weights(net)
    adjacency, units = weight_graph(layers)
    labels = spectral_clusters(adjacency, k, seed=seed, restarts=restarts)
    ncut = normalized_cut(adjacency, labels)
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(n_shuffles):
        adj, _ = weight_graph(shuffle_weights(layers, rng))
        null.append(normalized_cut(adj, spectral_clusters(adj, k, seed=seed, restarts=restarts)))
    null = np.array(null)
    std = null.std(ddof=1)
    z = (ncut - null.mean()) / std if std > 0 else 0.0
    return Clusterability(ncut, labels, units, null, float(z), float(np.mean(null <= ncut)))


def cluster_alignment(effects: np.ndarray, source_clusters: np.ndarray,
                      target_clusters: np.ndarray) -> np.ndarray:
    """Do ablation effects stay inside the ablated neuron's cluster?

    For each ablated (source) neuron ``s`` with cluster ``c_s``: mean effect on the affected
    (target) neurons of cluster ``c_s`` divided by the mean effect on the other affected
    neurons. Values above 1 mean effects follow the clusters.

    Args:
        effects: ``(S, T)`` non-negative effect of ablating source ``s`` on target ``t``; NaN
            where ``t`` is not affected by construction (not downstream of ``s``).
        source_clusters: ``(S,)``; target_clusters: ``(T,)`` cluster labels.
    Returns:
        ``(S,)`` ratios; NaN where a source has no affected target inside or outside its
        cluster, or no effect outside it.
    """
    effects = np.asarray(effects, np.float64)
    same = source_clusters[:, None] == target_clusters[None, :]
    valid = ~np.isnan(effects)
    e = np.where(valid, effects, 0.0)
    n_in, n_out = (same & valid).sum(1), (~same & valid).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = (e * same).sum(1) / n_in
        outside = (e * ~same).sum(1) / n_out
        ratio = inside / outside
    return np.where((n_in > 0) & (n_out > 0) & (outside > 0), ratio, np.nan)


def hidden_neurons(widths: Sequence[int]) -> np.ndarray:
    """``(H, 2)`` ``(layer, index)`` of every hidden neuron of a ``(in, hidden..., out)`` net."""
    return np.array([(l, i) for l, w in enumerate(widths[1:-1]) for i in range(w)], int)


def constant_neurons(p: Partition) -> np.ndarray:
    """``(H,)`` bool per hidden neuron (layer after layer): its post-activation has zero
    gradient on every region of ``p``, i.e. it is constant on the partition's domain (a dead
    relu, or a neuron with zero incoming weights). Exact: read off the region maps."""
    return np.concatenate([np.all(A == 0, axis=(0, 1)) for A, _ in p.post[:-1]])
