"""Vault secrets through the real SDK: CreateSecret and UpdateSecret (management), GetSecretBundle (retrieval)."""

from __future__ import annotations

import base64
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs

from reconciler.emulator import Emulator

VAULT = "ocid1.vault.oc1.iad.aaaaaaaavault"
KEY = "ocid1.key.oc1.iad.aaaaaaaakey"


def _clients(emulator: Emulator) -> tuple[Any, Any]:
    config = emulator.oci_config()
    vaults = oci.vault.VaultsClient(config, **client_kwargs(emulator))
    secrets = oci.secrets.SecretsClient(config, **client_kwargs(emulator))
    return vaults, secrets


def _content(text: str, stage: str | None = None) -> Any:
    return oci.vault.models.Base64SecretContentDetails(
        content_type="BASE64", content=base64.b64encode(text.encode()).decode(), stage=stage
    )


def _create(vaults: Any, text: str) -> str:
    details = oci.vault.models.CreateSecretDetails(
        compartment_id=COMPARTMENT,
        vault_id=VAULT,
        key_id=KEY,
        secret_name="api-key",
        secret_content=_content(text),
    )
    return str(vaults.create_secret(details).data.id)


def _read(secrets: Any, secret_id: str, **kwargs: Any) -> str:
    bundle = secrets.get_secret_bundle(secret_id, **kwargs).data
    return base64.b64decode(bundle.secret_bundle_content.content).decode()


def test_a_created_secret_reads_back_through_the_secrets_api(emulator: Emulator) -> None:
    vaults, secrets = _clients(emulator)
    secret_id = _create(vaults, "first value")
    assert secret_id.startswith("ocid1.vaultsecret.")
    assert vaults.get_secret(secret_id).data.lifecycle_state == "ACTIVE"
    bundle = secrets.get_secret_bundle(secret_id).data
    assert bundle.version_number == 1 and "CURRENT" in bundle.stages
    assert _read(secrets, secret_id) == "first value"


def test_a_rotated_secret_answers_its_new_version_and_keeps_the_previous(emulator: Emulator) -> None:
    vaults, secrets = _clients(emulator)
    secret_id = _create(vaults, "v1")
    vaults.update_secret(secret_id, oci.vault.models.UpdateSecretDetails(secret_content=_content("v2")))
    assert _read(secrets, secret_id) == "v2"
    assert _read(secrets, secret_id, stage="PREVIOUS") == "v1"
    assert _read(secrets, secret_id, version_number=1) == "v1"
    vaults.update_secret(
        secret_id, oci.vault.models.UpdateSecretDetails(secret_content=_content("v3", "PENDING"))
    )
    assert _read(secrets, secret_id) == "v2"  # a PENDING version is not current yet
    assert _read(secrets, secret_id, stage="LATEST") == "v3"


def test_an_unknown_or_deleted_secret_is_refused(emulator: Emulator) -> None:
    vaults, secrets = _clients(emulator)
    with pytest.raises(oci.exceptions.ServiceError) as missing:
        secrets.get_secret_bundle("ocid1.vaultsecret.oc1.iad.amaaaaaanothere")
    assert missing.value.status == 404
    secret_id = _create(vaults, "v1")
    details = oci.vault.models.ScheduleSecretDeletionDetails()
    vaults.schedule_secret_deletion(secret_id, details)
    with pytest.raises(oci.exceptions.ServiceError) as deleted:
        secrets.get_secret_bundle(secret_id)
    assert deleted.value.status == 400 and "PENDING_DELETION" in deleted.value.message


def test_content_that_is_not_base64_is_refused(emulator: Emulator) -> None:
    vaults, _ = _clients(emulator)
    details = oci.vault.models.CreateSecretDetails(
        compartment_id=COMPARTMENT,
        vault_id=VAULT,
        key_id=KEY,
        secret_name="bad",
        secret_content=oci.vault.models.Base64SecretContentDetails(content_type="BASE64", content="@@@"),
    )
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        vaults.create_secret(details)
    assert refused.value.status == 400
