"""``mdr controller``: the long-lived loop (``loop``) per stack, the fleet of them (``fleet``), leadership,
triggers, endpoints and their POST routes (``api``: webhooks, manual sync), logs and metrics."""

from reconciler.engine.controller.api import ApiSecrets
from reconciler.engine.controller.config import ControllerConfig, parse_duration, parse_listen
from reconciler.engine.controller.host import ControllerHost
from reconciler.engine.controller.logs import configure_logging
from reconciler.engine.controller.loop import Controller

__all__ = [
    "ApiSecrets",
    "Controller",
    "ControllerConfig",
    "ControllerHost",
    "configure_logging",
    "parse_duration",
    "parse_listen",
]
