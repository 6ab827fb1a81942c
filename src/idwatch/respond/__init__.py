"""idwatch.respond."""
