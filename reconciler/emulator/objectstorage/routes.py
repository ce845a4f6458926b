"""Object Storage's HTTP API (/n/...): requests in, backend calls, wire answers out."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from reconciler.emulator.core.errors import ApiError, require
from reconciler.emulator.core.http import FileBody, Request, Response, Router, paginate
from reconciler.emulator.objectstorage.backend import DEFAULT_CONTENT_TYPE, NAMESPACE, ObjectStorageBackend

#: the fields of a bucket that ListBuckets leaves out (tags only with ``fields=tags``)
SUMMARY_FIELDS = ("namespace", "name", "compartmentId", "createdBy", "timeCreated", "etag")


class ObjectStorageRoutes:
    def __init__(self, backend: ObjectStorageBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        add("GET", "/n", "GetNamespace", self.get_namespace)
        add("GET", "/n/", "GetNamespace", self.get_namespace)
        add("POST", "/n/{ns}/b", "CreateBucket", self.create_bucket, mutating=True)
        add("POST", "/n/{ns}/b/", "CreateBucket", self.create_bucket, mutating=True)
        add("GET", "/n/{ns}/b", "ListBuckets", self.list_buckets)
        add("GET", "/n/{ns}/b/", "ListBuckets", self.list_buckets)
        add("GET", "/n/{ns}/b/{bucket}", "GetBucket", self.get_bucket)
        add("HEAD", "/n/{ns}/b/{bucket}", "HeadBucket", self.head_bucket)
        add("POST", "/n/{ns}/b/{bucket}", "UpdateBucket", self.update_bucket, mutating=True)
        add("GET", "/n/{ns}/b/{bucket}/objectversions", "ListObjectVersions", self.list_object_versions)
        add("DELETE", "/n/{ns}/b/{bucket}", "DeleteBucket", self.delete_bucket, mutating=True)
        add("GET", "/n/{ns}/b/{bucket}/o", "ListObjects", self.list_objects)
        add("PUT", "/n/{ns}/b/{bucket}/o/{name}", "PutObject", self.put_object, mutating=True, streamed=True)
        add("GET", "/n/{ns}/b/{bucket}/o/{name}", "GetObject", self.get_object)
        add("HEAD", "/n/{ns}/b/{bucket}/o/{name}", "HeadObject", self.head_object)
        add("DELETE", "/n/{ns}/b/{bucket}/o/{name}", "DeleteObject", self.delete_object, mutating=True)
        add("POST", "/n/{ns}/b/{bucket}/u", "CreateMultipartUpload", self.create_multipart, mutating=True)
        add(
            "PUT", "/n/{ns}/b/{bucket}/u/{name}", "UploadPart", self.upload_part, mutating=True, streamed=True
        )
        add(
            "POST",
            "/n/{ns}/b/{bucket}/u/{name}",
            "CommitMultipartUpload",
            self.commit_multipart,
            mutating=True,
        )
        add(
            "DELETE",
            "/n/{ns}/b/{bucket}/u/{name}",
            "AbortMultipartUpload",
            self.abort_multipart,
            mutating=True,
        )

    def get_namespace(self, request: Request) -> Response:
        return Response(200, NAMESPACE)

    # -- buckets --

    def create_bucket(self, request: Request) -> Response:
        bucket = self.backend.create_bucket(request.params["ns"], request.json_object())
        return Response(
            200, bucket, {"etag": bucket["etag"], "location": f"/n/{bucket['namespace']}/b/{bucket['name']}"}
        )

    def list_buckets(self, request: Request) -> Response:
        buckets = self.backend.list_buckets(request.params["ns"], request.compartment())
        fields = set((request.query.get("fields") or "").split(","))
        kept = SUMMARY_FIELDS + (("freeformTags", "definedTags") if "tags" in fields else ())
        return paginate([{k: b[k] for k in kept} for b in buckets], request)

    def _bucket(self, request: Request) -> dict[str, Any]:
        bucket = self.backend.bucket(request.params["ns"], request.params["bucket"])
        if request.if_match and request.if_match != bucket["etag"]:
            raise ApiError(412, "IfMatchFailed", "the bucket's etag does not match if-match")
        return bucket

    def get_bucket(self, request: Request) -> Response:
        bucket = dict(self._bucket(request))
        if request.headers.get("if-none-match") in (bucket["etag"], "*"):
            return Response(304, None, {"etag": bucket["etag"]})
        fields = set((request.query.get("fields") or "").split(","))
        if fields & {"approximateCount", "approximateSize"}:
            count, size = self.backend.bucket_usage(bucket["namespace"], bucket["name"])
            bucket["approximateCount"], bucket["approximateSize"] = count, size
        return Response(200, bucket, {"etag": bucket["etag"]})

    def head_bucket(self, request: Request) -> Response:
        bucket = self._bucket(request)
        if request.headers.get("if-none-match") in (bucket["etag"], "*"):
            return Response(304, None, {"etag": bucket["etag"]})
        return Response(200, None, {"etag": bucket["etag"]})

    def update_bucket(self, request: Request) -> Response:
        p = request.params
        bucket = self.backend.update_bucket(p["ns"], p["bucket"], request.json_object(), request.if_match)
        return Response(200, bucket, {"etag": bucket["etag"]})

    def delete_bucket(self, request: Request) -> Response:
        self.backend.delete_bucket(request.params["ns"], request.params["bucket"], request.if_match)
        return Response(204, None)

    # -- objects --

    def put_object(self, request: Request) -> Response:
        p = request.params
        record = self.backend.put(
            p["ns"],
            p["bucket"],
            p["name"],
            request.content(),
            request.if_match,
            request.headers.get("if-none-match"),
            request.headers.get("content-type"),
        )
        return Response(
            200, None, {"etag": record["etag"], "opc-content-md5": record["md5"], **_version(record)}
        )

    def _object(self, request: Request) -> dict[str, Any]:
        p = request.params
        return self.backend.get(p["ns"], p["bucket"], p["name"], request.query.get("versionId"))[1]

    def get_object(self, request: Request) -> Response:
        record = self._object(request)
        headers = {"etag": record["etag"], "content-md5": record["md5"], **_version(record)}
        body = FileBody(self.backend.store.open_blob(record["blob"]), record["size"])
        return Response(200, body, headers, _content_type(record))

    def head_object(self, request: Request) -> Response:
        record = self._object(request)
        headers = {
            **_version(record),
            "etag": record["etag"],
            "content-md5": record["md5"],
            "content-length": str(record["size"]),
            "last-modified": _http_date(record["timeCreated"]),
        }
        return Response(200, None, headers, _content_type(record))

    def delete_object(self, request: Request) -> Response:
        p = request.params
        self.backend.delete(p["ns"], p["bucket"], p["name"], request.if_match)
        return Response(204, None)

    def list_objects(self, request: Request) -> Response:
        fields = frozenset(f for f in (request.query.get("fields") or "").split(",") if f)
        objects = self.backend.list_objects(
            request.params["ns"], request.params["bucket"], request.query.get("prefix") or "", fields
        )
        return Response(200, {"objects": objects})

    def list_object_versions(self, request: Request) -> Response:
        fields = frozenset(f for f in (request.query.get("fields") or "").split(",") if f)
        p = request.params
        items = self.backend.list_object_versions(
            p["ns"], p["bucket"], request.query.get("prefix") or "", fields
        )
        page = paginate(items, request, default_limit=1000)
        return Response(200, {"items": page.body, "prefixes": []}, page.headers)

    # -- multipart uploads --

    def create_multipart(self, request: Request) -> Response:
        namespace, bucket = request.params["ns"], request.params["bucket"]
        body = request.json_object()
        require(body, "object")
        upload_id = self.backend.create_upload(
            namespace,
            bucket,
            body["object"],
            request.if_match,
            request.headers.get("if-none-match"),
            body.get("contentType"),
        )
        return Response(
            200,
            {
                "namespace": namespace,
                "bucket": bucket,
                "object": body["object"],
                "uploadId": upload_id,
                "timeCreated": self.backend.uploads[upload_id]["time"],
            },
        )

    def upload_part(self, request: Request) -> Response:
        p = request.params
        etag, md5 = self.backend.upload_part(
            p["ns"],
            p["bucket"],
            request.query.get("uploadId", ""),
            request.query.get("uploadPartNum", "0"),
            request.content(),
        )
        return Response(200, None, {"etag": etag, "opc-content-md5": md5})

    def commit_multipart(self, request: Request) -> Response:
        p = request.params
        upload_id = request.query.get("uploadId", "")
        self.backend.upload(p["ns"], p["bucket"], upload_id)  # an unknown upload is a 404 before a bad body
        parts = request.json_object().get("partsToCommit") or []
        record = self.backend.commit(p["ns"], p["bucket"], upload_id, parts)
        return Response(
            200, None, {"etag": record["etag"], "opc-multipart-md5": f"{record['md5']}-{len(parts)}"}
        )

    def abort_multipart(self, request: Request) -> Response:
        p = request.params
        self.backend.abort(p["ns"], p["bucket"], request.query.get("uploadId", ""))
        return Response(204, None)


def _version(record: dict[str, Any]) -> dict[str, str]:
    """The ``version-id`` header (objects stored before versions were recorded have none)."""
    return {"version-id": record["versionId"]} if record.get("versionId") else {}


def _content_type(record: dict[str, Any]) -> str:
    """The Content-Type the object was stored with (objects stored before it was recorded: the default)."""
    return str(record.get("contentType") or DEFAULT_CONTENT_TYPE)


def _http_date(rfc3339: str) -> str:
    """``2026-01-01T10:00:00.000000Z`` -> ``Thu, 01 Jan 2026 10:00:00 GMT`` (the Last-Modified format)."""
    moment = datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return format_datetime(moment, usegmt=True)
