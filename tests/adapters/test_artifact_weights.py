"""Listing weights by reference through the real SDK: versions found by etag, only list calls made, and a
bucket that does not keep versions refused with the command that fixes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oci.object_storage import models as om
from support.world import World

from reconciler.adapters.artifact_weights import (
    BucketNotVersioned,
    WeightsError,
    read_weights,
    weights_identity_of,
)
from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.core.weights import WeightObject

URI = "oci://llm-weights@mdrlocal/llama/8b/"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaallm"


@pytest.fixture
def provider(world: World) -> Iterator[Provider]:
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    with open_provider(target, "us-ashburn-1") as opened:
        yield opened


def bucket(provider: Provider, versioning: str = "Enabled", name: str = "llm-weights") -> Any:
    client = provider.object_storage
    client.create_bucket(
        "mdrlocal", om.CreateBucketDetails(name=name, compartment_id=COMPARTMENT, versioning=versioning)
    )
    return client


def put(client: Any, name: str, body: bytes, bucket_name: str = "llm-weights") -> str:
    return str(client.put_object("mdrlocal", bucket_name, name, body).headers["version-id"])


def test_each_object_under_the_prefix_is_listed_with_its_current_version(
    world: World, provider: Provider
) -> None:
    client = bucket(provider)
    put(client, "llama/8b/config.json", b"{}")
    put(client, "llama/8b/model-00001.safetensors", b"old weights")
    current = put(client, "llama/8b/model-00001.safetensors", b"new weights!")
    tokenizer = put(client, "llama/8b/tokenizer.json", b"tok")
    put(client, "llama/70b/model.safetensors", b"not under the prefix")
    client.put_object("mdrlocal", "llm-weights", "llama/8b/empty-folder/", b"")  # a console folder marker
    world.emulator.reset_counters()
    listing = read_weights(provider, URI)
    config = listing.objects[0]
    assert [(o.name, o.size) for o in listing.objects] == [
        ("llama/8b/config.json", 2),
        ("llama/8b/model-00001.safetensors", 12),
        ("llama/8b/tokenizer.json", 3),
    ]
    assert listing.objects[1:] == (
        WeightObject("llama/8b/model-00001.safetensors", current, 12),
        WeightObject("llama/8b/tokenizer.json", tokenizer, 3),
    )
    assert config.version
    assert world.emulator.counters() == {"GetBucket": 1, "ListObjects": 1, "ListObjectVersions": 1}


def test_a_new_version_of_one_file_changes_the_identity_and_nothing_else_does(provider: Provider) -> None:
    client = bucket(provider)
    put(client, "llama/8b/a.bin", b"a")
    put(client, "llama/8b/b.bin", b"b")
    first = weights_identity_of(provider, URI, conda=False)
    assert weights_identity_of(provider, URI, conda=False) == first
    put(client, "llama/8b/b.bin", b"b")  # the same bytes written again are still a new version
    assert weights_identity_of(provider, URI, conda=False) != first


def test_a_bucket_without_versioning_is_refused_with_the_command_to_enable_it(provider: Provider) -> None:
    client = bucket(provider, versioning="Disabled")
    put(client, "llama/8b/a.bin", b"a")
    with pytest.raises(BucketNotVersioned) as caught:
        read_weights(provider, URI)
    message = str(caught.value)
    assert "llm-weights is not versioned" in message
    assert (
        "oci os bucket update --namespace mdrlocal --bucket-name llm-weights --versioning Enabled" in message
    )


def test_an_empty_prefix_and_a_missing_bucket_are_errors_a_user_can_act_on(provider: Provider) -> None:
    with pytest.raises(WeightsError, match="404 BucketNotFound; the bucket must exist"):
        read_weights(provider, URI)
    bucket(provider)
    with pytest.raises(WeightsError, match="no objects under this prefix"):
        read_weights(provider, URI)


def test_a_conda_runtime_refuses_weights_without_score_py(provider: Provider) -> None:
    client = bucket(provider)
    put(client, "llama/8b/runtime.yaml", b"MODEL_ARTIFACT_VERSION: '3.0'\n")
    with pytest.raises(
        WeightsError, match=r"score.py is not directly under this prefix.*runtime.type: container"
    ):
        weights_identity_of(provider, URI, conda=True)
    put(client, "llama/8b/score.py", b"def predict(data):\n    return data\n")
    assert weights_identity_of(provider, URI, conda=True).startswith("weights:")
