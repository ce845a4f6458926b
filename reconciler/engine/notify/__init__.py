"""Notifications from the controller: events to webhook, Slack and OCI Notifications sinks (docs/controller.md)."""
