"""Login decisions in milliseconds: in-memory per-account risk state and the policy over it."""
