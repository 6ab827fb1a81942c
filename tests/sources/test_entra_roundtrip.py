"""End to end: native events converted to Entra ID records give the same canonical events and
the same alerts, for the activities Entra logs (tests/sources/entra_convert.py says which)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from idwatch.detections.engine import run_detections
from idwatch.ingest import ingest_paths
from idwatch.store import Store

COMPARED = (
    "time",
    "account",
    "tenant",
    "activity",
    "step",
    "method",
    "outcome",
    "reason",
    "src_ip",
    "user_agent",
    "device_id",
    "session_id",
    "contact_hash",
    "account_exists",
)
#: What only sign-in records carry (an audit record has no location).
SIGNIN_ONLY = ("country",)
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0"
BOT_UA = "python-requests/2.31.0"


def _native_story(convert) -> list[dict]:
    """A small provider day: benign users, a password spray with unknown identifiers, MFA push
    bombing ending in a takeover, and a self-service reset takeover with persistence.

    No event names its country: Entra audit records carry no location, so both stores must get
    it the same way (from enrichment) for the comparison to be about the connector.
    """
    rng = random.Random(7)
    t0 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    events: list[dict] = []

    def add(
        minutes: float,
        account: str,
        activity: str,
        outcome: str,
        *,
        ip: str,
        reason=None,
        step=None,
        method=None,
        ua=UA,
        exists=True,
        device=None,
        country=None,
        session=None,
    ):
        n = len(events)
        events.append(
            {
                "time": (t0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "event_id": f"evt-{n:05d}-{rng.getrandbits(32):08x}",
                "source": "native",
                "tenant": account.split("@")[1],
                "account": account,
                "account_exists": exists,
                "activity": activity,
                "step": step,
                "method": method,
                "outcome": outcome,
                "reason": reason,
                "src_ip": ip,
                "user_agent": ua,
                "device_id": device,
                "session_id": session or f"s{n:05d}",
                "country": country,
                "asn": None,
                "asn_org": None,
                "network_type": None,
                "contact_hash": None,
                "detail": None,
            }
        )
        return events[-1]

    users = [f"user{i:02d}@harbor-news.org" for i in range(14)]
    for day in range(3):
        for i, user in enumerate(users):
            home = f"198.51.100.{10 + i}"
            for k in range(3):
                add(
                    day * 1440 + 60 * i + 7 * k,
                    user,
                    "sign_in",
                    "success",
                    ip=home,
                    method="password",
                    device=f"dev-{i:02d}",
                )
    # a user forgets the password, then gets it right
    add(200, users[3], "sign_in", "failure", ip="198.51.100.13", reason="bad_password", method="password")
    add(201, users[3], "sign_in", "success", ip="198.51.100.13", method="password")
    # password spray from one hosting address: existing accounts and guessed identifiers
    spray = "203.0.113.7"
    for j, user in enumerate(users[:12]):
        add(
            3000 + j * 1.5,
            user,
            "sign_in",
            "failure",
            ip=spray,
            reason="bad_password",
            method="password",
            ua=BOT_UA,
        )
    for j in range(8):
        add(
            3020 + j,
            f"staff{j}@harbor-news.org",
            "sign_in",
            "failure",
            ip=spray,
            reason="unknown_account",
            method="password",
            ua=BOT_UA,
            exists=False,
        )
    for j in range(6):
        add(
            3040 + j,
            users[5],
            "sign_in",
            "failure",
            ip=spray,
            reason="bad_password",
            method="password",
            ua=BOT_UA,
        )
    add(
        3047,
        users[5],
        "sign_in",
        "failure",
        ip=spray,
        reason="locked",
        method="password",
        ua=BOT_UA,
    )
    # MFA push bombing: the password is right, pushes are denied, then one is accepted
    attacker = "192.0.2.66"
    victim = users[8]
    add(3100, victim, "sign_in", "pending", ip=attacker, method="password", session="bomb")
    for j in range(7):
        add(
            3101 + j,
            victim,
            "mfa_challenge",
            "failure",
            ip=attacker,
            reason="mfa_denied",
            method="push",
            session="bomb",
        )
    add(3110, victim, "sign_in", "success", ip=attacker, method="password", session="bomb")
    # self-service reset takeover with the victim's phone, then persistence
    victim2 = users[11]
    add(3200, victim2, "password_reset", "pending", ip=attacker, step="start", method="sms")
    add(
        3202,
        victim2,
        "password_reset",
        "failure",
        ip=attacker,
        step="verify",
        method="sms",
        reason="verification_failed",
    )
    add(3204, victim2, "password_reset", "success", ip=attacker, step="verify", method="sms")
    add(3205, victim2, "password_reset", "success", ip=attacker, step="complete")
    add(3206, victim2, "sign_in", "success", ip=attacker, method="password")
    change = add(3210, victim2, "recovery_info_change", "success", ip=attacker, method="sms")
    change["contact_hash"] = hashlib.sha256(convert.stand_in_contact(change).encode()).hexdigest()
    add(3212, victim2, "mfa_method_change", "success", ip=attacker, method="totp")
    add(3213, victim2, "password_change", "success", ip=attacker, method="password")
    return events


def _ingest(tmp: Path, name: str, records: list[dict], *, array: bool) -> tuple[Store, dict]:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(records) if array else "".join(json.dumps(r) + "\n" for r in records))
    store = Store(tmp / f"store-{name}")
    summary = ingest_paths(store, [str(path)])
    return store, summary.to_dict()


def _rows(store: Store, sql: str) -> list[dict]:
    cur = store.connect().execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_entra_convert", Path(__file__).with_name("entra_convert.py")
    )
    assert spec and spec.loader
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    tmp = tmp_path_factory.mktemp("roundtrip")
    native = [e for e in _native_story(convert) if convert.convertible(e)]
    entra_records = [convert.to_entra(e) for e in native]
    native_store, native_summary = _ingest(tmp, "native", native, array=False)
    entra_store, entra_summary = _ingest(tmp, "entra", entra_records, array=True)
    return native, native_store, native_summary, entra_store, entra_summary


def test_every_converted_record_is_read_as_entra(roundtrip):
    native, _, native_summary, _, entra_summary = roundtrip
    assert entra_summary["formats"] == {"entra": len(native)}
    assert entra_summary["stored"] == native_summary["stored"] == len(native)
    assert entra_summary["quarantined"] == entra_summary["skipped"] == 0


def test_same_canonical_events(roundtrip):
    _, native_store, _, entra_store, _ = roundtrip
    cols = ", ".join(COMPARED)
    signin = "activity IN ('sign_in', 'mfa_challenge') AS signin"
    sql = f"SELECT event_id, {cols}, {', '.join(SIGNIN_ONLY)}, {signin} FROM events"
    native = {r["event_id"]: r for r in _rows(native_store, sql)}
    entra = {r["event_id"]: r for r in _rows(entra_store, sql)}
    assert native.keys() == entra.keys()
    for event_id, want in native.items():
        got = entra[event_id]
        for col in COMPARED:
            assert got[col] == want[col], (event_id, col, want["activity"])
        if want["signin"]:
            for col in SIGNIN_ONLY:
                assert got[col] == want[col], (event_id, col)


def test_same_alerts(roundtrip):
    _, native_store, _, entra_store, _ = roundtrip
    run_detections(native_store)
    run_detections(entra_store)
    sql = "SELECT alert_id, detection_id, list_sort(accounts) AS accounts, first_seen, last_seen FROM alerts"
    native = sorted(map(str, _rows(native_store, sql)))
    entra = sorted(map(str, _rows(entra_store, sql)))
    assert native, "the story must raise alerts"
    assert entra == native
