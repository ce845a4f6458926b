"""Data Science compute targets (``/computeTargets``): the managed compute clusters SINGLE_MODEL_FLEX
deployments run on.

Create, Get and List, as the SDK's ``create_compute_target`` / ``get_compute_target`` /
``list_compute_targets`` call them. A target is ACTIVE as soon as it is created (the emulator provisions no
nodes, so there is nothing to wait for; the real service goes through CREATING). A FLEX deployment may only
name an ACTIVE target of the same tenancy, and each replica's requested OCPUs and memory must fit on one
node of it (``fits``).
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.core.errors import invalid, missing, require
from reconciler.emulator.core.http import Request, Response, Router, filtered, sorted_page, with_etag
from reconciler.emulator.core.signing import USER
from reconciler.emulator.core.store import Store, new_etag, now_rfc3339
from reconciler.emulator.datascience.rules import SHAPES

DS = "/20190101"
COLLECTION = "compute_targets"
TARGET_FILTERS = ("id", "displayName", "lifecycleState")
#: fields a compute target summary (ListComputeTargets) leaves out
SUMMARY_DROPS = (
    "description",
    "metadata",
    "computeConfigurationDetails",
    "computeTargetSystemData",
    "lifecycleDetails",
)


def _node_size(target: dict[str, Any]) -> tuple[float, float]:
    """(OCPUs, memory GB) of one node of a target's cluster."""
    instance = target["computeConfigurationDetails"]["instanceConfiguration"]
    details = instance.get("instanceShapeDetails") or {}
    shape = SHAPES.get(str(instance.get("instanceShape")))
    ocpus = details.get("ocpus") or (shape.core_count if shape else 0)
    memory = details.get("memoryInGBs") or (shape.memory_in_gbs if shape else 0)
    return float(ocpus), float(memory)


class ComputeTargetsBackend:
    """Compute targets, and the checks a FLEX deployment's ``computeTargetId`` and requests pass."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        return self.store.data[COLLECTION]

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId")
        config = body.get("computeConfigurationDetails")
        if not isinstance(config, dict):
            raise missing("computeConfigurationDetails")
        if config.get("computeType") != "MANAGED_COMPUTE_CLUSTER":
            raise invalid(f"computeType {config.get('computeType')!r} is not MANAGED_COMPUTE_CLUSTER")
        instance = config.get("instanceConfiguration")
        if not isinstance(instance, dict) or not instance.get("instanceShape"):
            raise missing("computeConfigurationDetails.instanceConfiguration.instanceShape")
        if instance["instanceShape"] not in SHAPES:
            raise invalid(f"instanceShape {instance['instanceShape']!r} is not a supported shape")
        target_id = self.store.new_id("datasciencecomputetarget")
        target = {
            "id": target_id,
            "timeCreated": now_rfc3339(),
            "createdBy": USER,
            "compartmentId": body["compartmentId"],
            "displayName": body.get("displayName") or f"computetarget{target_id[-8:]}",
            "description": body.get("description"),
            "metadata": body.get("metadata") or {},
            "computeConfigurationDetails": config,
            "computeTargetSystemData": {"computeType": "MANAGED_COMPUTE_CLUSTER"},
            "lifecycleState": "ACTIVE",
            "lifecycleDetails": "Active",
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "_etag": new_etag(),
        }
        self.targets[target_id] = target
        return target

    def get(self, target_id: str) -> dict[str, Any]:
        return self.store.find(COLLECTION, target_id, "compute target")

    def fits(self, infrastructure: dict[str, Any]) -> None:
        """Refuse a FLEX deployment whose compute target is unknown, not ACTIVE, or too small for a replica."""
        target_id = str(infrastructure.get("computeTargetId"))
        target = self.targets.get(target_id)
        if target is None:
            raise invalid(f"compute target {target_id} does not exist (or is not authorized)")
        if target["lifecycleState"] != "ACTIVE":
            raise invalid(f"compute target {target_id} is {target['lifecycleState']}; it must be ACTIVE")
        resources = infrastructure.get("modelDeploymentResourceConfiguration") or {}
        requests = resources.get("resourceRequestConfiguration") or {}
        node_ocpus, node_memory = _node_size(target)
        for name, node in (("ocpus", node_ocpus), ("memoryInGBs", node_memory)):
            wanted = requests.get(name)
            if node and isinstance(wanted, int | float) and wanted > node:
                raise invalid(
                    f"resourceRequestConfiguration.{name} {wanted:g} does not fit on a node of compute "
                    f"target {target_id} ({node:g})"
                )


class ComputeTargetRoutes:
    def __init__(self, backend: ComputeTargetsBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        add("POST", f"{DS}/computeTargets", "CreateComputeTarget", self.create, mutating=True)
        add("GET", f"{DS}/computeTargets", "ListComputeTargets", self.list)
        add("GET", f"{DS}/computeTargets/{{id}}", "GetComputeTarget", self.get)

    def create(self, request: Request) -> Response:
        return with_etag(self.backend.create(request.json_object()))

    def get(self, request: Request) -> Response:
        return with_etag(self.backend.get(request.params["id"]))

    def list(self, request: Request) -> Response:
        items = self.backend.store.in_compartment(COLLECTION, request.compartment())
        response = sorted_page(filtered(items, request, TARGET_FILTERS), request)
        response.body = [{k: v for k, v in item.items() if k not in SUMMARY_DROPS} for item in response.body]
        return response
