"""Load a manifest tree (``mdr.yaml`` + ``ModelDeployment`` documents) into validated models.

Loading never stops at the first problem: every issue in every file is collected, and the result says
whether the tree was read *completely*. Prune decisions depend on that flag: a tree that could not be read
in full must never cause a delete, because a missing manifest would look exactly like a removed one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reconciler.adapters.manifest_cache import MANIFESTS
from reconciler.core.document import MAX_FILE_BYTES, Document, parse_documents
from reconciler.core.errors import Issue
from reconciler.core.manifest import KIND_MODEL_DEPLOYMENT, StackConfig
from reconciler.core.overlay import KIND_PATCH, apply_patches, is_patch
from reconciler.core.stack import STACK_FILE, Stack, add_document, validate_model

MANIFEST_SUFFIXES = (".yaml", ".yml")
# A folder holding any of these is a model artifact, not part of the manifest tree.
ARTIFACT_MARKERS = ("score.py", "runtime.yaml", ".model-ignore")


def find_root(path: Path) -> Path:
    """Accept the tree's folder or its ``mdr.yaml``."""
    return path.parent if path.is_file() and path.name == STACK_FILE else path


def is_manifest_name(name: str) -> bool:
    """``.yaml``/``.yml`` in any case: a ``FRAUD.YAML`` must not be silently skipped (and so pruned)."""
    return name.lower().endswith(MANIFEST_SUFFIXES)


def scan_tree(root: Path, avoid: Path | None = None) -> tuple[list[Path], list[Issue]]:
    """Manifest files under ``root`` in a stable order, and an issue for every entry that could be a
    manifest but cannot be read: a dangling or looping symlink, an unlistable folder, a special file.

    Hidden entries and artifact folders (below the root) are skipped. Each issue makes the tree incomplete,
    so nothing is pruned: a manifest mdr could not read looks exactly like a removed one. A folder that
    leads (through a symlink) into ``avoid``, the other root of an overlay, is one such issue.
    """
    files: list[Path] = []
    issues: list[Issue] = []
    other = avoid.resolve() if avoid is not None and avoid.exists() else None
    _scan(root, root, files, issues, set(), other)
    return files, issues


def _scan(
    root: Path, folder: Path, files: list[Path], issues: list[Issue], seen: set[Path], other: Path | None
) -> None:
    try:
        real = folder.resolve(strict=True)
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except (OSError, RuntimeError) as exc:
        issues.append(Issue(str(folder), 0, 0, "", f"cannot read this folder: {_reason(exc)}"))
        return
    if real in seen:
        issues.append(Issue(str(folder), 0, 0, "", "symlinked folder loops back into the tree"))
        return
    if folder != root and other is not None and (real.is_relative_to(other) or other.is_relative_to(real)):
        issues.append(
            Issue(
                str(folder),
                0,
                0,
                "",
                f"symlinked folder leads into {other}, which this overlay reads already; "
                "its manifests would be read twice",
            )
        )
        return
    seen.add(real)
    if folder != root and any((folder / marker).exists() for marker in ARTIFACT_MARKERS):
        return  # a model artifact, not part of the manifest tree (the root itself never is one)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
            is_file = entry.is_file()
        except OSError as exc:  # e.g. ELOOP on a symlink loop
            issues.append(Issue(str(entry), 0, 0, "", f"cannot read this entry: {_reason(exc)}"))
            continue
        if is_dir:
            _scan(root, entry, files, issues, seen, other)
        elif is_file and is_manifest_name(entry.name):
            files.append(entry)
        elif entry.is_symlink() and not is_file and not is_dir:
            issues.append(Issue(str(entry), 0, 0, "", "symlink points at nothing (dangling or looping)"))
        elif is_manifest_name(entry.name):
            issues.append(Issue(str(entry), 0, 0, "", "not a regular file; a manifest must be one"))


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def load_file(path: Path, variables: Mapping[str, str] | None = None) -> tuple[list[Document], list[Issue]]:
    """Read and parse a YAML file, refusing unreadable, non-UTF-8 and oversized files with an Issue."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [
                Issue(file, 1, 1, "", f"file is {size} bytes; manifests are limited to {MAX_FILE_BYTES}")
            ]
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [
            Issue(file, line, column, "", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")
        ]
    except OSError as exc:
        return [], [Issue(file, 0, 0, "", f"cannot read file: {exc.strerror or exc}")]
    return MANIFESTS.parse(raw, text, file, variables, parse_documents)


def load_stack_config(root: Path) -> tuple[StackConfig | None, Document | None, list[Issue]]:
    stack_file = root / STACK_FILE
    if not stack_file.is_file():
        return None, None, [Issue(str(stack_file), 0, 0, "", f"no {STACK_FILE} stack file in {root}")]
    documents, issues = load_file(stack_file, variables={})
    if issues:
        return None, None, issues
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        return None, None, [Issue(str(stack_file), 1, 1, "", f"{STACK_FILE} must hold exactly one mapping")]
    config, issues = validate_model(StackConfig, documents[0])
    return config, documents[0], issues


def load_stack(path: Path) -> Stack:
    """Load and validate a whole manifest tree; never raises for bad input, returns issues instead."""
    root = find_root(path)
    if not root.exists():
        return Stack(root, None, issues=[Issue(str(root), 0, 0, "", "no such file or directory")])
    config, stack_document, issues = load_stack_config(root)
    stack = Stack(root, config, issues=list(issues))
    # Without a valid stack file, ${VAR}s and defaults are unknown: manifests are checked for everything
    # else, instead of burying the stack file's own error under one consequence per manifest
    variables = config.vars if config else None
    base_root = _base_root(root, config)
    problem = _base_problem(root, base_root) if base_root is not None else None
    if problem and stack_document is not None:
        stack.issues.append(stack_document.issue(("base",), problem))
    documents = _tree_documents(root, variables, stack, avoid=None if problem else base_root)
    roots = [root.resolve()]
    if base_root is not None and not problem:
        roots.append(base_root.resolve())
        documents = _with_base(base_root, documents, variables, stack)
    elif config is not None and config.base is None:
        for document in filter(is_patch, documents):
            stack.issues.append(
                document.issue(
                    ("kind",), f"a {KIND_PATCH} needs an environment overlay: set base: in {STACK_FILE}"
                )
            )
    # with a broken stack file or base, the error at its line is enough: the patches it leaves with nothing
    # to change are not each reported again (the tree is refused either way)
    documents = [d for d in documents if not is_patch(d)]
    first_seen: dict[str, Document] = {}
    for document in documents:
        add_document(stack, document, config, first_seen, _artifact_file)
    _contain_artifacts(stack, roots)
    MANIFESTS.save()  # what was parsed is not parsed again next time (manifest_cache)
    return stack


def _base_root(root: Path, config: StackConfig | None) -> Path | None:
    """The folder ``base:`` names (relative to the stack file), or None without one."""
    if config is None or config.base is None:
        return None
    return Path(os.path.normpath(root / config.base))


def _tree_documents(
    root: Path, variables: Mapping[str, str] | None, stack: Stack, avoid: Path | None = None
) -> list[Document]:
    """Every document of the tree's manifest files, in a stable order; problems go to ``stack.issues``.

    ``avoid`` is the other root of an overlay: a symlinked folder leading into it is refused, since its
    manifests would be read twice (once through the link, once as themselves)."""
    documents: list[Document] = []
    files, scan_issues = scan_tree(root, avoid)
    stack.issues.extend(scan_issues)
    for file in files:
        if file == root / STACK_FILE:
            continue
        stack.files.append(file)
        if file.name == STACK_FILE:
            stack.issues.append(
                Issue(str(file), 0, 0, "", f"{STACK_FILE} is only allowed at the tree's root")
            )
            continue
        file_documents, file_issues = load_file(file, variables)
        stack.issues.extend(file_issues)
        if not file_documents and not file_issues:
            # an editor that truncates before writing shows this state for a moment: never a removal
            stack.issues.append(Issue(str(file), 1, 1, "", "file holds no manifest; delete it or add one"))
        documents.extend(file_documents)
    return documents


def _base_problem(root: Path, base_root: Path) -> str | None:
    """Why ``base:`` cannot be used, or None. The base and the overlay must be apart: one inside the other
    would read the same files twice."""
    if not base_root.is_dir():
        missing = "is a file, not a folder" if base_root.exists() else "does not exist"
        return f"base folder {base_root} {missing} (base is relative to {STACK_FILE})"
    base, overlay = base_root.resolve(), root.resolve()
    if base == overlay or base.is_relative_to(overlay) or overlay.is_relative_to(base):
        return f"base folder {base_root} must lie beside this tree, not inside it nor around it"
    if (base_root / STACK_FILE).exists():
        return (
            f"base folder {base_root} holds a {STACK_FILE}; a base is a folder of deployments, not a stack "
            "(bases do not chain, and one environment cannot be another's base)"
        )
    return None


def _with_base(
    base_root: Path, documents: list[Document], variables: Mapping[str, str] | None, stack: Stack
) -> list[Document]:
    """The base's documents with this tree's patches merged in, then this tree's own deployments."""
    base_documents = _tree_documents(base_root, variables, stack, avoid=stack.root)
    if not any(
        isinstance(d.data, dict) and d.data.get("kind") == KIND_MODEL_DEPLOYMENT for d in base_documents
    ):
        stack.issues.append(Issue(str(base_root), 0, 0, "", "base folder holds no ModelDeployment"))
    for document in filter(is_patch, base_documents):
        stack.issues.append(
            document.issue(("kind",), f"a {KIND_PATCH} belongs in an overlay, not in the base")
        )
    overlay = apply_patches(
        [d for d in base_documents if not is_patch(d)], [d for d in documents if is_patch(d)]
    )
    stack.issues.extend(overlay.issues)
    stack.invalid_names.update(overlay.invalid_names)
    merged = [d for d in overlay.documents if _name_of(d) not in overlay.invalid_names]
    return merged + [d for d in documents if not is_patch(d)]


def _name_of(document: Document) -> str | None:
    data = document.data
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _contain_artifacts(stack: Stack, roots: list[Path]) -> None:
    """Refuse local artifacts that resolve (symlinks included) outside the stack's root (or its base).

    A pull request could otherwise package a CI runner's files (``../../.ssh``) into a model artifact and
    upload them: the class of Argo CD's CVE-2022-24348.
    """
    where = " or ".join(str(r) for r in roots)
    for artifact in list(stack.artifacts):  # those of invalid manifests too: validate reports every fault
        path = artifact.path
        if any(path.resolve().is_relative_to(r) for r in roots):
            continue
        stack.issues.append(
            artifact.document.issue(
                artifact.field,
                f"artifact resolves to {path.resolve()}, outside the stack's folder"
                f"{' and its base' if len(roots) > 1 else ''} ({where}); artifacts must live inside the "
                "manifest tree",
            )
        )
        stack.artifacts.remove(artifact)  # never read
        for deployment in [d for d in stack.deployments if d.document is artifact.document]:
            stack.deployments.remove(deployment)
            stack.invalid_names.add(deployment.name)


def _artifact_file(
    artifact: str, document: Document, field: tuple[str | int, ...] = ("spec", "model", "artifact")
) -> Path | None:
    """The local artifact (folder or .zip), resolved against the folder of the file that wrote ``field``
    (an overlay's patch, or the base manifest); None otherwise.

    Kept relative to the working directory when it lies below it, so that a saved plan travels with the
    checkout and applies from another runner's clone.
    """
    if artifact.startswith("oci://"):
        return None
    path = (Path(document.file_of(field)).parent / artifact).resolve()
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path
