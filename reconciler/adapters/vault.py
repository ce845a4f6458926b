"""Secret values from OCI Vault: ``secretEnv: {NAME: {fromVault: <secret OCID>}}``, read with GetSecretBundle.

The value is the secret's CURRENT version, decoded from base64 as UTF-8 text (an environment variable is
text). It is returned to the caller and nowhere else: never logged, never part of an error message (errors
name the variable and the secret OCID only), never cached beyond one plan or one apply.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from reconciler.adapters.cloud_errors import CloudError, NotAuthorized, NotFound, describe_cloud_error
from reconciler.core.errors import MdrError


class VaultSecretError(MdrError):
    """A ``fromVault`` secret cannot be read: missing, not allowed, scheduled for deletion, or not text."""


def read_vault_secret(provider: Any, name: str, secret_id: str) -> str:
    """The CURRENT value of the Vault secret ``secret_id`` for environment variable ``name``."""
    try:
        response = provider.call("GetSecretBundle", provider.secrets.get_secret_bundle, secret_id)
    except (NotFound, NotAuthorized) as exc:
        raise VaultSecretError(
            f"secret {name}: Vault secret {secret_id} does not exist or this identity may not read it "
            f"(needs 'read secret-bundles'); {describe_cloud_error(exc)}"
        ) from None
    except CloudError as exc:
        raise VaultSecretError(f"secret {name}: Vault secret {secret_id} cannot be read: {exc}") from None
    content = response.data.secret_bundle_content
    if str(getattr(content, "content_type", "")) != "BASE64" or content.content is None:
        raise VaultSecretError(f"secret {name}: Vault secret {secret_id} has no BASE64 content")
    try:
        return base64.b64decode(content.content, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise VaultSecretError(
            f"secret {name}: Vault secret {secret_id} is not UTF-8 text; an environment variable must be text"
        ) from None


class VaultReader:
    """Reads each secret OCID once per plan or apply (several deployments may share one secret)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self._values: dict[str, str] = {}

    def read(self, name: str, secret_id: str) -> str:
        if secret_id not in self._values:
            self._values[secret_id] = read_vault_secret(self.provider, name, secret_id)
        return self._values[secret_id]


def value_for_plan(reader: VaultReader, name: str, secret_id: str, notes: list[str]) -> str | None:
    """The secret's value for a plan's diff, or None (assumed unchanged, like an unset ``fromEnv``) with a
    note saying why: a plan may run where secrets cannot be read (a CI job without the permission), and apply
    reads the secret again and fails clearly if it still cannot."""
    try:
        return reader.read(name, secret_id)
    except VaultSecretError as exc:
        notes.append(f"{exc}; its value is assumed unchanged in this plan (apply reads it again)")
        return None
