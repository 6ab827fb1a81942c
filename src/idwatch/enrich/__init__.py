"""idwatch.enrich."""
