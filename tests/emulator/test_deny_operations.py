"""``deny_operations``: the emulator answers a named operation as OCI answers a call no policy allows."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import oci
import pytest

from reconciler.emulator import Emulator

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaadeny"


def post_faults(emulator: Emulator, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/faults", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_a_denied_operation_is_404_not_authorized_or_not_found_and_others_still_answer(
    emulator: Emulator, logging_client: Any, ds: Any
) -> None:
    status, faults = post_faults(emulator, {"deny_operations": ["ListLogGroups"]})
    assert (status, faults["deny_operations"]) == (200, ["ListLogGroups"])
    with pytest.raises(oci.exceptions.ServiceError) as denied:
        logging_client.list_log_groups(COMPARTMENT)
    assert (denied.value.status, denied.value.code) == (404, "NotAuthorizedOrNotFound")
    assert ds.list_models(COMPARTMENT).data == []  # only the named operation is denied
    assert post_faults(emulator, {"deny_operations": []})[0] == 200
    assert logging_client.list_log_groups(COMPARTMENT).data == []  # allowed again


def test_deny_operations_must_be_a_list_of_names(emulator: Emulator) -> None:
    status, answer = post_faults(emulator, {"deny_operations": "ListLogGroups"})
    assert status == 400 and "list of operation names" in answer["message"]
    assert emulator.faults.deny_operations == set()
