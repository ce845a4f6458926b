"""OCI Vault secrets: the management API (/20180608 secrets) and the retrieval API (/20190301 bundles)."""
