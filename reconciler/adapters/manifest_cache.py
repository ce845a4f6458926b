"""Parsed manifests, cached by file content: a file read before is not parsed again.

Parsing YAML while remembering every value's position is most of what loading a large tree costs. The result
of ``parse_documents`` depends only on the file's bytes (and on whether ``${VAR}`` substitution is on), so it
is kept under the SHA-256 of the content: in memory for the life of the process (the controller re-reads
its tree on every change), and in ``$MDR_STATE_DIR/cache/`` between runs. A changed file has another hash,
so a stale entry is never used; the cache file only ever holds the entries of the last load.

Never cached: a file with ``${...}`` or ``$$`` (a substituted environment variable may be a secret, and
must not land on disk), a file with problems (they are reported fresh each time), and data that ``marshal``
cannot write (a YAML date). ``marshal`` runs no code when it reads, unlike pickle, and a file it cannot read
(another Python, a torn write) is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.adapters.journal import make_state_dir, state_dir
from reconciler.core.document import Document
from reconciler.core.errors import Issue

FORMAT = 1
#: strings up to this long are interned (see ``_interned``)
INTERN_MAX = 128
Parse = Callable[[str, str, Mapping[str, str] | None], tuple[list[Document], list[Issue]]]


def cache_file() -> Path:
    """Per format and Python version: ``marshal``'s format may change between Python versions."""
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    return state_dir() / "cache" / f"manifests-v{FORMAT}-py{version}.marshal"


class ManifestCache:
    """Content hash -> the marshalled documents of that content; thread-safe."""

    def __init__(self) -> None:
        self._entries: dict[str, bytes] = {}
        self._used: set[str] = set()
        self._loaded_from: Path | None = None
        self._dirty = False
        self._lock = threading.Lock()

    def parse(
        self, raw: bytes, text: str, file: str, variables: Mapping[str, str] | None, parse: Parse
    ) -> tuple[list[Document], list[Issue]]:
        """``parse(text, file, variables)``, or the documents a file with these bytes gave before."""
        if "${" in text or "$$" in text:
            return parse(text, file, variables)
        key = f"{hashlib.sha256(raw).hexdigest()}:{int(variables is None)}"
        with self._lock:
            self._load()
            blob = self._entries.get(key)
            self._used.add(key)
        if blob is not None:
            with contextlib.suppress(ValueError, EOFError, TypeError):
                return [Document(file, *fields) for fields in marshal.loads(blob)], []
        documents, issues = parse(text, file, variables)
        if not issues:
            fields = [(d.index, _interned(d.data), _interned(d.positions), d.start) for d in documents]
            documents = [Document(file, *f) for f in fields]  # the same values, held once
            with contextlib.suppress(ValueError):  # a value marshal cannot write: not cached
                blob = marshal.dumps(fields)
                with self._lock:
                    self._entries[key] = blob
                    self._dirty = True
        return documents, issues

    def _load(self) -> None:
        """Read the cache file of the current state folder once (under the lock)."""
        path = cache_file()
        if self._loaded_from == path:
            return
        self._loaded_from = path
        try:
            saved = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return
        if isinstance(saved, dict):
            self._entries.update(
                (k, v) for k, v in saved.items() if isinstance(k, str) and isinstance(v, bytes)
            )

    def save(self) -> None:
        """Write the entries this process used (atomically); a folder that cannot be written is no error."""
        with self._lock:
            if not self._dirty:
                return
            kept = {k: v for k, v in self._entries.items() if k in self._used}
            self._entries, self._used, self._dirty = dict(kept), set(), False
        path = cache_file()
        try:
            make_state_dir(path.parent)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps(kept))
            os.replace(tmp, path)
        except OSError:
            return


def _interned(value: Any) -> Any:
    """``value`` with its short strings interned: ``marshal`` keeps that mark, so the keys and values every
    manifest repeats (``spec``, ``model``, a shape, a compartment id) are held once when read back."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= INTERN_MAX else value
    if isinstance(value, dict):
        return {_interned(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_interned(v) for v in value)
    return value


#: the process's cache: ``load_file`` parses through it, ``load_stack`` saves it
MANIFESTS = ManifestCache()
