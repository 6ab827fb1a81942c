"""The DuckDB adapter: an in-process connection, the reference every other engine must equal."""

from __future__ import annotations

import duckdb
import pyarrow as pa


class DuckDBEngine:
    """DuckDB in memory, session time zone UTC (as the store's own connections)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.con = con or duckdb.connect(":memory:")
        self.con.execute("SET TimeZone = 'UTC'")

    def register_parquet(self, name: str, paths: list[str]) -> None:
        files = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        self.con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet([{files}])")

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self.con.register(f"__{name}", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM __{name}")
        self.con.unregister(f"__{name}")

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def execute(self, sql: str) -> pa.Table | None:
        result = self.con.execute(sql)
        return result.to_arrow_table() if result.description else None

    def close(self) -> None:
        self.con.close()
