"""SDK clients for one target, with deliberate retry and circuit-breaker settings and call counting.

Three targets: ``--local`` (an in-process emulator whose state lives under ``.mdr/local/``), ``--endpoint``
(one base URL for every service, e.g. a running ``mdr emulator``), or real OCI with one of four auth modes.

Retries: the SDK's default strategy retries most Data Science calls but *no* Logging call (reference §0.4);
we set one strategy at client level so that every operation is retried on 429, 5xx and 409 IncorrectState.
Creates are still safe to retry because every create carries a deterministic ``opc-retry-token``.
Circuit breaker: the SDK's default breaker is process-global and trips every client after 10 transient
failures (reference §0.5); against an emulator (where faults are injected on purpose) it is disabled, and
against OCI each provider gets its own breaker.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import oci

from reconciler.adapters.cloud_errors import classify
from reconciler.adapters.journal import make_state_dir, state_dir
from reconciler.core.errors import MdrError

AUTH_MODES = ("api_key", "instance_principal", "resource_principal", "security_token")
LIST_PAGE_SIZE = 100


class ProviderError(MdrError):
    """The target cannot be reached or configured (bad profile, missing key, unknown auth mode)."""


@dataclass(frozen=True)
class Target:
    """Where cloud calls go; built from the CLI's target options."""

    local: bool = False
    #: the embedded emulator's state: under $MDR_STATE_DIR like the journal and the audit log
    local_dir: Path = field(default_factory=lambda: state_dir() / "local")
    endpoint: str | None = None
    profile: str = "DEFAULT"
    config_file: str | None = None
    auth: str = "api_key"
    region: str | None = None

    def label(self, region: str | None) -> str:
        """Which cloud a write went to, as recorded in the audit log (never a credential)."""
        if self.local:
            return f"local:{self.local_dir.resolve()}"
        if self.endpoint:
            return f"endpoint:{self.endpoint.rstrip('/')}"
        return f"oci:{region or self.region or '?'}"

    def describe(self) -> str:
        if self.local:
            return f"local emulator ({self.local_dir})"
        if self.endpoint:
            return f"endpoint {self.endpoint}"
        return f"OCI ({self.auth}, profile {self.profile})"


def retry_strategy(fast: bool) -> Any:
    """Retry 429, 5xx and 409 IncorrectState/LockConflict with decorrelated jitter.

    ``fast`` (emulator targets) shrinks the waits so that injected faults cost milliseconds, not seconds.
    """
    base = float(os.environ.get("MDR_RETRY_BASE_SECONDS", "0.05" if fast else "1"))
    return oci.retry.RetryStrategyBuilder(
        max_attempts_check=True,
        max_attempts=int(os.environ.get("MDR_RETRY_MAX_ATTEMPTS", "8")),
        total_elapsed_time_check=True,
        total_elapsed_time_seconds=60 if fast else 600,
        service_error_check=True,
        service_error_retry_config={409: ["IncorrectState", "LockConflict"], 429: []},
        service_error_retry_on_any_5xx=True,
        retry_base_sleep_time_seconds=base,
        retry_max_wait_between_calls_seconds=1 if fast else 30,
        backoff_type=oci.retry.BACKOFF_DECORRELATED_JITTER_VALUE,
    ).get_retry_strategy()


@dataclass
class CallStats:
    """API calls made through this provider, by operation; thread-safe (apply runs calls concurrently)."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, ok: bool) -> None:
        with self._lock:
            self.counts[operation] += 1
            if not ok:
                self.errors[operation] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self.counts.items()))


class Cloud(Protocol):
    """What the engine needs of a cloud target: the SDK clients and counted calls that raise typed errors.

    ``Provider`` is the real one; anything with these members (a recording wrapper, a test double at this
    boundary) can stand in for it. Calls raise ``reconciler.adapters.cloud_errors`` types, never raw
    ``ServiceError``s.
    """

    data_science: Any
    logging: Any
    object_storage: Any
    #: OCI Vault's Secrets API (GetSecretBundle), for ``secretEnv: {NAME: {fromVault: <secret OCID>}}``
    secrets: Any
    endpoint: str | None
    region: str | None
    stats: CallStats

    def call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    def list_all(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]: ...

    def namespace(self) -> str: ...


def api_key_signer(config: dict[str, Any]) -> Any:
    """One signer per API key in the process: a fleet's stacks each open a provider, and parsing the
    private key (~35 ms of CPU) per stack made starting 50 of them at once slow. A key file rewritten in
    place (rotated) is read again."""
    key_file = config.get("key_file")
    try:
        changed = os.stat(os.path.expanduser(key_file)).st_mtime_ns if key_file else None
    except OSError:
        changed = None  # the Signer says what is wrong with the file
    fields = ("tenancy", "user", "fingerprint", "key_file", "pass_phrase", "key_content")
    return _signer(*(config.get(f) for f in fields), changed)


@functools.lru_cache(maxsize=16)
def _signer(
    tenancy: str,
    user: str,
    fingerprint: str,
    key_file: str | None,
    pass_phrase: str | None,
    key_content: str | None,
    changed: int | None,
) -> Any:
    return oci.signer.Signer(
        tenancy,
        user,
        fingerprint,
        private_key_file_location=key_file,
        pass_phrase=pass_phrase,
        private_key_content=key_content,
    )


class Provider:
    """The SDK clients of one target plus counting wrappers; everything cloud-facing goes through here."""

    def __init__(
        self,
        config: dict[str, Any],
        signer: Any | None,
        endpoint: str | None,
        fast: bool,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        breaker: Any = (
            oci.circuit_breaker.NoCircuitBreakerStrategy()
            if fast
            else (oci.circuit_breaker.CircuitBreakerStrategy(failure_threshold=10, recovery_timeout=30))
        )
        kwargs: dict[str, Any] = {"retry_strategy": retry_strategy(fast), "circuit_breaker_strategy": breaker}
        if signer is None and config.get("user") and (config.get("key_file") or config.get("key_content")):
            signer = api_key_signer(config)  # load the key once, not once per client
        if signer is not None:
            kwargs["signer"] = signer
        if endpoint:
            kwargs["service_endpoint"] = endpoint
        self.config = config
        self.endpoint = endpoint
        self.region = config.get("region")
        self.data_science = oci.data_science.DataScienceClient(config, **kwargs)
        self.logging = oci.logging.LoggingManagementClient(config, **kwargs)
        self.object_storage = oci.object_storage.ObjectStorageClient(config, **kwargs)
        self.resource_search = oci.resource_search.ResourceSearchClient(config, **kwargs)
        #: Log Search (SearchLogs) for ``mdr logs``: a deployment's access and predict log entries
        self.log_search = oci.loggingsearch.LogSearchClient(config, **kwargs)
        self.secrets = oci.secrets.SecretsClient(config, **kwargs)
        #: OCI Notifications' data plane (PublishMessage) for the controller's ``oci`` sinks. No SDK retries
        #: and no breaker: the notifier retries with its own backoff in a thread of its own, and its failures
        #: must never trip a breaker the reconciling clients share; outside the API budget for the same reason
        self.notifications = oci.ons.NotificationDataPlaneClient(
            config,
            **{
                **kwargs,
                "retry_strategy": oci.retry.NoneRetryStrategy(),
                "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
                "timeout": (5.0, 10.0),
            },
        )
        self.stats = CallStats()
        #: which cloud this is, for the audit log (``Target.label``)
        self.label = f"endpoint:{endpoint}" if endpoint else f"oci:{self.region}"
        self.budget: Any = None
        self._namespace: str | None = None
        self._on_close = on_close
        #: list pages shared with the other stacks of a fleet (``shared_reads.SharedReads``), or None
        self.shared_reads: Any = None

    def attach_budget(self, budget: Any) -> None:
        """Spend one token per call and let every HTTP answer (retries included) steer the rate."""
        self.budget = budget

        def observe(response: Any, *args: Any, **kwargs: Any) -> None:
            if response.status_code == 429:
                budget.on_throttled()
            elif response.status_code < 500:
                budget.on_success()

        for client in (
            self.data_science,
            self.logging,
            self.object_storage,
            self.resource_search,
            self.log_search,
            self.secrets,
        ):
            client.base_client.session.hooks["response"].append(observe)

    def call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One API call (with the SDK's retries inside), counted under ``operation``."""
        if self.budget is not None:
            self.budget.acquire()
        try:
            response = fn(*args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            self.stats.record(operation, ok=False)
            raise classify(exc) from None
        finally:
            if self.shared_reads is not None:  # a write (even a failed one) drops the shared pages
                self.shared_reads.after_call(operation)
        self.stats.record(operation, ok=True)
        return response

    def list_all(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Every item of a paginated list call, 100 per page; each page is one counted call."""
        items: list[Any] = []
        page: str | None = None
        while True:
            extra = {"page": page} if page else {}
            response = self.call(operation, fn, *args, limit=LIST_PAGE_SIZE, **kwargs, **extra)
            items.extend(response.data)
            if not response.has_next_page:
                return items
            page = response.next_page

    def namespace(self) -> str:
        if self._namespace is None:
            self._namespace = str(self.call("GetNamespace", self.object_storage.get_namespace).data)
        return self._namespace

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _api_key_config(target: Target) -> dict[str, Any]:
    path = target.config_file or os.environ.get("OCI_CLI_CONFIG_FILE") or "~/.oci/config"
    try:
        config = oci.config.from_file(os.path.expanduser(path), target.profile)
    except (
        oci.exceptions.ConfigFileNotFound,
        oci.exceptions.ProfileNotFound,
        oci.exceptions.InvalidConfig,
    ) as exc:
        raise ProviderError(f"cannot load OCI config {path} profile {target.profile}: {exc}") from exc
    if target.region:
        config["region"] = target.region
    return dict(config)


def _signer_for(target: Target) -> tuple[dict[str, Any], Any | None]:
    if target.auth == "api_key":
        return _api_key_config(target), None
    if target.auth == "security_token":
        config = _api_key_config(target)
        token_file = config.get("security_token_file")
        if not token_file:
            raise ProviderError(
                f"profile {target.profile} has no security_token_file (run: oci session authenticate)"
            )
        token = Path(os.path.expanduser(token_file)).read_text().strip()
        key = oci.signer.load_private_key_from_file(config["key_file"], config.get("pass_phrase"))
        return config, oci.auth.signers.SecurityTokenSigner(token, key)
    if target.auth in ("instance_principal", "resource_principal"):
        return _principal_signer(target)
    raise ProviderError(f"unknown auth mode {target.auth!r}; choose one of {', '.join(AUTH_MODES)}")


def _principal_signer(target: Target) -> tuple[dict[str, Any], Any]:
    """Instance and resource principals only exist inside OCI: outside, a one-line error says so."""
    where = {
        "instance_principal": "on an OCI compute instance or OKE node (the instance metadata service)",
        "resource_principal": "in OCI Functions, Data Science jobs or notebooks (OCI_RESOURCE_PRINCIPAL_* set)",
    }[target.auth]
    try:
        if target.auth == "instance_principal":
            signer: Any = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
            return {"region": target.region or signer.region}, signer
        signer = oci.auth.signers.get_resource_principals_signer()
        return {"region": target.region or getattr(signer, "region", None)}, signer
    except (OSError, ValueError, KeyError, oci.exceptions.ClientError, oci.exceptions.ServiceError) as exc:
        raise ProviderError(f"--auth {target.auth} works only {where}: {exc}") from exc


def open_provider(target: Target, region: str | None = None) -> Provider:
    """Build the provider for a target; ``--local`` starts an in-process emulator that lives as long as it."""
    provider = _provider_for(target, region)
    provider.label = target.label(provider.region)
    return provider


def _provider_for(target: Target, region: str | None) -> Provider:
    if target.local:
        from reconciler.emulator import Emulator

        make_state_dir(target.local_dir)
        # a laptop sandbox: buckets named in mdr.yaml are created on first write (with a warning), since
        # there is no tenancy to check them against; `mdr emulator` refuses unknown buckets as OCI does
        emulator = Emulator(
            state_dir=target.local_dir, region=region or "us-ashburn-1", auto_create_buckets=True
        ).start()
        return Provider(emulator.oci_config(), None, emulator.url, fast=True, on_close=emulator.stop)
    if target.endpoint:
        config = _endpoint_config(target, region)
        return Provider(config, None, target.endpoint.rstrip("/"), fast=True)
    config, signer = _signer_for(target)
    if region and not target.region:
        config["region"] = region
    return Provider(config, signer, None, fast=False)


def _endpoint_config(target: Target, region: str | None) -> dict[str, Any]:
    """An endpoint target signs with an API-key profile (``mdr emulator`` writes one for itself)."""
    config = _api_key_config(target)
    if region and not target.region:
        config["region"] = region
    return config
