"""Hostile artifacts for tests: zips no well-behaved tool writes, and paths too long for the kernel.

Python's ``zipfile`` refuses to write an encrypted entry, an unknown compression method or a wrong CRC, so
these helpers write an ordinary zip and then patch its bytes, in both the local header and the central
directory, exactly where a broken or malicious tool would.
"""

from __future__ import annotations

import os
import struct
import warnings
import zipfile
from pathlib import Path

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"


def write_zip(path: Path, files: dict[str, bytes | str], compression: int = zipfile.ZIP_STORED) -> Path:
    """An ordinary zip of ``files`` (names in order; duplicates are possible by repeating a name with a
    suffix ``#n``, which is dropped)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": that is the point
        for name, data in files.items():
            archive.writestr(name.split("#", 1)[0], data)
    return path


def _headers(data: bytes, signature: bytes) -> list[int]:
    offsets, start = [], 0
    while (found := data.find(signature, start)) >= 0:
        offsets.append(found)
        start = found + 4
    return offsets


def patch_zip(path: Path, *, flags: int | None = None, method: int | None = None) -> Path:
    """Set the general-purpose flags and/or the compression method of every entry, in both headers."""
    data = bytearray(path.read_bytes())
    for offset in _headers(bytes(data), LOCAL):
        if flags is not None:
            struct.pack_into("<H", data, offset + 6, flags)
        if method is not None:
            struct.pack_into("<H", data, offset + 8, method)
    for offset in _headers(bytes(data), CENTRAL):
        if flags is not None:
            struct.pack_into("<H", data, offset + 8, flags)
        if method is not None:
            struct.pack_into("<H", data, offset + 10, method)
    path.write_bytes(bytes(data))
    return path


def corrupt_member(path: Path, name: str) -> Path:
    """Flip one byte of ``name``'s stored data: its CRC no longer matches (or its deflate stream breaks)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    offset = info.header_offset
    name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
    start = offset + 30 + name_length + extra_length
    assert info.compress_size > 0, "nothing to corrupt"
    data[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def rename_member_bytes(path: Path, old: bytes, new: bytes) -> Path:
    """Replace a member's name bytes (same length) in both headers, e.g. with bytes that are not UTF-8."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new))
    return path


PATH_MAX = 4096


def deep_path(root: Path, name_length: int = 200) -> str:
    """Folders with long names under ``root``, as deep as PATH_MAX allows, made through directory handles.

    The deepest folder's path fits in PATH_MAX (it can be listed) but the 250-character file in it does not:
    opening or stat-ing that file fails with ENAMETOOLONG, even for root. Returns the folders' relative path.
    """
    depth = (PATH_MAX - 1 - len(str(root.resolve()))) // (name_length + 1)
    parts = [f"{level:03d}" + "d" * (name_length - 3) for level in range(depth)]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            os.mkdir(part, dir_fd=fd)
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        for name in ("weights.bin", "w" * 250):
            handle = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(handle, b"x")
            os.close(handle)
    finally:
        os.close(fd)
    return "/".join(parts)
