"""A model by reference at apply: the ``model_description.json`` it uploads, and the metadata that marks it.

The weights are listed again (never read): the description is built from that listing, and one that no
longer matches the plan's identity (a weight file written since) fails the change instead of registering
versions nobody reviewed. ``ModelSteps`` sends the bytes as any other artifact.
"""

from __future__ import annotations

from typing import Any

from oci.data_science import models as ds

from reconciler.adapters.artifact_weights import WeightsError, read_weights
from reconciler.core.weights import (
    DESCRIPTION_METADATA,
    description_bytes,
    is_weights_identity,
    weights_identity,
)
from reconciler.engine.apply.options import ChangeFailed


def by_reference(desired: dict[str, Any]) -> bool:
    """True for a model of ``spec.model.weights`` (its identity says so, in the plan and in its tag)."""
    return is_weights_identity(str(desired.get("identity") or ""))


def planned_description(provider: Any, desired: dict[str, Any]) -> bytes:
    """The description of the weights as they are now, which must be the ones the plan saw."""
    uri = desired["artifact"]
    try:
        listing = read_weights(provider, uri)
    except WeightsError as exc:
        raise ChangeFailed(str(exc)) from None
    identity = weights_identity(listing)
    if identity != desired["identity"]:
        raise ChangeFailed(
            f"weights {uri} changed since the plan ({identity[:20]} != {desired['identity'][:20]}); plan again"
        )
    return description_bytes(listing)


def with_description_flag(desired: dict[str, Any], custom: list[ds.Metadata]) -> list[ds.Metadata]:
    """``custom`` plus ``modelDescription=true`` for a model by reference (as ADS sets it): the service
    reads the artifact as a description of the files to fetch, not as the files."""
    if not by_reference(desired):
        return custom
    key, value = DESCRIPTION_METADATA
    return [m for m in custom if m.key != key] + [ds.Metadata(key=key, value=value, category="other")]
