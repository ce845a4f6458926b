"""Logging management (/20200531): log groups and logs, created and deleted through work requests."""
