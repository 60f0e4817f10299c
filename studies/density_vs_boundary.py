"""Study ``density-vs-boundary``: do a small net's first-layer folds follow the data density
p(x) or the decision rule p(y|x)? (issue 13, the lab's flagship question.)

Question. Change p(x) while holding p(y|x) fixed, and change p(y|x) while holding p(x) fixed:
which change moves the neurons' folds more, in which training regime, and where does the
network spend its linear regions?

Worlds. A three-component base world with a curved Bayes boundary, turned and moved off the
origin (:func:`frame_world`, :class:`Placement`): class 0 a wide cloud above, class 1 two
round clouds below
(so a linear rule is not Bayes; hidden features are needed). *p(x) changes, p(y|x) fixed*:
posterior-preserving tilts (:meth:`~toylab.data.GaussianMixture.tilted`): mass concentrated
along the Bayes boundary, a far mode away from it inside class 0, mass on class 0's side
only. *p(y|x) changes, p(x) fixed*: relabellings
(:meth:`~toylab.data.GaussianMixture.relabelled`) giving the right or the left class-1 cloud
to class 0. A *resample* cell trains the base world on freshly drawn samples (the null:
movement caused by redrawing the training sample alone). Class priors, spread and Bayes
error of every world are reported (a tilt also narrows the data and shifts the priors).

Design. Settings: widths 8/16/32 at depth 1 and width 16 at depths 2 and 3 in the base regime (He
weights, ``N(0, bias_std^2)`` biases so folds do not start through one point, Adam, full
batch), and the regime axis around the base setting: init scale small (rich) and large
(lazy) (Chizat, Oyallon & Bach 2019; Woodworth et al. 2020), mean-field (muP)
parameterisation, short training, weight decay (AdamW). Every setting trains every world with the same ``seeds``
init seeds, each seed on its own sample and each world on its own sample stream
(:meth:`Config.world_seed`): seed ``s`` starts from the bit-identical network in every
world of a setting (checked: ``paired_init_identical``), so fold movement between worlds is
paired within seed.

Measures (exact, per first-layer neuron, then averaged over the neurons live under the base
p(x)): for the same neuron in two networks A and B, the angle between its fold normals, the
base-p(x)-weighted mean absolute difference of the signed distances to the two folds,
``E|d_A(x) - d_B(x)|`` (input units; folded-normal closed form per component), and the base
probability mass on which the neuron's on/off state differs (bivariate normal orthants via
Owen's T, :func:`orthant`). Compared per seed: base-trained vs init, vs resample, vs each
tilt, vs each relabelling. Linear regions (base setting, exact partition): regions per unit
probability mass in class-mixed regions (minority class share >= ``mixed_share``; "near the
boundary") vs class-pure regions ("in the data"), for trained and initial networks.
Per-neuron atlas (:func:`toylab.compare.atlas.atlas`, ~14 s CPU per width-16 net, most of it
the target quadrature of :func:`toylab.compare.neurons.neuron_profile`) of the first
``atlas_seeds`` base-world nets of the base setting and of seed 0 in the other
``atlas_worlds``: Spearman correlations between Hessian share, ablation effect, fold location
and cross-seed analogue correlation per base-world net, with intervals over nets; each atlas
is written as ``atlas_<world>_seed<s>.csv`` next to the figures (rebuilt from the stored
arrays by :func:`stored_atlas`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
from matplotlib.figure import Figure
import scipy.optimize
import scipy.stats
from scipy.special import owens_t

from toylab.compare.atlas import Atlas, atlas
from toylab.compare.probes import bounding_box, line_segments
from toylab.data import GaussianMixture
from toylab.exact import partition
from toylab.exact.population import population_partition
from toylab.plots.data import draw_bayes_boundary, draw_density, set_box
from toylab.plots.exact import plot_neuron_grid
from toylab.plots.style import PAGE_WIDTH, PALETTE, figure
from toylab.results import StudyResult
from toylab.study import (Context, TrainCell, WorldsConfig, headline, kept_members, load_layers,
                          member_arrays)
from toylab.train import TrainConfig

NAME = "density-vs-boundary"
DESCRIPTION = ("Do first-layer folds follow p(x) or p(y|x)? Posterior-preserving tilts vs "
               "relabellings, paired seeds, regime axis, per-neuron atlas")

TILTS = ("along_boundary", "far_mode", "one_side")
"""Posterior-preserving tilts of the base world (p(x) changes, p(y|x) fixed)."""
RELABELS = {"left_to_0": (0, 1, 0), "right_to_0": (0, 0, 1)}
"""Relabellings of the base world's components A, B, C (p(x) fixed, p(y|x) changes)."""
WORLDS = ("base",) + TILTS + tuple(RELABELS)
MEASURES = ("angle_deg", "distance", "mass")
"""Fold movement measures: degrees, input units, base probability mass."""
ATLAS_RANKS = ("hessian_share", "ablation_zero", "fold_to_bayes", "fold_mass", "analogue_corr")
"""Atlas columns whose pairwise Spearman correlations are headlines."""


# ----------------------------------------------------------------------------- worlds


def _frame() -> GaussianMixture:
    """The base world before it is turned and moved: A = N((0, 0.75), diag(4, 0.49)) class 0
    (weight 1/2); B, C = N((-+1.2, -0.75), 0.36 I) class 1 (1/4 each)."""
    means = np.array([[0.0, 0.75], [-1.2, -0.75], [1.2, -0.75]])
    covs = np.array([np.diag([4.0, 0.49]), 0.36 * np.eye(2), 0.36 * np.eye(2)])
    return GaussianMixture(means, covs, [0.5, 0.25, 0.25], [0, 1, 1], name="three_cloud")


def boundary_vertex(dist: GaussianMixture) -> np.ndarray:
    """The Bayes boundary's point on the frame's axis ``x0 = 0`` between the classes."""
    f = lambda t: np.diff(dist.class_log_joint(np.array([[0.0, t]]))[0])[0]  # noqa: E731
    return np.array([0.0, scipy.optimize.brentq(f, -0.75, 0.75, xtol=1e-12)])


def frame_world(name: str) -> GaussianMixture:
    """A world of :data:`WORLDS` in the frame (before the turn and shift)."""
    if name not in WORLDS:
        raise ValueError(f"world {name!r} is unknown; choose one of {WORLDS}")
    base = _frame()
    if name == "base":
        return base
    if name in RELABELS:
        return base.relabelled(RELABELS[name], name=name)
    v = boundary_vertex(base)
    tilt = {"along_boundary": ([v], [np.diag([9.0, 0.25])], None),
            "far_mode": ([[0.0, 0.0], [3.5, 1.2]], [16.0 * np.eye(2), 0.5 * np.eye(2)],
                         [0.5, 0.5]),
            "one_side": ([[0.0, 2.0]], [np.diag([16.0, 2.25])], None)}[name]
    return base.tilted(*tilt, name=name)


@dataclass(frozen=True)
class Placement:
    """Where the worlds sit: turned by ``angle_deg`` about the origin, then moved by
    ``shift`` (so the Bayes boundary is curved and off the origin)."""

    angle_deg: float = 20.0
    shift: tuple[float, float] = (1.5, -0.8)

    def place(self, dist: GaussianMixture) -> GaussianMixture:
        return dist.rotated(self.angle_deg, name=dist.name).shifted(self.shift, name=dist.name)


@dataclass(frozen=True)
class Cell(TrainCell):
    """A harness cell in one of the study's worlds. ``exact``: also partition every member
    (risk, regions); ``atlas_members``: atlases of the first members."""

    world_name: str = "base"
    placement: Placement = field(default_factory=Placement)
    exact: bool = False
    atlas_members: int = 0

    def distribution(self) -> GaussianMixture:
        return self.placement.place(frame_world(self.world_name))


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Config(WorldsConfig):
    """Settings of ``density-vs-boundary``: the base setting (``train``), architecture and
    regime variants, seeds, the region and atlas settings."""

    train: TrainConfig = TrainConfig(widths=(2, 16, 2), optimizer="adam", learning_rate=1e-2,
                                     steps=2000, snapshot_every=2000, bias_init="normal",
                                     bias_std=1.0)
    placement: Placement = Placement()
    widths: tuple[int, ...] = (8, 16, 32)
    deep_width: int = 16
    deep_depths: tuple[int, ...] = (2, 3)
    init_scales: tuple[float, ...] = (0.25, 4.0)
    mean_field: bool = True
    short_steps: int = 200
    weight_decays: tuple[float, ...] = (0.1,)
    live_mass: float = 0.01
    mixed_share: float = 0.1
    min_region_mass: float = 1e-6
    atlas_seeds: int = 6
    atlas_worlds: tuple[str, ...] = ("base", "along_boundary", "left_to_0")
    top_k: int = 2
    rtol: float = 1e-2

    def __post_init__(self):
        bad = [w for w in self.atlas_worlds if w not in WORLDS]
        if bad or "base" not in self.atlas_worlds:
            raise ValueError(f"atlas_worlds={self.atlas_worlds} must include 'base' and only "
                             f"worlds of {WORLDS}")
        if len(self.train.widths) != 3:
            raise ValueError(f"train.widths={self.train.widths} must be (2, width, 2): the base "
                             "setting has one hidden layer (deep_width adds the deeper settings)")

    @classmethod
    def quick(cls) -> "Config":
        """Smoke configuration: base and rich settings only, 4 seeds, 300 steps."""
        return cls(train=replace(cls.train, steps=300, snapshot_every=300), widths=(16,),
                   deep_width=0, init_scales=(0.25,), mean_field=False, short_steps=0,
                   weight_decays=(),
                   n_train=256, seeds=4, atlas_seeds=2, atlas_worlds=("base",))

    def settings(self) -> dict[str, TrainConfig]:
        """Setting name -> training config (``base`` first)."""
        t, w = self.train, self.train.widths[1]
        out = {"base": t}
        out.update({f"width{v}": replace(t, widths=(2, v, 2)) for v in self.widths if v != w})
        if self.deep_width:
            out.update({f"depth{d}_width{self.deep_width}": replace(
                t, widths=(2,) + (self.deep_width,) * d + (2,)) for d in self.deep_depths})
        out.update({f"init_scale{s:g}": replace(t, init_scale=s) for s in self.init_scales})
        if self.mean_field:
            out["mean_field"] = replace(t, parameterization="mean_field")
        if self.short_steps:
            out[f"steps{self.short_steps}"] = replace(t, steps=self.short_steps,
                                                      snapshot_every=self.short_steps)
        out.update({f"weight_decay{v:g}": replace(t, weight_decay=v)
                    for v in self.weight_decays})
        return out

    def world_seed(self, world: str) -> int:
        """Seed of a world's training samples: ``data_seed`` for the base world, its own
        stream for every other world and for the resample cell, so every comparison with the
        base world includes independent sampling noise, like the resample null (with one
        stream a relabelled world would train on the very same inputs as the base world)."""
        return self.data_seed + (WORLDS + ("resample",)).index(world) * 1000

    def cells(self) -> dict[tuple[str, str], Cell]:
        """``(setting, world)`` -> cell; world ``resample`` is the base world on other samples."""
        out = {}
        for name, train in self.settings().items():
            base = name == "base"
            for world in WORLDS + ("resample",):
                out[name, world] = Cell(
                    train=train, seeds=self.seeds, n_train=self.n_train,
                    data_seed=self.world_seed(world),
                    world_name="base" if world == "resample" else world,
                    placement=self.placement, exact=base and world != "resample",
                    atlas_members=0 if not base or world not in self.atlas_worlds
                    else self.atlas_seeds if world == "base" else 1)
        return out


# ----------------------------------------------------------------------------- exact tools


def orthant(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``P(X < h, Y < k)`` for standard bivariate normals of correlation ``rho`` (Owen 1956:
    ``Phi2 = (Phi(h) + Phi(k))/2 - T(h, a_h) - T(k, a_k) - beta`` with Owen's T). Exact up to
    ``|rho| -> 1`` (clipped at ``1 - 1e-12``) and ``h, k -> 0`` (moved to ``+-1e-300``)."""
    h, k, rho = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in (h, k, rho)))
    rho = np.clip(rho, -1 + 1e-12, 1 - 1e-12)
    h = np.where(h == 0, 1e-300, h)
    k = np.where(k == 0, 1e-300, k)
    s = np.sqrt(1 - rho**2)
    beta = np.where(h * k > 0, 0.0, 0.5)
    N = scipy.stats.norm.cdf
    return 0.5 * (N(h) + N(k)) - owens_t(h, (k - rho * h) / (h * s)) \
        - owens_t(k, (h - rho * k) / (k * s)) - beta


def _unit(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normals ``(..., 2)`` and offsets scaled so ``d(x) = n.x + c`` is the signed distance."""
    norm = np.linalg.norm(W, axis=-1, keepdims=True)
    return W / norm, b / norm[..., 0]


def fold_movement(WA, bA, WB, bB, dist: GaussianMixture) -> np.ndarray:
    """``(len(MEASURES), N)`` movement of ``N`` first-layer folds from network A to B.

    Args:
        WA, WB: ``(N, 2)`` the neurons' input weights; bA, bB: ``(N,)`` biases.
        dist: the reference p(x) (the base world).
    Returns:
        angle between normals (degrees), ``E|d_A - d_B|`` under ``dist`` and the probability
        that the neuron is active in exactly one of A and B.
    """
    nA, cA = _unit(WA, bA)
    nB, cB = _unit(WB, bB)
    angle = np.degrees(np.arccos(np.clip(np.sum(nA * nB, -1), -1, 1)))
    a, c = nA - nB, cA - cB
    m, S, w = dist.means, dist.covs, dist.weights
    mu = a @ m.T + c[:, None]  # (N, K)
    sd = np.sqrt(np.maximum(np.einsum("nd,kde,ne->nk", a, S, a), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        folded = np.where(sd > 0, sd * np.sqrt(2 / np.pi) * np.exp(-0.5 * (mu / sd)**2)
                          + mu * (1 - 2 * scipy.stats.norm.cdf(-mu / sd)), np.abs(mu))
    distance = folded @ w
    muA, muB = nA @ m.T + cA[:, None], nB @ m.T + cB[:, None]
    sA = np.sqrt(np.einsum("nd,kde,ne->nk", nA, S, nA))
    sB = np.sqrt(np.einsum("nd,kde,ne->nk", nB, S, nB))
    rho = np.einsum("nd,kde,ne->nk", nA, S, nB) / (sA * sB)
    pA, pB = scipy.stats.norm.cdf(muA / sA), scipy.stats.norm.cdf(muB / sB)
    both = orthant(muA / sA, muB / sB, rho)
    mass = (pA + pB - 2 * both) @ w
    return np.array([angle, distance, mass])


def active_mass(W, b, dist: GaussianMixture) -> np.ndarray:
    """``(N,)`` exact ``P(w.x + b > 0)`` under ``dist`` for first-layer neurons."""
    n, c = _unit(W, b)
    mu = n @ dist.means.T + c[:, None]
    sd = np.sqrt(np.einsum("nd,kde,ne->nk", n, dist.covs, n))
    return scipy.stats.norm.cdf(mu / sd) @ dist.weights


def region_density(p, *, mixed_share: float, min_mass: float) -> np.ndarray:
    """``[mixed regions per unit mass, pure regions per unit mass, mixed mass]`` of an exact
    population partition: a region (mass >= ``min_mass``) is *mixed* when its minority class
    carries at least ``mixed_share`` of its mass (exact class masses), else *pure*."""
    m0 = np.asarray(p.moments.m0)
    cls = np.asarray(p.class_moments.m0)  # (C, R)
    keep = m0 >= min_mass
    mixed = keep & (cls.min(0) >= mixed_share * m0)
    pure = keep & ~mixed
    rate = lambda sel: sel.sum() / m0[sel].sum() if sel.any() else np.nan  # noqa: E731
    return np.array([rate(mixed), rate(pure), m0[mixed].sum()])


# ----------------------------------------------------------------------------- per cell


def analyse(cell: Cell, run, *, config: Config) -> tuple[dict, dict]:
    """Exact risk and region densities of every member (``cell.exact``; trained and initial)
    and atlases of the first ``cell.atlas_members`` members."""
    if not cell.exact and not cell.atlas_members:
        return {}, {}
    dist = cell.distribution()
    act = cell.train.activation
    f64 = lambda layers: [(np.float64(W), np.float64(b)) for W, b in layers]  # noqa: E731
    X, y = cell.training_data()
    S = len(run.seeds)

    def member(i: int) -> dict:
        row = {}
        for prefix, n in (("", f64(run.member(i))), ("init_", f64(run.snapshot(i, 0)))):
            p = population_partition(n, dist, activation=act)
            row[prefix + "risk"] = p.risk.value
            row[prefix + "regions"] = region_density(p, mixed_share=config.mixed_share,
                                                     min_mass=config.min_region_mass)
        return row

    arrays = member_arrays(run, member, desc=f"{cell.world_name} {cell.train.widths}") \
        if cell.exact else {}
    finite = [i for i in range(S) if np.isfinite(run.final_loss[i])]
    atlases = {}
    if cell.atlas_members:  # null folds: every member's initial first-layer lines
        W0, b0 = np.float64(run.snapshots[0][0][:, 0]), np.float64(run.snapshots[0][1][:, 0])
        p_ref = population_partition(f64(run.snapshot(0, 0)), dist, activation=act)
        lines = line_segments(np.transpose(W0, (0, 2, 1)).reshape(-1, 2), b0.reshape(-1),
                              bounding_box(p_ref))
        line_member = np.repeat(np.arange(S), W0.shape[2])
    for i in finite[:cell.atlas_members]:
        sibs = [f64(run.member(j)) for j in finite if j != i][:2]
        atlases[i] = atlas(f64(run.member(i)), dist, X[i], y[i], activation=act,
                           top_k=config.top_k, siblings=sibs,
                           null_folds=[s for s, m in zip(lines, line_member) if m != i],
                           rtol=config.rtol)
    if atlases:
        H = len(next(iter(atlases.values())).neurons)
        for k in next(iter(atlases.values())).columns:
            arrays[f"atlas_{k}"] = np.stack([atlases[i].columns[k] if i in atlases
                                             else np.full(H, np.nan) for i in range(S)])
    return {"atlas_formulas": {str(i): list(a.formulas) for i, a in atlases.items()}}, arrays


# ----------------------------------------------------------------------------- summary


def first_layer(result: StudyResult, member: int, *, init: bool = False):
    """``(W (N, 2), b (N,))`` of a member's first layer (trained or initial)."""
    W, b = load_layers(result, member, prefix="init_" if init else "")[0]
    return np.asarray(W, np.float64).T, np.asarray(b, np.float64)


def movement_rows(results: dict, setting: str, dist, live_mass: float, seeds: list[int]) -> dict:
    """Per comparison ``(seeds, len(MEASURES))`` movement of the base-trained folds (mean over
    neurons live under ``dist`` in either network)."""
    base = results[setting, "base"]

    def mean_over_live(i, other, *, init=False):
        WA, bA = first_layer(base, i)
        WB, bB = first_layer(other, i, init=init)
        live = (active_mass(WA, bA, dist) >= live_mass) | (active_mass(WB, bB, dist) >= live_mass)
        return fold_movement(WA[live], bA[live], WB[live], bB[live], dist).mean(1)

    rows = {"init": [mean_over_live(i, base, init=True) for i in seeds]}
    for world in TILTS + tuple(RELABELS) + ("resample",):
        rows[world] = [mean_over_live(i, results[setting, world]) for i in seeds]
    return {k: np.array(v) for k, v in rows.items()}


def movement_headlines(rows: dict) -> dict:
    """Per measure: p(x) change (mean over tilts) and p(y|x) change (mean over relabellings)
    against the resample null; the paired difference; movement from init."""
    px = np.mean([rows[t] for t in TILTS], 0)
    pyx = np.mean([rows[r] for r in RELABELS], 0)
    out = {}
    for j, m in enumerate(MEASURES):
        out[m] = {"px_change": headline(px[:, j], null=rows["resample"][:, j]),
                  "pyx_change": headline(pyx[:, j], null=rows["resample"][:, j]),
                  "pyx_minus_px": headline(pyx[:, j] - px[:, j]),
                  "from_init": headline(rows["init"][:, j]),
                  "per_world": {w: headline(rows[w][:, j]) for w in rows}}
    return out


def world_table(placement: Placement) -> dict:
    """Priors, Bayes error and spread of every world."""
    out = {}
    for w in WORLDS:
        d = placement.place(frame_world(w))
        mom = d.moments()
        out[w] = {"priors": d.class_weights.tolist(), "bayes_error": d.bayes_error(),
                  "mean": np.asarray(mom.mean).tolist(),
                  "spread_sqrt_det_cov": float(np.sqrt(np.linalg.det(mom.covariance))),
                  "spread_trace_cov": float(np.trace(mom.covariance))}
    return out


def atlas_ranks(result: StudyResult, kept: list[int], live_mass: float) -> dict:
    """Spearman correlation of every pair of :data:`ATLAS_RANKS` columns over live neurons,
    per atlas net; headline over nets."""
    a = result.arrays
    nets = [i for i in kept if np.all(np.isfinite(a["atlas_active_mass"][i]))]
    out = {}
    for x in range(len(ATLAS_RANKS)):
        for z in range(x + 1, len(ATLAS_RANKS)):
            cx, cz = ATLAS_RANKS[x], ATLAS_RANKS[z]
            rhos = []
            for i in nets:
                u, v = a[f"atlas_{cx}"][i], a[f"atlas_{cz}"][i]
                ok = (a["atlas_active_mass"][i] >= live_mass) & np.isfinite(u) & np.isfinite(v)
                if ok.sum() >= 4 and np.ptp(u[ok]) > 0 and np.ptp(v[ok]) > 0:
                    rhos.append(scipy.stats.spearmanr(u[ok], v[ok])[0])
            out[f"{cx}~{cz}"] = headline(rhos)
    return out


def compute(config: Config, ctx: Context) -> tuple[dict, dict]:
    """Train every (setting, world) cell; fold movement per setting, region densities and
    atlas rank correlations of the base setting, the world table."""
    cells = config.cells()
    found = ctx.train_cells(list(cells.values()), lambda c, r: analyse(c, r, config=config),
                            settings={"mixed_share": config.mixed_share, "top_k": config.top_k,
                                      "min_region_mass": config.min_region_mass,
                                      "rtol": config.rtol})
    results = dict(zip(cells, found))
    dist = config.placement.place(frame_world("base"))
    summary = {"seeds": config.seeds, "worlds": world_table(config.placement),
               "diverged": {f"{s}/{w}": r.summary["diverged"] for (s, w), r in results.items()
                            if r.summary["diverged"]}}
    paired, movement, arrays = True, {}, {}
    for setting in config.settings():
        ref = results[setting, "base"]
        kept = sorted(set.intersection(*(set(kept_members(results[setting, w]))
                                         for w in WORLDS + ("resample",))))
        for w in WORLDS + ("resample",):
            paired &= all(np.array_equal(np.asarray(A), np.asarray(B))
                          for i in range(config.seeds)
                          for la, lb in zip(load_layers(ref, i, prefix="init_"),
                                            load_layers(results[setting, w], i, prefix="init_"))
                          for A, B in zip(la, lb))
        rows = movement_rows(results, setting, dist, config.live_mass, kept)
        movement[setting] = movement_headlines(rows)
        arrays.update({f"movement_{setting}_{k}": v for k, v in rows.items()})
    summary["paired_init_identical"] = bool(paired)
    summary["movement"] = movement
    regions, risk = {}, {}
    for w in WORLDS:
        r = results["base", w]
        kept = kept_members(r)
        regions[w] = {name: headline(r.arrays["regions"][kept, j],
                                     null=r.arrays["init_regions"][kept, j])
                      for j, name in enumerate(("mixed_per_mass", "pure_per_mass",
                                                "mixed_mass"))}
        ratio = r.arrays["regions"][kept, 0] / r.arrays["regions"][kept, 1]
        ratio0 = r.arrays["init_regions"][kept, 0] / r.arrays["init_regions"][kept, 1]
        ok = np.isfinite(ratio) & np.isfinite(ratio0)
        regions[w]["mixed_over_pure"] = headline(ratio[ok], null=ratio0[ok])
        excess = r.arrays["risk"][kept] - summary["worlds"][w]["bayes_error"]
        risk[w] = headline(excess, null=r.arrays["init_risk"][kept]
                           - summary["worlds"][w]["bayes_error"])
        arrays.update({f"regions_{w}": r.arrays["regions"],
                       f"init_regions_{w}": r.arrays["init_regions"]})
    summary["regions"] = regions
    summary["excess_risk"] = risk
    summary["atlas"] = {}
    for w in config.atlas_worlds:
        r = results["base", w]
        summary["atlas"][w] = {"formulas": r.summary["atlas_formulas"]}
        if w == "base":
            summary["atlas"][w]["ranks"] = atlas_ranks(r, kept_members(r), config.live_mass)
        arrays.update({f"atlas_{w}_{k[len('atlas_'):]}": v for k, v in r.arrays.items()
                       if k.startswith("atlas_")})
    base = results["base", "base"].arrays  # the base nets (trained, initial) for the figures
    arrays.update({f"base_{k}": v for k, v in base.items()
                   if re.fullmatch(r"(init_)?[Wb]\d+", k)})
    arrays["atlas_neurons"] = np.array([(0, i) for i in range(config.train.widths[1])])
    return summary, arrays


# ----------------------------------------------------------------------------- figures


COMPARISON_STYLE = {"init": ("from init", PALETTE[7]), "resample": ("resample only", PALETTE[0]),
                    "px": ("p(x) changed, p(y|x) fixed", PALETTE[1]),
                    "pyx": ("p(y|x) changed, p(x) fixed", PALETTE[3])}


def plot_worlds(config: Config):
    """Density and Bayes boundary of every world, with its priors."""
    fig, axes = figure(2, 3, width=PAGE_WIDTH, aspect=0.75)
    for ax, w in zip(axes.ravel(), WORLDS):
        d = config.placement.place(frame_world(w))
        box = config.placement.place(frame_world("base")).domain
        draw_density(ax, d, box)
        draw_bayes_boundary(ax, d, box)
        set_box(ax, box)
        pri = d.class_weights
        ax.set_title(f"{w.replace('_', ' ')}: priors {pri[0]:.2f}/{pri[1]:.2f}", fontsize=7)
        if ax.get_legend():
            ax.get_legend().remove()
    return fig


def plot_movement(result: StudyResult):
    """Per setting, first-layer fold movement of the base-trained nets: from init, to a
    resampled training set, to the p(x)-changed and the p(y|x)-changed worlds (mean, 95%
    interval over seeds); one panel per measure."""
    mv = result.summary["movement"]
    settings = list(mv)
    fig, axes = figure(1, len(MEASURES), width=PAGE_WIDTH * 1.2, aspect=0.9)
    labels = {"angle_deg": "angle (degrees)", "distance": "E|d_A - d_B| (input units)",
              "mass": "probability mass switched"}
    x = np.arange(len(settings))
    axes = np.ravel(axes)
    for ax, m in zip(axes, MEASURES):
        for n, (key, (label, color)) in enumerate(COMPARISON_STYLE.items()):
            objs = [mv[s][m]["from_init"] if key == "init" else
                    mv[s][m]["px_change"]["null"] if key == "resample" else
                    mv[s][m][f"{key}_change"] for s in settings]
            v = np.array([o["value"] for o in objs])
            ci = np.array([o["ci95"] for o in objs], float)
            ax.errorbar(x + (n - 1.5) * 0.15, v, yerr=np.abs(ci.T - v), ls="none", marker="o",
                        ms=3, capsize=1.5, color=color, label=label)
        ax.set_xticks(x, [s.replace("_", " ") for s in settings], rotation=60, ha="right",
                      fontsize=6)
        ax.set_ylabel(labels[m])
        ax.set_ylim(bottom=0)
    axes[-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def plot_regions(result: StudyResult):
    """Base setting: linear regions per unit mass in class-mixed vs class-pure regions per
    world, trained (filled) and initial (rings)."""
    reg = result.summary["regions"]
    fig, ax = figure(aspect=0.7)
    x = np.arange(len(reg))
    for j, (key, color) in enumerate((("mixed_per_mass", PALETTE[3]),
                                      ("pure_per_mass", PALETTE[0]))):
        objs = [reg[w][key] for w in reg]
        v = np.array([o["value"] for o in objs])
        ci = np.array([o["ci95"] for o in objs], float)
        dx = x + (j - 0.5) * 0.2
        ax.errorbar(dx, v, yerr=np.abs(ci.T - v), ls="none", marker="o", ms=3, capsize=1.5,
                    color=color, label=key.replace("_", " "))
        ax.scatter(dx, [o["null"]["value"] for o in objs], s=14, facecolor="none",
                   edgecolor=color, linewidth=0.8)
    ax.scatter([], [], s=14, facecolor="none", edgecolor="grey", label="initial network")
    ax.set_xticks(x, [w.replace("_", " ") for w in reg], rotation=45, ha="right", fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("regions per unit probability mass")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return fig


def stored_atlas(result: StudyResult, world: str, member: int) -> Atlas:
    """A stored atlas of the base setting rebuilt from the result."""
    a, prefix = result.arrays, f"atlas_{world}_"
    cols = {k[len(prefix):]: a[k][member] for k in a if k.startswith(prefix)}
    formulas = tuple(result.summary["atlas"][world]["formulas"][str(member)])
    return Atlas(a["atlas_neurons"], cols, formulas, {"world": world, "member": member})


def plot_atlas(result: StudyResult):
    """Atlas of the base world's nets (base setting; the nets the Spearman ranks pool): each
    live neuron's top-Hessian share vs its zero-ablation risk change, coloured by its fold's
    distance to the Bayes boundary."""
    world = "base"
    fig, ax = figure(aspect=0.8)
    a = result.arrays
    pre = f"atlas_{world}_"
    live = a[pre + "active_mass"] >= 0.01
    sc = ax.scatter(a[pre + "hessian_share"][live], a[pre + "ablation_zero"][live],
                    c=a[pre + "fold_to_bayes"][live], s=10, cmap="viridis")
    fig.colorbar(sc, ax=ax, label="fold distance to Bayes boundary (input units)")
    ax.set(xlabel="share of the top Hessian subspace", ylabel="zero-ablation risk change",
           title=f"atlas, {world} world, "
                 f"{int(np.isfinite(a[pre + 'active_mass'][:, 0]).sum())} nets")
    return fig


def plot_neurons(result: StudyResult, config: Config):
    """Base setting, base world, seed 0: every hidden neuron's exact response over the data's
    box (small multiples, folds in black), each annotated with its atlas row: share of the top
    Hessian subspace, zero-ablation risk change, best cross-seed analogue |corr|; dead
    neurons (active mass < ``live_mass``) marked."""
    dist = config.placement.place(frame_world("base"))
    member = int(min(result.summary["atlas"]["base"]["formulas"], key=int))
    a = stored_atlas(result, "base", member).columns
    layers = load_layers(result, member, prefix="base_")
    fig = plot_neuron_grid(partition(layers, dist.domain, activation=config.train.activation),
                           0, ncols=4, resolution=80)
    for i, ax in enumerate(fig.axes[:len(a["hessian_share"])]):
        dead = a["active_mass"][i] < config.live_mass
        ax.set_title("dead" if dead else f"H {a['hessian_share'][i]:.2f}  "
                     f"abl {a['ablation_zero'][i]:+.3f}\nanalogue {a['analogue_corr'][i]:.2f}",
                     fontsize=5)
    return fig


def figures(result: StudyResult, config: Config) -> dict[str, Figure]:
    """Worlds, fold movement per setting, regions per mass, the atlas scatter."""
    return {"worlds": plot_worlds(config), "movement": plot_movement(result),
            "regions": plot_regions(result), "atlas": plot_atlas(result),
            "neurons": plot_neurons(result, config)}


def tables(result: StudyResult, config: Config) -> dict[str, Atlas]:
    """Every stored atlas, written as ``atlas_<world>_seed<s>.csv``."""
    return {f"atlas_{w}_seed{member}": stored_atlas(result, w, int(member))
            for w, entry in result.summary["atlas"].items() for member in entry["formulas"]}
