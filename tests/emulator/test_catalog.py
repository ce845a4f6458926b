"""The model catalog's own resources through the SDK: provenance (one per model) and model version sets."""

from __future__ import annotations

from typing import Any

from conftest import COMPARTMENT
from oci.data_science import models as dm
from test_emulator_sdk import project, service_error


def _model(ds: Any, project_id: str, **extra: Any) -> str:
    details = dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id, **extra)
    return str(ds.create_model(details).data.id)


def test_a_model_has_one_provenance_read_back_and_updated(ds: Any) -> None:
    model_id = _model(ds, project(ds))
    assert service_error(lambda: ds.get_model_provenance(model_id)).status == 404
    created = dm.CreateModelProvenanceDetails(
        repository_url="https://git.example.com/risk/models.git",
        git_branch="main",
        git_commit="9f3a77d1c0ffee",
        script_dir="manifests/fraud-scorer.yaml",
    )
    ds.create_model_provenance(model_id, created)
    read = ds.get_model_provenance(model_id).data
    assert (read.git_branch, read.git_commit, read.script_dir) == (
        "main",
        "9f3a77d1c0ffee",
        created.script_dir,
    )
    assert service_error(lambda: ds.create_model_provenance(model_id, created)).status == 409
    ds.update_model_provenance(model_id, dm.UpdateModelProvenanceDetails(git_commit="abc123"))
    assert ds.get_model_provenance(model_id).data.git_commit == "abc123"
    assert ds.get_model_provenance(model_id).data.git_branch == "main"


def test_models_join_a_version_set_with_increasing_versions(ds: Any) -> None:
    project_id = project(ds)
    created = ds.create_model_version_set(
        dm.CreateModelVersionSetDetails(compartment_id=COMPARTMENT, project_id=project_id, name="fraud")
    ).data
    assert created.lifecycle_state == "ACTIVE"
    duplicate = dm.CreateModelVersionSetDetails(
        compartment_id=COMPARTMENT, project_id=project_id, name="fraud"
    )
    assert service_error(lambda: ds.create_model_version_set(duplicate)).status == 409
    first = _model(ds, project_id, model_version_set_id=created.id, version_label="v1")
    second = _model(ds, project_id, model_version_set_id=created.id, version_label="v2")
    summaries = {m.id: m for m in ds.list_models(COMPARTMENT).data}
    assert (summaries[first].version_id, summaries[second].version_id) == (1, 2)
    assert summaries[second].model_version_set_name == "fraud" and summaries[second].version_label == "v2"
    [listed] = ds.list_model_version_sets(COMPARTMENT, name="fraud").data
    assert listed.id == created.id
    assert service_error(lambda: ds.delete_model_version_set(created.id)).status == 409  # it holds models
    ds.delete_model_version_set(created.id, is_delete_related_models=True)
    assert ds.get_model(first).data.lifecycle_state == "DELETED"


def test_an_unknown_version_set_is_refused(ds: Any) -> None:
    project_id = project(ds)
    missing = "ocid1.datasciencemodelversionset.oc1.iad.amaaaaaanothere"
    details = dm.CreateModelDetails(
        compartment_id=COMPARTMENT, project_id=project_id, model_version_set_id=missing
    )
    assert service_error(lambda: ds.create_model(details)).status == 404
