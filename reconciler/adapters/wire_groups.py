"""Canonical dicts -> SDK request models for MODEL_GROUP deployments (pure), and the dispatch between them
and SINGLE_MODEL ones (``reconciler.adapters.wire``).

A MODEL_GROUP deployment names its group in ``modelGroupConfigurationDetails`` and keeps its instances,
scaling and bandwidth in ``infrastructureConfigurationDetails`` (``INSTANCE_POOL``). An update says how the
service moves to a new group: ``LIVE`` (members swapped on the running instances) only when the update
changes nothing but the group and the manifest asks for it, ``ZDT`` (zero downtime, new instances) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oci.data_science import models as ds

from reconciler.adapters.wire import (
    SECTION_BANDWIDTH,
    SECTION_ENVIRONMENT,
    SECTION_INSTANCE,
    SECTION_MODEL,
    SECTION_SCALING,
    _check,
    create_deployment_details,
    environment,
    instance_configuration,
    scaling_policy,
    update_deployment_details,
)

_INFRASTRUCTURE = {SECTION_INSTANCE, SECTION_SCALING, SECTION_BANDWIDTH}


def is_group(canonical: Mapping[str, Any]) -> bool:
    return "groupId" in (canonical.get("model") or {})


def create_details(
    canonical: Mapping[str, Any], secret_values: Mapping[str, str], freeform_tags: Mapping[str, str]
) -> ds.CreateModelDeploymentDetails:
    """The create body of either deployment type."""
    details = create_deployment_details(
        {**canonical, "model": {"id": "-"}} if is_group(canonical) else canonical,
        secret_values,
        freeform_tags,
    )
    if not is_group(canonical):
        return details
    infra = canonical["infrastructure"]
    details.model_deployment_configuration_details = ds.ModelGroupDeploymentConfigurationDetails(
        model_group_configuration_details=ds.ModelGroupConfigurationDetails(
            model_group_id=_check(canonical["model"]["groupId"], "model.groupId")
        ),
        infrastructure_configuration_details=ds.InstancePoolInfrastructureConfigurationDetails(
            instance_configuration=instance_configuration(infra),
            scaling_policy=scaling_policy(infra),
            bandwidth_mbps=infra.get("bandwidthMbps"),
            maximum_bandwidth_mbps=infra.get("maximumBandwidthMbps"),
        ),
        environment_configuration_details=environment(canonical["runtime"], secret_values, update=False),
    )
    return details


def update_details(
    canonical: Mapping[str, Any],
    sections: set[str],
    live_model_id: str | None,
    secret_values: Mapping[str, str],
    freeform_tags: Mapping[str, str] | None,
    live_defined_tags: Mapping[str, Mapping[str, Any]] | None = None,
) -> ds.UpdateModelDeploymentDetails:
    """An update body of either deployment type, carrying only ``sections``."""
    if not is_group(canonical):
        return update_deployment_details(
            canonical, sections, live_model_id or "", secret_values, freeform_tags, live_defined_tags
        )
    rest = sections - {SECTION_MODEL, SECTION_ENVIRONMENT, *_INFRASTRUCTURE}
    details = update_deployment_details(
        {**canonical, "model": {"id": "-"}}, rest, "-", secret_values, freeform_tags, live_defined_tags
    )
    config_sections = sections & {SECTION_MODEL, SECTION_ENVIRONMENT, *_INFRASTRUCTURE}
    if not config_sections:
        return details
    live = sections & {SECTION_MODEL} == config_sections and canonical.get("groupUpdateType") == "LIVE"
    config = ds.UpdateModelGroupDeploymentConfigurationDetails(update_type="LIVE" if live else "ZDT")
    if SECTION_MODEL in sections:
        config.model_group_configuration_details = ds.UpdateModelGroupConfigurationDetails(
            model_group_id=_check(canonical["model"]["groupId"], "model.groupId")
        )
    if sections & _INFRASTRUCTURE:
        infra = canonical["infrastructure"]
        config.infrastructure_configuration_details = ds.UpdateInstancePoolInfrastructureConfigurationDetails(
            instance_configuration=instance_configuration(infra) if SECTION_INSTANCE in sections else None,
            scaling_policy=scaling_policy(infra) if SECTION_SCALING in sections else None,
            bandwidth_mbps=infra.get("bandwidthMbps") if SECTION_BANDWIDTH in sections else None,
            maximum_bandwidth_mbps=infra.get("maximumBandwidthMbps")
            if SECTION_BANDWIDTH in sections
            else None,
        )
    if SECTION_ENVIRONMENT in sections:
        config.environment_configuration_details = environment(
            canonical["runtime"], secret_values, update=True
        )
    details.model_deployment_configuration_details = config
    return details
