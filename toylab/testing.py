"""Hypothesis strategies for property tests of theory claims, for toylab and its users.

A theory claim ("for any two-class equal-covariance mixture, no network beats the Bayes
risk", "the Hessian is equivariant under neuron permutations") becomes a property test over
generated worlds::

    from hypothesis import given
    from toylab import testing as tt

    @given(tt.distributions(max_classes=2, shared_covariance=True), tt.networks(output_dim=2))
    def test_no_network_beats_bayes(dist, net):
        ...

Strategies (all public, all validate their bounds eagerly and raise a ``ValueError`` naming
the argument for impossible ones):

- :func:`distributions`: :class:`toylab.data.GaussianMixture` s with bounded dimension,
  classes, components, separation and condition number; near-degenerate worlds (coincident
  means of different classes, nearly singular covariances) unless ``degenerate=False``.
- :func:`networks`: :class:`Network` layer lists of given sizes and activations, with
  degenerate weights (dead neurons, silent neurons, duplicated and parallel neurons, exact
  zeros, weights on a coarse dyadic grid so that hyperplanes meet in common points).
- :func:`domains`: convex 2-D domains (boxes and polygons; thin ones when degenerate).
- :func:`parameter_directions`: unit directions in a network's flat parameter space.
- :func:`trained_networks`: :class:`TrainedNetwork` s trained with
  :func:`toylab.train.train_ensemble` on a small fixed set of shapes, so compiled programs are
  reused and each trained network is cached.

Continuous details (means, rotations, weights) come from a NumPy generator seeded by a drawn
integer; the structural choices (sizes, degeneracies, bounds) are drawn by hypothesis and
shrink towards the simplest world.

Requires hypothesis (the ``test`` extra: ``pip install -e '.[test]'``); ``import toylab`` does
not import this module.

Profiles. :data:`PROFILES` defines ``ci`` (default), ``dev`` and ``thorough``;
:func:`load_profile` registers them and loads the one named by ``HYPOTHESIS_PROFILE``.
toylab's own ``tests/conftest.py`` calls it. See ``docs/property-testing.md``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

import numpy as np
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from toylab.data import GaussianMixture
from toylab.models import ACTIVATIONS, PIECEWISE_LINEAR, n_params, param_index

# ----------------------------------------------------------------------------- profiles

PROFILES: dict[str, dict] = {
    "ci": dict(
        max_examples=25, derandomize=True, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "dev": dict(
        max_examples=50, deadline=timedelta(seconds=60),
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "thorough": dict(
        max_examples=500, deadline=timedelta(seconds=120),
        suppress_health_check=[HealthCheck.too_slow],
    ),
}
"""Hypothesis profiles, selected with the ``HYPOTHESIS_PROFILE`` environment variable.

- ``ci`` (default): 25 examples per test, derandomized (the same examples on every run, so CI
  is reproducible), no deadline (shared CI machines make timings meaningless).
- ``dev``: 50 random examples, deadline 60 s per example: a hang detector (e.g. a world
  whose partition explodes), generous enough for the JIT compile of a first example.
- ``thorough``: 500 random examples, deadline 120 s, for a long search before a release.

A test's own ``@settings(max_examples=...)`` overrides the profile's count.
"""

DEFAULT_PROFILE = "ci"
PROFILE_ENV = "HYPOTHESIS_PROFILE"


def load_profile(name: str | None = None) -> str:
    """Register :data:`PROFILES` with hypothesis and load one.

    Args:
        name: a key of :data:`PROFILES`; default ``$HYPOTHESIS_PROFILE`` or ``"ci"``.
    Returns:
        the loaded profile's name.
    """
    for key, options in PROFILES.items():
        settings.register_profile(key, **options)
    name = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={name!r} is not a toylab profile; choose one of {sorted(PROFILES)}"
        )
    settings.load_profile(name)
    return name


# ----------------------------------------------------------------------------- validation


def _int_range(lo_name: str, lo, hi_name: str, hi, minimum: int) -> tuple[int, int]:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo} > {hi_name}={hi}: the range is empty; "
                         f"pass {lo_name} <= {hi_name}")
    return int(lo), int(hi)


def _float_range(lo_name: str, lo, hi_name: str, hi, minimum: float) -> tuple[float, float]:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < minimum:
            raise ValueError(f"{name}={value!r} must be a finite number >= {minimum}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo} > {hi_name}={hi}: the range is empty; "
                         f"pass {lo_name} <= {hi_name}")
    return float(lo), float(hi)


def _optional_bool(name: str, value) -> None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be True, False or None (either)")


def _seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**32 - 1)


def _range_with_ends(lo: float, hi: float, log: bool = False) -> st.SearchStrategy[float]:
    """Floats in ``[lo, hi]`` (log-uniform if ``log``) that hit both ends often."""
    if lo == hi:
        return st.just(lo)
    if log:
        inner = st.floats(np.log(lo), np.log(hi)).map(lambda t: float(np.clip(np.exp(t), lo, hi)))
    else:
        inner = st.floats(lo, hi)
    return st.one_of(st.sampled_from([lo, hi]), inner)


# ----------------------------------------------------------------------------- distributions


def _rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random orthogonal ``(d, d)`` matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _covariance(rng: np.random.Generator, d: int, scale: float, condition: float) -> np.ndarray:
    """SPD ``(d, d)`` with largest eigenvalue ``scale**2`` and condition number ``condition``
    (exactly, for ``d >= 2``; intermediate eigenvalues log-uniform in between)."""
    if d == 1:
        return np.array([[scale**2]])
    t = np.concatenate([[0.0], rng.uniform(0, 1, d - 2), [1.0]])
    eig = scale**2 * condition ** (-t)
    R = _rotation(rng, d)
    cov = (R * eig) @ R.T
    return (cov + cov.T) / 2


TINY_SEPARATION = 1e-6
"""Drawn separations below this become ``min_separation`` (exactly 0 by default): coincident
means are the degenerate case; separations like 1e-300 would only probe float underflow."""

MIN_SPREAD_RATIO = 0.25
"""Generated means span at most ``1 / MIN_SPREAD_RATIO`` times their separation per axis
(unless the fallback line layout is needed), which keeps worlds compact."""


def _cross_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(labels), 1)
    keep = labels[i] != labels[j]
    return i[keep], j[keep]


def _means(rng: np.random.Generator, labels: np.ndarray, d: int, separation: float) -> np.ndarray:
    """``(K, d)`` means whose smallest distance between different classes is ``separation``.

    Raw means are uniform in ``[-1, 1]^d``, redrawn (up to 20 times) until the closest
    cross-class pair is at least :data:`MIN_SPREAD_RATIO` of the spread, else evenly spaced
    on the first axis;
    then scaled. ``separation == 0`` scales to unit separation and then makes the closest
    cross-class pair coincide.
    """
    i, j = _cross_pairs(labels)
    for _ in range(20):
        raw = rng.uniform(-1, 1, (len(labels), d))
        dist = np.linalg.norm(raw[i] - raw[j], axis=1)
        if dist.min() >= MIN_SPREAD_RATIO * np.ptp(raw, 0).max():
            break
    else:
        raw = np.zeros((len(labels), d))
        raw[:, 0] = np.arange(len(labels))
        dist = np.linalg.norm(raw[i] - raw[j], axis=1)
    means = raw / dist.min() * (separation if separation > 0 else 1.0)
    if separation == 0:
        k = int(np.argmin(dist))
        means[j[k]] = means[i[k]]
    return means


def distributions(
    *,
    min_dim: int = 2,
    max_dim: int = 2,
    min_classes: int = 2,
    max_classes: int = 3,
    min_components: int | None = None,
    max_components: int | None = None,
    min_separation: float | None = None,
    max_separation: float = 6.0,
    max_condition: float | None = None,
    shared_covariance: bool | None = None,
    balanced: bool | None = None,
    degenerate: bool = True,
) -> st.SearchStrategy[GaussianMixture]:
    """Labelled Gaussian mixtures with bounded shape and difficulty.

    Units: every covariance has its largest eigenvalue in ``[1/4, 1]`` (one component exactly
    1), so distances are in units of the largest standard deviation.

    Args:
        min_dim, max_dim: input dimension ``d``.
        min_classes, max_classes: number of classes ``C`` (each class present).
        min_components, max_components: number of components ``K >= C`` (default ``C`` to
            ``C + 2``; extra components get random classes, as in XOR).
        min_separation, max_separation: smallest distance between the means of components of
            different classes. Default minimum: 0 (coincident means) if ``degenerate`` else 1.
            Draws below :data:`TINY_SEPARATION` are replaced by ``min_separation``.
        max_condition: largest condition number of a covariance (each drawn log-uniformly in
            ``[1, max_condition]``, hitting both ends). Default ``1e3`` if ``degenerate``
            (standard deviations ~32x apart, within reach of the Bayes-error quadrature's
            grid, ``toylab.data.MAX_GRID_POINTS``) else 10.
        shared_covariance: ``True`` for one covariance shared by all components (linear Bayes
            boundaries between single-component classes), ``False`` for one each, ``None``
            for either.
        balanced: ``True`` for equal mixing weights, ``False`` for random weights (each at
            least ``1/(2K)``), ``None`` for either.
        degenerate: include near-degenerate worlds through the default bounds above.
    Returns:
        a strategy of :class:`toylab.data.GaussianMixture`.
    """
    d_lo, d_hi = _int_range("min_dim", min_dim, "max_dim", max_dim, 1)
    c_lo, c_hi = _int_range("min_classes", min_classes, "max_classes", max_classes, 1)
    k_lo = c_lo if min_components is None else min_components
    k_hi = c_hi + 2 if max_components is None else max_components
    k_lo, k_hi = _int_range("min_components", k_lo, "max_components", k_hi, 1)
    if k_hi < c_lo:
        raise ValueError(
            f"max_components={k_hi} < min_classes={c_lo}: every class needs a component; "
            f"pass max_components >= {c_lo}"
        )
    sep_lo = (0.0 if degenerate else 1.0) if min_separation is None else min_separation
    sep_lo, sep_hi = _float_range("min_separation", sep_lo, "max_separation", max_separation,
                                  0.0)
    cond_hi = (1e3 if degenerate else 10.0) if max_condition is None else max_condition
    _float_range("1", 1.0, "max_condition", cond_hi, 1.0)
    _optional_bool("shared_covariance", shared_covariance)
    _optional_bool("balanced", balanced)

    @st.composite
    def mixture(draw) -> GaussianMixture:
        d = draw(st.integers(d_lo, d_hi))
        C = draw(st.integers(c_lo, c_hi))
        K = draw(st.integers(max(C, k_lo), k_hi))
        extra = draw(st.lists(st.integers(0, C - 1), min_size=K - C, max_size=K - C))
        labels = np.array(list(range(C)) + extra, dtype=np.int64)
        separation = draw(_range_with_ends(sep_lo, sep_hi).map(
            lambda s: s if s >= TINY_SEPARATION else sep_lo))
        shared = draw(st.booleans()) if shared_covariance is None else shared_covariance
        n_covs = 1 if shared else K
        conditions = draw(st.lists(_range_with_ends(1.0, cond_hi, log=True),
                                   min_size=n_covs, max_size=n_covs))
        equal = draw(st.booleans()) if balanced is None else balanced
        rng = np.random.default_rng(draw(_seeds()))
        scales = np.concatenate([[1.0], rng.uniform(0.5, 1.0, n_covs - 1)])
        covs = np.stack([_covariance(rng, d, s, c) for s, c in zip(scales, conditions)])
        covs = np.broadcast_to(covs, (K, d, d)) if shared else covs
        weights = np.full(K, 1.0 / K) if equal else 0.5 / K + 0.5 * rng.dirichlet(np.ones(K))
        means = _means(rng, labels, d, separation)
        return GaussianMixture(means, covs, weights / weights.sum(), labels, name="generated")

    return mixture()


# ----------------------------------------------------------------------------- networks


class Network(NamedTuple):
    """A generated network: a float64 layer list and its activation name."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    activation: str

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.layers[0][0].shape[0],) + tuple(W.shape[1] for W, _ in self.layers)


def _dead(layers, l, j, i, c):
    """Neuron ``(l, j)``: zero incoming weights, bias -1 (a ReLU never fires; others are
    constant)."""
    W, b = layers[l]
    W[:, j], b[j] = 0.0, -1.0


def _silent(layers, l, j, i, c):
    """Neuron ``(l, j)`` has zero outgoing weights (it does not affect the output)."""
    layers[l + 1][0][j, :] = 0.0


def _duplicate(layers, l, j, i, c):
    """Neuron ``(l, j)`` becomes an exact copy of neuron ``(l, i)`` (incoming weights, bias)."""
    W, b = layers[l]
    W[:, j], b[j] = W[:, i], b[i]


def _coincident(layers, l, j, i, c):
    """Neuron ``(l, j)`` becomes ``c`` times neuron ``(l, i)`` (weights and bias): the same
    hyperplane in the first layer, with another slope (and orientation if ``c < 0``)."""
    W, b = layers[l]
    W[:, j], b[j] = c * W[:, i], c * b[i]


def _parallel(layers, l, j, i, c):
    """Neuron ``(l, j)``'s incoming weights become ``c`` times neuron ``(l, i)``'s, its bias
    stays: parallel hyperplanes in the first layer."""
    layers[l][0][:, j] = c * layers[l][0][:, i]


def _zero_weight(layers, l, j, i, c):
    """One incoming weight of neuron ``(l, j)`` is exactly 0 (an axis-parallel hyperplane in
    the first layer)."""
    layers[l][0][i % layers[l][0].shape[0], j] = 0.0


def _zero_bias(layers, l, j, i, c):
    """Neuron ``(l, j)``'s bias is exactly 0 (first-layer hyperplanes through the origin)."""
    layers[l][1][j] = 0.0


DEGENERACIES: dict[str, Callable] = {
    "dead": _dead,
    "silent": _silent,
    "duplicate": _duplicate,
    "coincident": _coincident,
    "parallel": _parallel,
    "zero_weight": _zero_weight,
    "zero_bias": _zero_bias,
}
"""Edits :func:`networks` applies to hidden neuron ``(l, j)`` (``i`` another index, ``c`` a
scale): ``edit(layers, l, j, i, c)`` in place."""

DYADIC_STEP = 0.25
"""Grid of the 'dyadic' degenerate weights: multiples of 1/4 are exact in float64, so
hyperplanes meet exactly in shared points (three lines through one vertex)."""


def _check_activations(activations) -> tuple[str, ...]:
    names = (activations,) if isinstance(activations, str) else tuple(activations)
    if not names:
        raise ValueError("activations=() is empty; pass names from toylab.models.ACTIVATIONS")
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(
                f"activations contains {name!r}, which is unknown; choose from "
                f"{sorted(ACTIVATIONS)}"
            )
    return names


def networks(
    *,
    input_dim: int = 2,
    output_dim: int = 3,
    min_width: int = 1,
    max_width: int = 6,
    min_depth: int = 1,
    max_depth: int = 2,
    widths: Sequence[int] | None = None,
    activations: str | Sequence[str] = "relu",
    degenerate: bool = True,
) -> st.SearchStrategy[Network]:
    """Networks as float64 layer lists ``[(W (in, out), b (out,)), ...]`` plus activation.

    Weights are He-normal (std ``sqrt(2 / fan_in)``), biases ``N(0, 1/2)``. With
    ``degenerate``, examples may also have their weights rounded to multiples of
    :data:`DYADIC_STEP` and up to three edits from :data:`DEGENERACIES` (dead, silent,
    duplicated, coincident and parallel neurons, exact zero weights and biases).

    Args:
        input_dim, output_dim: ``d`` and the number of logits.
        min_width, max_width: hidden widths; min_depth, max_depth: hidden layers (0 allowed:
            an affine map).
        widths: a fixed ``(in, hidden..., out)`` instead of the six arguments above (fixed
            shapes let JIT-compiled analyses reuse one compilation).
        activations: a name or names from :data:`toylab.models.ACTIVATIONS`, e.g.
            ``toylab.models.PIECEWISE_LINEAR``.
        degenerate: include degenerate weights.
    Returns:
        a strategy of :class:`Network`.
    """
    names = _check_activations(activations)
    if widths is not None:
        widths = tuple(widths)
        if len(widths) < 2 or any(isinstance(w, bool) or not isinstance(w, (int, np.integer))
                                  or w < 1 for w in widths):
            raise ValueError(f"widths={widths!r} must be (in, hidden..., out) positive ints")
        shapes = st.just(widths)
    else:
        _int_range("input_dim", input_dim, "input_dim", input_dim, 1)
        _int_range("output_dim", output_dim, "output_dim", output_dim, 1)
        w_lo, w_hi = _int_range("min_width", min_width, "max_width", max_width, 1)
        l_lo, l_hi = _int_range("min_depth", min_depth, "max_depth", max_depth, 0)
        shapes = st.integers(l_lo, l_hi).flatmap(
            lambda depth: st.lists(st.integers(w_lo, w_hi), min_size=depth, max_size=depth)
        ).map(lambda hidden: (int(input_dim),) + tuple(hidden) + (int(output_dim),))
    edit = st.tuples(st.sampled_from(sorted(DEGENERACIES)), st.integers(0, 2**16),
                     st.integers(0, 2**16), st.integers(0, 2**16),
                     st.sampled_from([-2.0, -0.5, 0.5, 1.0, 3.0]))

    @st.composite
    def network(draw) -> Network:
        shape = draw(shapes)
        name = draw(st.sampled_from(names))
        rng = np.random.default_rng(draw(_seeds()))
        layers = [(rng.standard_normal((a, b)) * np.sqrt(2.0 / a),
                   rng.standard_normal(b) * np.sqrt(0.5))
                  for a, b in zip(shape[:-1], shape[1:])]
        if degenerate:
            if draw(st.booleans()):
                layers = [(np.round(W / DYADIC_STEP) * DYADIC_STEP,
                           np.round(b / DYADIC_STEP) * DYADIC_STEP) for W, b in layers]
            n_hidden = len(shape) - 2
            if n_hidden:
                for kind, l, j, i, c in draw(st.lists(edit, max_size=3)):
                    l %= n_hidden
                    width = shape[l + 1]
                    DEGENERACIES[kind](layers, l, j % width, i % width, c)
        return Network([(np.ascontiguousarray(W), np.ascontiguousarray(b)) for W, b in layers],
                       name)

    return network()


# ----------------------------------------------------------------------------- domains


def domains(
    *,
    min_size: float = 0.1,
    max_size: float = 10.0,
    max_offset: float = 2.0,
    max_aspect: float | None = None,
    polygons: bool = True,
    degenerate: bool = True,
) -> st.SearchStrategy[np.ndarray]:
    """Convex 2-D domains as accepted by :func:`toylab.exact.partition`.

    A box ``[[xlo, xhi], [ylo, yhi]]`` (2, 2) with side lengths in ``[min_size, max_size]``
    and aspect ratio at most ``max_aspect``, centred within ``max_offset`` of the origin in
    each coordinate; or (``polygons``) a convex polygon ``(m, 2)``, ``3 <= m <= 8``, CCW,
    inscribed in the ellipse inscribed in such a box.

    Args:
        min_size, max_size: side lengths of the box.
        max_offset: largest ``|centre|`` coordinate.
        max_aspect: largest side ratio; default 100 (thin domains, reachable with the default
            sizes) if ``degenerate`` else 4.
        polygons: include polygons besides boxes.
        degenerate: thin domains through the default ``max_aspect``.
    Returns:
        a strategy of float64 arrays, boxes ``(2, 2)`` or polygons ``(m, 2)``.
    """
    lo, hi = _float_range("min_size", min_size, "max_size", max_size, 0.0)
    if lo <= 0:
        raise ValueError(f"min_size={min_size!r} must be > 0; a domain needs positive area")
    _float_range("max_offset", max_offset, "max_offset", max_offset, 0.0)
    aspect = (100.0 if degenerate else 4.0) if max_aspect is None else max_aspect
    _float_range("1", 1.0, "max_aspect", aspect, 1.0)
    _optional_bool("polygons", polygons)

    @st.composite
    def domain(draw) -> np.ndarray:
        width = draw(_range_with_ends(lo, hi, log=True))
        ratio = draw(_range_with_ends(1.0, aspect, log=True))
        height = float(np.clip(width / ratio if draw(st.booleans()) else width * ratio, lo, hi))
        centre = np.array([draw(_range_with_ends(-max_offset, max_offset)) for _ in range(2)])
        if not (polygons and draw(st.booleans())):
            return np.array([[centre[0] - width / 2, centre[0] + width / 2],
                             [centre[1] - height / 2, centre[1] + height / 2]])
        m = draw(st.integers(3, 8))
        rng = np.random.default_rng(draw(_seeds()))
        gaps = rng.uniform(0.3, 1.0, m)
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.cumsum(gaps) / gaps.sum()
        return centre + np.stack([width / 2 * np.cos(angle), height / 2 * np.sin(angle)], 1)

    return domain()


# ----------------------------------------------------------------------------- directions


def _gaussian(rng, P, idx):
    return rng.standard_normal(P)


def _coordinate(rng, P, idx):
    v = np.zeros(P)
    v[rng.integers(P)] = 1.0
    return v


def _neuron(rng, P, idx):
    """Random weights on one neuron's incoming parameters and outgoing weights."""
    layer = idx.layer[rng.integers(P)]
    neuron = rng.integers(idx.neuron[idx.layer == layer].max() + 1)
    mask = (idx.layer == layer) & (idx.neuron == neuron)
    mask |= (idx.layer == layer + 1) & (idx.source == neuron)
    return np.where(mask, rng.standard_normal(P), 0.0)


def _layer(rng, P, idx):
    layer = idx.layer[rng.integers(P)]
    return np.where(idx.layer == layer, rng.standard_normal(P), 0.0)


def _sparse(rng, P, idx):
    v = np.zeros(P)
    k = min(P, 3)
    v[rng.choice(P, k, replace=False)] = rng.choice([-1.0, 1.0], k)
    return v


DIRECTIONS: dict[str, Callable] = {
    "gaussian": _gaussian,
    "coordinate": _coordinate,
    "neuron": _neuron,
    "layer": _layer,
    "sparse": _sparse,
}
"""Kinds of parameter directions: ``fn(rng, P, param_index) -> (P,)`` (before normalising)."""


def parameter_directions(net_or_widths, *, kinds: Sequence[str] = tuple(DIRECTIONS),
                         normalize: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Directions ``(P,)`` in the flat parameter space (DESIGN.md order) of a network.

    Args:
        net_or_widths: a layer list, a :class:`Network` or widths ``(in, hidden..., out)``.
        kinds: names in :data:`DIRECTIONS` (isotropic Gaussian, one coordinate, one neuron's
            in- and outgoing parameters, one layer, three signed coordinates).
        normalize: unit Euclidean norm.
    Returns:
        a strategy of float64 ``(P,)`` arrays.
    """
    if isinstance(net_or_widths, Network):
        widths = net_or_widths.widths
    elif len(net_or_widths) and isinstance(net_or_widths[0], (tuple, list)):
        layers = net_or_widths
        widths = (np.shape(layers[0][0])[0],) + tuple(np.shape(W)[1] for W, _ in layers)
    else:
        widths = tuple(net_or_widths)
    P, idx = n_params(widths), param_index(widths)
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in DIRECTIONS]
    if not kinds or unknown:
        raise ValueError(f"kinds={kinds!r} must be non-empty names from {sorted(DIRECTIONS)}")

    @st.composite
    def direction(draw) -> np.ndarray:
        kind = draw(st.sampled_from(kinds))
        v = DIRECTIONS[kind](np.random.default_rng(draw(_seeds())), P, idx)
        norm = np.linalg.norm(v)
        assume(norm > 0)
        return v / norm if normalize else v

    return direction()


# ----------------------------------------------------------------------------- trained


class TrainedNetwork(NamedTuple):
    """A network trained on samples of a distribution.

    Attributes:
        layers: final float64 layer list; activation: its activation.
        dist: the distribution; X: ``(n, d)``, y: ``(n,)`` the training sample.
        config: the :class:`toylab.train.TrainConfig`; seed: init seed.
        trajectory: float64 layer lists at ``config.snapshot_steps``.
        final_loss, final_accuracy: on the training sample.
    """

    layers: list
    activation: str
    dist: GaussianMixture
    X: np.ndarray
    y: np.ndarray
    config: object
    seed: int
    trajectory: tuple
    final_loss: float
    final_accuracy: float

    def __repr__(self) -> str:  # hypothesis prints falsifying examples with repr
        return (f"TrainedNetwork(widths={self.config.widths}, activation={self.activation!r}, "
                f"dist={self.dist!r}, means={self.dist.means.tolist()}, seed={self.seed}, "
                f"learning_rate={self.config.learning_rate}, final_loss={self.final_loss:.4g}, "
                f"final_accuracy={self.final_accuracy:.4g})")


class _World:
    """A distribution hashed by its parameters (GaussianMixture compares by identity), so
    equal worlds drawn twice share a cache entry."""

    def __init__(self, dist: GaussianMixture):
        self.dist = dist
        self.key = tuple(np.asarray(a).tobytes()
                         for a in (dist.means, dist.covs, dist.weights, dist.labels))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _World) and self.key == other.key


@lru_cache(maxsize=256)
def _train_cached(world: _World, config, sample_seed: int, seed: int, n_points: int):
    """Train one seed (shape ``(1,)``, so every call of a config shape reuses one program)."""
    from toylab.train import train_ensemble

    sample = world.dist.sample(sample_seed, n_points)
    run = train_ensemble(sample.X, sample.y, [seed], config=config, on_divergence="report")
    trajectory = tuple(
        [(np.asarray(W[0, t], np.float64), np.asarray(b[0, t], np.float64))
         for W, b in run.snapshots]
        for t in range(len(run.snapshot_steps))
    )
    return trajectory[-1], sample.X, sample.y, trajectory, float(run.final_loss[0]), \
        float(run.final_accuracy[0])


def trained_networks(
    dists: st.SearchStrategy[GaussianMixture] | None = None,
    *,
    hidden: Sequence[Sequence[int]] = ((8,),),
    activations: str | Sequence[str] = "relu",
    learning_rates: Sequence[float] = (1e-2,),
    steps: int = 500,
    snapshot_every: int = 100,
    n_points: int = 256,
    seeds: Sequence[int] = (0, 1, 2),
    optimizer: str = "adam",
) -> st.SearchStrategy[TrainedNetwork]:
    """Networks trained (float32, full batch) on a sample of a drawn distribution.

    Every example trains one seed on ``n_points`` points of the drawn distribution, so the
    compiled program depends only on ``(hidden, activation, d, C)`` -- draw from few of
    those. The learning rate is a traced input (no recompilation) and results are cached by
    ``(distribution, config, seed)``, so hypothesis' replays and shrinking cost nothing.
    Diverged runs are rejected.

    Args:
        dists: strategy of distributions (default: :func:`distributions` in 2-D with 2-3
            well-separated classes, ``degenerate=False``).
        hidden: hidden-layer width tuples to choose from, e.g. ``((8,), (8, 8))``; ``()`` is
            a linear model.
        activations: activation name(s); learning_rates: to choose from.
        steps, snapshot_every, optimizer: training (see :class:`toylab.train.TrainConfig`).
        n_points: training sample size (sample seed drawn from ``seeds`` too).
        seeds: init seeds to choose from.
    Returns:
        a strategy of :class:`TrainedNetwork`.
    """
    from toylab.train import TrainConfig

    names = _check_activations(activations)
    hidden = tuple(tuple(int(w) for w in h) for h in hidden)
    if not hidden or any(h and min(h) < 1 for h in hidden):
        raise ValueError(f"hidden={hidden!r} must be tuples of positive widths, e.g. "
                         "((8,), (8, 8)), or () for no hidden layer")
    rates = tuple(float(r) for r in learning_rates)
    if not rates or min(rates) <= 0:
        raise ValueError(f"learning_rates={learning_rates!r} must be positive, e.g. (1e-2,)")
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds=() is empty; pass init seeds to choose from, e.g. (0, 1, 2)")
    _int_range("n_points", n_points, "n_points", n_points, 1)
    TrainConfig(steps=steps, snapshot_every=snapshot_every, optimizer=optimizer)  # validate
    dists = dists if dists is not None else distributions(max_classes=3, degenerate=False)

    @st.composite
    def trained(draw) -> TrainedNetwork:
        dist = draw(dists)
        config = TrainConfig(
            widths=(dist.dim,) + draw(st.sampled_from(hidden)) + (dist.n_classes,),
            activation=draw(st.sampled_from(names)), optimizer=optimizer,
            learning_rate=draw(st.sampled_from(rates)), steps=steps,
            snapshot_every=snapshot_every,
        )
        seed, sample_seed = draw(st.sampled_from(seeds)), draw(st.sampled_from(seeds))
        layers, X, y, trajectory, loss, acc = _train_cached(_World(dist), config, sample_seed,
                                                            seed, n_points)
        assume(np.isfinite(loss))
        return TrainedNetwork(layers, config.activation, dist, X, y, config, seed, trajectory,
                              loss, acc)

    return trained()


__all__ = [
    "DEGENERACIES", "DIRECTIONS", "DYADIC_STEP", "Network", "PIECEWISE_LINEAR", "PROFILES",
    "TrainedNetwork", "distributions", "domains", "load_profile", "networks",
    "parameter_directions", "trained_networks",
]
