"""Models: found by ownership tags before any create, their artifact streamed (or staged and exported when
large), and only then marked usable by clearing the ``pending`` tag; their catalog details updated in place.

A create's retry token covers its whole body and the ids of earlier models with this artifact that are gone:
after ``keep`` or a prune deleted the model, the same artifact named again (a revert, a deployment added
back) is a new model, never the replay of the deleted one (``Calls.create_fresh``). Each model records the
details a list summary leaves out in its ``mdr-details`` tag (``desired.model_details_record``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as ds

from reconciler.adapters.artifact import package
from reconciler.adapters.artifact_schemas import artifact_schemas
from reconciler.adapters.cloud_errors import Conflict, NotFound, describe_cloud_error
from reconciler.adapters.wire import metadata_lists
from reconciler.adapters.zipstream import ZipStream, prepare
from reconciler.core.canonical import TAG_ARTIFACT, TAG_DETAILS, TAG_KEY, TAG_PENDING, TAG_STACK
from reconciler.core.desired import model_details_record
from reconciler.core.errors import ArtifactError
from reconciler.core.live import GONE_STATES
from reconciler.core.plan import Action, Change
from reconciler.core.weights import DESCRIPTION_FILE
from reconciler.engine.apply.calls import Calls, retry_token
from reconciler.engine.apply.options import ChangeFailed
from reconciler.engine.apply.weights_steps import by_reference, planned_description, with_description_flag


class ModelSteps:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.provider = calls.provider
        self.options = calls.options

    def model(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.data_science
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            self.calls.write(change, "DeleteModel", client.delete_model, change.live_id)
            return None
        if change.action == Action.UPDATE:
            assert change.live_id is not None
            self._update_details(change, desired, change.live_id)
            return change.live_id
        identity = desired["identity"]
        # weights by reference changed since the plan fail the change before any model is made
        description = planned_description(self.provider, desired) if by_reference(desired) else None
        model_id, retired = self._find_model(desired["compartmentId"], change.key, identity)
        if model_id is None:
            model_id = self._create(change, desired, retired)
        if not self._has_artifact(model_id):
            # provenance first: a model is never usable without it (a model uploaded by an earlier run keeps
            # that run's record)
            self._record_provenance(change, desired, model_id)
            self._upload(change, desired, model_id, description)
        self._clear_pending(change, model_id)
        return model_id

    def _create(self, change: Change, desired: dict[str, Any], retired: list[str]) -> str:
        client = self.provider.data_science
        identity = desired["identity"]
        defined, custom = metadata_lists(desired)
        custom = with_description_flag(desired, custom)
        schemas = self._schemas(desired)
        details = ds.CreateModelDetails(
            input_schema=schemas.get("inputSchema"),
            output_schema=schemas.get("outputSchema"),
            model_version_set_id=self._version_set(change, desired),
            version_label=desired.get("versionLabel"),
            compartment_id=desired["compartmentId"],
            project_id=desired["projectId"],
            display_name=desired["displayName"],
            description=desired.get("description"),
            defined_metadata_list=defined or None,
            custom_metadata_list=custom or None,
            freeform_tags=self.calls.ownership(
                change.key,
                {
                    TAG_ARTIFACT: identity,
                    TAG_PENDING: "artifact",
                    TAG_DETAILS: model_details_record(desired),
                },
            ),
        )

        def create(attempts: list[str]) -> str:
            token = retry_token(self.calls.stack, change.key, "CreateModel", details, attempts)
            response = self.calls.write(
                change, "CreateModel", client.create_model, details, opc_retry_token=token
            )
            return str(response.data.id)

        model_id = self.calls.create_fresh(change, "model", retired, create, self._gone)
        self.calls.record(change, "CreateModel", model_id, None, "done")
        return model_id

    def _version_set(self, change: Change, desired: dict[str, Any]) -> str | None:
        """The OCID of the version set the manifest names, created in the model's compartment and project
        when missing. Two models of one apply may race to create it: the loser finds the winner's."""
        name = desired.get("versionSet")
        if not name:
            return None
        client = self.provider.data_science
        compartment = desired["compartmentId"]
        for attempt in range(2):
            found = [
                s
                for s in self.provider.list_all(
                    "ListModelVersionSets", client.list_model_version_sets, compartment, name=name
                )
                if s.lifecycle_state == "ACTIVE"
            ]
            if found:
                return str(found[0].id)
            details = ds.CreateModelVersionSetDetails(
                compartment_id=compartment,
                project_id=desired["projectId"],
                name=name,
                description=f"models of {change.key.split('/', 1)[-1]} (created by mdr)",
            )
            try:
                response = self.calls.write(
                    change, "CreateModelVersionSet", client.create_model_version_set, details
                )
            except Conflict:
                if attempt:
                    raise
                continue  # created meanwhile (another deployment's model, another run): use that one
            return str(response.data.id)
        return None

    def _record_provenance(self, change: Change, desired: dict[str, Any], model_id: str) -> None:
        """CreateModelProvenance (when the plan found a git repository); a model resumed from an earlier run
        may have it already (409), which is that run's record of the same commit."""
        provenance = desired.get("provenance")
        if not provenance:
            return
        details = ds.CreateModelProvenanceDetails(
            repository_url=provenance.get("repositoryUrl"),
            git_branch=provenance.get("gitBranch"),
            git_commit=provenance.get("gitCommit"),
            script_dir=provenance.get("scriptDir"),
        )
        client = self.provider.data_science
        try:
            self.calls.write(
                change, "CreateModelProvenance", client.create_model_provenance, model_id, details
            )
        except Conflict:
            return

    @staticmethod
    def _schemas(desired: dict[str, Any]) -> dict[str, str]:
        """The artifact's input and output schemas (a local artifact's; an ``oci://`` one is not read)."""
        source = desired.get("artifactPath")
        if source is None:
            return {}
        try:
            return artifact_schemas(Path(source))
        except ArtifactError as exc:
            raise ChangeFailed(str(exc)) from None

    def _gone(self, model_id: str) -> bool:
        """Deleted or being deleted (a create answered with such a model replayed an old create)."""
        try:
            model = self.provider.call("GetModel", self.provider.data_science.get_model, model_id).data
        except NotFound:
            return True
        return str(model.lifecycle_state) in GONE_STATES

    def _update_details(self, change: Change, desired: dict[str, Any], model_id: str) -> None:
        """UpdateModel: the catalog details (name, description, metadata) and the record of them."""
        client = self.provider.data_science
        response = self.provider.call("GetModel", client.get_model, model_id)
        tags = {**(response.data.freeform_tags or {}), TAG_DETAILS: model_details_record(desired)}
        defined, custom = metadata_lists(desired)
        custom = with_description_flag(desired, custom)
        details = ds.UpdateModelDetails(
            display_name=desired["displayName"],
            description=desired.get("description") or "",
            defined_metadata_list=defined,
            custom_metadata_list=custom,
            freeform_tags=tags,
            model_version_set_id=self._version_set(change, desired),
            version_label=desired.get("versionLabel"),
        )
        self.calls.write(
            change,
            "UpdateModel",
            client.update_model,
            model_id,
            details,
            if_match=response.headers.get("etag"),
        )

    def _clear_pending(self, change: Change, model_id: str) -> None:
        """Mark the model usable: only now will plans (and deployments) pick it."""
        client = self.provider.data_science
        model = self.provider.call("GetModel", client.get_model, model_id).data
        tags = dict(model.freeform_tags or {})
        if TAG_PENDING in tags:
            del tags[TAG_PENDING]
            details = ds.UpdateModelDetails(freeform_tags=tags)
            self.calls.write(change, "UpdateModel", client.update_model, model_id, details)

    def _find_model(self, compartment: str, key: str, identity: str) -> tuple[str | None, list[str]]:
        """The owned ACTIVE model with this artifact (ready, or left pending by an earlier run: resumed), and
        the ids of earlier ones that are gone (retired into the next create's retry token)."""
        models = self.provider.list_all("ListModels", self.provider.data_science.list_models, compartment)
        stack = self.calls.stack
        mine = [
            m
            for m in models
            if (m.freeform_tags or {}).get(TAG_STACK) == stack
            and (m.freeform_tags or {}).get(TAG_KEY) == key
            and (m.freeform_tags or {}).get(TAG_ARTIFACT) == identity
        ]
        owned = [m for m in mine if m.lifecycle_state == "ACTIVE"]
        if len(owned) > 1:
            ids = ", ".join(m.id for m in owned)
            raise ChangeFailed(
                f"{key}: more than one owned model with artifact {identity[:19]} ({ids}); delete extras"
            )
        retired = sorted(m.id for m in mine if m.lifecycle_state in GONE_STATES)
        return (owned[0].id if owned else None), retired

    def _has_artifact(self, model_id: str) -> bool:
        try:
            self.provider.call("HeadModelArtifact", self.provider.data_science.head_model_artifact, model_id)
        except NotFound:
            return False
        return True

    def _upload(
        self, change: Change, desired: dict[str, Any], model_id: str, description: bytes | None = None
    ) -> None:
        source = desired.get("artifactPath")
        if description is not None:  # weights by reference: a small description, no byte of the weights
            self._send(change, model_id, description, len(description), DESCRIPTION_FILE)
            return
        if source is None:
            self._export_from_object_storage(change, desired["artifact"], model_id)
            return
        prepared = prepare(Path(source))
        if prepared.identity != desired["identity"]:
            raise ChangeFailed(
                f"artifact {source} changed since the plan ({prepared.identity[:19]} != "
                f"{desired['identity'][:19]}); plan again"
            )
        if prepared.size > self.options.large_artifact_bytes:
            with tempfile.TemporaryDirectory(prefix="mdr-artifact-") as tmp:
                result = package(Path(source), Path(tmp) / "artifact.zip")
                uri = self._stage_large_artifact(change, result.path, result.size_bytes)
            self._export_from_object_storage(change, uri, model_id)
            return
        # streamed: the zip is made while the request is sent, with no temporary file (see zipstream)
        self._send(change, model_id, self.calls.hooks.wrap_upload(ZipStream(prepared)), prepared.size)

    def _send(self, change: Change, model_id: str, body: Any, size: int, name: str = "artifact.zip") -> None:
        """CreateModelArtifact with ``body`` (``size`` bytes), downloaded later as ``name``."""
        client = self.provider.data_science
        try:
            self.calls.write(
                change,
                "CreateModelArtifact",
                client.create_model_artifact,
                model_id,
                body,
                content_length=size,
                content_disposition=f'attachment; filename="{name}"',
            )
        except Conflict as exc:
            # "already has an artifact" is an earlier, interrupted run's upload; any other 409 (the model is
            # no longer ACTIVE, say) is a failure, never taken for success
            if not self._usable(model_id):
                raise ChangeFailed(f"artifact upload into {model_id}: {describe_cloud_error(exc)}") from exc

    def _usable(self, model_id: str) -> bool:
        """ACTIVE and holding an artifact."""
        try:
            model = self.provider.call("GetModel", self.provider.data_science.get_model, model_id).data
        except NotFound:
            return False
        return str(model.lifecycle_state) == "ACTIVE" and self._has_artifact(model_id)

    def _stage_large_artifact(self, change: Change, path: Path, size: int) -> str:
        if self.options.artifact_bucket is None:
            raise ChangeFailed(
                f"artifact is {size} bytes, above the direct-upload threshold; set artifacts.bucket in mdr.yaml"
            )
        bucket, namespace, prefix = self.options.artifact_bucket
        namespace = namespace or self.provider.namespace()
        name = f"{prefix}artifacts/{change.id.replace('/', '_')}.zip"
        manager = oci.object_storage.UploadManager(self.provider.object_storage, allow_parallel_uploads=True)
        self.provider.stats.record("PutObject", ok=True)
        manager.upload_file(namespace, bucket, name, str(path))
        self.calls.audit.write(
            change.key, "PutObject", "accepted", resource_id=f"oci://{bucket}@{namespace}/{name}"
        )
        return f"oci://{bucket}@{namespace}/{name}"

    def _export_from_object_storage(self, change: Change, uri: str, model_id: str) -> None:
        rest = uri[len("oci://") :]
        bucket_ns, _, name = rest.partition("/")
        bucket, _, namespace = bucket_ns.partition("@")
        details = ds.ExportModelArtifactDetails(
            artifact_export_details=ds.ArtifactExportDetailsObjectStorage(
                namespace=namespace,
                source_bucket=bucket,
                source_object_name=name,
                source_region=self.provider.region,
            )
        )
        client = self.provider.data_science
        response = self.calls.write(
            change, "ExportModelArtifact", client.export_model_artifact, model_id, details
        )
        work_request_id = response.headers.get("opc-work-request-id")
        if work_request_id:
            self.calls.record(change, "ExportModelArtifact", model_id, work_request_id, "started")
            self.calls.wait_work_request(client, work_request_id, change, "ExportModelArtifact")
            self.calls.record(change, "ExportModelArtifact", model_id, work_request_id, "done")
