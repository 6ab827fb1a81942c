"""idwatch.sources."""
