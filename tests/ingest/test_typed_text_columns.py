"""The fast path reads text columns as VARCHAR: a value DuckDB turned into text is never stored.

DuckDB makes ``'5'`` of ``"account": 5`` when the column is read as VARCHAR. Every row where
that may have happened must take the careful path, so the fast and careful paths store and
quarantine exactly the same rows, with the same reasons, whatever the JSON type of each value.
"""

from __future__ import annotations

import json

import pytest

import idwatch.sources.typed_json as typed_json
from idwatch.ingest import ingest_paths
from idwatch.sources.base import Reader
from idwatch.store import Store

#: (column, raw JSON value text) that must be refused as "wrong type" (never coerced to text).
NOT_TEXT = [
    ("account", "5"),
    ("account", "-1.5e3"),
    ("account", "true"),
    ("tenant", "false"),
    ("event_id", '{"k": 1}'),
    ("device_id", "[1, 2]"),
    ("user_agent", "NaN"),
    ("session_id", "-Infinity"),
    ("detail", "1E+400"),
    ("country", "0"),
    ("asn_org", "12345678901234567890123"),
    ("src_ip", "1.5"),
    ("src_ip", "16909060"),
    ("src_ip", '{"v4": "1.2.3.4"}'),
    ("activity", "7"),
    ("outcome", "true"),
    ("time", "true"),
    ("time", "1.7e12"),
    ("time", '["2024-03-01T10:00:00Z"]'),
    ("asn", '"123"'),
    ("asn", "1.0"),
    ("asn", "1e3"),
    ("asn", "18446744073709551615"),
    ("account_exists", '"true"'),
    ("account_exists", "1"),
]

#: Strings that look like what DuckDB makes of other types: valid, stored as the strings they are.
TEXT_LOOKALIKES = [
    ("account", '"12"'),
    ("tenant", '"true"'),
    ("device_id", '"-1.5e3"'),
    ("session_id", '"NaN"'),
    ("detail", '"{\\"k\\": 1}"'),
    ("user_agent", '"[bot]"'),
    ("asn_org", '"inf"'),
    ("event_id", '""'),
    ("source", '"native"'),
    ("country", '" de "'),
]


def _line(event, i: int, column: str, value_json: str) -> str:  # noqa: ANN001 - fixture function
    """A native record as text with ``column`` set to the raw JSON ``value_json``."""
    rec = event(i)
    rec[column] = "__VALUE__"
    return json.dumps(rec).replace('"__VALUE__"', value_json)


@pytest.fixture
def careful_lines(monkeypatch):  # noqa: ANN201 - fixture
    """The line numbers the fast path handed to the careful path (``Reader.settle``)."""
    seen: list[int] = []
    settle = Reader.settle

    def spy(self, chunk, lines=None):  # noqa: ANN001, ANN202 - wraps Reader.settle
        if lines is not None:
            seen.extend(lines.column("_line").to_pylist())
        return settle(self, chunk, lines)

    monkeypatch.setattr(Reader, "settle", spy)
    return seen


def _ingest_both(tmp_path, monkeypatch, lines: list[str], seen: list[int] | None = None):  # noqa: ANN001, ANN202
    """(fast summary, fast store, careful summary, careful store) of the same file.

    ``seen`` (the ``careful_lines`` fixture) is left holding the lines the fast run sent careful.
    """
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = Store(tmp_path / "fast")
    fast_summary = ingest_paths(fast, [str(path)])
    fast_careful = list(seen) if seen is not None else []
    with monkeypatch.context() as patch:
        patch.setattr(typed_json.TypedLines, "_statement", lambda self, paths: (None, None))
        careful = Store(tmp_path / "careful")
        careful_summary = ingest_paths(careful, [str(path)])
    if seen is not None:
        seen[:] = fast_careful
    return fast_summary, fast, careful_summary, careful


def _quarantine(store: Store) -> list[tuple[int, str]]:
    rows = []
    for path in store.quarantine_dir.glob("*.jsonl"):
        rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    return sorted((r["line"], r["reason"]) for r in rows)


def _events(store: Store) -> list[tuple]:
    return store.connect().execute("SELECT * EXCLUDE (ingested_at) FROM events ORDER BY raw").fetchall()


@pytest.mark.parametrize(("column", "value"), NOT_TEXT)
def test_a_value_of_another_json_type_is_quarantined_as_the_careful_path_says(
    tmp_path, monkeypatch, event, careful_lines, column, value
):
    lines = [json.dumps(event(i)) for i in range(50)]
    lines[20] = _line(event, 20, column, value)

    fast, fast_store, careful, careful_store = _ingest_both(tmp_path, monkeypatch, lines, careful_lines)

    assert careful_lines == [21]  # only the doubtful line was re-read

    assert (fast.records, fast.stored, fast.quarantined) == (50, 49, 1)
    assert _quarantine(fast_store) == _quarantine(careful_store)
    line, reason = _quarantine(fast_store)[0]
    assert line == 21
    assert reason.startswith(("wrong type", "unparseable time"))
    assert fast.quarantined_by_reason == careful.quarantined_by_reason
    assert _events(fast_store) == _events(careful_store)


def test_strings_that_look_like_other_types_are_stored_as_strings(
    tmp_path, monkeypatch, event, careful_lines
):
    lines = [json.dumps(event(i)) for i in range(40)]
    for k, (column, value) in enumerate(TEXT_LOOKALIKES):
        lines[k * 3] = _line(event, k * 3, column, value)

    fast, fast_store, careful, careful_store = _ingest_both(tmp_path, monkeypatch, lines, careful_lines)

    # the lookalikes of numbers, booleans, objects and arrays were re-read; "native" and " de " were not
    assert careful_lines == [k * 3 + 1 for k in range(8)]

    assert (fast.records, fast.stored, fast.quarantined) == (40, 40, 0)
    assert _events(fast_store) == _events(careful_store)
    stored = dict(fast_store.connect().execute("SELECT raw, account FROM events").fetchall())
    assert "12" in stored.values()  # a string of digits stays a string


def test_a_bad_value_in_a_checked_column_gets_the_careful_reason(tmp_path, monkeypatch, event):
    """Unknown enum, missing field, bad time or address: same counts and reasons on both paths."""
    lines = [json.dumps(event(i)) for i in range(30)]
    lines[3] = json.dumps(event(3, activity="teleport"))
    lines[4] = json.dumps(event(4, account=" "))
    lines[5] = json.dumps(event(5, time="2024-03-01 10:00"))
    lines[6] = json.dumps(event(6, src_ip="999.1.1.1"))
    lines[7] = json.dumps(event(7, src_ip="::ffff:1.2.3.4"))  # valid: stored normalized

    fast, fast_store, _, careful_store = _ingest_both(tmp_path, monkeypatch, lines)

    assert (fast.stored, fast.quarantined) == (26, 4)
    assert _quarantine(fast_store) == _quarantine(careful_store)
    assert _events(fast_store) == _events(careful_store)


def test_ordinary_records_never_take_the_careful_path(store, tmp_path, event, careful_lines):
    records = [
        event(i, account_exists=i % 2 == 0, asn=64_500 + i, device_id=f"d{i}", src_ip=f"2001:db8::{i:x}")
        for i in range(200)
    ]
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")

    summary = ingest_paths(store, [str(path)])

    assert (summary.stored, careful_lines) == (200, [])


@pytest.mark.parametrize("blank", ["", " ", "\u00a0", " \u3000 "])
def test_a_blank_required_value_is_missing_whatever_the_spaces(tmp_path, monkeypatch, event, blank):
    lines = [json.dumps(event(i)) for i in range(10)]
    lines[2] = json.dumps(event(2, account=blank))
    lines[3] = json.dumps(event(3, tenant=blank))  # not required: stored
    lines[4] = json.dumps(event(4, account="\tx"))  # not blank

    fast, fast_store, _, careful_store = _ingest_both(tmp_path, monkeypatch, lines)

    assert _quarantine(fast_store) == [(3, "missing required field: account")]
    assert _quarantine(careful_store) == _quarantine(fast_store)
    assert _events(fast_store) == _events(careful_store)
