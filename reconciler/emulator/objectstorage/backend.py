"""Object Storage state and rules: buckets, objects keyed ``namespace/bucket/name``, conditional writes, multipart.

There is a single namespace, ``mdrlocal``. Objects live only in buckets that exist, as on OCI: a write, read or
listing in a missing bucket is a 404 ``BucketNotFound``; a bucket is deleted only when it holds no object and
no multipart upload. Buckets come from CreateBucket, from the emulator's configuration (``buckets=`` /
``mdr emulator --bucket NAME``: what an administrator would have created before mdr runs), or, only when
``auto_create`` is on (the embedded ``--local`` emulator), from the first write into them, with a warning: the
local sandbox has no tenancy to check a bucket name against.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from reconciler.emulator.core.errors import ApiError, invalid, not_found, require
from reconciler.emulator.core.signing import TENANCY, USER
from reconciler.emulator.core.store import BlobInfo, Staged, Store, new_etag, now_rfc3339
from reconciler.emulator.objectstorage.versions import (
    UPDATE_VERSIONING_VALUES,
    VERSIONING_VALUES,
    Versions,
    new_version_id,
)

#: what an object is served as when its PUT named no Content-Type (as OCI does)
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: the ObjectSummary fields ListObjects' ``fields=`` may ask for, besides the name (always there)
LISTED_FIELDS = frozenset({"size", "etag", "md5", "timeCreated", "timeModified", "storageTier"})
NAMESPACE = "mdrlocal"
BUCKET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
BUCKET_FIELDS = ("metadata", "freeformTags", "definedTags")
log = logging.getLogger("mdr.emulator")


def object_key(namespace: str, bucket: str, name: str) -> str:
    return f"{namespace}/{bucket}/{name}"


def bucket_not_found(namespace: str, bucket: str) -> ApiError:
    return ApiError(
        404,
        "BucketNotFound",
        f"Either the bucket named '{bucket}' does not exist in the namespace '{namespace}' "
        "or you are not authorized to access it",
    )


class ObjectStorageBackend:
    def __init__(self, store: Store, auto_create: bool = False) -> None:
        self.store = store
        self.auto_create = auto_create
        self.versions = Versions(store)
        # a state folder written before buckets existed: the buckets its objects are in exist
        for key in list(self.objects) + [u["key"] for u in self.uploads.values()]:
            namespace, bucket, _ = key.split("/", 2)
            if (namespace, bucket) not in self._bucket_names():
                self._new_bucket(namespace, bucket, TENANCY, {})

    @property
    def objects(self) -> dict[str, dict[str, Any]]:
        return self.store.data["objects"]

    @property
    def uploads(self) -> dict[str, dict[str, Any]]:
        return self.store.data["multipart"]

    @property
    def buckets(self) -> dict[str, dict[str, Any]]:
        return self.store.data["buckets"]

    @staticmethod
    def check_namespace(namespace: str) -> None:
        if namespace != NAMESPACE:
            raise not_found(f"namespace {namespace}")

    # -- buckets --

    def _bucket_names(self) -> set[tuple[str, str]]:
        return {(b["namespace"], b["name"]) for b in self.buckets.values()}

    def _new_bucket(
        self, namespace: str, name: str, compartment_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        bucket = {
            "namespace": namespace,
            "name": name,
            "compartmentId": compartment_id,
            "metadata": body.get("metadata") or {},
            "createdBy": USER,
            "timeCreated": now_rfc3339(),
            "etag": new_etag(),
            "publicAccessType": body.get("publicAccessType") or "NoPublicAccess",
            "storageTier": body.get("storageTier") or "Standard",
            "objectEventsEnabled": bool(body.get("objectEventsEnabled")),
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "versioning": body.get("versioning") or "Disabled",
            "autoTiering": "Disabled",
            "isReadOnly": False,
            "replicationEnabled": False,
            "id": self.store.new_id("bucket"),
        }
        self.buckets[f"{namespace}/{name}"] = bucket
        return bucket

    def create_bucket(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.check_namespace(namespace)
        require(body, "name", "compartmentId")
        name = str(body["name"])
        if not BUCKET_NAME.match(name):
            raise invalid(
                f"bucket name {name!r} is not valid: use 1-256 letters, digits, dashes, underscores or periods"
            )
        if body.get("versioning") not in (None, *VERSIONING_VALUES):
            raise invalid(f"versioning must be one of {', '.join(VERSIONING_VALUES)}")
        if f"{namespace}/{name}" in self.buckets:
            raise ApiError(
                409,
                "BucketAlreadyExists",
                f"Either the bucket '{name}' in namespace '{namespace}' already exists "
                "or you are not authorized to create it",
            )
        return self._new_bucket(namespace, name, str(body["compartmentId"]), body)

    def ensure_bucket(self, name: str, compartment_id: str = TENANCY) -> dict[str, Any]:
        """A bucket that exists before anyone writes (the emulator's configuration); idempotent."""
        existing = self.buckets.get(f"{NAMESPACE}/{name}")
        if existing is not None:
            return existing
        return self.create_bucket(NAMESPACE, {"name": name, "compartmentId": compartment_id})

    def bucket(self, namespace: str, name: str) -> dict[str, Any]:
        self.check_namespace(namespace)
        bucket = self.buckets.get(f"{namespace}/{name}")
        if bucket is None:
            raise bucket_not_found(namespace, name)
        return bucket

    def writable_bucket(self, namespace: str, name: str) -> dict[str, Any]:
        """The bucket a write goes into: created first only when ``auto_create`` is on."""
        self.check_namespace(namespace)
        if self.auto_create and f"{namespace}/{name}" not in self.buckets:
            log.warning(
                "bucket %r did not exist; the local emulator created it (on OCI this write would fail with "
                "404 BucketNotFound)",
                name,
            )
            return self._new_bucket(namespace, name, TENANCY, {})
        return self.bucket(namespace, name)

    def update_bucket(
        self, namespace: str, name: str, body: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        """UpdateBucket: versioning (Enabled or Suspended: never back to Disabled), metadata and tags."""
        bucket = self.bucket(namespace, name)
        if if_match and if_match != bucket["etag"]:
            raise ApiError(412, "IfMatchFailed", "the bucket's etag does not match if-match")
        versioning = body.get("versioning")
        if versioning is not None and versioning not in UPDATE_VERSIONING_VALUES:
            raise invalid(f"versioning must be one of {', '.join(UPDATE_VERSIONING_VALUES)}")
        if versioning == "Suspended" and bucket["versioning"] == "Disabled":
            raise invalid("versioning can be suspended only on a bucket where it is enabled")
        if versioning is not None:
            bucket["versioning"] = versioning
        for field in BUCKET_FIELDS:
            if body.get(field) is not None:
                bucket[field] = body[field]
        bucket["etag"] = new_etag()
        return bucket

    def versioned(self, key: str) -> bool:
        namespace, bucket, _ = key.split("/", 2)
        return self.buckets.get(f"{namespace}/{bucket}", {}).get("versioning") == "Enabled"

    def list_buckets(self, namespace: str, compartment_id: str) -> list[dict[str, Any]]:
        self.check_namespace(namespace)
        found = [
            b
            for b in self.buckets.values()
            if b["namespace"] == namespace and b["compartmentId"] == compartment_id
        ]
        return sorted(found, key=lambda b: b["name"])

    def bucket_usage(self, namespace: str, name: str) -> tuple[int, int]:
        """Approximate object count and size, as GetBucket reports them when asked."""
        folder = f"{namespace}/{name}/"
        sizes = [r["size"] for k, r in self.objects.items() if k.startswith(folder)]
        return len(sizes), sum(sizes)

    def delete_bucket(self, namespace: str, name: str, if_match: str | None) -> None:
        bucket = self.bucket(namespace, name)
        if if_match and if_match != bucket["etag"]:
            raise ApiError(412, "IfMatchFailed", "the bucket's etag does not match if-match")
        folder = f"{namespace}/{name}/"
        if any(k.startswith(folder) for k in self.objects) or self.versions.any_under(folder):
            raise ApiError(
                409, "BucketNotEmpty", f"Bucket named '{name}' is not empty. Delete all objects first."
            )
        if any(u["key"].startswith(folder) for u in self.uploads.values()):
            raise ApiError(
                409,
                "BucketNotEmpty",
                f"Bucket named '{name}' has pending multipart uploads. Abort them first.",
            )
        del self.buckets[f"{namespace}/{name}"]

    # -- objects --

    def write(self, key: str, content: bytes | Staged) -> dict[str, Any]:
        """Store ``content`` as the object ``key`` (also how Data Science imports an artifact)."""
        self._keep_previous(key)
        return self._record(key, self.store.keep(self.blob_of(key), content))

    def copy_in(self, key: str, blob: str) -> dict[str, Any]:
        """The blob ``blob`` (a model artifact) copied to the object ``key``."""
        self._keep_previous(key)
        return self._record(key, self.store.copy(blob, self.blob_of(key)))

    def _keep_previous(self, key: str) -> None:
        """In a versioned bucket, the object about to be replaced becomes a noncurrent version."""
        current = self.objects.get(key)
        if current is not None and self.versioned(key):
            self.versions.retire(key, current)

    @staticmethod
    def blob_of(key: str) -> str:
        return "object-" + hashlib.sha256(key.encode()).hexdigest()

    def _record(self, key: str, info: BlobInfo) -> dict[str, Any]:
        record = {
            "blob": self.blob_of(key),
            "size": info.size,
            "etag": new_etag(),
            "md5": info.md5,
            "timeCreated": now_rfc3339(),
            "versionId": new_version_id(),
        }
        self.objects[key] = record
        return record

    def find(self, key: str) -> dict[str, Any] | None:
        """The object's record, or None when there is no such object (or no such bucket)."""
        namespace, bucket, _ = key.split("/", 2)
        if f"{namespace}/{bucket}" not in self.buckets:
            return None
        return self.objects.get(key)

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
        content: bytes | Staged,
        if_match: str | None,
        if_none_match: str | None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        self.writable_bucket(namespace, bucket)
        key = object_key(namespace, bucket, name)
        self.check_conditions(key, if_match, if_none_match)
        record = self.write(key, content)
        record["contentType"] = content_type or DEFAULT_CONTENT_TYPE
        return record

    def get(
        self, namespace: str, bucket: str, name: str, version_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The object's record: the current version, or the one ``version_id`` names."""
        self.bucket(namespace, bucket)
        key = object_key(namespace, bucket, name)
        record = self.objects.get(key)
        if version_id and (record is None or record.get("versionId") != version_id):
            record = self.versions.find(key, version_id)
            if record is not None and record.get("isDeleteMarker"):
                record = None
        if record is None:
            raise ApiError(404, "ObjectNotFound", f"object {name} not found")
        return key, record

    def delete(self, namespace: str, bucket: str, name: str, if_match: str | None) -> None:
        """In a versioned bucket the object becomes a noncurrent version behind a delete marker."""
        key, record = self.get(namespace, bucket, name)
        if if_match and if_match != record["etag"]:
            raise ApiError(412, "IfMatchFailed", "the object's etag does not match if-match")
        if self.versioned(key):
            self.versions.retire(key, record)
            self.versions.mark_deleted(key)
        else:
            self.store.delete_blob(record["blob"])
        del self.objects[key]

    def list_objects(
        self, namespace: str, bucket: str, prefix: str, fields: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """``ObjectSummary`` items: the name, and the ``fields`` asked for (as ListObjects' ``fields=``);
        without ``fields``, name, size and etag."""
        self.bucket(namespace, bucket)
        folder = f"{namespace}/{bucket}/"
        names = sorted(k[len(folder) :] for k in self.objects if k.startswith(folder))
        wanted = (fields & LISTED_FIELDS) or frozenset({"size", "etag"})
        return [self._summary(n, self.objects[folder + n], wanted) for n in names if n.startswith(prefix)]

    def list_object_versions(
        self, namespace: str, bucket: str, prefix: str, fields: frozenset[str]
    ) -> list[dict[str, Any]]:
        """``ObjectVersionSummary`` items under ``prefix``: per name, the current version, then older ones."""
        self.bucket(namespace, bucket)
        return self.versions.listing(f"{namespace}/{bucket}/", self.objects, prefix, fields)

    @staticmethod
    def _summary(name: str, record: dict[str, Any], wanted: frozenset[str]) -> dict[str, Any]:
        values = {
            "size": record["size"],
            "etag": record["etag"],
            "md5": record["md5"],
            "timeCreated": record["timeCreated"],
            "timeModified": record["timeCreated"],  # objects are replaced whole: created = modified
            "storageTier": "Standard",
        }
        return {"name": name, **{k: v for k, v in values.items() if k in wanted}}

    # -- multipart uploads --

    def create_upload(
        self,
        namespace: str,
        bucket: str,
        name: str,
        if_match: str | None,
        if_none_match: str | None,
        content_type: str | None = None,
    ) -> str:
        self.writable_bucket(namespace, bucket)
        key = object_key(namespace, bucket, name)
        self.check_conditions(key, if_match, if_none_match)
        upload_id = new_etag()
        self.uploads[upload_id] = {
            "key": key,
            "parts": {},
            "time": now_rfc3339(),
            "contentType": content_type,
        }
        return upload_id

    def upload(self, namespace: str, bucket: str, upload_id: str) -> dict[str, Any]:
        self.bucket(namespace, bucket)
        upload = self.uploads.get(upload_id)
        if upload is None or not upload["key"].startswith(f"{namespace}/{bucket}/"):
            raise ApiError(404, "NoSuchUpload", "the multipart upload does not exist")
        return upload

    def upload_part(
        self, namespace: str, bucket: str, upload_id: str, part_number: str, content: bytes | Staged
    ) -> tuple[str, str]:
        """Keep one part (``part_number`` as the query gave it); returns its etag and MD5."""
        upload = self.upload(namespace, bucket, upload_id)
        try:
            number = int(part_number)
        except ValueError:
            number = 0
        if not 1 <= number <= 10000:
            raise invalid("uploadPartNum must be between 1 and 10000")
        blob = f"part-{upload_id}-{number}"
        info = self.store.keep(blob, content)
        etag = new_etag()
        upload["parts"][str(number)] = {"blob": blob, "etag": etag}
        return etag, info.md5

    def commit(
        self, namespace: str, bucket: str, upload_id: str, parts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Join the listed parts (each with the etag it was uploaded with) into the object."""
        upload = self.upload(namespace, bucket, upload_id)
        blobs = []
        for part in sorted(parts, key=lambda p: int(p["partNum"])):
            stored = upload["parts"].get(str(part["partNum"]))
            if stored is None or stored["etag"] != part.get("etag"):
                raise invalid(f"part {part['partNum']} was not uploaded or its etag differs")
            blobs.append(stored["blob"])
        key = upload["key"]
        self._keep_previous(key)
        record = self._record(key, self.store.join(blobs, self.blob_of(key)))
        record["contentType"] = upload.get("contentType") or DEFAULT_CONTENT_TYPE
        self._forget_upload(upload_id, upload)
        return record

    def abort(self, namespace: str, bucket: str, upload_id: str) -> None:
        self._forget_upload(upload_id, self.upload(namespace, bucket, upload_id))

    def _forget_upload(self, upload_id: str, upload: dict[str, Any]) -> None:
        for stored in upload["parts"].values():
            self.store.delete_blob(stored["blob"])
        del self.uploads[upload_id]
