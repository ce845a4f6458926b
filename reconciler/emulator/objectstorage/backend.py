"""Object Storage state and rules: objects keyed ``namespace/bucket/name``, conditional writes, multipart.

Buckets are implicit (any bucket name holds objects) and there is a single namespace, ``mdrlocal``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.emulator.core.errors import ApiError, invalid, not_found
from reconciler.emulator.core.store import Store, content_md5, new_etag, now_rfc3339

NAMESPACE = "mdrlocal"


def object_key(namespace: str, bucket: str, name: str) -> str:
    return f"{namespace}/{bucket}/{name}"


class ObjectStorageBackend:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def objects(self) -> dict[str, dict[str, Any]]:
        return self.store.data["objects"]

    @property
    def uploads(self) -> dict[str, dict[str, Any]]:
        return self.store.data["multipart"]

    @staticmethod
    def check_namespace(namespace: str) -> None:
        if namespace != NAMESPACE:
            raise not_found(f"namespace {namespace}")

    # -- objects --

    def write(self, key: str, content: bytes) -> dict[str, Any]:
        """Store ``content`` as the object ``key`` (also how Data Science imports an artifact)."""
        blob = "object-" + hashlib.sha256(key.encode()).hexdigest()
        self.store.put_blob(blob, content)
        record = {
            "blob": blob,
            "size": len(content),
            "etag": new_etag(),
            "md5": content_md5(content),
            "timeCreated": now_rfc3339(),
        }
        self.objects[key] = record
        return record

    def read(self, key: str) -> bytes | None:
        """The object's content, or None when there is no such object."""
        record = self.objects.get(key)
        return None if record is None else self.store.get_blob(record["blob"])

    def check_conditions(self, key: str, if_match: str | None, if_none_match: str | None) -> None:
        current = self.objects.get(key)
        if if_none_match == "*" and current is not None:
            raise ApiError(412, "IfNoneMatchFailed", "the object already exists")
        if if_match and (current is None or current["etag"] != if_match):
            raise ApiError(412, "IfMatchFailed", "the object's etag does not match if-match")

    def put(
        self,
        namespace: str,
        bucket: str,
        name: str,
        content: bytes,
        if_match: str | None,
        if_none_match: str | None,
    ) -> dict[str, Any]:
        self.check_namespace(namespace)
        key = object_key(namespace, bucket, name)
        self.check_conditions(key, if_match, if_none_match)
        return self.write(key, content)

    def get(self, namespace: str, bucket: str, name: str) -> tuple[str, dict[str, Any]]:
        self.check_namespace(namespace)
        key = object_key(namespace, bucket, name)
        record = self.objects.get(key)
        if record is None:
            raise ApiError(404, "ObjectNotFound", f"object {name} not found")
        return key, record

    def content(self, record: dict[str, Any]) -> bytes:
        return self.store.get_blob(record["blob"])

    def delete(self, namespace: str, bucket: str, name: str, if_match: str | None) -> None:
        key, record = self.get(namespace, bucket, name)
        if if_match and if_match != record["etag"]:
            raise ApiError(412, "IfMatchFailed", "the object's etag does not match if-match")
        self.store.delete_blob(record["blob"])
        del self.objects[key]

    def list_objects(self, namespace: str, bucket: str, prefix: str) -> list[dict[str, Any]]:
        self.check_namespace(namespace)
        folder = f"{namespace}/{bucket}/"
        names = sorted(k[len(folder) :] for k in self.objects if k.startswith(folder))
        return [
            {"name": n, "size": self.objects[folder + n]["size"], "etag": self.objects[folder + n]["etag"]}
            for n in names
            if n.startswith(prefix)
        ]

    # -- multipart uploads --

    def create_upload(self, key: str, if_match: str | None, if_none_match: str | None) -> str:
        upload_id = new_etag()
        self.check_conditions(key, if_match, if_none_match)
        self.uploads[upload_id] = {"key": key, "parts": {}, "time": now_rfc3339()}
        return upload_id

    def upload(self, upload_id: str) -> dict[str, Any]:
        upload = self.uploads.get(upload_id)
        if upload is None:
            raise ApiError(404, "NoSuchUpload", "the multipart upload does not exist")
        return upload

    def upload_part(self, upload_id: str, part_number: str, content: bytes) -> str:
        """Keep one part (``part_number`` as the query gave it); returns its etag."""
        upload = self.upload(upload_id)
        number = int(part_number)
        if not 1 <= number <= 10000:
            raise invalid("uploadPartNum must be between 1 and 10000")
        blob = f"part-{upload_id}-{number}"
        self.store.put_blob(blob, content)
        etag = new_etag()
        upload["parts"][str(number)] = {"blob": blob, "etag": etag}
        return etag

    def commit(self, upload_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """Join the listed parts (each with the etag it was uploaded with) into the object."""
        upload = self.upload(upload_id)
        content = b""
        for part in sorted(parts, key=lambda p: int(p["partNum"])):
            stored = upload["parts"].get(str(part["partNum"]))
            if stored is None or stored["etag"] != part.get("etag"):
                raise invalid(f"part {part['partNum']} was not uploaded or its etag differs")
            content += self.store.get_blob(stored["blob"])
        record = self.write(upload["key"], content)
        self._forget_upload(upload_id, upload)
        return record

    def abort(self, upload_id: str) -> None:
        self._forget_upload(upload_id, self.upload(upload_id))

    def _forget_upload(self, upload_id: str, upload: dict[str, Any]) -> None:
        for stored in upload["parts"].values():
            self.store.delete_blob(stored["blob"])
        del self.uploads[upload_id]
