"""Command-line face of idwatch (``idwatch ...``)."""
