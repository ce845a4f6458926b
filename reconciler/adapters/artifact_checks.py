"""What ``mdr validate`` checks inside a model artifact before anything is uploaded: ``score.py`` parses and
defines ``load_model``/``predict`` with the service's signatures, and ``runtime.yaml`` names a usable
conda environment. Reading the files themselves (folders, zips, symlinks) is ``reconciler.adapters.artifact``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from reconciler.adapters.artifact import (
    CONDA_ENV_TYPES,
    list_files,
    read_member,
    verify_readable,
    where,
)
from reconciler.core.document import Document, parse_documents
from reconciler.core.errors import ArtifactError, Issue

# --- checks -------------------------------------------------------------------------------------------


def _busiest_line(text: bytes) -> int:
    """The line holding the most tokens: where an expression too complex to compile is (1 if unknown)."""
    counts: dict[int, int] = {}
    try:
        for token in tokenize.tokenize(io.BytesIO(text).readline):
            counts[token.start[0]] = counts.get(token.start[0], 0) + 1
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return max(counts, key=lambda line: counts[line], default=1)


def _check_score(source: Path, text: bytes) -> list[Issue]:
    file = where(source, "score.py")
    if b"\0" in text:
        line = text[: text.index(b"\0")].count(b"\n") + 1
        return [Issue(file, line, 1, "", "score.py does not parse: it holds a null byte")]
    try:
        tree = ast.parse(text, filename=file)
    except SyntaxError as exc:
        return [Issue(file, exc.lineno or 1, exc.offset or 1, "", f"score.py does not parse: {exc.msg}")]
    except (RecursionError, MemoryError):
        return [
            Issue(
                file,
                _busiest_line(text),
                1,
                "",
                "score.py does not compile: an expression is too complex (too long or too deeply nested) "
                "for Python; split it up",
            )
        ]
    except ValueError as exc:  # e.g. source Python refuses before parsing
        return [Issue(file, 1, 1, "", f"score.py does not parse: {exc}")]
    functions = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    issues = []
    if "load_model" not in functions:
        issues.append(
            Issue(file, 1, 1, "load_model", "score.py must define a top-level load_model() function")
        )
    predict = functions.get("predict")
    if predict is None:
        issues.append(
            Issue(file, 1, 1, "predict", "score.py must define a top-level predict(data, ...) function")
        )
        return issues
    args = predict.args
    positional = [*args.posonlyargs, *args.args]
    line, column = predict.lineno, predict.col_offset + 1
    if not positional:
        issues.append(
            Issue(file, line, column, "predict", "predict must take the request data as first argument")
        )
        return issues
    defaults_needed = positional[1:]
    missing = len(defaults_needed) - len(args.defaults)
    for arg in defaults_needed[:missing]:
        issues.append(
            Issue(
                file,
                arg.lineno,
                arg.col_offset + 1,
                f"predict.{arg.arg}",
                f"predict's argument {arg.arg!r} needs a default value (the service calls predict(data))",
            )
        )
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if default is None:
            issues.append(
                Issue(
                    file,
                    arg.lineno,
                    arg.col_offset + 1,
                    f"predict.{arg.arg}",
                    f"predict's keyword-only argument {arg.arg!r} needs a default value",
                )
            )
    return issues


def _read_runtime(file: str, raw: bytes) -> tuple[Document | None, list[Issue]]:
    """runtime.yaml parsed as manifests are (bounded depth and size, plain data only, positions kept)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Issue(file, line, 1, "", f"runtime.yaml is not UTF-8 text ({exc.reason} at byte {exc.start})")
        ]
    documents, problems = parse_documents(text, file)
    if problems:
        issues = []
        for problem in problems:
            message = problem.message
            for prefix in ("YAML syntax error: ", "YAML error: "):
                if message.startswith(prefix):
                    message = "runtime.yaml is not valid YAML: " + message[len(prefix) :]
                    break
            else:
                message = f"runtime.yaml: {message}"
            issues.append(Issue(problem.file, problem.line, problem.column, problem.path, message))
        return None, issues
    if len(documents) > 1:
        line, column = documents[1].start
        return None, [Issue(file, line, column, "", "runtime.yaml must hold one YAML document, not several")]
    if not documents or not isinstance(documents[0].data, dict):
        return None, [Issue(file, 1, 1, "", "runtime.yaml must be a mapping")]
    return documents[0], []


def _check_runtime(source: Path, raw: bytes, content: bool = True) -> list[Issue]:
    """Problems reading runtime.yaml; with ``content``, also what a conda deployment needs in it."""
    file = where(source, "runtime.yaml")
    document, issues = _read_runtime(file, raw)
    if document is None or not content:
        return issues
    data = document.data

    def _yaml_line(*path: str) -> int:
        return document.locate(path)[0]

    version = data.get("MODEL_ARTIFACT_VERSION")
    if str(version) not in ("3.0", "3"):
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_ARTIFACT_VERSION"),
                1,
                "MODEL_ARTIFACT_VERSION",
                f'MODEL_ARTIFACT_VERSION must be "3.0" (found {version!r})',
            )
        )
    deployment = data.get("MODEL_DEPLOYMENT")
    env = deployment.get("INFERENCE_CONDA_ENV") if isinstance(deployment, dict) else None
    if not isinstance(env, dict):
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_DEPLOYMENT", "INFERENCE_CONDA_ENV"),
                1,
                "MODEL_DEPLOYMENT.INFERENCE_CONDA_ENV",
                "runtime.yaml needs MODEL_DEPLOYMENT.INFERENCE_CONDA_ENV (the conda pack the model runs in)",
            )
        )
        return issues
    prefix = "MODEL_DEPLOYMENT.INFERENCE_CONDA_ENV"
    path = env.get("INFERENCE_ENV_PATH")
    if not (isinstance(path, str) and path.startswith("oci://") and "@" in path):
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_DEPLOYMENT", "INFERENCE_CONDA_ENV", "INFERENCE_ENV_PATH"),
                1,
                f"{prefix}.INFERENCE_ENV_PATH",
                "INFERENCE_ENV_PATH must be an oci://bucket@namespace/... path of a conda pack",
            )
        )
    if not (isinstance(env.get("INFERENCE_ENV_SLUG"), str) and env["INFERENCE_ENV_SLUG"]):
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_DEPLOYMENT", "INFERENCE_CONDA_ENV", "INFERENCE_ENV_SLUG"),
                1,
                f"{prefix}.INFERENCE_ENV_SLUG",
                "INFERENCE_ENV_SLUG is required",
            )
        )
    env_type = env.get("INFERENCE_ENV_TYPE")
    if env_type not in CONDA_ENV_TYPES:
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_DEPLOYMENT", "INFERENCE_CONDA_ENV", "INFERENCE_ENV_TYPE"),
                1,
                f"{prefix}.INFERENCE_ENV_TYPE",
                f"INFERENCE_ENV_TYPE must be one of {', '.join(CONDA_ENV_TYPES)} (found {env_type!r})",
            )
        )
    python = str(env.get("INFERENCE_PYTHON_VERSION", ""))
    if not re.fullmatch(r"3\.\d{1,2}(\.\d+)?", python):
        issues.append(
            Issue(
                file,
                _yaml_line("MODEL_DEPLOYMENT", "INFERENCE_CONDA_ENV", "INFERENCE_PYTHON_VERSION"),
                1,
                f"{prefix}.INFERENCE_PYTHON_VERSION",
                f'INFERENCE_PYTHON_VERSION must be a Python 3 version like "3.11" (found {python!r})',
            )
        )
    return issues


def check_artifact(source: Path, runtime: str = "conda") -> list[Issue]:
    """Every problem that would make the service reject or fail this artifact, or stop mdr from reading
    what it uploads; empty when it is fine."""
    try:
        files = list_files(source)
        verify_readable(source, files)
        names = {f.rel for f in files}
        conda = runtime == "conda"
        score = read_member(source, "score.py", files) if conda and "score.py" in names else None
        runtime_yaml = read_member(source, "runtime.yaml", files) if "runtime.yaml" in names else None
    except ArtifactError as exc:
        return [Issue(str(source), 0, 0, "", str(exc))]
    issues: list[Issue] = []
    required = ("score.py", "runtime.yaml") if conda else ()
    for name in required:
        if name not in names:
            issues.append(Issue(where(source, name), 0, 0, "", f"{name} is missing at the artifact's root"))
    if score is not None:
        issues.extend(_check_score(source, score))
    if runtime_yaml is not None:
        # a container serves the model itself: only whether runtime.yaml can be read matters
        issues.extend(_check_runtime(source, runtime_yaml, content=conda))
    return issues
