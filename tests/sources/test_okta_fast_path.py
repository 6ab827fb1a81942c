"""Okta's typed fast path stores exactly what the careful path stores, record for record.

Bare System Log LogEvents take the fast path; envelopes (event hooks, EventBridge, forwarders),
lower-cased keys, keys spelled with escapes, values of an unexpected type and broken lines go
the careful way. Each fixture is ingested both ways: the stored events, the kept skipped
records, the quarantine and every count must be the same.
"""

from __future__ import annotations

import json
import re

import pytest

from idwatch.sources import okta

from .conftest import FIXTURES, load_fixture, load_helper

OKTA_FIXTURES = sorted(p.name for p in (FIXTURES / "okta").iterdir())
fp = load_helper("fast_paths")


def _lines(name: str) -> list[str]:
    return [json.dumps(r) for r in load_fixture("okta", name)]


def _hostile_lines() -> list[str]:
    """LogEvent look-alikes the fast path must hand to the careful path, or read as it does."""
    page = load_fixture("okta", "system_log_page.json")
    ok = page[0]
    mfa = next(r for r in page if r.get("target"))

    def odd(uuid: str, **changes: object) -> str:
        return json.dumps({**ok, "uuid": uuid, **changes})

    return [
        json.dumps(ok).replace('"eventType"', '"\\u0065ventType"', 1),  # a key spelled with escapes
        odd("x-lower-extra", displaymessage="another message"),  # a folded spelling as well
        json.dumps(  # a folded spelling only: DuckDB matches keys by case, the careful path folds
            {**{k: v for k, v in ok.items() if k != "displayMessage"}, "uuid": "x-lower-only"}
            | {"displaymessage": "User login to Okta (folded)"}
        ),
        odd("x-client-text", client="198.51.100.9"),  # a string where Okta has an object
        odd("x-target-object", target={"id": "00u1", "type": "User", "alternateId": "t@example.org"}),
        odd("x-asn-float", securityContext={**ok["securityContext"], "asNumber": 6.4496e4}),
        odd("x-asn-text", securityContext={**ok["securityContext"], "asNumber": "64496"}),
        odd("x-proxy-text", securityContext={**ok["securityContext"], "isProxy": "true"}),
        odd("x-reason-number", outcome={"result": "FAILURE", "reason": 42}),
        odd("x-empty-type", eventType=""),
        odd("x-hook-type", eventType="com.okta.event_hook"),
        odd("x-null-ip", client={**ok["client"], "ipAddress": "null"}),
        odd("x-no-chain", client={**ok["client"], "ipAddress": None}, request={"ipChain": []}),
        odd("x-nanos", published="2024-04-02T19:01:37.621123456Z"),
        odd("x-with-detail", detail={"eventType": "user.account.lock"}),
        odd("x-escaped-value", displayMessage="User login \\u003d Okta"),
        json.dumps({**mfa, "uuid": "x-target-no-type", "target": [{"id": "00u9", "alternateId": "n@x.org"}]}),
        json.dumps({k: v for k, v in ok.items() if k != "uuid"}),  # no uuid
        json.dumps(ok),  # a duplicate
        json.dumps({"foo": 1}),  # not Okta
        '{"eventType": "user.session.start", "uuid": "broken"',  # not JSON
        "[1, 2]",  # not an object
    ]


@pytest.mark.parametrize("name", OKTA_FIXTURES)
def test_every_fixture_stores_the_same_rows_fast_and_careful(name, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(_lines(name)) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "okta", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert got[0].records > 0
    if name in ("system_log_page.json", "edge_cases.jsonl"):  # bare LogEvents: the fast way
        assert fast_rows > 0


def _mixed_lines() -> tuple[list[str], int]:
    """All fixtures and the look-alikes, the page replicated with fresh uuids so that whole
    blocks parse and the boundaries between the paths move; and how many page copies."""
    page = load_fixture("okta", "system_log_page.json")
    lines: list[str] = []
    for name in OKTA_FIXTURES:
        lines += _lines(name)
    lines += _hostile_lines()
    for i in range(6):
        lines += [json.dumps({**r, "uuid": f"{r['uuid']}-{i}"}) for r in page]
        lines += _hostile_lines()[i::6]
    return lines, 6 * len(page)


def test_mixed_shapes_and_hostile_lines_store_the_same_rows(tmp_path, monkeypatch):
    lines, copies = _mixed_lines()
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "okta", tmp_path, monkeypatch)
    fp.assert_same(got, want)
    assert fast_rows >= copies
    assert got[0].quarantined >= 3  # broken, not an object, not Okta


def test_the_comparison_catches_a_fast_mapping_that_differs(tmp_path, monkeypatch):
    """A mutation check of the two tests above: a fast path that loses one field is noticed."""
    real = okta._fast_front

    def broken(src: str) -> str:
        return real(src).replace("nullif(r.outcome.reason, '')", "NULL::VARCHAR", 1)

    monkeypatch.setattr(okta, "_fast_front", broken)
    lines, _ = _mixed_lines()
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    got, want, fast_rows = fp.ingest_both(path, "okta", tmp_path, monkeypatch)
    assert fast_rows > 0
    with pytest.raises(AssertionError):
        fp.assert_same(got, want)


def test_careful_lines_pattern_names_other_spellings_only():
    """The LogEvent's own keys (and nested envelope-like names) stay fast; folded spellings
    and escaped letters do not."""
    pattern = re.compile(okta.CAREFUL_LINES)
    for key in ("eventtype", "displaymessage", "securitycontext", "debugcontext"):
        assert pattern.search(f'{{"{key}": 1}}'), key
    for key in ("eventType", "displayMessage", "target", "source", "detail", "data", "uuid"):
        assert not pattern.search(f'{{"{key}": 1}}'), key
    assert pattern.search('{"\\u0065ventType": 1}')
    assert not pattern.search('{"behaviors": "{New Device\\u003dNEGATIVE}"}')
