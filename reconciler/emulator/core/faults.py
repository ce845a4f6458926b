"""Faults injected on purpose, for tests and benchmarks: latency, error answers, failed work requests, and
operations the caller is not allowed (as a missing IAM policy statement answers)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.emulator.core.errors import ApiError

ERROR_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}


#: the keys of ``POST /_emulator/faults`` (documented in docs/cli.md, "mdr emulator")
FAULT_KEYS = (
    "latency_ms",
    "error_rates",
    "fail_work_requests",
    "fail_deployments_for_models",
    "deny_operations",
    "seed",
)

#: what OCI answers a call that no policy allows: the same 404 as for a resource that does not exist, so
#: that a caller learns nothing about resources it may not see (shared/reference/oci-api.md, section 5.1)
DENIED = (404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")


@dataclass
class FaultConfig:
    """Faults injected on purpose, for tests and benchmarks."""

    latency_ms: float = 0.0
    #: operation name (or "*") -> {HTTP status: probability}, e.g. {"*": {429: 0.1, 500: 0.05}}
    error_rates: dict[str, dict[int, float]] = field(default_factory=dict)
    #: probability that a work request ends FAILED (with an error in /errors)
    fail_work_requests: float = 0.0
    #: deployments of these models end FAILED
    fail_deployments_for_models: set[str] = field(default_factory=set)
    #: operations (e.g. "ListLogGroups") answered as if no IAM policy allowed them, every time
    deny_operations: set[str] = field(default_factory=set)
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fail_deployments_for_models"] = sorted(self.fail_deployments_for_models)
        data["deny_operations"] = sorted(self.deny_operations)
        data["error_rates"] = {
            op: {str(k): v for k, v in rates.items()} for op, rates in self.error_rates.items()
        }
        return data

    def updated(self, data: dict[str, Any]) -> FaultConfig:
        """These faults with the keys ``data`` names replaced (``POST /_emulator/faults`` is partial: a key
        it does not name keeps its value). An unknown key is an error, never silently ignored."""
        unknown = sorted(set(data) - set(FAULT_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(FAULT_KEYS)}")
        return FaultConfig.from_dict({**self.to_dict(), **data})

    @staticmethod
    def from_dict(data: dict[str, Any]) -> FaultConfig:
        rates = {
            op: {int(status): float(p) for status, p in values.items()}
            for op, values in (data.get("error_rates") or {}).items()
        }
        return FaultConfig(
            latency_ms=float(data.get("latency_ms", 0.0)),
            error_rates=rates,
            fail_work_requests=float(data.get("fail_work_requests", 0.0)),
            fail_deployments_for_models=set(data.get("fail_deployments_for_models") or []),
            deny_operations=_operation_names(data.get("deny_operations")),
            seed=data.get("seed"),
        )

    def injected_error(self, operation: str, dice: random.Random) -> ApiError | None:
        """The error this call answers with: a denied operation's 404, or an error the configured rates draw
        (the operation's, then "*")."""
        if operation in self.deny_operations:
            return ApiError(*DENIED)
        for key in (operation, "*"):
            for status, probability in (self.error_rates.get(key) or {}).items():
                if dice.random() < probability:
                    code = ERROR_CODES.get(status, "InternalServerError")
                    return ApiError(status, code, f"injected fault {status} for {operation}")
        return None


def _operation_names(value: Any) -> set[str]:
    """``deny_operations`` as a set; a bare string would otherwise deny its letters, silently."""
    if value is None:
        return set()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError('deny_operations must be a list of operation names, e.g. ["ListLogGroups"]')
    return set(value)
