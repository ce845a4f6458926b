"""The text of a streamed LLM answer: OpenAI-style server-sent events turned into the tokens they carry.

An OpenAI-compatible server (vLLM, TGI, a score.py that imitates one) streams ``data: {json}`` events, one
``chat.completion.chunk`` (``choices[].delta.content``) or ``text_completion`` (``choices[].text``) per token,
and ``data: [DONE]`` at the end. ``mdr predict --stream`` prints only the tokens, so that a person reads the
answer as it is written; ``--raw`` prints the events as sent. A stream that is not server-sent events (its
first bytes are not ``data:``, ``event:``, ``id:`` or ``:``) is handed on untouched.
"""

from __future__ import annotations

import json
from typing import Any

_FIELDS = (b"data:", b"event:", b"id:", b"retry:", b":")


class EventText:
    """Feed it a stream's chunks as they arrive; each ``feed`` returns what to print now."""

    def __init__(self) -> None:
        self._events: bool | None = None  # not known until the first bytes
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._events is None:
            head = (self._pending + chunk).lstrip()
            if not head or any(f.startswith(head) and f != head for f in _FIELDS):
                self._pending += chunk  # too short to tell yet ("da" may become "data:" or "dark")
                return b""
            self._events = any(head.startswith(f) for f in _FIELDS)
            if not self._events:
                chunk, self._pending = self._pending + chunk, b""
        if not self._events:
            return chunk
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        return b"".join(_line_text(line) for line in lines)

    @property
    def events(self) -> bool:
        """Whether the stream was server-sent events (its tokens then end without a newline)."""
        return bool(self._events)

    def end(self) -> bytes:
        """What is left once the stream ended (an unterminated last line)."""
        rest, self._pending = self._pending, b""
        if not self._events:  # not events, or too short to tell
            return rest
        return _line_text(rest)


def _line_text(line: bytes) -> bytes:
    """The tokens of one ``data:`` line; other fields and ``[DONE]`` print nothing, data that is not a
    completion chunk (an error, say) prints as it is."""
    line = line.rstrip(b"\r")
    if not line.startswith(b"data:"):
        return b""
    data = line[len(b"data:") :].strip()
    if not data or data == b"[DONE]":
        return b""
    try:
        event = json.loads(data)
    except ValueError:
        return data + b"\n"
    text = completion_text(event)
    if text is None:
        return data + b"\n"
    return text.encode("utf-8")


def completion_text(event: Any) -> str | None:
    """The text an OpenAI completion (or chunk of one) carries; None when it is not one."""
    if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
        return None
    parts = []
    for choice in event["choices"]:
        if not isinstance(choice, dict):
            continue
        for holder in (choice.get("delta"), choice.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("content"), str):
                parts.append(holder["content"])
        if isinstance(choice.get("text"), str):
            parts.append(choice["text"])
    return "".join(parts)
