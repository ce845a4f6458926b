"""A service limit on model deployment cores per compartment, off until configured.

OCI limits the OCPUs model deployments may hold (per shape family and region); a create, an update that
grows a deployment, or an activation beyond the limit is refused with **400 LimitExceeded**, and nothing
changes. The emulator keeps one number per compartment (``cores_per_compartment``, 0 = no limit) so that a
team can see locally what mdr does when a tenancy runs out: the plan applies nothing further for that
deployment and says which limit, and a ``policy.replace: CreateBeforeDelete`` that cannot fit both copies
leaves the old deployment serving.

Counted: deployments that hold instances (ACTIVE, CREATING, UPDATING, NEEDS_ATTENTION; not INACTIVE, FAILED
or deleted), each as OCPUs per instance (a Flex shape's ``ocpus``, a fixed shape's cores) times its
instances (a fixed size, or an autoscaling policy's maximum: the service must be able to scale out).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.http import Handler, Request, Response, Route, Router
from reconciler.emulator.core.store import Store
from reconciler.emulator.datascience.rules import SHAPES

HOLDING = frozenset({"ACTIVE", "CREATING", "UPDATING", "NEEDS_ATTENTION"})
GUARDED = frozenset({"CreateModelDeployment", "UpdateModelDeployment", "ActivateModelDeployment"})


def cores_of(config: dict[str, Any] | None) -> float:
    """OCPUs a deployment configuration (camelCase, as stored) holds at most."""
    config = config or {}
    # a MODEL_GROUP deployment keeps its instances under infrastructureConfigurationDetails
    model = config.get("modelConfigurationDetails") or config.get("infrastructureConfigurationDetails") or {}
    instance = model.get("instanceConfiguration") or {}
    shape = SHAPES.get(str(instance.get("instanceShapeName")))
    flex = instance.get("modelDeploymentInstanceShapeConfigDetails") or {}
    per_instance = float(flex.get("ocpus") or (shape.core_count if shape and not shape.flex else 1))
    scaling = model.get("scalingPolicy") or {}
    if scaling.get("policyType") == "AUTOSCALING":
        policies = scaling.get("autoScalingPolicies") or [{}]
        count = max(int(p.get("maximumInstanceCount") or 1) for p in policies)
    else:
        count = int(scaling.get("instanceCount") or 1)
    return per_instance * count


def _merged(base: Any, change: Any) -> Any:
    """``base`` with what an update body sets (a null leaves the value as it is, as the service reads it)."""
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for key, value in change.items():
            if value is not None:
                out[key] = _merged(base.get(key), value)
        return out
    return change if change is not None else base


class CoreLimit:
    """The configured limit and the check each guarded call goes through (under the store's lock)."""

    def __init__(self, store: Store, cores_per_compartment: float = 0) -> None:
        self.store = store
        self.cores_per_compartment = cores_per_compartment
        self._lock = threading.Lock()
        self.refused = 0

    def guard(self, router: Router) -> None:
        """Put the check in front of the handlers of the calls that can grow a compartment's cores."""
        for index, route in enumerate(router.routes):
            if route.operation in GUARDED:
                router.routes[index] = _with_handler(route, self._guarded(route.operation, route.handler))

    def _guarded(self, operation: str, handler: Handler) -> Handler:
        def guarded(request: Request) -> Response:
            self.admit(operation, request)
            return handler(request)

        return guarded

    def admit(self, operation: str, request: Request) -> None:
        limit = self.cores_per_compartment
        if limit <= 0:
            return
        wanted = self._wanted(operation, request)
        if wanted is None:
            return  # the handler answers for an unknown deployment or a bad body
        compartment, need, own = wanted
        used = sum(
            cores_of(d.get("modelDeploymentConfigurationDetails"))
            for d in self.store.data["deployments"].values()
            if d.get("compartmentId") == compartment and d.get("lifecycleState") in HOLDING and d["id"] != own
        )
        if used + need > limit:
            with self._lock:
                self.refused += 1
            raise ApiError(
                400,
                "LimitExceeded",
                f"the model deployment needs {need:g} cores but compartment {compartment} already uses "
                f"{used:g} of its {limit:g} (service limit: model deployment cores); free some, or request a "
                "limit increase",
            )

    def _wanted(self, operation: str, request: Request) -> tuple[str, float, str | None] | None:
        """(compartment, cores the deployment would hold, its own id to leave out of the count)."""
        try:
            body = request.json() if request.body else {}
        except ApiError:
            return None
        if not isinstance(body, dict):
            return None
        if operation == "CreateModelDeployment":
            compartment = body.get("compartmentId")
            if not isinstance(compartment, str):
                return None
            return compartment, cores_of(body.get("modelDeploymentConfigurationDetails")), None
        deployment = self.store.data["deployments"].get(request.params.get("id", ""))
        if deployment is None:
            return None
        config = deployment.get("modelDeploymentConfigurationDetails")
        if operation == "UpdateModelDeployment":
            if deployment.get("lifecycleState") not in HOLDING:
                return None  # an INACTIVE deployment holds nothing until it is activated
            config = _merged(config, body.get("modelDeploymentConfigurationDetails"))
        elif deployment.get("lifecycleState") != "INACTIVE":
            return None  # activating an active deployment is the handler's 409
        return str(deployment["compartmentId"]), cores_of(config), str(deployment["id"])


def _with_handler(route: Route, handler: Handler) -> Route:
    return replace(route, handler=handler)
