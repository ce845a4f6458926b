"""A model by reference: its ``model_description.json`` and its identity, from a listing of the weights (pure).

The description is the artifact ADS uploads for ``model_by_reference=True`` (its JSON schema is ADS's
``model_file_description_schema.json``): each object under the prefix by name, **version** and size, so that
the deployment downloads exactly those versions even after the files are overwritten. The bucket must
therefore keep versions (the adapter refuses one that does not).

The identity is a digest of what the description pins (namespace, bucket, prefix, each object's name,
version and size): a weight file written again is a new version, hence a new identity and a new model,
while an unchanged prefix plans nothing. Listing order does not matter.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from reconciler.core.manifest_weights import WeightsLocation

#: the start of a by-reference model's artifact identity (``mdr-artifact`` tag), after ``sha256:`` (a local
#: artifact) and ``oci:`` (an uploaded zip)
IDENTITY_PREFIX = "weights:"
DESCRIPTION_FILE = "model_description.json"
DESCRIPTION_VERSION = "1.0"
DESCRIPTION_TYPE = "modelOSSReferenceDescription"
#: the custom metadata ADS sets on a model by reference, which the service reads to treat the artifact as
#: a description rather than as the model's files
DESCRIPTION_METADATA = ("modelDescription", "true")
#: what a conda (DEFAULT environment) deployment runs: these must be among the weights, at the prefix's top
CONDA_FILES = ("score.py", "runtime.yaml")


@dataclass(frozen=True, order=True)
class WeightObject:
    """One object of the weights, as the description pins it."""

    name: str  # the full object name (prefix included), as ListObjects gives it
    version: str
    size: int


@dataclass(frozen=True)
class WeightsListing:
    location: WeightsLocation
    objects: tuple[WeightObject, ...]

    @property
    def total_bytes(self) -> int:
        return sum(o.size for o in self.objects)


def weights_identity(listing: WeightsListing) -> str:
    """``weights:<sha256>`` of what the description pins, independent of listing order."""
    where = listing.location
    pinned = [
        where.namespace,
        where.bucket,
        where.prefix,
        [[o.name, o.version, o.size] for o in sorted(listing.objects)],
    ]
    digest = hashlib.sha256(json.dumps(pinned, separators=(",", ":")).encode()).hexdigest()
    return IDENTITY_PREFIX + digest


def is_weights_identity(identity: str) -> bool:
    return identity.startswith(IDENTITY_PREFIX)


def model_description(listing: WeightsListing) -> dict[str, Any]:
    """The ``model_description.json`` document, in ADS's shape."""
    where = listing.location
    return {
        "version": DESCRIPTION_VERSION,
        "type": DESCRIPTION_TYPE,
        "models": [
            {
                "namespace": where.namespace,
                "bucketName": where.bucket,
                "prefix": where.prefix,
                "objects": [
                    {"name": o.name, "version": o.version, "sizeInBytes": o.size}
                    for o in sorted(listing.objects)
                ],
            }
        ],
    }


def description_bytes(listing: WeightsListing) -> bytes:
    """The description as uploaded: the same bytes for the same listing."""
    return json.dumps(model_description(listing), indent=2).encode()


def missing_conda_files(listing: WeightsListing) -> list[str]:
    """The files a conda deployment needs that are not directly under the prefix (empty when none)."""
    names = {o.name for o in listing.objects}
    return [f for f in CONDA_FILES if listing.location.prefix + f not in names]
