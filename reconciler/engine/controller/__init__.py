"""``mdr controller``: the long-lived loop (``loop``), its leadership, triggers, endpoints, logs and metrics."""

from reconciler.engine.controller.config import ControllerConfig, parse_duration, parse_listen
from reconciler.engine.controller.logs import configure_logging
from reconciler.engine.controller.loop import Controller

__all__ = ["Controller", "ControllerConfig", "configure_logging", "parse_duration", "parse_listen"]
