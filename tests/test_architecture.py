"""The stage rule of docs/architecture.md, checked mechanically on every module's imports.

Every ``import`` / ``from ... import`` of a toylab module in ``toylab/`` and ``studies/``
(module level and inside functions alike) is read with ``ast``. A component may import only
components of a lower stage (and itself), and no module imports another module's ``_private``
name. Known violations that are being fixed are listed in :data:`ALLOWED`, each with its
reason; any other violation fails.
"""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

STAGES = {
    "data": 0, "models": 0, "results": 0, "units": 0,
    "train": 1, "exact": 1, "symbolic": 1,
    "landscape": 2,
    "compare": 3,
    "plots": 4, "testing": 4,
    "study": 5,
    "studies": 6, "explore": 6,
    "cli": 7,
}
"""Component -> stage (docs/architecture.md). A component is a top-level module or package
of toylab (``toylab.exact.partition`` belongs to ``exact``), or ``studies``. Plots (and the
test helpers) sit below the study harness, which builds and saves a study's figures in the
house style; above it the shells are ordered too: studies, explore < cli."""

COMPONENT_OF = {"sweep": "train"}
"""Modules that belong to another component's stage (``toylab.sweep`` runs train's program)."""

ROOT_STAGE = 1
"""``toylab`` itself (its ``__init__``: re-exports of data, models and train, plus
:func:`toylab.use_cpu_cores`) counts as a stage-1 component: only stages above may import it,
and it imports stages up to 1."""

ALLOWED: set[tuple[str, str]] = set()
"""``(importing module, imported name)`` pairs tolerated for now: none at the time of writing.
Add an entry only with a comment naming the issue that removes it."""


def modules():
    """``(dotted name, path)`` of every module under toylab/ and studies/."""
    for base in ("toylab", "studies"):
        for path in sorted((ROOT / base).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def component(module: str) -> str | None:
    """The component of a dotted module name (None for the toylab root)."""
    parts = module.split(".")
    if parts[0] == "studies":
        return "studies"
    if len(parts) == 1:
        return None
    return COMPONENT_OF.get(parts[1], parts[1])


def stage(module: str) -> int:
    comp = component(module)
    if comp is None:
        return ROOT_STAGE
    if comp not in STAGES:
        raise AssertionError(f"{module}: component {comp!r} has no stage; add it to STAGES "
                             "and to docs/architecture.md")
    return STAGES[comp]


def imports(module: str, path: Path):
    """``(imported module, imported name or None)`` for every toylab import in a file.
    ``from toylab import x`` is read as importing module ``toylab.x`` when that exists."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("toylab", "studies"):
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] not in ("toylab", "studies"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = any((ROOT / Path(*sub.split("."))).with_suffix(s).exists()
                                for s in (".py", ""))
                yield (sub, None) if is_module else (base, alias.name)


def violations():
    found = []
    for module, path in modules():
        own = stage(module) + (0.5 if module == "toylab" else 0)
        for target, name in imports(module, path):
            if component(target) != component(module) and stage(target) >= own:
                found.append((module, target, f"stage {own} imports stage {stage(target)}"))
            # a _private module or name of another module (a package may use its own
            # private submodules: toylab.exact importing toylab.exact._helpers)
            private = [p for p in target.split(".")[1:] if p.startswith("_")
                       and not p.startswith("__")]
            if name is not None and name.startswith("_"):
                private.append(name)
            if private and module not in (target, target.rpartition(".")[0]):
                found.append((module, f"{target}:{name}", f"private name {private}"))
    return found


def test_no_stage_imports_a_higher_one_and_no_private_names_cross_modules():
    new = [v for v in violations() if (v[0], v[1]) not in ALLOWED]
    assert not new, "\n".join(f"{m} -> {t}: {why}" for m, t, why in new)


def test_the_allow_list_holds_only_live_violations():
    live = {(m, t) for m, t, _ in violations()}
    assert not ALLOWED - live, f"fixed, remove from ALLOWED: {sorted(ALLOWED - live)}"


@pytest.mark.parametrize("source, expected", [
    ("from toylab.compare import neurons\n", "stage 2 imports stage 3"),
    ("from toylab.exact.partition import _clip\n", "private name ['_clip']"),
    ("import toylab.study\n", "stage 2 imports stage 5"),
])
def test_the_checker_catches_violations(tmp_path, monkeypatch, source, expected):
    """The checker itself: a landscape module with a bad import is reported."""
    fake = tmp_path / "toylab" / "landscape"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert any(why == expected for _, _, why in violations())
