"""idwatch.share."""
