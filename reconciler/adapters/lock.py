"""One writer per stack: a local file lock, or an Object Storage lease shared by CI and controllers.

The lease is an object ``<prefix>locks/<stack>.json`` holding ``{holder, expires}``. It is taken with a
conditional put (``if-none-match: *`` when absent, ``if-match: <etag>`` to take over an expired lease or to
renew one's own), so two writers can never both believe they hold it; a holder renews it every third of
its TTL from a background thread, and a writer that dies simply lets it expire.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.adapters.cloud_errors import Conflict, NotFound, PreconditionFailed
from reconciler.adapters.journal import make_state_dir, state_dir
from reconciler.core.errors import MdrError


class LockError(MdrError):
    """The stack's lock could not be taken (someone else is applying) or was lost."""


def holder_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FileLock:
    """An exclusive ``flock`` on ``.mdr/locks/<stack>.lock``; released by the OS if the process dies."""

    def __init__(self, stack: str, directory: Path | None = None) -> None:
        self.path = (directory or state_dir() / "locks") / f"{stack}.lock"
        self.holder = holder_identity()
        self._handle: Any = None

    def describe(self) -> str:
        return f"file lock {self.path}"

    def current_holder(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def acquire(self, timeout: float) -> None:
        make_state_dir(self.path.parent)
        handle = self.path.open("a+", encoding="utf-8")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    holder = self.current_holder() or "another process"
                    raise LockError(
                        f"stack is locked by {holder} ({self.describe()}); waited {timeout:g}s. "
                        "If no apply is running, remove the lock with: mdr unlock PATH"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(self.holder)
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.seek(0)
                self._handle.truncate()
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def force_unlock(self) -> str | None:
        holder = self.current_holder()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return holder


@dataclass
class LeaseRecord:
    holder: str
    expires: float

    def to_json(self) -> bytes:
        return json.dumps({"holder": self.holder, "expires": self.expires}).encode()


class ObjectStorageLease:
    """A lease in an Object Storage bucket, taken and renewed with conditional writes."""

    def __init__(
        self, provider: Any, stack: str, bucket: str, namespace: str | None, prefix: str, ttl: float
    ) -> None:
        self.provider = provider
        self.bucket = bucket
        self.namespace = namespace
        self.object_name = f"{prefix}locks/{stack}.json"
        self.ttl = ttl
        self.holder = holder_identity()
        self._etag: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()

    def describe(self) -> str:
        return f"lease oci://{self.bucket}@{self._ns()}/{self.object_name}"

    def _ns(self) -> str:
        if self.namespace is None:
            self.namespace = self.provider.namespace()
        return self.namespace

    def _read(self) -> tuple[LeaseRecord | None, str | None]:
        client = self.provider.object_storage
        try:
            response = self.provider.call(
                "GetObject", client.get_object, self._ns(), self.bucket, self.object_name
            )
        except NotFound:
            return None, None
        data = json.loads(response.data.content or b"{}")
        record = LeaseRecord(str(data.get("holder", "?")), float(data.get("expires", 0)))
        return record, response.headers.get("etag")

    def _put(self, **conditions: str) -> str | None:
        """A conditional put; returns the new etag, or None when the condition failed (someone else won)."""
        client = self.provider.object_storage
        body = LeaseRecord(self.holder, time.time() + self.ttl).to_json()
        try:
            response = self.provider.call(
                "PutObject", client.put_object, self._ns(), self.bucket, self.object_name, body, **conditions
            )
        except (Conflict, PreconditionFailed):
            return None
        return str(response.headers.get("etag"))

    def try_acquire(self) -> bool:
        record, etag = self._read()
        if record is None:
            self._etag = self._put(if_none_match="*")
        elif record.holder == self.holder or record.expires < time.time():
            assert etag is not None
            self._etag = self._put(if_match=etag)
        else:
            return False
        return self._etag is not None

    def current_holder(self) -> str | None:
        record, _ = self._read()
        return record.holder if record and record.expires >= time.time() else None

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockError(
                    f"stack is locked by {self.current_holder() or 'another writer'} ({self.describe()}); "
                    f"waited {timeout:g}s. If that writer is gone, the lease expires within {self.ttl:g}s, "
                    "or remove it with: mdr unlock PATH"
                )
            time.sleep(min(1.0, max(0.1, self.ttl / 10)))
        self.lost.clear()  # held again (a replica that lost its lease and won it back): writes may resume
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="mdr-lease-renewal", daemon=True)
        self._thread.start()

    def renew(self) -> bool:
        if self._etag is None:
            return False
        etag = self._put(if_match=self._etag)
        if etag is None:
            self.lost.set()
            return False
        self._etag = etag
        return True

    def _renew_loop(self) -> None:
        import oci

        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.renew():
                    return
            except (oci.exceptions.ServiceError, oci.exceptions.RequestException, OSError):
                continue  # a passing fault: keep trying until the lease would expire

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._etag is not None:
            self._delete(if_match=self._etag)
            self._etag = None

    def force_unlock(self) -> str | None:
        record, _ = self._read()
        self._delete()
        return record.holder if record else None

    def _delete(self, **conditions: str) -> None:
        """Remove the lease object; someone else's newer lease (a failed condition) is left alone."""
        import oci

        with contextlib.suppress(oci.exceptions.ServiceError):
            self.provider.call(
                "DeleteObject",
                self.provider.object_storage.delete_object,
                self._ns(),
                self.bucket,
                self.object_name,
                **conditions,
            )


StackLock = FileLock | ObjectStorageLease


def lock_for(stack: str, lock: dict[str, Any] | None, provider: Any) -> StackLock:
    """The lease named by the stack's ``lock:`` settings, else the local file lock."""
    if not lock:
        return FileLock(stack)
    return ObjectStorageLease(
        provider,
        stack,
        lock["bucket"],
        lock.get("namespace"),
        lock.get("prefix", "mdr/"),
        lock.get("ttlSeconds", 120),
    )


@contextlib.contextmanager
def held(lock: StackLock, timeout: float) -> Any:
    lock.acquire(timeout)
    try:
        yield lock
    finally:
        lock.release()
