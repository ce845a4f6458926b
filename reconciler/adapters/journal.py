"""Local records under ``.mdr/``: the apply journal (crash recovery) and the audit log (who wrote what).

The journal records each cloud write *before* waiting on it (resource OCID and work-request id), so that a
re-run after a crash resumes waiting instead of acting again. The audit log gets one JSON line per API
write with its outcome. Neither ever holds a secret value: callers pass identifiers, never request bodies.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self


def state_dir() -> Path:
    """Where mdr keeps local state: ``$MDR_STATE_DIR`` or ``.mdr`` in the working directory."""
    return Path(os.environ.get("MDR_STATE_DIR", ".mdr"))


def make_state_dir(path: Path) -> Path:
    """Create ``path`` (inside the state folder); the state folder gets a ``.gitignore`` of ``*`` so that
    keys, emulator state, journal and audit log never show up as untracked files (as other tools do)."""
    path.mkdir(parents=True, exist_ok=True)
    root = state_dir()
    ignore = root / ".gitignore"
    if root.is_dir() and not ignore.exists():
        ignore.write_text("# mdr's local state (keys, emulator, journal, audit log): never commit it\n*\n")
    return path


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _JsonLines:
    """An append-only JSON-lines file; each line is flushed and fsynced so a crash loses at most one line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str)
        with self._lock:
            make_state_dir(self.path.parent)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line after a crash
        return records


@dataclass
class JournalEntry:
    change: str
    op: str
    resource_id: str | None = None
    work_request_id: str | None = None
    status: str = "started"  # started | done | failed


@dataclass
class _StackRecords:
    """A stack's JSON-lines file under the state folder (``FOLDER/<stack>.jsonl``)."""

    FOLDER: ClassVar[str] = ""
    stack: str
    path: Path
    _file: _JsonLines = field(init=False)

    def __post_init__(self) -> None:
        self._file = _JsonLines(self.path)

    @classmethod
    def for_stack(cls, stack: str) -> Self:
        return cls(stack, state_dir() / cls.FOLDER / f"{stack}.jsonl")


@dataclass
class Journal(_StackRecords):
    """Per-stack journal of in-flight writes; ``pending`` tells a re-run what it may resume."""

    FOLDER: ClassVar[str] = "journal"

    def record(self, entry: JournalEntry) -> None:
        self._file.append({"time": now(), "stack": self.stack, **entry.__dict__})

    def pending(self) -> dict[tuple[str, str], JournalEntry]:
        """The last entry of each (change, op) whose last status is not ``done``."""
        last: dict[tuple[str, str], JournalEntry] = {}
        for record in self._file.read():
            entry = JournalEntry(
                record.get("change", ""),
                record.get("op", ""),
                record.get("resource_id"),
                record.get("work_request_id"),
                record.get("status", "started"),
            )
            last[(entry.change, entry.op)] = entry
        return {k: v for k, v in last.items() if v.status != "done"}


@dataclass
class AuditLog(_StackRecords):
    """One line per API write mdr made for the stack, with its outcome and request ids (never a body), and
    the target it went to: the same stack applied to the local emulator and to OCI keeps one history each."""

    FOLDER: ClassVar[str] = "audit"
    target: str | None = None

    def for_target(self, target: str) -> AuditLog:
        return AuditLog(self.stack, self.path, target)

    def write(
        self,
        key: str,
        operation: str,
        outcome: str,
        request_id: str | None = None,
        work_request_id: str | None = None,
        resource_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        self._file.append(
            {
                "time": now(),
                "stack": self.stack,
                "key": key,
                "operation": operation,
                "outcome": outcome,
                "opcRequestId": request_id,
                "opcWorkRequestId": work_request_id,
                "resourceId": resource_id,
                "detail": detail,
                "target": self.target,
            }
        )

    def read(self, target: str | None = None) -> list[dict[str, Any]]:
        """Every record, or only those written to ``target`` (a substring of the recorded target)."""
        records = self._file.read()
        if target is None:
            return records
        return [r for r in records if target in str(r.get("target") or "")]


class KnownCompartments:
    """Compartments where this stack's resources were last seen (``compartments/<stack>.json``).

    A deployment moved to another compartment is still owned; reading only the compartments the manifests
    name now would miss it where it was, and create a second one. Each plan reads these too and records
    where owned resources are. (Resource Search finds the rest when this file is gone, e.g. on a new CI
    runner.)
    """

    def __init__(self, stack: str) -> None:
        self.path = state_dir() / "compartments" / f"{stack}.json"

    def read(self) -> set[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        return {str(c) for c in data} if isinstance(data, list) else set()

    def write(self, compartments: set[str]) -> None:
        if compartments == self.read():
            return
        make_state_dir(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(compartments)), encoding="utf-8")
        os.replace(tmp, self.path)
