"""A model artifact's zip, streamed straight into the upload request: no temporary file, no second copy.

An upload needs its exact length before the first byte (``content-length``) and the zip's local headers want
each file's CRC-32 before its data. A data descriptor after the data would avoid that pass, but some readers
refuse stored entries with one. So one pass over the files computes the identity (sha256, on a second core)
and every CRC (``prepare``); the zip's length then follows from the file sizes alone, and ``ZipStream`` yields
headers and file bytes as the HTTP client reads them. Every entry is stored, not deflated: model weights do
not compress, and stored entries are what make the length known without compressing anything twice.

While streaming, each file's CRC is computed again and compared before its last byte leaves. A file that
changed since ``prepare`` stops the upload with ``ArtifactError`` (the request then fails; nothing half-made
is ever accepted). The bytes are deterministic (sorted entries, fixed time and permissions, no compression):
the same folder always streams the same zip.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reconciler.adapters.artifact import ArtifactFile, _chunks, _identity_header, hash_file, list_files
from reconciler.core.errors import ArtifactError

ZIP64_LIMIT = (1 << 31) - 1  # as Python's zipfile: beyond it sizes and offsets move to zip64 extras
DOS_TIME, DOS_DATE = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00:00
VERSION_STORED, VERSION_ZIP64 = 20, 45
UNIX_FILE_0644 = (0o100644 << 16) & 0xFFFFFFFF
CREATE_SYSTEM_UNIX = 3


@dataclass(frozen=True)
class Entry:
    file: ArtifactFile
    crc: int
    offset: int  # of its local header in the zip

    @property
    def name(self) -> bytes:
        return self.file.rel.encode("utf-8")


@dataclass(frozen=True)
class Prepared:
    source: Path
    entries: tuple[Entry, ...]
    identity: str
    size: int  # exact length of the zip in bytes
    tail: bytes  # the central directory and end records, which follow the last file
    zip64_limit: int = ZIP64_LIMIT


def _local_header(entry: Entry, limit: int) -> bytes:
    size = entry.file.size
    zip64 = size > limit
    extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
    shown = 0xFFFFFFFF if zip64 else size
    flags = 0x800 if not entry.file.rel.isascii() else 0
    return (
        struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            VERSION_ZIP64 if zip64 else VERSION_STORED,
            flags,
            0,  # stored
            DOS_TIME,
            DOS_DATE,
            entry.crc,
            shown,
            shown,
            len(entry.name),
            len(extra),
        )
        + entry.name
        + extra
    )


def _central_record(entry: Entry, limit: int) -> bytes:
    size, offset = entry.file.size, entry.offset
    values = [v for v in (size, size) if size > limit] + ([offset] if offset > limit else [])
    extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
    zip64 = bool(values)
    flags = 0x800 if not entry.file.rel.isascii() else 0
    return (
        struct.pack(
            "<4sBBHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            VERSION_ZIP64 if zip64 else VERSION_STORED,
            CREATE_SYSTEM_UNIX,
            VERSION_ZIP64 if zip64 else VERSION_STORED,
            flags,
            0,
            DOS_TIME,
            DOS_DATE,
            entry.crc,
            0xFFFFFFFF if size > limit else size,
            0xFFFFFFFF if size > limit else size,
            len(entry.name),
            len(extra),
            0,  # comment
            0,  # disk
            0,  # internal attributes
            UNIX_FILE_0644,
            0xFFFFFFFF if offset > limit else offset,
        )
        + entry.name
        + extra
    )


def _end_records(count: int, directory_offset: int, directory_size: int, limit: int) -> bytes:
    zip64 = count >= 0xFFFF or directory_offset > limit or directory_size > limit
    out = b""
    if zip64:
        end64_offset = directory_offset + directory_size
        out += struct.pack(
            "<4sQHHIIQQQQ", b"PK\x06\x06", 44, VERSION_ZIP64, VERSION_ZIP64, 0, 0, count, count,
            directory_size, directory_offset,
        )  # fmt: skip
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, end64_offset, 1)
    out += struct.pack(
        "<4sHHHHIIH",
        b"PK\x05\x06",
        0,
        0,
        min(count, 0xFFFF),
        min(count, 0xFFFF),
        min(directory_size, 0xFFFFFFFF),
        0xFFFFFFFF if zip64 else directory_offset,
        0,
    )
    return out


def _layout(files: list[ArtifactFile], crcs: list[int], limit: int) -> tuple[tuple[Entry, ...], bytes, int]:
    """Entries with their offsets, the bytes after the last file, and the zip's total length."""
    entries = []
    offset = 0
    for file, crc in zip(files, crcs, strict=True):
        entry = Entry(file, crc, offset)
        entries.append(entry)
        offset += len(_local_header(entry, limit)) + file.size
    directory = b"".join(_central_record(e, limit) for e in entries)
    tail = directory + _end_records(len(entries), offset, len(directory), limit)
    return tuple(entries), tail, offset + len(tail)


class _Crc:
    def __init__(self) -> None:
        self.value = 0

    def update(self, chunk: bytes) -> None:
        self.value = zlib.crc32(chunk, self.value)


def prepare(source: Path, zip64_limit: int = ZIP64_LIMIT) -> Prepared:
    """One pass over the files: identity (sha256 on a second core) and each file's CRC-32."""
    files = list_files(source)
    digest = hashlib.sha256(_identity_header(files))
    crcs = []
    for item in files:
        crc = _Crc()
        hash_file(digest, source, item, crc.update)
        crcs.append(crc.value)
    entries, tail, size = _layout(files, crcs, zip64_limit)
    return Prepared(source, entries, "sha256:" + digest.hexdigest(), size, tail, zip64_limit)


def _pieces(prepared: Prepared) -> Iterator[bytes]:
    for entry in prepared.entries:
        yield _local_header(entry, prepared.zip64_limit)
        crc, seen = _Crc(), 0
        for chunk in _chunks(prepared.source, entry.file):
            crc.update(chunk)
            seen += len(chunk)
            if seen >= entry.file.size and (crc.value != entry.crc or seen != entry.file.size):
                raise ArtifactError(
                    f"{entry.file.rel} changed since it was hashed; the upload was stopped. Plan again"
                )
            yield chunk
        if seen != entry.file.size:
            raise ArtifactError(f"{entry.file.rel} changed since it was hashed; the upload was stopped")
    yield prepared.tail


class ZipStream:
    """A read-only, rewindable file object over the zip (what the SDK wants as an upload body)."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self._pieces = _pieces(prepared)
        self._current = memoryview(b"")
        self._position = 0

    def __len__(self) -> int:
        return self.prepared.size

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); copies each byte once."""
        wanted = self.prepared.size - self._position if size is None or size < 0 else size
        parts: list[memoryview] = []
        while wanted > 0:
            if not self._current:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._current = memoryview(piece)
            part, self._current = self._current[:wanted], self._current[wanted:]
            parts.append(part)
            wanted -= len(part)
        out = b"".join(parts)
        self._position += len(out)
        return out

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only rewinding to the start is supported (what an SDK retry does); ``len()`` gives the length."""
        target = offset if whence == 0 else self._position + offset
        if target == self._position:
            return target
        if target != 0:
            raise OSError("a zip stream can only be rewound to its start")
        self._pieces = _pieces(self.prepared)
        self._current = memoryview(b"")
        self._position = 0
        return 0
