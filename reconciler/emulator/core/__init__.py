"""What every emulated service shares: errors, HTTP plumbing, signatures, the store, work requests, faults."""
