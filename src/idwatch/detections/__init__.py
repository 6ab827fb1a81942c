"""idwatch.detections."""
