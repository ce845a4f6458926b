"""Bad input never reaches the cloud: a corpus of malformed manifests, stack files and artifacts.

Each case edits one file of the example stack. ``mdr apply --auto-approve`` must exit 1, print an error that
names the file and the line, and make zero mutating API calls (counted by the emulator, not by mdr).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.world import World, copy_example_stack

from reconciler.cli import main
from reconciler.emulator import Emulator

F = "fraud-scorer.yaml"
C = "churn-container.yaml"
S = "mdr.yaml"
SCORE = "models/fraud-scorer/score.py"
RUNTIME = "models/fraud-scorer/runtime.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    old: str | None  # None: ``new`` replaces the whole file
    new: str
    message: str  # a regular expression the error must match
    #: expected line: a number, or text whose line it is; default: the last line of ``new`` in the edited file
    line: int | str | None = None
    where: str | None = None  # the file the error is reported in, when not the edited one


def r(
    id: str,
    file: str,
    old: str,
    new: str,
    message: str,
    line: int | str | None = None,
    where: str | None = None,
) -> Case:
    return Case(id, file, old, new, message, line, where)


CASES = [
    # -- types
    r("ocpus-string", F, "ocpus: 1", "ocpus: one", "ocpus"),
    r("replicas-float", F, "replicas: 1", "replicas: 1.5", "replicas"),
    r("memory-list", F, "memoryInGBs: 16", "memoryInGBs: [16]", "memoryInGBs"),
    r("env-not-mapping", F, 'env: {WEB_CONCURRENCY: "2"}', "env: [WEB_CONCURRENCY]", "env"),
    r(
        "env-value-number",
        F,
        'env: {WEB_CONCURRENCY: "2"}',
        "env: {WEB_CONCURRENCY: {a: 1}}",
        "WEB_CONCURRENCY",
    ),
    r("protect-string", F, "protect: false", "protect: maybe", "protect"),
    r("state-unknown", F, "state: ACTIVE", "state: RUNNING", "state"),
    r("deletion-unknown", F, "deletion: Delete", "deletion: Destroy", "deletion"),
    r("keep-string", F, "keep: 3", "keep: all", "keep"),
    r("labels-list", F, 'labels: {team: "${TEAM}"}', "labels: [risk]", "labels"),
    r("name-list", F, "  displayName: Fraud scorer", "  displayName: [Fraud, scorer]", "displayName"),
    r(
        "model-scalar",
        C,
        "  model:\n    artifact: models/fraud-scorer\n    displayName: churn-model\n",
        "  model: 7\n",
        "model",
    ),
    r("runtime-type-unknown", F, "type: conda", "type: docker", "type|runtime"),
    r("tags-nested", F, 'freeformTags: {team: "${TEAM}"}', "freeformTags: {team: {a: b}}", "freeformTags"),
    # -- ranges and service limits
    r("ocpus-zero", F, "ocpus: 1", "ocpus: 0", "ocpus"),
    r("ocpus-huge", F, "ocpus: 1", "ocpus: 4096", "ocpus"),
    r("memory-zero", F, "memoryInGBs: 16", "memoryInGBs: 0", "memoryInGBs"),
    r("replicas-zero", F, "replicas: 1", "replicas: 0", "replicas"),
    r("bandwidth-zero", F, "bandwidthMbps: 10", "bandwidthMbps: 0", "bandwidthMbps"),
    r("keep-too-many", F, "keep: 3", "keep: 99", "keep"),
    r("autoscale-min-gt-max", C, "min: 1, max: 4", "min: 5, max: 4", "min|max"),
    r("autoscale-initial-above-max", C, "initial: 1", "initial: 9", "initial"),
    r("autoscale-threshold-order", C, "scaleInThreshold: 20", "scaleInThreshold: 90", "Threshold"),
    r("autoscale-metric", C, "metric: CPU", "metric: GPU", "metric"),
    r("server-port-low", C, "serverPort: 8080", "serverPort: 80", "serverPort"),
    r("server-port-huge", C, "serverPort: 8080", "serverPort: 70000", "serverPort"),
    r("health-port-forbidden", C, "healthCheckPort: 8080", "healthCheckPort: 8446", "healthCheckPort"),
    r("max-bandwidth-below", C, "maximumBandwidthMbps: 20", "maximumBandwidthMbps: 5", "andwidth"),
    r("image-digest-bad", C, "imageDigest: sha256:5f70", "imageDigest: md5:5f70", "imageDigest"),
    r("env-name-invalid", F, 'env: {WEB_CONCURRENCY: "2"}', 'env: {"1BAD": "2"}', "env"),
    r("env-too-large", F, 'env: {WEB_CONCURRENCY: "2"}', 'env: {BIG: "' + "x" * 40000 + '"}', "env"),
    r(
        "replicas-and-autoscaling",
        F,
        "    replicas: 1\n",
        "    replicas: 1\n    autoscaling: {min: 1, max: 2}\n",
        "replicas|autoscaling",
    ),
    r("fixed-shape-with-ocpus", F, "shape: VM.Standard.E4.Flex", "shape: VM.Standard2.1", "Flex", "ocpus: 1"),
    # -- unknown keys (extra="forbid" everywhere)
    r("unknown-top", F, "apiVersion: mdr/v1", "apiVersion: mdr/v1\nstatus: {}", "status"),
    r("unknown-spec", F, "  state: ACTIVE", "  state: ACTIVE\n  replicas: 2", "replicas"),
    r("unknown-infra", F, "    replicas: 1", "    replicas: 1\n    gpus: 1", "gpus"),
    r("unknown-runtime", F, "    type: conda", "    type: conda\n    condaEnv: x", "condaEnv"),
    r(
        "unknown-logging",
        F,
        "    logGroup: {name: risk-logs}",
        "    logGroup: {name: risk-logs}\n    audit: {}",
        "audit",
    ),
    r("unknown-policy", F, "    protect: false", "    protect: false\n    retain: true", "retain"),
    r("unknown-stack-key", S, "prune: false", "prune: false\npurge: true", "purge"),
    r("wrong-api-version", F, "apiVersion: mdr/v1", "apiVersion: mdr/v2", "apiVersion"),
    r("wrong-kind", F, "kind: ModelDeployment", "kind: Deployment", "kind"),
    # -- YAML syntax
    r("yaml-bad-indent", F, "  state: ACTIVE", "  state: ACTIVE\n   oops: 1", "YAML"),
    r("yaml-unclosed-flow", F, 'freeformTags: {team: "${TEAM}"}', 'freeformTags: {team: "${TEAM}"', "YAML"),
    r("yaml-tab", F, "  state: ACTIVE", "\tstate: ACTIVE", "YAML"),
    r(
        "yaml-unclosed-quote",
        F,
        'freeformTags: {team: "${TEAM}"}',
        'freeformTags: {team: "risk}',
        "YAML|quoted",
    ),
    r("stack-yaml-syntax", S, "prune: false", "prune: false: true", "YAML"),
    r("yaml-merge-key", F, "  policy:\n", "  base: &b {protect: false}\n  policy:\n    <<: *b\n", "merge|<<"),
    # -- duplicate keys
    r("duplicate-key", F, "    ocpus: 1", "    ocpus: 1\n    ocpus: 2", "duplicate"),
    r(
        "duplicate-top-key",
        F,
        "kind: ModelDeployment",
        "kind: ModelDeployment\nkind: ModelDeployment",
        "duplicate",
    ),
    r("duplicate-stack-key", S, "prune: false", "prune: false\nprune: true", "duplicate"),
    r("duplicate-name", C, "name: churn-api", "name: fraud-scorer", "already defined", 6, F),
    # -- references and variables
    r("missing-var", F, 'labels: {team: "${TEAM}"}', 'labels: {team: "${NO_SUCH_VAR_X}"}', "NO_SUCH_VAR_X"),
    r(
        "bad-model-ocid",
        C,
        "    artifact: models/fraud-scorer\n    displayName: churn-model\n",
        "    id: ocid1.model.oc1..nope!\n",
        "id",
    ),
    r(
        "bad-compartment",
        S,
        "compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod",
        "compartmentId: risk",
        "compartmentId",
    ),
    r("bad-subnet", F, "    bandwidthMbps: 10", "    bandwidthMbps: 10\n    subnetId: subnet-1", "subnetId"),
    r("bad-log-ocid", F, "access: {name: fraud-scorer-access}", "access: {id: ocid1.bucket.oc1..x}", "id"),
    r("log-without-group", C, "    logGroup: {name: risk-logs}\n", "    logGroup: {}\n", "logGroup|name|id"),
    r(
        "oci-uri-malformed",
        C,
        "artifact: models/fraud-scorer",
        "artifact: oci://bucket/model.zip",
        "artifact|oci://",
    ),
    r("bad-name", F, "name: fraud-scorer", "name: Fraud_Scorer!", "name"),
    r("alias-cycle", F, '  labels: {team: "${TEAM}"}', "  labels: &a [*a]", "YAML|alias|labels"),
    # -- artifacts
    r("missing-artifact-folder", F, "artifact: models/fraud-scorer", "artifact: models/nowhere", "nowhere"),
    r("missing-zip", F, "artifact: models/fraud-scorer", "artifact: models/nowhere.zip", "nowhere"),
    Case("score-syntax-error", SCORE, "def load_model(", "def load_model(:", "score.py", None),
    Case(
        "score-no-predict",
        SCORE,
        "def predict(data, model=None):",
        "def forecast(data, model=None):",
        "predict",
        1,
    ),
    Case(
        "score-predict-no-default",
        SCORE,
        "def predict(data, model=None):",
        "def predict(data, model):",
        "model|default",
        None,
    ),
    Case("score-no-load-model", SCORE, "def load_model(", "def load_weights(", "load_model", 1),
    Case(
        "runtime-wrong-version",
        RUNTIME,
        'MODEL_ARTIFACT_VERSION: "3.0"',
        'MODEL_ARTIFACT_VERSION: "2.0"',
        "MODEL_ARTIFACT_VERSION",
        None,
    ),
    Case(
        "runtime-no-slug",
        RUNTIME,
        "    INFERENCE_ENV_SLUG: generalml_p311_cpu_x86_64_v1\n",
        "",
        "INFERENCE_ENV_SLUG",
        3,
    ),
    Case(
        "runtime-python-2",
        RUNTIME,
        'INFERENCE_PYTHON_VERSION: "3.11"',
        'INFERENCE_PYTHON_VERSION: "2.7"',
        "INFERENCE_PYTHON_VERSION",
        None,
    ),
    Case(
        "runtime-not-yaml",
        RUNTIME,
        'MODEL_ARTIFACT_VERSION: "3.0"',
        'MODEL_ARTIFACT_VERSION: "3.0"\n  bad: 1',
        "runtime.yaml",
        None,
    ),
    Case(
        "runtime-bad-env-type",
        RUNTIME,
        "INFERENCE_ENV_TYPE: data_science",
        "INFERENCE_ENV_TYPE: mine",
        "INFERENCE_ENV_TYPE",
        None,
    ),
    # -- whole files
    Case("huge-file", F, None, "# " + "x" * 100 + "\n" + ("a: 1\n" * 300_000), "large|size|bytes", 1),
    Case("empty-stack-file", S, None, "", "mapping|stack", 1),
    Case("stack-not-mapping", S, None, "- risk-prod\n", "mapping|stack", 1),
    Case("manifest-list", F, None, "- apiVersion: mdr/v1\n", "mapping|document", 1),
]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    emulator = Emulator(work_request_seconds=0.02).start()
    root = tmp_path_factory.mktemp("corpus")
    try:
        yield World(emulator, emulator.write_oci_config(root / "oci"), root)
    finally:
        emulator.stop()


def _edit(case: Case, stack: Path) -> int:
    path = stack / case.file
    if case.old is None:
        path.write_text(case.new)
        return int(case.line or 1)
    text = path.read_text()
    assert case.old in text, f"{case.id}: {case.old!r} not in {case.file}"
    edited = text.replace(case.old, case.new, 1)
    path.write_text(edited)
    if isinstance(case.line, int):
        return case.line
    if isinstance(case.line, str):
        return edited[: edited.index(case.line)].count("\n") + 1
    end = edited.index(case.new) + len(case.new.rstrip("\n"))
    return edited[:end].count("\n") + 1


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_with_file_and_line_and_touches_nothing(
    case: Case,
    cloud: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = copy_example_stack(tmp_path / "manifests")
    line = _edit(case, stack)
    monkeypatch.setenv("MDR_STATE_DIR", str(tmp_path / ".mdr"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("NO_SUCH_VAR_X", raising=False)
    cloud.emulator.reset_counters()
    code = main(["apply", str(stack), "--auto-approve", *cloud.target_args()])
    err = capsys.readouterr().err
    assert code == 1, err
    location = re.escape(Path(case.where or case.file).name) + r":(\d+):"
    found = [int(n) for n in re.findall(location, err)]
    assert found, f"no {case.file}:<line>: in:\n{err}"
    assert line in found, f"expected line {line}, got {found}:\n{err}"
    assert re.search(case.message, err), f"{case.message!r} not in:\n{err}"
    assert cloud.emulator.mutating_calls() == 0
