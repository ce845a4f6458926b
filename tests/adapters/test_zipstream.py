"""The upload zip is streamed: exact length up front, readable by zip tools, deterministic, change-proof."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from reconciler.adapters.artifact import artifact_identity
from reconciler.adapters.zipstream import ZipStream, prepare
from reconciler.core.errors import ArtifactError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "score.py").write_text(
        "def load_model():\n    return 1\n\n\ndef predict(data, model=None):\n    return data\n"
    )
    (root / "runtime.yaml").write_text('MODEL_ARTIFACT_VERSION: "3.0"\n')
    (root / "weights" / "w.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "naïve.txt").write_text("unicode name")
    return root


@pytest.mark.parametrize("zip64_limit", [None, 1000], ids=["zip32", "zip64"])
def test_stream_has_the_announced_length_and_unzips_to_the_files(
    folder: Path, zip64_limit: int | None
) -> None:
    prepared = prepare(folder) if zip64_limit is None else prepare(folder, zip64_limit=zip64_limit)
    stream = ZipStream(prepared)
    data = b"".join(iter(lambda: stream.read(8192), b""))
    assert len(data) == prepared.size == len(stream)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert archive.read("weights/w.bin") == (folder / "weights" / "w.bin").read_bytes()
    assert sorted(archive.namelist()) == ["naïve.txt", "runtime.yaml", "score.py", "weights/w.bin"]
    assert prepared.identity == artifact_identity(folder)  # the same identity the plan computed


def test_same_folder_streams_the_same_bytes_and_rewinds(folder: Path) -> None:
    first = ZipStream(prepare(folder)).read()
    again = ZipStream(prepare(folder))
    again.read(5000)
    assert again.seek(0) == 0
    assert again.read() == first
    with pytest.raises(OSError):
        again.seek(10)


def test_a_file_changed_after_hashing_stops_the_upload(folder: Path) -> None:
    prepared = prepare(folder)
    target = folder / "weights" / "w.bin"
    target.write_bytes(b"X" + target.read_bytes()[1:])  # same size, other content
    with pytest.raises(ArtifactError, match="changed since it was hashed"):
        ZipStream(prepared).read()
