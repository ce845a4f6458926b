"""Manifest models, the position-keeping YAML loader and stack (tree) loading."""
