"""Study ``neurons-vs-boundary``: do hidden neurons model the data distribution, or only the
decision boundary?

Question. Two Gaussian classes share one anisotropic covariance whose long axis is tilted
(30 degrees) against the line joining the means, so the Bayes boundary's normal
``Sigma^{-1} (mu_1 - mu_0)`` turns away from the mean difference (towards the short axis as the
anisotropy grows) and the data's layout and the boundary point different ways. Which neurons
of small trained ReLU nets track the class log-odds or the distance to a decision boundary,
which track a component's log-density, which are dead -- and how do these fractions move with
width, depth, class separation, anisotropy, weight decay, the world's distance from the
origin and the first-layer bias initialisation?

Method. One factor at a time around a base cell (width 8, depth 2, separation 2, anisotropy
3, no weight decay, Bayes line through the origin, zero initial biases): each cell trains ``seeds`` nets (Adam,
full batch), every seed on its own training sample (harness cells, one compiled sweep per
shape). For every hidden neuron of every kept seed,
:func:`toylab.compare.neurons.neuron_profile` computes its population correlation with the
log-odds, each component's log-density and the signed distances to the Bayes and to the learned
boundary (exact neuron moments; target moments by adaptive Gauss-Legendre quadrature per
linear region with an order-doubling error estimate), the exact probability of the regions
where it varies, and where its fold lies (exact Mahalanobis depth into the data,
density-weighted mean distance to the boundaries). Kinds follow
:func:`toylab.compare.neurons.classify`. With a shared covariance the log-odds are affine and
the signed distance to the Bayes line is the log-odds divided by their gradient norm, so those
two targets give identical correlations (a check, not a finding).

Controls (issue 12). *Nulls*: every fraction is reported against the same seeds' initial
networks (kinds; folds measured against the *trained* net's boundary, so "did training move
the folds to the boundary?") and every fold fraction against a null of random folds: the
first-layer fold lines of the cell's other seeds' initial networks, i.e. lines drawn from the
initialisation's own fold distribution (through the origin for zero-bias inits).
*Built-in answers*: the ``offset`` factor moves the world so that the Bayes line passes at a
given distance from the origin, where every zero-bias first-layer fold starts; the ``bias_init`` factor replaces the
zero biases by ``N(0, nonzero_bias_std^2)`` ones or by data-dependent ones (each first-layer
fold through a training point; :mod:`toylab.train.inits`). *Unequal
targets*: each target's best attainable ``|corr|`` over all first-layer ramps
``relu(u.x - b)`` (:func:`toylab.compare.probes.ramp_correlations`, by 1-D quadrature)
normalises the first-layer correlations, and a per-layer linear probe
(:func:`toylab.compare.probes.probe_r2`: exact population R^2 of the best affine readout
of a layer's neurons) compares the targets on an equal footing.
*Thresholds*: the kind fractions are swept over the correlation cut and the fold fractions
over the fold radius.

Result. See ``studies/README.md`` for the headline numbers of the full run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from toylab.compare.editing import hidden_neurons
from toylab.compare.neurons import (KINDS, KindThresholds, NeuronProfile, classify, fold_depth,
                                    fold_distance, neuron_profile, targets)
from toylab.data import GaussianMixture
from toylab.compare.probes import (  # noqa: F401 (ramp_correlations: re-exported)
    RAMP_TARGETS, attainable, bounding_box, line_segments, probe_r2, ramp_correlations)
from toylab.exact import decision_boundary, folds
from toylab.exact.population import population_partition
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, headline, kept_members,
                          load_layers, member_arrays, threshold_sweep)
from toylab.train import TrainConfig, TrainResult

NAME = "neurons-vs-boundary"
DESCRIPTION = ("Do hidden neurons track the data density or the decision boundary? Kinds vs 6 "
               "factors, against init and random-fold nulls")

FACTORS = {
    "width": "widths",
    "depth": "depths",
    "separation": "separations",
    "anisotropy": "anisotropies",
    "weight_decay": "weight_decays",
    "offset": "offsets",
    "bias_init": "bias_inits",
}
"""Swept factor -> Config field holding its levels (the base level is read from ``train`` and
``world``, see :meth:`Config.base_level`)."""

KIND_LABELS = KINDS + ("mixture_density",)
"""Per-seed fractions of the kinds, and of the neurons whose ``|corr|`` with the mixture's
(class-blind) log-density reaches the cut."""
FOLD_LABELS = ("fold_in_data", "fold_at_boundary", "fold_at_bayes")
"""Per-seed fractions of neurons whose fold reaches into the data, lies at the learned
boundary, lies at the Bayes line (density-weighted mean distance within ``fold_radius``)."""
LABELS = KIND_LABELS + FOLD_LABELS

PROFILE_FIELDS = ("mean", "std", "active_mass", "corr", "corr_error", "fold_depth",
                  "fold_to_bayes", "fold_to_learned")
"""Per-neuron :class:`~toylab.compare.neurons.NeuronProfile` arrays stored for every member
(trained, and with prefix ``init_`` for the initial network)."""


# ----------------------------------------------------------------------------- world


def tilted(separation: float, anisotropy: float, angle_deg: float) -> GaussianMixture:
    """Two equally likely classes ``N(-+ separation/2 e_1, Sigma)`` with the shared covariance
    ``Sigma = R diag(anisotropy, 1/anisotropy) R^T`` (unit determinant; ``R`` rotates by
    ``angle_deg``): a linear Bayes boundary through the origin, tilted against the mean
    difference unless ``anisotropy == 1``."""
    a = np.deg2rad(angle_deg)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    cov = R @ np.diag([anisotropy, 1.0 / anisotropy]) @ R.T
    means = np.array([[-separation / 2, 0.0], [separation / 2, 0.0]])
    return GaussianMixture(means, np.stack([cov, cov]), name="tilted")


@dataclass(frozen=True)
class Tilt:
    """The study's world: :func:`tilted`, moved by ``offset`` along the Bayes line's unit
    normal (towards class 1), so the Bayes line passes at distance ``|offset|`` from the origin
    -- the point every zero-bias first-layer fold starts through."""

    separation: float = 2.0
    anisotropy: float = 3.0
    angle_deg: float = 30.0
    offset: float = 0.0

    def __post_init__(self):
        for name in ("separation", "anisotropy"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"world.{name}={value!r} must be a positive number")
        for name in ("angle_deg", "offset"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"world.{name}={getattr(self, name)!r} must be finite")

    def distribution(self) -> GaussianMixture:
        dist = tilted(self.separation, self.anisotropy, self.angle_deg)
        if self.offset == 0:
            return dist
        normal = np.linalg.solve(dist.covs[0], dist.means[1] - dist.means[0])
        return dist.shifted(self.offset * normal / np.linalg.norm(normal), name="tilted_shifted")


@dataclass(frozen=True)
class Cell(TrainCell):
    """A harness cell on the study's own world (``tilt``; the inherited ``world`` is unused)."""

    tilt: Tilt = field(default_factory=Tilt)

    def distribution(self) -> GaussianMixture:
        return self.tilt.distribution()


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Config:
    """Settings of the ``neurons-vs-boundary`` study: the base cell (``train``, ``world``), the
    levels of every factor, the thresholds and their sweeps."""

    train: TrainConfig = TrainConfig(widths=(2, 8, 8, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000)
    world: Tilt = Tilt()
    widths: tuple[int, ...] = (4, 8, 16)
    depths: tuple[int, ...] = (1, 2, 3)
    separations: tuple[float, ...] = (1.0, 2.0, 4.0)
    anisotropies: tuple[float, ...] = (1.0, 3.0, 9.0)
    weight_decays: tuple[float, ...] = (0.0, 0.03, 0.3)
    offsets: tuple[float, ...] = (0.0, 2.0, 4.0)
    bias_inits: tuple[str, ...] = ("zeros", "normal", "data")
    nonzero_bias_std: float = 1.0
    n_train: int = 512
    data_seed: int = 0
    sampling: str = "per_seed"
    rtol: float = 1e-3
    corr_threshold: float = 0.8
    dead_mass: float = 0.01
    fold_depth: float = 2.0
    fold_radius: float = 0.5
    corr_sweep: tuple[float, ...] = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    radius_sweep: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    null_lines: int = 64
    ramp_angles: int = 180
    ramp_points: int = 801
    seeds: int = 20

    def __post_init__(self):
        if not (np.isfinite(self.nonzero_bias_std) and self.nonzero_bias_std > 0):
            raise ValueError(f"nonzero_bias_std={self.nonzero_bias_std!r} must be a positive "
                             "number (the bias scale of the 'normal' and 'data' inits), e.g. 1.0")
        if isinstance(self.null_lines, bool) or not isinstance(self.null_lines, int) \
                or self.null_lines < 1:
            raise ValueError(f"null_lines={self.null_lines!r} must be a positive number of "
                             "random fold lines per member, e.g. 64")
        w = self.train.widths
        if w[0] != 2 or w[-1] != 2 or len(w) < 3 or len(set(w[1:-1])) != 1:
            raise ValueError(f"train.widths={w} must be (2, width, ..., width, 2): two inputs, "
                             "equal hidden widths, two logits")

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: the base cell, one shifted world and the data-dependent bias
        init, 3 seeds, 300 steps."""
        return cls(train=replace(cls.train, widths=(2, 6, 6, 2), steps=300, snapshot_every=300),
                   widths=(6,), depths=(2,), separations=(2.0,), anisotropies=(3.0,),
                   weight_decays=(0.0,), offsets=(0.0, 3.0), bias_inits=("zeros", "data"),
                   n_train=256, rtol=1e-2,
                   ramp_angles=72, ramp_points=401, seeds=3)

    def thresholds(self, **changes) -> KindThresholds:
        return KindThresholds(**{"corr": self.corr_threshold, "dead_mass": self.dead_mass,
                                 "fold_depth": self.fold_depth,
                                 "fold_radius": self.fold_radius, **changes})

    def base_level(self, factor: str):
        """The base cell's level of ``factor``."""
        return {"width": self.train.widths[1], "depth": len(self.train.widths) - 2,
                "weight_decay": self.train.weight_decay,
                "separation": self.world.separation, "anisotropy": self.world.anisotropy,
                "offset": self.world.offset, "bias_init": self.train.bias_init}[factor]

    def cell(self, **levels) -> Cell:
        """The base cell with some factors at other levels."""
        width = levels.get("width", self.base_level("width"))
        depth = levels.get("depth", self.base_level("depth"))
        train = replace(self.train, widths=(2,) + (width,) * depth + (2,),
                        weight_decay=levels.get("weight_decay", self.train.weight_decay))
        init = levels.get("bias_init", self.train.bias_init)
        if init != self.train.bias_init:  # zero biases need bias_std 0; the others the stated scale
            train = replace(train, bias_init=init,
                            bias_std=0.0 if init == "zeros" else self.nonzero_bias_std)
        tilt = replace(self.world, **{k: levels[k] for k in ("separation", "anisotropy", "offset")
                                      if k in levels})
        return Cell(train=train, seeds=self.seeds, n_train=self.n_train,
                    data_seed=self.data_seed, sampling=self.sampling, tilt=tilt)

    def cells(self) -> dict[str, list[Cell]]:
        """Per factor, one :class:`Cell` per level (other factors at their base levels)."""
        return {factor: [self.cell(**{factor: level}) for level in getattr(self, levels)]
                for factor, levels in FACTORS.items()}


# ----------------------------------------------------------------------------- exact tools


def analyse(cell: Cell, run: TrainResult, *, rtol: float, null_lines: int) -> tuple[dict, dict]:
    """Profile every hidden neuron of every finite member, trained and at initialisation;
    probe R^2 per layer; the fold geometry of the nulls (initial folds, and ``null_lines``
    random first-layer folds of the other members' initial networks -- a fixed random subset
    when there are more -- against each trained member's boundary)."""
    dist = cell.distribution()
    act = cell.train.activation
    f64 = lambda layers: [(np.float64(W), np.float64(b)) for W, b in layers]  # noqa: E731
    W0, b0 = np.float64(run.snapshots[0][0][:, 0]), np.float64(run.snapshots[0][1][:, 0])
    line_member = np.repeat(np.arange(len(run.seeds)), W0.shape[2])
    p_ref = population_partition(f64(run.snapshot(0, 0)), dist, activation=act)
    reference = targets(p_ref, dist)  # its box and Bayes line do not depend on the network
    lines = line_segments(np.transpose(W0, (0, 2, 1)).reshape(-1, 2), b0.reshape(-1),
                          bounding_box(p_ref))
    rng = np.random.default_rng(0)

    def member(i: int) -> dict:
        net, net0 = f64(run.member(i)), f64(run.snapshot(i, 0))
        pp, pp0 = (population_partition(n, dist, activation=act) for n in (net, net0))
        learned = targets(pp, dist).learned
        row = {}
        for prefix, n, p in (("", net, pp), ("init_", net0, pp0)):
            prof = neuron_profile(n, dist, activation=act, rtol=rtol)
            row.update({prefix + name: getattr(prof, name) for name in PROFILE_FIELDS})
            row[prefix + "probe_r2"] = probe_r2(prof, [p.layer_moments(l).cov
                                                       for l in range(p.n_hidden)])
            row[prefix + "neglected_mass"] = prof.neglected_mass
            row[prefix + "converged"] = prof.converged
        row["init_fold_to_trained"] = [fold_distance(folds(pp0, tuple(nrn)), dist, learned)[0]
                                       for nrn in prof.neurons]
        others = np.flatnonzero(line_member != i)
        used = np.zeros(len(lines), bool)
        used[others if len(others) <= null_lines else rng.choice(others, null_lines,
                                                                  replace=False)] = True
        row["null_line_used"] = used
        row["null_line_to_learned"] = [fold_distance(seg, dist, learned)[0] if u else np.nan
                                       for seg, u in zip(lines, used)]
        return row

    arrays = member_arrays(run, member, desc=f"profiles {cell.train.widths}")
    arrays["neurons"] = hidden_neurons(cell.train.widths)
    arrays["null_line_member"] = line_member
    arrays["null_line_depth"] = np.array([fold_depth(seg, dist) for seg in lines])
    arrays["null_line_to_bayes"] = np.array([fold_distance(seg, dist, reference.bayes)[0]
                                             for seg in lines])
    finite = np.isfinite(arrays["neglected_mass"])
    summary = {"targets": list(reference.names),
               "neglected_mass": float(np.max(arrays["neglected_mass"][finite])),
               "converged": bool(np.all(arrays["converged"][finite] == 1)
                                 and np.all(arrays["init_converged"][finite] == 1))}
    return summary, arrays


# ----------------------------------------------------------------------------- statistics


def stored_profile(arrays, targets_: tuple[str, ...], member: int, *,
                   init: bool = False) -> NeuronProfile:
    """A member's stored profile; ``init=True``: its initial network's, with the folds'
    distance measured to the *trained* member's learned boundary."""
    prefix = "init_" if init else ""
    fields = {name: arrays[prefix + name][member] for name in PROFILE_FIELDS}
    if init:
        fields["fold_to_learned"] = arrays["init_fold_to_trained"][member]
    return NeuronProfile(arrays["neurons"], tuple(targets_), **fields, neglected_mass=0.0,
                         converged=True)


def fractions(profile: NeuronProfile, thresholds: KindThresholds) -> np.ndarray:
    """``(len(LABELS),)`` fractions of a network's hidden neurons with each label."""
    k = classify(profile, thresholds)
    mixture = np.nan_to_num(np.abs(profile.corr[:, profile.targets.index("log_density")]))
    at_bayes = k.fold_in_data & (np.nan_to_num(profile.fold_to_bayes, nan=np.inf)
                                 <= thresholds.fold_radius)
    kinds = np.bincount(k.kind, minlength=len(KINDS)) / len(k.kind)
    return np.concatenate([kinds, [np.mean(mixture >= thresholds.corr), k.fold_in_data.mean(),
                                   k.fold_at_boundary.mean(), at_bayes.mean()]])


def random_fold_fractions(arrays, member: int, thresholds: KindThresholds) -> np.ndarray:
    """``(len(FOLD_LABELS),)`` fold fractions of the random-fold null for ``member``: the
    first-layer initial fold lines of the cell's *other* members (those measured for it),
    against this member's learned boundary."""
    other = arrays["null_line_used"][member] == 1
    in_data = arrays["null_line_depth"][other] <= thresholds.fold_depth
    near = lambda d: in_data & (np.nan_to_num(d[other], nan=np.inf)  # noqa: E731
                                <= thresholds.fold_radius)
    return np.array([in_data.mean(), near(arrays["null_line_to_learned"][member]).mean(),
                     near(arrays["null_line_to_bayes"]).mean()])


def cell_rows(result: StudyResult, thresholds: KindThresholds) -> dict[str, np.ndarray]:
    """Per kept member: ``trained``, ``init`` ``(K, len(LABELS))`` and ``random``
    ``(K, len(FOLD_LABELS))`` fractions."""
    a, names = result.arrays, result.summary["targets"]
    kept = kept_members(result)
    rows = {"trained": [fractions(stored_profile(a, names, i), thresholds) for i in kept],
            "init": [fractions(stored_profile(a, names, i, init=True), thresholds) for i in kept],
            "random": [random_fold_fractions(a, i, thresholds) for i in kept]}
    return {k: np.array(v).reshape(len(kept), -1) for k, v in rows.items()}


def label_headlines(rows: dict[str, np.ndarray]) -> dict[str, dict]:
    """Headline per label: kinds against the initial networks; fold fractions against the
    random folds (``null``) and the initial networks (``null_init``)."""
    out = {}
    for j, label in enumerate(LABELS):
        if label in FOLD_LABELS:
            out[label] = headline(rows["trained"][:, j],
                                  null=rows["random"][:, FOLD_LABELS.index(label)])
            out[label]["null_init"] = headline(rows["init"][:, j])
        else:
            out[label] = headline(rows["trained"][:, j], null=rows["init"][:, j])
    return out


def first_layer_vs_attainable(result: StudyResult, best: np.ndarray, *,
                              init: bool = False, dead_mass: float) -> np.ndarray:
    """``(K, len(RAMP_TARGETS))`` per kept member: the best live first-layer neuron's
    ``|corr|`` with each target, divided by the best any ramp attains (``best``)."""
    a, names = result.arrays, result.summary["targets"]
    prefix = "init_" if init else ""
    cols = [names.index(t) for t in RAMP_TARGETS]
    layer0 = a["neurons"][:, 0] == 0
    rows = []
    for i in kept_members(result):
        live = layer0 & (a[prefix + "active_mass"][i] >= dead_mass)
        c = np.nan_to_num(np.abs(a[prefix + "corr"][i][live][:, cols]))
        rows.append(c.max(0) / best if len(c) else np.zeros(len(cols)))
    return np.array(rows).reshape(-1, len(cols))


@dataclass(frozen=True)
class RampKey:
    """Cache key of a world's attainable first-layer correlations."""

    tilt: Tilt
    angles: int
    points: int
    min_mass: float


def _attainable_of(key: RampKey) -> tuple[dict, dict]:
    best = attainable(key.tilt.distribution(), angles=key.angles, points=key.points,
                      min_mass=key.min_mass)
    return {"targets": list(RAMP_TARGETS), "max_abs_corr": best.tolist()}, {}


def cell_key(cell: Cell) -> str:
    w = cell.train.widths
    return (f"w{w[1]}_d{len(w) - 2}_sep{cell.tilt.separation:g}_an{cell.tilt.anisotropy:g}"
            f"_wd{cell.train.weight_decay:g}_off{cell.tilt.offset:g}_{cell.train.bias_init}")


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train and profile every cell; per-label headlines per factor level; the base cell's
    headlines, threshold sweeps, attainable-normalised correlations and probe R^2."""
    th = config.thresholds()
    cells = config.cells()
    base_cell = config.cell()
    unique = list(dict.fromkeys([base_cell] + [c for cs in cells.values() for c in cs]))
    found = ctx.train_cells(unique, lambda c, r: analyse(c, r, rtol=config.rtol,
                                                         null_lines=config.null_lines),
                            settings={"rtol": config.rtol, "null_lines": config.null_lines})
    results = dict(zip(unique, found))
    best = {c.tilt: np.array(ctx.cached("attainable", RampKey(
        c.tilt, config.ramp_angles, config.ramp_points, config.dead_mass),
        _attainable_of).summary["max_abs_corr"]) for c in unique}
    rows = {c: cell_rows(results[c], th) for c in unique}
    base, base_rows = results[base_cell], rows[base_cell]
    dist = base_cell.distribution()
    summary = {"bayes_error": dist.bayes_error(), "seeds": config.seeds, "labels": list(LABELS),
               "targets": base.summary["targets"],
               "diverged": {cell_key(c): r.summary["diverged"] for c, r in results.items()
                            if r.summary["diverged"]}}
    summary.update(label_headlines(base_rows))
    summary["factors"] = {}
    for factor, level_cells in cells.items():
        per_level = [label_headlines(rows[c]) for c in level_cells]
        summary["factors"][factor] = {
            "levels": list(getattr(config, FACTORS[factor])),
            **{label: [h[label] for h in per_level] for label in LABELS},
            "attainable_log_density": [float(best[c.tilt][RAMP_TARGETS.index("log_density")])
                                       for c in level_cells]}

    def swept(label: str, threshold: str, rows: str = "trained"):
        """Per-seed fractions of ``label`` in the base cell as ``threshold`` moves."""
        j = (FOLD_LABELS if rows == "random" else LABELS).index(label)
        return lambda t: cell_rows(base, config.thresholds(**{threshold: t}))[rows][:, j]

    folds_ = ("fold_at_boundary", "fold_at_bayes")
    summary["sweeps"] = {
        "corr": {label: threshold_sweep(swept(label, "corr"), config.corr_sweep)
                 for label in ("boundary", "density", "both", "other", "mixture_density")},
        "fold_radius": {
            **{label: threshold_sweep(swept(label, "fold_radius"), config.radius_sweep)
               for label in folds_},
            **{f"{label}_random_null": threshold_sweep(swept(label, "fold_radius", "random"),
                                                       config.radius_sweep)
               for label in folds_}},
    }
    b = best[base_cell.tilt]
    norm = first_layer_vs_attainable(base, b, dead_mass=config.dead_mass)
    norm0 = first_layer_vs_attainable(base, b, init=True, dead_mass=config.dead_mass)
    summary["attainable"] = dict(zip(RAMP_TARGETS, b.tolist()))
    summary["first_layer_vs_attainable"] = {
        t: headline(norm[:, j], null=norm0[:, j]) for j, t in enumerate(RAMP_TARGETS)}
    kept = kept_members(base)
    names = base.summary["targets"]
    summary["probe_r2"] = {
        f"layer{l}": {t: headline(base.arrays["probe_r2"][kept, l, j],
                                  null=base.arrays["init_probe_r2"][kept, l, j])
                      for j, t in enumerate(names)}
        for l in range(base.arrays["probe_r2"].shape[1])}
    err = np.concatenate([r.arrays["corr_error"][kept_members(r)].ravel()
                          for r in results.values()])
    err = err[np.isfinite(err)]
    summary["quadrature"] = {
        "converged": all(r.summary["converged"] for r in results.values()),
        "corr_error_median": float(np.median(err)), "corr_error_max": float(err.max()),
        "corr_error_above_0.01": float(np.mean(err > 0.01)),
        "neglected_mass_max": max(r.summary["neglected_mass"] for r in results.values())}
    arrays = {f"base_{k}": v for k, v in base.arrays.items()}
    arrays.update({f"base_rows_{k}": v for k, v in base_rows.items()})
    return summary, arrays


# ----------------------------------------------------------------------------- figures


KIND_COLORS = dict(zip(KINDS, (PALETTE[7], PALETTE[5], PALETTE[0], PALETTE[3], PALETTE[1])))
FOLD_COLORS = dict(zip(FOLD_LABELS, (PALETTE[2], PALETTE[5], PALETTE[4])))
FACTOR_AXES = {
    "width": ("hidden width", "linear"),
    "depth": ("hidden layers", "linear"),
    "separation": ("separation $|\\mu_1 - \\mu_0|$", "log"),
    "anisotropy": ("anisotropy $a$", "log"),
    "weight_decay": ("weight decay", "symlog"),
    "offset": ("Bayes line offset", "linear"),
    "bias_init": ("bias init", "categorical"),
}
"""Factor -> (x label, x scale) of :func:`plot_factors`."""


def _errorbar(ax, x, objs, *, null: str | None = None, **style):
    """Mean and 95% interval of headline objects (or of their null ``null``, e.g. ``"null"``
    or ``"null_init"``) against ``x``."""
    objs = [o[null] if null else o for o in objs]
    v = np.array([o["value"] for o in objs])
    ci = np.array([o["ci95"] for o in objs], float).reshape(len(objs), 2)
    ax.errorbar(x, v, yerr=np.abs(ci.T - v), **{"marker": "o", "ms": 2.5, "capsize": 1.5,
                                                 "lw": 1, **style})


def plot_factors(result: StudyResult):
    """Top row: fraction of neurons of each kind vs every factor (mean, 95% interval over
    seeds). Bottom row: fractions of folds in the data, at the learned boundary and at the
    Bayes line, with the random-fold null (dashed) and the initial network (dotted)."""
    factors = result.summary["factors"]
    fig, axes = figure(2, len(FACTORS), width=PAGE_WIDTH * 1.4, aspect=1.6)
    for n, factor in enumerate(FACTORS):
        stats = factors[factor]
        xlabel, scale = FACTOR_AXES[factor]
        categorical = scale == "categorical"
        x = np.arange(len(stats["levels"])) if categorical else np.asarray(stats["levels"], float)
        top, bottom = axes[0, n], axes[1, n]
        for label in KINDS:
            _errorbar(top, x, stats[label], color=KIND_COLORS[label], label=label)
        for label in FOLD_LABELS:
            _errorbar(bottom, x, stats[label], color=FOLD_COLORS[label],
                      label=label.replace("_", " "))
            _errorbar(bottom, x, stats[label], null="null", color=FOLD_COLORS[label], ls="--",
                      alpha=0.6, label=f"{label.replace('_', ' ')}: random folds")
            _errorbar(bottom, x, stats[label], null="null_init", color=FOLD_COLORS[label],
                      ls=":", marker="s", alpha=0.6,
                      label=f"{label.replace('_', ' ')}: initial network")
        for ax in (top, bottom):
            if categorical:
                ax.set_xlim(-0.5, len(x) - 0.5)
            else:
                ax.set_xscale(scale, **({"linthresh": 0.01} if scale == "symlog" else {}))
            ax.set_xticks(x, [str(v) if categorical else f"{v:g}" for v in stats["levels"]],
                          rotation=30 if categorical else 0)
            ax.minorticks_off()
            ax.set_ylim(-0.03, 1.03)
        bottom.set_xlabel(xlabel)
        if n == 0:
            top.set_ylabel("fraction of neurons (kinds)")
            bottom.set_ylabel("fraction of neurons (folds)")
    for row in (0, 1):
        handles, labels = axes[row, 0].get_legend_handles_labels()
        axes[row, -1].legend(handles, labels, fontsize=6, loc="upper left",
                             bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_correlations(result: StudyResult, config: Config):
    """Base cell, all kept seeds: best ``|corr|`` with a boundary target vs ``|corr|`` with the
    mixture log-density, coloured by kind; the initial networks' neurons (grey rings, the
    null) and the best ``|corr|`` any first-layer ramp attains with the log-density."""
    fig, ax = figure(aspect=0.85)
    th = config.thresholds()
    a = base_arrays(result)
    names = result.summary["targets"]
    for n, member in enumerate(kept_members(a)):
        for init in (True, False):
            profile = stored_profile(a, names, member, init=init)
            k = classify(profile, th)
            mixture = np.nan_to_num(np.abs(profile.corr[:, names.index("log_density")]))
            if init:
                ax.scatter(k.boundary_corr, mixture, s=9, facecolor="none", edgecolor="0.6",
                           linewidth=0.5, label="initial network" if n == 0 else None)
                continue
            for i, kind in enumerate(KINDS):
                pick = k.kind == i
                ax.scatter(k.boundary_corr[pick], mixture[pick], s=10, color=KIND_COLORS[kind],
                           label=kind if n == 0 else None, edgecolor="white", linewidth=0.3)
    ax.axvline(th.corr, color="grey", lw=0.8, ls=":")
    ax.axhline(th.corr, color="grey", lw=0.8, ls=":")
    ax.axhline(result.summary["attainable"]["log_density"], color="black", lw=0.9, ls="--",
               label="best first-layer ramp")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="max |corr| with log-odds / boundary distance",
           ylabel="|corr| with the mixture log-density", title="base cell, all kept seeds")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def base_arrays(result: StudyResult) -> dict[str, np.ndarray]:
    """The base cell's stored arrays under their cell names (``base_`` stripped)."""
    return {k[len("base_"):]: v for k, v in result.arrays.items() if k.startswith("base_")}


def plot_folds(result: StudyResult, config: Config):
    """Base cell, first kept seed: density, Bayes and learned boundary, every neuron's fold
    coloured by its kind, and the initial network's folds (grey, dashed)."""
    dist = config.cell().distribution()
    a = base_arrays(result)
    member = kept_members(a)[0]
    fig, ax = figure(width=PAGE_WIDTH * 0.75, aspect=0.5)
    act = config.train.activation
    p = population_partition(load_layers(a, member), dist, activation=act)
    p0 = population_partition(load_layers(a, member, prefix="init_"), dist, activation=act)
    k = classify(stored_profile(a, result.summary["targets"], member), config.thresholds())
    draw_density(ax, dist)
    seen = set()
    for (layer, i), kind in zip(a["neurons"], k.kind):
        ax.add_collection(LineCollection(folds(p0, (layer, i)), colors=["0.55"], linestyles="--",
                                         linewidths=0.6, label="initial folds"
                                         if "init" not in seen else None))
        seen.add("init")
        name = KINDS[kind]
        ax.add_collection(LineCollection(folds(p, (layer, i)), colors=[KIND_COLORS[name]],
                                         linewidths=1.6 - 0.5 * layer,
                                         label=f"fold: {name}" if name not in seen else None))
        seen.add(name)
    ax.add_collection(LineCollection(decision_boundary(p), colors=["black"], linewidths=2.2,
                                     label="learned boundary"))
    draw_bayes_boundary(ax, dist)
    set_box(ax, dist.domain)
    ax.set_title(f"folds of every neuron (thinner: deeper layer), seed {member}")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


PROBE_TARGETS = ("log_odds", "log_density", "log_density_0", "log_density_1")
"""Targets shown in :func:`plot_probe` (not ``distance_learned``: an initial network's own
boundary is a different target from the trained one's)."""


def plot_probe(result: StudyResult):
    """Base cell: exact population R^2 of the best linear readout of each hidden layer, per
    target (mean, 95% interval over seeds), trained (filled) and initial (rings)."""
    probe = result.summary["probe_r2"]
    fig, ax = figure(aspect=0.7)
    layers = list(probe)
    x = np.arange(len(layers))
    for j, target in enumerate(PROBE_TARGETS):
        dx = x + (j - (len(PROBE_TARGETS) - 1) / 2) * 0.18
        color = PALETTE[j]
        _errorbar(ax, dx, [probe[l][target] for l in layers], color=color, ls="none",
                  label=target.replace("_", " "))
        v0 = [probe[l][target]["null"]["value"] for l in layers]
        ax.scatter(dx, v0, s=14, facecolor="none", edgecolor=color, linewidth=0.8)
    ax.scatter([], [], s=14, facecolor="none", edgecolor="grey", label="initial network")
    ax.set_xticks(x, [f"hidden layer {l[len('layer'):]}" for l in layers])
    ax.set(ylim=(0, 1.02), ylabel="linear-probe $R^2$ (exact, population)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Kinds and folds vs every factor, the base cell's correlation plane, one net's folds and
    the per-layer linear probes."""
    return {"kinds_vs_factors": plot_factors(result),
            "correlations": plot_correlations(result, config),
            "folds": plot_folds(result, config), "probe": plot_probe(result)}
