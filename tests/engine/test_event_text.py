"""``mdr predict --stream`` prints the tokens of OpenAI-style server-sent events, however the stream is cut
into chunks on the way, and hands any other stream on untouched."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.errors import MdrError
from reconciler.engine.event_text import EventText
from reconciler.engine.predict import Target, target_from_options


def _events(tokens: list[str]) -> bytes:
    chunks = [{"object": "chat.completion.chunk", "choices": [{"delta": {"content": t}}]} for t in tokens]
    chunks.append({"object": "chat.completion.chunk", "choices": [{"delta": {}, "finish_reason": "stop"}]})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return body.encode()


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def _printed(chunks: list[bytes]) -> bytes:
    text = EventText()
    return b"".join(text.feed(c) for c in chunks) + text.end()


@given(st.lists(st.text(min_size=1, max_size=8), max_size=12), st.lists(st.integers(0, 2000), max_size=20))
def test_tokens_come_out_whole_however_the_events_are_cut(tokens: list[str], cuts: list[int]) -> None:
    assert _printed(_cut(_events(tokens), cuts)).decode() == "".join(tokens)


@given(st.binary(max_size=200), st.lists(st.integers(0, 250), max_size=10))
def test_a_stream_that_is_not_events_is_handed_on_untouched(data: bytes, cuts: list[int]) -> None:
    if data.lstrip()[:1] in (b"d", b"e", b"i", b"r", b":"):
        data = b"x" + data  # not the start of an SSE field
    assert _printed(_cut(data, cuts)) == data


def test_a_token_is_printed_as_soon_as_its_event_line_ends() -> None:
    text = EventText()
    assert text.feed(b'data: {"choices": [{"text": "Hel') == b""
    assert text.feed(b'lo"}]}\n') == b"Hello"  # a completions-style chunk, before the blank line
    assert text.feed(b"\ndata: not json\n\n") == b"not json\n"  # shown as it is, not dropped
    assert text.feed(b'data: {"error": "overloaded"}\n\n') == b'{"error": "overloaded"}\n'


def test_target_options_are_checked_before_anything_is_sent() -> None:
    assert target_from_options("tax", "/v1/chat/completions/", "get") == Target(
        "tax", "/v1/chat/completions", "GET"
    )
    assert target_from_options(None, None).path("predict") == "predict"
    for member, route, message in [
        (" ", None, "--member is empty"),
        (None, "v1/models", "must start with /"),
        (None, "/v1/../admin", "must not hold . or .."),
    ]:
        with pytest.raises(MdrError, match=message):
            target_from_options(member, route)
    with pytest.raises(MdrError, match="--method 'PATCH'"):
        target_from_options(None, None, "PATCH")
