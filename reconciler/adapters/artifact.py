"""Model artifacts: the file set, its identity, a reproducible zip, and checks before upload.

Identity is sha256 over (relative POSIX path, content) of every file in sorted order, with lengths framing
each part so that ("ab", "c") and ("a", "bc") differ. It does not depend on timestamps, permissions, the
folder's location, or how a zip was made, so re-zipping never creates a new model while any content change
or rename does. The zip mdr builds is byte-for-byte reproducible: sorted entries, fixed timestamps
(1980-01-01) and permissions (0644). Direct uploads stream it without a temporary file (``zipstream``);
``package`` writes it to disk, for the Object Storage path of artifacts above the direct-upload threshold.

Layout: files at the root of the folder (or zip). An artifact whose files all sit in one top-level folder
holding score.py or runtime.yaml (what ``zip -r model.zip model/`` makes, and what ADS accepts) is
normalised by dropping that folder, in folders and zips alike, so the identity of a folder equals the
identity of any zip of it.

Exclusions: ``__pycache__``, ``*.pyc``, ``.ipynb_checkpoints``, ``.git``, ``.DS_Store``, virtualenvs (a folder
holding ``pyvenv.cfg``, or named ``.venv``/``venv``), the ``.model-ignore`` file itself, and the patterns it
lists (gitignore-like: ``#`` comments, a trailing ``/`` matches folders only, a pattern without ``/``
matches at any depth, a leading ``/`` anchors it at the root).

Everything streams in 1 MiB chunks; no file is ever read whole into memory (except score.py / runtime.yaml
for checks, which are capped).

Safety: a folder is walked without recursion; a symlink must resolve inside the artifact (files and folders
alike), and one that dangles, loops, or leads back to a folder containing it is an error, as are special
files (FIFOs, sockets, devices), names that are not UTF-8, and folders nested deeper than
``MAX_FOLDER_DEPTH``. A zip must be readable by what uploads it: no encrypted entry, no compression method
other than stored, deflate, bzip2 or lzma, no name twice, no name that is both a file and a folder; the
checks (``check_artifact``) read every member once, so a bad CRC is found by ``mdr validate``. Any error
while reading is an ``ArtifactError``, never an exception from ``zipfile`` or the OS.
"""

from __future__ import annotations

import fnmatch
import hashlib
import lzma
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.core.errors import ArtifactError, one_line

ARTIFACT_CHUNK = 1024 * 1024
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644 << 16
COMPRESS_LEVEL = 6
#: files larger than this are deflated only if a sample of them shrinks by DEFLATE_MIN_SAVING; model weights
#: rarely do, and deflating gigabytes for a few percent costs far more than uploading them
SAMPLE_BYTES = 1024 * 1024
DEFLATE_MIN_SAVING = 0.15
IGNORE_FILE = ".model-ignore"
ALWAYS_EXCLUDED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".git", ".venv", "venv"})
ALWAYS_EXCLUDED_FILES = ("*.pyc", ".DS_Store", IGNORE_FILE)
MAX_CHECKED_FILE = 1024 * 1024  # score.py / runtime.yaml larger than this are not parsed
CONDA_ENV_TYPES = ("published", "data_science")
MAX_FOLDER_DEPTH = 64
MAX_FILES = 100_000  # also bounds a tree of symlinks that multiplies one folder many times over
#: what Python's zipfile (and so the upload, which re-reads every member) can decompress
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
#: what reading a broken zip raises: zipfile, its decompressors and struct do not share a base class
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    KeyError,
    struct.error,
)


@dataclass(frozen=True)
class ArtifactFile:
    rel: str  # POSIX path relative to the artifact root
    size: int
    source: Path | None = None  # the file on disk (folder artifacts)
    member: str | None = None  # the entry name inside the zip (zip artifacts)


@dataclass(frozen=True)
class PackageResult:
    path: Path
    identity: str
    size_bytes: int
    file_count: int


# --- exclusions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    glob: str
    anchored: bool
    dir_only: bool
    negated: bool


def _parse_ignore(text: str) -> list[_Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line[1:] if negated else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = line.startswith("/") or "/" in line
        patterns.append(_Pattern(line.lstrip("/"), anchored, dir_only, negated))
    return patterns


def _ignored(rel: str, is_dir: bool, patterns: list[_Pattern]) -> bool:
    result = False
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.dir_only and not is_dir:
            continue
        target = rel if pattern.anchored else name
        if fnmatch.fnmatchcase(target, pattern.glob):
            result = not pattern.negated
    return result


def _always_excluded(name: str, is_dir: bool) -> bool:
    if is_dir:
        return name in ALWAYS_EXCLUDED_DIRS
    return any(fnmatch.fnmatchcase(name, glob) for glob in ALWAYS_EXCLUDED_FILES)


# --- listing ------------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


def _read_ignore(root: Path) -> list[_Pattern]:
    ignore_file = root / IGNORE_FILE
    try:
        if not ignore_file.is_file():
            return []
        return _parse_ignore(ignore_file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            f"{ignore_file}: {IGNORE_FILE} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ArtifactError(f"{ignore_file}: cannot read {IGNORE_FILE}: {_reason(exc)}") from None


def _link_target(path: Path, root_real: Path, chain: tuple[Path, ...]) -> Path:
    """Where a symlink leads; ArtifactError when it dangles, loops or leaves the artifact."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: broken symlink (its target does not exist)") from None
    except (OSError, RuntimeError) as exc:  # ELOOP: Python before 3.13 raises RuntimeError
        raise ArtifactError(f"{path}: symlink loop ({_reason(exc)})") from None
    if not target.is_relative_to(root_real):
        raise ArtifactError(f"{path}: symlink points outside the artifact folder ({target})")
    if target in chain:
        raise ArtifactError(f"{path}: symlink loops back to {target}, a folder that contains it")
    return target


def _list_folder(root: Path) -> list[ArtifactFile]:
    try:
        root_real = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ArtifactError(f"{root}: cannot read the artifact folder: {_reason(exc)}") from None
    patterns = _read_ignore(root)
    files: list[ArtifactFile] = []
    # folders still to list: (path, real path, relative prefix, the real folders walked to reach it)
    pending: list[tuple[Path, Path, str, tuple[Path, ...]]] = [(root, root_real, "", (root_real,))]
    while pending:
        folder, real, prefix, chain = pending.pop()
        if len(chain) > MAX_FOLDER_DEPTH:
            raise ArtifactError(f"{folder}: folders are nested more than {MAX_FOLDER_DEPTH} levels deep")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise ArtifactError(f"{folder}: cannot list this folder: {_reason(exc)}") from None
        for entry in entries:
            path = Path(entry.path)
            rel = f"{prefix}{entry.name}"
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                raise ArtifactError(f"{one_line(str(path))}: the file name is not valid UTF-8") from None
            try:
                target = _link_target(path, root_real, chain) if entry.is_symlink() else None
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError as exc:
                raise ArtifactError(f"{path}: cannot read: {_reason(exc)}") from None
            if _always_excluded(entry.name, is_dir) or _ignored(rel, is_dir, patterns):
                continue
            if is_dir:
                if (path / "pyvenv.cfg").exists():
                    continue  # a virtualenv
                child = target if target is not None else real / entry.name
                pending.append((path, child, rel + "/", (*chain, child)))
            elif is_file:
                try:
                    size = path.stat().st_size
                except OSError as exc:
                    raise ArtifactError(f"{path}: cannot read: {_reason(exc)}") from None
                files.append(ArtifactFile(rel, size, source=path))
                if len(files) > MAX_FILES:
                    raise ArtifactError(
                        f"{root}: more than {MAX_FILES} files; list the extra ones in {IGNORE_FILE}"
                    )
            else:
                raise ArtifactError(
                    f"{path}: not a regular file or folder (a FIFO, socket or device); remove it or list it "
                    f"in {IGNORE_FILE}"
                )
    return sorted(_unwrap(files), key=lambda f: f.rel)


def _safe_member(name: str, archive: Path) -> str:
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\\" in name:
        raise ArtifactError(f"{archive}: entry {name!r} has an absolute or non-POSIX path")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ArtifactError(f"{archive}: entry {name!r} leaves the archive with '..'")
    return name


def _wrapper_prefix(names: list[str]) -> str:
    """``top/`` when every file sits in one folder that holds score.py or runtime.yaml (an ADS-style zip)."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) != 1 or not all("/" in n for n in names):
        return ""
    top = next(iter(tops))
    return f"{top}/" if {f"{top}/score.py", f"{top}/runtime.yaml"} & set(names) else ""


def _unwrap(files: list[ArtifactFile]) -> list[ArtifactFile]:
    prefix = _wrapper_prefix([f.rel for f in files])
    if not prefix:
        return files
    return [ArtifactFile(f.rel[len(prefix) :], f.size, f.source, f.member) for f in files]


def _check_zip_entries(archive: Path, infos: list[zipfile.ZipInfo]) -> None:
    files: set[str] = set()
    folders: set[str] = set()
    for info in infos:
        name = info.filename
        if info.is_dir():
            folders.add(name.rstrip("/"))
            continue
        _safe_member(name, archive)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ArtifactError(f"{archive}: entry {name!r} is a symlink")
        if info.flag_bits & 0x1:
            raise ArtifactError(
                f"{archive}: entry {name!r} is encrypted; an artifact must be an unencrypted zip"
            )
        if info.compress_type not in ZIP_METHODS:
            raise ArtifactError(
                f"{archive}: entry {name!r} uses compression method {info.compress_type}, which cannot be "
                "read; use stored or deflate (zip's defaults)"
            )
        if name in files:
            raise ArtifactError(f"{archive}: entry {name!r} appears more than once")
        files.add(name)
        parts = name.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    clash = sorted(files & folders)
    if clash:
        raise ArtifactError(f"{archive}: {clash[0]!r} is both a file and a folder in the zip")


def _list_zip(archive: Path) -> list[ArtifactFile]:
    try:
        with zipfile.ZipFile(archive) as zf:
            every = zf.infolist()
    except _ZIP_ERRORS as exc:
        raise ArtifactError(f"{archive}: not a valid zip file ({one_line(_reason(exc))})") from None
    _check_zip_entries(archive, every)
    infos = [i for i in every if not i.is_dir()]
    names = [i.filename for i in infos]
    strip = _wrapper_prefix(names)
    patterns: list[_Pattern] = []
    ignore_member = strip + IGNORE_FILE
    if ignore_member in names:
        try:
            with zipfile.ZipFile(archive) as zf:
                patterns = _parse_ignore(zf.read(ignore_member).decode("utf-8", "replace"))
        except _ZIP_ERRORS as exc:
            raise ArtifactError(f"{archive}!{ignore_member}: cannot be read ({_reason(exc)})") from None
    files = []
    for info in infos:
        rel = info.filename[len(strip) :]
        parts = rel.split("/")
        dirs, name = parts[:-1], parts[-1]
        if any(_always_excluded(d, True) for d in dirs) or _always_excluded(name, False):
            continue
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(dirs))]
        if any(_ignored(p, True, patterns) for p in prefixes) or _ignored(rel, False, patterns):
            continue
        files.append(ArtifactFile(rel, info.file_size, member=info.filename))
    return sorted(files, key=lambda f: f.rel)


def list_files(source: Path) -> list[ArtifactFile]:
    """The artifact's file set, sorted, exclusions applied; ArtifactError on unsafe entries."""
    if source.is_dir():
        files = _list_folder(source)
    elif source.is_file() and source.suffix == ".zip":
        files = _list_zip(source)
    else:
        raise ArtifactError(f"{source}: an artifact must be a folder or a .zip file")
    if not files:
        raise ArtifactError(f"{source}: the artifact holds no files (after exclusions)")
    return files


def _chunks(source: Path, item: ArtifactFile) -> Generator[bytes, None, None]:
    """The file's bytes; ArtifactError when they cannot be read (a zip's bad CRC is found at its end)."""
    if item.source is not None:
        try:
            with item.source.open("rb") as handle:
                while chunk := handle.read(ARTIFACT_CHUNK):
                    yield chunk
        except OSError as exc:
            raise ArtifactError(f"{item.source}: cannot read: {_reason(exc)}") from None
        return
    assert item.member is not None
    try:
        with zipfile.ZipFile(source) as zf, zf.open(item.member) as handle:
            while chunk := handle.read(ARTIFACT_CHUNK):
                yield chunk
    except _ZIP_ERRORS as exc:
        raise ArtifactError(f"{source}!{item.member}: cannot be read ({one_line(_reason(exc))})") from None


def verify_readable(source: Path, files: list[ArtifactFile]) -> None:
    """Read what an upload will read: every member of a zip once (decompressing it and checking its CRC),
    and open every file of a folder. ArtifactError names the first that fails."""
    for item in files:
        if item.source is not None:
            try:
                item.source.open("rb").close()
            except OSError as exc:
                raise ArtifactError(f"{item.source}: cannot read: {_reason(exc)}") from None
        else:
            for _ in _chunks(source, item):
                pass


def _frame(value: int) -> bytes:
    return value.to_bytes(8, "big")


def _identity_header(files: list[ArtifactFile]) -> bytes:
    return b"mdr-artifact-v1" + _frame(len(files))


def artifact_identity(source: Path) -> str:
    """``sha256:<hex>`` of the file set (see the module docstring)."""
    files = list_files(source)
    digest = hashlib.sha256(_identity_header(files))
    for item in files:
        hash_file(digest, source, item)
    return "sha256:" + digest.hexdigest()


def hash_file(
    digest: hashlib._Hash, source: Path, item: ArtifactFile, work: Callable[[bytes], object] | None = None
) -> None:
    """Feed one file (framed by its path and size) to ``digest``; ``work`` also sees every chunk.

    With ``work`` (writing, CRC-32) the hashing of chunk n runs on another core while ``work`` handles it here
    (hashlib and zlib release the GIL): the pass then costs about as much as hashing alone.
    """
    path = item.rel.encode()
    digest.update(_frame(len(path)) + path + _frame(item.size))
    seen = 0
    if work is None or item.size <= ARTIFACT_CHUNK:
        for chunk in _chunks(source, item):
            digest.update(chunk)
            if work is not None:
                work(chunk)
            seen += len(chunk)
    else:
        with ThreadPoolExecutor(max_workers=1) as hasher:
            pending: Future[None] | None = None
            for chunk in _chunks(source, item):
                if pending is not None:
                    pending.result()
                pending = hasher.submit(digest.update, chunk)
                work(chunk)
                seen += len(chunk)
            if pending is not None:
                pending.result()
    if seen != item.size:
        raise ArtifactError(f"{item.rel}: changed while being read ({seen} bytes, expected {item.size})")


def _compression_for(source: Path, item: ArtifactFile) -> int:
    """Deflate small files and large ones that compress well; store the rest. A function of the content
    only, so the zip stays reproducible."""
    if item.size <= SAMPLE_BYTES:
        return zipfile.ZIP_DEFLATED
    chunks = _chunks(source, item)
    try:
        sample = next(chunks, b"")[:SAMPLE_BYTES]
    finally:
        chunks.close()
    if len(zlib.compress(sample, 1)) <= len(sample) * (1 - DEFLATE_MIN_SAVING):
        return zipfile.ZIP_DEFLATED
    return zipfile.ZIP_STORED


def package(source: Path, dest: Path) -> PackageResult:
    """Write the reproducible zip of ``source`` to ``dest``, computing its identity in the same pass."""
    files = list_files(source)
    digest = hashlib.sha256(_identity_header(files))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for item in files:
            info = zipfile.ZipInfo(item.rel, date_time=ZIP_DATE)
            info.external_attr = ZIP_FILE_MODE
            info.compress_type = _compression_for(source, item)
            info.create_system = 3  # unix, so that the permission bits mean the same everywhere
            info.file_size = item.size
            with zf.open(info, "w", force_zip64=item.size > 2**31) as sink:
                hash_file(digest, source, item, sink.write)
    os.replace(tmp, dest)
    return PackageResult(dest, "sha256:" + digest.hexdigest(), dest.stat().st_size, len(files))


def read_member(source: Path, rel: str, files: list[ArtifactFile] | None = None) -> bytes:
    """A small file of the artifact (score.py, runtime.yaml); KeyError when absent."""
    for item in files if files is not None else list_files(source):
        if item.rel == rel:
            if item.size > MAX_CHECKED_FILE:
                raise ArtifactError(
                    f"{where(source, rel)}: {item.size} bytes; too large to check (at most {MAX_CHECKED_FILE})"
                )
            return b"".join(_chunks(source, item))
    raise KeyError(rel)


def where(source: Path, rel: str) -> str:
    return str(source / rel) if source.is_dir() else f"{source}!{rel}"
