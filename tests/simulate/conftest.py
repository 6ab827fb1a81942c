"""Fixtures: one run of the tiny scenario, shared by the simulator tests (generating is the slow part)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from idwatch.simulate import simulate

TINY = Path(__file__).with_name("tiny.toml")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tiny")
    truth = simulate("tiny", seed=7, out=out, config=TINY)
    return out, truth


@pytest.fixture(scope="session")
def tiny_db(tiny_run: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    """DuckDB with ``events`` (read back from the JSONL as written), ``labels`` and ``directory``."""
    out, _ = tiny_run
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_json_auto('{out / 'events.jsonl'}')")
    con.execute(f"CREATE TABLE labels AS SELECT * FROM read_parquet('{out / 'labels.parquet'}')")
    con.execute(f"CREATE TABLE directory AS SELECT * FROM read_csv_auto('{out / 'directory.csv'}')")
    con.execute("CREATE VIEW ev AS SELECT * FROM events JOIN labels USING (event_id)")
    return con
