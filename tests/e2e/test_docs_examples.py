"""Every command example in the docs does what the docs say, and every option the docs name exists.

The ``bash`` blocks of README.md, docs/*.md and examples/ci/README.md are read as a user reads them. Each
``mdr`` line is either

- **run** exactly as written against an emulator: ``--local`` examples in a fresh copy of the example stack
  with ``MDR_STATE_DIR`` in a temporary folder; a block that starts ``mdr emulator`` starts it in the
  background and runs the rest of the block against it. The only substitutions: ``mdr`` is this checkout
  (``python -m reconciler``), the emulator's port 12000 is a free port, and ``/tmp/emu`` a temporary folder.
  Each must exit 0, and text quoted in its trailing comment (``# "No changes…"``) must be in its output;
- or **parsed only**, because it talks to real OCI (no target option, ``--profile``, ``--auth``, an instance
  or resource principal), runs forever (the controller) or is run elsewhere: each is listed in
  ``NOT_RUN`` with the reason, and must be a valid command line for ``build_parser()``.

``oci`` lines must name commands and options the installed oci CLI has. Beyond the command lines, the
synopses and option lists of README.md, cli.md and auth.md are compared with the parser, and the error
messages the docs quote are produced by mdr in the situation they describe.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import oci
import pytest

from reconciler.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "examples/ci/README.md"]
EXAMPLE_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaariskprod"

# --- reading the docs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One command line of a ``bash`` block, continuation lines joined, the trailing comment apart."""

    doc: str  # path relative to the repository
    block: int  # the line number of the block's opening fence
    command: str
    comment: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.block}"


def _split_comment(line: str) -> tuple[str, str]:
    """``command  # comment`` -> (command, comment); a ``#`` inside quotes is part of the command."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].strip(), line[index + 1 :].strip()
    return line.strip(), ""


@dataclass(frozen=True)
class Block:
    lang: str  # "" for a plain block
    line: int  # of the opening fence
    text: str  # the body, its indentation (a block in a list item) removed


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^([ \t]*)```(\w*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        indent, lang, start = len(fence.group(1)), fence.group(2), index
        body = []
        index += 1
        while index < len(lines) and not re.match(r"^[ \t]*```\s*$", lines[index]):
            body.append(lines[index][indent:])
            index += 1
        blocks.append(Block(lang, start + 1, "\n".join(body) + "\n"))
        index += 1
    return blocks


def bash_blocks() -> list[list[Line]]:
    """Every ``bash`` block of the docs, as its command lines (comment-only and blank lines left out)."""
    blocks = []
    for doc in DOCS:
        for block in code_blocks(doc.read_text(encoding="utf-8")):
            if block.lang != "bash":
                continue
            first = block.line
            lines = []
            for raw in block.text.replace("\\\n", " ").splitlines():
                command, comment = _split_comment(raw)
                command = re.sub(r"\s+", " ", command)  # continuation lines joined: one space between words
                if command:
                    lines.append(Line(str(doc.relative_to(REPO)), first, command, comment))
            blocks.append(lines)
    return blocks


def is_mdr(line: Line) -> bool:
    return bool(re.match(r"^(?:[A-Z_]+=\S+\s+)*mdr\s", line.command))


def mdr_argv(command: str) -> tuple[dict[str, str], list[str]]:
    """``VAR=value mdr ARGS > file`` -> ({VAR: value}, ARGS); a redirection or pipe ends the command."""
    words = shlex.split(re.split(r"\s[>|]\s?", command)[0])
    env = {}
    while "=" in words[0] and words[0] != "mdr":
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0] == "mdr", command
    return env, words[1:]


def quoted_output(comment: str) -> list[str]:
    """Text a comment quotes as the command's output: ``# "No changes. Stack …"``."""
    return [q.rstrip("…").rstrip(".") for q in re.findall(r'"([^"]+)"', comment)]


def mdr_lines() -> list[Line]:
    return [line for block in bash_blocks() for line in block if is_mdr(line)]


# Examples that are not run, and why. Each must still parse. Keyed by (doc, command as written).
REAL_OCI = "talks to real OCI (no --local or --endpoint)"
NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "mdr quickstart"): "run as written by tests/e2e/test_quickstart.py",
    ("README.md", "mdr validate manifests/"): "run as written by tests/e2e/test_quickstart.py",
    ("README.md", "mdr apply manifests/ --local --auto-approve"): "run by tests/e2e/test_quickstart.py",
    (
        "README.md",
        """mdr predict manifests/ fraud-scorer --local --data '{"transactions": [{"amount": 900, "foreign": 1, "night": 1}]}'""",
    ): "run as written by tests/e2e/test_quickstart.py",
    ("README.md", "mdr plan manifests/ --local"): "run as written by tests/e2e/test_quickstart.py",
    ("README.md", "mdr status manifests/ --local"): "run as written by tests/e2e/test_quickstart.py",
    ("README.md", "mdr plan manifests/ --profile DEFAULT"): REAL_OCI + ": an API-key profile",
    ("README.md", "mdr plan manifests/ --auth instance_principal"): REAL_OCI + ": needs an OCI instance",
    ("README.md", "mdr plan manifests/ --auth resource_principal"): REAL_OCI + ": needs an OCI resource",
    ("README.md", "mdr plan manifests/ --auth security_token --profile X"): REAL_OCI + ": a session token",
    (
        "README.md",
        "mdr import --compartment ocid1.compartment.oc1..aaaa --name-filter '^fraud' --out manifests/",
    ): REAL_OCI + "; the same flow on the emulator: tests/e2e/test_import.py",
    ("README.md", "mdr plan manifests/"): REAL_OCI
    + "; the adoption plan is tested in tests/e2e/test_import.py",
    ("README.md", "mdr apply manifests/"): REAL_OCI + ", and asks for confirmation on a terminal",
    ("docs/auth.md", "mdr plan manifests/"): REAL_OCI + ": the default API-key profile",
    ("docs/auth.md", "mdr plan manifests/ --profile PROD --config-file ./oci-config"): REAL_OCI,
    ("docs/auth.md", "OCI_CLI_PROFILE=PROD mdr plan manifests/"): REAL_OCI + " (the profile is checked)",
    ("docs/auth.md", "mdr plan manifests/ --auth security_token --profile mdr-session"): REAL_OCI,
    (
        "docs/auth.md",
        "mdr controller manifests --git-url https://… --auth instance_principal --listen :9000",
    ): "a long-running controller on an OCI instance; tests/e2e/test_controller_e2e.py runs one",
    ("docs/auth.md", "mdr apply manifests/ --auth resource_principal --auto-approve"): REAL_OCI,
    (
        "docs/cli.md",
        "mdr plan manifests/ --out plan.json --output markdown --detailed-exitcode > plan.md",
    ): REAL_OCI + ", as in CI; saved plans are tested in tests/e2e/test_saved_plans.py",
    ("docs/controller.md", "mdr controller manifests/ --listen :9000"): "a long-running controller, "
    + REAL_OCI
    + "; tests/e2e/test_controller_e2e.py runs one",
    (
        "docs/controller.md",
        "mdr controller manifests --git-url https://git.example.com/ml/deployments.git --branch main "
        "--interval 5m --self-heal --listen :9000 --log-format json --auth instance_principal",
    ): "a long-running controller on an OCI instance; tests/e2e/test_controller_e2e.py follows a git branch",
    (
        "docs/troubleshooting.md",
        "mdr plan manifests/ --prune --allow-deletes 10 --out retire.json",
    ): REAL_OCI + "; test_retiring_all_but_one_deployment_is_one_reviewed_plan runs it with --local",
    ("docs/troubleshooting.md", "mdr apply retire.json"): REAL_OCI + "; run with --local below",
    ("docs/dashboard.md", "mdr controller manifests --local --listen 127.0.0.1:9000"): "a long-running "
    "controller; tests/e2e/test_hints.py runs it as quickstart prints it and opens the dashboard",
    ("docs/dashboard.md", "mdr controller manifests --listen 127.0.0.1:9000"): "a long-running controller, "
    + REAL_OCI
    + "; tests/e2e/test_dashboard_browser.py runs one against the emulator",
}


def _not_run(line: Line) -> str | None:
    return NOT_RUN.get((line.doc, line.command))


# --- running them -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Runner:
    """Runs doc lines in one working folder (a fresh copy of the example stack) with one state folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.copytree(REPO / "manifests", folder / "manifests")
        shutil.copytree(REPO / "examples/environments", folder / "examples/environments")
        for example in ("llm", "multi-model"):  # docs/cli.md's predict examples call them
            shutil.copytree(REPO / "examples" / example, folder / "examples" / example)
        # the docs' commands run at the root of a checkout of this repository: mdr schema keeps this one
        (folder / "docs").mkdir()
        shutil.copy(REPO / "docs/manifest-reference.md", folder / "docs")
        self.env = {**os.environ, "NO_COLOR": "1", "MDR_STATE_DIR": str(folder / "state")}
        self.env.pop("OCI_CLI_PROFILE", None)
        self.port = free_port()
        self.emu_dir = folder / "emu"
        self.emulator: subprocess.Popen[str] | None = None
        self.emulator_output: list[str] = []

    def substitute(self, command: str) -> str:
        command = command.replace("127.0.0.1:12000", f"127.0.0.1:{self.port}")
        command = command.replace("--port 12000", f"--port {self.port}")
        return re.sub(r"/tmp/emu\b", str(self.emu_dir), command)

    def run(self, line: Line) -> subprocess.CompletedProcess[str]:
        command = self.substitute(line.command)
        if command.startswith("oci "):
            oci_cli = shutil.which("oci")
            if oci_cli is None:
                pytest.skip("the oci CLI is not installed (CI installs it)")
            argv = [oci_cli, *shlex.split(command)[1:]]
            extra: dict[str, str] = {"SUPPRESS_LABEL_WARNING": "True"}
        else:
            extra, args = mdr_argv(command)
            argv = [sys.executable, "-m", "reconciler", *args]
        return subprocess.run(
            argv,
            cwd=self.folder,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def start_emulator(self, line: Line) -> None:
        _, args = mdr_argv(self.substitute(line.command))
        if "--port" not in args:
            args += ["--port", str(self.port)]
        self.emulator = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.emulator is not None and self.emulator.stdout is not None
            for text in self.emulator.stdout:
                self.emulator_output.append(text)
                if "listening on" in text:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(30), (
            f"{line.where}: `{line.command}` did not start:\n{''.join(self.emulator_output)}"
        )

    def stop_emulator(self) -> None:
        if self.emulator is not None:
            self.emulator.send_signal(signal.SIGTERM)
            self.emulator.wait(timeout=30)
            self.emulator = None


def runnable_blocks() -> list[list[Line]]:
    """The blocks with at least one line to run (a block's lines run in order, sharing state)."""
    return [
        block for block in bash_blocks() if any(is_mdr(line) and _not_run(line) is None for line in block)
    ]


def _block_id(block: list[Line]) -> str:
    return block[0].where


@pytest.mark.parametrize("block", runnable_blocks(), ids=_block_id)
def test_documented_examples_run_as_written(block: list[Line], tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    try:
        for line in block:
            if not (is_mdr(line) or line.command.startswith("oci ")) or _not_run(line):
                continue
            if is_mdr(line) and mdr_argv(line.command)[1][:1] == ["emulator"]:
                runner.start_emulator(line)
                continue
            result = runner.run(line)
            output = result.stdout + result.stderr
            assert result.returncode == 0, (
                f"{line.where}: `{line.command}` exited {result.returncode}:\n{output}"
            )
            for expected in quoted_output(line.comment):
                assert expected in output, (
                    f"{line.where}: `{line.command}` does not print {expected!r}:\n{output}"
                )
    finally:
        runner.stop_emulator()


def test_every_example_is_run_or_listed_with_a_reason() -> None:
    lines = mdr_lines()
    found = {(line.doc, line.command) for line in lines}
    assert not set(NOT_RUN) - found, f"NOT_RUN names examples the docs no longer have: {set(NOT_RUN) - found}"
    ran = [line for block in runnable_blocks() for line in block if is_mdr(line) and not _not_run(line)]
    assert len(ran) >= 6, ran  # the local and emulator examples of README, auth.md and cli.md


@pytest.mark.parametrize("line", mdr_lines(), ids=lambda line: f"{line.where}:{line.command[:40]}")
def test_every_example_is_a_valid_command_line(line: Line, monkeypatch: pytest.MonkeyPatch) -> None:
    env, args = mdr_argv(line.command)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        parsed = build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{line.where}: `{line.command}` does not parse ({exc})")
    if env.get("OCI_CLI_PROFILE"):  # "same as --profile PROD"
        assert parsed.profile == env["OCI_CLI_PROFILE"]


_GLOBAL_HELP: list[str] = []


def _oci_global_help() -> str:
    """``oci --help``: the global options (--query, --config-file, …) every command takes."""
    if not _GLOBAL_HELP:
        result = subprocess.run(["oci", "--help"], capture_output=True, text=True, timeout=60, check=False)
        _GLOBAL_HELP.append(result.stdout)
    return _GLOBAL_HELP[0]


def _oci_lines() -> list[Line]:
    return [line for block in bash_blocks() for line in block if line.command.startswith("oci ")]


@pytest.mark.parametrize("line", _oci_lines(), ids=lambda line: f"{line.where}:{line.command[:50]}")
def test_oci_cli_examples_name_existing_commands_and_options(line: Line) -> None:
    oci_cli = shutil.which("oci")
    if oci_cli is None:
        pytest.skip("the oci CLI is not installed (CI installs it)")
    words = shlex.split(line.command)[1:]
    while words[0].startswith("--"):  # global options (--config-file FILE, --endpoint URL) before the command
        words = words[2:]
    path = []
    for word in words:
        if word.startswith("-"):
            break
        path.append(word)
    result = subprocess.run(
        [oci_cli, *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SUPPRESS_LABEL_WARNING": "True"},
    )
    assert result.returncode == 0, (
        f"{line.where}: `oci {' '.join(path)}` is not an oci command:\n{result.stderr}"
    )
    options = {w for w in words[len(path) :] if w.startswith("--")}
    missing = [o for o in options if o not in result.stdout and o not in _oci_global_help()]
    assert not missing, f"{line.where}: `oci {' '.join(path)}` has no option {missing}"


def test_docker_run_examples_run_valid_mdr_command_lines() -> None:
    runs = [line for block in bash_blocks() for line in block if line.command.startswith("docker run ")]
    assert runs
    for line in runs:
        words = shlex.split(line.command)[2:]
        while words[0].startswith("-"):
            words.pop(0)
        image, args = words[0], words[1:]  # the image's entrypoint is mdr
        assert image.startswith("mdr:"), line
        build_parser().parse_args(args)


# --- synopses and option lists ----------------------------------------------------------------------------


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


TARGET = {"--local", "--endpoint", "--profile", "--config-file", "--auth", "--region"}
APPLY = {"--concurrency", "--per-compartment", "--timeout", "--lock-timeout"}


def synopses(text: str) -> dict[str, str]:
    """``mdr COMMAND …`` synopsis lines of the plain (not bash) code blocks, continuation lines joined."""
    found: dict[str, str] = {}
    for block in code_blocks(text):
        if block.lang:
            continue
        current = None
        for line in block.text.splitlines():
            match = re.match(r"mdr ([a-z][a-z-]*)(?![\w-])(.*)", line)
            if match:
                current = match.group(1)
                found[current] = found.get(current, "") + " " + match.group(2).split("  #", 1)[0]
            elif current and line.startswith(" "):
                found[current] += " " + line
            else:
                current = None
    return found


def named_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


def cli_md_sections() -> dict[str, str]:
    text = (REPO / "docs/cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## mdr ([a-z][a-z-]*)\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def documented_options(name: str, section: str) -> set[str]:
    """The options cli.md gives ``mdr NAME``: in its synopsis, its option tables, and the common groups."""
    synopsis = synopses(section).get(name, "")
    rows = "\n".join(
        re.findall(r"^\| (?:`-[a-z]`, )?`(--[a-z-]+)", section, re.M)
    )  # option tables' first cell
    named = named_options(synopsis) | named_options(rows)
    if "[target options]" in synopsis:
        named |= TARGET
    if "[apply options]" in synopsis:
        named |= APPLY if name != "controller" else APPLY - {"--lock-timeout"}  # "not on controller"
    return named


def test_cli_md_documents_every_option_of_every_command_and_no_other() -> None:
    sections = cli_md_sections()
    commands = subparsers()
    assert set(sections) == set(commands), set(sections) ^ set(commands)
    for name, parser in commands.items():
        named = documented_options(name, sections[name])
        have = options_of(parser)
        assert have <= named, f"cli.md, mdr {name}: options not documented: {sorted(have - named)}"
        assert named <= have, (
            f"cli.md, mdr {name}: documents options mdr {name} does not have: {sorted(named - have)}"
        )


def test_readme_synopses_are_abbreviations_of_cli_md() -> None:
    readme = synopses((REPO / "README.md").read_text(encoding="utf-8"))
    commands = subparsers()
    sections = cli_md_sections()
    assert set(readme) == set(commands), set(readme) ^ set(commands)
    for name, text in readme.items():
        options = named_options(text)
        assert options <= options_of(commands[name]), (
            f"README: mdr {name} has no {options - options_of(commands[name])}"
        )
        assert options <= documented_options(name, sections[name]), (
            f"README: mdr {name}: cli.md lacks {options}"
        )


def _commands_listed(sentence: str) -> set[str]:
    return set(re.findall(r"`([a-z]+)`", sentence))


def test_lists_of_commands_taking_target_and_apply_options_are_complete() -> None:
    commands = subparsers()
    with_target = {name for name, p in commands.items() if options_of(p) >= TARGET}
    with_apply = {name for name, p in commands.items() if {"--concurrency", "--timeout"} <= options_of(p)}
    cli = (REPO / "docs/cli.md").read_text(encoding="utf-8")
    target_sentence = cli.split("### Target options", 1)[1].split("The default target", 1)[0]
    assert _commands_listed(target_sentence) == with_target
    apply_sentence = cli.split("### Apply options", 1)[1].split("| Option", 1)[0]
    assert _commands_listed(apply_sentence) == with_apply
    auth = (REPO / "docs/auth.md").read_text(encoding="utf-8")
    auth_sentence = auth.split("Every cloud-touching command", 1)[1].split("talks to exactly one target", 1)[
        0
    ]
    assert _commands_listed(auth_sentence) == with_target
    # quickstart: only an emulator, as both pages say
    assert options_of(commands["quickstart"]) & TARGET == {"--endpoint", "--config-file"}
    for page in (cli, auth):
        assert re.search(r"`quickstart`[^.]*(emulator)", page), "the page must say what quickstart targets"


# --- what the docs quote mdr saying -----------------------------------------------------------------------


def _mdr(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1", "MDR_STATE_DIR": str(folder / "state"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _quoted_block(doc: str, starts: str) -> list[str]:
    """The lines of the plain code block in ``doc`` whose first line starts with ``starts``."""
    for block in code_blocks((REPO / doc).read_text(encoding="utf-8")):
        lines = [line.strip() for line in block.text.splitlines()]
        if lines and lines[0].startswith(starts):
            return lines
    raise AssertionError(f"{doc} quotes no message starting {starts!r}")


def _matches(documented: str, printed: str) -> bool:
    """A documented line matches a printed one; ``…`` and ``<…>`` in the doc stand for anything."""
    pattern = re.escape(documented)
    pattern = re.sub(r"(?:…|\\\.\\\.\\\.)", ".*", pattern)
    pattern = re.sub(r"<[^>]*>", ".*", pattern.replace("\\<", "<").replace("\\>", ">"))
    return re.fullmatch(pattern, printed) is not None


def test_validate_reports_every_independent_error_in_one_run_as_cli_md_says(tmp_path: Path) -> None:
    stack = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", stack)
    fraud = stack / "fraud-scorer.yaml"
    churn = stack / "churn-container.yaml"
    # one error in each of two files: both reported in one run
    fraud.write_text(fraud.read_text().replace("ocpus: 1\n", "ocpus: 1\n    bogus: 1\n"))
    churn.write_text(churn.read_text().replace("LOG_LEVEL", "1LOG_LEVEL"))
    result = _mdr(tmp_path, "validate", "manifests")
    assert result.returncode == 1
    assert "spec.infrastructure.bogus: unknown field 'bogus'" in result.stderr
    assert "spec.runtime.env.1LOG_LEVEL" in result.stderr
    assert result.stderr.rstrip().endswith("2 error(s) in 2 file(s)")
    # cli.md: "`replicas: -1` does not hide a memory out of the shape's range", and the artifact of a
    # manifest with errors is checked in the same run: one run, every fault
    shutil.rmtree(stack)
    shutil.copytree(REPO / "manifests", stack)
    fraud.write_text(
        fraud.read_text()
        .replace("memoryInGBs: 16", "memoryInGBs: 16000")
        .replace("replicas: 1", "replicas: -1")
    )
    (stack / "models/fraud-scorer/score.py").write_text("def (\n")
    result = _mdr(tmp_path, "validate", "manifests")
    assert result.returncode == 1
    assert "spec.infrastructure.replicas" in result.stderr
    assert "GB of memory" in result.stderr
    assert "score.py does not parse" in result.stderr
    assert result.stderr.rstrip().endswith("3 error(s) in 1 file(s)")
    cli = (REPO / "docs/cli.md").read_text(encoding="utf-8")
    assert "`replicas: -1` does not hide a memory" in cli


def test_the_lock_message_troubleshooting_quotes_is_what_a_held_lock_prints(tmp_path: Path) -> None:
    import fcntl

    [documented] = _quoted_block("docs/troubleshooting.md", "error: stack is locked")
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    (tmp_path / "state/locks").mkdir(parents=True)
    with open(tmp_path / "state/locks/risk-prod.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("host:1234:ab12cd34")
        held.flush()
        result = _mdr(tmp_path, "apply", "manifests", "--local", "--auto-approve", "--lock-timeout", "1")
    assert result.returncode == 1
    printed = result.stderr.strip().splitlines()[-1]
    assert _matches(
        documented.replace("waited 60s", "waited 1s"), printed.replace(str(tmp_path) + "/state", ".mdr")
    ), printed


def test_a_stale_plan_is_refused_with_the_message_the_docs_quote(tmp_path: Path) -> None:
    from reconciler.emulator import Emulator

    quotes = [
        _quoted_block("docs/troubleshooting.md", "error: the saved plan is stale"),
        _quoted_block("examples/ci/README.md", "error: the saved plan is stale"),
    ]
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    emulator = Emulator(work_request_seconds=0.05).start()
    try:
        config = emulator.write_oci_config(tmp_path / "oci")
        target = ["--endpoint", emulator.url, "--config-file", str(config)]
        assert _mdr(tmp_path, "apply", "manifests", "--auto-approve", *target).returncode == 0
        fraud = tmp_path / "manifests/fraud-scorer.yaml"
        fraud.write_text(fraud.read_text().replace("Fraud scorer", "Fraud scorer v2"))
        assert _mdr(tmp_path, "plan", "manifests", "--out", "plan.json", *target).returncode == 0
        ds = oci.data_science.DataScienceClient(emulator.oci_config(), service_endpoint=emulator.url)
        [deployment] = [
            d
            for d in ds.list_model_deployments(compartment_id=EXAMPLE_COMPARTMENT).data
            if d.display_name == "Fraud scorer"
        ]
        details = oci.data_science.models.UpdateModelDeploymentDetails(description="edited in the Console")
        ds.update_model_deployment(deployment.id, details)
        deadline = time.monotonic() + 30
        while (
            ds.get_model_deployment(deployment.id).data.lifecycle_state != "ACTIVE"
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        result = _mdr(tmp_path, "apply", "plan.json", *target)
    finally:
        emulator.stop()
    assert result.returncode == 1
    stderr = result.stderr.strip()
    printed = [line.strip() for line in stderr.replace("\\n", "\n").splitlines()]
    assert len(printed) == 2, printed  # the refusal, then one line per resource
    for documented in quotes:
        assert len(documented) == 2, documented
        assert _matches(documented[0], printed[0]), printed
        assert _matches(documented[1], printed[1]), printed
    if "\\n" in stderr:
        pytest.xfail(
            "reconciler/cli/main.py prints MdrError through one_line(), which writes the refusal's line breaks "
            "as a literal \\n: the docs show two lines, mdr prints one"
        )
    assert stderr.count("\n") == 1


def test_a_plan_of_another_format_is_refused_as_releases_md_says(tmp_path: Path) -> None:
    import hashlib

    [documented] = _quoted_block("docs/releases.md", "error: plan.json is not a readable mdr plan")
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    assert _mdr(tmp_path, "plan", "manifests", "--local", "--out", "plan.json").returncode == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    assert data["formatVersion"] == 2 and '`"formatVersion": 2`' in (REPO / "docs/releases.md").read_text()
    data["formatVersion"] = 3  # as a later mdr would write it, digest and all
    body = {k: v for k, v in data.items() if k != "digest"}
    data["digest"] = "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    (tmp_path / "plan.json").write_text(json.dumps(data))
    result = _mdr(tmp_path, "apply", "plan.json", "--local")
    assert result.returncode == 1
    assert result.stderr.strip() == documented


def test_a_secret_env_value_is_readable_in_the_deployment_as_secrets_md_says(tmp_path: Path) -> None:
    from reconciler.emulator import Emulator

    oci_cli = shutil.which("oci")
    if oci_cli is None:
        pytest.skip("the oci CLI is not installed (CI installs it)")
    [line] = [line for line in _oci_lines() if line.doc == "docs/secrets.md"]
    stack = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", stack)
    fraud = stack / "fraud-scorer.yaml"
    fraud.write_text(
        fraud.read_text().replace(
            'env: {WEB_CONCURRENCY: "2"}',
            'env: {WEB_CONCURRENCY: "2"}\n    secretEnv: {API_KEY: {fromEnv: FRAUD_API_KEY}}',
        )
    )
    emulator = Emulator(work_request_seconds=0.05).start()
    try:
        config = emulator.write_oci_config(tmp_path / "oci")
        target = ["--endpoint", emulator.url, "--config-file", str(config)]
        applied = _mdr(
            tmp_path, "apply", "manifests", "--auto-approve", *target, env={"FRAUD_API_KEY": "s3cr3t-value"}
        )
        assert applied.returncode == 0, applied.stderr
        assert "s3cr3t-value" not in applied.stdout + applied.stderr  # mdr keeps it out of its own output
        ds = oci.data_science.DataScienceClient(emulator.oci_config(), service_endpoint=emulator.url)
        [deployment] = [
            d
            for d in ds.list_model_deployments(compartment_id=EXAMPLE_COMPARTMENT).data
            if d.display_name == "Fraud scorer"
        ]
        words = shlex.split(line.command.replace("<deployment OCID>", deployment.id))
        result = subprocess.run(
            [oci_cli, "--config-file", str(config), "--endpoint", f"{emulator.url}/20190101", *words[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "SUPPRESS_LABEL_WARNING": "True"},
        )
    finally:
        emulator.stop()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["API_KEY"] == "s3cr3t-value"  # "prints {"API_KEY": "<the value>"}"


def test_retiring_all_but_one_deployment_is_one_reviewed_plan(tmp_path: Path) -> None:
    """troubleshooting.md, step 3 of retiring a stack, with --local added to its two commands."""
    block = next(b for b in bash_blocks() if any("retire.json" in line.command for line in b))
    plan_line, apply_line = (mdr_argv(line.command)[1] for line in block)
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    assert _mdr(tmp_path, "apply", "manifests", "--local", "--auto-approve").returncode == 0
    (tmp_path / "manifests/churn-container.yaml").unlink()
    plan = _mdr(tmp_path, *plan_line, "--local")
    assert plan.returncode == 0, plan.stderr
    assert "- ModelDeployment churn-api" in plan.stdout and "- Log churn-api-predict" in plan.stdout
    assert re.search(r"Plan: 0 to create, 0 to update, 0 to replace, \d+ to delete", plan.stdout), plan.stdout
    applied = _mdr(tmp_path, *apply_line, "--local")
    assert applied.returncode == 0, applied.stderr
    after = _mdr(tmp_path, "plan", "manifests", "--local", "--prune")
    assert "No changes" in after.stdout  # the deployment, its model and its log are gone; fraud-scorer stays
    # and the empty tree that would follow prunes nothing, as the page warns
    (tmp_path / "manifests/fraud-scorer.yaml").unlink()
    empty = _mdr(tmp_path, "plan", "manifests", "--local", "--prune", "--allow-deletes", "10")
    assert "not pruned: the manifest tree names no deployment at all" in empty.stdout + empty.stderr
    assert not re.search(r"[1-9]\d* to delete", empty.stdout), empty.stdout


def test_python_examples_compile_and_the_secrets_snippet_uses_real_sdk_calls() -> None:
    blocks = [b for doc in DOCS for b in code_blocks(doc.read_text(encoding="utf-8")) if b.lang == "python"]
    assert len(blocks) >= 2  # README's SDK example, secrets.md's score.py
    for block in blocks:
        ast.parse(block.text)
    assert callable(oci.auth.signers.get_resource_principals_signer)
    assert callable(oci.secrets.SecretsClient.get_secret_bundle)
    assert "secret_bundle_content" in oci.secrets.models.SecretBundle().attribute_map
    assert "content" in oci.secrets.models.Base64SecretBundleContentDetails().attribute_map


# --- links ------------------------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    text = doc.read_text(encoding="utf-8")
    fenced = {b.text for b in code_blocks(text)}
    headings = [
        line.lstrip("#").strip()
        for line in text.splitlines()
        if line.startswith("#") and not any(line in body for body in fenced)
    ]
    return {_slug(h) for h in headings}


def test_links_between_the_docs_lead_somewhere() -> None:
    broken = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in code_blocks(text):
            text = text.replace(block.text, "")
        text = re.sub(r"`[^`\n]*`", "", text)  # code spans (a pattern like [a-z](...) is not a link)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.exists():
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{doc.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
