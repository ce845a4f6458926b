"""Vault secrets: state and rules, no HTTP.

A secret has numbered versions; one is CURRENT. CreateSecret makes version 1; UpdateSecret with new content
adds a version that becomes CURRENT (or PENDING, when the content says so), and the one before it PREVIOUS.
GetSecretBundle answers the CURRENT version unless asked for a version number or another stage. A secret
scheduled for deletion still exists but its bundles are refused (400), as OCI does. Secrets are ACTIVE at
once (OCI passes through CREATING for a moment). Content is kept base64-encoded, as the API carries it: this
is an emulator for tests and laptops, not a vault.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from reconciler.emulator.core.errors import ApiError, invalid, missing, require
from reconciler.emulator.core.store import Store, new_etag, now_rfc3339

#: the stages a bundle may be asked for by name
STAGES = frozenset({"CURRENT", "PENDING", "LATEST", "PREVIOUS", "DEPRECATED"})
#: the largest secret content OCI accepts (base64-encoded)
MAX_CONTENT_BYTES = 25 * 1024


class SecretsBackend:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _content(self, body: dict[str, Any]) -> tuple[str, str]:
        """The base64 content of a ``secretContent`` and the stage it asks for."""
        content = body.get("secretContent")
        if not isinstance(content, dict):
            raise missing("secretContent")
        if content.get("contentType") != "BASE64":
            raise invalid("secretContent.contentType must be BASE64")
        text = content.get("content")
        if not isinstance(text, str) or not text:
            raise missing("secretContent.content")
        if len(text) > MAX_CONTENT_BYTES:
            raise invalid(f"secret content must be at most {MAX_CONTENT_BYTES} bytes (base64)")
        try:
            base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise invalid("secretContent.content is not valid base64") from exc
        stage = content.get("stage") or "CURRENT"
        if stage not in ("CURRENT", "PENDING"):
            raise invalid("secretContent.stage must be CURRENT or PENDING")
        return text, stage

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId", "vaultId", "keyId", "secretName")
        content, _ = self._content(body)
        secret_id = self.store.new_id("vaultsecret")
        now = now_rfc3339()
        secret = {
            "id": secret_id,
            "compartmentId": body["compartmentId"],
            "vaultId": body["vaultId"],
            "keyId": body["keyId"],
            "secretName": body["secretName"],
            "description": body.get("description"),
            "lifecycleState": "ACTIVE",
            "lifecycleDetails": None,
            "currentVersionNumber": 1,
            "timeCreated": now,
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "metadata": body.get("metadata"),
            "_etag": new_etag(),
            "_versions": [
                {"versionNumber": 1, "content": content, "timeCreated": now, "stages": ["CURRENT"]}
            ],
        }
        self.store.data["secrets"][secret_id] = secret
        return secret

    def secret(self, secret_id: str) -> dict[str, Any]:
        return self.store.find("secrets", secret_id, "secret")

    def update(self, secret_id: str, body: dict[str, Any]) -> dict[str, Any]:
        secret = self.secret(secret_id)
        if secret["lifecycleState"] != "ACTIVE":
            raise ApiError(409, "IncorrectState", f"secret {secret_id} is {secret['lifecycleState']}")
        for name in ("description", "freeformTags", "definedTags", "metadata"):
            if name in body:
                secret[name] = body[name]
        if body.get("secretContent") is not None:
            self._add_version(secret, *self._content(body))
        secret["_etag"] = new_etag()
        return secret

    def _add_version(self, secret: dict[str, Any], content: str, stage: str) -> None:
        versions: list[dict[str, Any]] = secret["_versions"]
        number = max(v["versionNumber"] for v in versions) + 1
        if stage == "CURRENT":
            for version in versions:
                stages = [s for s in version["stages"] if s not in ("CURRENT", "PREVIOUS")]
                if "CURRENT" in version["stages"]:
                    stages.append("PREVIOUS")
                version["stages"] = stages
            secret["currentVersionNumber"] = number
        versions.append(
            {"versionNumber": number, "content": content, "timeCreated": now_rfc3339(), "stages": [stage]}
        )

    def schedule_deletion(self, secret_id: str) -> None:
        secret = self.secret(secret_id)
        secret["lifecycleState"] = "PENDING_DELETION"
        secret["_etag"] = new_etag()

    def bundle(self, secret_id: str, version_number: str | None, stage: str | None) -> dict[str, Any]:
        """``SecretBundle`` of one version: the CURRENT one unless a number or a stage is asked for."""
        secret = self.secret(secret_id)
        if secret["lifecycleState"] != "ACTIVE":
            raise invalid(f"secret {secret_id} is {secret['lifecycleState']}; its contents cannot be read")
        versions: list[dict[str, Any]] = secret["_versions"]
        if version_number is not None:
            found = [v for v in versions if str(v["versionNumber"]) == version_number]
        else:
            wanted = stage or "CURRENT"
            if wanted not in STAGES:
                raise invalid(f"stage must be one of {', '.join(sorted(STAGES))}")
            found = [versions[-1]] if wanted == "LATEST" else [v for v in versions if wanted in v["stages"]]
        if not found:
            raise ApiError(404, "NotAuthorizedOrNotFound", f"no such version of secret {secret_id}")
        version = found[-1]
        stages = list(version["stages"]) + (["LATEST"] if version is versions[-1] else [])
        return {
            "secretId": secret_id,
            "versionNumber": version["versionNumber"],
            "versionName": None,
            "timeCreated": version["timeCreated"],
            "stages": stages,
            "metadata": secret.get("metadata"),
            "secretBundleContent": {"contentType": "BASE64", "content": version["content"]},
        }
