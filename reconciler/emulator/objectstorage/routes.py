"""Object Storage's HTTP API (/n/...): requests in, backend calls, wire answers out."""

from __future__ import annotations

from reconciler.emulator.core.errors import require
from reconciler.emulator.core.http import Request, Response, Router
from reconciler.emulator.core.store import content_md5
from reconciler.emulator.objectstorage.backend import NAMESPACE, ObjectStorageBackend, object_key


class ObjectStorageRoutes:
    def __init__(self, backend: ObjectStorageBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        add("GET", "/n", "GetNamespace", self.get_namespace)
        add("GET", "/n/", "GetNamespace", self.get_namespace)
        add("GET", "/n/{ns}/b/{bucket}/o", "ListObjects", self.list_objects)
        add("PUT", "/n/{ns}/b/{bucket}/o/{name}", "PutObject", self.put_object, mutating=True)
        add("GET", "/n/{ns}/b/{bucket}/o/{name}", "GetObject", self.get_object)
        add("HEAD", "/n/{ns}/b/{bucket}/o/{name}", "HeadObject", self.head_object)
        add("DELETE", "/n/{ns}/b/{bucket}/o/{name}", "DeleteObject", self.delete_object, mutating=True)
        add("POST", "/n/{ns}/b/{bucket}/u", "CreateMultipartUpload", self.create_multipart, mutating=True)
        add("PUT", "/n/{ns}/b/{bucket}/u/{name}", "UploadPart", self.upload_part, mutating=True)
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

    def put_object(self, request: Request) -> Response:
        p = request.params
        record = self.backend.put(
            p["ns"],
            p["bucket"],
            p["name"],
            request.body,
            request.if_match,
            request.headers.get("if-none-match"),
        )
        return Response(200, None, {"etag": record["etag"], "opc-content-md5": record["md5"]})

    def get_object(self, request: Request) -> Response:
        _, record = self.backend.get(request.params["ns"], request.params["bucket"], request.params["name"])
        headers = {"etag": record["etag"], "content-md5": record["md5"]}
        return Response(200, self.backend.content(record), headers, "application/octet-stream")

    def head_object(self, request: Request) -> Response:
        _, record = self.backend.get(request.params["ns"], request.params["bucket"], request.params["name"])
        return Response(
            200,
            None,
            {"etag": record["etag"], "content-md5": record["md5"], "content-length": str(record["size"])},
        )

    def delete_object(self, request: Request) -> Response:
        p = request.params
        self.backend.delete(p["ns"], p["bucket"], p["name"], request.if_match)
        return Response(204, None)

    def list_objects(self, request: Request) -> Response:
        objects = self.backend.list_objects(
            request.params["ns"], request.params["bucket"], request.query.get("prefix") or ""
        )
        return Response(200, {"objects": objects})

    def create_multipart(self, request: Request) -> Response:
        namespace, bucket = request.params["ns"], request.params["bucket"]
        self.backend.check_namespace(namespace)
        body = request.json_object()
        require(body, "object")
        key = object_key(namespace, bucket, body["object"])
        upload_id = self.backend.create_upload(key, request.if_match, request.headers.get("if-none-match"))
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
        upload_id = request.query.get("uploadId", "")
        etag = self.backend.upload_part(upload_id, request.query.get("uploadPartNum", "0"), request.body)
        return Response(200, None, {"etag": etag, "opc-content-md5": content_md5(request.body)})

    def commit_multipart(self, request: Request) -> Response:
        upload_id = request.query.get("uploadId", "")
        self.backend.upload(upload_id)  # an unknown upload is a 404 before a bad body is a 400
        parts = request.json_object().get("partsToCommit") or []
        record = self.backend.commit(upload_id, parts)
        return Response(
            200, None, {"etag": record["etag"], "opc-multipart-md5": f"{record['md5']}-{len(parts)}"}
        )

    def abort_multipart(self, request: Request) -> Response:
        self.backend.abort(request.query.get("uploadId", ""))
        return Response(204, None)
