"""mdr: a declarative GitOps reconciler for OCI Data Science model deployments."""

__version__ = "0.1.0"
