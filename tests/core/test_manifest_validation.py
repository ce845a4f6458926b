"""Every validation rule, one bad manifest each: the error names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.manifest_tree import BASE, STACK, issues_for, write_tree

from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue

CONTAINER_RUNTIME = """  runtime:
    type: container
    image: iad.ocir.io/ns/repo:1
    serverPort: 8080
"""


def test_base_manifest_is_valid(tmp_path: Path) -> None:
    stack = load_stack(write_tree(tmp_path, BASE))
    assert stack.issues == []
    assert stack.complete
    [deployment] = stack.deployments
    assert deployment.compartment_id == "ocid1.compartment.oc1..aaaaaaaarisk"
    assert deployment.key == "ModelDeployment/fraud"


# (id, text to replace in BASE, replacement, expected line, expected field path, message fragment)
CASES: list[tuple[str, str, str, int, str, str]] = [
    (
        "unknown-top-key",
        "kind: ModelDeployment\n",
        "kind: ModelDeployment\nstatus: {}\n",
        3,
        "status",
        "unknown field",
    ),
    (
        "unknown-spec-key",
        "  state: ACTIVE\n",
        "  state: ACTIVE\n  replicas: 2\n",
        9,
        "spec.replicas",
        "unknown field",
    ),
    ("typo-in-infra", "    ocpus: 1\n", "    ocpu: 1\n", 14, "spec.infrastructure.ocpu", "unknown field"),
    ("bad-api-version", "apiVersion: mdr/v1", "apiVersion: mdr/v2", 1, "apiVersion", "apiVersion must be"),
    ("bad-kind", "kind: ModelDeployment", "kind: Deployment", 2, "kind", "unknown kind"),
    ("name-uppercase", "  name: fraud", "  name: Fraud", 4, "metadata.name", "should match pattern"),
    ("name-too-long", "  name: fraud", "  name: " + "a" * 64, 4, "metadata.name", "at most 63"),
    ("name-missing", "  name: fraud\n", "", 3, "metadata.name", "required field 'name' is missing"),
    (
        "label-not-string",
        "  labels: {team: risk}",
        "  labels: {team: [a]}",
        5,
        "metadata.labels.team",
        "valid string",
    ),
    ("state-invalid", "  state: ACTIVE", "  state: RUNNING", 8, "spec.state", "'ACTIVE' or 'INACTIVE'"),
    ("display-name-empty", "  displayName: Fraud", '  displayName: ""', 7, "spec.displayName", "at least 1"),
    (
        "description-too-long",
        "  displayName: Fraud",
        "  displayName: Fraud\n  description: " + "x" * 401,
        8,
        "spec.description",
        "at most 400",
    ),
    (
        "compartment-bad-ocid",
        "  state: ACTIVE",
        "  state: ACTIVE\n  compartmentId: ocid1.bucket.oc1..x",
        9,
        "spec.compartmentId",
        "should match pattern",
    ),
    (
        "project-bad-ocid",
        "  state: ACTIVE",
        "  state: ACTIVE\n  projectId: project-1",
        9,
        "spec.projectId",
        "should match pattern",
    ),
    (
        "model-artifact-and-id",
        "    artifact: model\n",
        "    artifact: model\n    id: ocid1.datasciencemodel.oc1.iad.aaaa\n",
        9,
        "spec.model",
        "exactly one",
    ),
    ("model-neither", "    artifact: model\n", "", 9, "spec.model", "exactly one"),
    (
        "model-id-bad",
        "    artifact: model",
        "    id: ocid1.datascienceproject.oc1.iad.aaaa",
        10,
        "spec.model.id",
        "should match pattern",
    ),
    (
        "model-id-with-display-name",
        "    artifact: model",
        "    id: ocid1.datasciencemodel.oc1.iad.aa\n    displayName: x",
        11,
        "spec.model.displayName",
        "cannot be set with model.id",
    ),
    (
        "artifact-http-uri",
        "    artifact: model",
        "    artifact: https://example.com/m.zip",
        10,
        "spec.model.artifact",
        "local folder",
    ),
    (
        "artifact-bad-oci-uri",
        "    artifact: model",
        "    artifact: oci://bucket/m.zip",
        10,
        "spec.model.artifact",
        "oci://bucket@namespace",
    ),
    ("keep-negative", "    keep: 3", "    keep: -1", 11, "spec.model.keep", "greater than or equal to 0"),
    ("keep-too-many", "    keep: 3", "    keep: 51", 11, "spec.model.keep", "less than or equal to 50"),
    (
        "use-case-unknown",
        "    keep: 3",
        "    keep: 3\n    metadata: {useCaseType: magic}",
        12,
        "spec.model.metadata.useCaseType",
        "binary_classification",
    ),
    (
        "custom-metadata-duplicate",
        "    keep: 3",
        "    keep: 3\n    customMetadata:\n    - {key: a, value: b}\n    - {key: a, value: c}",
        14,
        "spec.model.customMetadata[1].key",
        "duplicate custom metadata key",
    ),
    (
        "custom-metadata-category",
        "    keep: 3",
        "    keep: 3\n    customMetadata:\n    - {key: a, value: b, category: x}",
        13,
        "spec.model.customMetadata[0].category",
        "Performance",
    ),
    (
        "shape-bad",
        "    shape: VM.Standard.E4.Flex",
        "    shape: Standard-E4",
        13,
        "spec.infrastructure.shape",
        "should match pattern",
    ),
    (
        "shape-missing",
        "    shape: VM.Standard.E4.Flex\n",
        "",
        12,
        "spec.infrastructure.shape",
        "required field",
    ),
    (
        "ocpus-on-fixed-shape",
        "    shape: VM.Standard.E4.Flex",
        "    shape: VM.Standard2.1",
        14,
        "spec.infrastructure.ocpus",
        "only valid for Flex shapes",
    ),
    ("flex-without-ocpus", "    ocpus: 1\n", "", 12, "spec.infrastructure.ocpus", "needs ocpus"),
    (
        "flex-without-memory",
        "    memoryInGBs: 16\n",
        "",
        12,
        "spec.infrastructure.memoryInGBs",
        "needs memoryInGBs",
    ),
    ("ocpus-too-many", "    ocpus: 1", "    ocpus: 65", 14, "spec.infrastructure.ocpus", "1-64 ocpus"),
    ("ocpus-zero", "    ocpus: 1", "    ocpus: 0", 14, "spec.infrastructure.ocpus", "greater than 0"),
    (
        "memory-too-much",
        "    memoryInGBs: 16",
        "    memoryInGBs: 2048",
        15,
        "spec.infrastructure.memoryInGBs",
        "6-1024 GB",
    ),
    (
        "memory-per-ocpu",
        "    memoryInGBs: 16",
        "    memoryInGBs: 100",
        15,
        "spec.infrastructure.memoryInGBs",
        "per ocpu",
    ),
    ("ocpus-not-number", "    ocpus: 1", "    ocpus: lots", 14, "spec.infrastructure.ocpus", "valid number"),
    (
        "replicas-zero",
        "    replicas: 2",
        "    replicas: 0",
        16,
        "spec.infrastructure.replicas",
        "greater than or equal to 1",
    ),
    (
        "replicas-and-autoscaling",
        "    replicas: 2",
        "    replicas: 2\n    autoscaling: {min: 1, max: 2}",
        17,
        "spec.infrastructure.autoscaling",
        "either replicas or autoscaling",
    ),
    (
        "autoscaling-min-gt-max",
        "    replicas: 2",
        "    autoscaling: {min: 3, max: 2}",
        16,
        "spec.infrastructure.autoscaling.min",
        "must be <= max",
    ),
    (
        "autoscaling-initial-out-of-range",
        "    replicas: 2",
        "    autoscaling:\n      min: 1\n      max: 3\n      initial: 5",
        19,
        "spec.infrastructure.autoscaling.initial",
        "between min (1) and max (3)",
    ),
    (
        "autoscaling-thresholds",
        "    replicas: 2",
        "    autoscaling:\n      min: 1\n      max: 3\n"
        "      scaleInThreshold: 80\n      scaleOutThreshold: 70",
        19,
        "spec.infrastructure.autoscaling.scaleInThreshold",
        "below scaleOutThreshold",
    ),
    (
        "autoscaling-metric",
        "    replicas: 2",
        "    autoscaling: {min: 1, max: 2, metric: GPU}",
        16,
        "spec.infrastructure.autoscaling.metric",
        "'CPU' or 'MEMORY'",
    ),
    (
        "autoscaling-cooldown",
        "    replicas: 2",
        "    autoscaling: {min: 1, max: 2, coolDownSeconds: 60}",
        16,
        "spec.infrastructure.autoscaling.coolDownSeconds",
        "greater than or equal to 300",
    ),
    (
        "bandwidth-low",
        "    bandwidthMbps: 10",
        "    bandwidthMbps: 5",
        17,
        "spec.infrastructure.bandwidthMbps",
        "greater than or equal to 10",
    ),
    (
        "max-bandwidth-below-min",
        "    bandwidthMbps: 10",
        "    bandwidthMbps: 100\n    maximumBandwidthMbps: 50",
        18,
        "spec.infrastructure.maximumBandwidthMbps",
        "must be >= bandwidthMbps",
    ),
    (
        "subnet-bad-ocid",
        "    bandwidthMbps: 10",
        "    bandwidthMbps: 10\n    subnetId: ocid1.vcn.oc1.iad.aaa",
        18,
        "spec.infrastructure.subnetId",
        "should match pattern",
    ),
    (
        "runtime-type-unknown",
        "    type: conda",
        "    type: docker",
        19,
        "spec.runtime.type",
        "does not match any of the expected tags",
    ),
    ("runtime-type-missing", "    type: conda\n", "", 18, "spec.runtime", "discriminator"),
    (
        "env-name-invalid",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {1BAD: "2"}',
        20,
        "spec.runtime.env.1BAD",
        "must start with a letter",
    ),
    (
        "env-name-dash",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {MY-VAR: "2"}',
        20,
        "spec.runtime.env.MY-VAR",
        "letters, digits and underscores",
    ),
    (
        "env-name-too-long",
        '    env: {WEB_CONCURRENCY: "2"}',
        "    env: {" + "A" * 32 + ': "2"}',
        20,
        "spec.runtime.env." + "A" * 32,
        "longer than 31",
    ),
    (
        "env-value-not-string",
        '    env: {WEB_CONCURRENCY: "2"}',
        "    env: {WEB_CONCURRENCY: 2}",
        20,
        "spec.runtime.env.WEB_CONCURRENCY",
        "valid string",
    ),
    (
        "env-total-too-large",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {A: "' + "x" * 1100 + '", B: "' + "y" * 1100 + '"}',
        20,
        "spec.runtime.env",
        "2048",
    ),
    (
        "secret-env-no-source",
        '    env: {WEB_CONCURRENCY: "2"}',
        "    secretEnv: {API_KEY: {}}",
        20,
        "spec.runtime.secretEnv.API_KEY.fromEnv",
        "required field",
    ),
    (
        "secret-env-literal-value",
        '    env: {WEB_CONCURRENCY: "2"}',
        "    secretEnv: {API_KEY: hunter2}",
        20,
        "spec.runtime.secretEnv.API_KEY",
        "valid dictionary",
    ),
    (
        "secret-and-plain-env",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {API_KEY: "x"}\n    secretEnv: {API_KEY: {fromEnv: K}}',
        21,
        "spec.runtime.secretEnv.API_KEY",
        "both env and secretEnv",
    ),
    (
        "conda-with-image",
        "    type: conda",
        "    type: conda\n    image: iad.ocir.io/ns/r:1",
        20,
        "spec.runtime.image",
        "unknown field",
    ),
    (
        "log-group-name-and-id",
        "    logGroup: {name: risk-logs}",
        "    logGroup: {name: risk-logs, id: ocid1.loggroup.oc1.iad.aaa}",
        22,
        "spec.logging.logGroup",
        "exactly one",
    ),
    (
        "log-without-group",
        "    logGroup: {name: risk-logs}\n",
        "",
        21,
        "spec.logging.logGroup",
        "required field",
    ),
    (
        "logging-nothing",
        "    access: {name: fraud-access}\n",
        "",
        21,
        "spec.logging",
        "at least one of access",
    ),
    (
        "log-bad-id",
        "    access: {name: fraud-access}",
        "    access: {id: ocid1.loggroup.oc1.iad.aaa}",
        23,
        "spec.logging.access.id",
        "should match pattern",
    ),
    (
        "log-name-bad-chars",
        "    access: {name: fraud-access}",
        '    access: {name: "fraud access"}',
        23,
        "spec.logging.access.name",
        "should match pattern",
    ),
    (
        "retention-days",
        "    access: {name: fraud-access}",
        "    access: {name: fraud-access}\n    retentionDays: 45",
        24,
        "spec.logging.retentionDays",
        "multiple of 30",
    ),
    (
        "policy-deletion",
        "    protect: false",
        "    deletion: Destroy",
        25,
        "spec.policy.deletion",
        "'Delete' or 'Orphan'",
    ),
    (
        "policy-protect-type",
        "    protect: false",
        "    protect: maybe",
        25,
        "spec.policy.protect",
        "valid boolean",
    ),
    (
        "policy-ignore-unknown",
        "    protect: false",
        "    ignore: [infrastructure.gpus]",
        25,
        "spec.policy.ignore[0]",
        "unknown ignore path",
    ),
    (
        "reserved-tag",
        "    protect: false",
        "    protect: false\n  freeformTags: {mdr-stack: other}",
        26,
        "spec.freeformTags.mdr-stack",
        "reserved for mdr",
    ),
    (
        "duplicate-key",
        "  state: ACTIVE\n",
        "  state: ACTIVE\n  state: INACTIVE\n",
        9,
        "spec.state",
        "duplicate key",
    ),
    (
        "undefined-var",
        "  displayName: Fraud",
        "  displayName: ${NOPE_UNDEFINED_VAR}",
        7,
        "spec.displayName",
        "${NOPE_UNDEFINED_VAR} is not defined",
    ),
    (
        "malformed-var",
        "  displayName: Fraud",
        "  displayName: ${oops",
        7,
        "spec.displayName",
        "malformed variable",
    ),
    ("merge-key", "  state: ACTIVE\n", "  <<: {state: ACTIVE}\n", 8, "spec", "merge keys"),
    ("spec-missing", "spec:", "notspec:", 6, "notspec", "unknown field"),
]

CONTAINER_CASES: list[tuple[str, str, str, int, str, str]] = [
    (
        "image-not-ocir",
        "    image: iad.ocir.io/ns/repo:1",
        "    image: docker.io/library/python:3",
        20,
        "spec.runtime.image",
        "should match pattern",
    ),
    (
        "digest-bad",
        "    serverPort: 8080",
        "    serverPort: 8080\n    imageDigest: sha256:xyz",
        22,
        "spec.runtime.imageDigest",
        "should match pattern",
    ),
    (
        "port-low",
        "    serverPort: 8080",
        "    serverPort: 80",
        21,
        "spec.runtime.serverPort",
        "outside 1024-65535",
    ),
    (
        "port-forbidden",
        "    serverPort: 8080",
        "    serverPort: 8446",
        21,
        "spec.runtime.serverPort",
        "reserved by the service",
    ),
    (
        "health-port-forbidden",
        "    serverPort: 8080",
        "    serverPort: 8080\n    healthCheckPort: 24224",
        22,
        "spec.runtime.healthCheckPort",
        "reserved by the service",
    ),
    (
        "cmd-not-list",
        "    serverPort: 8080",
        "    serverPort: 8080\n    cmd: python app.py",
        22,
        "spec.runtime.cmd",
        "valid list",
    ),
    (
        "cmd-too-long",
        "    serverPort: 8080",
        "    serverPort: 8080\n    cmd: [" + "x" * 2100 + "]",
        22,
        "spec.runtime.cmd",
        "cmd and entrypoint total",
    ),
]


def _case_ids(cases: list[tuple[str, str, str, int, str, str]]) -> list[str]:
    return [case[0] for case in cases]


def _assert_one_issue(issues: list[Issue], line: int, path: str, fragment: str) -> None:
    matching = [i for i in issues if i.path == path and fragment in i.message]
    assert matching, f"no issue at {path!r} containing {fragment!r}; got: {[str(i) for i in issues]}"
    issue = matching[0]
    assert issue.file.endswith("fraud.yaml")
    assert issue.line == line, str(issue)
    assert issue.column >= 1
    assert str(issue).startswith(f"{issue.file}:{line}:{issue.column}: {path}: ")


@pytest.mark.parametrize(("case", "old", "new", "line", "path", "fragment"), CASES, ids=_case_ids(CASES))
def test_bad_manifest_is_reported_at_its_line(
    tmp_path: Path, case: str, old: str, new: str, line: int, path: str, fragment: str
) -> None:
    assert old in BASE, case
    issues = issues_for(tmp_path, BASE.replace(old, new, 1))
    _assert_one_issue(issues, line, path, fragment)


@pytest.mark.parametrize(
    ("case", "old", "new", "line", "path", "fragment"), CONTAINER_CASES, ids=_case_ids(CONTAINER_CASES)
)
def test_bad_container_runtime_is_reported_at_its_line(
    tmp_path: Path, case: str, old: str, new: str, line: int, path: str, fragment: str
) -> None:
    base = BASE.replace('  runtime:\n    type: conda\n    env: {WEB_CONCURRENCY: "2"}\n', CONTAINER_RUNTIME)
    assert load_stack(write_tree(tmp_path / "ok", base)).issues == []
    assert old in base, case
    issues = issues_for(tmp_path, base.replace(old, new, 1))
    _assert_one_issue(issues, line, path, fragment)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    issues = issues_for(tmp_path, BASE.replace("  state: ACTIVE", "  state: [ACTIVE"))
    assert len(issues) == 1
    assert "YAML syntax error" in issues[0].message
    assert issues[0].line in (8, 9)


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = BASE.replace("  state: ACTIVE", "  state: RUNNING").replace("    keep: 3", "    keep: 99")
    text = text.replace("    bandwidthMbps: 10", "    bandwidthMbps: 1")
    paths = {i.path for i in issues_for(tmp_path, text)}
    assert {"spec.state", "spec.model.keep", "spec.infrastructure.bandwidthMbps"} <= paths


def test_names_must_be_unique_within_the_stack(tmp_path: Path) -> None:
    root = write_tree(tmp_path, BASE)
    (root / "copy.yaml").write_text(BASE)
    stack = load_stack(root)
    [issue] = stack.issues
    assert issue.path == "metadata.name"
    assert issue.line == 4
    assert "already defined at" in issue.message
    assert "fraud" in stack.invalid_names
    assert not stack.complete


def test_multiple_documents_per_file(tmp_path: Path) -> None:
    second = BASE.replace("  name: fraud", "  name: fraud-two")
    stack = load_stack(write_tree(tmp_path, BASE + "---\n" + second))
    assert stack.issues == []
    assert sorted(d.name for d in stack.deployments) == ["fraud", "fraud-two"]


def test_second_document_errors_carry_its_own_line(tmp_path: Path) -> None:
    second = BASE.replace("  name: fraud", "  name: fraud-two").replace("  state: ACTIVE", "  state: NOPE")
    issues = issues_for(tmp_path, BASE + "---\n" + second)
    [issue] = issues
    assert issue.line == 26 + 8  # 25 lines of the first document, the separator, then line 8


def test_directory_tree_is_walked_and_artifact_folders_skipped(tmp_path: Path) -> None:
    root = write_tree(tmp_path, BASE)
    (root / "team-b").mkdir()
    (root / "team-b" / "other.yml").write_text(BASE.replace("  name: fraud", "  name: other"))
    artifact = root / "model"
    artifact.mkdir()
    (artifact / "runtime.yaml").write_text("MODEL_ARTIFACT_VERSION: '3.0'\n")
    (artifact / "score.py").write_text("def load_model(): pass\n")
    (root / ".mdr").mkdir()
    (root / ".mdr" / "junk.yaml").write_text("not: a manifest\n")
    stack = load_stack(root)
    assert stack.issues == []
    assert sorted(d.name for d in stack.deployments) == ["fraud", "other"]


def test_vars_are_resolved_from_stack_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDR_TEST_DISPLAY", "From env")
    text = BASE.replace("  labels: {team: risk}", "  labels: {team: '${TEAM}'}").replace(
        "  displayName: Fraud", "  displayName: ${MDR_TEST_DISPLAY} $${literal}"
    )
    stack = load_stack(write_tree(tmp_path, text))
    assert stack.issues == []
    spec = stack.deployments[0].manifest
    assert spec.metadata.labels == {"team": "risk"}
    assert spec.spec.displayName == "From env ${literal}"


def test_missing_stack_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "fraud.yaml").write_text(BASE)
    stack = load_stack(tmp_path)
    assert any("no mdr.yaml" in i.message for i in stack.issues)
    assert not stack.complete


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "fragment"),
    [
        ("stack: risk-prod", "stack: Risk_Prod", 1, "stack", "should match pattern"),
        ("region: us-ashburn-1", "region: ashburn", 2, "region", "should match pattern"),
        ("vars:", "maxDeletes: -1\nvars:", 6, "maxDeletes", "greater than or equal to 0"),
        ("vars:", "prune: sometimes\nvars:", 6, "prune", "valid boolean"),
        ("vars:", "colour: blue\nvars:", 6, "colour", "unknown field"),
        ("  TEAM: risk", "  TEAM-NAME: risk", 7, "vars.TEAM-NAME", "variable name"),
        (
            "  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaarisk",
            "  projectId: ocid1.datasciencemodel.oc1.iad.aaaaaaaarisk",
            5,
            "defaults.projectId",
            "should match pattern",
        ),
        ("vars:", "lock: {bucket: 'bad bucket'}\nvars:", 6, "lock.bucket", "should match pattern"),
    ],
)
def test_bad_stack_file_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, line: int, path: str, fragment: str
) -> None:
    assert old in STACK
    issues = issues_for(tmp_path, BASE, stack=STACK.replace(old, new, 1))
    matching = [i for i in issues if i.path == path and fragment in i.message]
    assert matching, [str(i) for i in issues]
    assert matching[0].file.endswith("mdr.yaml")
    assert matching[0].line == line


def test_missing_project_everywhere_is_an_error(tmp_path: Path) -> None:
    stack_text = STACK.replace("  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaarisk\n", "")
    issues = issues_for(tmp_path, BASE, stack=stack_text)
    [issue] = issues
    assert issue.path == "spec.projectId"
    assert "not set here nor in the stack's defaults" in issue.message
    assert issue.line == 6


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    issues = issues_for(tmp_path, BASE + "#" + "x" * (1024 * 1024) + "\n")
    [issue] = issues
    assert "limited to" in issue.message


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 7):
        prev = chr(ord("a") + level - 1)
        cur = chr(ord("a") + level)
        bomb.append(
            f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
        )
    issues = issues_for(tmp_path, "\n".join(bomb) + "\n")
    assert any("more than" in i.message for i in issues)


# --- strict input: no coercion, whole-string patterns, JSON-only values, bounded nesting ---------------

# (id, text to replace in BASE, replacement, expected line, expected field path, message fragment)
STRICT_CASES: list[tuple[str, str, str, int, str, str]] = [
    ("replicas-bool", "    replicas: 2", "    replicas: true", 16, "spec.infrastructure.replicas", "integer"),
    (
        "replicas-string",
        "    replicas: 2",
        '    replicas: "2"',
        16,
        "spec.infrastructure.replicas",
        "integer",
    ),
    ("replicas-float", "    replicas: 2", "    replicas: 2.0", 16, "spec.infrastructure.replicas", "integer"),
    ("protect-string-off", "    protect: false", '    protect: "off"', 25, "spec.policy.protect", "boolean"),
    ("protect-int", "    protect: false", "    protect: 0", 25, "spec.policy.protect", "boolean"),
    ("ocpus-bool", "    ocpus: 1", "    ocpus: true", 14, "spec.infrastructure.ocpus", "number"),
    ("ocpus-string", "    ocpus: 1", '    ocpus: "1"', 14, "spec.infrastructure.ocpus", "number"),
    ("ocpus-nan", "    ocpus: 1", "    ocpus: .nan", 14, "spec.infrastructure.ocpus", "finite"),
    (
        "memory-inf",
        "    memoryInGBs: 16",
        "    memoryInGBs: .inf",
        15,
        "spec.infrastructure.memoryInGBs",
        "finite",
    ),
    ("keep-string", "    keep: 3", '    keep: "3"', 11, "spec.model.keep", "integer"),
    (
        "bandwidth-bool",
        "    bandwidthMbps: 10",
        "    bandwidthMbps: true",
        17,
        "spec.infrastructure.bandwidthMbps",
        "integer",
    ),
    (
        "retention-string",
        "    access: {name: fraud-access}",
        '    access: {name: fraud-access}\n    retentionDays: "30"',
        24,
        "spec.logging.retentionDays",
        "integer",
    ),
    (
        "autoscaling-min-string",
        "    replicas: 2",
        '    autoscaling: {min: "1", max: 2}',
        16,
        "spec.infrastructure.autoscaling.min",
        "integer",
    ),
    ("name-trailing-newline", "  name: fraud", '  name: "fraud\\n"', 4, "metadata.name", "pattern"),
    (
        "shape-trailing-newline",
        "    shape: VM.Standard.E4.Flex",
        '    shape: "VM.Standard.E4.Flex\\n"',
        13,
        "spec.infrastructure.shape",
        "pattern",
    ),
    (
        "log-name-trailing-newline",
        "    access: {name: fraud-access}",
        '    access: {name: "fraud-access\\n"}',
        23,
        "spec.logging.access.name",
        "pattern",
    ),
    (
        "secret-from-env-trailing-newline",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    secretEnv: {API_KEY: {fromEnv: "K\\n"}}',
        20,
        "spec.runtime.secretEnv.API_KEY.fromEnv",
        "pattern",
    ),
    (
        "reserved-tag-uppercase",
        "    protect: false",
        "    protect: false\n  freeformTags: {MDR-Stack: other}",
        26,
        "spec.freeformTags.MDR-Stack",
        "reserved for mdr",
    ),
    (
        "reserved-tag-mixed-case",
        "    protect: false",
        "    protect: false\n  freeformTags: {Mdr-Key: x}",
        26,
        "spec.freeformTags.Mdr-Key",
        "reserved for mdr",
    ),
    (
        "reserved-defined-tag",
        "    protect: false",
        "    protect: false\n  definedTags: {Operations: {MDR-stack: x}}",
        26,
        "spec.definedTags.Operations.MDR-stack",
        "reserved for mdr",
    ),
    (
        "defined-tag-date",
        "    protect: false",
        "    protect: false\n  definedTags: {Operations: {since: 2024-01-01}}",
        26,
        "spec.definedTags.Operations.since",
        "string",
    ),
    (
        "defined-tag-nested",
        "    protect: false",
        "    protect: false\n  definedTags: {Operations: {team: {a: b}}}",
        26,
        "spec.definedTags.Operations.team",
        "string",
    ),
    (
        "hyperparameters-nan",
        "    keep: 3",
        "    keep: 3\n    metadata: {hyperparameters: {lr: .nan}}",
        12,
        "spec.model.metadata.hyperparameters.lr",
        "JSON",
    ),
    (
        "hyperparameters-inf",
        "    keep: 3",
        "    keep: 3\n    metadata: {hyperparameters: {grid: [1, -.inf]}}",
        12,
        "spec.model.metadata.hyperparameters.grid[1]",
        "JSON",
    ),
    (
        "hyperparameters-date",
        "    keep: 3",
        "    keep: 3\n    metadata:\n      hyperparameters:\n        trained: 2024-01-01",
        14,
        "spec.model.metadata.hyperparameters.trained",
        "JSON",
    ),
    (
        "hyperparameters-binary",
        "    keep: 3",
        "    keep: 3\n    metadata: {hyperparameters: {seed: !!binary aGVsbG8=}}",
        12,
        "spec.model.metadata.hyperparameters.seed",
        "!!binary",
    ),
    (
        "hyperparameters-set",
        "    keep: 3",
        "    keep: 3\n    metadata:\n      hyperparameters: !!set {a, b}",
        13,
        "spec.model.metadata.hyperparameters",
        "!!set",
    ),
    (
        "yaml-local-tag",
        "  displayName: Fraud",
        "  displayName: !secret Fraud",
        7,
        "spec.displayName",
        "YAML tag",
    ),
    (
        "yaml-python-tag",
        "  displayName: Fraud",
        "  displayName: !!python/object/apply:os.system [ls]",
        7,
        "spec.displayName",
        "YAML tag",
    ),
    (
        "yaml-omap",
        "  labels: {team: risk}",
        "  labels: !!omap [{team: risk}]",
        5,
        "metadata.labels",
        "!!omap",
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "line", "path", "fragment"), STRICT_CASES, ids=_case_ids(STRICT_CASES)
)
def test_strict_input_is_reported_at_its_line(
    tmp_path: Path, case: str, old: str, new: str, line: int, path: str, fragment: str
) -> None:
    assert old in BASE, case
    issues = issues_for(tmp_path, BASE.replace(old, new, 1))
    _assert_one_issue(issues, line, path, fragment)


def test_whole_numbers_are_accepted_where_numbers_are_expected_and_enums_from_strings(tmp_path: Path) -> None:
    text = BASE.replace("    ocpus: 1", "    ocpus: 2").replace(
        "    memoryInGBs: 16", "    memoryInGBs: 24.5"
    )
    text = text.replace("    protect: false", "    protect: false\n    deletion: Orphan")
    stack = load_stack(write_tree(tmp_path, text))
    assert stack.issues == []
    infrastructure = stack.deployments[0].manifest.spec.infrastructure
    assert (infrastructure.ocpus, infrastructure.memoryInGBs) == (2.0, 24.5)
    assert isinstance(infrastructure.ocpus, float)
    assert stack.deployments[0].manifest.spec.policy.deletion == "Orphan"


def test_json_hyperparameters_are_accepted(tmp_path: Path) -> None:
    text = BASE.replace(
        "    keep: 3",
        '    keep: 3\n    metadata: {hyperparameters: {lr: 0.1, layers: [64, 32], name: "x", on: true}}',
    )
    stack = load_stack(write_tree(tmp_path, text))
    assert stack.issues == []


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        (
            '    env: {WEB_CONCURRENCY: "2"}',
            '    env: {"WEB_CONCURRENCY\\n": "2"}',
            "spec.runtime.env.WEB_CONCURRENCY\n",
        ),
        (
            '    env: {WEB_CONCURRENCY: "2"}',
            '    secretEnv: {"API_KEY\\n": {fromEnv: K}}',
            "spec.runtime.secretEnv.API_KEY\n",
        ),
        (
            "  labels: {team: risk}",
            '  labels: {team: risk}\n  annotations: {mdr.io/adopt: "ocid1.datasciencemodeldeployment.oc1.iad.aaaa\\n"}',
            "metadata.annotations.mdr.io/adopt",
        ),
    ],
    ids=["env-name", "secret-env-name", "adopt-ocid"],
)
def test_a_trailing_newline_does_not_pass_a_name_check_and_the_error_stays_on_one_line(
    tmp_path: Path, old: str, new: str, path: str
) -> None:
    issues = issues_for(tmp_path, BASE.replace(old, new, 1))
    matching = [i for i in issues if i.path == path]
    assert matching, [str(i) for i in issues]
    assert "\n" not in str(matching[0]), repr(str(matching[0]))
    assert "\\n" in str(matching[0])


@pytest.mark.parametrize(
    ("shape", "line"),
    [
        ("labels: " + "[" * 10_000 + "]" * 10_000, 5),
        ("labels: " + "{a: " * 10_000 + "1" + "}" * 10_000, 5),
        (
            "labels:\n"
            + "".join("    " + " " * i + f"k{i}:\n" for i in range(1_200))
            + "    "
            + " " * 1_200
            + "v: 1",
            0,
        ),
        ("labels:\n    " + "- " * 10_000 + "x", 0),
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "compact-sequences"],
)
def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path, shape: str, line: int) -> None:
    issues = issues_for(tmp_path, BASE.replace("  labels: {team: risk}", "  " + shape, 1))
    assert issues, "a 10,000-deep document must be refused"
    assert all(i.line >= 1 for i in issues), [str(i) for i in issues]
    if line:
        assert any(i.line == line for i in issues), [str(i) for i in issues]


def test_deep_nesting_in_the_stack_file_is_an_error(tmp_path: Path) -> None:
    issues = issues_for(tmp_path, BASE, stack=STACK + "lock: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert [i.line for i in issues] == [8], [str(i) for i in issues]
    assert "nested" in issues[0].message


def test_an_alias_chain_cannot_build_deep_data(tmp_path: Path) -> None:
    chain = ["  x0: &x0 [1]"] + [f"  x{n}: &x{n} [*x{n - 1}]" for n in range(1, 400)]
    text = BASE.replace(
        "    keep: 3",
        "    keep: 3\n    metadata:\n      hyperparameters:\n" + "\n".join("    " + c for c in chain),
    )
    issues = issues_for(tmp_path, text)
    assert any("nested" in i.message for i in issues), [str(i) for i in issues]


@pytest.mark.parametrize(
    ("old", "new", "path", "hint"),
    [
        ("    replicas: 2", '    replicas: "2"', "spec.infrastructure.replicas", "not the string '2'"),
        ("    replicas: 2", "    replicas: true", "spec.infrastructure.replicas", "not the boolean true"),
        ("  labels: {team: risk}", "  labels: {team: yes}", "metadata.labels.team", "not a boolean"),
        ("  labels: {team: risk}", "  labels: {team: 42}", "metadata.labels.team", "not a number: quote it"),
        (
            "  labels: {team: risk}",
            "  labels: {team: 2024-01-01}",
            "metadata.labels.team",
            "not a date: quote it",
        ),
    ],
    ids=["quoted-number", "boolean-for-number", "yes-for-string", "number-for-string", "date-for-string"],
)
def test_a_type_error_says_what_yaml_read(tmp_path: Path, old: str, new: str, path: str, hint: str) -> None:
    issues = issues_for(tmp_path, BASE.replace(old, new, 1))
    assert any(i.path == path and hint in i.message for i in issues), [str(i) for i in issues]
