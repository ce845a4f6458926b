"""Buckets: created, read, listed and deleted as on OCI; objects live only in buckets that exist."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs, make_bucket, wait_for
from oci.data_science import models as dm
from oci.object_storage import models as om
from test_emulator_sdk import project, service_error

from reconciler.emulator import Emulator

OTHER = "ocid1.compartment.oc1..aaaaaaaaother"


def client(emulator: Emulator) -> Any:
    return oci.object_storage.ObjectStorageClient(emulator.oci_config(), **client_kwargs(emulator))


def test_a_bucket_is_created_read_listed_and_deleted(objects: Any) -> None:
    namespace = objects.get_namespace().data
    created = objects.create_bucket(
        namespace,
        om.CreateBucketDetails(name="models", compartment_id=COMPARTMENT, freeform_tags={"team": "risk"}),
    )
    bucket = created.data
    assert isinstance(bucket, om.Bucket)
    assert (bucket.name, bucket.namespace, bucket.compartment_id) == ("models", namespace, COMPARTMENT)
    assert bucket.etag == created.headers["etag"] and bucket.time_created is not None
    got = objects.get_bucket(namespace, "models").data
    assert (got.name, got.freeform_tags, got.public_access_type) == (
        "models",
        {"team": "risk"},
        "NoPublicAccess",
    )
    assert objects.head_bucket(namespace, "models").headers["etag"] == bucket.etag
    objects.create_bucket(namespace, om.CreateBucketDetails(name="elsewhere", compartment_id=OTHER))
    listed = objects.list_buckets(namespace, COMPARTMENT).data
    assert [(b.name, b.etag) for b in listed] == [("models", bucket.etag)]
    assert all(isinstance(b, om.BucketSummary) and b.freeform_tags is None for b in listed)
    assert objects.list_buckets(namespace, COMPARTMENT, fields=["tags"]).data[0].freeform_tags == {
        "team": "risk"
    }
    assert objects.delete_bucket(namespace, "models").status == 204
    assert service_error(lambda: objects.get_bucket(namespace, "models")).code == "BucketNotFound"
    assert [b.name for b in objects.list_buckets(namespace, OTHER).data] == ["elsewhere"]


def test_a_bucket_name_is_taken_once_and_must_be_valid(objects: Any) -> None:
    namespace = make_bucket(objects, "locks")
    again = service_error(lambda: make_bucket(objects, "locks", OTHER))
    assert (again.status, again.code) == (409, "BucketAlreadyExists")
    invalid = service_error(
        lambda: objects.create_bucket(
            namespace, om.CreateBucketDetails(name="no spaces", compartment_id=COMPARTMENT)
        )
    )
    assert invalid.status == 400


def test_only_an_empty_bucket_is_deleted(objects: Any) -> None:
    namespace = make_bucket(objects, "b")
    objects.put_object(namespace, "b", "x", b"1")
    error = service_error(lambda: objects.delete_bucket(namespace, "b"))
    assert (error.status, error.code) == (409, "BucketNotEmpty")
    objects.delete_object(namespace, "b", "x")
    upload = objects.create_multipart_upload(namespace, "b", om.CreateMultipartUploadDetails(object="y")).data
    assert service_error(lambda: objects.delete_bucket(namespace, "b")).code == "BucketNotEmpty"
    objects.abort_multipart_upload(namespace, "b", "y", upload.upload_id)
    objects.delete_bucket(namespace, "b")


def test_get_bucket_reports_usage_and_answers_if_none_match(objects: Any) -> None:
    namespace = make_bucket(objects, "b")
    objects.put_object(namespace, "b", "x", b"12345")
    objects.put_object(namespace, "b", "y", b"678")
    bucket = objects.get_bucket(namespace, "b", fields=["approximateCount", "approximateSize"]).data
    assert (bucket.approximate_count, bucket.approximate_size) == (2, 8)
    assert service_error(lambda: objects.get_bucket(namespace, "b", if_none_match=bucket.etag)).status == 304
    stale = service_error(lambda: objects.get_bucket(namespace, "b", if_match="stale"))
    assert stale.status == 412


@pytest.mark.parametrize(
    "call",
    [
        lambda c, ns: c.put_object(ns, "missing", "x", b"1"),
        lambda c, ns: c.get_object(ns, "missing", "x"),
        lambda c, ns: c.delete_object(ns, "missing", "x"),
        lambda c, ns: c.list_objects(ns, "missing"),
        lambda c, ns: c.create_multipart_upload(ns, "missing", om.CreateMultipartUploadDetails(object="x")),
        lambda c, ns: c.get_bucket(ns, "missing"),
        lambda c, ns: c.delete_bucket(ns, "missing"),
    ],
)
def test_a_missing_bucket_is_404_bucket_not_found(objects: Any, emulator: Emulator, call: Any) -> None:
    error = service_error(lambda: call(objects, objects.get_namespace().data))
    assert (error.status, error.code) == (404, "BucketNotFound")
    assert "missing" in error.message
    assert emulator.store.data["objects"] == {} and emulator.store.data["buckets"] == {}


def test_heads_in_a_missing_bucket_are_404(objects: Any) -> None:
    namespace = objects.get_namespace().data
    assert service_error(lambda: objects.head_object(namespace, "missing", "x")).status == 404
    assert service_error(lambda: objects.head_bucket(namespace, "missing")).status == 404


def test_exporting_an_artifact_from_a_missing_bucket_fails_its_work_request(ds: Any) -> None:
    model = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project(ds))).data
    details = dm.ExportModelArtifactDetails(
        artifact_export_details=dm.ArtifactExportDetailsObjectStorage(
            namespace="mdrlocal",
            source_bucket="missing",
            source_object_name="m.zip",
            source_region="us-ashburn-1",
        )
    )
    request_id = ds.export_model_artifact(model.id, details).headers["opc-work-request-id"]
    wait_for(lambda: ds.get_work_request(request_id).data.status == "FAILED")


def test_configured_buckets_exist_from_the_start_and_survive_a_restart(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "state", buckets=["mdr-locks"]) as first:
        objects = client(first)
        objects.put_object(first.namespace, "mdr-locks", "lease", b"held")
        bucket = objects.get_bucket(first.namespace, "mdr-locks").data
        assert bucket.compartment_id.startswith("ocid1.tenancy."), "in the root compartment"
    with Emulator(state_dir=tmp_path / "state") as second:
        assert client(second).get_object(second.namespace, "mdr-locks", "lease").data.content == b"held"


def test_auto_created_buckets_say_so(caplog: pytest.LogCaptureFixture) -> None:
    with Emulator(auto_create_buckets=True) as emulator, caplog.at_level(logging.WARNING, "mdr.emulator"):
        objects = client(emulator)
        objects.put_object(emulator.namespace, "mdr-lokcs", "lease", b"held")
        assert "mdr-lokcs" in caplog.text and "BucketNotFound" in caplog.text
        assert objects.get_bucket(emulator.namespace, "mdr-lokcs").data.name == "mdr-lokcs"


def test_a_state_folder_from_before_buckets_keeps_its_objects(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "state", buckets=["old"]) as first:
        client(first).put_object(first.namespace, "old", "x", b"kept")
    state_file = tmp_path / "state" / "state.json"
    saved = json.loads(state_file.read_text())
    del saved["buckets"]
    state_file.write_text(json.dumps(saved))
    with Emulator(state_dir=tmp_path / "state") as second:
        assert client(second).get_object(second.namespace, "old", "x").data.content == b"kept"
