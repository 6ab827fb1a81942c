"""Engine adapters: run idwatch's engine-neutral SQL on DuckDB (default) or Apache Spark."""

from idwatch.engines.base import ENGINES, Engine, EngineUnavailable, open_engine

__all__ = ["ENGINES", "Engine", "EngineUnavailable", "open_engine"]
