"""What ``mdr controller`` runs: one stack (a tree whose root has an ``mdr.yaml``, exactly as before) or a
fleet (every stack under the tree), behind one HTTP server and one set of signal handlers.

The root decides: a root with an ``mdr.yaml`` is served by a single ``Controller`` with the ``/status`` of
one stack; otherwise the ``Fleet`` discovers the stacks below it and ``/status`` lists them under ``stacks``.
Both answer the same POST routes (``api``): push webhooks and manual sync.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import replace
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from reconciler.adapters.cloud import Target, open_provider
from reconciler.adapters.source import GitSource, LocalSource, SourceError
from reconciler.core.errors import MdrError
from reconciler.core.stack import STACK_FILE
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.controller.api import ApiSecrets, ControllerApi
from reconciler.engine.controller.config import ControllerConfig
from reconciler.engine.controller.dashboard import Dashboard
from reconciler.engine.controller.endpoints import serve_endpoints
from reconciler.engine.controller.fleet import Fleet, Shards
from reconciler.engine.controller.loop import Controller
from reconciler.engine.controller.sharding import ShardLeases

log = logging.getLogger("mdr.controller")


class SingleStack:
    """The one-stack controller as the API sees it."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def stack(self, name: str | None) -> Controller | None:
        current = self.controller.status().get("stack")
        return self.controller if name is None or name == current else None

    def pull(self, reason: str) -> None:
        self.controller.pull(reason)


class ControllerHost:
    def __init__(
        self,
        config: ControllerConfig,
        target: Target,
        options: Callable[[], ApplyOptions],
        secrets: ApiSecrets,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.registry = CollectorRegistry()
        source = _source(config)
        try:
            root = source.refresh().root
        except SourceError as exc:
            raise MdrError(f"cannot read the manifests at start: {exc}") from exc
        self.fleet: Fleet | None = None
        self.single: Controller | None = None
        if (root / STACK_FILE).is_file():
            if config.shard_bucket:
                raise MdrError(
                    f"--shard-bucket shares the stacks of a tree among replicas, but {root} is one stack: "
                    "its replicas already take turns through the stack lock. Drop --shard-bucket"
                )
            self.single = Controller(config, target, options())
        else:
            if target.local:
                raise MdrError(
                    f"{root} holds several stacks; --local runs one stack's sandbox. Start `mdr emulator` "
                    "and point --endpoint at it, or give the folder of one stack"
                )
            self.fleet = Fleet(config, target, options, source, _shards(config, target))
        self._server: ThreadingHTTPServer | None = None

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: Any) -> None:
            log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
            self.shutdown()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def shutdown(self) -> None:
        if self.fleet is not None:
            self.fleet.shutdown()
        if self.single is not None:
            self.single.stop.set()
            self.single.trigger.set()

    def run(self) -> int:
        if self.config.listen:
            self._serve(*self.config.listen)
        try:
            if self.fleet is not None:
                return self.fleet.run()
            assert self.single is not None
            return self.single.run()
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()

    def _serve(self, host: str, port: int) -> None:
        branch = self.config.branch if self.config.git_url else None
        if self.fleet is not None:
            api = ControllerApi(self.fleet, self.secrets, branch, self.registry)
            fleet = self.fleet
            self._server = serve_endpoints(
                host,
                port,
                fleet.status,
                lambda: fleet.render_metrics() + generate_latest(self.registry),
                None,
                api,
            )
            return
        assert self.single is not None
        single = self.single
        api = ControllerApi(SingleStack(single), self.secrets, branch, self.registry)
        auth = self.secrets.sync_token is not None
        pages = Dashboard(lambda: replace(single.dashboard_snapshot(), auth_configured=auth))
        self._server = serve_endpoints(
            host,
            port,
            single.status,
            lambda: single.metrics.render() + generate_latest(self.registry),
            pages,
            api,
        )


def _shards(config: ControllerConfig, target: Target) -> Shards | None:
    if not config.shard_bucket:
        return None
    return ShardLeases(open_provider(target), config.shard_bucket, config.shard_ttl)


def _source(config: ControllerConfig) -> LocalSource | GitSource:
    if config.git_url:
        return GitSource(config.git_url, config.branch, config.git_subdir)
    assert config.path is not None
    return LocalSource(config.path)
