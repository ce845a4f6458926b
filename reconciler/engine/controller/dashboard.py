"""The controller's web dashboard: HTML pages rendered from ``dashboard_model`` views with Jinja2.

Read-only: every page is a GET, works without JavaScript and refreshes itself with a ``<meta>`` tag.
Autoescaping is on for every template, so a display name, a field value or an error text from the
manifests or the cloud is shown as text and never runs; links are made only from ``http(s)`` URLs, and
the endpoint server sends a Content-Security-Policy that allows no script at all.

Pages: ``/`` (every deployment's sync, health, drift, model and predict URL), ``/ui/plan`` (the pending
plan's field-level diff), ``/ui/history`` (the audit log), ``/ui/activity`` (work-request progress) and
``/ui/deployments/NAME``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reconciler.core.render import summary_line
from reconciler.engine.controller.dashboard_model import (
    DashboardSnapshot,
    deployment_page,
    header,
    history,
    overview,
    plan_changes,
)

#: seconds between the pages' own refreshes (a <meta> refresh: no JavaScript needed)
REFRESH_SECONDS = 5
HTML = "text/html; charset=utf-8"
Answer = tuple[int, bytes, str]

_TONES = {
    "Synced": "good",
    "Healthy": "good",
    "accepted": "good",
    "done": "good",
    "OutOfSync": "warn",
    "Suspended": "warn",
    "Missing": "bad",
    "Degraded": "bad",
    "failed": "bad",
    "Progressing": "busy",
    "running": "busy",
}
_SIGNS = {"+": "sign-plus", "-": "sign-minus", "~": "sign-tilde"}


def _tone(value: Any) -> str:
    """A CSS class from a fixed set (never the value itself): an error outcome is "bad"."""
    text = str(value or "")
    return _TONES.get(text, "bad" if text.startswith("error") else "")


def _link(url: Any) -> Markup:
    """An ``http(s)`` URL as a link; anything else (``javascript:``...) as plain, escaped text."""
    text = str(url)
    if text.startswith(("http://", "https://")):
        return Markup('<a class="mono" href="{0}">{0}</a>').format(text)
    return Markup('<span class="mono">{0}</span>').format(text)


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.engine.controller", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tone"] = _tone
    env.filters["sign_class"] = lambda sign: _SIGNS.get(str(sign), "")
    env.filters["link"] = _link
    return env


class Dashboard:
    """Answers the dashboard's paths from a fresh snapshot of the controller at each request."""

    def __init__(self, snapshot: Callable[[], DashboardSnapshot], refresh: int = REFRESH_SECONDS) -> None:
        self._snapshot = snapshot
        self._refresh = refresh
        self._env = environment()

    def handles(self, path: str) -> bool:
        return path in ("/", "/ui", "/ui/") or path.startswith("/ui/")

    def answer(self, path: str) -> Answer:
        snapshot = self._snapshot()
        if path in ("/", "/ui", "/ui/"):
            return self._page("overview.html", "/", snapshot, view=overview(snapshot))
        if path == "/ui/plan":
            summary = summary_line(snapshot.plan) if snapshot.plan is not None else "No plan yet."
            return self._page("plan.html", path, snapshot, changes=plan_changes(snapshot), summary=summary)
        if path == "/ui/history":
            return self._page("history.html", path, snapshot, records=history(snapshot))
        if path == "/ui/activity":
            return self._page("activity.html", path, snapshot, rows=snapshot.activity)
        if path.startswith("/ui/deployments/"):
            name = unquote(path[len("/ui/deployments/") :])
            view = deployment_page(snapshot, name)
            if view is not None:
                return self._page("deployment.html", "/", snapshot, view=view)
            return self._missing(snapshot, f"The stack has no deployment named {name!r}.")
        return self._missing(snapshot, f"There is no page at {path!r}.")

    def _missing(self, snapshot: DashboardSnapshot, message: str) -> Answer:
        _status, body, kind = self._page("not_found.html", "", snapshot, message=message)
        return 404, body, kind

    def _page(self, template: str, here: str, snapshot: DashboardSnapshot, **values: Any) -> Answer:
        html = self._env.get_template(template).render(
            h=header(snapshot), here=here, refresh=self._refresh, **values
        )
        return 200, html.encode("utf-8"), HTML
