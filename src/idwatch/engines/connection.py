"""The part of DuckDB's connection API that correlation uses, over any engine adapter.

Correlation (:mod:`idwatch.correlate`) is written against a DuckDB connection: ``execute`` a
statement (``CREATE TEMP TABLE .. AS``, ``INSERT INTO``, ``DELETE``, ``DROP``) or a query with
``?`` parameters and fetch its rows, ``register`` an Arrow table. :class:`EngineConnection`
offers the same calls over an :class:`~idwatch.engines.base.Engine`, so the very same SQL text
runs on Spark; parameters are bound as SQL literals (Spark SQL has no positional parameters
for lists), statements go to the engine's ``execute`` and queries to its ``query``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from idwatch.engines.base import Engine
from idwatch.store import Store


def _literal(value: Any) -> Any:
    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(repr(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        if not value:  # an empty list has no element type to infer: the lists bound here hold text
            return exp.cast(exp.Array(expressions=[]), exp.DataType.build("VARCHAR[]", dialect="duckdb"))
        return exp.Array(expressions=[_literal(v) for v in value])
    raise TypeError(f"cannot bind a {type(value).__name__} as a SQL literal")


def bind(sql: str, params: list[Any] | tuple[Any, ...]) -> str:
    """``sql`` (DuckDB dialect) with each ``?`` replaced, in order, by its parameter as a literal."""
    import sqlglot
    from sqlglot import exp

    values = iter(params)

    def fill(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.this is None:  # a bare ``?``
            return _literal(next(values))
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(fill).sql(dialect="duckdb")


class Result:
    """Rows of one query (or of none, for a statement), fetched as DuckDB's result offers them."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table if table is not None else pa.table({})

    def to_arrow_table(self) -> pa.Table:
        return self._table

    arrow = to_arrow_table

    def fetchall(self) -> list[tuple[Any, ...]]:
        cols = [c.to_pylist() for c in self._table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """Columns as numpy arrays; masked where a column has NULLs (as DuckDB's)."""
        out: dict[str, np.ndarray] = {}
        for name, col in zip(self._table.column_names, self._table.columns, strict=True):
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if col.null_count:
                filled = col.fill_null(pa.scalar(0 if pa.types.is_integer(col.type) else None, col.type))
                out[name] = np.ma.masked_array(
                    filled.to_numpy(zero_copy_only=False), mask=col.is_null().to_numpy(zero_copy_only=False)
                )
            else:
                out[name] = col.to_numpy(zero_copy_only=False)
        return out


_STATEMENTS = ("CREATE", "INSERT", "DELETE", "DROP")


class EngineConnection:
    """DuckDB-connection-like access to an engine (``execute``, ``sql``, ``register``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> Result:
        if params:
            sql = bind(sql, params)
        if sql.lstrip().split(None, 1)[0].upper() in _STATEMENTS:
            return Result(self.engine.execute(sql))
        return Result(self.engine.query(sql))

    def sql(self, sql: str) -> Result:
        return self.execute(sql)

    def register(self, name: str, table: pa.Table) -> None:
        self.engine.register_arrow(name, table)

    def unregister(self, name: str) -> None:
        self.engine.execute(f"DROP VIEW IF EXISTS {name}")

    def close(self) -> None:
        """The engine stays open: its owner closes it."""


def store_connection(store: Store, engine: Engine) -> EngineConnection:
    """An :class:`EngineConnection` seeing the store's views (``events``, ``directory``, ``alerts``,
    the state tables) as :meth:`Store.connect` does: the store's Parquet files read by the engine."""
    from idwatch.engines.staged import publish_staged

    con = store.connect()
    try:
        for name in publish_staged(con, engine, store):
            state_file = store.state_dir / f"{name}.parquet"
            if state_file.exists():  # read by the engine itself, not copied through this process
                engine.register_parquet(name, [str(state_file)])
    finally:
        con.close()
    return EngineConnection(engine)
