"""Object Storage (/n): one namespace, objects with conditional writes, multipart uploads."""
