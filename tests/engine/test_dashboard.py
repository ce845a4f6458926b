"""The dashboard's pages, built from a controller snapshot (no controller, no cloud): what they show and what
they never show (a script from a hostile value, a secret, a write button nobody switched on)."""

from __future__ import annotations

import html
import http.client
import re
from collections.abc import Iterator

import pytest

from reconciler.core.diff import SENSITIVE, FieldChange
from reconciler.core.plan import Action, Change, Kind, Plan, Step
from reconciler.engine.apply.hooks import ProgressEvent
from reconciler.engine.controller.dashboard import Dashboard
from reconciler.engine.controller.dashboard_model import Activity, DashboardSnapshot, history
from reconciler.engine.controller.endpoints import serve_endpoints

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PAGES = ("/", "/ui/plan", "/ui/history", "/ui/activity", "/ui/deployments/fraud-scorer")


def deployment(
    name: str = "fraud-scorer", sync: str = "OutOfSync", url: str | None = None
) -> dict[str, object]:
    return {
        "name": name,
        "sync": sync,
        "health": "Healthy",
        "lifecycle": "ACTIVE",
        "url": url or f"https://md.example/ocid1.{name}",
        "model": "ocid1.datasciencemodel.oc1.iad.aaaamodeltail",
        "model_name": "fraud-model",
        "drift": ["displayName"] if sync == "OutOfSync" else [],
        "last_change": "2026-11-26T10:00:00.123Z",
    }


def change(*fields: FieldChange, name: str = "fraud-scorer") -> Change:
    return Change(
        id="c1",
        kind=Kind.DEPLOYMENT,
        key=f"ModelDeployment/{name}",
        action=Action.UPDATE,
        name=name,
        live_id="ocid1.datasciencemodeldeployment.oc1.iad.aaaa",
        fields=list(fields),
        steps=[Step("UpdateModelDeployment", "update name (zero downtime)")],
        drift=True,
    )


def snapshot(**overrides: object) -> DashboardSnapshot:
    values: dict[str, object] = {
        "stack": "risk-prod",
        "target": "endpoint:http://127.0.0.1:1",
        "state": {"leader": True, "reconciles": 3, "deployments": [deployment()], "last_error": None},
        "plan": Plan("risk-prod", "us-ashburn-1", [change(FieldChange("displayName", "by hand", "Fraud"))]),
        "audit": [
            {
                "time": "2026-11-26T09:00:00Z",
                "key": "ModelDeployment/fraud-scorer",
                "operation": "CreateModelDeployment",
                "outcome": "accepted",
            },
            {
                "time": "2026-11-26T09:01:00Z",
                "key": "Model/fraud-scorer",
                "operation": "UpdateModel",
                "outcome": "accepted",
            },
            {
                "time": "2026-11-26T09:02:00Z",
                "key": "ModelDeployment/other",
                "operation": "CreateModelDeployment",
                "outcome": "error 409 Conflict",
            },
        ],
    }
    values.update(overrides)
    return DashboardSnapshot(**values)  # type: ignore[arg-type]


def page(snap: DashboardSnapshot, path: str) -> tuple[int, str]:
    status, body, kind = Dashboard(lambda: snap).answer(path)
    assert kind.startswith("text/html")
    return status, body.decode()


def text(markup: str) -> str:
    """Roughly what a person reads: the markup without tags."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def test_the_overview_shows_each_deployment_with_sync_health_drift_model_and_predict_url() -> None:
    status, html = page(snapshot(), "/")
    assert status == 200
    shown = text(html)
    assert "fraud-scorer OutOfSync Healthy ACTIVE fraud-model drift displayName" in shown
    assert '<a class="mono" href="https://md.example/ocid1.fraud-scorer/predict">' in html
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in shown


def test_the_plan_page_shows_the_field_level_diff_as_mdr_plan_does() -> None:
    _, html = page(snapshot(), "/ui/plan")
    shown = text(html)
    assert (
        "ModelDeployment fraud-scorer (ocid1.datasciencemodeldeployment.oc1.iad.aaaa) will be updated in place"
        in shown
    )
    assert '~ displayName "by hand" "Fraud"' in shown
    assert "step 1: UpdateModelDeployment - update name (zero downtime)" in shown


def test_history_is_newest_first_and_a_deployment_page_keeps_to_its_own_resources() -> None:
    snap = snapshot()
    assert [r["time"][-9:-1] for r in history(snap)] == ["09:02:00", "09:01:00", "09:00:00"]
    _, html = page(snap, "/ui/deployments/fraud-scorer")
    shown = text(html)
    assert "UpdateModel" in shown and "CreateModelDeployment" in shown
    assert "ModelDeployment/other" not in shown


def test_an_unknown_deployment_or_page_is_a_404_that_says_so() -> None:
    status, body = page(snapshot(), "/ui/deployments/nope")
    assert status == 404 and "The stack has no deployment named 'nope'." in text(body)
    assert page(snapshot(), "/ui/nothing-here")[0] == 404


@pytest.mark.parametrize("path", PAGES)
def test_hostile_text_from_manifests_or_the_cloud_is_shown_never_run(path: str) -> None:
    activity = Activity()
    activity.record(
        ProgressEvent(f"ModelDeployment {HOSTILE}", "failed", "update", elapsed=1.0, message=HOSTILE)
    )
    snap = snapshot(
        state={
            "leader": True,
            "reconciles": 1,
            "deployments": [deployment(url=f"javascript:{HOSTILE}")],
            "last_error": HOSTILE,
            "warnings": [HOSTILE],
            "invalid": [HOSTILE],
            "revision": HOSTILE,
        },
        plan=Plan("risk-prod", "r", [change(FieldChange("displayName", HOSTILE, "Fraud"))]),
        audit=[
            {"time": "t", "key": "ModelDeployment/fraud-scorer", "operation": HOSTILE, "outcome": HOSTILE}
        ],
        activity=activity.snapshot(),
    )
    _, html = page(snap, path)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html  # shown, as text
    assert 'href="javascript:' not in html


def test_secret_values_are_redacted_on_the_plan_page() -> None:
    secret = FieldChange("runtime.secretEnv.API_KEY", "old-s3cret", "new-s3cret", sensitive=True)
    _, html = page(snapshot(plan=Plan("risk-prod", "r", [change(secret)])), "/ui/plan")
    assert "s3cret" not in html
    assert SENSITIVE in html


@pytest.mark.parametrize(
    ("manual_sync", "auth", "pending", "shown"),
    [
        (False, False, "sha256:ab", False),
        (True, False, "sha256:ab", False),
        (False, True, "sha256:ab", False),
        (True, True, None, False),
        (True, True, "sha256:ab", True),
    ],
)
def test_a_sync_button_shows_only_with_manual_sync_authentication_and_a_pending_plan(
    manual_sync: bool, auth: bool, pending: str | None, shown: bool
) -> None:
    _, html = page(snapshot(manual_sync=manual_sync, auth_configured=auth, pending_plan=pending), "/")
    assert ("<button" in html) is shown
    if shown:  # a plain form (no script): it names exactly the plan shown, and asks for the token
        assert 'name="plan" value="sha256:ab"' in html
        assert 'type="password" name="token"' in html
        assert "<script" not in html


def test_work_request_progress_follows_the_apply_and_logs_like_before() -> None:
    lines: list[str] = []
    activity = Activity(log=lines.append)
    label = "ModelDeployment fraud-scorer"
    activity.record(ProgressEvent(label, "start", "create"))
    activity.record(ProgressEvent(label, "step", operation="CreateModelDeployment"))
    activity.record(
        ProgressEvent(label, "wait", operation="CreateModelDeployment", status="IN_PROGRESS", percent=40)
    )
    activity.record(
        ProgressEvent(label, "wait", operation="CreateModelDeployment", status="IN_PROGRESS", percent=60)
    )
    (running,) = activity.snapshot()
    assert (running.step, running.status, running.percent, running.outcome) == (
        "CreateModelDeployment",
        "IN_PROGRESS",
        60,
        "running",
    )
    activity.record(ProgressEvent(label, "done", "create", elapsed=2.5))
    (done,) = activity.snapshot()
    assert (done.status, done.percent, done.outcome, done.elapsed) == ("SUCCEEDED", 100, "done", 2.5)
    # the log keeps its plain lines, one for a run of polls (not one per poll)
    assert lines == [
        "ModelDeployment fraud-scorer: CreateModelDeployment IN_PROGRESS 40%",
        "ModelDeployment fraud-scorer: create complete after 2.5s",
    ]


@pytest.fixture
def port() -> Iterator[int]:
    state = {"leader": True, "reconciles": 1}
    server = serve_endpoints("127.0.0.1", 0, lambda: state, lambda: b"", Dashboard(snapshot))
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


def test_the_endpoint_server_serves_the_pages_with_a_policy_that_runs_no_script(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/")
    answer = connection.getresponse()
    body = answer.read().decode()
    assert answer.status == 200 and "fraud-scorer" in body
    assert "script-src" not in (answer.getheader("content-security-policy") or "x")
    assert (answer.getheader("content-security-policy") or "").startswith("default-src 'none'")
    connection.request("GET", "/status")  # the JSON endpoints are still there, on the same connection
    assert connection.getresponse().read().startswith(b"{")
    connection.request("POST", "/ui/sync", body=b"", headers={"content-length": "0"})
    assert connection.getresponse().status == 405  # read-only: there is nothing to post to
