"""Shapes the service offers, checked against the manifests before any write (pure).

``ListModelDeploymentShapes`` names what a compartment may deploy on; a shape outside that list would be
refused by CreateModelDeployment after the model was already created and uploaded. Checking at plan time
turns it into an error at the manifest's line instead.
"""

from __future__ import annotations

from reconciler.core.errors import Issue
from reconciler.core.stack import LoadedDeployment, Stack


def unknown_shapes(stack: Stack, offered: set[str]) -> list[tuple[LoadedDeployment, Issue]]:
    """Each deployment whose shape is not offered, with its issue at ``spec.infrastructure.shape``."""
    if not offered:
        return []  # nothing listed (no permission to list, or a service without the API): not a verdict
    issues = []
    for deployment in stack.deployments:
        shape = deployment.manifest.spec.infrastructure.shape
        if shape is not None and shape not in offered:  # None: on a compute target, whose cluster has one
            close = sorted(s for s in offered if s.split(".")[:2] == shape.split(".")[:2])[:5]
            hint = f"; offered here: {', '.join(close)}" if close else ""
            message = f"shape {shape!r} is not offered for model deployments in this region{hint}"
            issues.append(
                (deployment, deployment.document.issue(("spec", "infrastructure", "shape"), message))
            )
    return issues
