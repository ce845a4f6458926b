"""The apply journal (what a re-run may resume) and the audit log (who wrote what), on disk."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from reconciler.adapters.journal import AuditLog, Journal, JournalEntry

STACK = "risk-prod"


def test_a_write_started_but_not_done_is_pending(tmp_path: Path) -> None:
    journal = Journal(STACK, tmp_path / "journal.jsonl")
    journal.record(JournalEntry("ModelDeployment/a", "CreateModelDeployment", "ocid1.md.a", "ocid1.wr.a"))
    journal.record(JournalEntry("ModelDeployment/b", "CreateModelDeployment", "ocid1.md.b", "ocid1.wr.b"))
    journal.record(
        JournalEntry("ModelDeployment/b", "CreateModelDeployment", "ocid1.md.b", "ocid1.wr.b", "done")
    )

    pending = journal.pending()

    assert list(pending) == [("ModelDeployment/a", "CreateModelDeployment")]
    entry = pending[("ModelDeployment/a", "CreateModelDeployment")]
    assert (entry.resource_id, entry.work_request_id, entry.status) == ("ocid1.md.a", "ocid1.wr.a", "started")


def test_the_last_record_of_a_change_and_operation_decides(tmp_path: Path) -> None:
    journal = Journal(STACK, tmp_path / "journal.jsonl")
    journal.record(JournalEntry("c", "UpdateModelDeployment:compute", "id", "wr-1", "done"))
    journal.record(JournalEntry("c", "UpdateModelDeployment:compute", "id", "wr-2", "started"))  # a new run
    journal.record(JournalEntry("c", "UpdateModelDeployment:environment", "id", "wr-3", "started"))
    journal.record(JournalEntry("c", "UpdateModelDeployment:environment", "id", "wr-3", "done"))

    pending = journal.pending()

    assert list(pending) == [("c", "UpdateModelDeployment:compute")]
    assert pending[("c", "UpdateModelDeployment:compute")].work_request_id == "wr-2"


def test_a_new_process_reads_what_an_earlier_one_recorded(tmp_path: Path) -> None:
    path = tmp_path / "journal" / "risk-prod.jsonl"  # the folder is made on the first record
    Journal(STACK, path).record(JournalEntry("c", "CreateLog", None, "wr", "started"))

    assert Journal(STACK, path).pending()[("c", "CreateLog")].work_request_id == "wr"


def test_a_torn_last_line_after_a_crash_is_ignored(tmp_path: Path) -> None:
    journal = Journal(STACK, tmp_path / "journal.jsonl")
    audit = AuditLog(STACK, tmp_path / "audit.jsonl")
    journal.record(JournalEntry("c", "CreateModel", "ocid1.model", None, "started"))
    audit.write("c", "CreateModel", "accepted", "req-1")
    for path in (journal.path, audit.path):
        with path.open("a") as handle:
            handle.write('{"change": "c", "op": "CreateMo')  # killed mid-write

    assert list(journal.pending()) == [("c", "CreateModel")]
    assert [r["opcRequestId"] for r in audit.read()] == ["req-1"]


def test_an_empty_journal_has_nothing_pending(tmp_path: Path) -> None:
    assert Journal(STACK, tmp_path / "never-written.jsonl").pending() == {}
    assert AuditLog(STACK, tmp_path / "never-written.jsonl").read() == []


def test_audit_records_name_the_stack_the_resource_and_the_request_ids(tmp_path: Path) -> None:
    audit = AuditLog(STACK, tmp_path / "audit.jsonl")

    audit.write("ModelDeployment/a", "CreateModelDeployment", "accepted", "req-1", "wr-1", "ocid1.md.a")
    audit.write("ModelDeployment/a", "UpdateModelDeployment", "error 412 IfMatchFailed", "req-2")

    first, second = audit.read()
    assert first["stack"] == STACK and first["key"] == "ModelDeployment/a"
    assert (first["operation"], first["outcome"]) == ("CreateModelDeployment", "accepted")
    assert (first["opcRequestId"], first["opcWorkRequestId"], first["resourceId"]) == (
        "req-1",
        "wr-1",
        "ocid1.md.a",
    )
    assert first["time"].endswith("Z")
    assert (second["outcome"], second["opcRequestId"], second["opcWorkRequestId"]) == (
        "error 412 IfMatchFailed",
        "req-2",
        None,
    )


def test_records_from_concurrent_changes_never_interleave(tmp_path: Path) -> None:
    audit = AuditLog(STACK, tmp_path / "audit.jsonl")

    def write(worker: int) -> None:
        for i in range(50):
            audit.write(f"key-{worker}", "CreateLog", "accepted", f"req-{worker}-{i}", detail="x" * 2000)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = audit.path.read_text().splitlines()
    assert len(lines) == 400
    assert {json.loads(line)["opcRequestId"] for line in lines} == {
        f"req-{n}-{i}" for n in range(8) for i in range(50)
    }


def test_each_stack_keeps_its_records_under_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDR_STATE_DIR", str(tmp_path / "state"))

    assert Journal.for_stack("a").path == tmp_path / "state" / "journal" / "a.jsonl"
    assert AuditLog.for_stack("a").path == tmp_path / "state" / "audit" / "a.jsonl"


def test_the_state_folder_ignores_itself_in_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys, emulator state, journal and audit log must never show up as untracked files."""
    monkeypatch.setenv("MDR_STATE_DIR", str(tmp_path / ".mdr"))
    AuditLog.for_stack("risk-prod").write("ModelDeployment/x", "CreateModel", "accepted")
    ignore = tmp_path / ".mdr" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"
