"""The layers of docs/architecture.md: imports only point down (hub, projections, replay)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Each package and the project packages it must never import.
FORBIDDEN = {
    "hub": {"projections", "replay", "adapters"},
    "projections": {"replay", "adapters"},
    "replay": {"adapters"},
}


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports (absolute imports; relative ones stay inside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_up(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no modules under {package}/"
    wrong = {
        str(m.relative_to(ROOT)): sorted(imported(m) & FORBIDDEN[package])
        for m in modules
        if imported(m) & FORBIDDEN[package]
    }
    assert not wrong, f"imports that point up from {package}/: {wrong}"


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from adapters.avro import AvroCodec\n    import replay.rebuild\n"
    )
    assert imported(module) == {"adapters", "replay"}
