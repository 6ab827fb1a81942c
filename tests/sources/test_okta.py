"""Okta System Log connector: Panther's real-shaped records and documented event types."""

from __future__ import annotations

import json

from idwatch.ingest import ingest_paths
from idwatch.sources import okta
from idwatch.store import Store

# eventType -> activity expected for the event types occurring in the Panther samples.
PANTHER_TYPES = {
    "user.session.start": "sign_in",
    "user.authentication.auth_via_mfa": "mfa_challenge",
    "user.authentication.auth_via_IDP": "sign_in",
    "user.account.reset_password": "password_reset",
    "user.account.lock": "account_lock",
    "user.mfa.factor.deactivate": "mfa_method_change",
    "system.mfa.factor.deactivate": "mfa_method_change",
    "user.mfa.factor.reset_all": "mfa_method_change",
    "user.mfa.factor.update": "mfa_method_change",
    "user.mfa.factor.suspend": "mfa_method_change",
}
RESULTS = {
    "SUCCESS": "success",
    "ALLOW": "success",
    "FAILURE": "failure",
    "DENY": "failure",
    "CHALLENGE": "pending",
}


def _get(record: dict, key: str):
    """Top-level value, whatever the key's case (some exports lower-case top-level keys)."""
    for k, v in record.items():
        if k.lower() == key.lower():
            return v
    return None


def test_panther_okta_records_map_per_event_type(vx):
    records = [e for e in vx.panther("Okta.SystemLog") if okta.sniff(e)]
    assert len(records) >= 70
    rows = vx.run(okta, records)
    seen = set()
    for record, row in zip(records, rows, strict=True):
        event_type = _get(record, "eventType")
        outcome = _get(record, "outcome") or {}
        seen.add(event_type)
        if event_type not in PANTHER_TYPES:
            assert row["_skip"] == f"okta:{event_type}" and row["_error"] is None
            continue
        assert row["activity"] == PANTHER_TYPES[event_type], event_type
        if not outcome.get("result"):
            assert row["_error"] == "Okta event without a known outcome.result"
            continue
        if event_type in ("user.account.lock",):
            assert row["outcome"] == "success"
        else:
            assert row["outcome"] == RESULTS[outcome["result"]], event_type
        actor = _get(record, "actor") or {}
        if actor.get("id") == "unknown" and row["outcome"] == "failure":
            assert (row["reason"], row["account_exists"]) == ("unknown_account", False)
        if outcome.get("reason") == "INVALID_CREDENTIALS":
            assert row["reason"] == (
                "bad_password" if row["activity"] == "sign_in" else "verification_failed"
            )
        client = _get(record, "client") or {}
        assert row["src_ip"] == client.get("ipAddress")
    assert set(PANTHER_TYPES) <= seen


def test_lower_cased_top_level_keys_read_like_camel_case(vx):
    camel = vx.fixture("okta", "system_log_page.json")[0]
    lowered = {k.lower(): v for k, v in camel.items()}
    a, b = vx.run(okta, [camel, lowered])
    assert {k: v for k, v in a.items() if k not in ("_raw", "_line")} == {
        k: v for k, v in b.items() if k not in ("_raw", "_line")
    }


def test_documented_event_types(vx):
    rows = vx.run(okta, vx.fixture("okta", "system_log_page.json"))
    got = [vx.canon(r) for r in rows]

    def c(activity, step=None, method=None, outcome=None, reason=None):
        return {"activity": activity, "step": step, "method": method, "outcome": outcome, "reason": reason}

    assert got == [
        c("sign_in", None, "password", "failure", "bad_password"),
        c("sign_in", None, "password", "failure", "unknown_account"),
        c("sign_in", None, "password", "failure", "locked"),
        c("account_lock", None, None, "success"),
        c("mfa_challenge", "start", "push", "pending"),
        c("mfa_challenge", "verify", "push", "failure", "mfa_denied"),  # Classic deny_push
        c("mfa_challenge", "verify", "push", "failure", "mfa_denied"),  # Identity Engine rejection
        c("mfa_challenge", "verify", "sms", "success"),
        c("sign_in", None, "password", "success"),  # OIE verify of the password authenticator
        c("password_reset", "start", "sms", "pending"),
        c("password_reset", "complete", None, "success"),
        c("mfa_method_change", None, "sms", "success"),
        c(None, None, None, "success"),
    ]
    assert rows[1]["account"] == "nobody@example.org" and rows[1]["account_exists"] is False
    assert rows[10]["account"] == "alice@example.org"  # the target user, not the admin
    assert rows[10]["account_exists"] is True  # target user id 00u...
    assert rows[12]["_skip"] == "okta:group.user_membership.add"
    first = rows[0]
    assert (first["asn"], first["asn_org"], first["session_id"]) == (
        64496,
        "example transit",
        "102abcSessXyz",
    )
    assert first["time"] == "2024-04-02T19:01:37.621000Z"
    assert first["event_id"].startswith("5b8e2f1c-0000-11ef-8000-000000000001#")  # uuid + body digest


def test_push_bombing_is_visible_in_both_okta_generations(vx):
    """MFA fatigue rules must see Classic and Identity Engine denials as the same canonical event."""
    rows = vx.run(okta, vx.fixture("okta", "system_log_page.json"))
    denials = [r for r in rows if r["reason"] == "mfa_denied"]
    assert {r["_line"] for r in denials} == {6, 7}
    assert {(r["activity"], r["method"], r["outcome"]) for r in denials} == {
        ("mfa_challenge", "push", "failure")
    }


def test_api_page_ingests_end_to_end(vx, ingest):
    records = vx.fixture("okta", "system_log_page.json")
    summary, store = ingest(records, array=True)
    assert summary.formats == {"okta": 13}
    assert (summary.stored, summary.skipped, summary.quarantined) == (12, 1, 0)
    assert summary.skipped_by_kind == {"okta:group.user_membership.add": 1}
    assert {e["source"] for e in vx.stored(store)} == {"okta"}


def test_not_okta(vx):
    assert not okta.sniff({"eventType": "AwsConsoleSignIn", "eventTime": "2024-01-01T00:00:00Z"})
    (row,) = vx.run(okta, [{"published": "2024-01-01T00:00:00Z"}])
    assert row["_error"] == "not an Okta System Log event: no eventType"


def test_event_hook_delivery_is_one_event_per_element(vx, ingest):
    """Okta event hooks POST ``{eventType: com.okta.event_hook, data: {events: [...]}}``."""
    (hook,) = vx.fixture("okta", "event_hook.json")
    assert okta.sniff(hook)
    page = vx.fixture("okta", "system_log_page.json")
    api = vx.run(okta, [page[0], page[7]])
    rows = sorted(vx.run(okta, [hook]), key=lambda r: r["time"])
    assert len(rows) == 2
    for got, bare in zip(rows, api, strict=True):
        same = ("time", "event_id", "account", "activity", "step", "method", "outcome", "reason", "src_ip")
        assert {k: got[k] for k in same} == {k: bare[k] for k in same}
        assert got["tenant"] == "example-org.okta.com"  # the org the hook came from
    assert {json.loads(r["_raw"])["uuid"] for r in rows} == {page[0]["uuid"], page[7]["uuid"]}
    summary, _ = ingest([hook])
    assert (summary.records, summary.stored, summary.quarantined) == (2, 2, 0)


def test_log_streaming_and_siem_forwarder_wrappers(vx):
    """EventBridge log streaming (``detail``) and Splunk HEC (``event``) wrap one LogEvent each."""
    bridge, hec = vx.fixture("okta", "forwarders.jsonl")
    assert okta.sniff(bridge) and okta.sniff(hec)
    page = vx.fixture("okta", "system_log_page.json")
    a, b = vx.run(okta, [bridge, hec])
    bare_a, bare_b = vx.run(okta, [page[0], page[7]])
    assert vx.canon(a) == vx.canon(bare_a) and a["event_id"] == bare_a["event_id"]
    assert vx.canon(b) == vx.canon(bare_b) and b["src_ip"] == bare_b["src_ip"]
    assert a["tenant"] == "example-org"  # aws.partner/okta.com/<org>/...
    assert b["tenant"] == "example.org"  # no org named: the account's domain
    assert json.loads(a["_raw"]) == page[0]  # raw is the LogEvent itself


def test_null_address_falls_back_to_the_proxy_chain(vx):
    nullip, _, _ = vx.fixture("okta", "edge_cases.jsonl")
    row = vx.one(okta, nullip)
    assert row["src_ip"] == "192.0.2.77" and row["_error"] is None
    assert vx.canon(row) == vx.canon(vx.one(okta, vx.fixture("okta", "system_log_page.json")[0]))


def test_a_shared_placeholder_uuid_does_not_drop_distinct_events(vx, ingest):
    _, ph1, ph2 = vx.fixture("okta", "edge_cases.jsonl")
    a, b = vx.run(okta, [ph1, ph2])
    assert a["event_id"].startswith("AbC-123-XyZ#") and a["event_id"] != b["event_id"]
    summary, _ = ingest([ph1, ph2, ph1])  # the same body twice is still one event
    assert (summary.stored, summary.duplicates) == (2, 1)


def test_one_uuid_over_distinct_events_in_separate_runs_keeps_both(vx, tmp_path):
    """A replay tool's constant uuid: the second run's event is not a duplicate of the first's."""
    first, second = vx.fixture("okta", "system_log_page.json")[:2]
    second = {**second, "uuid": first["uuid"]}
    store = Store(tmp_path / "store")
    for i, record in enumerate((first, second, first)):
        path = tmp_path / f"run{i}.jsonl"
        path.write_text(json.dumps(record) + "\n")
        summary = ingest_paths(store, [str(path)])
        assert (summary.stored, summary.duplicates) == ((1, 0) if i < 2 else (0, 1))
    assert len(vx.stored(store)) == 2


def test_same_event_in_every_shape_has_one_id(vx):
    """API page, event hook, EventBridge, forwarder, lower-cased keys: one event id, so one event."""
    page = vx.fixture("okta", "system_log_page.json")
    (hook,) = vx.fixture("okta", "event_hook.json")
    bridge, hec = vx.fixture("okta", "forwarders.jsonl")
    lowered = {k.lower(): v for k, v in page[0].items()}
    ids = {r["event_id"] for r in vx.run(okta, [page[0], bridge, lowered])}
    ids |= {r["event_id"] for r in vx.run(okta, [hook]) if json.loads(r["_raw"])["uuid"] == page[0]["uuid"]}
    assert len(ids) == 1
    assert vx.one(okta, hec)["event_id"] == vx.one(okta, page[7])["event_id"]


def test_a_bare_log_event_with_event_or_detail_keys_is_not_a_wrapper(vx):
    """Only a record without an eventType of its own is an envelope."""
    event = vx.fixture("okta", "system_log_page.json")[0]
    for key in ("event", "detail"):
        odd = {**event, key: {"eventType": "user.account.lock", "published": event["published"]}}
        (row,) = vx.run(okta, [odd])
        assert vx.canon(row) == vx.canon(vx.one(okta, event))
        assert json.loads(row["_raw"]) == odd


def test_tenant_is_the_accounts_domain_for_bare_log_events(vx):
    row = vx.one(okta, vx.fixture("okta", "system_log_page.json")[0])
    assert row["tenant"] == "example.org"


def test_fast_and_careful_paths_store_the_same_okta_events(vx, tmp_path, monkeypatch):
    """Bare LogEvents take the typed fast path; envelopes, lower-cased keys and bad lines the
    careful one. Either way every record ends as the same stored, skipped or quarantined row."""
    import idwatch.sources.typed_json as typed_json

    page = vx.fixture("okta", "system_log_page.json")
    lines = [json.dumps(r) for r in page]
    lines += [json.dumps(r) for r in vx.fixture("okta", "edge_cases.jsonl")]
    lines += [json.dumps(r) for r in vx.fixture("okta", "forwarders.jsonl")]
    lines += [json.dumps(vx.fixture("okta", "event_hook.json")[0])]
    lines += [json.dumps({k.lower(): v for k, v in page[2].items()}), '{"eventType": "user.session.start"']
    lines += [json.dumps({**r, "uuid": f"{r['uuid'][:-3]}{i:03d}"}) for i, r in enumerate(page * 20)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")

    reads: list[int] = []
    real_read = typed_json.TypedLines.read

    def counting_read(self, chunk):  # noqa: ANN001, ANN202 - spy on the real reader
        fast, rest = real_read(self, chunk)
        reads.append(0 if fast is None else fast.num_rows)
        return fast, rest

    monkeypatch.setattr(typed_json.TypedLines, "read", counting_read)
    monkeypatch.setattr(typed_json, "BLOCK_LINES", 64)  # bad lines cost small blocks only
    monkeypatch.setattr(typed_json, "MIN_BLOCK_LINES", 4)
    fast = Store(tmp_path / "fast")
    got = ingest_paths(fast, [str(path)])
    assert sum(reads) >= len(page) * 21  # the bare LogEvents went the fast way
    monkeypatch.setattr(typed_json.TypedLines, "_statement", lambda self, paths: (None, None))
    careful = Store(tmp_path / "careful")
    want = ingest_paths(careful, [str(path)])

    counts = ("records", "stored", "skipped", "quarantined", "duplicates")
    assert [getattr(got, c) for c in counts] == [getattr(want, c) for c in counts]
    assert got.balanced
    # 20 copies of the page (12 events, 1 skipped kind each), the page, its 3 edge cases; the
    # wrapped and lower-cased copies of page events are duplicates; one line is not JSON
    assert (got.stored, got.skipped, got.duplicates, got.quarantined) == (255, 21, 5, 1)
    for store_query in (
        "SELECT * EXCLUDE (ingested_at) FROM events ORDER BY event_id",
        "SELECT event_id, kind, raw FROM other_events ORDER BY event_id",
    ):
        assert (
            fast.connect().execute(store_query).fetchall()
            == careful.connect().execute(store_query).fetchall()
        )
