"""``mdr import --from-terraform``: deployments Terraform made (here: made through the SDK and written to a state
file as terraform-provider-oci stores them) are adopted, and then the plan is empty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as dm
from support import by_hand
from support.world import World

#: attributes the provider keeps as maps (everything else that is an object is a block: a list of one)
MAPS = frozenset({"freeform_tags", "defined_tags", "environment_variables"})
#: blocks that repeat: a list of objects already
REPEATED = frozenset({"auto_scaling_policies", "rules"})


def _as_terraform(value: Any, key: str = "") -> Any:
    """A record read through the SDK in the shape terraform-provider-oci stores it in a state file."""
    if key == "defined_tags":
        return {f"{ns}.{name}": v for ns, tags in (value or {}).items() for name, v in tags.items()}
    if key in MAPS:
        return value or {}
    if isinstance(value, dict):
        block = {k: _as_terraform(v, k) for k, v in value.items()}
        return block if key in ("", *REPEATED) else [block]
    if isinstance(value, list) and key in REPEATED:
        return [_as_terraform(item, key) for item in value]
    if value is None:
        return "" if key.endswith(("_id", "name", "image", "digest", "baseline", "duration")) else None
    return value


def _state_file(world: World, ids: dict[str, str]) -> Path:
    resources = []
    for name, deployment_id in ids.items():
        wire = oci.util.to_dict(world.sdk().get_model_deployment(deployment_id).data)
        attributes = _as_terraform(wire)
        attributes["state"] = attributes.pop("lifecycle_state")
        attributes["timeouts"] = None
        resources.append(
            {
                "mode": "managed",
                "type": "oci_datascience_model_deployment",
                "name": name,
                "provider": 'provider["registry.terraform.io/oracle/oci"]',
                "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}],
            }
        )
    state = {"version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": "x", "resources": resources}
    path = world.workdir / "terraform.tfstate"
    path.write_text(json.dumps(state, indent=2, default=str))
    return path


def _create(world: World) -> dict[str, str]:
    model = by_hand.model(world)
    group, log = by_hand.predict_log(world, "tf-logs")
    autoscaled = by_hand.autoscaled(
        model,
        ocpus=1,
        memory_in_gbs=16,
        metric="MEMORY_UTILIZATION",
        counts=(1, 4, 2),
        scale_in=by_hand.threshold(25, pending_duration="PT5M", instance_count_adjustment=1),
        scale_out=by_hand.threshold(70, pending_duration="PT3M", instance_count_adjustment=1),
        environment={"WEB_CONCURRENCY": "2"},
    )
    logs = dm.CategoryLogDetails(predict=dm.LogDetails(log_group_id=group, log_id=log))
    ids = {
        "fraud": by_hand.deploy(world, "fraud", autoscaled, category_log_details=logs),
        "churn": by_hand.deploy(
            world, "churn", by_hand.container(model), freeform_tags={"team": "churn"}, description="Churn API"
        ),
    }
    by_hand.wait_all_active(world)
    return ids


def test_import_from_a_terraform_state_adopts_and_then_plans_nothing(world: World) -> None:
    ids = _create(world)
    state = _state_file(world, ids)
    done = world.mdr(
        "import",
        "--from-terraform",
        str(state),
        "--out",
        "from-tf",
        "--stack",
        "from-tf",
        *world.target_args(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = world.workdir / "from-tf"
    assert sorted(p.name for p in out.iterdir()) == ["churn.yaml", "fraud.yaml", "mdr.yaml"]
    assert "us-ashburn-1" in (out / "mdr.yaml").read_text()  # the region, from the deployments' OCIDs
    plan = world.mdr("plan", "from-tf", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "0 to create, 2 to update, 0 to replace, 0 to delete" in plan.stdout
    assert plan.stdout.count("adopt ocid1.datasciencemodeldeployment") == 2
    applied = world.mdr("apply", "from-tf", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after = world.mdr("plan", "from-tf", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    live = {d.id: d for d in world.deployments()}
    assert set(live) == set(ids.values())  # adopted, never re-created
    assert all(d.freeform_tags["mdr-stack"] == "from-tf" for d in live.values())


def test_a_file_that_is_not_a_terraform_state_is_a_one_line_error(world: World) -> None:
    (world.workdir / "broken.tfstate").write_text('{"version": 4,\n  "resources": [}\n')
    result = world.mdr("import", "--from-terraform", "broken.tfstate", "--out", "x")
    assert result.returncode == 1
    assert "broken.tfstate:2:" in result.stderr and "Traceback" not in result.stderr
    assert not (world.workdir / "x").exists()
