"""Weights by reference (``spec.model.weights``): list them in Object Storage, never read or write a byte.

A plan lists the objects under the prefix (ListObjects: name, size, md5, etag) and their versions
(ListObjectVersions), as ADS does for ``model_by_reference=True``: an object's current version is the one
with its etag. Apply lists again and uploads the ``model_description.json`` built from that listing, refusing
weights that changed since the plan. A bucket that does not keep versions is refused, with the command that
turns versioning on: the description pins versions, which such a bucket loses at the next overwrite.
"""

from __future__ import annotations

from typing import Any

from reconciler.adapters.cloud_errors import CloudError, NotFound
from reconciler.core.errors import MdrError
from reconciler.core.manifest_weights import WeightsLocation, parse_weights_uri
from reconciler.core.weights import WeightObject, WeightsListing, missing_conda_files, weights_identity

#: the ListObjects fields read (name always comes); etag finds each object's current version
LISTED_FIELDS = "name,size,md5,etag"
VERSION_FIELDS = "name,etag"


class WeightsError(MdrError):
    """Weights named by a manifest cannot be referenced (missing, unreadable, or an empty prefix)."""


class BucketNotVersioned(WeightsError):
    """The bucket does not keep object versions (ADS: ``BucketNotVersionedError``)."""


def enable_versioning_command(where: WeightsLocation) -> str:
    return f"oci os bucket update --namespace {where.namespace} --bucket-name {where.bucket} --versioning Enabled"


def bucket_versioning(provider: Any, where: WeightsLocation) -> str:
    """The bucket's ``versioning`` (Enabled, Suspended or Disabled), as GetBucket reports it."""
    try:
        bucket = provider.call(
            "GetBucket", provider.object_storage.get_bucket, where.namespace, where.bucket
        ).data
    except CloudError as exc:
        raise WeightsError(_unreadable(where, exc)) from None
    return str(bucket.versioning or "Disabled")


def check_versioned(provider: Any, where: WeightsLocation) -> None:
    versioning = bucket_versioning(provider, where)
    if versioning != "Enabled":
        raise BucketNotVersioned(
            f"weights {where.uri}: bucket {where.bucket} is not versioned (versioning: {versioning}); a model "
            "by reference pins object versions, so the bucket must keep them. Enable versioning: "
            + enable_versioning_command(where)
        )


def read_weights(provider: Any, uri: str) -> WeightsListing:
    """The objects under the prefix, each with its current version; only list calls are made."""
    where = parse_weights_uri(uri)
    check_versioned(provider, where)
    try:
        current = _list_objects(provider, where)
        versions = _list_versions(provider, where)
    except CloudError as exc:
        raise WeightsError(_unreadable(where, exc)) from None
    objects: list[WeightObject] = []
    for name, size, etag in current:
        if name.endswith("/") and not size:
            continue  # a folder marker the console makes, not a file
        version = versions.get((name, etag))
        if version is None:
            raise WeightsError(
                f"weights {where.uri}: object {name} has no version with its etag (written while listed?); "
                "plan again"
            )
        objects.append(WeightObject(name, version, size))
    if not objects:
        raise WeightsError(f"weights {where.uri}: no objects under this prefix (check the bucket and prefix)")
    return WeightsListing(where, tuple(sorted(objects)))


def _list_objects(provider: Any, where: WeightsLocation) -> list[tuple[str, int, str]]:
    """(name, size, etag) of every current object under the prefix (ListObjects pages by ``start``)."""
    found: list[tuple[str, int, str]] = []
    start: str | None = None
    while True:
        extra = {"start": start} if start else {}
        data = provider.call(
            "ListObjects",
            provider.object_storage.list_objects,
            where.namespace,
            where.bucket,
            prefix=where.prefix,
            fields=LISTED_FIELDS,
            **extra,
        ).data
        found.extend((o.name, int(o.size or 0), str(o.etag)) for o in data.objects or [])
        start = data.next_start_with
        if not start:
            return found


def _list_versions(provider: Any, where: WeightsLocation) -> dict[tuple[str, str], str]:
    """(name, etag) -> version id of every version under the prefix (ListObjectVersions pages by ``page``)."""
    found: dict[tuple[str, str], str] = {}
    page: str | None = None
    while True:
        extra = {"page": page} if page else {}
        response = provider.call(
            "ListObjectVersions",
            provider.object_storage.list_object_versions,
            where.namespace,
            where.bucket,
            prefix=where.prefix,
            fields=VERSION_FIELDS,
            **extra,
        )
        for item in response.data.items or []:
            if not item.is_delete_marker and item.etag:
                found[(item.name, str(item.etag))] = str(item.version_id)
        if not response.has_next_page:
            return found
        page = response.next_page


def _unreadable(where: WeightsLocation, exc: CloudError) -> str:
    fix = (
        "the bucket must exist"
        if isinstance(exc, NotFound)
        else f"Allow <subject> to read objects in compartment <bucket-compartment> where "
        f"target.bucket.name = '{where.bucket}'"
    )
    return f"weights {where.uri} cannot be listed: {exc.status} {exc.code}; {fix}"


def weights_identity_of(provider: Any, uri: str, conda: bool) -> str:
    """The model's artifact identity for ``spec.model.weights`` (what a plan compares with the live
    ``mdr-artifact`` tag). ``conda``: the deployment runs the weights' own score.py, which must be there."""
    listing = read_weights(provider, uri)
    missing = missing_conda_files(listing) if conda else []
    if missing:
        raise WeightsError(
            f"weights {uri}: a conda runtime runs score.py and runtime.yaml from the model's files, and "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not directly under this prefix; "
            "add them there, or serve the weights with runtime.type: container"
        )
    return weights_identity(listing)
