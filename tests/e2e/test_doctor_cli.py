"""``mdr doctor`` as a user runs it, against a running emulator through the real SDK."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

from support.world import EXAMPLE_COMPARTMENT, World


def deny(world: World, *operations: str) -> None:
    """What a test (or a user) posts to the emulator's fault API to take a permission away."""
    request = urllib.request.Request(
        f"{world.emulator.url}/_emulator/faults",
        data=json.dumps({"deny_operations": list(operations)}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["deny_operations"] == sorted(operations)


def test_every_check_is_ok_on_a_healthy_target(world: World, stack: Path) -> None:
    result = world.mdr("doctor", "manifests", *world.target_args())
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("OK   ") for line in lines[:-1]), result.stdout
    assert lines[-1].startswith(f"{len(lines) - 1} check(s), 0 failed; writes are not probed")
    assert world.emulator.mutating_calls() == 0


def test_a_denied_list_log_groups_is_one_fail_line_with_the_policy_to_add(world: World, stack: Path) -> None:
    deny(world, "ListLogGroups")
    result = world.mdr("doctor", "manifests", *world.target_args())
    assert result.returncode == 1
    [fail] = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fail == (
        f"FAIL ListLogGroups in compartment {EXAMPLE_COMPARTMENT}: 404 NotAuthorizedOrNotFound; "
        f"fix: Allow <subject> to inspect log-groups in compartment id {EXAMPLE_COMPARTMENT}"
    )
    assert "1 failed" in result.stdout.splitlines()[-1]


def test_a_missing_lock_bucket_is_reported(world: World, stack: Path) -> None:
    config = stack / "mdr.yaml"
    config.write_text(config.read_text() + "lock: {bucket: team-locks}\n")
    result = world.mdr("doctor", "manifests", *world.target_args())
    assert result.returncode == 1
    [fail] = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fail.startswith("FAIL lock bucket team-locks (namespace ")
    assert "404 BucketNotFound" in fail and "oci os bucket create --name team-locks" in fail


def test_an_unreachable_endpoint_is_a_one_line_error(world: World, stack: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = world.mdr(
        "doctor",
        "manifests",
        "--endpoint",
        f"http://127.0.0.1:{port}",
        "--config-file",
        str(world.config_file),
    )
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot reach endpoint:http://127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_a_key_the_target_does_not_know_fails_authentication_and_stops_there(
    world: World, stack: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "other.pem"
    key_file.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    config = tmp_path / "other-config"
    config.write_text(
        "\n".join(
            f"key_file={key_file}" if line.startswith("key_file") else line
            for line in world.config_file.read_text().splitlines()
        )
        + "\n"
    )
    result = world.mdr("doctor", "manifests", "--endpoint", world.emulator.url, "--config-file", str(config))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"FAIL authenticate to endpoint:{world.emulator.url}: 401 NotAuthenticated; fix: check the profile's "
        "user, fingerprint and key_file, or the --auth mode (docs/auth.md)"
    )
    assert lines[1].startswith("1 check(s), 1 failed")  # every other call would be refused the same way
    assert str(key_file) not in result.stdout + result.stderr


def test_manifests_with_errors_are_one_fail_line_and_the_target_is_still_checked(
    world: World, stack: Path
) -> None:
    fraud = stack / "fraud-scorer.yaml"
    fraud.write_text(fraud.read_text().replace("replicas: 1", "replicas: -1"))
    result = world.mdr("doctor", "manifests", *world.target_args())
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "FAIL manifests: 1 error(s); fix: run mdr validate manifests"
    assert [line for line in lines if line.startswith("FAIL")] == [lines[0]]
    assert any(line.startswith("OK   ListModelDeployments") for line in lines)


def test_a_server_that_is_not_oci_is_a_one_line_error(world: World, stack: Path) -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = world.mdr("doctor", "manifests", "--endpoint", url, "--config-file", str(world.config_file))
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot reach endpoint:{url}: it answered 404 without an OCI error code")
