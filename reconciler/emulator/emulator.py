"""``Emulator``: the server with its services, each a backend (state, rules) behind its routes (HTTP)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from reconciler.emulator.core.http import Request, Response
from reconciler.emulator.core.server import DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_UPLOAD_BYTES, Server
from reconciler.emulator.datascience.backend import DataScienceBackend, DeploymentsBackend
from reconciler.emulator.datascience.capacity import CoreLimit
from reconciler.emulator.datascience.catalog import CatalogBackend, CatalogRoutes
from reconciler.emulator.datascience.compute_targets import ComputeTargetRoutes, ComputeTargetsBackend
from reconciler.emulator.datascience.model_groups import ModelGroupRoutes, ModelGroupsBackend
from reconciler.emulator.datascience.routes import DataScienceRoutes
from reconciler.emulator.datascience.serving import Serving
from reconciler.emulator.logging.backend import LoggingBackend
from reconciler.emulator.logging.routes import LoggingRoutes
from reconciler.emulator.notifications.backend import NotificationsBackend
from reconciler.emulator.notifications.routes import NotificationsRoutes
from reconciler.emulator.objectstorage.backend import NAMESPACE, ObjectStorageBackend
from reconciler.emulator.objectstorage.routes import ObjectStorageRoutes
from reconciler.emulator.search.backend import SearchBackend
from reconciler.emulator.search.routes import SearchRoutes
from reconciler.emulator.secrets.backend import SecretsBackend
from reconciler.emulator.secrets.routes import SecretsRoutes


class Emulator(Server):
    """A local OCI (Data Science, Logging, Object Storage, Resource Search, Vault secrets, Notifications) for the unmodified SDK and CLI.

    ``buckets`` exist from the start (as an administrator would have created them); other buckets come from
    CreateBucket, or, with ``auto_create_buckets``, from the first write into them (the embedded ``--local``
    emulator, where there is no tenancy to check a name against). Otherwise a write into a missing bucket is
    a 404 BucketNotFound, as on OCI.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        work_request_seconds: float = 0.2,
        verify_signatures: bool = True,
        region: str = "us-ashburn-1",
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
        buckets: Iterable[str] = (),
        auto_create_buckets: bool = False,
        cores_per_compartment: float = 0,
    ) -> None:
        self._buckets = tuple(buckets)
        self._cores_per_compartment = cores_per_compartment
        self._auto_create_buckets = auto_create_buckets
        super().__init__(
            state_dir,
            host,
            port,
            work_request_seconds,
            verify_signatures,
            region,
            max_upload_bytes,
            max_json_bytes,
        )

    def _add_services(self) -> None:
        self.objectstorage = ObjectStorageBackend(self.store, auto_create=self._auto_create_buckets)
        for bucket in self._buckets:
            self.objectstorage.ensure_bucket(bucket)
        self.logging = LoggingBackend(self.store, self.work_requests)
        self.datascience = DataScienceBackend(self.store, self.work_requests, self.objectstorage)
        self.deployments = DeploymentsBackend(self.store, self.work_requests, self.datascience)
        self.model_groups = ModelGroupsBackend(self.store, self.work_requests, self.datascience)
        self.deployments.deployable_group = self.model_groups.deployable
        self.compute_targets = ComputeTargetsBackend(self.store)
        self.deployments.deployable_compute_target = self.compute_targets.fits
        self.serving = Serving(self.deployments)
        self.serving.on_served = self._served
        self.search = SearchBackend(self.store)
        self.secrets = SecretsBackend(self.store)
        self.notifications = NotificationsBackend(self.store)
        self.notification_routes = NotificationsRoutes(self.notifications)
        DataScienceRoutes(self.datascience, self.deployments, self.work_requests).register(self.router)
        #: model deployment cores per compartment (0: no limit); ``emulator.capacity.cores_per_compartment``
        self.capacity = CoreLimit(self.store, self._cores_per_compartment)
        self.capacity.guard(self.router)
        LoggingRoutes(self.logging, self.work_requests).register(self.router)
        ObjectStorageRoutes(self.objectstorage).register(self.router)
        SearchRoutes(self.search).register(self.router)
        SecretsRoutes(self.secrets).register(self.router)
        self.notification_routes.register(self.router)
        CatalogRoutes(CatalogBackend(self.store)).register(self.router)
        ModelGroupRoutes(self.model_groups).register(self.router)
        ComputeTargetRoutes(self.compute_targets).register(self.router)
        self.serving.register(self.router)

    def _served(self, deployment_id: str, status: int, milliseconds: int) -> None:
        """A predict was answered: an entry in the deployment's access and predict logs, if it has them."""
        with self.store.lock:
            deployment = self.deployments.deployments.get(deployment_id) or {}
            self.logging.deployment_served(
                deployment.get("categoryLogDetails"), deployment_id, status, milliseconds
            )

    def _service_admin(self, request: Request) -> Response | None:
        with self.store.lock:
            return self.notification_routes.admin(request)

    @property
    def namespace(self) -> str:
        return NAMESPACE

    def _served_at(self, url: str) -> None:
        self.deployments.serve_at(url)
        self.notifications.serve_at(url)

    def _stopped(self) -> None:
        self.serving.stop()
