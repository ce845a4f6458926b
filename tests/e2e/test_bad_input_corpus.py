"""Bad input never reaches the cloud: a corpus of malformed manifests, stack files and artifacts.

Each case edits one file of the example stack (some also prepare the tree: symlinks, FIFOs, zips, bytes that
are not UTF-8). ``mdr apply --auto-approve`` must exit 1, print an error that names the file and the line,
print no traceback, and make zero mutating API calls (counted by the emulator, not by mdr). An error in an
artifact also names the line of the manifest that refers to it.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.hostile import corrupt_member, deep_path, patch_zip, rename_member_bytes, write_zip
from support.world import World, copy_example_stack, edit

from reconciler.cli import main
from reconciler.emulator import Emulator

F = "fraud-scorer.yaml"
C = "churn-container.yaml"
S = "mdr.yaml"
SCORE = "models/fraud-scorer/score.py"
RUNTIME = "models/fraud-scorer/runtime.yaml"
ARTIFACT = "models/fraud-scorer"
ARTIFACT_LINE = "artifact: models/"  # the line naming the artifact in fraud-scorer.yaml

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    old: str | None  # None: ``new`` replaces the whole file
    new: str | None  # None (with ``old`` None): no edit, ``setup`` prepares the tree
    message: str  # a regular expression the error must match
    #: expected line: a number, or text whose line it is; default: the last line of ``new`` in the edited file
    line: int | str | None = None
    where: str | None = None  # the file the error is reported in, when not the edited one
    setup: Setup | None = None  # runs on the stack folder before the edit
    skip_as_root: bool = False  # root reads any file, whatever its permission bits
    artifact: bool = False  # an artifact's error: also reported at fraud-scorer.yaml's artifact line

    @property
    def in_artifact(self) -> bool:
        return self.artifact or self.file.startswith("models/")


def s(id: str, setup: Setup, message: str, file: str = F, line: int | str = ARTIFACT_LINE) -> Case:
    """A case made by ``setup`` alone; by default its error is at fraud-scorer.yaml's artifact line."""
    return Case(id, file, None, None, message, line, setup=setup, artifact=True)


def tree_edit(file: str, old: str, new: str) -> Setup:
    return lambda stack: edit(stack / file, old, new)


def write_bytes(file: str, data: bytes) -> Setup:
    return lambda stack: (stack / file).write_bytes(data)


def symlinks(**links: str) -> Setup:
    """Symlinks in the example artifact folder (``__`` in a keyword is a ``/``)."""

    def setup(stack: Path) -> None:
        for name, target in links.items():
            path = stack / ARTIFACT / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)

    return setup


def fifo(name: str) -> Setup:
    def setup(stack: Path) -> None:
        path = stack / ARTIFACT / name
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    return setup


def zip_artifact(mutate: Callable[[Path], object] | None = None, **extra: bytes | str) -> Setup:
    """fraud-scorer.yaml packages models/model.zip (the example artifact zipped, plus ``extra``), mutated."""

    def setup(stack: Path) -> None:
        folder = stack / ARTIFACT
        files: dict[str, bytes | str] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
        archive = write_zip(stack / "models/model.zip", {**files, **extra}, zipfile.ZIP_DEFLATED)
        if mutate is not None:
            mutate(archive)
        edit(stack / F, "artifact: models/fraud-scorer", "artifact: models/model.zip")

    return setup


def both(*setups: Setup) -> Setup:
    def setup(stack: Path) -> None:
        for step in setups:
            step(stack)

    return setup


def _non_utf8_name(stack: Path) -> None:
    with open(os.path.join(os.fsencode(stack / ARTIFACT), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"x")


def _too_deep(stack: Path) -> None:
    deep = stack / ARTIFACT / "/".join(["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "w.bin").write_text("x")


def _unreadable(stack: Path) -> None:
    (stack / ARTIFACT / "model.json").chmod(0)


DEEP_FLOW = "[" * 10_000 + "]" * 10_000
DEEP_MAP = "{a: " * 10_000 + "1" + "}" * 10_000
DEEP_BLOCK = "".join("    " + " " * i + f"k{i}:\n" for i in range(1_200)) + "    " + " " * 1_200 + "v: 1"
ALIAS_CHAIN = "\n".join(["        x0: &x0 [1]"] + [f"        x{n}: &x{n} [*x{n - 1}]" for n in range(1, 300)])


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
    Case("manifest-scalar", F, None, "just a string\n", "mapping", 1),
    Case("manifest-empty-mapping", F, None, "{}\n", "apiVersion", 1),
    Case("manifest-null-document", F, None, "---\n~\n", "mapping", 2),
    r(
        "second-document-incomplete",
        F,
        '  freeformTags: {team: "${TEAM}"}\n',
        '  freeformTags: {team: "${TEAM}"}\n---\napiVersion: mdr/v1\nkind: ModelDeployment\n',
        "metadata|spec",
        38,
    ),
    # -- no coercion (strict types): the YAML type must be the field's type
    r("replicas-bool", F, "replicas: 1", "replicas: true", "replicas.*integer"),
    r("replicas-string", F, "replicas: 1", 'replicas: "2"', "replicas.*integer"),
    r("replicas-whole-float", F, "replicas: 1", "replicas: 1.0", "replicas.*integer"),
    r("protect-string-off", F, "protect: false", 'protect: "off"', "protect.*boolean"),
    r("protect-int", F, "protect: false", "protect: 0", "protect.*boolean"),
    r("ocpus-bool", F, "ocpus: 1", "ocpus: true", "ocpus.*number"),
    r("ocpus-quoted-number", F, "ocpus: 1", 'ocpus: "1"', "ocpus.*number"),
    r("ocpus-nan", F, "ocpus: 1", "ocpus: .nan", "ocpus.*finite"),
    r("memory-inf", F, "memoryInGBs: 16", "memoryInGBs: .inf", "memoryInGBs.*finite"),
    r("keep-quoted-number", F, "keep: 3", 'keep: "3"', "keep.*integer"),
    r("bandwidth-string", F, "bandwidthMbps: 10", 'bandwidthMbps: "10"', "bandwidthMbps.*integer"),
    r("state-bool", F, "state: ACTIVE", "state: true", "state"),
    r("use-case-int", F, "useCaseType: binary_classification", "useCaseType: 1", "useCaseType"),
    r("server-port-string", C, "serverPort: 8080", 'serverPort: "8080"', "serverPort.*integer"),
    r("health-port-float", C, "healthCheckPort: 8080", "healthCheckPort: 8080.0", "healthCheckPort.*integer"),
    r("autoscale-min-string", C, "min: 1, max: 4", 'min: "1", max: 4', "min.*integer"),
    r(
        "autoscale-cooldown-float",
        C,
        "scaleOutThreshold: 75}",
        "scaleOutThreshold: 75, coolDownSeconds: 300.0}",
        "coolDownSeconds",
    ),
    r(
        "retention-string",
        F,
        "    predict: {name: fraud-scorer-predict}",
        '    predict: {name: fraud-scorer-predict}\n    retentionDays: "30"',
        "retentionDays.*integer",
    ),
    r(
        "retention-bool",
        F,
        "    predict: {name: fraud-scorer-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: true",
        "retentionDays.*integer",
    ),
    r(
        "retention-not-multiple",
        F,
        "    predict: {name: fraud-scorer-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: 45",
        "retentionDays.*multiple",
    ),
    r("prune-string", S, "prune: false", 'prune: "false"', "prune.*boolean"),
    r("max-deletes-string", S, "maxDeletes: 3", 'maxDeletes: "3"', "maxDeletes.*integer"),
    r("max-deletes-bool", S, "maxDeletes: 3", "maxDeletes: true", "maxDeletes.*integer"),
    r(
        "lock-ttl-string",
        S,
        "prune: false",
        'prune: false\nlock: {bucket: mdr-locks, ttlSeconds: "60"}',
        "ttlSeconds",
    ),
    r(
        "threshold-zero",
        S,
        "prune: false",
        "prune: false\nartifacts: {bucket: staging, thresholdBytes: 0}",
        "thresholdBytes",
    ),
    Case(
        "replicas-from-variable",
        F,
        "replicas: 1",
        "replicas: ${REPLICAS}",
        "replicas.*integer",
        setup=tree_edit(S, "  TEAM: risk", '  TEAM: risk\n  REPLICAS: "2"'),
    ),
    r("vars-value-int", S, "  TEAM: risk", "  TEAM: 1", "TEAM"),
    r("vars-value-nested", S, "  TEAM: risk", "  TEAM: {a: b}", "TEAM"),
    r("name-int", F, "name: fraud-scorer", "name: 123", "name"),
    r(
        "annotation-int",
        F,
        "    mdr.io/example-input:",
        "    mdr.io/retries: 3\n    mdr.io/example-input:",
        "retries",
        "mdr.io/retries",
    ),
    r(
        "custom-metadata-value-int",
        F,
        "    keep: 3",
        "    keep: 3\n    customMetadata: [{key: a, value: 1}]",
        "value",
    ),
    r("label-date", F, 'labels: {team: "${TEAM}"}', "labels: {since: 2024-01-01}", "since|string"),
    # -- patterns match the whole value (no trailing newline), the reserved tag prefix in any case
    r("name-trailing-newline", F, "name: fraud-scorer", 'name: "fraud-scorer\\n"', "name.*pattern"),
    r(
        "env-name-trailing-newline",
        F,
        'env: {WEB_CONCURRENCY: "2"}',
        'env: {"WEB_CONCURRENCY\\n": "2"}',
        "WEB_CONCURRENCY\\\\n",
    ),
    r(
        "secret-env-name-trailing-newline",
        F,
        'env: {WEB_CONCURRENCY: "2"}',
        'secretEnv: {"API_KEY\\n": {fromEnv: K}}',
        "API_KEY\\\\n",
    ),
    r(
        "secret-source-trailing-newline",
        F,
        'env: {WEB_CONCURRENCY: "2"}',
        'secretEnv: {API_KEY: {fromEnv: "K\\n"}}',
        "fromEnv",
    ),
    r(
        "adopt-trailing-newline",
        F,
        "  annotations:\n",
        '  annotations:\n    mdr.io/adopt: "ocid1.datasciencemodeldeployment.oc1.iad.aaaa\\n"\n',
        "mdr.io/adopt",
    ),
    r(
        "adopt-wrong-kind",
        F,
        "  annotations:\n",
        "  annotations:\n    mdr.io/adopt: ocid1.datasciencemodel.oc1.iad.aaaa\n",
        "mdr.io/adopt",
    ),
    r("shape-trailing-newline", F, "shape: VM.Standard.E4.Flex", 'shape: "VM.Standard.E4.Flex\\n"', "shape"),
    r(
        "image-trailing-newline",
        C,
        "image: iad.ocir.io/risk/churn-api:1.4.2",
        'image: "iad.ocir.io/risk/churn-api:1.4.2\\n"',
        "image",
    ),
    r(
        "digest-trailing-newline",
        C,
        "imageDigest: sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
        'imageDigest: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\\n"',
        "imageDigest",
    ),
    r(
        "log-name-trailing-newline",
        F,
        "access: {name: fraud-scorer-access}",
        'access: {name: "fraud-scorer-access\\n"}',
        "name",
    ),
    r(
        "log-group-trailing-newline",
        F,
        "logGroup: {name: risk-logs}",
        'logGroup: {name: "risk-logs\\n"}',
        "name",
    ),
    r(
        "custom-metadata-key-newline",
        F,
        "    keep: 3",
        '    keep: 3\n    customMetadata: [{key: "a\\n", value: b}]',
        "key",
    ),
    r(
        "ignore-path-newline",
        F,
        "    deletion: Delete",
        '    deletion: Delete\n    ignore: ["state\\n"]',
        "ignore",
    ),
    r("region-trailing-newline", S, "region: us-ashburn-1", 'region: "us-ashburn-1\\n"', "region"),
    r("stack-trailing-newline", S, "stack: risk-prod", 'stack: "risk-prod\\n"', "stack"),
    r(
        "compartment-trailing-newline",
        S,
        "compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod",
        'compartmentId: "ocid1.compartment.oc1..aaaaaaaariskprod\\n"',
        "compartmentId",
    ),
    r(
        "project-trailing-newline",
        S,
        "projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod",
        'projectId: "ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod\\n"',
        "projectId",
    ),
    r("bucket-trailing-newline", S, "prune: false", 'prune: false\nlock: {bucket: "locks\\n"}', "bucket"),
    r("var-name-trailing-newline", S, "  TEAM: risk", '  "TEAM\\n": risk', "variable name"),
    r("name-homoglyph", F, "name: fraud-scorer", "name: fr\u0430ud-scorer", "name.*pattern"),
    r("reserved-tag", F, 'freeformTags: {team: "${TEAM}"}', "freeformTags: {mdr-stack: other}", "reserved"),
    r(
        "reserved-tag-uppercase",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "freeformTags: {MDR-Stack: other}",
        "reserved",
    ),
    r(
        "reserved-tag-mixed-case",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "freeformTags: {Mdr-Key: x}",
        "reserved",
    ),
    r(
        "reserved-defined-tag",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {Operations: {MDR-stack: x}}",
        "reserved",
    ),
    r(
        "reserved-defined-namespace",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {mdr-tags: {a: b}}",
        "reserved",
    ),
    # -- values that crashed planning or YAML loading: dates, tags, depth
    r(
        "defined-tag-date",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {Operations: {since: 2024-01-01}}",
        "since.*string",
    ),
    r(
        "defined-tag-datetime",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {Operations: {at: 2024-01-01T10:00:00Z}}",
        "at.*string",
    ),
    r(
        "defined-tag-int",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {Operations: {cost: 42}}",
        "cost.*string",
    ),
    r(
        "defined-tag-list",
        F,
        'freeformTags: {team: "${TEAM}"}',
        "definedTags: {Operations: [a]}",
        "Operations",
    ),
    r(
        "yaml-binary-tag",
        F,
        "framework: other}",
        "framework: other, hyperparameters: {seed: !!binary aGVsbG8=}}",
        "!!binary",
    ),
    r("yaml-set-tag", F, "framework: other}", "framework: other, hyperparameters: !!set {a, b}}", "!!set"),
    r("yaml-omap-tag", F, 'labels: {team: "${TEAM}"}', 'labels: !!omap [{team: "${TEAM}"}]', "!!omap"),
    r("yaml-local-tag", F, "displayName: Fraud scorer", "displayName: !secret Fraud scorer", "YAML tag"),
    r(
        "yaml-python-tag",
        F,
        "displayName: Fraud scorer",
        "displayName: !!python/object/apply:os.system [id]",
        "YAML tag",
    ),
    r("yaml-stack-tag", S, "prune: false", "prune: !!python/name:os.system false", "YAML tag"),
    r("yaml-null-byte", F, "displayName: Fraud scorer", "displayName: Fraud\x00scorer", "character|YAML"),
    r(
        "yaml-control-character",
        F,
        "displayName: Fraud scorer",
        "displayName: Fraud\x1bscorer",
        "character|YAML",
    ),
    r("yaml-stack-null-byte", S, "prune: false", "prune: fa\x00lse", "character|YAML"),
    r("key-not-string", F, "  state: ACTIVE", "  state: ACTIVE\n  1: one", "unknown field"),
    r("key-null", F, "  state: ACTIVE", "  state: ACTIVE\n  ~: nothing", "unknown field"),
    r("key-complex", F, "  state: ACTIVE", "  state: ACTIVE\n  ? [a, b]\n  : c", "plain strings", "? [a, b]"),
    r("key-wrong-case", F, "    replicas: 1", "    replicas: 1\n    Replicas: 1", "Replicas"),
    r("deep-flow-sequences", F, 'labels: {team: "${TEAM}"}', "labels: " + DEEP_FLOW, "nested"),
    r("deep-flow-mappings", F, 'labels: {team: "${TEAM}"}', "labels: " + DEEP_MAP, "nested"),
    r(
        "deep-block-mappings",
        F,
        '  labels: {team: "${TEAM}"}\n',
        "  labels:\n" + DEEP_BLOCK + "\n",
        "nested",
        "k62:",
    ),
    r(
        "deep-compact-sequences",
        F,
        '  labels: {team: "${TEAM}"}\n',
        "  labels:\n    " + "- " * 10_000 + "x\n",
        "nested",
    ),
    r("deep-stack-file", S, "prune: false", "prune: false\nlock: " + "[" * 50_000 + "]" * 50_000, "nested"),
    r(
        "deep-hyperparameters",
        F,
        "framework: other}",
        "framework: other, hyperparameters: " + "{a: " * 100 + "1" + "}" * 100 + "}",
        "nested",
    ),
    r(
        "deep-alias-chain",
        F,
        "    metadata: {useCaseType: binary_classification, framework: other}\n",
        "    metadata:\n      hyperparameters:\n" + ALIAS_CHAIN + "\n",
        "nested",
        "x0: &x0",
    ),
    # -- values the service would refuse: regions, one log kept for two periods, metadata that is not JSON
    r(
        "region-unknown",
        S,
        "region: us-ashburn-1",
        "region: us-ashbrun-1",
        "us-ashbrun-1.*allowUnknownRegion",
    ),
    r("region-made-up", S, "region: us-ashburn-1", "region: mars-olympus-1", "mars-olympus-1"),
    r("region-short-name", S, "region: us-ashburn-1", "region: iad", "region"),
    r("region-uppercase", S, "region: us-ashburn-1", "region: US-ASHBURN-1", "region"),
    r(
        "region-override-string",
        S,
        "region: us-ashburn-1",
        'region: xx-new-1\nallowUnknownRegion: "yes"',
        "allowUnknownRegion",
    ),
    r(
        "log-two-retentions",
        C,
        "    predict: {name: churn-api-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: 60",
        "retention|days",
        "predict: {name: fraud-scorer-predict}",
        F,
    ),
    Case(
        "log-two-retentions-written",
        F,
        "    predict: {name: fraud-scorer-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: 90",
        "retention|days",
        setup=tree_edit(
            C, "    predict: {name: churn-api-predict}", "    predict: {name: fraud-scorer-predict}"
        ),
    ),
    r(
        "hyperparameters-nan",
        F,
        "framework: other}",
        "framework: other, hyperparameters: {lr: .nan}}",
        "JSON",
    ),
    r(
        "hyperparameters-inf",
        F,
        "framework: other}",
        "framework: other, hyperparameters: {lr: .inf}}",
        "JSON",
    ),
    r(
        "hyperparameters-negative-inf",
        F,
        "framework: other}",
        "framework: other, hyperparameters: {grid: [1, -.inf]}}",
        "JSON",
    ),
    r(
        "hyperparameters-date",
        F,
        "framework: other}",
        "framework: other, hyperparameters: {trained: 2024-01-01}}",
        "JSON",
    ),
    r(
        "hyperparameters-list",
        F,
        "framework: other}",
        "framework: other, hyperparameters: [1, 2]}",
        "hyperparameters",
    ),
    r(
        "custom-metadata-duplicate",
        F,
        "    keep: 3",
        "    keep: 3\n    customMetadata: [{key: a, value: b}, {key: a, value: c}]",
        "duplicate",
    ),
    r(
        "custom-metadata-category",
        F,
        "    keep: 3",
        "    keep: 3\n    customMetadata: [{key: a, value: b, category: x}]",
        "category",
    ),
    r(
        "ignore-unknown-path",
        F,
        "    deletion: Delete",
        "    deletion: Delete\n    ignore: [infrastructure.gpus]",
        "ignore",
    ),
    r(
        "secret-and-plain-env",
        F,
        'env: {WEB_CONCURRENCY: "2"}',
        'env: {API_KEY: "x"}\n    secretEnv: {API_KEY: {fromEnv: K}}',
        "both env and secretEnv",
    ),
    r(
        "entrypoint-string",
        C,
        "entrypoint: [python, -m, churn.serve]",
        "entrypoint: python -m churn.serve",
        "entrypoint",
    ),
    r(
        "image-docker-hub",
        C,
        "image: iad.ocir.io/risk/churn-api:1.4.2",
        "image: docker.io/library/python:3",
        "image",
    ),
    r(
        "private-endpoint-bad",
        F,
        "    bandwidthMbps: 10",
        "    bandwidthMbps: 10\n    privateEndpointId: pe-1",
        "privateEndpointId",
    ),
    r("artifact-http", F, "artifact: models/fraud-scorer", "artifact: https://example.com/m.zip", "artifact"),
    r(
        "artifact-plain-file",
        F,
        "artifact: models/fraud-scorer",
        "artifact: models/fraud-scorer/model.json",
        "folder or a .zip",
    ),
    r(
        "artifact-outside-stack",
        F,
        "artifact: models/fraud-scorer",
        "artifact: ../../../../../etc",
        "outside",
    ),
    # -- score.py and runtime.yaml that Python or YAML cannot read safely
    Case(
        "score-huge-expression",
        SCORE,
        "MODEL_FILE = ",
        "BIG = " + "1 + " * 200_000 + "1\nMODEL_FILE = ",
        "too complex",
        "BIG = ",
    ),
    Case("score-null-byte", SCORE, "import json", "import json\x00", "null"),
    Case(
        "score-nested-parentheses",
        SCORE,
        "MODEL_FILE = ",
        "X = " + "(" * 300 + ")" * 300 + "\nMODEL_FILE = ",
        "parse",
        "X = ",
    ),
    s(
        "score-utf-16",
        write_bytes(SCORE, "def load_model():\n    pass\n".encode("utf-16")),
        "score.py",
        SCORE,
        1,
    ),
    Case(
        "runtime-deep-nesting",
        RUNTIME,
        'MODEL_ARTIFACT_VERSION: "3.0"',
        'MODEL_ARTIFACT_VERSION: "3.0"\nX: ' + DEEP_FLOW,
        "nested",
    ),
    Case(
        "runtime-deep-mapping",
        RUNTIME,
        'MODEL_ARTIFACT_VERSION: "3.0"',
        'MODEL_ARTIFACT_VERSION: "3.0"\nX: ' + DEEP_MAP,
        "nested",
    ),
    Case(
        "runtime-local-tag",
        RUNTIME,
        "INFERENCE_ENV_TYPE: data_science",
        "INFERENCE_ENV_TYPE: !custom data_science",
        "YAML tag",
    ),
    Case(
        "runtime-two-documents",
        RUNTIME,
        'INFERENCE_PYTHON_VERSION: "3.11"',
        'INFERENCE_PYTHON_VERSION: "3.11"\n---\nA: 1',
        "one YAML document",
        "A: 1",
    ),
    Case(
        "runtime-alias-bomb",
        RUNTIME,
        'MODEL_ARTIFACT_VERSION: "3.0"',
        'MODEL_ARTIFACT_VERSION: "3.0"\n'
        + "\n".join(
            [f"l0: &l0 [{', '.join(['x'] * 10)}]"]
            + [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 7)]
        ),
        "more than",
        1,
    ),
    s(
        "runtime-utf-16",
        write_bytes(RUNTIME, 'MODEL_ARTIFACT_VERSION: "3.0"\n'.encode("utf-16")),
        "UTF-8",
        RUNTIME,
        1,
    ),
    s("runtime-not-utf8", write_bytes(RUNTIME, b'MODEL_ARTIFACT_VERSION: "3\xff.0"\n'), "UTF-8", RUNTIME, 1),
    # -- artifact folders: symlinks (leaving it, dangling, looping), special files, names, depth, permissions
    s("artifact-symlink-to-passwd", symlinks(**{"leak.txt": "/etc/passwd"}), "outside the artifact folder"),
    s("artifact-symlink-to-etc", symlinks(etc="/etc"), "outside the artifact folder"),
    s(
        "artifact-symlink-relative-out",
        symlinks(**{"stack.yaml": "../../mdr.yaml"}),
        "outside the artifact folder",
    ),
    s("artifact-nested-folder-out", symlinks(sub__up="../../.."), "outside the artifact folder"),
    s("artifact-symlink-dangling", symlinks(gone="nowhere.bin"), "broken|dangling"),
    s("artifact-symlink-self-loop", symlinks(loop="loop"), "loop"),
    s("artifact-symlink-pair-loop", symlinks(a="b", b="a"), "loop"),
    s("artifact-symlink-to-ancestor", symlinks(sub__up=".."), "loop"),
    s("artifact-symlink-through-siblings", symlinks(p__l="../q", q__m="../p"), "loop"),
    s("artifact-fifo", fifo("pipe"), "not a regular file"),
    s("artifact-fifo-as-score", fifo("score.py"), "not a regular file"),
    s("artifact-name-not-utf8", _non_utf8_name, "UTF-8"),
    s(
        "artifact-ignore-not-utf8",
        write_bytes(ARTIFACT + "/.model-ignore", b"data/\n\xff*.log\n"),
        "model-ignore",
    ),
    s("artifact-too-deep", _too_deep, "deep"),
    s("artifact-path-too-long", lambda stack: deep_path(stack / ARTIFACT) and None, "too long"),
    Case(
        "artifact-unreadable",
        F,
        None,
        None,
        "Permission denied",
        ARTIFACT_LINE,
        setup=_unreadable,
        skip_as_root=True,
        artifact=True,
    ),
    # -- zip artifacts: what apply would upload is opened and checked by validate
    s("zip-encrypted", zip_artifact(lambda a: patch_zip(a, flags=0x1)), "encrypted"),
    s("zip-unknown-method", zip_artifact(lambda a: patch_zip(a, method=99)), "compression method 99"),
    s("zip-bad-crc", zip_artifact(lambda a: corrupt_member(a, "model.json")), "model.json"),
    s(
        "zip-stored-bad-crc",
        both(
            zip_artifact(),
            lambda stack: corrupt_member(
                write_zip(
                    stack / "models/model.zip",
                    {
                        "score.py": (stack / SCORE).read_bytes(),
                        "runtime.yaml": (stack / RUNTIME).read_bytes(),
                        "weights.bin": b"w" * 300,
                    },
                ),
                "weights.bin",
            ),
        ),
        "CRC|weights.bin",
    ),
    s("zip-duplicate-entry", zip_artifact(**{"model.json#2": "{}"}), "more than once"),
    s("zip-file-and-folder", zip_artifact(**{"model.json/x": "{}"}), "both a file and a folder"),
    s(
        "zip-name-not-utf8",
        zip_artifact(
            lambda a: rename_member_bytes(a, "caf\u00e9".encode(), b"caf\xff\xfe"), **{"caf\u00e9": "x"}
        ),
        "zip",
    ),
    s("zip-truncated", zip_artifact(lambda a: a.write_bytes(a.read_bytes()[:100])), "zip"),
    s("zip-random-bytes", zip_artifact(lambda a: a.write_bytes(os.urandom(2048))), "zip"),
    s("zip-empty", zip_artifact(lambda a: write_zip(a, {})), "no files"),
    s("zip-escaping-entry", zip_artifact(**{"../escape.py": "x"}), "leaves the archive"),
    s("zip-absolute-entry", zip_artifact(**{"/etc/cron.d/x": "x"}), "absolute"),
    s(
        "zip-is-a-folder",
        both(
            lambda stack: (stack / "models/model.zip").mkdir(),
            tree_edit(F, "artifact: models/fraud-scorer", "artifact: models/model.zip"),
        ),
        "zip|folder",
    ),
]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    emulator = Emulator(work_request_seconds=0.02).start()
    root = tmp_path_factory.mktemp("corpus")
    try:
        yield World(emulator, emulator.write_oci_config(root / "oci"), root)
    finally:
        emulator.stop()


def line_of(path: Path, text: str) -> int:
    content = path.read_text(errors="replace")
    assert text in content, f"{text!r} not in {path}"
    return content[: content.index(text)].count("\n") + 1


def _edit(case: Case, stack: Path) -> int:
    if case.setup is not None:
        case.setup(stack)
    path = stack / case.file
    if isinstance(case.line, str) and (case.new is None or case.where):
        _apply(case, path)
        return line_of(stack / (case.where or case.file), case.line)
    if case.new is None:
        return int(case.line or 1)
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


def _apply(case: Case, path: Path) -> None:
    if case.new is None:
        return
    if case.old is None:
        path.write_text(case.new)
        return
    text = path.read_text()
    assert case.old in text, f"{case.id}: {case.old!r} not in {case.file}"
    path.write_text(text.replace(case.old, case.new, 1))


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)


ROOT_SKIP = pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file, whatever its permission bits")
PARAMS = [pytest.param(c, id=c.id, marks=[ROOT_SKIP] if c.skip_as_root else []) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
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
    assert "Traceback" not in err
    assert all(row.startswith("error: ") for row in err.splitlines()[:-1]), err  # one line per error
    if case.in_artifact:  # an artifact's error also names the manifest line that refers to it
        assert f"{F}:{line_of(stack / F, ARTIFACT_LINE)}:" in err, err
    assert cloud.emulator.mutating_calls() == 0
