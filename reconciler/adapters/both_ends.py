"""A long list read from both ends at once: oldest first and newest first, stopping where they meet.

List pages are chained: each needs the previous page's token, so N deployments cost ceil(N/100) round
trips one after the other, whatever the client's concurrency. The list can be sorted by ``timeCreated``
in either order, though, so two chains can run side by side, one from each end, and meet in the middle:
half the round trips, for about two more calls (the page where they meet, and the page each chain had
already asked for).

They meet when the oldest-first chain has reached a creation time *later* than the newest-first chain's
earliest: the first has then read every item created before its last time, the second every item created
after its own last time, and every item is one of those. Items created at the very same instant (where the
two orders need not be mirror images) are therefore never lost: both chains simply go on past them. An item
without a creation time, or a page out of order, stops the shortcut: each chain then reads to its end.

A list of one page costs one call: the second chain only starts when the first page comes back full.
A fleet's shared reads keep the single chain (see ``pages_from_both_ends``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from reconciler.adapters.wire_json import list_pages, page_chain

_ASC, _DESC = "ASC", "DESC"
_STOPPED = object()


class _Meeting:
    """What the two chains have read: the ids seen, and how far each has come in creation time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.reached: dict[str, datetime | None] = {_ASC: None, _DESC: None}
        self.ended = False  # a chain read to its end: everything has been read
        self.ordered = True

    def take(self, page: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
        """The items of ``page`` not yet seen; moves ``direction``'s creation-time mark."""
        with self.lock:
            fresh = [item for item in page if item.get("id") not in self.seen]
            self.seen.update(str(item.get("id")) for item in page)
            times = [t for item in page if (t := _instant(item.get("time_created"))) is not None]
            if len(times) < len(page):
                self.ordered = False
            elif times:
                wanted = sorted(times, reverse=direction == _DESC)
                self.ordered = self.ordered and times == wanted
                self.reached[direction] = times[-1]
            return fresh

    def met(self) -> bool:
        with self.lock:
            if self.ended:
                return True
            oldest_first, newest_first = self.reached[_ASC], self.reached[_DESC]
            return (
                self.ordered
                and oldest_first is not None
                and newest_first is not None
                and oldest_first > newest_first
            )

    def end(self) -> None:
        with self.lock:
            self.ended = True


def _instant(value: Any) -> datetime | None:
    """A creation time as the instant it names (its text may be written with more or fewer digits)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def pages_from_both_ends(
    provider: Any,
    operation: str,
    client: Any,
    resource_path: str,
    item_type: str,
    query: dict[str, Any],
    page_size: int = 100,
    expected: int = 0,
) -> Iterator[list[dict[str, Any]]]:
    """Every item of a list sortable by ``timeCreated``, in pages (in no particular order), each item once.

    ``expected``: how many items the caller thinks there are (a stack's manifests): more than a page, and
    both chains start at once instead of after the first page.

    A fleet's stacks (``shared_reads``) read one chain, shared: there a resync of many stacks is bound by
    the API's rate, not by one stack's wait, and the shortcut's two or three extra calls per compartment
    would be spent for nothing."""
    if getattr(provider, "shared_reads", None) is not None:
        yield from list_pages(provider, operation, client, resource_path, item_type, query, None, page_size)
        return
    yield from _both_ends(provider, operation, client, resource_path, item_type, query, page_size, expected)


def _both_ends(
    provider: Any,
    operation: str,
    client: Any,
    resource_path: str,
    item_type: str,
    query: dict[str, Any],
    page_size: int,
    expected: int,
) -> Iterator[list[dict[str, Any]]]:
    def chain(order: str) -> Iterator[list[dict[str, Any]]]:
        ordered = {**query, "sortBy": "timeCreated", "sortOrder": order}
        return page_chain(provider, operation, client, resource_path, item_type, ordered, None, page_size)

    meeting = _Meeting()
    oldest_first = chain(_ASC)
    if expected <= page_size:
        first = next(oldest_first, None)
        if first is None:
            return
        yield meeting.take(first, _ASC)
        if len(first) < page_size:  # one page: no second chain (a list that ends here asks nothing more)
            for page in oldest_first:
                yield meeting.take(page, _ASC)
            return
    pages: queue.Queue[Any] = queue.Queue()
    for direction, pending in ((_ASC, oldest_first), (_DESC, chain(_DESC))):
        threading.Thread(
            target=_follow,
            args=(pending, direction, meeting, pages),
            name=f"mdr-pages-{direction.lower()}",
            daemon=True,
        ).start()
    running = 2
    while running:
        got = pages.get()
        if got is _STOPPED:
            running -= 1
        elif isinstance(got, BaseException):
            meeting.end()  # the other chain stops at its next page
            raise got
        else:
            yield got


def _follow(pending: Iterator[list[dict[str, Any]]], direction: str, meeting: _Meeting, out: Any) -> None:
    """One chain, in its own thread, until the chains meet or it reaches its end; pages go to ``out``.

    The caller is told the chain stopped *before* its generator is closed: closing waits for the page it
    had already asked for, which nobody needs."""
    try:
        for page in pending:
            out.put(meeting.take(page, direction))
            if meeting.met():
                break
        else:
            meeting.end()
    except Exception as exc:  # handed to the reader, which raises it (a ServiceError, a timeout)
        out.put(exc)
    out.put(_STOPPED)
    close = getattr(pending, "close", None)
    if close is not None:
        close()
