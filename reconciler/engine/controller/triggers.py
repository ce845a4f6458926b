"""What starts a reconcile besides the resync timer: a debounced file change, or a new commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.adapters.source import GitSource, LocalSource, Snapshot


def watch_source(
    source: LocalSource | GitSource,
    stop: threading.Event,
    request: Callable[[str], None],
    refresh: Callable[[], Snapshot | None],
    git_interval: float,
    debounce_ms: int,
) -> None:
    """Call ``request(reason)`` on every change until ``stop`` is set (run in its own thread)."""
    if isinstance(source, GitSource):
        while not stop.wait(git_interval):
            previous = source.revision
            snapshot = refresh()
            if snapshot is not None and snapshot.revision != previous:
                request(f"git {snapshot.revision}")
        return
    from watchfiles import watch

    for changes in watch(source.path, stop_event=stop, debounce=debounce_ms, step=50, recursive=True):
        paths = sorted({Path(p).name for _, p in changes})
        if any(not name.startswith(".") for name in paths):
            request("file change: " + ", ".join(paths[:5]))
