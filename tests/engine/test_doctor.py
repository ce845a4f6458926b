"""``run_checks`` against the emulator through the real SDK: each read a plan makes, allowed or refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.world import EXAMPLE_COMPARTMENT, World, copy_example_stack, edit

from reconciler.adapters.cloud import Provider
from reconciler.emulator.core.faults import FaultConfig
from reconciler.engine.doctor import Check, run_checks
from reconciler.engine.validate import validate_tree


@pytest.fixture
def provider(world: World) -> Iterator[Provider]:
    with Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True) as cloud:
        yield cloud


def checks_for(root: Path, provider: Provider) -> list[Check]:
    stack, issues = validate_tree(root)
    assert issues == []
    return list(run_checks(stack, provider))


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def test_a_healthy_target_passes_every_check(world: World, provider: Provider, tmp_path: Path) -> None:
    checks = checks_for(copy_example_stack(tmp_path / "m"), provider)
    assert failed(checks) == [], [c.line() for c in checks]
    operations = {c.what.split()[0] for c in checks}
    assert {"ListModelDeployments", "ListModels", "ListModelDeploymentShapes", "ListLogGroups"} <= operations
    assert {"GetProject", "SearchResources"} <= operations


def test_a_denied_list_fails_with_the_policy_statement_that_allows_it(
    world: World, provider: Provider, tmp_path: Path
) -> None:
    world.emulator.set_faults(FaultConfig(deny_operations={"ListModels"}))
    [failure] = failed(checks_for(copy_example_stack(tmp_path / "m"), provider))
    assert failure.what == f"ListModels in compartment {EXAMPLE_COMPARTMENT}"
    assert failure.detail == "404 NotAuthorizedOrNotFound"
    assert (
        failure.fix == f"Allow <subject> to read data-science-family in compartment id {EXAMPLE_COMPARTMENT}"
    )


def test_the_logs_of_an_existing_log_group_are_checked(
    world: World, provider: Provider, tmp_path: Path
) -> None:
    import oci

    details = oci.logging.models.CreateLogGroupDetails(
        compartment_id=EXAMPLE_COMPARTMENT, display_name="risk-logs"
    )
    world.logging_sdk().create_log_group(details)
    world.emulator.set_faults(FaultConfig(deny_operations={"ListLogs"}))
    checks = checks_for(copy_example_stack(tmp_path / "m"), provider)
    assert [c.what for c in failed(checks)] == ["ListLogs in log group risk-logs"], [c.line() for c in checks]
    assert "ListLogGroups named risk-logs" in {c.what.rsplit(" in compartment", 1)[0] for c in checks}


def test_a_missing_lock_bucket_is_reported_with_how_to_create_it(
    world: World, provider: Provider, tmp_path: Path
) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / "mdr.yaml", "maxDeletes: 3", "maxDeletes: 3\nlock: {bucket: no-such-bucket}")
    [failure] = failed(checks_for(root, provider))
    assert failure.what.startswith("lock bucket no-such-bucket")
    assert failure.detail == "404 BucketNotFound"
    assert "oci os bucket create --name no-such-bucket" in failure.fix
    assert "target.bucket.name = 'no-such-bucket'" in failure.fix


def test_an_existing_lock_bucket_passes(world: World, provider: Provider, tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / "mdr.yaml", "maxDeletes: 3", "maxDeletes: 3\nlock: {bucket: mdr-locks}")
    checks = checks_for(root, provider)
    assert failed(checks) == []
    assert any(c.what.startswith("lock bucket mdr-locks") for c in checks)


def test_doctor_makes_no_write(world: World, provider: Provider, tmp_path: Path) -> None:
    checks_for(copy_example_stack(tmp_path / "m"), provider)
    assert world.emulator.mutating_calls() == 0
