"""Object versioning as OCI does it: a versioned bucket keeps every version, lists them, and serves old ones."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from conftest import COMPARTMENT
from oci.object_storage import models as om


def versioned_bucket(objects: Any, name: str = "weights", versioning: str = "Enabled") -> str:
    namespace = str(objects.get_namespace().data)
    details = om.CreateBucketDetails(name=name, compartment_id=COMPARTMENT, versioning=versioning)
    objects.create_bucket(namespace, details)
    return namespace


def test_get_bucket_reports_versioning_set_at_create_or_by_update(objects: Any) -> None:
    namespace = versioned_bucket(objects, "on")
    versioned_bucket(objects, "off", versioning="Disabled")
    assert objects.get_bucket(namespace, "on").data.versioning == "Enabled"
    assert objects.get_bucket(namespace, "off").data.versioning == "Disabled"
    updated = objects.update_bucket(namespace, "off", om.UpdateBucketDetails(versioning="Enabled"))
    assert updated.data.versioning == "Enabled"
    assert objects.get_bucket(namespace, "off").data.versioning == "Enabled"
    objects.update_bucket(namespace, "off", om.UpdateBucketDetails(versioning="Suspended"))
    assert objects.get_bucket(namespace, "off").data.versioning == "Suspended"


def test_versioning_cannot_be_suspended_where_it_was_never_enabled(objects: Any) -> None:
    namespace = versioned_bucket(objects, "plain", versioning="Disabled")
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        objects.update_bucket(namespace, "plain", om.UpdateBucketDetails(versioning="Suspended"))
    assert caught.value.status == 400


def test_an_overwrite_in_a_versioned_bucket_keeps_the_old_version_readable(objects: Any) -> None:
    namespace = versioned_bucket(objects)
    first = objects.put_object(namespace, "weights", "llm/model.bin", b"v1").headers["version-id"]
    second = objects.put_object(namespace, "weights", "llm/model.bin", b"v2 bytes").headers["version-id"]
    assert first != second
    assert objects.get_object(namespace, "weights", "llm/model.bin").data.content == b"v2 bytes"
    old = objects.get_object(namespace, "weights", "llm/model.bin", version_id=first)
    assert (old.data.content, old.headers["version-id"]) == (b"v1", first)
    listed = objects.list_object_versions(namespace, "weights", prefix="llm/", fields="name,size").data
    assert isinstance(listed, om.ObjectVersionCollection)
    assert [(v.name, v.version_id, v.size, v.is_delete_marker) for v in listed.items] == [
        ("llm/model.bin", second, 8, False),
        ("llm/model.bin", first, 2, False),
    ]


def test_a_bucket_without_versioning_replaces_objects_in_place(objects: Any) -> None:
    namespace = versioned_bucket(objects, "plain", versioning="Disabled")
    objects.put_object(namespace, "plain", "a.bin", b"one")
    latest = objects.put_object(namespace, "plain", "a.bin", b"two").headers["version-id"]
    items = objects.list_object_versions(namespace, "plain").data.items
    assert [(v.name, v.version_id) for v in items] == [("a.bin", latest)]


def test_a_delete_leaves_a_marker_and_the_bucket_is_not_empty_until_versions_go(objects: Any) -> None:
    namespace = versioned_bucket(objects)
    kept = objects.put_object(namespace, "weights", "x.bin", b"x").headers["version-id"]
    objects.delete_object(namespace, "weights", "x.bin")
    assert objects.list_objects(namespace, "weights").data.objects == []
    items = objects.list_object_versions(namespace, "weights", fields="etag").data.items
    assert [(v.is_delete_marker, v.version_id == kept) for v in items] == [(True, False), (False, True)]
    assert objects.get_object(namespace, "weights", "x.bin", version_id=kept).data.content == b"x"
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        objects.delete_bucket(namespace, "weights")
    assert (caught.value.status, caught.value.code) == (409, "BucketNotEmpty")


def test_version_listing_pages_and_the_etag_names_the_current_version(objects: Any) -> None:
    namespace = versioned_bucket(objects)
    for index in range(5):
        objects.put_object(namespace, "weights", f"shard-{index}.bin", b"s")
    current = objects.put_object(namespace, "weights", "shard-0.bin", b"again")
    pages = oci.pagination.list_call_get_all_results(
        objects.list_object_versions, namespace, "weights", fields="etag", limit=2
    ).data
    assert len(pages) == 6
    by_etag = {v.etag: v.version_id for v in pages}
    assert by_etag[current.headers["etag"]] == current.headers["version-id"]
