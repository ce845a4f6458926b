"""YAML loading that remembers where every value came from.

PyYAML's ``safe_load`` throws positions away and silently keeps the last of two duplicate keys. We compose
the node graph instead, build plain Python data from it ourselves, and keep a map from field path to
(line, column), so that every later error (schema, cross-field, dangling name) can say ``file:line:col``.
``${VAR}`` references are resolved here, from the stack's ``vars`` first and the environment second.

Only plain data comes out: strings, numbers, booleans, null, dates, lists and mappings. Other YAML tags
(``!!binary``, ``!!set``, ``!!omap``, ``!custom``, ``!!python/...``) are errors at their line, and so is a
scalar the YAML library cannot construct (``2024-13-45``). Nesting is bounded (``MAX_DEPTH``): a deeper text
is refused after a cheap scan, before libyaml's recursive composer could exhaust the C stack, and the data
built through aliases is bounded while it is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.core.errors import Issue

MAX_FILE_BYTES = 1024 * 1024  # a manifest larger than this is a mistake (or an attack), not a deployment
MAX_NODES = 100_000  # bounds alias expansion ("billion laughs")
MAX_DEPTH = 64  # nested lists and mappings; a manifest needs about 6

PathKey = tuple[str | int, ...]
_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{([^}]*)\}?")
_YAML = "tag:yaml.org,2002:"
_PLAIN_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_VALUE_TAG = _YAML + "value"  # PyYAML's reading of a bare ``=``: it is the string "="
_COLLECTION_TAGS = {yaml.MappingNode: _YAML + "map", yaml.SequenceNode: _YAML + "seq"}
#: everything at the start of a line that can open a block collection: indentation, ``-``, ``?``, ``:``,
#: anchors and tags
_BLOCK_PREFIX = re.compile(r"^(?:[ \t?:-]|[&!][^ \t\n]*)*", re.MULTILINE)
DEPTH_MESSAGE = f"values are nested more than {MAX_DEPTH} levels deep"


@dataclass
class Document:
    """One YAML document: its data and the position of every value in it."""

    file: str
    index: int  # 0-based position of the document in its file
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    start: tuple[int, int] = (1, 1)
    #: the file a value came from when it is not ``file``: an environment overlay's patch merged onto a
    #: base document (``reconciler.core.overlay``) keeps, for each path it set, the overlay's file
    origins: dict[PathKey, str] = field(default_factory=dict)

    def locate(self, path: PathKey) -> tuple[int, int]:
        """Line and column of the deepest known prefix of ``path`` (a missing key points at its parent)."""
        return self.where(path)[1:]

    def where(self, path: PathKey) -> tuple[str, int, int]:
        """File, line and column of the deepest known prefix of ``path``."""
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            found = self.positions.get(prefix)
            if found is not None:
                return self.origins.get(prefix, self.file), found[0], found[1]
        return self.file, *self.start

    @property
    def files(self) -> set[str]:
        """Every file a value of this document came from (its own, and any overlay patched into it)."""
        return {self.file, *self.origins.values()}

    def file_of(self, path: PathKey) -> str:
        """The file the value at ``path`` was written in (relative paths in it are relative to that file)."""
        return self.where(path)[0]

    def issue(self, path: PathKey, message: str) -> Issue:
        file, line, column = self.where(path)
        return Issue(file, line, column, format_path(path), message)


def format_path(path: PathKey) -> str:
    """``("spec", "runtime", "env", 0)`` -> ``spec.runtime.env[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    """Turns a composed node graph into plain data, recording positions and collecting issues."""

    def __init__(self, file: str, variables: Mapping[str, str] | None) -> None:
        self.file = file
        self.variables = variables
        self.issues: list[Issue] = []
        self.positions: dict[PathKey, tuple[int, int]] = {}
        self.nodes = 0
        self._open: set[int] = set()
        self._constructor = yaml.SafeLoader("")
        self._too_deep = False

    def _pos(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _fail(self, node: yaml.Node, path: PathKey, message: str) -> None:
        line, column = self._pos(node)
        self.issues.append(Issue(self.file, line, column, format_path(path), message))

    def build(self, node: yaml.Node, path: PathKey, depth: int = 1) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge()
        self.positions.setdefault(path, self._pos(node))
        if isinstance(node, yaml.CollectionNode):
            if depth > MAX_DEPTH:  # reached through aliases: the text itself was scanned before composing
                if not self._too_deep:
                    self._too_deep = True
                    self._fail(node, path, DEPTH_MESSAGE)
                return None
            if node.tag != _COLLECTION_TAGS.get(type(node)):
                self._fail(node, path, f"YAML tag {_short(node.tag)} is not supported; {_PLAIN}")
                return None
            if id(node) in self._open:  # an alias to one of its own ancestors, e.g. ``&a [*a]``
                self._fail(node, path, "a YAML alias refers to a node that contains it (a cycle)")
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path, depth)
                return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        value = self._scalar(node, path)
        if isinstance(value, str) and self.variables is not None and "$" in value:
            value = self._substitute(node, path, value)
        return value

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag == _VALUE_TAG:
            return node.value
        if node.tag not in _PLAIN_SCALAR_TAGS:
            self._fail(node, path, f"YAML tag {_short(node.tag)} is not supported; {_PLAIN}")
            return None
        try:
            return self._constructor.construct_object(node, deep=True)
        except Exception as exc:  # PyYAML's constructors raise anything on a malformed scalar (2024-13-45)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._fail(node, path, f"{node.value!r} is not a valid {_short(node.tag)} value ({reason})")
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._fail(key_node, path, "YAML merge keys (<<) are not supported; write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(key_node, path, "mapping keys must be plain strings")
                continue
            key = self._scalar(key_node, path)
            if not isinstance(key, str):
                key = str(key)
            if key in seen:
                self._fail(
                    key_node, (*path, key), f"duplicate key {key!r} (first defined on line {seen[key]})"
                )
                continue
            seen[key] = key_node.start_mark.line + 1
            child_path = (*path, key)
            self.positions[child_path] = self._pos(key_node)
            result[key] = self.build(value_node, child_path, depth + 1)
        return result

    def _substitute(self, node: yaml.Node, path: PathKey, text: str) -> str:
        variables = self.variables or {}

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name is None:
                self._fail(node, path, f"malformed variable reference {match.group(0)!r}; use ${{NAME}}")
                return match.group(0)
            if name in variables:
                return variables[name]
            if name in os.environ:
                return os.environ[name]
            self._fail(
                node, path, f"variable ${{{name}}} is not defined in the stack's vars nor in the environment"
            )
            return match.group(0)

        return _VAR_RE.sub(replace, text)


class _TooLarge(Exception):
    pass


_PLAIN = "write plain strings, numbers, booleans, lists and mappings"


def _short(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


def _nesting_bound(text: str) -> int:
    """A cheap upper bound of how deep the text's lists and mappings nest.

    Each flow level needs a ``[`` or ``{``. A block collection starts where a line's prefix of indentation
    and indicators ends, and a nested block collection starts further right, except a list directly under
    a mapping key, which may start in the same column: block depth is at most twice the longest prefix.
    """
    prefix = max((len(m) for m in _BLOCK_PREFIX.findall(text)), default=0)
    return text.count("[") + text.count("{") + 2 * (prefix + 1)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where the text first nests deeper than ``MAX_DEPTH``, from the event stream (libyaml's parser keeps
    its own stack, unlike its composer, which recurses); None when it does not, or is not valid YAML (the
    composer then reports the syntax error, at a depth below the limit)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def _reader_issue(file: str, text: str, exc: yaml.reader.ReaderError) -> Issue:
    """A character YAML does not allow (NUL, most control characters), at its line and column."""
    position = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Issue(file, line, column, "", f"YAML error: character {character!r} is not allowed ({exc.reason})")


def _compose(text: str) -> list[yaml.Node]:
    """Compose with libyaml when present (several times faster over a large tree); a file it rejects is
    composed again by the pure-Python parser, whose error messages are the ones users see."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return list(yaml.compose_all(text, Loader=fast))
        except yaml.YAMLError:
            pass
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def parse_documents(
    text: str, file: str, variables: Mapping[str, str] | None = None
) -> tuple[list[Document], list[Issue]]:
    """Parse every document of a YAML text. ``variables`` None disables ``${VAR}`` substitution."""
    issues: list[Issue] = []
    documents: list[Document] = []
    if _nesting_bound(text) > MAX_DEPTH:
        where = _too_deep(text)
        if where is not None:
            return [], [Issue(file, *where, "", DEPTH_MESSAGE)]
    try:
        nodes = _compose(text)
    except RecursionError:  # a last line of defence: the scan above refuses deep text first
        return [], [Issue(file, 1, 1, "", DEPTH_MESSAGE)]
    except yaml.reader.ReaderError as exc:
        return [], [_reader_issue(file, text, exc)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        opened = exc.context_mark
        if opened is not None and ("end of stream" in problem or "<stream end>" in problem):
            mark = opened  # an unclosed quote or bracket: point at where it was opened
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        context = f" ({exc.context})" if exc.context else ""
        if opened is not None and mark is not opened:
            context = f" ({exc.context}, which started at line {opened.line + 1})" if exc.context else context
        return [], [Issue(file, line, column, "", f"YAML syntax error: {problem}{context}")]
    except yaml.YAMLError as exc:
        return [], [Issue(file, 1, 1, "", f"YAML error: {str(exc).splitlines()[0] if str(exc) else exc!r}")]
    for index, node in enumerate(nodes):
        if node is None:
            continue
        builder = _Builder(file, variables)
        try:
            data = builder.build(node, ())
        except _TooLarge:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            issues.append(Issue(file, line, column, "", f"document expands to more than {MAX_NODES} values"))
            continue
        except RecursionError:
            issues.append(Issue(file, node.start_mark.line + 1, 1, "", DEPTH_MESSAGE))
            continue
        issues.extend(builder.issues)
        start = (node.start_mark.line + 1, node.start_mark.column + 1)
        documents.append(Document(file, index, data, builder.positions, start))
    return documents, issues
