"""Worlds for the explorer: a preset with its parameters, moved and turned, or a mixture read
from a small JSON/TOML file.

A *world* is a 2-D :class:`toylab.data.GaussianMixture`. The preset parameters are those of
the functions in :data:`toylab.data.DISTRIBUTIONS`; :func:`transformed` applies the rigid
motion ``x -> R(angle) x + shift`` to a mixture exactly (the mixture's own ``rotated`` and
``shifted``), so every Bayes quantity moves with it.

World file (JSON, or TOML with the same keys)::

    {"name": "two skewed blobs",
     "components": [
        {"mean": [-1, 0], "cov": [[1.0, 0.6], [0.6, 1.0]], "label": 0, "weight": 0.5},
        {"mean": [1.5, 0.5], "cov": 0.5, "label": 1, "weight": 0.5}]}

or a preset: ``{"preset": "blobs", "params": {"k": 4}, "shift": [1, 0], "rotate": 30}``.
``cov`` is a variance, a length-2 diagonal or a 2x2 matrix; ``weight`` defaults to uniform
and ``label`` to the component's index.

Points (a CSV with columns ``x, y, label``, :func:`points_from_csv`) make an
:class:`EmpiricalWorld`: no density, so no population quantities.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import tomllib
from pathlib import Path

import numpy as np

from toylab.data import DISTRIBUTIONS, GaussianMixture, make

PRESET_PARAMS: dict[str, dict[str, float | int]] = {
    name: {p.name: p.default for p in inspect.signature(fn).parameters.values()
           if p.kind is p.POSITIONAL_OR_KEYWORD}
    for name, fn in DISTRIBUTIONS.items()
}
"""Preset name -> its keyword parameters with their defaults (``dim`` excluded: 2-D only)."""


def transformed(dist: GaussianMixture, *, shift=(0.0, 0.0), rotate: float = 0.0) -> GaussianMixture:
    """The mixture of ``R x + shift`` for ``x ~ dist``, ``R`` the rotation by ``rotate``
    degrees (counter-clockwise): :meth:`~toylab.data.GaussianMixture.rotated` then
    :meth:`~toylab.data.GaussianMixture.shifted` (means ``R m + shift``, covariances
    ``R S R^T``), keeping the name.

    Args:
        dist: a 2-D mixture. shift: ``(2,)``. rotate: angle in degrees.
    """
    if dist.dim != 2:
        raise ValueError(f"dist is {dist.dim}-D; the explorer shows 2-D worlds only")
    return dist.rotated(float(rotate), name=dist.name).shifted(shift, name=dist.name)


def preset_world(name: str, params: dict | None = None, *, shift=(0.0, 0.0),
                 rotate: float = 0.0) -> GaussianMixture:
    """Preset ``name`` built with ``params`` (a subset of :data:`PRESET_PARAMS` ``[name]``),
    then moved by :func:`transformed`."""
    if name not in PRESET_PARAMS:
        raise ValueError(f"preset={name!r} is unknown; choose one of {sorted(PRESET_PARAMS)}")
    params = dict(params or {})
    unknown = sorted(set(params) - set(PRESET_PARAMS[name]))
    if unknown:
        raise ValueError(f"params {unknown} are not parameters of preset {name!r}; it takes "
                         f"{sorted(PRESET_PARAMS[name])}")
    return transformed(make(name, **params), shift=shift, rotate=rotate)


def _cov_matrix(spec, name: str) -> np.ndarray:
    """A 2x2 matrix from a variance, a length-2 diagonal or a 2x2 matrix (validated later by
    :class:`~toylab.data.GaussianMixture`, which names the component)."""
    arr = np.asarray(spec, np.float64)
    if arr.shape == ():
        return arr * np.eye(2)
    if arr.shape == (2,):
        return np.diag(arr)
    if arr.shape == (2, 2):
        return arr
    raise ValueError(f"{name}={spec!r} must be a variance, two variances [vx, vy] or a 2x2 "
                     "matrix [[a, b], [b, c]]")


def world_from_dict(spec: dict, *, source: str = "world") -> GaussianMixture | EmpiricalWorld:
    """Build a world from a parsed world file (see the module docstring), or the
    :class:`EmpiricalWorld` of a ``points`` entry written by :func:`world_dict`.

    Raises:
        ValueError naming ``source``, the offending key or component, and the fix.
    """
    if not isinstance(spec, dict):
        raise ValueError(
            f"{source}: the top level must be a table/object, got {type(spec).__name__}")
    if "points" in spec:  # an empirical world, as world_dict writes it
        pts = spec["points"]
        return EmpiricalWorld(str(spec.get("name", "points")),
                              np.column_stack([pts["x"], pts["y"]]).astype(np.float64),
                              np.asarray(pts["label"], np.int64))
    motion = {"shift": spec.get("shift", (0.0, 0.0)), "rotate": float(spec.get("rotate", 0.0))}
    try:
        if "preset" in spec:
            return preset_world(spec["preset"], spec.get("params"), **motion)
        comps = spec.get("components")
        if not isinstance(comps, list) or not comps:
            raise ValueError('need "components": a non-empty list of {"mean", "cov"[, "label", '
                             '"weight"]}, or "preset": a name')
        for k, c in enumerate(comps):
            missing = {"mean", "cov"} - set(c) if isinstance(c, dict) else {"mean", "cov"}
            if missing:
                raise ValueError(f"components[{k}] lacks {sorted(missing)}")
            if np.shape(c["mean"]) != (2,):
                raise ValueError(f"components[{k}].mean={c['mean']!r} must be two numbers [x, y]")
        covs = [_cov_matrix(c["cov"], f"components[{k}].cov") for k, c in enumerate(comps)]
        weights = [c.get("weight") for c in comps]
        weights = None if all(w is None for w in weights) else weights
        if weights is not None and any(w is None for w in weights):
            raise ValueError("give a weight for every component or for none (uniform)")
        labels = [c.get("label", k) for k, c in enumerate(comps)]
        dist = GaussianMixture([c["mean"] for c in comps], np.stack(covs), weights,
                               labels, name=str(spec.get("name", "custom")))
        return transformed(dist, **motion)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{source}: {err}") from None


def world_from_text(text: str, *, suffix: str = ".json", source: str = "world") -> GaussianMixture:
    """Parse a world file's ``text`` (TOML if ``suffix`` is ``.toml``, else JSON) and build it.

    Raises:
        ValueError naming ``source`` and what is wrong (syntax, keys, covariances, ...).
    """
    toml = suffix.lower() == ".toml"
    try:
        spec = tomllib.loads(text) if toml else json.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{source}: not valid {'TOML' if toml else 'JSON'}: {err}") from None
    return world_from_dict(spec, source=source)


def load_world(path) -> GaussianMixture:
    """Read a world file (``.json`` or ``.toml``) and build its mixture.

    Raises:
        ValueError naming the file and what is wrong in it (syntax, missing keys, a
        covariance that is not positive definite, ...).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ValueError(f"--world {path}: cannot read it ({err.strerror})") from None
    return world_from_text(text, suffix=path.suffix, source=f"--world {path}")


CSV_COLUMNS = ("x", "y", "label")
"""Header of a points file (any order, case and surrounding spaces ignored)."""

PAD = 0.1
"""An empirical world's plot window: the points' bounding box widened by this fraction per side."""


@dataclasses.dataclass(frozen=True, eq=False)
class EmpiricalWorld:
    """A world given only by its points (a CSV upload): the empirical distribution.

    Everything that needs only the points is exact (regions, neurons, formulas, the training
    loss, region shares and neuron means *of the points*); population quantities (density,
    Bayes boundary and error, population accuracy, excess risk) do not exist for it.

    Attributes:
        name: shown in the page (the file's name).
        X: ``(n, 2)`` float64 points; y: ``(n,)`` int labels ``0..n_classes-1``.
        domain: ``(2, 2)`` plot window ``[[xlo, xhi], [ylo, yhi]]``: the bounding box
            widened by :data:`PAD` per side (at least 1 wide).
    """

    name: str
    X: np.ndarray
    y: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1

    @property
    def domain(self) -> np.ndarray:
        lo, hi = self.X.min(0), self.X.max(0)
        pad = np.maximum(PAD * (hi - lo), 0.5)
        return np.stack([lo - pad, hi + pad], 1)


def points_from_csv(text: str, *, name: str = "points.csv") -> EmpiricalWorld:
    """An :class:`EmpiricalWorld` called ``name`` from CSV ``text`` with columns
    ``x, y, label`` (a header row, then one point per row; ``label`` a class index
    ``0..C-1``, every class present, ``C >= 2``).

    Raises:
        ValueError naming the file, the row (1 = the first data row) and column, the bad
        value and the fix.
    """
    import csv
    import io

    source = f"points file {name}"
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if sorted(header) != sorted(CSV_COLUMNS):
        raise ValueError(f"{source}: the header is {header}; the first row must name the "
                         f"columns {', '.join(CSV_COLUMNS)} (e.g. 'x,y,label')")
    col = [header.index(c) for c in CSV_COLUMNS]
    if len(rows) < 3:
        raise ValueError(f"{source}: {len(rows) - 1} data row(s); give at least 2 points")
    X, y = np.empty((len(rows) - 1, 2)), np.empty(len(rows) - 1, np.int64)
    for i, r in enumerate(rows[1:], start=1):
        if len(r) != len(header):
            raise ValueError(f"{source}: row {i} has {len(r)} cells, the header {len(header)}; "
                             "write x, y and label on every row")
        for j, column in enumerate(CSV_COLUMNS):
            cell = r[col[j]].strip()
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not np.isfinite(value):
                fix = ("a class index 0, 1, ..." if column == "label"
                       else "a finite number such as 1.5")
                raise ValueError(f"{source}: row {i}, column {column!r}: {cell!r} is not "
                                 f"{'an integer' if column == 'label' else 'a number'}; "
                                 f"write {fix}")
            if column == "label":
                if value != int(value) or value < 0:
                    raise ValueError(f"{source}: row {i}, column 'label': {cell!r} is not a "
                                     "class index; write 0, 1, ...")
                y[i - 1] = int(value)
            else:
                X[i - 1, j] = value
    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(f"{source}: every point has label {present[0]}; a classifier needs "
                         "at least two classes (labels 0 and 1)")
    missing = sorted(set(range(int(present.max()) + 1)) - set(present.tolist()))
    if missing:
        raise ValueError(f"{source}: labels {present.tolist()} skip {missing}; number the "
                         f"classes 0..{len(present) - 1} without gaps")
    return EmpiricalWorld(name, X, y)


def world_dict(dist: GaussianMixture | EmpiricalWorld) -> dict:
    """A world file's contents for ``dist`` (``components``; ``points`` for an
    :class:`EmpiricalWorld`): :func:`world_from_dict` of it rebuilds the same world."""
    if isinstance(dist, EmpiricalWorld):
        return {"name": dist.name, "points": {"x": dist.X[:, 0].tolist(),
                                              "y": dist.X[:, 1].tolist(),
                                              "label": dist.y.tolist()}}
    return {"name": dist.name, "components": [
        {"mean": m.tolist(), "cov": S.tolist(), "weight": float(w), "label": int(c)}
        for m, S, w, c in zip(dist.means, dist.covs, dist.weights, dist.labels)]}


def net_json(layers, config, *, seed: int, step: int,
             world: GaussianMixture | EmpiricalWorld) -> str:
    """A trained net as JSON: ``layers`` (``[{"W": (in, out), "b": (out,)}, ...]``, float64),
    ``activation``, the training ``config`` (a :class:`toylab.train.TrainConfig`'s fields),
    ``seed``, ``step`` and the ``world`` it was trained on (:func:`world_dict`). Read it back
    with :func:`load_net`."""
    return json.dumps({
        "activation": config.activation, "seed": int(seed), "step": int(step),
        "config": dataclasses.asdict(config), "world": world_dict(world),
        "layers": [{"W": np.asarray(W, np.float64).tolist(),
                    "b": np.asarray(b, np.float64).tolist()} for W, b in layers]})


def load_net(path) -> tuple[list[tuple[np.ndarray, np.ndarray]], str,
                            GaussianMixture | EmpiricalWorld]:
    """``(layers, activation, world)`` from a file written by the explorer's *Download net*
    (:func:`net_json`); ``layers`` is the :mod:`toylab.models` layer list (float64), usable
    by every analysis."""
    spec = json.loads(Path(path).read_text())
    layers = [(np.asarray(layer["W"], np.float64), np.asarray(layer["b"], np.float64))
              for layer in spec["layers"]]
    return layers, spec["activation"], world_from_dict(spec["world"], source="net file")
