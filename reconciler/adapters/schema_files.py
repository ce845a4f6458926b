"""Write the JSON Schemas (rendered by ``reconciler.core.schema``) where editors and CI find them."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.schema import render_schemas


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
