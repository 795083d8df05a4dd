"""Drug screens (UDS) and their per-substance results."""
