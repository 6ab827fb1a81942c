"""Read-only SQL over the store (``idwatch query``) and the summary numbers of ``idwatch stats``.

A hunting query must never change anything: it is accepted only when DuckDB parses it as one
SELECT statement (``WITH ... SELECT``, ``FROM x``, ``DESCRIBE`` and ``SHOW`` are SELECTs too),
and it then runs on a connection whose file access is limited to the store directory and
whose configuration is locked, so ``COPY``, ``ATTACH``, ``INSTALL``, ``SET`` and ``PRAGMA``
are refused twice over.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from idwatch.store import Store


class QueryRefused(ValueError):
    """The SQL is not a single read-only SELECT."""


def check_read_only(sql: str) -> None:
    """Raise :class:`QueryRefused` unless ``sql`` is exactly one SELECT statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"cannot parse the query: {exc}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"expected exactly one statement, got {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRefused(f"only SELECT queries are allowed (this is {kind.name})")


def read_only_connection(store: Store) -> duckdb.DuckDBPyConnection:
    """The store's views on a connection that can read the store and nothing else."""
    con = store.connect()
    con.execute("SET allowed_directories = ?", [[str(store.root.resolve()) + "/"]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(store: Store, sql: str) -> pa.Table:
    """Result of a read-only query as an Arrow table (raises QueryRefused / duckdb.Error)."""
    check_read_only(sql)
    con = read_only_connection(store)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def store_stats(store: Store) -> dict[str, Any]:
    """Counts per day, activity, outcome and source, plus totals (for ``idwatch stats``)."""
    con = store.connect()
    try:
        total, first, last, accounts = con.execute(
            "SELECT count(*), min(time), max(time), count(DISTINCT account) FROM events"
        ).fetchall()[0]

        def by(expr: str) -> list[tuple[Any, int]]:
            return con.execute(
                f"SELECT {expr} AS k, count(*) AS n FROM events GROUP BY k ORDER BY k"
            ).fetchall()

        quarantined = sum(
            sum(1 for line in p.read_bytes().splitlines() if line.strip())
            for p in store.quarantine_dir.glob("*.jsonl")
        )
        return {
            "events": int(total),
            "accounts": int(accounts),
            "first": first,  # datetimes: the command writes them as RFC 3339 UTC with Z
            "last": last,
            "quarantined": quarantined,
            "by_day": [(str(k), n) for k, n in by("strftime(time, '%Y-%m-%d')")],
            "by_activity": by("activity"),
            "by_outcome": by("outcome"),
            "by_source": by("source"),
        }
    finally:
        con.close()
