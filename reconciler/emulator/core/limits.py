"""Service limits the emulator can enforce: a request rate, and concurrent work requests per compartment.

Off until configured (``POST /_emulator/limits``, or ``Server.limits.configure``), so that tests which do not
ask for them never see a throttled call. ``DEFAULT_LIMITS`` are the values the benchmark and ``{"preset":
"default"}`` use; they are chosen for a 2-CPU laptop, not copied from a tenancy (OCI does not publish its
per-API rates). The answers are OCI's:

- over the request rate (a token bucket over every signed call of the tenancy): **429 TooManyRequests**,
  which the SDK retries with backoff;
- a call that would start a work request while the compartment already has ``work_requests_per_compartment``
  of them accepted or in progress: **400 LimitExceeded** (the code OCI uses for a limit of the tenancy; the
  SDK does not retry it). Nothing is changed by the refused call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.http import Request, Response, error_response
from reconciler.emulator.core.store import Store

#: route operations that start a work request (the only calls the work-request limit refuses)
WORK_REQUEST_OPERATIONS = frozenset(
    {
        "CreateModelDeployment",
        "UpdateModelDeployment",
        "DeleteModelDeployment",
        "ActivateModelDeployment",
        "DeactivateModelDeployment",
        "ChangeModelDeploymentCompartment",
        "DeleteProject",
        "ExportModelArtifact",
        "ImportModelArtifact",
        "CreateLogGroup",
        "UpdateLogGroup",
        "DeleteLogGroup",
        "CreateLog",
        "UpdateLog",
        "DeleteLog",
    }
)
#: the state collections that hold work requests
WORK_REQUEST_COLLECTIONS = ("ds_work_requests", "log_work_requests")
OPEN = frozenset({"ACCEPTED", "IN_PROGRESS", "CANCELING"})
LIMIT_KEYS = ("requests_per_second", "burst", "work_requests_per_compartment")


@dataclass(frozen=True)
class LimitConfig:
    """0 turns a limit off."""

    requests_per_second: float = 0.0
    #: calls that may arrive at once after a quiet spell (0: as many as one second's rate)
    burst: float = 0.0
    work_requests_per_compartment: int = 0

    def updated(self, data: dict[str, Any]) -> LimitConfig:
        """These limits with the keys ``data`` names replaced; ``{"preset": "default"|"off"}`` starts from
        ``DEFAULT_LIMITS`` or no limits. An unknown key or a negative value is an error."""
        data = dict(data)
        preset = data.pop("preset", None)
        if preset not in (None, "default", "off"):
            raise ValueError(f"preset must be default or off; got {preset!r}")
        unknown = sorted(set(data) - set(LIMIT_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: preset, {', '.join(LIMIT_KEYS)}")
        base = {"default": DEFAULT_LIMITS, "off": LimitConfig(), None: self}[preset]
        merged = {**asdict(base), **data}
        config = LimitConfig(
            requests_per_second=float(merged["requests_per_second"]),
            burst=float(merged["burst"]),
            work_requests_per_compartment=int(merged["work_requests_per_compartment"]),
        )
        if min(config.requests_per_second, config.burst, config.work_requests_per_compartment) < 0:
            raise ValueError("limits cannot be negative")
        return config


DEFAULT_LIMITS = LimitConfig(requests_per_second=200.0, burst=200.0, work_requests_per_compartment=40)


class Limits:
    """The configured limits, the rate's token bucket, and how many calls each limit refused."""

    def __init__(self, config: LimitConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or LimitConfig()
        self._tokens = self._capacity()
        self._last = time.monotonic()
        self.refused: Counter[str] = Counter()

    def _capacity(self) -> float:
        return self.config.burst or self.config.requests_per_second

    def configure(self, config: LimitConfig) -> None:
        with self._lock:
            self.config = config
            self._tokens = self._capacity()
            self._last = time.monotonic()

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {**asdict(self.config), "refused": dict(sorted(self.refused.items()))}

    def handle(self, request: Request) -> Response | None:
        """``GET``/``POST /_emulator/limits`` (partial, like the faults); None for any other path."""
        if request.path != "/_emulator/limits":
            return None
        if request.method == "POST":
            try:
                self.configure(self.config.updated(request.json_object()))
            except (ValueError, TypeError, ApiError) as exc:
                return error_response(ApiError(400, "InvalidParameter", f"bad limits: {exc}"))
        return Response(200, self.to_dict())

    def throttle(self, operation: str) -> ApiError | None:
        """429 when the tenancy's request rate is spent (one token per call, refilled at the rate)."""
        with self._lock:
            rate = self.config.requests_per_second
            if rate <= 0:
                return None
            now = time.monotonic()
            self._tokens = min(self._capacity(), self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            self.refused["TooManyRequests"] += 1
        return ApiError(
            429, "TooManyRequests", f"too many requests for the tenancy ({operation}); retry later"
        )

    def admit(self, store: Store, operation: str, request: Request) -> None:
        """Refuse (400 LimitExceeded) a call that would start one work request too many in its compartment.

        Called under the store's lock, just before the handler, so two calls cannot both take the last slot.
        """
        limit = self.config.work_requests_per_compartment
        if limit <= 0 or operation not in WORK_REQUEST_OPERATIONS:
            return
        compartment = _compartment(store, request)
        if compartment is None:
            return  # the handler answers for an unknown resource
        running = sum(
            1
            for collection in WORK_REQUEST_COLLECTIONS
            for wr in store.data[collection].values()
            if wr["status"] in OPEN and wr["compartmentId"] == compartment
        )
        if running >= limit:
            with self._lock:
                self.refused["LimitExceeded"] += 1
            raise ApiError(
                400,
                "LimitExceeded",
                f"compartment {compartment} already has {running} work requests in progress, the most "
                f"allowed at once ({limit}); retry when one has finished",
            )


def _compartment(store: Store, request: Request) -> str | None:
    """The compartment a call works in: its body's, or that of the resource (or log group) it names."""
    try:
        body = request.json() if request.body else {}
    except ApiError:
        return None  # the handler refuses a body that is not JSON
    if isinstance(body, dict) and isinstance(body.get("compartmentId"), str):
        return str(body["compartmentId"])
    for name in ("id", "group"):
        resource_id = request.params.get(name)
        if not resource_id:
            continue
        for collection in store.data.values():
            resource = collection.get(resource_id)
            if isinstance(resource, dict) and resource.get("compartmentId"):
                return str(resource["compartmentId"])
    return None
