"""``mdr doctor``: is the target reachable, and may this caller read everything a plan of the stack reads?

Each check is one read-only call, the one a plan (or the stack lock) would make, so a FAIL here is the
``NotAuthorizedOrNotFound`` a plan would stop at, found up front and named with the policy statement that
fixes it (docs/iam.md). Nothing is written: OCI has no dry run for a write, and a probe that creates and
deletes would change the tenancy it is meant to inspect, so write permissions are not probed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import oci

from reconciler.adapters.artifact_weights import (
    BucketNotVersioned,
    WeightsError,
    enable_versioning_command,
    read_weights,
)
from reconciler.adapters.cloud_errors import CloudError, cloud_errors, describe_cloud_error
from reconciler.core.canonical import TAG_STACK
from reconciler.core.errors import MdrError
from reconciler.core.manifest import ObjectLocation
from reconciler.core.manifest_weights import parse_weights_uri
from reconciler.core.stack import Stack

WRITES_NOT_PROBED = (
    "writes are not probed (OCI has no dry run, and doctor changes nothing): apply also needs "
    "'manage data-science-family' and 'manage log-groups' in the stack's compartments (docs/iam.md)"
)
NAMESPACE_POLICY = "Allow <subject> to read objectstorage-namespaces in tenancy"


@dataclass(frozen=True)
class Check:
    """One read a plan depends on: what was tried, whether it was allowed, and the fix when it was not."""

    what: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"OK   {self.what}: {self.detail}"
        return f"FAIL {self.what}: {self.detail}; fix: {self.fix}"


class Unreachable(MdrError):
    """The target does not answer at all: no check can run."""


Probe = Callable[[], Any]


def _try(what: str, probe: Probe, ok: Callable[[Any], str] | str, fix: str) -> tuple[Check, Any]:
    """Run one read; a refusal (any OCI error answer) becomes a FAIL line with ``fix``."""
    try:
        result = probe()
    except CloudError as exc:
        return Check(what, False, f"{exc.status} {exc.code}", fix), None
    return Check(what, True, ok if isinstance(ok, str) else ok(result)), result


def reach(provider: Any) -> Check:
    """The first call: answered at all (else ``Unreachable``), authenticated, and the namespace readable."""
    try:
        namespace = provider.call(
            "GetNamespace",
            provider.object_storage.get_namespace,
            retry_strategy=oci.retry.NoneRetryStrategy(),
        ).data
    except CloudError as exc:
        if exc.code is None:  # not OCI's JSON error: another server (or a proxy) answered
            raise Unreachable(
                f"cannot reach {provider.label}: it answered {exc.status} without an OCI error code, so it is "
                "not an OCI endpoint (check the URL, and any HTTP proxy set in the environment)"
            ) from None
        if exc.status == 401:
            fix = "check the profile's user, fingerprint and key_file, or the --auth mode (docs/auth.md)"
            return Check(f"authenticate to {provider.label}", False, f"{exc.status} {exc.code}", fix)
        return Check("GetNamespace", False, f"{exc.status} {exc.code}", NAMESPACE_POLICY)
    except cloud_errors() as exc:
        raise Unreachable(f"cannot reach {provider.label}: {_reason(exc)}") from None
    return Check(f"reach {provider.label}", True, f"authenticated; Object Storage namespace {namespace}")


def _reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection (``[Errno 111] Connection refused``) rather than
    the SDK's paragraph around them; the whole description when there are none."""
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+|timed out", str(exc))
    return found.group(0).strip() if found else describe_cloud_error(exc)


def _data_science_policy(compartment: str) -> str:
    return f"Allow <subject> to read data-science-family in compartment id {compartment}"


def _log_groups_policy(compartment: str) -> str:
    return f"Allow <subject> to inspect log-groups in compartment id {compartment}"


def compartment_checks(provider: Any, compartment: str) -> Iterator[Check]:
    """The list calls a plan makes in each compartment: deployments, models, shapes, log groups."""
    ds, where = provider.data_science, f"in compartment {compartment}"
    reads = (
        ("ListModelDeployments", ds.list_model_deployments, "deployments"),
        ("ListModels", ds.list_models, "models"),
        ("ListModelDeploymentShapes", ds.list_model_deployment_shapes, "shapes"),
    )
    for operation, fn, noun in reads:

        def probe(fn: Any = fn, operation: str = operation) -> Any:
            return provider.call(operation, fn, compartment, limit=1)

        check, _ = _try(
            f"{operation} {where}",
            probe,
            f"{noun} readable",
            _data_science_policy(compartment),
        )
        yield check
    check, _ = _try(
        f"ListLogGroups {where}",
        lambda: provider.call("ListLogGroups", provider.logging.list_log_groups, compartment, limit=1),
        "log groups readable",
        _log_groups_policy(compartment),
    )
    yield check


def project_check(provider: Any, project: str) -> Check:
    check, _ = _try(
        f"GetProject {project}",
        lambda: provider.call("GetProject", provider.data_science.get_project, project),
        lambda r: f"{r.data.lifecycle_state}",
        "the project must exist in the stack's region, and: Allow <subject> to read data-science-family in "
        "the project's compartment",
    )
    if check.ok and check.detail != "ACTIVE":
        return Check(check.what, False, f"the project is {check.detail}", "use an ACTIVE project")
    return check


def log_group_checks(
    provider: Any, compartment: str, name: str | None, group_id: str | None
) -> Iterator[Check]:
    """A log group the manifests name: found (by id, or by name in its compartment) and its logs listable.

    A named group that does not exist yet is fine: apply creates it."""
    if group_id is not None:
        check, found = _try(
            f"GetLogGroup {group_id}",
            lambda: provider.call("GetLogGroup", provider.logging.get_log_group, group_id),
            lambda r: f"log group {r.data.display_name}",
            "the log group must exist, and: Allow <subject> to inspect log-groups in its compartment",
        )
        yield check
        if found is None:
            return
        group = group_id
    else:
        check, found = _try(
            f"ListLogGroups named {name} in compartment {compartment}",
            lambda: provider.call(
                "ListLogGroups", provider.logging.list_log_groups, compartment, display_name=name, limit=1
            ),
            lambda r: "found" if r.data else "not there yet: apply creates it",
            _log_groups_policy(compartment),
        )
        yield check
        if found is None or not found.data:
            return
        group = found.data[0].id
    logs, _ = _try(
        f"ListLogs in log group {name or group_id}",
        lambda: provider.call("ListLogs", provider.logging.list_logs, group, limit=1),
        "logs readable",
        _log_groups_policy(compartment),
    )
    yield logs


def bucket_check(provider: Any, role: str, location: ObjectLocation, local: bool) -> Check:
    """The bucket of the stack lock or of staged artifacts: there, and its objects listable."""
    try:
        namespace = location.namespace or provider.namespace()
    except CloudError as exc:
        return Check(
            f"{role} bucket {location.bucket}", False, f"namespace: {exc.status} {exc.code}", NAMESPACE_POLICY
        )
    what = f"{role} bucket {location.bucket} (namespace {namespace})"
    check, _ = _try(
        what,
        lambda: provider.call(
            "ListObjects",
            provider.object_storage.list_objects,
            namespace,
            location.bucket,
            prefix=location.prefix,
            limit=1,
        ),
        "objects readable",
        f"create the bucket if it is missing (oci os bucket create --name {location.bucket} "
        f"--compartment-id <OCID>), and: Allow <subject> to manage objects in compartment "
        f"<bucket-compartment> where target.bucket.name = '{location.bucket}'",
    )
    if local and not check.ok and check.detail.startswith("404"):
        return Check(what, True, "created at the first write by the embedded emulator (--local)")
    return check


def object_check(provider: Any, uri: str) -> Check:
    """An ``oci://bucket@namespace/object`` artifact: readable, as the plan's HEAD will need it to be."""
    bucket_ns, _, name = uri[len("oci://") :].partition("/")
    bucket, _, namespace = bucket_ns.partition("@")
    check, _ = _try(
        f"HeadObject {uri}",
        lambda: provider.call("HeadObject", provider.object_storage.head_object, namespace, bucket, name),
        "readable",
        f"the object must exist, and: Allow <subject> to read objects in compartment <bucket-compartment> "
        f"where target.bucket.name = '{bucket}'",
    )
    return check


def weights_check(provider: Any, uri: str) -> Check:
    """Weights by reference: the bucket versioned and the prefix listable, as the plan will list it."""
    where = parse_weights_uri(uri)
    what = f"weights {uri}"
    try:
        listing = read_weights(provider, uri)
    except BucketNotVersioned:
        return Check(what, False, f"bucket {where.bucket} is not versioned", enable_versioning_command(where))
    except WeightsError as exc:
        fix = (
            "the bucket and prefix must hold the weights, and: Allow <subject> to read objects in compartment "
            f"<bucket-compartment> where target.bucket.name = '{where.bucket}'"
        )
        return Check(what, False, str(exc), fix)
    size = listing.total_bytes
    return Check(what, True, f"bucket versioned; {len(listing.objects)} objects ({size} bytes) listable")


def search_check(provider: Any, stack: str) -> Check:
    """Resource Search, with which a plan finds the stack's resources moved to other compartments (the
    plan's own query)."""
    details = oci.resource_search.models.StructuredSearchDetails(
        type="Structured",
        query=f"query all resources where (freeformTags.key = '{TAG_STACK}' && freeformTags.value = '{stack}')",
    )
    check, _ = _try(
        "SearchResources",
        lambda: provider.call("SearchResources", provider.resource_search.search_resources, details, limit=1),
        "resource search answers",
        "Allow <subject> to inspect data-science-family in tenancy (search shows only what the caller may "
        "inspect)",
    )
    return check


def run_checks(stack: Stack, provider: Any, local: bool = False) -> Iterator[Check]:
    """Every check for this stack, in a stable order; stops only when the target cannot be reached."""
    assert stack.config is not None
    first = reach(provider)
    yield first
    if not first.ok and first.what.startswith("authenticate"):
        return  # every other call would answer 401 as well
    config = stack.config
    compartments = {d.compartment_id for d in stack.deployments}
    compartments |= {c for c in (config.defaults.compartmentId,) if c is not None}
    unlisted: set[str] = set()  # compartments whose log groups may not be listed: said once, not per group
    for compartment in sorted(compartments):
        for check in compartment_checks(provider, compartment):
            if not check.ok and check.what.startswith("ListLogGroups"):
                unlisted.add(compartment)
            yield check
    projects = {d.project_id for d in stack.deployments}
    projects |= {p for p in (config.defaults.projectId,) if p is not None}
    for project in sorted(projects):
        yield project_check(provider, project)
    groups: dict[tuple[str, str | None, str | None], None] = {}
    for deployment in stack.deployments:
        logging = deployment.manifest.spec.logging
        if logging is not None:
            groups[(deployment.compartment_id, logging.logGroup.name, logging.logGroup.id)] = None
    for compartment, name, group_id in sorted(groups, key=str):
        if group_id is not None or compartment not in unlisted:
            yield from log_group_checks(provider, compartment, name, group_id)
    yield search_check(provider, config.stack)
    for role, location in (("lock", config.lock), ("artifact staging", config.artifacts)):
        # without the namespace (its FAIL is above) a bucket named without one cannot be looked at
        if location is not None and (first.ok or location.namespace is not None):
            yield bucket_check(provider, role, location, local)
    uris = {d.manifest.spec.model.artifact for d in stack.deployments if d.manifest.spec.model is not None}
    for uri in sorted(u for u in uris if u is not None and u.startswith("oci://")):
        yield object_check(provider, uri)
    models = [d.manifest.spec.model for d in stack.deployments if d.manifest.spec.model is not None]
    for uri in sorted({m.weights for m in models if m.weights is not None}):
        yield weights_check(provider, uri)
