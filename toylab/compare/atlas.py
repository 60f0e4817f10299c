"""The per-neuron atlas: every analysis of toylab on one trained network in one world, one row
per hidden neuron (issue 13, item 3).

:func:`atlas` joins, for each hidden neuron ``(layer, index)`` of a 2-input, 2-logit
piecewise-linear network:

- **fold geometry** (:mod:`toylab.compare.neurons`): the fold's probability mass
  ``int_fold p ds``, its density-weighted location (centroid of the fold weighted by ``p``
  along it), its Mahalanobis depth into the data, and its density-weighted mean distance to
  the Bayes and to the learned boundary, with the fold's rank among random fold lines
  (``null_folds``: lines drawn like the initialisation's, e.g. other seeds' initial
  first-layer folds clipped by :func:`toylab.compare.probes.line_segments`);
- **targets**: the exact population correlation with each target of
  :func:`toylab.compare.neurons.targets` (raw, labelled ``corr_*``), for first-layer neurons
  divided by the best ``|corr|`` any first-layer ramp attains (``attainable``, from
  :func:`toylab.compare.probes.attainable`; ``corr_*_vs_attainable``), and the exact linear
  probe R^2 of the neuron's layer (:func:`toylab.compare.probes.probe_r2`; a per-layer value
  repeated on each of its neurons, ``layer_probe_*``);
- **landscape**: the neuron's share of the top-``k`` Hessian eigenvectors of the training loss
  (:func:`toylab.landscape.subspace_mass`, basis-independent within the subspace) and of the
  training gradient (:func:`toylab.landscape.neuron_mass`); and the exact first-order speed of
  the decision boundary when only the neuron's incoming parameters move along each top
  eigenvector (:func:`toylab.compare.landscape_neurons.first_order_change`; the incoming
  blocks partition the parameters, so these velocities add up to the full direction's);
- **editing**: the exact population 0-1 risk change when the neuron is replaced by 0 or by its
  exact mean (:func:`toylab.compare.editing.ablate`);
- **universality**: the best exact ``|corr|`` with any neuron of the same layer of sibling
  networks (other seeds; :func:`toylab.compare.universality.cross_correlations`);
- **feature-visualisation fidelity on the data's support** (:mod:`toylab.compare.featureviz`):
  on the box ``dist.covering_box(core_mass)`` that holds all but ``core_mass`` of the
  probability (not the plotting box, whose corners no data reaches), best-of-16
  gradient-ascent feature visualisation scored against the neuron's exact maximum there
  (``fv_gap_core``: shortfall as a fraction of the neuron's range; ``fv_found_core``: within
  ``1e-3`` of it), and the top-9 training examples (``topk_max_gap_core``: the best example's
  shortfall; ``misdescribed_core``: 1 when no top-9 example lies in the near-max set
  ``{f >= max - 0.1 range}``); NaN for a neuron constant on the box;
- **formula**: the neuron's response as a sympy expression (:mod:`toylab.symbolic`), numbers
  rounded for display.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from toylab.compare.editing import ablate, hidden_neurons
from toylab.compare.featureviz import feature_visualisation, score_neurons
from toylab.compare.landscape_neurons import first_order_change, segment_integrals
from toylab.compare.neurons import fold_distance, neuron_profile, targets
from toylab.compare.probes import probe_r2
from toylab.compare.universality import cross_correlations
from toylab.exact import folds, partition
from toylab.exact.population import population_partition
from toylab.landscape import (eigendecomposition, gradient, hessian, neuron_mass, neuron_table,
                              subspace_mass)
from toylab.models import as_layers, widths_of
from toylab.symbolic import neuron_expression, round_numbers

FOLD_PIECES = 16
"""Equal pieces each fold segment is cut into for the density-weighted fold location."""

FEATUREVIZ = {"starts": 16, "steps": 200, "step_size": 0.05, "seed": 0}
"""Feature-visualisation settings of the fidelity columns (those of the
``featureviz-fidelity`` study)."""
TOP_K_EXAMPLES = 9
"""Dataset examples per neuron of the fidelity columns."""


@dataclass(frozen=True)
class Atlas:
    """One row per hidden neuron of one network in one world.

    Attributes:
        neurons: ``(H, 2)`` int ``(layer, index)``.
        columns: name -> ``(H,)`` float64 array (NaN where a column does not apply); the
            names and meanings are listed in the module docstring and :data:`COLUMN_DOCS`.
        formulas: ``(H,)`` the neurons' sympy expressions as strings (rounded for display).
        meta: scalars of the network (``risk``, ``bayes_error``, ``top_k``, ``siblings``,
            ``null_folds``, ``eigenvalues``).
    """

    neurons: np.ndarray
    columns: dict
    formulas: tuple
    meta: dict

    def __post_init__(self):
        H = len(self.neurons)
        for name, col in self.columns.items():
            if np.shape(col) != (H,):
                raise ValueError(f"column {name!r} has shape {np.shape(col)}; need ({H},)")
        if len(self.formulas) != H:
            raise ValueError(f"formulas has {len(self.formulas)} entries; need {H}")

    def rows(self) -> list[dict]:
        """One dict per neuron: ``layer``, ``index``, every column, ``formula``."""
        return [{"layer": int(l), "index": int(i),
                 **{k: float(v[n]) for k, v in self.columns.items()},
                 "formula": self.formulas[n]} for n, (l, i) in enumerate(self.neurons)]

    def to_csv(self, path) -> Path:
        """Write :meth:`rows` as CSV (NaN written as ``nan``); returns the path."""
        path = Path(path)
        rows = self.rows()
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def to_json(self, path) -> Path:
        """Write ``{"meta": ..., "rows": [...]}`` as JSON (NaN as ``null``); returns the path."""
        path = Path(path)
        clean = lambda v: None if isinstance(v, float) and not np.isfinite(v) else v  # noqa: E731
        rows = [{k: clean(v) for k, v in r.items()} for r in self.rows()]
        meta = {k: ([clean(x) for x in v] if isinstance(v, (list, tuple)) else clean(v))
                for k, v in self.meta.items()}
        path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        return path


def fold_location(segs: np.ndarray, dist, *, pieces: int = FOLD_PIECES) -> tuple[float, np.ndarray]:
    """``(mass, centroid (2,))`` of a fold: ``int_fold p ds`` (exact per piece) and the
    ``p``-weighted mean point of the fold (each segment cut into ``pieces`` equal pieces,
    weighted by its exact mass at its midpoint). ``(0, [nan, nan])`` without a fold."""
    if len(segs) == 0:
        return 0.0, np.full(2, np.nan)
    t = np.linspace(0, 1, pieces + 1)
    ends = segs[:, :1] + t[None, :, None] * (segs[:, 1:] - segs[:, :1])  # (S, pieces + 1, 2)
    cut = np.stack([ends[:, :-1], ends[:, 1:]], 2).reshape(-1, 2, 2)
    m = segment_integrals(cut, np.zeros((len(cut), 2)), dist).mass
    total = float(m.sum())
    if total <= 0:
        return 0.0, np.full(2, np.nan)
    return total, (m[:, None] * cut.mean(1)).sum(0) / total


def incoming_directions(v: np.ndarray, widths: Sequence[int]) -> np.ndarray:
    """``(P, H)``: ``v`` restricted to each hidden neuron's incoming weights and bias (zero
    elsewhere). Together with the logits' blocks these partition ``v``."""
    _, incoming, _ = neuron_table(widths)
    H = len(hidden_neurons(widths))
    return (incoming[:H].toarray() * np.asarray(v)[None]).T


def boundary_speed(p, dist, v) -> float:
    """Density-weighted mean normal speed of the decision boundary along ``v``,
    ``int |w| p ds / int p ds`` (0 when ``v`` does not move it; NaN without a boundary)."""
    change = first_order_change(p, v)
    s = segment_integrals(change.segments, change.velocity, dist)
    mass = float(s.mass.sum())
    return float(s.flux.sum()) / mass if mass > 0 else float("nan")


def atlas(net, dist, X, y, *, activation: str | None = None, top_k: int = 2,
          siblings: Sequence = (), null_folds: Sequence[np.ndarray] | None = None,
          attainable: dict | None = None, core_mass: float = 0.01, rtol: float = 1e-3,
          digits: int = 3) -> Atlas:
    """The per-neuron atlas of ``net`` in the world ``dist`` (module docstring).

    Args:
        net: 2-input, 2-logit piecewise-linear network (layer list or MLP).
        dist: 2-D two-class Gaussian mixture.
        X: ``(n, 2)`` training inputs; y: ``(n,)`` labels (Hessian and gradient of the mean
            training loss).
        activation: required for a layer list.
        top_k: Hessian eigenvectors of the top subspace (>= 1).
        siblings: networks of the same widths (other seeds) for the analogue column.
        null_folds: random fold lines, each ``(S, 2, 2)`` segments, for the null rank.
        attainable: target name -> best first-layer ``|corr|`` (targets of
            :data:`~toylab.compare.probes.RAMP_TARGETS`).
        core_mass: probability left outside the box of the feature-visualisation columns.
        rtol: relative tolerance of the target quadrature; digits: of the formulas.
    Returns:
        :class:`Atlas`.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ValueError(f"top_k={top_k!r} must be a positive int (Hessian eigenvectors), e.g. 2")
    layers, act = as_layers(net, activation, dtype=np.float64)
    widths = widths_of(layers)
    if widths[0] != 2 or widths[-1] != 2:
        raise ValueError(f"net has widths {widths}; the atlas needs 2 inputs and 2 logits")
    X, y = np.asarray(X, np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (len(X),):
        raise ValueError(f"X has shape {X.shape}, y {y.shape}; need X (n, 2) and y (n,)")
    neurons = hidden_neurons(widths)
    H = len(neurons)
    p = population_partition(layers, dist, activation=act)
    tg = targets(p, dist)
    prof = neuron_profile(layers, dist, activation=act, rtol=rtol)
    cols: dict[str, np.ndarray] = {}
    for name in ("mean", "std", "active_mass", "fold_depth", "fold_to_bayes", "fold_to_learned"):
        cols[name] = np.asarray(getattr(prof, name), np.float64)
    segs = [folds(p, tuple(n)) for n in neurons]
    loc = [fold_location(s, dist) for s in segs]
    cols["fold_mass"] = np.array([m for m, _ in loc])
    cols["fold_x"] = np.array([c[0] for _, c in loc])
    cols["fold_y"] = np.array([c[1] for _, c in loc])
    if null_folds is not None:
        null = np.array([fold_distance(s, dist, tg.bayes)[0] if len(s) else np.nan
                         for s in null_folds])
        null = null[np.isfinite(null)]
        cols["fold_to_bayes_null_rank"] = np.array(
            [np.mean(null <= d) if np.isfinite(d) and null.size else np.nan
             for d in cols["fold_to_bayes"]])
    for j, t in enumerate(prof.targets):
        cols[f"corr_{t}"] = np.asarray(prof.corr[:, j], np.float64)
        if attainable and t in attainable:
            cols[f"corr_{t}_vs_attainable"] = np.where(
                neurons[:, 0] == 0, np.abs(prof.corr[:, j]) / attainable[t], np.nan)
    r2 = probe_r2(prof, [p.layer_moments(l).cov for l in range(p.n_hidden)])
    for j, t in enumerate(prof.targets):
        cols[f"layer_probe_{t}"] = r2[neurons[:, 0], j]
    Hm = hessian(layers, X, y, activation=act)
    eig = eigendecomposition((Hm + Hm.T) / 2, k=top_k)
    V = eig.eigenvectors
    cols["hessian_share"] = subspace_mass(V, widths).share[:H]
    g = gradient(layers, X, y, activation=act)
    cols["gradient_share"] = (neuron_mass(g, widths).share[:H] if np.any(g != 0)
                              else np.full(H, np.nan))
    speeds = np.array([[boundary_speed(p, dist, d) for d in incoming_directions(v, widths).T]
                       for v in V.T])  # (top_k, H)
    cols["boundary_speed_top"] = speeds.mean(0)
    risk = p.risk.value
    for mode in ("zero", "mean"):
        cols[f"ablation_{mode}"] = np.array([
            population_partition(ablate(layers, dist, n, mode, activation=act, partition=p),
                                 dist, activation=act).risk.value - risk for n in neurons])
    cols.update(featureviz_columns(layers, act, p, dist, X, core_mass))
    cols["analogue_corr"] = np.full(H, np.nan)
    if siblings:
        best = np.zeros(H)
        for sib in siblings:
            for l, cc in enumerate(cross_correlations(layers, sib, dist, activation=act)):
                rows = neurons[:, 0] == l
                best[rows] = np.maximum(best[rows], np.nanmax(np.abs(np.nan_to_num(cc.corr)), 1))
        cols["analogue_corr"] = best
    formulas = tuple(str(round_numbers(neuron_expression(layers, tuple(n), activation=act),
                                       digits)) for n in neurons)
    meta = {"risk": float(risk), "bayes_error": float(dist.bayes_error()), "top_k": int(top_k),
            "siblings": len(siblings), "null_folds": 0 if null_folds is None else len(null_folds),
            "eigenvalues": np.asarray(eig.eigenvalues, np.float64).tolist(),
            "targets": list(prof.targets)}
    return Atlas(neurons, cols, formulas, meta)


def featureviz_columns(layers, activation: str, p, dist, X: np.ndarray,
                       core_mass: float) -> dict[str, np.ndarray]:
    """The feature-visualisation fidelity columns (module docstring) of every hidden neuron,
    scored on the data's core box ``dist.covering_box(core_mass)``; ``p`` is the network's
    population partition, ``X`` the training sample the examples come from."""
    core = np.asarray(dist.covering_box(core_mass), np.float64)
    points = feature_visualisation(layers, core, activation=activation, **FEATUREVIZ)
    sc = score_neurons(partition(layers, core, activation=activation), p, dist, points, X,
                       k=TOP_K_EXAMPLES)
    live = ~sc.constant
    return {"fv_gap_core": sc.fv_gap,
            "fv_found_core": np.where(live, sc.fv_found, np.nan),
            "topk_max_gap_core": sc.topk_max_gap,
            "misdescribed_core": np.where(live, sc.misdescribed, np.nan)}
