"""Model groups and MODEL_GROUP deployments in the emulator, through the real SDK: groups are immutable sets
of models kept in version histories, a deployment serves one, a predict call reaches the member it names
(inference key or model OCID) and runs that member's score.py, and an update moves it to another group
version (ZDT, or LIVE when only the group changes)."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, artifact_zip, wait_for
from oci.data_science import models as dm
from test_emulator_sdk import project


def member_score(name: str, factor: int) -> str:
    return (
        "def load_model():\n    return None\n\n\n"
        f"def predict(data, model=None):\n    return {{'member': {name!r}, 'y': data['x'] * {factor}}}\n"
    )


def packaged(ds: Any, project_id: str, name: str, factor: int) -> str:
    details = dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id, display_name=name)
    model_id = str(ds.create_model(details).data.id)
    artifact = artifact_zip(member_score(name, factor))
    ds.create_model_artifact(model_id, artifact, content_disposition='attachment; filename="m.zip"')
    return model_id


def group_details(project_id: str, members: dict[str, str], history: str | None = None, **kw: Any) -> Any:
    return dm.CreateModelGroupDetails(
        compartment_id=COMPARTMENT,
        project_id=project_id,
        display_name=kw.get("name", "pricing"),
        model_group_details=kw.get("details") or dm.HomogeneousModelGroupDetails(),
        member_model_entries=dm.MemberModelEntries(
            member_model_details=[
                dm.MemberModelDetails(inference_key=k, model_id=v) for k, v in members.items()
            ]
        ),
        model_group_version_history_id=history,
        version_label=kw.get("label"),
    )


def active_group(ds: Any, details: Any) -> str:
    created = ds.create_model_group(details)
    assert created.data.lifecycle_state == "CREATING"
    assert created.headers["opc-work-request-id"]
    wait_for(lambda: ds.get_model_group(created.data.id).data.lifecycle_state == "ACTIVE")
    return str(created.data.id)


def group_deployment(project_id: str, group_id: str) -> Any:
    infrastructure = dm.InstancePoolInfrastructureConfigurationDetails(
        instance_configuration=dm.InstanceConfiguration(
            instance_shape_name="VM.Standard.E4.Flex",
            model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                ocpus=1.0, memory_in_gbs=16.0
            ),
        ),
        scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
        bandwidth_mbps=10,
    )
    return dm.CreateModelDeploymentDetails(
        compartment_id=COMPARTMENT,
        project_id=project_id,
        display_name="pricing",
        model_deployment_configuration_details=dm.ModelGroupDeploymentConfigurationDetails(
            model_group_configuration_details=dm.ModelGroupConfigurationDetails(model_group_id=group_id),
            infrastructure_configuration_details=infrastructure,
        ),
    )


def predict(ds: Any, deployment_id: str, body: str, key: str | None = None) -> Any:
    from oci._vendor import requests

    url = ds.get_model_deployment(deployment_id).data.model_deployment_url + "/predict"
    headers = {"content-type": "application/json", **({"model-key": key} if key else {})}
    return requests.post(url, data=body, headers=headers, auth=ds.base_client.signer, timeout=30)


@pytest.fixture
def world(ds: Any) -> dict[str, Any]:
    project_id = project(ds)
    models = {"tax": packaged(ds, project_id, "tax", 2), "shipping": packaged(ds, project_id, "shipping", 3)}
    history = ds.create_model_group_version_history(
        dm.CreateModelGroupVersionHistoryDetails(
            compartment_id=COMPARTMENT, project_id=project_id, display_name="pricing-history"
        )
    ).data
    group_id = active_group(ds, group_details(project_id, models, history.id, label="v1"))
    return {"project": project_id, "models": models, "history": history.id, "group": group_id}


def test_a_group_is_created_listed_and_read_with_its_members(ds: Any, world: dict[str, Any]) -> None:
    group = ds.get_model_group(world["group"]).data
    assert group.model_group_details.type == "HOMOGENEOUS"
    assert {m.inference_key: m.model_id for m in group.member_model_entries.member_model_details} == world[
        "models"
    ]
    assert (group.model_group_version_history_id, group.version_id, group.version_label) == (
        world["history"],
        1,
        "v1",
    )
    [summary] = ds.list_model_groups(COMPARTMENT).data
    assert summary.id == world["group"]
    members = ds.list_model_group_models(world["group"], COMPARTMENT).data
    assert sorted(m.inference_key for m in members) == ["shipping", "tax"]
    history = ds.get_model_group_version_history(world["history"]).data
    assert history.latest_model_group_id == world["group"]


def test_members_are_immutable_and_a_clone_is_the_next_version(ds: Any, world: dict[str, Any]) -> None:
    from oci._vendor import requests

    renamed = ds.update_model_group(world["group"], dm.UpdateModelGroupDetails(display_name="renamed")).data
    assert renamed.display_name == "renamed"
    url = f"{ds.base_client.endpoint}/modelGroups/{world['group']}"
    body = {"memberModelEntries": {"memberModelDetails": [{"modelId": world["models"]["tax"]}]}}
    refused = requests.put(url, json=body, auth=ds.base_client.signer, timeout=30)
    assert refused.status_code == 400 and "immutable" in refused.json()["message"]
    extra = packaged(ds, world["project"], "duty", 5)
    clone = dm.CloneModelGroupDetails(
        compartment_id=COMPARTMENT,
        project_id=world["project"],
        model_group_clone_source_details=dm.CloneCreateFromModelGroupVersionHistoryDetails(
            source_id=world["history"],
            modify_model_group_details=dm.ModifyModelGroupDetails(version_label="v2"),
            patch_model_group_member_model_details=dm.PatchModelGroupMemberModelDetails(
                items=[
                    dm.PatchInsertNewMemberModels(
                        values=[dm.MemberModelDetails(inference_key="duty", model_id=extra)]
                    ),
                    dm.PatchRemoveMemberModels(
                        values=[dm.MemberModelDetails(model_id=world["models"]["tax"])]
                    ),
                ]
            ),
        ),
    )
    second = active_group(ds, clone)
    group = ds.get_model_group(second).data
    assert sorted(m.inference_key for m in group.member_model_entries.member_model_details) == [
        "duty",
        "shipping",
    ]
    assert (group.version_id, group.version_label, group.source_model_group_id) == (2, "v2", world["group"])
    assert ds.get_model_group_version_history(world["history"]).data.latest_model_group_id == second
    assert (
        ds.get_model_group(world["group"]).data.member_model_entries.member_model_details[0].model_id
        in world["models"].values()
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"members": {"a": "same", "b": "same"}}, "listed twice"),
        ({"keys": ["x", "X"]}, "used twice"),
        ({"missing": True}, "not found"),
    ],
    ids=["a model twice", "an inference key twice", "a model that does not exist"],
)
def test_a_group_the_service_would_refuse_is_refused(
    ds: Any, world: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    tax, shipping = world["models"]["tax"], world["models"]["shipping"]
    if "members" in change:
        members = {"a": tax, "b": tax}
    elif "keys" in change:
        members = {"x": tax, "X": shipping}
    else:
        members = {"x": "ocid1.datasciencemodel.oc1.iad.amaaaaaanothere"}
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.create_model_group(group_details(world["project"], members))
    assert refused.value.status in (400, 404)
    assert message in refused.value.message


def test_a_deployment_serves_each_member_by_inference_key_or_model_id(ds: Any, world: dict[str, Any]) -> None:
    created = ds.create_model_deployment(group_deployment(world["project"], world["group"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    read = ds.get_model_deployment(created.id).data.model_deployment_configuration_details
    assert read.deployment_type == "MODEL_GROUP"
    assert read.model_group_configuration_details.model_group_id == world["group"]
    assert predict(ds, created.id, '{"x": 5}', "tax").json() == {"member": "tax", "y": 10}
    assert predict(ds, created.id, '{"x": 5}', world["models"]["shipping"]).json() == {
        "member": "shipping",
        "y": 15,
    }
    assert predict(ds, created.id, '{"x": 1, "model": "shipping"}').json() == {"member": "shipping", "y": 3}
    unnamed = predict(ds, created.id, '{"x": 5}')
    assert unnamed.status_code == 400
    assert "model-key" in unnamed.json()["message"] and "shipping, tax" in unnamed.json()["message"]
    assert predict(ds, created.id, '{"x": 5}', "duty").status_code == 400


def test_the_group_and_its_models_cannot_be_deleted_under_a_deployment(
    ds: Any, world: dict[str, Any]
) -> None:
    created = ds.create_model_deployment(group_deployment(world["project"], world["group"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    with pytest.raises(oci.exceptions.ServiceError) as group_refused:
        ds.delete_model_group(world["group"])
    assert group_refused.value.status == 409
    with pytest.raises(oci.exceptions.ServiceError) as model_refused:
        ds.delete_model(world["models"]["tax"])
    assert model_refused.value.status == 409


def _update(
    ds: Any, deployment_id: str, group_id: str, update_type: str, bandwidth: int | None = None
) -> Any:
    infrastructure = (
        dm.UpdateInstancePoolInfrastructureConfigurationDetails(bandwidth_mbps=bandwidth)
        if bandwidth
        else None
    )
    return dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateModelGroupDeploymentConfigurationDetails(
            update_type=update_type,
            model_group_configuration_details=dm.UpdateModelGroupConfigurationDetails(
                model_group_id=group_id
            ),
            infrastructure_configuration_details=infrastructure,
        )
    )


def test_an_update_moves_the_deployment_to_a_new_group_version(ds: Any, world: dict[str, Any]) -> None:
    created = ds.create_model_deployment(group_deployment(world["project"], world["group"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    assert predict(ds, created.id, '{"x": 1}', "tax").json() == {"member": "tax", "y": 2}
    new_tax = packaged(ds, world["project"], "tax2", 7)
    members = {**world["models"], "tax": new_tax}
    second = active_group(ds, group_details(world["project"], members, world["history"], label="v2"))
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.update_model_deployment(created.id, _update(ds, created.id, second, "LIVE", bandwidth=20))
    assert refused.value.status == 400 and "LIVE" in refused.value.message
    accepted = ds.update_model_deployment(created.id, _update(ds, created.id, second, "LIVE"))
    assert accepted.headers["opc-work-request-id"]
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    assert predict(ds, created.id, '{"x": 1}', "tax").json() == {"member": "tax2", "y": 7}
    assert predict(ds, created.id, '{"x": 1}', "shipping").json() == {"member": "shipping", "y": 3}
    ds.delete_model_group(world["group"])  # no deployment serves the first version any more
    wait_for(lambda: ds.get_model_group(world["group"]).data.lifecycle_state == "DELETED")


def test_a_single_model_deployment_cannot_become_a_group_one(ds: Any, world: dict[str, Any]) -> None:
    from test_emulator_sdk import deployment_details

    created = ds.create_model_deployment(deployment_details(world["project"], world["models"]["tax"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.update_model_deployment(created.id, _update(ds, created.id, world["group"], "ZDT"))
    assert refused.value.status == 400 and "deploymentType" in refused.value.message


def test_a_stacked_group_answers_a_call_naming_no_member_with_its_base(
    ds: Any, world: dict[str, Any]
) -> None:
    """vLLM serves a stacked group's base as its served model and each fine-tuned weight by its key."""
    tax, shipping = world["models"]["tax"], world["models"]["shipping"]
    stacked = dm.StackedModelGroupDetails(base_model_id=shipping)
    group_id = active_group(
        ds, group_details(world["project"], {"tax": tax, "shipping": shipping}, details=stacked)
    )
    assert ds.get_model_group(group_id).data.model_group_details.base_model_id == shipping
    created = ds.create_model_deployment(group_deployment(world["project"], group_id)).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    assert predict(ds, created.id, '{"x": 2}').json() == {"member": "shipping", "y": 6}
    assert predict(ds, created.id, '{"x": 2, "model": "tax"}').json() == {"member": "tax", "y": 4}
