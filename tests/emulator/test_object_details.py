"""Objects as the oci CLI and ADS see them: listings with md5 and times when asked, the stored content type."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import oci
from conftest import make_bucket

from reconciler.emulator import Emulator


def test_a_listing_carries_the_fields_asked_for(objects: Any) -> None:
    namespace = make_bucket(objects, "models")
    objects.put_object(namespace, "models", "a/model.zip", b"zip bytes")
    asked = objects.list_objects(
        namespace, "models", fields="name,size,md5,timeCreated,timeModified,etag"
    ).data
    [item] = asked.objects
    assert item.name == "a/model.zip" and item.size == len(b"zip bytes")
    assert item.md5 == base64.b64encode(hashlib.md5(b"zip bytes").digest()).decode()
    assert item.time_created is not None and item.time_modified == item.time_created
    plain = objects.list_objects(namespace, "models").data.objects[0]
    assert plain.md5 is None and plain.time_created is None  # not asked for: not sent, as OCI does


def test_head_and_get_answer_the_content_type_the_object_was_stored_with(objects: Any) -> None:
    namespace = make_bucket(objects, "web")
    objects.put_object(namespace, "web", "index.json", b"{}", content_type="application/json")
    objects.put_object(namespace, "web", "logo.png", b"\x89PNG", content_type="image/png")
    assert objects.head_object(namespace, "web", "index.json").headers["content-type"] == "application/json"
    assert objects.get_object(namespace, "web", "index.json").headers["content-type"] == "application/json"
    head = objects.head_object(namespace, "web", "logo.png").headers
    assert head["content-type"] == "image/png"
    assert head["last-modified"].endswith(" GMT")


def test_the_written_key_file_carries_the_oci_api_key_label(tmp_path: Path) -> None:
    """The oci CLI warns on every call about a key file without the label the Console writes."""
    with Emulator() as emulator:
        config = emulator.write_oci_config(tmp_path)
        key = (tmp_path / "emulator_key.pem").read_text()
        assert key.rstrip("\n").splitlines()[-1] == "OCI_API_KEY"
        assert "-----END RSA PRIVATE KEY-----" in key
        client = oci.object_storage.ObjectStorageClient(
            oci.config.from_file(str(config)), service_endpoint=emulator.url
        )
        assert client.get_namespace().data  # the SDK still loads and signs with it
