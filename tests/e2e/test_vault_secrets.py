"""``secretEnv: {NAME: {fromVault: <secret OCID>}}`` end to end: read through the Secrets API at plan and
apply, never shown anywhere, a rotation in the Vault is a wanted update, a secret that cannot be read is a
clear failure."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import oci
from support.world import EXAMPLE_COMPARTMENT, World, edit

CANARY = "vault-canary-3c1e9d7a"


def _vaults(world: World) -> Any:
    kwargs = {
        "service_endpoint": world.emulator.url,
        "retry_strategy": oci.retry.NoneRetryStrategy(),
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
    }
    return oci.vault.VaultsClient(world.emulator.oci_config(), **kwargs)


def _content(text: str) -> Any:
    encoded = base64.b64encode(text.encode()).decode()
    return oci.vault.models.Base64SecretContentDetails(content_type="BASE64", content=encoded)


def _secret(world: World, value: str) -> str:
    details = oci.vault.models.CreateSecretDetails(
        compartment_id=EXAMPLE_COMPARTMENT,
        vault_id="ocid1.vault.oc1.iad.aaaaaaaavault",
        key_id="ocid1.key.oc1.iad.aaaaaaaakey",
        secret_name="fraud-api-key",
        secret_content=_content(value),
    )
    return str(_vaults(world).create_secret(details).data.id)


def _use_vault(stack: Path, secret_id: str) -> None:
    (stack / "churn-container.yaml").unlink()
    edit(
        stack / "fraud-scorer.yaml",
        '    env: {WEB_CONCURRENCY: "2"}',
        f'    env: {{WEB_CONCURRENCY: "2"}}\n    secretEnv: {{API_KEY: {{fromVault: {secret_id}}}}}',
    )


def _live_value(world: World) -> str:
    [fraud] = world.deployments()
    config = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    return str(config.environment_configuration_details.environment_variables["API_KEY"])


def test_a_vault_secret_is_deployed_and_never_shown(world: World, stack: Path) -> None:
    _use_vault(stack, _secret(world, CANARY))
    outputs = [world.mdr("plan", "manifests", "--out", "plan.json")]
    outputs.append(world.mdr("plan", "manifests", "--output", "json"))
    outputs.append(world.mdr("apply", "plan.json"))
    assert outputs[-1].returncode == 0, outputs[-1].stdout + outputs[-1].stderr
    assert _live_value(world) == CANARY
    outputs.append(world.mdr("plan", "manifests", "--detailed-exitcode"))
    assert outputs[-1].returncode == 0, outputs[-1].stdout  # the value read at plan matches the live one
    outputs.append(world.mdr("status", "manifests"))
    for result in outputs:
        assert CANARY not in result.stdout and CANARY not in result.stderr
    for path in [world.workdir / "plan.json", *(world.workdir / ".mdr").rglob("*")]:
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path


def test_a_secret_rotated_in_the_vault_is_a_sensitive_update_that_apply_rolls_out(
    world: World, stack: Path
) -> None:
    secret_id = _secret(world, "first")
    _use_vault(stack, secret_id)
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    _vaults(world).update_secret(
        secret_id, oci.vault.models.UpdateSecretDetails(secret_content=_content(CANARY))
    )
    plan = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "runtime.secretEnv.API_KEY" in plan.stdout and "(sensitive)" in plan.stdout, plan.stdout
    assert "drift" not in plan.stdout and CANARY not in plan.stdout
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _live_value(world) == CANARY


def test_a_secret_that_cannot_be_read_is_a_warning_at_plan_and_a_clear_failure_at_apply(
    world: World, stack: Path
) -> None:
    missing = "ocid1.vaultsecret.oc1.iad.amaaaaaanosuchsecret"
    _use_vault(stack, missing)
    plan = world.mdr("plan", "manifests")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"warning: secret fraud-scorer.API_KEY: Vault secret {missing} does not exist" in plan.stdout
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 1
    assert f"Vault secret {missing}" in applied.stdout + applied.stderr
    assert "Traceback" not in applied.stderr
    assert world.deployments() == []
