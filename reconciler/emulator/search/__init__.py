"""Resource Search (/20180409): structured queries over the resources of the other services."""
