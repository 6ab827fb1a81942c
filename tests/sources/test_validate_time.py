"""validate.time_sql on text: RFC 3339 or epoch-millisecond digits, nothing else, in either order."""

from __future__ import annotations

import duckdb
import pytest

from idwatch.sources.validate import time_sql


@pytest.mark.parametrize(
    ("text", "epoch_ms"),
    [
        ("2024-03-01T10:00:00Z", 1709287200000),
        ("2024-03-01 10:00:00.5", 1709287200500),
        ("2024-03-01T13:30:00+03:30", 1709287200000),
        ("1709287200000", 1709287200000),
        ("-1000", -1000),
        ("2024-03-01", None),  # a date alone is no time
        ("1709287200000Z", None),
        ("17092872000001234", None),  # more than 15 digits
        ("2024-03-01T10:00:00 UTC", None),
        ("", None),
    ],
)
def test_text_times(text: str, epoch_ms: int | None) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.execute(f"SELECT epoch_ms({time_sql('t', 'VARCHAR')}) FROM (SELECT ?::VARCHAR AS t)", [text])
    assert got.fetchall()[0][0] == epoch_ms
