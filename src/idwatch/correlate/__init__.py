"""idwatch.correlate."""
