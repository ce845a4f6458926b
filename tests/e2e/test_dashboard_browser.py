"""The controller's dashboard in a real headless Chromium, clicked through as a person would.

A controller runs as its own process against the emulator; Playwright drives the Debian ``chromium``
binary (never a downloaded browser). Screenshots of each page are saved under ``test-artifacts/screenshots``
(printed by the test; git-ignored). Skipped, with the reason, only when no chromium binary is found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.world import REPO, World, copy_example_stack, edit
from test_controller_e2e import ControllerProcess, eventually, fraud

CHROMIUM = next(
    (
        p
        for p in (os.environ.get("MDR_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium")
        if p and Path(p).exists()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install chromium; .ci/run installs it)"
)
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
#: a display name a hostile user might set by hand: shown as text, it must never run
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
SECRET = "s3cr3t-dashboard-value-7731"


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(autouse=True)
def screenshots(capsys: pytest.CaptureFixture[str]) -> Path:
    """Where this test's screenshots go, printed even when output is captured (as in CI)."""
    with capsys.disabled():
        return SCREENSHOTS


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def row(page: Any, name: str) -> Any:
    return page.locator(f'#deployments tr[data-name="{name}"]')


def reload_until(page: Any, check: Any, what: str) -> None:
    """The pages refresh themselves every few seconds; a test reloads instead of waiting for that."""

    def seen() -> bool:
        page.reload()
        return bool(check())

    eventually(seen, timeout=60, what=what)


def test_a_person_sees_sync_drift_diff_history_and_predict_url(world: World, browser: Any) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    edit(
        stack / "fraud-scorer.yaml",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {WEB_CONCURRENCY: "2"}\n    secretEnv: {API_KEY: {fromEnv: FRAUD_API_KEY}}',
    )
    controller = ControllerProcess(world, "manifests", "--interval", "1s", env={"FRAUD_API_KEY": SECRET})
    print(f"\nscreenshots: {SCREENSHOTS}")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    base = f"http://127.0.0.1:{controller.port}"
    seen_html: list[str] = []
    try:
        eventually(lambda: controller.get("/")[0] == 200, what="the dashboard answers")
        page.goto(base + "/")
        reload_until(
            page,
            lambda: row(page, "fraud-scorer").count() and "Synced" in row(page, "fraud-scorer").inner_text(),
            "both deployments synced",
        )
        for name in ("churn-api", "fraud-scorer"):
            text = row(page, name).inner_text()
            assert "Synced" in text and "Healthy" in text and "ACTIVE" in text, text
        assert "fraud-model" in row(page, "fraud-scorer").inner_text()  # the model's name, not an OCID tail
        assert page.get_by_role("button", name=re.compile("sync", re.I)).count() == 0, "read-only by default"
        seen_html.append(page.content())
        shoot(page, "1-deployments-synced")

        live = fraud(world)
        world.sdk().update_model_deployment(live.id, {"displayName": HOSTILE})  # a hand edit through the SDK
        reload_until(page, lambda: "OutOfSync" in row(page, "fraud-scorer").inner_text(), "drift shown")
        assert "displayName" in row(page, "fraud-scorer").inner_text()
        assert "Synced" in row(page, "churn-api").inner_text()
        seen_html.append(page.content())
        shoot(page, "2-deployments-drift")

        page.get_by_role("link", name="Pending plan").click()
        change = page.locator('section.change[data-key="ModelDeployment/fraud-scorer"]')
        assert "ModelDeployment fraud-scorer" in change.locator("h3").inner_text()
        assert "drift" in change.inner_text()
        diff_row = change.locator("table.diff tbody tr").filter(has_text="displayName")
        cells = diff_row.locator("td").all_inner_texts()
        assert cells == ["~", "displayName", json.dumps(HOSTILE), '"Fraud scorer"'], (
            cells
        )  # as text, as in mdr plan...
        assert page.evaluate("window.__pwned") is None  # ...and never run
        seen_html.append(page.content())
        shoot(page, "3-pending-plan-diff")

        page.get_by_role("link", name="History").click()
        history = page.locator("table.history tbody tr")
        created = history.filter(has_text="CreateModelDeployment").filter(
            has_text="ModelDeployment/fraud-scorer"
        )
        assert created.count() == 1 and "accepted" in created.inner_text()
        seen_html.append(page.content())
        shoot(page, "4-history")

        page.get_by_role("link", name="Work requests").click()
        activity = page.locator("table.activity tbody tr").filter(has_text="ModelDeployment fraud-scorer")
        assert "CreateModelDeployment" in activity.inner_text() and "100%" in activity.inner_text()
        seen_html.append(page.content())
        shoot(page, "5-work-requests")

        page.get_by_role("link", name="Deployments").click()
        page.get_by_role("link", name="fraud-scorer", exact=True).click()
        assert page.locator("h1").inner_text() == "fraud-scorer"
        predict = page.locator("#predict-url a")
        assert predict.inner_text() == f"{live.model_deployment_url}/predict"
        assert predict.get_attribute("href") == predict.inner_text()
        seen_html.append(page.content())
        shoot(page, "6-deployment-fraud-scorer")

        page.goto(base + "/ui/deployments/no-such-thing")
        assert "no deployment named 'no-such-thing'" in page.inner_text("main")
    finally:
        page.close()
        assert controller.stop() == 0
    assert all(SECRET not in html for html in seen_html), "a secret value reached a page"
    assert all("API_KEY" not in html or SECRET not in html for html in seen_html)


def test_the_pages_work_without_javascript_and_say_the_last_error(world: World, browser: Any) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    controller = ControllerProcess(world, "manifests", "--interval", "1h")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        eventually(lambda: controller.status().get("reconciles", 0) >= 1, what="initial sync")
        (stack / "mdr.yaml").write_text("stack: [not, a, name]\n")  # a broken stack config: a reconcile fails
        eventually(lambda: bool(controller.status().get("last_error")), what="the error is published")
        page.goto(f"http://127.0.0.1:{controller.port}/")
        error = page.locator("#last-error")
        assert error.is_visible() and "mdr.yaml" in error.inner_text()
        assert page.locator('meta[http-equiv="refresh"]').count() == 1  # it refreshes itself, no script
        page.get_by_role("link", name="History").click()  # plain links: navigation needs no script
        assert page.locator("h1").inner_text() == "History"
        shoot(page, "7-last-error-no-javascript")
    finally:
        context.close()
        assert controller.stop() == 0
