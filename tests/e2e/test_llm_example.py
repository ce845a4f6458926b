"""examples/llm end to end through the real SDK against the emulator: the chat model streams its tokens and
``mdr predict --stream`` prints each as it comes; a container deployment with ``predictApiSpecification:
openai`` and ``customHttpEndpoints`` answers at ``/predict{suffix}`` (``--route``) and refuses what it does
not let through; ``--member`` picks a model group's member."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
from support.world import REPO, World

STORY = "Once upon a time a small model streamed its answer one token at a time, and every token arrived."
CHAT = {"messages": [{"role": "user", "content": "Tell me a story"}]}
STREAM = json.dumps({**CHAT, "stream": True})

OPENAI_DEPLOYMENT = """\
apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: story-openai
spec:
  displayName: Story LLM behind an OpenAI-compatible container
  model:
    artifact: models/story-llm
    displayName: story-openai
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16, replicas: 1, bandwidthMbps: 10}
  runtime:
    type: container
    image: dsmc://odsc-vllm-serving:0.6.4.post1.2
    serverPort: 8080
    predictApiSpecification: openai
    customHttpEndpoints:
      - {endpointUriSuffix: "/stories/{}", httpMethods: [POST]}
"""


@pytest.fixture
def llm(world: World) -> World:
    shutil.copytree(
        REPO / "examples" / "llm", world.workdir / "llm", ignore=shutil.ignore_patterns("__pycache__")
    )
    (world.workdir / "llm" / "story-openai.yaml").write_text(OPENAI_DEPLOYMENT, encoding="utf-8")
    applied = world.mdr("apply", "llm", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return world


def _predict(world: World, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return world.mdr("predict", "llm", name, *args, *world.target_args())


def test_stream_prints_the_tokens_as_they_arrive(llm: World) -> None:
    env = {**os.environ, "MDR_STATE_DIR": str(llm.workdir / ".mdr"), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "predict",
        "llm",
        "story-llm",
        "--stream",
        "--data",
        STREAM,
    ]
    caller = subprocess.Popen(
        [*command, *llm.target_args()],
        cwd=llm.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert caller.stdout is not None
        first = os.read(caller.stdout.fileno(), 4096)
        # the model needs another ~1 s for the other 19 tokens: the first is printed long before the end
        assert first and STORY.startswith(first.decode()) and len(first) < len(STORY)
        assert caller.poll() is None
        rest, err = caller.communicate(timeout=60)
    finally:
        if caller.poll() is None:
            caller.kill()
    assert caller.returncode == 0, err
    assert (first + rest).decode() == STORY + "\n"  # the tokens only, not the events that carried them


def test_raw_stream_prints_the_server_sent_events(llm: World) -> None:
    result = _predict(
        llm, "story-llm", "--stream", "--raw", "--data", json.dumps({**CHAT, "stream": True, "max_tokens": 2})
    )
    assert result.returncode == 0, result.stderr
    events = [line.removeprefix("data: ") for line in result.stdout.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["Once", " upon", None]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_predict_without_stream_answers_the_whole_text(llm: World) -> None:
    result = _predict(llm, "story-llm", "--data", json.dumps(CHAT))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": STORY}


def test_openai_routes_of_a_container_deployment_answer_at_predict_suffix(llm: World) -> None:
    chat = _predict(llm, "story-openai", "--route", "/v1/chat/completions", "--data", json.dumps(CHAT))
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["choices"][0]["message"]["content"] == STORY

    streamed = _predict(llm, "story-openai", "--route", "/v1/chat/completions", "--stream", "--data", STREAM)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == STORY + "\n"

    models = _predict(llm, "story-openai", "--route", "/v1/models", "--method", "GET")
    assert models.returncode == 0, models.stderr
    assert [m["id"] for m in json.loads(models.stdout)["data"]] == ["story-llm"]


def test_a_custom_endpoint_takes_its_methods_only(llm: World) -> None:
    posted = _predict(llm, "story-openai", "--route", "/stories/42", "--data", json.dumps(CHAT))
    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["choices"][0]["message"]["content"] == STORY

    got = _predict(llm, "story-openai", "--route", "/stories/42", "--method", "GET")
    assert got.returncode == 1
    assert "GET /stories/42 is not let through (only POST)" in got.stderr


def test_a_route_the_deployment_does_not_let_through_is_refused(llm: World) -> None:
    unknown = _predict(llm, "story-openai", "--route", "/v2/secret", "--data", "{}")
    assert unknown.returncode == 1
    assert "predict/v2/secret answered 404" in unknown.stderr and "/stories/{}" in unknown.stderr

    conda = _predict(llm, "story-llm", "--route", "/v1/chat/completions", "--data", json.dumps(CHAT))
    assert conda.returncode == 1
    assert "it serves /predict only" in conda.stderr


def test_a_bad_route_is_refused_before_any_call(llm: World) -> None:
    result = _predict(llm, "story-llm", "--route", "v1/chat/completions", "--data", "{}")
    assert result.returncode == 1
    assert "--route 'v1/chat/completions' must start with /" in result.stderr


@pytest.fixture
def shop(world: World) -> World:
    shutil.copytree(
        REPO / "examples" / "multi-model",
        world.workdir / "shop",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    applied = world.mdr("apply", "shop", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    return world


def _pricing(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    data = json.dumps({"amount": 100, "country": "DE", "weightKg": 2.5, "customer": "gold"})
    return world.mdr("predict", "shop", "pricing", "--data", data, *args, *world.target_args())


def test_member_picks_the_model_group_member_that_answers(shop: World) -> None:
    answers: dict[str, Any] = {}
    for key in ("tax", "shipping", "discount"):
        result = _pricing(shop, "--member", key)
        assert result.returncode == 0, result.stderr
        answers[key] = json.loads(result.stdout)
    assert answers == {
        "tax": {"model": "tax", "rate": 0.19, "tax": 19.0},
        "shipping": {"model": "shipping", "cost": 7.5},
        "discount": {"model": "discount", "share": 0.1, "discount": 10.0},
    }


def test_without_member_a_model_group_says_which_members_it_has(shop: World) -> None:
    result = _pricing(shop)
    assert result.returncode == 1
    assert "discount, shipping, tax" in result.stderr
    unknown = _pricing(shop, "--member", "vat")
    assert unknown.returncode == 1
    assert "no member 'vat'" in unknown.stderr
