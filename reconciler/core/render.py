"""Plan output for people (text, like Terraform's), for machines (JSON) and for pull requests (Markdown).

Secrets are redacted by ``FieldChange.redacted`` before anything here sees a value; ``ref:`` placeholders
print as "(known after apply)".
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from reconciler.core.canonical import is_ref
from reconciler.core.diff import FieldChange
from reconciler.core.plan import Action, Change, Plan

SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.ORPHAN: "!",
    Action.NOOP: " ",
}
VERBS = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be deleted",
    Action.ORPHAN: "will be orphaned (untagged, left running)",
    Action.NOOP: "is up to date",
}
COLOURS = {
    Action.CREATE: "32",
    Action.UPDATE: "33",
    Action.REPLACE: "35",
    Action.DELETE: "31",
    Action.ORPHAN: "36",
    Action.NOOP: "0",
}
KNOWN_AFTER_APPLY = "(known after apply)"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal and never when NO_COLOR is set (https://no-color.org)."""
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _value(value: Any) -> str:
    if is_ref(value):
        return KNOWN_AFTER_APPLY
    if isinstance(value, dict | list):
        return json.dumps(_unref(value), sort_keys=True)
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unref(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unref(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unref(v) for v in value]
    return KNOWN_AFTER_APPLY if is_ref(value) else value


def field_row(change: FieldChange) -> tuple[str, str, str, str]:
    """(sign, path, before, after) as the text plan shows them, secrets redacted: for tabular views
    (the controller's dashboard) that must show exactly what ``mdr plan`` shows."""
    shown = change.redacted()
    sign = "+" if shown.before is None else ("-" if shown.after is None else "~")
    before = "" if shown.before is None else _value(shown.before)
    after = "" if shown.after is None else _value(shown.after)
    return sign, shown.path, before, after


def change_title(change: Change) -> tuple[str, str]:
    """(symbol, title) of a change as the text plan heads it, e.g. ("+", "Model churn-model will be created")."""
    return SYMBOLS[change.action], _title(change)


def _field_line(change: FieldChange) -> str:
    shown = change.redacted()
    if shown.before is None:
        return f"+ {shown.path} = {_value(shown.after)}"
    if shown.after is None:
        return f"- {shown.path} = {_value(shown.before)}"
    return f"~ {shown.path}: {_value(shown.before)} -> {_value(shown.after)}"


def _title(change: Change) -> str:
    where = f" ({change.live_id})" if change.live_id else ""
    return f"{change.kind.value} {change.name}{where} {VERBS[change.action]}"


def render_text(plan: Plan, colour: bool = False, verbose: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if colour and code != "0" else text

    lines = [f"# {note}" for note in ignored_notes(plan)]
    if lines:
        lines.append("")
    for change in plan.actionable:
        symbol = SYMBOLS[change.action]
        lines.append(paint(f"{symbol} {_title(change)}", COLOURS[change.action]))
        if change.reason:
            lines.append(f"    # {change.reason}")
        if change.degraded:
            lines.append(f"    # degraded: live state {change.live_state}")
        if change.drift:
            lines.append("    # drift: changed outside mdr (the manifest is unchanged since the last apply)")
        if change.blocked:
            lines.append(paint(f"    # blocked: {change.blocked}", "31"))
        for field_change in change.fields:
            lines.append(f"    {_field_line(field_change)}")
        for index, step in enumerate(change.steps, 1):
            lines.append(f"    step {index}: {step.op} - {step.description}")
        lines.append("")
    for warning in plan.warnings:
        lines.append(paint(f"warning: {warning}", "33"))
    for change in plan.blocked:
        if change.action == Action.NOOP:
            lines.append(paint(f"! {change.key} is blocked: {change.blocked}", "31"))
    for error in plan.errors:
        lines.append(paint(f"error: {error}", "31"))
    lines.append(summary_line(plan))
    if verbose and plan.api_calls:
        calls = ", ".join(f"{op}={n}" for op, n in sorted(plan.api_calls.items()))
        lines.append(f"API calls: {sum(plan.api_calls.values())} ({calls})")
    return "\n".join(lines) + "\n"


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    if plan.errors:
        return f"Plan refused: {len(plan.errors)} error(s); nothing will be applied until they are fixed."
    blocked = len(plan.blocked)
    held = f" {blocked} change(s) blocked by a guard (see above); the rest applies." if blocked else ""
    if not plan.actionable or all(c.blocked for c in plan.actionable):
        if plan.settling:
            waiting = ", ".join(sorted(plan.settling.values()))
            return f"Nothing to send, but not there yet: {waiting}; apply waits for it.{held}"
        if blocked:
            return f"Nothing to apply.{held}"
        return f"No changes. Stack {plan.stack} matches the manifests ({counts['noop']} up to date)."
    parts = [
        f"{counts['create']} to create",
        f"{counts['update']} to update",
        f"{counts['replace']} to replace",
        f"{counts['delete']} to delete",
    ]
    if counts["orphan"]:
        parts.append(f"{counts['orphan']} to orphan")
    return f"Plan: {', '.join(parts)}.{held}"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False) + "\n"


def ignored_notes(plan: Plan) -> list[str]:
    """One line per difference ``policy.ignore`` keeps mdr from applying: silence would mislead."""
    return [
        f"ignored by policy.ignore (not applied): {change.kind.value} {change.name}: {_field_line(f)[2:]}"
        for change in plan.changes
        for f in change.ignored
    ]


def render_markdown(plan: Plan) -> str:
    """A pull-request comment: a summary line, then one collapsible section per change."""
    icon = ":warning:" if plan.errors else (":memo:" if plan.has_changes else ":white_check_mark:")
    lines = [
        f"### {icon} mdr plan for stack `{plan.stack}` ({plan.region})",
        "",
        f"**{summary_line(plan)}**",
        "",
    ]
    for error in plan.errors:
        lines.append(f"> :x: **error:** {error}")
    for change in plan.blocked:
        lines.append(f"> :no_entry: **blocked:** `{change.key}`: {change.blocked}")
    for warning in plan.warnings:
        lines.append(f"> :warning: {warning}")
    notes = ignored_notes(plan)
    lines.extend(f"> :information_source: {note}" for note in notes)
    if plan.errors or plan.warnings or notes or plan.blocked:
        lines.append("")
    for change in plan.actionable:
        lines.append("<details>")
        lines.append(f"<summary><code>{SYMBOLS[change.action]}</code> {_title(change)}</summary>")
        lines.append("")
        if change.reason:
            lines.append(f"_{change.reason}_")
            lines.append("")
        if change.fields:
            lines.append("```diff")
            lines.extend(_field_line(f) for f in change.fields)
            lines.append("```")
        if change.steps:
            lines.append("")
            lines.extend(f"{i}. `{s.op}`: {s.description}" for i, s in enumerate(change.steps, 1))
        lines.append("")
        lines.append("</details>")
        lines.append("")
    return "\n".join(lines)


def render(plan: Plan, output: str, stream: TextIO | None = None, verbose: bool = False) -> str:
    stream = stream or sys.stdout
    if output == "json":
        return render_json(plan)
    if output == "markdown":
        return render_markdown(plan)
    return render_text(plan, colour=use_colour(stream), verbose=verbose)
