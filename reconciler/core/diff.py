"""Field-level differences between two canonical dicts (pure).

deepdiff does the structural work; this module turns its tree view into ``FieldChange`` values whose paths
read like the manifest (``infrastructure.ocpus``, ``runtime.env.WEB_CONCURRENCY``), drops ignored paths,
and marks secret fields so that renderers print ``(sensitive)`` instead of a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.document import format_path

SENSITIVE = "(sensitive)"
SECRET_PREFIXES = ("runtime.secretEnv",)


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any
    sensitive: bool = False

    def redacted(self) -> FieldChange:
        """The change as it may be shown or stored: secret values replaced by a marker."""
        if not self.sensitive:
            return self
        before = None if self.before is None else SENSITIVE
        after = None if self.after is None else SENSITIVE
        return FieldChange(self.path, before, after, True)

    def to_dict(self) -> dict[str, Any]:
        shown = self.redacted()
        return {
            "path": shown.path,
            "before": shown.before,
            "after": shown.after,
            "sensitive": shown.sensitive,
        }


def is_under(path: str, prefixes: Iterable[str]) -> bool:
    """``path`` is one of ``prefixes`` or inside one of them (``policy.ignore`` and secret paths)."""
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in prefixes)


_NOTHING = object()


def _leaf(value: Any) -> Any:
    """deepdiff's marker for a missing side becomes None (absent and null mean the same to the service)."""
    return None if value is _NOTHING or type(value).__name__ == "NotPresent" else value


def diff(
    live: Mapping[str, Any], desired: Mapping[str, Any], ignore: Iterable[str] = ()
) -> list[FieldChange]:
    """Changes that turn ``live`` into ``desired``, sorted by path; lists compare as whole values."""
    if live == desired:  # the common case (nothing changed): skip deepdiff's walk entirely
        return []
    ignored = tuple(ignore)
    tree = DeepDiff(
        dict(live), dict(desired), view="tree", ignore_order=False, ignore_numeric_type_changes=True
    )
    changes: dict[str, FieldChange] = {}
    for report in tree.values():
        for level in report:
            parts = level.path(output_format="list")
            # A change inside a list is reported for the whole list: lists (cmd, entrypoint) are atomic.
            cut = next((i for i, p in enumerate(parts) if isinstance(p, int)), None)
            if cut is not None:
                parts = parts[:cut]
                before = _get(live, parts)
                after = _get(desired, parts)
            else:
                before, after = _leaf(level.t1), _leaf(level.t2)
            path = format_path(tuple(parts))
            if not path or is_under(path, ignored) or before == after:
                continue
            changes[path] = FieldChange(path, before, after, is_under(path, SECRET_PREFIXES))
    return sorted(changes.values(), key=lambda c: c.path)


def _get(data: Mapping[str, Any], parts: list[Any]) -> Any:
    current: Any = data
    for part in parts:
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current
