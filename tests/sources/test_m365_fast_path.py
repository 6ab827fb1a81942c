"""Microsoft 365's typed fast path stores exactly what the careful path stores, record for record.

Management Activity records and Sentinel OfficeActivity rows, with their keys spelled as the
API and Sentinel spell them, take the fast path; keys in another case, keys spelled with
escapes and broken lines go the careful way. Each fixture is ingested both ways: the stored
events, the kept skipped records, the quarantine and every count must be the same.
"""

from __future__ import annotations

import json
import re

import pytest

from idwatch.sources import m365

from .conftest import FIXTURES, load_fixture, load_helper

M365_FIXTURES = sorted(p.name for p in (FIXTURES / "m365").iterdir())
fp = load_helper("fast_paths")


def _lines(name: str) -> list[str]:
    return [json.dumps(r) for r in load_fixture("m365", name)]


def _hostile_lines() -> list[str]:
    """Records the fast path must hand to the careful path, or read exactly as it does."""
    records = load_fixture("m365", "management_activity.json")
    login = records[0]
    failed = next(r for r in records if r["Operation"] == "UserLoginFailed")
    rule = next(r for r in records if "Parameters" in r)
    return [
        json.dumps({k.lower(): v for k, v in login.items()} | {"id": "x-lower"}),  # keys lower-cased
        json.dumps(login).replace('"Operation"', '"\\u004fperation"', 1),  # a key spelled with escapes
        json.dumps({**login, "Id": "x-both", "operation": "UserLoginFailed"}),  # two spellings
        json.dumps({**failed, "Id": "x-num", "ErrorNumber": 50126}),  # a number where text is usual
        json.dumps({**rule, "Id": "x-params-text", "Parameters": json.dumps(rule["Parameters"])}),
        json.dumps({**rule, "Id": "x-params-odd", "Parameters": {"Name": "ForwardTo"}}),
        json.dumps({**rule, "Id": "x-rule-failed", "ResultStatus": "Failed"}),
        json.dumps({**login, "Id": "x-ip-port", "ClientIP": "[2001:db8::1]:443"}),
        json.dumps({**login, "Id": "x-empty", "Operation": ""}),
        json.dumps({k: v for k, v in login.items() if k != "Id"}),  # no id: hashed from the text
        json.dumps(login),  # a duplicate
        '{"Operation": "UserLoggedIn", "Id": "broken"',  # not JSON
        '"text"',  # not an object
    ]


@pytest.mark.parametrize("name", M365_FIXTURES)
def test_every_fixture_stores_the_same_rows_fast_and_careful(name, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(_lines(name)) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "m365", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert got[0].records > 0 and fast_rows > 0


def test_mixed_shapes_and_hostile_lines_store_the_same_rows(tmp_path, monkeypatch):
    """All fixtures interleaved with look-alikes and broken lines, replicated with fresh ids so
    that whole blocks parse and the boundaries between the paths move."""
    records = [r for name in M365_FIXTURES for r in load_fixture("m365", name)]
    lines = [json.dumps(r) for r in records] + _hostile_lines()
    for i in range(6):
        for r in records:
            key = "OfficeId" if "OfficeId" in r else "Id"
            lines.append(json.dumps({**r, key: f"{r.get(key, 'none')}-{i}"}))
        lines += _hostile_lines()[i::6]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "m365", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert fast_rows >= 6 * len(records)
    assert got[0].quarantined >= 2  # broken, not an object


def test_careful_lines_pattern_names_other_spellings_only():
    pattern = re.compile(m365.CAREFUL_LINES)
    for key in ("operation", "id", "clientip", "creationtime", "officeworkload"):
        assert pattern.search(f'{{"{key}": 1}}'), key
    for key in ("Operation", "Id", "ClientIP", "OfficeWorkload", "Name", "Value", "Actor"):
        assert not pattern.search(f'{{"{key}": 1}}'), key
    assert pattern.search('{"\\u004fperation": 1}')
