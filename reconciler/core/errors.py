"""Error types shared by every layer.

Every error a user can see is an ``MdrError``; the CLI turns it into a message and exit code 1.
Validation problems are collected as ``Issue`` values (file, line, column, field path, message) so that
``mdr validate`` can print every problem at once instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass


def one_line(text: str) -> str:
    """``text`` with every unprintable character (newline, tab, NUL, escape, U+2028, ...) written as its
    Python escape, so that an error always takes exactly one line whatever a file or key name holds."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a user's input, located precisely enough to jump to it in an editor."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    path: str  # dotted field path, e.g. "spec.infrastructure.ocpus"; "" for the whole document
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return one_line(f"{where}:{field} {self.message}")


class MdrError(Exception):
    """Base class of every error mdr reports to a user (exit code 1)."""


class ValidationFailed(MdrError):
    """Input (manifests, stack file, artifacts) is invalid; carries every issue found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ArtifactError(MdrError):
    """A model artifact cannot be read, packaged or is unsafe (e.g. a symlink leaving its folder)."""
