"""OCI Notifications: topics and the messages published to them; state and rules, no HTTP.

A topic is ACTIVE at once (OCI passes through CREATING for a moment). Its name is unique in the tenancy
(409 on a second one, as OCI answers). Nothing subscribes: a published message is kept, newest last, so
that a test or a benchmark can read back what was sent (``GET /_emulator/notifications/...``); each topic
keeps its last ``KEEP_MESSAGES`` messages. OCI caps a message at 64 KB, and so does the emulator.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from reconciler.emulator.core.errors import ApiError, conflict, invalid, not_found, require
from reconciler.emulator.core.store import Store, new_etag, now_rfc3339

#: PublishMessage's limit on title and body together (OCI: "Message size limit per request: 64KB")
MAX_MESSAGE_BYTES = 64 * 1024
KEEP_MESSAGES = 1000
TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")


class NotificationsBackend:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.api_endpoint = ""

    def serve_at(self, url: str) -> None:
        """Topics name the endpoint their messages are published to (``apiEndpoint``)."""
        self.api_endpoint = url
        for topic in self.store.data["topics"].values():
            topic["apiEndpoint"] = url

    def create_topic(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "name", "compartmentId")
        name = body["name"]
        if not isinstance(name, str) or not TOPIC_NAME.fullmatch(name):
            raise invalid("name must be 1-256 letters, digits, hyphens or underscores")
        if any(t["name"] == name for t in self.store.data["topics"].values()):
            raise conflict(f"a topic named {name!r} already exists in this tenancy")
        topic_id = self.store.new_id("onstopic")
        topic = {
            "name": name,
            "topicId": topic_id,
            "shortTopicId": topic_id[-10:],
            "compartmentId": body["compartmentId"],
            "lifecycleState": "ACTIVE",
            "description": body.get("description"),
            "timeCreated": now_rfc3339(),
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "apiEndpoint": self.api_endpoint,
            "_etag": new_etag(),
        }
        topic["etag"] = topic["_etag"]
        self.store.data["topics"][topic_id] = topic
        return topic

    def topic(self, topic_id: str) -> dict[str, Any]:
        topic = self.store.data["topics"].get(topic_id)
        if topic is None:
            raise not_found(f"topic {topic_id}")
        return topic

    def publish(self, topic_id: str, body: dict[str, Any], message_type: str | None) -> dict[str, Any]:
        """``PublishResult`` of a message kept for reading back; 404 for an unknown topic, as OCI."""
        self.topic(topic_id)
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise ApiError(400, "MissingParameter", "body is required")
        title = body.get("title")
        if title is not None and not isinstance(title, str):
            raise invalid("title must be a string")
        if message_type not in (None, "JSON", "RAW_TEXT"):
            raise invalid("messageType must be JSON or RAW_TEXT")
        if len(text.encode()) + len((title or "").encode()) > MAX_MESSAGE_BYTES:
            raise invalid(f"the message is larger than {MAX_MESSAGE_BYTES} bytes")
        message = {
            "messageId": uuid.uuid4().hex,
            "topicId": topic_id,
            "title": title,
            "body": text,
            "messageType": message_type or "RAW_TEXT",
            "timeStamp": now_rfc3339(),
        }
        kept = self.store.data["topic_messages"].setdefault(topic_id, [])
        kept.append(message)
        del kept[:-KEEP_MESSAGES]
        return {"messageId": message["messageId"], "timeStamp": message["timeStamp"]}

    def messages(self, topic_id: str | None = None) -> list[dict[str, Any]]:
        """What was published, oldest first: to one topic, or to every topic."""
        kept: dict[str, list[dict[str, Any]]] = self.store.data["topic_messages"]
        if topic_id is not None:
            self.topic(topic_id)
            return list(kept.get(topic_id, []))
        return sorted((m for items in kept.values() for m in items), key=lambda m: m["timeStamp"])
