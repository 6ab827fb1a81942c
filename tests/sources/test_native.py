"""The native format's SQL: strict types, one parse, and the sniffer."""

from __future__ import annotations

import json

import duckdb

from idwatch.sources import FORMAT_NAMES, available_formats, load_format, native, sniff_format


def _map(records: list[object]) -> list[dict]:
    con = duckdb.connect()
    rows = [(i + 1, json.dumps(r)) for i, r in enumerate(records)]
    con.execute("CREATE TABLE v0 (_line BIGINT, txt VARCHAR)")
    con.executemany("INSERT INTO v0 VALUES (?, ?)", rows)
    con.execute("CREATE VIEW v AS SELECT 'f' AS _file, _line, txt AS _raw, txt AS rec FROM v0")
    cur = con.execute(native.select_sql("v") + " ORDER BY _line")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_values_are_taken_as_typed():
    (row,) = _map(
        [{"time": 1709287200000, "account": "a", "asn": 7, "account_exists": False, "src_ip": "1.1.1.1"}]
    )
    assert row["time"] == "1709287200000"
    assert row["asn"] == 7 and row["account_exists"] is False
    assert row["_error"] is None and row["_skip"] is None


def test_no_silent_coercion():
    rows = _map(
        [
            {"asn": "AS-x"},
            {"asn": "13335"},  # a number in a string is still a string
            {"account": 5},
            {"account_exists": "true"},
            {"asn": 1.5},
            {"asn": 2**70},
            {"detail": {"nested": True}},
        ]
    )
    errors = [r["_error"] for r in rows]
    assert errors[0] == "wrong type: asn must be an integer, got varchar"
    assert errors[1] == "wrong type: asn must be an integer, got varchar"
    assert errors[2] == "wrong type: account must be a string, got ubigint"
    assert errors[3] == "wrong type: account_exists must be a boolean, got varchar"
    assert errors[4] == "wrong type: asn must be an integer, got double"
    assert errors[5].startswith("wrong type: asn")
    assert errors[6] == "wrong type: detail must be a string, got object"


def test_json_null_is_absent():
    (row,) = _map([{"asn": None, "reason": None}])
    assert row["asn"] is None and row["reason"] is None and row["_error"] is None


def test_registry_tolerates_missing_vendor_modules():
    assert load_format("no_such_vendor") is None
    assert "native" in available_formats() and "ocsf" in available_formats()
    assert FORMAT_NAMES[-1] == "native"
    assert sniff_format([{"account": "a", "activity": "sign_in"}]).NAME == "native"
    assert sniff_format([{"hello": 1}]) is None
