"""Weights by reference (``spec.model.weights``): the URI's form at file:line:field, the description ADS
uploads, and an identity that changes exactly when an object's name, version or size does."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue
from reconciler.core.manifest_weights import WeightsLocation, parse_weights_uri
from reconciler.core.weights import (
    WeightObject,
    WeightsListing,
    description_bytes,
    missing_conda_files,
    model_description,
    weights_identity,
)

STACK = """stack: llm
region: us-ashburn-1
defaults:
  compartmentId: ocid1.compartment.oc1..aaaaaaaallm
  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaallm
"""

MANIFEST = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: chat
spec:
  model:
    weights: {weights}
{extra}  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    memoryInGBs: 16
  runtime:
    type: container
    image: dsmc://odsc-vllm-serving:0.6.4.post1.2
"""

WHERE = WeightsLocation("mdrlocal", "llm-weights", "llama/8b/")


def issues_for(tmp_path: Path, weights: str, extra: str = "") -> list[Issue]:
    (tmp_path / "mdr.yaml").write_text(STACK)
    (tmp_path / "chat.yaml").write_text(MANIFEST.format(weights=weights, extra=extra))
    return load_stack(tmp_path).issues


def listing(*objects: tuple[str, str, int]) -> WeightsListing:
    return WeightsListing(WHERE, tuple(WeightObject(*o) for o in objects))


def test_a_prefix_in_a_bucket_is_valid_weights(tmp_path: Path) -> None:
    assert issues_for(tmp_path, "oci://llm-weights@mdrlocal/llama/8b/") == []
    assert parse_weights_uri("oci://llm-weights@mdrlocal/llama/8b/") == WHERE


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("oci://llm-weights@mdrlocal/llama/8b", "must end with '/'"),
        ("oci://llm-weights@mdrlocal/", "not the whole bucket"),
        ("oci://llm-weights/llama/", "bucket and its namespace"),
        ("s3://llm-weights@mdrlocal/llama/", "Object Storage prefix"),
        ("models/llama/", "Object Storage prefix"),
        ("oci://llm-weights@mdrlocal/llama//8b/", "empty folder name"),
    ],
)
def test_a_malformed_weights_uri_is_refused_at_its_line(tmp_path: Path, weights: str, message: str) -> None:
    issues = issues_for(tmp_path, weights)
    assert [(i.line, i.path) for i in issues] == [(7, "spec.model.weights")]
    assert message in issues[0].message and issues[0].file.endswith("chat.yaml")


@pytest.mark.parametrize(
    "extra",
    ["    artifact: model\n", "    id: ocid1.datasciencemodel.oc1.iad.aaaa\n"],
    ids=["with-artifact", "with-id"],
)
def test_weights_exclude_an_artifact_and_a_catalog_model(tmp_path: Path, extra: str) -> None:
    (tmp_path / "model").mkdir()
    issues = issues_for(tmp_path, "oci://llm-weights@mdrlocal/llama/8b/", extra)
    assert [i.path for i in issues] == ["spec.model"]
    assert "exactly one of model.artifact" in issues[0].message and "model.weights" in issues[0].message


def test_the_description_has_the_shape_ads_uploads() -> None:
    described = model_description(listing(("llama/8b/b.safetensors", "v2", 20), ("llama/8b/a.json", "v1", 3)))
    assert described == {
        "version": "1.0",
        "type": "modelOSSReferenceDescription",
        "models": [
            {
                "namespace": "mdrlocal",
                "bucketName": "llm-weights",
                "prefix": "llama/8b/",
                "objects": [
                    {"name": "llama/8b/a.json", "version": "v1", "sizeInBytes": 3},
                    {"name": "llama/8b/b.safetensors", "version": "v2", "sizeInBytes": 20},
                ],
            }
        ],
    }
    assert json.loads(description_bytes(listing(("llama/8b/a.json", "v1", 3)))) == model_description(
        listing(("llama/8b/a.json", "v1", 3))
    )


OBJECTS = st.lists(
    st.tuples(
        st.text("abc/.", min_size=1, max_size=6), st.text("0123", min_size=1, max_size=3), st.integers(0, 9)
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda o: o[0],
)


@given(OBJECTS, st.randoms())
def test_the_identity_ignores_listing_order(objects: list[tuple[str, str, int]], rng: random.Random) -> None:
    shuffled = list(objects)
    rng.shuffle(shuffled)
    assert weights_identity(listing(*objects)) == weights_identity(listing(*shuffled))
    assert description_bytes(listing(*objects)) == description_bytes(listing(*shuffled))


@given(OBJECTS, st.integers(0, 5), st.sampled_from(["name", "version", "size"]))
def test_a_changed_name_version_or_size_is_a_new_identity(
    objects: list[tuple[str, str, int]], index: int, what: str
) -> None:
    name, version, size = objects[index % len(objects)]
    changed = {"name": (name + "x", version, size), "version": (name, version + "n", size)}.get(
        what, (name, version, size + 1)
    )
    others = [o for o in objects if o[0] != name and o[0] != changed[0]]
    before = weights_identity(listing(*others, (name, version, size)))
    assert weights_identity(listing(*others, changed)) != before


def test_the_identity_names_the_bucket_and_prefix_too() -> None:
    objects = (("llama/8b/a", "v1", 1),)
    elsewhere = WeightsListing(WeightsLocation("mdrlocal", "other", "llama/8b/"), listing(*objects).objects)
    assert weights_identity(listing(*objects)) != weights_identity(elsewhere)
    assert weights_identity(listing(*objects)).startswith("weights:")


def test_a_conda_runtime_needs_score_and_runtime_yaml_at_the_top_of_the_prefix() -> None:
    assert (
        missing_conda_files(listing(("llama/8b/score.py", "1", 1), ("llama/8b/runtime.yaml", "1", 1))) == []
    )
    assert missing_conda_files(listing(("llama/8b/sub/score.py", "1", 1))) == ["score.py", "runtime.yaml"]
