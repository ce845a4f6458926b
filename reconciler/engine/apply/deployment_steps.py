"""Model deployments: each planned step (create, update per option group, activate/deactivate, move,
delete, untag) is one write, a wait on its work request, and a wait until the deployment settles.

A create is preceded by a lookup by ownership tags, so a crash between "created" and "recorded" never
duplicates a deployment; a lookup that finds more than one owned candidate stops instead of guessing.

The record of what was last applied (the ``mdr-spec``, ``mdr-policy`` and ``mdr-secrets`` tags, which the
planner compares with the manifest to tell drift from a manifest change) is written only by the LAST write
of a change that can carry tags (the planner ends every change that needs it with such a step): when an
earlier step fails or the process is killed, the deployment still says the old manifest was the last one
applied, so the next plan shows the rest as a manifest change, not as drift. Earlier steps send no tags,
except that one sending new secret values first adds their names to ``mdr-secrets`` (never fewer names:
a secret value must never be shown as plain text).
"""

from __future__ import annotations

import os
import time
from typing import Any

import oci
from oci.data_science import models as ds

from reconciler.adapters.cloud_errors import NotFound
from reconciler.adapters.vault import VaultReader, VaultSecretError
from reconciler.adapters.wire import sections_for_paths
from reconciler.adapters.wire_groups import create_details, update_details
from reconciler.core.canonical import OWNERSHIP_PREFIX, TAG_KEY, TAG_SECRETS, TAG_SPEC, TAG_STACK
from reconciler.core.live import GONE_STATES
from reconciler.core.plan import Change
from reconciler.core.replace import REPLACES, TAG_REPLACES
from reconciler.engine.apply.calls import Calls, retry_token, sealed
from reconciler.engine.apply.options import ChangeFailed

SETTLED_STATES = frozenset({"ACTIVE", "INACTIVE", "FAILED", "NEEDS_ATTENTION", "DELETED"})


class DeploymentSteps:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.provider = calls.provider
        self.options = calls.options
        self.vault = VaultReader(calls.provider)

    def deployment(self, change: Change, desired: dict[str, Any]) -> str | None:
        current = change.live_id
        # create before delete (policy.replace): the old deployment, deleted once the new one is ACTIVE
        replaced: str | None = desired.get(REPLACES)
        carriers = [i for i, s in enumerate(change.steps) if s.op in TAG_CARRIERS]
        last_carrier = carriers[-1] if carriers else None
        for index, step in enumerate(change.steps):
            op = step.op
            final = index == last_carrier  # this write records the change as applied
            if op == "DeleteModelDeployment" and replaced is not None:
                self._delete(change, replaced)  # the new one (``current``) stays
            elif op == "DeleteModelDeployment":
                assert current is not None
                self._delete(change, current)
                current = None
            elif op == "CreateModelDeployment":
                current = self._create(change, desired, final, replaced)
            elif op == "UpdateModelDeployment":
                assert current is not None
                self._update(change, desired, current, list(step.paths), step.group, final)
            elif op in ("ActivateModelDeployment", "DeactivateModelDeployment"):
                assert current is not None
                self._toggle(change, current, op)
            elif op == "ChangeModelDeploymentCompartment":
                assert current is not None
                self._move(change, current, desired["compartmentId"])
            elif op == "UntagModelDeployment":
                assert current is not None
                self._untag(change, current)
            else:
                raise ChangeFailed(f"unknown step {op}")
        return current

    # -- what a write carries --

    def _tags(self, change: Change, desired: dict[str, Any], final: bool = True) -> dict[str, str]:
        """The freeform tags of a create or of a change's last update; a create that is not the change's
        last write leaves out ``mdr-spec`` (the change is not applied until its last step is)."""
        recorded = dict(desired.get("ownershipTags", {}))
        if not final:
            recorded.pop(TAG_SPEC, None)
        if desired.get(REPLACES):  # so that a crash before the old one is deleted is finished next time
            recorded[TAG_REPLACES] = desired[REPLACES]
        return {
            **desired.get("freeformTags", {}),
            **self.calls.ownership(change.key),
            **recorded,
        }

    def _secrets(self, change: Change, desired: dict[str, Any]) -> dict[str, str]:
        return secret_values(self.vault, desired)

    # -- reads and waits --

    def _find(
        self, compartment: str, key: str, display_name: str, replacing: str | None = None
    ) -> tuple[Any | None, list[str]]:
        """The owned deployment for ``key`` if one exists (never ``replacing``, the one a create-before-delete
        replaces), and the ids of earlier attempts that failed or were deleted (they make the next create's
        retry token new: the service would otherwise replay the failed attempt's response for 24 hours)."""
        items = self.provider.list_all(
            "ListModelDeployments",
            self.provider.data_science.list_model_deployments,
            compartment,
            display_name=display_name,
        )
        stack = self.calls.stack
        mine = [
            d
            for d in items
            if (d.freeform_tags or {}).get(TAG_STACK) == stack
            and (d.freeform_tags or {}).get(TAG_KEY) == key
            and d.id != replacing
        ]
        owned = [d for d in mine if d.lifecycle_state not in GONE_STATES]
        if len(owned) > 1:
            ids = ", ".join(d.id for d in owned)
            raise ChangeFailed(f"{key}: more than one owned deployment ({ids}); delete the extra one(s)")
        retired = sorted(d.id for d in mine if d.lifecycle_state in ("FAILED", *GONE_STATES))
        return (owned[0] if owned else None), retired

    def _gone(self, deployment_id: str) -> bool:
        """Deleted or being deleted (a create answered with such a deployment replayed an old create)."""
        try:
            return str(self._get(deployment_id).data.lifecycle_state) in GONE_STATES
        except NotFound:
            return True

    def _get(self, deployment_id: str) -> Any:
        return self.provider.call(
            "GetModelDeployment", self.provider.data_science.get_model_deployment, deployment_id
        )

    def _settle(self, change: Change, deployment_id: str, expected: str | None) -> str:
        """Wait until the deployment leaves transitional states; verify it reached ``expected``."""
        started = time.monotonic()
        deadline = started + self.options.timeout_seconds
        while True:
            data = self._get(deployment_id).data
            state = str(data.lifecycle_state)
            if state in SETTLED_STATES:
                break
            self.calls.check_abort(f"waiting for {deployment_id}")
            if time.monotonic() > deadline:
                raise ChangeFailed(f"{deployment_id} still {state} after {self.options.timeout_seconds:g}s")
            time.sleep(self.calls.poll_delay(started))
        if expected is not None and state != expected:
            detail = f": {data.lifecycle_details}" if getattr(data, "lifecycle_details", None) else ""
            raise ChangeFailed(f"{deployment_id} ended {state}, expected {expected}{detail}")
        return deployment_id

    def _wait(self, response: Any, change: Change, operation: str) -> str | None:
        """Wait on the write's work request, if it started one; its id either way."""
        work_request_id: str | None = response.headers.get("opc-work-request-id")
        if work_request_id:
            self.calls.wait_work_request(self.provider.data_science, work_request_id, change, operation)
        return work_request_id

    # -- the steps --

    def _create(self, change: Change, desired: dict[str, Any], final: bool, replacing: str | None) -> str:
        client = self.provider.data_science
        compartment, name = desired["compartmentId"], desired["displayName"]
        existing, retired = self._find(compartment, change.key, name, replacing)
        if existing is not None and existing.lifecycle_state == "FAILED" and replacing is not None:
            # a replacement an earlier run created that FAILED: it serves nothing, and left in place it would
            # be a second owned copy beside the one created now
            self.options.progress(f"{change.key}: deleting {existing.id}, a replacement that FAILED")
            self._delete(change, existing.id)
            existing, retired = self._find(compartment, change.key, name, replacing)
        if existing is not None and existing.lifecycle_state != "FAILED":
            self.options.progress(f"{change.key}: found {existing.id} from an earlier run; resuming")
            pending = self.calls.pending.get((change.id, "CreateModelDeployment"))
            work_request_id = pending.work_request_id if pending else None
            if pending and work_request_id and pending.resource_id == existing.id:
                self.calls.wait_work_request(client, work_request_id, change, "CreateModelDeployment")
            self._settle(change, existing.id, "ACTIVE")
            if pending:
                self.calls.record(change, "CreateModelDeployment", existing.id, work_request_id, "done")
            return existing.id
        tags = self._tags(change, desired, final)
        secrets = self._secrets(change, desired)
        details = create_details(desired, secrets, tags)
        body = self._token_body(change, details, secrets)
        started: dict[str, str | None] = {}

        def create(attempts: list[str]) -> str:
            token = retry_token(self.calls.stack, change.key, "CreateModelDeployment", body, attempts)
            response = self.calls.write(
                change,
                "CreateModelDeployment",
                client.create_model_deployment,
                details,
                opc_retry_token=token,
            )
            deployment_id = str(response.data.id)
            work_request_id = response.headers.get("opc-work-request-id")
            started[deployment_id] = work_request_id
            self.calls.record(change, "CreateModelDeployment", deployment_id, work_request_id, "started")
            return deployment_id

        deployment_id = self.calls.create_fresh(change, "model deployment", retired, create, self._gone)
        work_request_id = started.get(deployment_id)
        if work_request_id:
            self.calls.wait_work_request(client, work_request_id, change, "CreateModelDeployment")
        self._settle(change, deployment_id, "ACTIVE")
        self.calls.record(change, "CreateModelDeployment", deployment_id, work_request_id, "done")
        return deployment_id

    def _token_body(self, change: Change, details: Any, secrets: dict[str, str]) -> dict[str, Any]:
        """The create body as its retry token covers it: all of it, secret values ``sealed``."""
        body: dict[str, Any] = oci.util.to_dict(details)
        config = body.get("model_deployment_configuration_details") or {}
        environment = config.get("environment_configuration_details") or {}
        variables = environment.get("environment_variables") or {}
        for name, value in secrets.items():
            if variables.get(name) == value:
                variables[name] = sealed(self.calls.stack, change.key, name, value)
        return body

    def _update(
        self,
        change: Change,
        desired: dict[str, Any],
        deployment_id: str,
        paths: list[str],
        group: str | None,
        final: bool,
    ) -> None:
        client = self.provider.data_science
        self._settle(change, deployment_id, None)
        response = self._get(deployment_id)
        current = response.data
        single = getattr(current.model_deployment_configuration_details, "model_configuration_details", None)
        live_model = single.model_id if single is not None else None  # None: a MODEL_GROUP deployment
        sections = sections_for_paths(paths)
        secrets = self._secrets(change, desired) if "environment" in sections else {}
        tags: dict[str, str] | None = None
        if "ownershipTags" in desired:  # a rollback carries no ownership tags to set
            if final:
                tags = self._tags(change, desired)
            elif secrets:
                tags = _with_secret_names(current.freeform_tags or {}, secrets)
        elif desired.get("recordTags"):  # an auto-rollback records the revision it undid (engine.health)
            tags = {**(current.freeform_tags or {}), **desired["recordTags"]}
        # defined tags change only with the record (the last write), merged into the live ones (see wire)
        live_defined = (current.defined_tags or {}) if final and tags is not None else None
        details = update_details(desired, sections, live_model, secrets, tags, live_defined)
        operation = "UpdateModelDeployment"
        response = self.calls.write(
            change,
            operation,
            client.update_model_deployment,
            deployment_id,
            details,
            if_match=response.headers.get("etag"),
        )
        work_request_id = response.headers.get("opc-work-request-id")
        self.calls.record(change, f"{operation}:{group}", deployment_id, work_request_id, "started")
        self._wait(response, change, f"{operation} ({group})")
        self._settle(change, deployment_id, _expected_state(current))
        self.calls.record(change, f"{operation}:{group}", deployment_id, work_request_id, "done")

    def _toggle(self, change: Change, deployment_id: str, operation: str) -> None:
        client = self.provider.data_science
        activate = operation == "ActivateModelDeployment"
        self._settle(change, deployment_id, None)
        read = self._get(deployment_id)
        if str(read.data.lifecycle_state) == ("ACTIVE" if activate else "INACTIVE"):
            return  # already there (e.g. a re-run after a crash)
        fn = client.activate_model_deployment if activate else client.deactivate_model_deployment
        # if-match: the toggle applies to the deployment as just read (as every update does), never to one
        # someone changed since
        response = self.calls.write(change, operation, fn, deployment_id, if_match=read.headers.get("etag"))
        self._wait(response, change, operation)
        self._settle(change, deployment_id, "ACTIVE" if activate else "INACTIVE")

    def _move(self, change: Change, deployment_id: str, compartment: str) -> None:
        client = self.provider.data_science
        details = ds.ChangeModelDeploymentCompartmentDetails(compartment_id=compartment)
        response = self.calls.write(
            change,
            "ChangeModelDeploymentCompartment",
            client.change_model_deployment_compartment,
            deployment_id,
            details,
        )
        self._wait(response, change, "ChangeModelDeploymentCompartment")
        self._settle(change, deployment_id, None)

    def _delete(self, change: Change, deployment_id: str) -> None:
        client = self.provider.data_science
        self.calls.hooks.reached("before:DeleteModelDeployment")
        try:
            response = self.calls.write(
                change, "DeleteModelDeployment", client.delete_model_deployment, deployment_id
            )
        except NotFound:
            return
        work_request_id = response.headers.get("opc-work-request-id")
        self.calls.record(change, "DeleteModelDeployment", deployment_id, work_request_id, "started")
        self._wait(response, change, "DeleteModelDeployment")
        self.calls.record(change, "DeleteModelDeployment", deployment_id, work_request_id, "done")

    def _untag(self, change: Change, deployment_id: str) -> None:
        """Orphan: remove mdr's tags but ``mdr-secrets``, so that whoever reads the deployment next (``mdr
        import``, another stack adopting it) still knows which values are secrets and never writes them."""
        client = self.provider.data_science
        self._settle(change, deployment_id, None)
        current = self._get(deployment_id).data
        tags = {
            k: v
            for k, v in (current.freeform_tags or {}).items()
            if not k.startswith(OWNERSHIP_PREFIX) or (k == TAG_SECRETS and v)
        }
        details = ds.UpdateModelDeploymentDetails(freeform_tags=tags)
        response = self.calls.write(
            change, "UpdateModelDeployment", client.update_model_deployment, deployment_id, details
        )
        self._wait(response, change, "UpdateModelDeployment (untag)")


#: the writes that can carry the freeform tags recording a change as applied
TAG_CARRIERS = frozenset({"CreateModelDeployment", "UpdateModelDeployment"})


def _with_secret_names(live_tags: dict[str, str], secrets: dict[str, str]) -> dict[str, str] | None:
    """The live tags with these secrets' names added to ``mdr-secrets``, or None when it lists them already
    (the update then sends no tags and leaves the rest of the record as it was)."""
    names = {n for n in live_tags.get(TAG_SECRETS, "").split(",") if n}
    if set(secrets) <= names:
        return None
    return {**live_tags, TAG_SECRETS: ",".join(sorted(names | set(secrets)))}


def _expected_state(current: Any) -> str:
    """An update leaves a deployment as it found it: ACTIVE or INACTIVE (anything else should end ACTIVE)."""
    return str(current.lifecycle_state) if current.lifecycle_state in ("ACTIVE", "INACTIVE") else "ACTIVE"


def secret_values(vault: VaultReader, desired: dict[str, Any]) -> dict[str, str]:
    """Secret values, read now: from OCI Vault (``fromVault``) or this process's environment."""
    values = {}
    for name, source in (desired["runtime"].get("secretEnv") or {}).items():
        if source.get("fromVault"):
            try:
                values[name] = vault.read(name, source["fromVault"])
            except VaultSecretError as exc:
                raise ChangeFailed(str(exc)) from None
            continue
        variable = source["fromEnv"]
        value = os.environ.get(variable)
        if value is None:
            raise ChangeFailed(f"secret {name} needs the environment variable {variable}, which is not set")
        values[name] = value
    return values
