"""The package boundaries of docs/DESIGN.md, enforced on the source (every import, also those inside functions).

- curate imports nothing from models, train, evaluate, pipeline or report (it is useful on its own);
- render imports nothing from curate, models, train, evaluate, pipeline or report (curate, evaluate and the
  reading stage all use it);
- train imports neither evaluate nor curate; evaluate never imports train;
- report imports no torch, transformers, models, train or evaluate (it reads result files only);
- no import circles between modules (a function-level import hides a circle from Python, not from this test).
(The image slot's single definition is checked in tests/test_image_slot.py.)
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "lomo_ablate"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    return out


MODULES = _modules()
IMPORTS = {name: _imports(path, name) for name, path in MODULES.items()}


def _internal(targets: set[str]) -> set[str]:
    return {t for t in targets if t in MODULES}


#: Modules allowed to cross a boundary, with the reason. The curation CLI is a Hydra app composed from the
#: main app's config tree (the scale, position, distortion and render groups, and ``data``), so it registers
#: its schema through ``pipeline.schema`` (config dataclasses only: no torch); the curate library does not.
EXEMPT = {"lomo_ablate.curate.__main__": {"lomo_ablate.pipeline.schema"}}


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for name, targets in IMPORTS.items():
        if name != package and not name.startswith(package + "."):
            continue
        exempt = EXEMPT.get(name, set())
        targets = {t for t in targets if not any(t == e or t.startswith(e + ".") for e in exempt)}
        for t in sorted(targets):
            if any(t == f or t.startswith(f + ".") for f in forbidden):
                bad.append(f"{name} imports {t}")
    return bad


@pytest.mark.parametrize("package, forbidden", [
    ("lomo_ablate.curate", ("lomo_ablate.models", "lomo_ablate.train", "lomo_ablate.evaluate",
                            "lomo_ablate.pipeline", "lomo_ablate.report")),
    ("lomo_ablate.render", ("lomo_ablate.curate", "lomo_ablate.models", "lomo_ablate.train",
                            "lomo_ablate.evaluate", "lomo_ablate.pipeline", "lomo_ablate.report")),
    ("lomo_ablate.train", ("lomo_ablate.evaluate", "lomo_ablate.curate", "lomo_ablate.pipeline",
                           "lomo_ablate.report")),
    ("lomo_ablate.evaluate", ("lomo_ablate.train", "lomo_ablate.pipeline", "lomo_ablate.report")),
    ("lomo_ablate.models", ("lomo_ablate.train", "lomo_ablate.evaluate", "lomo_ablate.curate",
                            "lomo_ablate.pipeline", "lomo_ablate.report")),
    ("lomo_ablate.report", ("torch", "transformers", "lomo_ablate.models", "lomo_ablate.train",
                            "lomo_ablate.evaluate", "lomo_ablate.curate")),
])
def test_package_boundaries(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(package, forbidden) == []


def test_no_import_circles() -> None:
    """Depth-first search for a cycle in the module graph (package ``__init__`` re-exports count as the
    package importing its modules; a module importing its own package's ``__init__`` does not form a cycle
    through that re-export)."""
    graph = {n: {t for t in _internal(ts) if t != n and not n.startswith(t + ".")} for n, ts in IMPORTS.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert cycles == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)

