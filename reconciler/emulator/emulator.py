"""``Emulator``: the server with its three services, each a backend (state, rules) behind its routes (HTTP)."""

from __future__ import annotations

from reconciler.emulator.core.http import Request, Response
from reconciler.emulator.core.server import Server
from reconciler.emulator.datascience.backend import DataScienceBackend, DeploymentsBackend
from reconciler.emulator.datascience.routes import DataScienceRoutes
from reconciler.emulator.datascience.serving import Serving
from reconciler.emulator.logging.backend import LoggingBackend
from reconciler.emulator.logging.routes import LoggingRoutes
from reconciler.emulator.objectstorage.backend import NAMESPACE, ObjectStorageBackend
from reconciler.emulator.objectstorage.routes import ObjectStorageRoutes

PREDICT_PREFIX = "/modeldeployment/"


class Emulator(Server):
    """A local OCI (Data Science, Logging, Object Storage) that the unmodified ``oci`` SDK and CLI accept."""

    def _add_services(self) -> None:
        self.objectstorage = ObjectStorageBackend(self.store)
        self.logging = LoggingBackend(self.store, self.work_requests)
        self.datascience = DataScienceBackend(self.store, self.work_requests, self.objectstorage)
        self.deployments = DeploymentsBackend(self.store, self.work_requests, self.datascience)
        self.serving = Serving(self.deployments)
        DataScienceRoutes(self.datascience, self.deployments, self.work_requests).register(self.router)
        LoggingRoutes(self.logging, self.work_requests).register(self.router)
        ObjectStorageRoutes(self.objectstorage).register(self.router)

    @property
    def namespace(self) -> str:
        return NAMESPACE

    def _served_at(self, url: str) -> None:
        self.deployments.serve_at(url)

    def _unrouted(self, request: Request) -> Response | None:
        """``POST {modelDeploymentUrl}/predict``: unsigned and outside the routed API, as on OCI."""
        if not request.path.startswith(PREDICT_PREFIX):
            return None
        deployment_id = Serving.target(request)
        self.calls.count("Predict")
        return self.serving.predict(deployment_id, request)

    def _stopped(self) -> None:
        self.serving.stop()
