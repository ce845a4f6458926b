"""The emulator's layout: core knows no service, backends know no HTTP, nothing comes from the rest of mdr."""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler.emulator

ROOT = Path(reconciler.emulator.__file__).parent
SERVICES = ("datascience", "logging", "objectstorage", "search")


def imports() -> dict[str, set[str]]:
    """Module path relative to the emulator (``core/http.py``) -> the reconciler modules it imports."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        modules = {
            node.module
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reconciler")
        }
        found[path.relative_to(ROOT).as_posix()] = modules
    return found


def test_the_emulator_imports_only_itself() -> None:
    for path, modules in imports().items():
        outside = {m for m in modules if not m.startswith("reconciler.emulator")}
        assert not outside, f"{path} imports {outside}"


def test_core_imports_no_service_and_backends_no_http() -> None:
    for path, modules in imports().items():
        if path.startswith("core/"):
            services = {m for m in modules if m.split(".")[2] in SERVICES}
            assert not services, f"{path} imports {services}"
        if path.endswith("/backend.py"):
            assert "reconciler.emulator.core.http" not in modules, f"{path} imports the HTTP layer"
