"""OCI Notifications (/20181201): topics (CreateTopic, GetTopic) and PublishMessage, read back by tests."""
