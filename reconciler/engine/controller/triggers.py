"""What starts a reconcile besides the resync timer: a debounced file change, or a new commit."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.adapters.manifests import load_stack_config
from reconciler.adapters.source import GitSource, LocalSource, Snapshot


def watch_source(
    source: LocalSource | GitSource,
    stop: threading.Event,
    request: Callable[[str], None],
    refresh: Callable[[], Snapshot | None],
    git_interval: float,
    debounce_ms: int,
    poke: threading.Event | None = None,
) -> None:
    """Call ``request(reason)`` on every change until ``stop`` is set (run in its own thread).

    A git source is polled every ``git_interval``, and at once when ``poke`` is set (a push webhook); only
    this thread runs git in the clone, so a webhook and a poll never race in it."""
    if isinstance(source, GitSource):
        wake = poke or threading.Event()
        while not stop.is_set():
            wake.wait(git_interval)
            wake.clear()
            if stop.is_set():
                return
            previous = source.revision
            snapshot = refresh()
            if snapshot is not None and snapshot.revision != previous:
                request(f"git {snapshot.revision}")
        return
    from watchfiles import watch

    roots = watched_paths(source.path)
    for changes in watch(*roots, stop_event=stop, debounce=debounce_ms, step=50, recursive=True):
        paths = sorted({Path(p).name for _, p in changes})
        if any(not name.startswith(".") for name in paths):
            request("file change: " + ", ".join(paths[:5]))


def watched_paths(root: Path) -> list[Path]:
    """The tree, and the base of an environment overlay (a change there changes this stack too). The base
    is the one named when the controller started; the periodic resync covers a later change of ``base:``."""
    config, _, _ = load_stack_config(root)
    if config is None or config.base is None:
        return [root]
    base = Path(os.path.normpath(root / config.base))
    return [root, base] if base.is_dir() else [root]
