"""``secretEnv`` sources: an environment variable (``fromEnv``) or an OCI Vault secret (``fromVault``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.planning import DEPLOYMENT, load, plan_for, write_stack

from reconciler.adapters.manifests import load_stack
from reconciler.core.live import LiveState
from reconciler.core.plan import Action, Kind

SECRET = "ocid1.vaultsecret.oc1.iad.amaaaaaaexample"
ENV_SOURCE = "secretEnv: {API_KEY: {fromEnv: TEST_API_KEY}}"


def _stack(tmp_path: Path, source: str) -> Path:
    text = DEPLOYMENT.format(name="fraud").replace(ENV_SOURCE, f"secretEnv: {{API_KEY: {source}}}")
    return write_stack(tmp_path / "stack", {"fraud.yaml": text})


@pytest.mark.parametrize(
    ("source", "path", "fragment"),
    [
        ("{}", "spec.runtime.secretEnv.API_KEY.fromEnv", "set fromEnv or fromVault"),
        (f"{{fromEnv: K, fromVault: {SECRET}}}", "spec.runtime.secretEnv.API_KEY.fromVault", "not both"),
        ("{fromVault: ocid1.key.oc1.iad.aaaa}", "spec.runtime.secretEnv.API_KEY.fromVault", "pattern"),
        ("{fromVault: s3cret-value}", "spec.runtime.secretEnv.API_KEY.fromVault", "pattern"),
    ],
)
def test_a_bad_secret_source_is_reported_at_its_field(
    tmp_path: Path, source: str, path: str, fragment: str
) -> None:
    stack = load_stack(_stack(tmp_path, source))
    matching = [i for i in stack.issues if i.path == path and fragment in i.message]
    assert matching, [str(i) for i in stack.issues]
    assert matching[0].line == 17  # the secretEnv line of DEPLOYMENT


def test_a_vault_source_reaches_apply_as_its_ocid_only(tmp_path: Path) -> None:
    stack = load(_stack(tmp_path, f"{{fromVault: {SECRET}}}"))
    plan = plan_for(stack, LiveState("risk-prod"))
    [change] = [c for c in plan.changes if c.kind == Kind.DEPLOYMENT]
    assert change.action == Action.CREATE
    assert change.desired["runtime"]["secretEnv"] == {"API_KEY": {"fromVault": SECRET}}
