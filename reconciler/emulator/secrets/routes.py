"""Vault secrets over HTTP: management (/20180608: CreateSecret, GetSecret, UpdateSecret,
ScheduleSecretDeletion) and retrieval (/20190301: GetSecretBundle)."""

from __future__ import annotations

from reconciler.emulator.core.http import Request, Response, Router, with_etag
from reconciler.emulator.secrets.backend import SecretsBackend

VAULT = "/20180608"
SECRETS = "/20190301"


class SecretsRoutes:
    def __init__(self, backend: SecretsBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        add("POST", f"{VAULT}/secrets", "CreateSecret", self.create, mutating=True)
        add("GET", f"{VAULT}/secrets/{{id}}", "GetSecret", self.get)
        add("PUT", f"{VAULT}/secrets/{{id}}", "UpdateSecret", self.update, mutating=True)
        add(
            "POST",
            f"{VAULT}/secrets/{{id}}/actions/scheduleDeletion",
            "ScheduleSecretDeletion",
            self.schedule_deletion,
            mutating=True,
        )
        add("GET", f"{SECRETS}/secretbundles/{{id}}", "GetSecretBundle", self.bundle)

    def create(self, request: Request) -> Response:
        return with_etag(self.backend.create(request.json_object()))

    def get(self, request: Request) -> Response:
        return with_etag(self.backend.secret(request.params["id"]))

    def update(self, request: Request) -> Response:
        return with_etag(self.backend.update(request.params["id"], request.json_object()))

    def schedule_deletion(self, request: Request) -> Response:
        self.backend.schedule_deletion(request.params["id"])
        return Response(200, None)

    def bundle(self, request: Request) -> Response:
        query = request.query
        return Response(
            200, self.backend.bundle(request.params["id"], query.get("versionNumber"), query.get("stage"))
        )
