"""Run a vendor format's SQL over in-memory records, the way the ingest driver exposes them.

Used by the connector tests to check mappings record by record (the driver's validation,
dedupe and storage are tested by the foundation's own tests).
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa


def run_format(module: ModuleType, records: list[dict[str, Any]] | list[str]) -> list[dict[str, Any]]:
    """Rows of ``module.select_sql`` over ``records`` (dicts or raw JSON texts), in input order."""
    texts = [r if isinstance(r, str) else json.dumps(r) for r in records]
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    table = pa.table(
        {
            "_file": pa.array(["mem"] * len(texts), pa.string()),
            "_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "_raw": pa.array(texts, pa.string()),
        }
    )
    con.register("raw_in", table)
    con.execute("CREATE TEMP VIEW records AS SELECT _file, _line, _raw, _raw::JSON AS rec FROM raw_in")
    cur = con.execute(f"SELECT * FROM ({module.select_sql('records')}) ORDER BY _line")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def run_one(module: ModuleType, record: dict[str, Any]) -> dict[str, Any]:
    (row,) = run_format(module, [record])
    return row
