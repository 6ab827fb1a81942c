"""idwatch.report."""
