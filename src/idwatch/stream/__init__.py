"""Streaming: micro-batches from HTTP or Kafka into the store, incremental detections, alerts out."""
