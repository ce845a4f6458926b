"""One controller process for every stack of a tree or git branch: discovery and the per-stack controllers.

The per-stack ``Controller`` stays the unit (its own provider, lock, gate, metrics, notifications); the fleet
reads the source once, finds the stacks (``discovery``), runs a controller per stack in its own thread, and
routes changes to them: a file under a stack's folder wakes that stack, any other file (an overlay's base)
wakes them all, a new commit wakes them all. A stack whose ``mdr.yaml`` disappears is stopped and reported
(``/status`` ``vanished``, a warning in the log): its resources are left exactly as they are, never pruned.
With sharding (``sharding.ShardLeases``) a replica runs only the stacks whose per-stack lease it holds; its
look at the leases runs on a thread and cadence of its own (``leaseloop``), never behind a discovery or the
start-up of stacks, so a dead replica's stacks are claimed within a tenth of the TTL of their expiry.
"""

from __future__ import annotations

import contextvars
import copy
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.metrics_core import Metric

from reconciler.adapters.cloud import Target
from reconciler.adapters.shared_reads import SharedReads
from reconciler.adapters.source import GitSource, LocalSource, Snapshot, SourceError
from reconciler.core.errors import MdrError
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.controller.config import ControllerConfig
from reconciler.engine.controller.discovery import Discovery, discover
from reconciler.engine.controller.leaseloop import LeaseLoop, Shards
from reconciler.engine.controller.loop import Controller
from reconciler.engine.controller.startup import Starter
from reconciler.engine.controller.triggers import watch_source

log = logging.getLogger("mdr.controller")
#: how long a list call's pages serve the other stacks of a resync (writes drop them at once)
SHARED_READ_SECONDS = 5.0
#: a stack whose controller could not start (its mdr.yaml unreadable) is tried again this often
RESTART_SECONDS = 30.0
progress_log = logging.getLogger("mdr.apply")

#: the stack a log line is about: set in each stack's controller thread, added to its records
CURRENT_STACK: contextvars.ContextVar[str | None] = contextvars.ContextVar("mdr_stack", default=None)


class StackLabel(logging.Filter):
    """Adds ``stack=NAME`` to log records made in a stack's controller thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        stack = CURRENT_STACK.get()
        if stack is not None and not hasattr(record, "stack"):
            record.stack = stack
        return True


def label_logs() -> None:
    for handler in logging.getLogger("mdr").handlers:
        if not any(isinstance(f, StackLabel) for f in handler.filters):
            handler.addFilter(StackLabel())


class StackSource(LocalSource):
    """A stack's folder inside the fleet's tree, reported at the fleet's revision (the git commit)."""

    def __init__(self, path: Path, revision: Callable[[], str | None]) -> None:
        super().__init__(path)
        self._revision = revision

    def refresh(self) -> Snapshot:
        return Snapshot(self.path, self._revision())


@dataclass
class Member:
    folder: str
    name: str
    controller: Controller
    thread: threading.Thread
    started: float = 0.0

    def ended(self) -> bool:
        """Its controller's thread ran and returned unasked (its mdr.yaml could not be read)."""
        thread = self.thread
        return thread.ident is not None and not thread.is_alive() and not self.controller.stop.is_set()


class Fleet:
    def __init__(
        self,
        config: ControllerConfig,
        target: Target,
        options: Callable[[], ApplyOptions],
        source: LocalSource | GitSource,
        shards: Shards | None = None,
    ) -> None:
        self.config = config
        self.target = target
        self._options = options
        self.source = source
        self.shards = shards
        self.stop = threading.Event()
        self.trigger = threading.Event()
        self.poke = threading.Event()
        self._lock = threading.Lock()
        self._members: dict[str, Member] = {}
        self._discovery = Discovery()
        self._vanished: dict[str, dict[str, str]] = {}
        self._snapshot: Snapshot | None = None
        self._root: Path | None = None
        #: one paginated read per compartment and resync, whichever stacks ask (``adapters.shared_reads``)
        self.shared_reads = SharedReads(max_age=SHARED_READ_SECONDS)
        self._starter = Starter(self.stop)
        self._next_resync = 0.0
        self.registry = CollectorRegistry()
        self._stacks_gauge = Gauge(
            "mdr_fleet_stacks",
            "Stacks by state: served here, elsewhere, vanished",
            ["state"],
            registry=self.registry,
        )

    # -- lifecycle --

    def run(self) -> int:
        label_logs()
        snapshot = self._refresh()
        if snapshot is None:
            raise MdrError("cannot read the manifests at start; see the error above")
        self._start_watcher(snapshot.root)
        # the search for moved deployments is shared for a whole resync; the fleet's resyncs come at least
        # this often, so a stack reconciled between two (a file change) uses one at most an interval old
        self.shared_reads.resync_max_age = self.config.interval
        leases: LeaseLoop | None = None
        if self.shards is not None:
            self._discover()  # the first look claims among the stacks found
            leases = LeaseLoop(self.shards, self._folders, self._serving, self._serve, self.stop).start()
        try:
            self._schedule_resync()
            while not self.stop.is_set():
                found = self._discover()
                if leases is None:
                    self._serve(set(found.stacks))
                else:
                    leases.wake()  # stacks may have appeared or vanished: look at once
                if time.monotonic() >= self._next_resync:
                    self.shared_reads.new_resync()
                    self._request(None, "resync")  # together, so their reads are shared
                    self._schedule_resync()
                self.trigger.wait(max(0.0, min(self.config.interval, self._next_resync - time.monotonic())))
                self.trigger.clear()
        finally:
            self.stop.set()
            if leases is not None:
                leases.join()
            self._stop_all()
            if self.shards is not None:
                self.shards.close()
        return 0

    def _schedule_resync(self) -> None:
        jitter = self.config.jitter
        self._next_resync = time.monotonic() + self.config.interval * random.uniform(1 - jitter, 1 + jitter)

    def shutdown(self) -> None:
        self.stop.set()
        self.trigger.set()

    def pull(self, reason: str) -> None:
        """A git push webhook: fetch now; a plain folder: every stack looks again."""
        if isinstance(self.source, GitSource):
            self.poke.set()
        else:
            self._request(None, reason)

    def _start_watcher(self, root: Path) -> None:
        if isinstance(self.source, GitSource):
            args: tuple[Any, ...] = (
                self.source,
                self.stop,
                lambda reason: self._request(None, reason),
                self._refresh,
                self.config.git_interval,
                self.config.debounce_ms,
                self.poke,
            )
            target: Callable[..., None] = watch_source
        else:
            args, target = (root,), self._watch_files
        threading.Thread(target=target, args=args, name="mdr-fleet-watch", daemon=True).start()

    def _watch_files(self, root: Path) -> None:
        from watchfiles import watch

        root = root.resolve()  # watchfiles reports absolute paths
        for changes in watch(root, stop_event=self.stop, debounce=self.config.debounce_ms, step=50):
            paths = [Path(p) for _, p in changes if not Path(p).name.startswith(".")]
            if not paths:
                continue
            with self._lock:
                members = list(self._members)
            folders = owners(root, members, paths)
            self._request(folders, "file change: " + ", ".join(sorted({p.name for p in paths})[:5]))

    def _request(self, folders: set[str] | None, reason: str) -> None:
        with self._lock:
            members = [m for f, m in self._members.items() if folders is None or f in folders]
        for member in members:
            member.controller.request(reason)
        self.trigger.set()  # and look for stacks that appeared or vanished

    def _refresh(self) -> Snapshot | None:
        try:
            snapshot = self.source.refresh()
        except SourceError as exc:
            log.error("cannot refresh the manifests", extra={"error": str(exc)})
            return self._snapshot
        with self._lock:
            self._snapshot, self._root = snapshot, snapshot.root
        return snapshot

    def revision(self) -> str | None:
        with self._lock:
            return self._snapshot.revision if self._snapshot else None

    # -- membership --

    def _discover(self) -> Discovery:
        """Walk the tree for stacks (on a change, a new commit, a resync); the lease loop uses the last."""
        root = self._root
        assert root is not None
        found = discover(root)
        with self._lock:
            before, self._discovery = self._discovery, found
        for problem in found.problems:
            if problem not in before.problems:
                log.error("stack not served", extra={"problem": problem})
        return found

    def _folders(self) -> list[str]:
        with self._lock:
            return sorted(self._discovery.stacks)

    def _serving(self) -> set[str]:
        with self._lock:
            return set(self._members)

    def _serve(self, wanted: set[str]) -> None:
        """Start the controllers of the ``wanted`` stacks found, stop the others (one thread calls this: the
        fleet's loop, or the lease loop when sharded). Starting one only starts its thread."""
        with self._lock:
            found = self._discovery
        self._restart_stale(found)
        serving = self._serving()
        for folder in sorted(serving - wanted):
            self._stop_member(folder, vanished=folder not in found.stacks)
        started = [
            self._start_member(folder, found)
            for folder in sorted(found.stacks)
            if folder in wanted and folder not in serving
        ]
        if started:
            self._starter.add(started)
        self._count()

    def _restart_stale(self, found: Discovery) -> None:
        """Start afresh a stack renamed in its mdr.yaml, or one whose controller could not start (at once
        when its mdr.yaml names a stack now, else every ``RESTART_SECONDS``)."""
        now = time.monotonic()
        with self._lock:
            members = list(self._members.values())
        for member in members:
            item = found.stacks.get(member.folder)
            if item is None:
                continue
            renamed = item.name is not None and item.name != member.name
            if renamed or (member.ended() and now - member.started >= RESTART_SECONDS):
                self._stop_member(member.folder, vanished=False)

    def _start_member(self, folder: str, found: Discovery) -> Member:
        """A stack's controller, served from now on; the fleet's ``startup.Starter`` starts its thread."""
        item = found.stacks[folder]
        name = found.label(folder)
        options = self._options()
        options.progress = lambda line: progress_log.info(line, extra={"stack": name})
        # the fleet resyncs its stacks together; a stack's own timer is only the fallback
        interval = self.config.interval * (1 + 2 * self.config.jitter) + 1
        config = replace(
            self.config, path=item.path, git_url=None, listen=None, watch=False, interval=interval
        )
        controller = Controller(config, self.target, options)
        controller.shared_reads = self.shared_reads
        controller.source = StackSource(item.path, self.revision)
        thread = threading.Thread(target=self._run_member, args=(name, controller), name=f"mdr-stack-{name}")
        member = Member(folder, name, controller, thread, time.monotonic())
        with self._lock:
            self._members[folder] = member
            was_vanished = self._vanished.pop(name, None)
        log.info(
            "serving stack", extra={"stack": name, "folder": folder, "returned": was_vanished is not None}
        )
        controller.busy.acquire()  # its first reconcile waits until the others started (``startup``)
        return member

    def _run_member(self, name: str, controller: Controller) -> None:
        CURRENT_STACK.set(name)
        try:
            controller.run()
        except (
            MdrError
        ) as exc:  # its mdr.yaml cannot be read yet: shown in status, retried on the next change
            log.error("stack cannot start", extra={"error": str(exc)})
            with controller._state_lock:
                controller.state.last_error = str(exc)

    def _stop_member(self, folder: str, vanished: bool) -> None:
        with self._lock:
            member = self._members.pop(folder)
        threading.Thread(target=_stop_between_reconciles, args=(member,), daemon=True).start()
        if vanished:
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            message = (
                f"{folder}/mdr.yaml is gone: stack {member.name} is no longer reconciled here. Its resources "
                "are left exactly as they are (a vanished stack is never pruned); restore the folder to "
                "serve it again, or delete them with mdr from a checkout that still has it"
            )
            with self._lock:
                self._vanished[member.name] = {"folder": folder, "since": since, "message": message}
            log.warning("stack vanished", extra={"stack": member.name, "folder": folder})
        else:
            log.info("stack stopped here", extra={"stack": member.name, "folder": folder})

    def _stop_all(self) -> None:
        with self._lock:
            members = list(self._members.values())
        for member in members:
            member.controller.stop.set()
            member.controller.trigger.set()
        for member in members:
            if member.thread.ident is not None:  # not started yet: it stops as soon as it starts
                member.thread.join(timeout=30)

    def _count(self) -> None:
        with self._lock:
            served, vanished, found = len(self._members), len(self._vanished), len(self._discovery.stacks)
        self._stacks_gauge.labels("served").set(served)
        self._stacks_gauge.labels("elsewhere").set(max(0, found - served))
        self._stacks_gauge.labels("vanished").set(vanished)

    # -- HTTP --

    def stack(self, name: str | None) -> Controller | None:
        with self._lock:
            return next((m.controller for m in self._members.values() if m.name == name), None)

    def status(self) -> dict[str, Any]:
        with self._lock:
            members = list(self._members.values())
            vanished = copy.deepcopy(self._vanished)
            discovery = self._discovery
            revision = self._snapshot.revision if self._snapshot else None
        stacks = {m.name: {"folder": m.folder, **m.controller.status()} for m in members}
        leading = [s for s in stacks.values() if s.get("leader")]
        return {
            "fleet": True,
            "revision": revision,
            "leader": bool(leading),
            "reconciles": min((s.get("reconciles", 0) for s in leading), default=0),
            "stacks": stacks,
            "elsewhere": sorted(
                discovery.label(f) for f in discovery.stacks if f not in {m.folder for m in members}
            ),
            "vanished": vanished,
            "problems": list(discovery.problems),
            "time": time.time(),
        }

    def render_metrics(self) -> bytes:
        with self._lock:
            members = list(self._members.values())
        return generate_latest(self.registry) + labelled(
            {m.name: m.controller.metrics.registry for m in members}
        )


def owners(root: Path, folders: list[str], paths: Iterable[Path]) -> set[str] | None:
    """The stacks the changed paths belong to; None (all) when one is outside every stack (a base)."""
    root = root.resolve()
    found: set[str] = set()
    for path in paths:
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
        owner = next((f for f in folders if f == "." or relative == f or relative.startswith(f + "/")), None)
        if owner is None:
            return None
        found.add(owner)
    return found


def _stop_between_reconciles(member: Member) -> None:
    """Stop a stack's controller once its reconcile in progress (if any) is done: an apply is never cut."""
    with member.controller.busy:
        member.controller.stop.set()
        member.controller.trigger.set()
    if member.thread.ident is not None:  # never started (the fleet stopped first): nothing to wait for
        member.thread.join()


def labelled(registries: dict[str, CollectorRegistry]) -> bytes:
    """The stacks' metrics in one exposition, each sample labelled with its ``stack``."""
    families: dict[str, Metric] = {}
    for stack, registry in registries.items():
        for family in registry.collect():
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            merged.samples.extend(s._replace(labels={"stack": stack, **s.labels}) for s in family.samples)

    class _Merged:
        def collect(self) -> Iterable[Metric]:
            return list(families.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry)
