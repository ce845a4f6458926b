"""OCI Notifications over HTTP (/20181201): CreateTopic and GetTopic (control plane), PublishMessage (data
plane; both planes share one base path), and the admin read-back under ``/_emulator/notifications/``."""

from __future__ import annotations

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.http import Request, Response, Router, error_response, with_etag
from reconciler.emulator.notifications.backend import NotificationsBackend

ONS = "/20181201"
ADMIN = "/_emulator/notifications"


class NotificationsRoutes:
    def __init__(self, backend: NotificationsBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        router.add("POST", f"{ONS}/topics", "CreateTopic", self.create_topic, mutating=True)
        router.add("GET", f"{ONS}/topics/{{id}}", "GetTopic", self.get_topic)
        router.add("POST", f"{ONS}/topics/{{id}}/messages", "PublishMessage", self.publish, mutating=True)

    def create_topic(self, request: Request) -> Response:
        return with_etag(self.backend.create_topic(request.json_object()))

    def get_topic(self, request: Request) -> Response:
        return with_etag(self.backend.topic(request.params["id"]))

    def publish(self, request: Request) -> Response:
        message_type = request.headers.get("messagetype")
        return Response(200, self.backend.publish(request.params["id"], request.json_object(), message_type))

    def admin(self, request: Request) -> Response | None:
        """``GET /_emulator/notifications/messages`` (every topic) or ``.../topics/{id}/messages``; None
        for any other path. Called under the store's lock."""
        if request.method != "GET" or not request.path.startswith(f"{ADMIN}/"):
            return None
        rest = request.path[len(ADMIN) :].strip("/").split("/")
        try:
            if rest == ["messages"]:
                return Response(200, {"items": self.backend.messages()})
            if len(rest) == 3 and rest[0] == "topics" and rest[2] == "messages":
                return Response(200, {"items": self.backend.messages(rest[1])})
        except ApiError as exc:
            return error_response(exc)
        return None
