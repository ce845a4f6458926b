"""Which stacks a tree holds: every folder with an ``mdr.yaml`` (Argo CD's ApplicationSet git generator).

A folder with an ``mdr.yaml`` is a stack, and everything below it belongs to it (a stack is never looked
into for more stacks). A folder without one is not: an overlay's ``base:`` folder holds shared documents
and no ``mdr.yaml``, so it is never served on its own. Hidden folders (``.git``, ``.mdr``) and symlinked
folders are skipped. Two folders naming the same ``stack:`` would own (and prune) each other's resources:
the first in path order is served and the other is reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.adapters.manifests import load_stack_config
from reconciler.core.stack import STACK_FILE


@dataclass(frozen=True)
class Found:
    folder: str  # relative to the tree's root, with /; "." for the root itself
    path: Path
    #: the ``stack:`` its mdr.yaml names; None while that file is invalid (served, and its error shown)
    name: str | None


@dataclass
class Discovery:
    stacks: dict[str, Found] = field(default_factory=dict)  # by folder
    problems: list[str] = field(default_factory=list)

    def label(self, folder: str) -> str:
        found = self.stacks[folder]
        return found.name or folder


def discover(root: Path) -> Discovery:
    """Every stack under ``root``, in path order."""
    found: list[Found] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
        if STACK_FILE in files:
            dirs[:] = []  # everything below belongs to this stack
            config, _, _ = load_stack_config(here)
            relative = here.relative_to(root).as_posix()
            found.append(Found(relative, here, config.stack if config else None))
    result = Discovery()
    owner: dict[str, str] = {}
    for item in sorted(found, key=lambda f: f.folder):
        if item.name is not None and item.name in owner:
            result.problems.append(
                f"{item.folder}/{STACK_FILE}: stack {item.name!r} is already {owner[item.name]}/{STACK_FILE}; "
                "two folders of one stack would prune each other's resources, so this one is not served. "
                "Give it its own stack: name"
            )
            continue
        if item.name is not None:
            owner[item.name] = item.folder
        result.stacks[item.folder] = item
    return result
