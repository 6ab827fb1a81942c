"""One small interface for every engine: register a table, run a query, read the result as Arrow.

Detection and correlation SQL is written once, in DuckDB's dialect; an adapter turns it into
its engine's dialect (:mod:`idwatch.engines.spark` with sqlglot) and hands back Arrow tables,
so the rest of idwatch never knows which engine ran a query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa

ENGINES = ("duckdb", "spark")


class EngineUnavailable(RuntimeError):
    """The asked-for engine cannot start here (a missing extra or Java); the text says what to install."""


class Engine(Protocol):
    """What idwatch needs of a SQL engine."""

    name: str

    def register_parquet(self, name: str, paths: list[str]) -> None:
        """Make ``name`` a view over Parquet files (local paths or Hadoop-compatible URIs)."""

    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make ``name`` a table holding ``table``'s rows."""

    def query(self, sql: str) -> pa.Table:
        """Run one DuckDB-dialect query and return its rows."""

    def execute(self, sql: str) -> pa.Table | None:
        """Run one DuckDB-dialect statement: ``CREATE [OR REPLACE] TEMP TABLE .. AS``, ``INSERT
        INTO [BY NAME]``, ``DELETE`` (returns the count deleted) or ``DROP TABLE|VIEW``."""

    def close(self) -> None:
        """Release the engine's resources."""


def open_engine(name: str, *, master: str | None = None, scratch: Path | None = None) -> Engine:
    """The adapter called ``name`` (``duckdb`` or ``spark``); ``master`` only for Spark."""
    if name == "duckdb":
        from idwatch.engines.duckdb_engine import DuckDBEngine

        return DuckDBEngine()
    if name == "spark":
        from idwatch.engines.spark import SparkEngine

        return SparkEngine(master=master or "local[2]", scratch=scratch)
    raise ValueError(f"unknown engine {name!r}; one of: {', '.join(ENGINES)}")
