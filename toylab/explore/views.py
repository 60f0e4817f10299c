"""What the explorer draws, as plain arrays: pure functions of a world and a network.

Nothing here knows about Bokeh; :mod:`toylab.explore.app` turns these NamedTuples into
column data. Every number is the library's own exact value:

- regions, their activation patterns and affine maps: :func:`toylab.exact.population_partition`
  (float64 geometry, no grid);
- region probability masses, population accuracy, excess risk, neuron means:
  closed-form Gaussian integrals over the polygons (:mod:`toylab.exact.population`);
- decision boundary, folds, maxima: :mod:`toylab.exact.boundary`;
- the Bayes boundary: :func:`toylab.exact.bayes_segments` (exact lines where the log-odds are
  affine, else traced to 1e-8);
- neuron formulas: :func:`toylab.symbolic.neuron_expression`.

Only the neuron *images* and density contours are evaluated on a pixel grid (exact values at
the pixel centres); folds and boundaries are drawn from the exact segments.

For an :class:`~toylab.explore.world.EmpiricalWorld` (uploaded points) the partition is that
of the plot window (:func:`toylab.exact.partition`), region masses and neuron means are exact
shares and means *of the points*, and the population quantities (density, Bayes boundary and
error, population accuracy) are None.
"""

from __future__ import annotations

from itertools import combinations
from typing import NamedTuple

import numpy as np

from toylab import exact, symbolic
from toylab.data import GaussianMixture
from toylab.explore.world import EmpiricalWorld

IMAGE_PIXELS = 48
"""Pixels per side of a neuron tile (values exact at the pixel centres)."""

DENSITY_PIXELS = 120
"""Grid points per side for the density contours."""

MAX_REGIONS = 20_000
"""Largest partition the explorer draws; beyond it the page shows a message instead."""


class WorldView(NamedTuple):
    """A world's drawing.

    Attributes:
        box: ``(2, 2)`` plot window ``[[xlo, xhi], [ylo, yhi]]`` (``dist.domain``).
        density: ``(DENSITY_PIXELS, DENSITY_PIXELS)`` mixture density on the grid ``gx, gy``
            (rows along y).
        gx, gy: ``(DENSITY_PIXELS,)`` grid coordinates.
        levels: contour levels of the density.
        bayes: ``(s, 2, 2)`` Bayes decision boundary segments (all class pairs, each
            restricted to where the pair are the two most probable classes).
        bayes_exact: whether every segment is exact (affine log-odds) rather than traced.
        bayes_error: the Bayes error; X: ``(n, 2)``, y: ``(n,)`` the training sample.
        For an empirical world density, gx, gy and bayes_error are None, levels and bayes
        empty.
    """

    box: np.ndarray
    density: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    levels: np.ndarray
    bayes: np.ndarray
    bayes_exact: bool
    bayes_error: float
    X: np.ndarray
    y: np.ndarray


def world_view(dist: GaussianMixture | EmpiricalWorld, X: np.ndarray,
               y: np.ndarray) -> WorldView:
    """:class:`WorldView` of a 2-D mixture (or an empirical world) and its training sample
    ``X (n, 2)``, ``y (n,)``."""
    box = np.asarray(dist.domain, np.float64)
    if isinstance(dist, EmpiricalWorld):
        return WorldView(box, None, None, None, np.zeros(0), np.zeros((0, 2, 2)), False, None,
                         np.asarray(X), np.asarray(y))
    gx = np.linspace(*box[0], DENSITY_PIXELS)
    gy = np.linspace(*box[1], DENSITY_PIXELS)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    density = np.exp(dist.log_density(grid)).reshape(DENSITY_PIXELS, DENSITY_PIXELS)
    levels = density.max() * np.array([0.05, 0.2, 0.4, 0.6, 0.8])
    parts = [exact.bayes_segments(dist, i, j, box) for i, j in
             combinations(range(dist.n_classes), 2)]
    bayes = np.concatenate([s.segments for s in parts] + [np.zeros((0, 2, 2))])
    return WorldView(box, density, gx, gy, levels, bayes, all(s.exact for s in parts),
                     float(dist.bayes_error()), np.asarray(X), np.asarray(y))


class NetView(NamedTuple):
    """One network's exact drawing under a world.

    Attributes:
        partition: the :class:`toylab.exact.Partition` (population box; an empirical
            world's ``domain``).
        polygons: per region ``(m_r, 2)`` vertices; patterns: per region the activation
            pattern, one string of piece indices per hidden layer joined by ``|``;
        mass: ``(R,)`` exact probability of each region (empirical world: the share of the
            points in it); affine: per region the logits'
            affine map as text; predicted: ``(R,)`` argmax class at the region centroid.
        boundary: ``(s, 2, 2)`` the net's decision boundary.
        neurons: ``(N, 2)`` ``(layer, index)`` of every hidden neuron, in layer order.
        images: ``(N, IMAGE_PIXELS, IMAGE_PIXELS)`` each neuron's response on the plot
            window's pixel centres (rows along y).
        folds: per neuron ``(s, 2, 2)`` exact fold segments (:func:`neuron_folds`); None from
            ``net_view(..., folds=False)``.
        mean, mean_bound: ``(N,)`` exact population mean ``E[y_i]`` and its error bound
            (empirical world: the mean over the points, bound 0).
        maximum: ``(N,)`` exact maximum over the partition's domain.
        accuracy: exact population accuracy (:class:`toylab.exact.Exact`); the excess risk
            is ``1 - accuracy - WorldView.bayes_error`` (the Bayes error is the world's, computed
            once there rather than per snapshot). None for an empirical world.
    """

    partition: exact.Partition
    polygons: list
    patterns: list
    mass: np.ndarray
    affine: list
    predicted: np.ndarray
    boundary: np.ndarray
    neurons: np.ndarray
    images: np.ndarray
    folds: list
    mean: np.ndarray
    mean_bound: np.ndarray
    maximum: np.ndarray
    accuracy: exact.Exact | None


def _affine_text(A: np.ndarray, c: np.ndarray) -> list[str]:
    """``logit_k = a0 x1 + a1 x2 + c`` per region, for ``A (R, 2, C)``, ``c (R, C)``."""
    rows = []
    for Ar, cr in zip(A, c):
        rows.append("; ".join(f"z{k + 1} = {Ar[0, k]:+.3g} x1 {Ar[1, k]:+.3g} x2 {cr[k]:+.3g}"
                              for k in range(len(cr))))
    return rows


def net_view(layers, activation: str, dist: GaussianMixture | EmpiricalWorld, box=None, *,
             max_regions: int = MAX_REGIONS, folds: bool = True) -> NetView:
    """:class:`NetView` of a 2-input piecewise-linear network under ``dist``.

    Args:
        layers: ``[(W (in, out), b (out,)), ...]``; activation: piecewise-linear name.
        dist: 2-D mixture, or an empirical world (its points); box: ``(2, 2)`` plot window
            (default ``dist.domain``).
        max_regions: a larger partition raises ``ValueError`` naming the widths (the page
            shows it as a message).
        folds: False leaves ``folds`` None, for :func:`neuron_folds` to fill later (the exact
            folds are most of the time of a small net's view: the page draws the rest first).
    """
    box = np.asarray(dist.domain if box is None else box, np.float64)
    empirical = isinstance(dist, EmpiricalWorld)
    try:
        if empirical:
            p = exact.partition(layers, dist.domain, activation=activation,
                                max_regions=max_regions)
        else:
            p = exact.population_partition(layers, dist, activation=activation,
                                           max_regions=max_regions)
    except ValueError as err:
        if "above max_regions" not in str(err):
            raise
        widths = [np.shape(W)[0] for W, _ in layers] + [np.shape(layers[-1][0])[1]]
        raise ValueError(
            f"the net {'-'.join(map(str, widths))} has more than {max_regions} linear regions "
            f"over the world; choose smaller widths or fewer layers to see it exactly") from None
    A, c = p.pre[-1]
    predicted = np.argmax(np.einsum("ri,rik->rk", p.centroids, A) + c, axis=1)
    patterns = ["|".join("".join(map(str, row)) for row in rows)
                for rows in zip(*p.patterns)]
    neurons = np.array([(l, i) for l, w in enumerate(p.widths[1:-1]) for i in range(w)])
    gx = np.linspace(*box[0], IMAGE_PIXELS * 2 + 1)[1::2]
    gy = np.linspace(*box[1], IMAGE_PIXELS * 2 + 1)[1::2]
    U = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    values = np.concatenate([p.evaluate(U, layer) for layer in range(p.n_hidden)], axis=1)
    images = values.T.reshape(-1, IMAGE_PIXELS, IMAGE_PIXELS)
    if empirical:
        region = p.locate(dist.X)  # every point lies in dist.domain
        mass = np.bincount(region, minlength=len(p)) / len(dist.X)
        mean = np.concatenate([p.evaluate(dist.X, layer).mean(0)
                               for layer in range(p.n_hidden)])
        mean_bound, accuracy = np.zeros_like(mean), None
    else:
        mass = exact.region_masses(p, dist).value
        moments = [exact.layer_moments(p, dist, layer) for layer in range(p.n_hidden)]
        mean = np.concatenate([m.mean for m in moments])
        mean_bound = np.concatenate([m.mean_bound for m in moments])
        accuracy = exact.population_accuracy(p, dist)
    return NetView(
        partition=p,
        polygons=p.polygons,
        patterns=patterns,
        mass=mass,
        affine=_affine_text(A, c),
        predicted=predicted,
        boundary=exact.decision_boundary(p),
        neurons=neurons,
        images=images,
        folds=neuron_folds(p, neurons) if folds else None,
        mean=mean,
        mean_bound=mean_bound,
        maximum=np.array([exact.neuron_extrema(p, tuple(n)).max for n in neurons]),
        accuracy=accuracy,
    )


def neuron_folds(p: exact.Partition, neurons: np.ndarray) -> list[np.ndarray]:
    """Exact fold segments ``(s, 2, 2)`` of each hidden neuron ``(layer, index)`` in
    ``neurons (N, 2)`` (:attr:`NetView.folds`)."""
    return [exact.folds(p, tuple(n)) for n in neurons]


class NeuronDetail(NamedTuple):
    """What a click on a neuron shows.

    Attributes:
        neuron: ``(layer, index)``; latex: its response function (3 significant digits);
        mean, mean_bound: exact ``E[y]`` under the world and its error bound; maximum,
        argmax: exact maximum over the plot window ``dist.domain`` (99.9% of the mass; over
        the far larger population box a piecewise-linear neuron peaks at a corner) and where
        it is attained. points: for an empirical world the number of points the mean is
        taken over (the bound is then 0), else None.
    """

    neuron: tuple[int, int]
    latex: str
    mean: float
    mean_bound: float
    maximum: float
    argmax: np.ndarray
    points: int | None = None


def neuron_detail(view: NetView, dist: GaussianMixture | EmpiricalWorld,
                  neuron: tuple[int, int]) -> NeuronDetail:
    """Formula, exact mean (over an empirical world: over its points) and maximum (over
    ``dist.domain``) of hidden ``neuron`` of the net behind ``view``."""
    p = view.partition
    expr = symbolic.neuron_expression(p.layers, neuron, activation=p.activation)
    window = exact.partition(p.layers, dist.domain, activation=p.activation,
                             max_regions=MAX_REGIONS)
    ext = exact.neuron_extrema(window, neuron)
    if isinstance(dist, EmpiricalWorld):
        mean = float(window.evaluate(dist.X, neuron[0])[:, neuron[1]].mean())
        return NeuronDetail(tuple(int(v) for v in neuron), symbolic.latex(expr), mean, 0.0,
                            ext.max, ext.argmax, len(dist.X))
    mean = exact.neuron_expectation(p, dist, neuron)
    return NeuronDetail(tuple(int(v) for v in neuron), symbolic.latex(expr), float(mean.value),
                        float(mean.error_bound), ext.max, ext.argmax)


def clip_segments(segs: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Segments ``(s, 2, 2)`` clipped to the box ``[[xlo, xhi], [ylo, yhi]]`` (Liang-Barsky);
    segments outside it are dropped."""
    segs = np.asarray(segs, np.float64).reshape(-1, 2, 2)
    p0, d = segs[:, 0], segs[:, 1] - segs[:, 0]
    t0, t1 = np.zeros(len(segs)), np.ones(len(segs))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(2):
            for bound, sign in ((box[axis, 0], -1.0), (box[axis, 1], 1.0)):
                q = sign * (bound - p0[:, axis])  # inside: sign * d * t <= q
                pd = sign * d[:, axis]
                t = q / pd
                t0 = np.where(pd < 0, np.maximum(t0, t), t0)
                t1 = np.where(pd > 0, np.minimum(t1, t), t1)
                t1 = np.where((pd == 0) & (q < 0), -1.0, t1)
    keep = t0 < t1
    return np.stack([p0 + t0[:, None] * d, p0 + t1[:, None] * d], 1)[keep]
