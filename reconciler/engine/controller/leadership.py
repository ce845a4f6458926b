"""Leadership: one active writer per stack, holding the stack's lock; the others stand by."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.lock import LockError, StackLock

log = logging.getLogger("mdr.controller")


def wait_for_leadership(lock: StackLock, stop: threading.Event, on_lead: Callable[[StackLock], None]) -> bool:
    """Wait (as a standby) until this replica holds the stack's lock; False if stopped meanwhile."""
    waiting_logged = False
    while not stop.is_set():
        try:
            lock.acquire(timeout=1.0)
        except cloud_errors() as exc:  # the lease bucket is unreachable: keep standing by
            log.warning("cannot reach the stack lease", extra={"error": describe_cloud_error(exc)})
            stop.wait(5.0)
            continue
        except LockError:
            if not waiting_logged:
                log.info(
                    "standby: another writer holds the stack lock", extra={"holder": lock.current_holder()}
                )
                waiting_logged = True
            continue
        on_lead(lock)
        log.info("leading: holding the stack lock", extra={"holder": lock.holder, "lock": lock.describe()})
        return True
    return False
