"""List pages read as plain JSON give exactly what the SDK's models flattened with ``to_dict`` gave, and more.

Against the emulator over HTTP with the real SDK: the old path (``list_call_get_all_results`` + ``wire_of``)
is the specification for every field the SDK knows; a field it does not know is kept, in snake_case.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from typing import Any

import oci
from hypothesis import given, settings
from hypothesis import strategies as st
from oci.data_science import models as dm
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

from reconciler.adapters.cloud import Target, open_provider
from reconciler.adapters.live_reader import deployment_pages, read_live, wire_of
from reconciler.adapters.wire_json import UNKNOWN_ENUM, converters
from reconciler.emulator.core.signing import TENANCY, USER, KeyPair

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaarawreader"
PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaarawreader"
MODEL = "ocid1.datasciencemodel.oc1.iad.aaaaaaaarawreader"
STATES = ["ACTIVE", "INACTIVE", "FAILED", "NEEDS_ATTENTION", "CREATING", "HIBERNATING"]


def deployment(index: int) -> dict[str, Any]:
    """A deployment as the service stores it, varied the ways that matter to the conversion."""
    return {
        "compartmentId": COMPARTMENT,
        "projectId": PROJECT,
        "displayName": f"md-{index}",
        "description": None if index % 3 else f"number {index}",
        "lifecycleState": STATES[index % len(STATES)],  # HIBERNATING: a state this SDK does not know
        "timeCreated": ["2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05.123Z", "2026-01-02T03:04:05Z"][
            index % 3
        ],
        "createdBy": "ocid1.user.oc1..aaaa",
        "modelDeploymentUrl": "https://md.example/{id}",
        "freeformTags": {"mdr-stack": "raw", "camelCaseTag": str(index), "_self": "kept as to_dict keeps it"},
        "definedTags": {"Operations": {"costCenter": index}},
        "categoryLogDetails": None
        if index % 2
        else {"access": {"logId": "ocid1.log.a", "logGroupId": "ocid1.loggroup.a"}, "predict": None},
        "modelDeploymentConfigurationDetails": {
            "deploymentType": "SINGLE_MODEL",
            "modelConfigurationDetails": {
                "modelId": MODEL,
                "instanceConfiguration": {
                    "instanceShapeName": "VM.Standard.E4.Flex",
                    # integers in float fields: the SDK makes them floats
                    "modelDeploymentInstanceShapeConfigDetails": {"ocpus": 1 + index % 4, "memoryInGBs": 16},
                },
                "scalingPolicy": {"policyType": "FIXED_SIZE", "instanceCount": 1 + index % 2},
                "bandwidthMbps": 10,
            },
            "environmentConfigurationDetails": {
                "environmentConfigurationType": "DEFAULT",
                "environmentVariables": {"camelVar": "x", "SNAKE_VAR": "y", "_self": "z"},
            },
        },
    }


def admin(world: World, path: str, body: dict[str, Any]) -> Any:
    """A call of the emulator's admin API, as the benchmark makes it."""
    request = urllib.request.Request(
        world.emulator.url + path, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def load(world: World, items: list[dict[str, Any]]) -> list[str]:
    return list(admin(world, "/_emulator/bulk", {"collection": "deployments", "items": items})["ids"])


def old_reader(world: World) -> list[dict[str, Any]]:
    listed = oci.pagination.list_call_get_all_results(world.sdk().list_model_deployments, COMPARTMENT)
    return [wire_of(item) for item in listed.data]


def new_reader(world: World) -> tuple[list[dict[str, Any]], dict[str, int]]:
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    with open_provider(target, "us-ashburn-1") as provider:
        items = [wire for page in deployment_pages(provider, COMPARTMENT) for wire in page]
        return items, provider.stats.snapshot()


def test_listed_deployments_equal_the_sdk_models_flattened_for_every_field(world: World) -> None:
    load(world, [deployment(i) for i in range(150)])

    new, calls = new_reader(world)

    by_id = sorted(new, key=lambda d: d["id"])
    assert by_id == sorted(old_reader(world), key=lambda d: d["id"])
    # 100 a page, read from both ends: the first page, then the next from each end and the one the
    # newest-first chain had asked for when they met
    assert calls["ListModelDeployments"] <= 4
    assert {d["lifecycle_state"] for d in new} >= {"ACTIVE", UNKNOWN_ENUM}  # as the SDK's enum setter does
    first = next(d for d in new if d["display_name"] == "md-0")
    config = first["model_deployment_configuration_details"]
    assert config["environment_configuration_details"]["environment_variables"] == {
        "camelVar": "x",
        "SNAKE_VAR": "y",
        "self": "z",
    }
    assert first["freeform_tags"]["camelCaseTag"] == "0"
    ocpus = config["model_configuration_details"]["instance_configuration"]
    assert ocpus["model_deployment_instance_shape_config_details"]["ocpus"] == 1.0


def test_a_field_the_sdk_does_not_know_is_kept_in_snake_case_and_the_rest_is_unchanged(world: World) -> None:
    (deployment_id,) = load(world, [deployment(0)])
    before = old_reader(world)
    config = deployment(0)["modelDeploymentConfigurationDetails"]
    config["modelConfigurationDetails"]["maxConcurrentRequests"] = 64
    admin(
        world,
        "/_emulator/patch",
        {
            "collection": "deployments",
            "id": deployment_id,
            "fields": {
                "futureField": {"innerKey": 1, "deepList": [{"camelKey": "v"}]},
                "modelDeploymentConfigurationDetails": config,
            },
        },
    )

    (item,), _ = new_reader(world)

    assert item.pop("future_field") == {"inner_key": 1, "deep_list": [{"camel_key": "v"}]}
    inner = item["model_deployment_configuration_details"]["model_configuration_details"]
    assert inner.pop("max_concurrent_requests") == 64
    assert item == before[0]  # everything else exactly as the SDK's models gave it
    assert old_reader(world) == before  # and the SDK itself still drops both


def test_read_live_finds_the_stacks_deployments_among_others(world: World) -> None:
    mine = deployment(0) | {"freeformTags": {"mdr-stack": "raw", "mdr-key": "ModelDeployment/md-0"}}
    load(world, [mine, deployment(1)])
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    with open_provider(target, "us-ashburn-1") as provider:
        state = read_live(provider, "raw", {COMPARTMENT}, set())
    assert [d.key for d in state.deployments] == ["ModelDeployment/md-0"]
    assert state.api_calls["ListModelDeployments"] == 1


timestamps = st.builds(
    lambda moment, shape: moment.strftime(shape),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)),
    # the service's own format, and others the SDK also reads (without fraction, with an offset)
    st.sampled_from(["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f+00:00"]),
)
summaries = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=8),
        "displayName": st.one_of(st.none(), st.text(max_size=8)),
        "lifecycleState": st.sampled_from([*STATES, "DELETED", ""]),
        "timeCreated": timestamps,
        "freeformTags": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
        "definedTags": st.dictionaries(
            st.text(max_size=4), st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=3))
        ),
        "modelDeploymentConfigurationDetails": st.fixed_dictionaries(
            {"deploymentType": st.sampled_from(["SINGLE_MODEL", "MULTI_MODEL", "SOMETHING_NEW"])},
            optional={
                "modelConfigurationDetails": st.fixed_dictionaries(
                    {},
                    optional={
                        "modelId": st.text(max_size=5),
                        "bandwidthMbps": st.integers(0, 10**6),
                        "instanceConfiguration": st.fixed_dictionaries(
                            {},
                            optional={
                                "modelDeploymentInstanceShapeConfigDetails": st.fixed_dictionaries(
                                    {},
                                    optional={
                                        "ocpus": st.integers(0, 64) | st.floats(0, 64),
                                        "memoryInGBs": st.integers(0, 1024),
                                    },
                                )
                            },
                        ),
                    },
                )
            },
        ),
    },
)


def _offline_client() -> Any:
    """A Data Science client that never sends anything: only its type mappings and deserializer are used."""
    global _CLIENT
    if _CLIENT is None:
        keys = KeyPair.load_or_create(None)
        config = {
            "user": USER,
            "tenancy": TENANCY,
            "fingerprint": keys.fingerprint,
            "key_content": keys.private_pem.decode(),
            "region": "us-ashburn-1",
        }
        _CLIENT = oci.data_science.DataScienceClient(config)
    return _CLIENT


_CLIENT: Any = None


@settings(max_examples=150, deadline=None)
@given(items=st.lists(summaries, max_size=4))
def test_converting_a_page_equals_the_sdks_deserialize_then_to_dict(items: list[dict[str, Any]]) -> None:
    client = _offline_client()
    page = json.dumps(items).encode()
    expected = oci.util.to_dict(
        client.base_client.deserialize_response_data(page, "list[ModelDeploymentSummary]")
    )
    converted = converters(client).for_type("list[ModelDeploymentSummary]")(json.loads(page))
    # every field the SDK knows, equal and of the same type; a field it drops (a discriminator's subtype
    # that does not have it) is there as well, which is the point
    assert holds(converted, expected)


def holds(actual: Any, expected: Any) -> bool:
    """``actual`` has everything ``expected`` has (recursively, types included); it may have more keys."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and holds(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(holds, actual, expected))
    return type(actual) is type(expected) and actual == expected


def test_fields_the_sdk_does_not_know_never_show_as_changes_in_a_plan(world: World) -> None:
    sdk = world.sdk()
    model = sdk.create_model(
        dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT)
    ).data.id
    sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    stack = world.workdir / "stack"
    stack.mkdir()
    (stack / "mdr.yaml").write_text(
        "stack: unknown-fields\nregion: us-ashburn-1\n"
        f"defaults: {{compartmentId: {EXAMPLE_COMPARTMENT}, projectId: {EXAMPLE_PROJECT}}}\n"
    )
    (stack / "one.yaml").write_text(
        "apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {name: one}\n"
        f"spec:\n  model: {{id: {model}}}\n"
        "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n  runtime: {type: conda}\n"
    )
    assert world.mdr("apply", str(stack), "--auto-approve").returncode == 0
    (live,) = world.deployments(EXAMPLE_COMPARTMENT)
    stored = world.emulator.store.data["deployments"][live.id]
    config = json.loads(json.dumps(stored["modelDeploymentConfigurationDetails"]))
    config["modelConfigurationDetails"]["maxConcurrentRequests"] = 64
    admin(
        world,
        "/_emulator/patch",
        {
            "collection": "deployments",
            "id": live.id,
            "fields": {"futureField": {"innerKey": 1}, "modelDeploymentConfigurationDetails": config},
        },
    )

    planned = world.mdr("plan", str(stack), "--detailed-exitcode")

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes" in planned.stdout
