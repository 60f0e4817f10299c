"""Study configs: nested frozen dataclasses, rebuilt from ``results.json`` and overridden
from the command line.

A study ``Config`` nests its parts (``train: TrainConfig``, ``world: World``) instead of copying
their fields. :func:`config_from_dict` rebuilds any such config from the JSON dict stored with a
result (lists become tuples, dicts become the nested dataclasses, missing keys take their
defaults); :func:`apply_overrides` applies ``key=value`` strings (``train.learning_rate=0.05``,
``world.params.k=4``) with a clear error listing the valid keys.
"""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Sequence

from toylab import data

NamedValues = tuple[tuple[str, Any], ...]
"""Keyword arguments as a hashable tuple of ``(name, value)`` pairs (``World.params``)."""


@dataclass(frozen=True)
class World:
    """A distribution spec: a preset of :data:`toylab.data.DISTRIBUTIONS` with keyword
    parameters, hashable and JSON-serialisable, so it can be part of a config.

    Attributes:
        preset: name in ``toylab.data.DISTRIBUTIONS``.
        params: keyword arguments of the preset as ``(name, value)`` pairs, e.g.
            ``(("k", 3), ("std", 0.6))``; overridden on the command line as
            ``--set world.params.k=4``.
    """

    preset: str = "blobs"
    params: NamedValues = ()

    def __post_init__(self):
        if self.preset not in data.DISTRIBUTIONS:
            raise ValueError(f"preset={self.preset!r} is unknown; choose one of "
                             f"{sorted(data.DISTRIBUTIONS)}")
        object.__setattr__(self, "params", tuple((str(k), v) for k, v in self.params))

    def distribution(self) -> data.GaussianMixture:
        """The :class:`~toylab.data.GaussianMixture` this spec names."""
        return data.make(self.preset, **dict(self.params))


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_named_values(hint) -> bool:
    return hint == NamedValues


def _strip_optional(hint) -> tuple[Any, bool]:
    """``(inner hint, whether None is allowed)`` of ``X | None`` / ``Optional[X]``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _coerce(value, hint, key: str):
    """``value`` (from JSON or ``ast.literal_eval``) as the type ``hint`` of field ``key``."""
    hint, optional = _strip_optional(hint)
    if value is None or (isinstance(value, str) and value.lower() == "none" and optional):
        if optional:
            return None
        raise ValueError(f"{key}=None is not allowed; give a {getattr(hint, '__name__', hint)}")
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{key}={value!r} must be a mapping of {hint.__name__} fields")
        return config_from_dict(hint, value, prefix=f"{key}.")
    if _is_named_values(hint):
        items = value.items() if isinstance(value, dict) else value
        try:
            return tuple((str(k), v) for k, v in items)
        except (TypeError, ValueError):
            raise ValueError(f"{key}={value!r} must be name=value pairs") from None
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{key}={value!r} must have {len(args)} entries")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise ValueError(f"{key}={value!r} must be true or false")
    if hint is int:
        if isinstance(value, str):
            value = _literal(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or float(value) != int(value):
            raise ValueError(f"{key}={value!r} must be an integer")
        return int(value)
    if hint is float:
        if isinstance(value, str):
            value = _literal(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}={value!r} must be a number")
        return float(value)
    if hint is str:
        return str(value)
    return value


def _literal(text: str):
    """A Python literal from text, or the text itself (so ``adam`` needs no quotes)."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


def config_from_dict(cls, values: dict, *, prefix: str = ""):
    """Rebuild a (nested) config dataclass ``cls`` from its JSON dict.

    Lists become tuples, dicts become nested dataclasses, keys that are missing take the
    field's default (so results stored before a field was added still load).

    Raises:
        ValueError: for a key that is not a field, listing the valid ones.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"cls={cls!r} must be a dataclass type")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{prefix}{unknown[0]} is not a field of {cls.__name__}; "
                         f"valid keys: {', '.join(prefix + n for n in names)}")
    return cls(**{name: _coerce(values[name], hints[name], prefix + name)
                  for name in names if name in values})


def config_keys(config, prefix: str = "") -> list[str]:
    """Every overridable dotted key of a config (nested dataclasses and ``params`` entries)."""
    keys = []
    hints = _hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            keys += config_keys(value, f"{prefix}{f.name}.")
        elif _is_named_values(hints[f.name]) and value:
            keys += [f"{prefix}{f.name}.{k}" for k, _ in value]
        else:
            keys.append(prefix + f.name)
    return keys


def _override(config, tree: dict, prefix: str, root):
    """``config`` with the assignments in ``tree`` (field -> raw text, or -> sub-tree for a
    nested config) applied in one ``dataclasses.replace``, so ``__post_init__`` sees them
    together (``train.steps=200`` with ``train.snapshot_every=25`` in either order)."""
    fields = {f.name for f in dataclasses.fields(config)}
    hints = _hints(type(config))
    changes = {}
    for name, sub in tree.items():
        key = prefix + name
        if name not in fields:
            raise ValueError(f"--set {key}: no such key; valid keys: "
                             f"{', '.join(config_keys(root))}")
        hint, current = hints[name], getattr(config, name)
        if isinstance(sub, str):
            try:
                changes[name] = _coerce(_literal(sub) if hint is not str else sub, hint, key)
            except (TypeError, ValueError) as err:
                raise ValueError(f"--set {key}={sub}: {err}") from None
        elif dataclasses.is_dataclass(current):
            changes[name] = _override(current, sub, key + ".", root)
        elif _is_named_values(hint) and all(isinstance(v, str) for v in sub.values()):
            changes[name] = tuple({**dict(current),
                                   **{k: _literal(v) for k, v in sub.items()}}.items())
        else:
            raise ValueError(f"--set {key}.{next(iter(sub))}: {name} has no sub-keys; valid "
                             f"keys: {', '.join(config_keys(root))}")
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as err:
        message = str(err)
        keys = ", ".join(prefix + name for name in tree)
        raise ValueError(message if message.startswith("--set") else
                         f"--set {keys}: {message}") from None


def _assignment_tree(assignments: Sequence[str]) -> dict:
    """Nested dict of the dotted keys of ``key=value`` assignments (a later one wins)."""
    tree: dict = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {assignment!r} must look like key=value, e.g. "
                             "--set train.learning_rate=0.05")
        *parents, leaf = key.split(".")
        node = tree
        for depth, part in enumerate(parents):
            node = node.setdefault(part, {})
            if isinstance(node, str):
                raise ValueError(f"--set {key}: {'.'.join(parents[:depth + 1])} is also set "
                                 "as a whole; set either it or its sub-keys")
        if isinstance(node.get(leaf), dict):
            raise ValueError(f"--set {key}: its sub-keys are also set; set either it or its "
                             "sub-keys")
        node[leaf] = raw
    return tree


def apply_overrides(config, assignments: Sequence[str]):
    """``config`` with ``key=value`` assignments applied (dotted keys reach nested configs).

    Values are Python literals (``0.05``, ``(2, 8, 3)``, ``None``) or bare words (``adam``);
    tuples may also be written ``2,8,3``. The assignments to one config (or nested config) are
    applied together and validated once by its ``__post_init__``, so their order does not
    matter.

    Raises:
        ValueError: naming the assignment and listing the valid keys.
    """
    return _override(config, _assignment_tree(assignments), "", config)
