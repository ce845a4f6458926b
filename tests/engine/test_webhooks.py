"""Git push webhooks are verified before anything in them is believed, and only a push to the followed
branch wakes the controller."""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import given
from hypothesis import strategies as st

from reconciler.engine.controller.webhooks import github_signature, judge

SECRET = "s3cret-webhook-key"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "abc"}).encode()


def github(body: bytes, signature: str | None = None, event: str = "push") -> dict[str, str]:
    return {"x-github-event": event, "x-hub-signature-256": signature or github_signature(SECRET, body)}


def test_a_signed_github_push_to_the_followed_branch_is_accepted() -> None:
    verdict = judge("github", SECRET, github(PUSH), PUSH, "main")
    assert (verdict.status, verdict.outcome, verdict.branch) == (202, "accepted", "main")


def test_a_push_to_another_branch_or_another_event_is_ignored() -> None:
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    assert judge("github", SECRET, github(other), other, "main").outcome == "ignored"
    assert judge("github", SECRET, github(PUSH, event="issues"), PUSH, "main").outcome == "ignored"
    assert judge("github", SECRET, github(PUSH, event="ping"), PUSH, "main").status == 200
    tag = json.dumps({"ref": "refs/tags/v1"}).encode()
    assert judge("github", SECRET, github(tag), tag, None).outcome == "ignored"


def test_a_plain_folder_controller_takes_a_push_to_any_branch() -> None:
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    assert judge("github", SECRET, github(other), other, None).outcome == "accepted"


def test_a_missing_or_wrong_signature_is_unauthorized_before_the_payload_is_read() -> None:
    garbage = b"not json at all"
    assert judge("github", SECRET, {"x-github-event": "push"}, PUSH, "main").status == 401
    assert judge("github", SECRET, github(PUSH, "sha256=" + "0" * 64), PUSH, "main").status == 401
    made_with_other_key = github_signature("another-key", PUSH)
    assert judge("github", SECRET, github(PUSH, made_with_other_key), PUSH, "main").status == 401
    assert judge("github", SECRET, github(PUSH, "sha256=00"), garbage, "main").status == 401


def test_a_signed_body_that_is_not_a_push_payload_is_a_bad_request() -> None:
    body = b"[1, 2]"
    assert judge("github", SECRET, github(body), body, "main").status == 400


@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0))
def test_any_change_to_a_signed_body_breaks_its_signature(body: bytes, position: int) -> None:
    signature = github_signature(SECRET, body)
    index = position % len(body)
    tampered = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
    assert judge("github", SECRET, github(tampered, signature), tampered, "main").outcome == "unauthorized"


def test_gitlab_pushes_carry_the_token_itself() -> None:
    headers = {"x-gitlab-event": "Push Hook", "x-gitlab-token": SECRET}
    assert judge("gitlab", SECRET, headers, PUSH, "main").outcome == "accepted"
    assert judge("gitlab", SECRET, {**headers, "x-gitlab-token": "guess"}, PUSH, "main").status == 401
    assert judge("gitlab", SECRET, {"x-gitlab-event": "Push Hook"}, PUSH, "main").status == 401
    tag_hook = {**headers, "x-gitlab-event": "Tag Push Hook"}
    assert judge("gitlab", SECRET, tag_hook, PUSH, "main").outcome == "ignored"


def test_github_form_encoded_payloads_are_read_too() -> None:
    body = b"payload=" + urllib.parse.quote(PUSH.decode()).encode()
    assert judge("github", SECRET, github(body), body, "main").outcome == "accepted"
