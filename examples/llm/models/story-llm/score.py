"""A tiny deterministic "LLM" with the OpenAI chat request and answer shapes (standard library only).

It always tells the same short story, one word-token at a time, so that a streamed answer can be checked
exactly. ``{"messages": [...], "stream": true}`` answers with server-sent events, one
``chat.completion.chunk`` per token and ``data: [DONE]`` at the end (what an OpenAI client reads); without
``"stream": true`` the answer is one ``chat.completion`` holding the whole text. ``max_tokens`` cuts it short.

``route`` is the endpoint suffix a call came by (``/v1/chat/completions``, ``/v1/models``) when this file
stands in for an OpenAI-compatible container in mdr's emulator (see docs/llm.md); a conda deployment is
only ever called at ``/predict``, and gets no ``route``.
"""

import json
import time

MODEL = "story-llm"
STORY = "Once upon a time a small model streamed its answer one token at a time, and every token arrived."
#: a pause between tokens, so that streaming is visible in a terminal
TOKEN_SECONDS = 0.05


def load_model():
    words = STORY.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def predict(data, model=None, route=None):
    tokens = model or load_model()
    if route == "/v1/models":
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "mdr-examples"}]}
    request = data if isinstance(data, dict) else {}
    if not isinstance(request.get("messages"), list) or not request["messages"]:
        return {"error": {"message": 'send {"messages": [{"role": "user", "content": "..."}]}'}}
    limit = request.get("max_tokens")
    chosen = tokens[: int(limit)] if isinstance(limit, int) and limit > 0 else tokens
    if request.get("stream"):
        return _chunks(chosen)
    return _completion(chosen)


def _completion(tokens):
    text = "".join(tokens)
    return {
        "id": "chatcmpl-story",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": _finish(tokens)}
        ],
        "usage": {"completion_tokens": len(tokens)},
    }


def _chunks(tokens):
    for token in tokens:
        yield _event({"content": token}, None)
        time.sleep(TOKEN_SECONDS)
    yield _event({}, _finish(tokens))
    yield "data: [DONE]\n\n"


def _event(delta, finish_reason):
    """One server-sent event holding a ``chat.completion.chunk``."""
    chunk = {
        "id": "chatcmpl-story",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return "data: " + json.dumps(chunk) + "\n\n"


def _finish(tokens):
    return "stop" if len(tokens) == len(load_model()) else "length"
