"""The OCI provider: SDK clients for the three targets, auth, retries, call counting and waits."""
