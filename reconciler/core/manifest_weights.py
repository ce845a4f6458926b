"""``spec.model.weights``: a model registered *by reference* to weights kept in Object Storage.

LLM weights are tens of gigabytes; teams keep them in a versioned bucket and register the model by reference,
as ADS does (``DataScienceModel.create(model_by_reference=True)``): the catalog holds a small
``model_description.json`` naming each object's version, and no byte of the weights is uploaded. Here is only
the manifest's side: the form of the ``oci://bucket@namespace/prefix/`` URI, checked offline by
``mdr validate``. ``reconciler.core.weights`` builds the description and the model's identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

#: the whole form, for editors (the checks below give each fault its own message)
WEIGHTS_PATTERN = r"^oci://[A-Za-z0-9_.-]{1,256}@[A-Za-z0-9_-]{1,128}/([^/]+/)+$"
_BUCKET = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_FORM = "oci://bucket@namespace/prefix/"


@dataclass(frozen=True)
class WeightsLocation:
    """Where the weights are: every object whose name starts with ``prefix`` (which ends with ``/``)."""

    namespace: str
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"oci://{self.bucket}@{self.namespace}/{self.prefix}"


def parse_weights_uri(value: str) -> WeightsLocation:
    """The location named by ``value``; ValueError saying what is wrong with it otherwise."""
    if not value.startswith("oci://"):
        raise ValueError(f"weights must be an Object Storage prefix, {_FORM}")
    bucket_ns, slash, prefix = value[len("oci://") :].partition("/")
    bucket, at, namespace = bucket_ns.partition("@")
    if not at or not _BUCKET.fullmatch(bucket) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"weights must name a bucket and its namespace: {_FORM}")
    if not slash or not prefix:
        raise ValueError(
            f"weights must name a prefix (a folder) inside the bucket, not the whole bucket: {_FORM}"
        )
    if not prefix.endswith("/"):
        raise ValueError(
            f"the weights prefix must end with '/' (it names a folder of objects, not one object); "
            f"did you mean {value}/ ?"
        )
    if prefix.startswith("/") or "//" in prefix:
        raise ValueError("the weights prefix has an empty folder name ('//'); object names never do")
    return WeightsLocation(namespace, bucket, prefix)


def _check_weights_uri(value: str) -> str:
    parse_weights_uri(value)
    return value


#: the manifest field's type: a string checked by ``parse_weights_uri``
WeightsUri = Annotated[
    str,
    AfterValidator(_check_weights_uri),
    WithJsonSchema({"type": "string", "pattern": WEIGHTS_PATTERN}),
]
