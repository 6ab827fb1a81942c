"""idwatch notify: who is told, how, exactly once, and never with a link or a recovered contact."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from idwatch.respond.audit import AuditLog
from idwatch.respond.delivery import (
    RetryPolicy,
    SmtpTransport,
    generate_secret,
    verify_signature,
)
from idwatch.respond.notify import NotifyOptions, run_notify
from idwatch.respond.policy import NotifyPolicy

TARGETED_TENANT_CONTACTS = {"security@campaign.org", "soc@newsroom.net", "it@ngo-rights.org"}
NO_SLEEP = RetryPolicy(attempts=3, base_delay=0.0)


class _Hook:
    """A real HTTP receiver on loopback; fails the first ``fail`` requests with HTTP 503."""

    def __init__(self, secret: str, fail: int = 0) -> None:
        self.secret, self.fail, self.received = secret, fail, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.fail > 0:
                    hook.fail -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                ok = verify_signature(hook.secret, body, dict(self.headers))
                hook.received.append((self.path, ok, json.loads(body)))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/idwatch"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_one_notice_per_tenant_attacked_by_an_attributed_actor(store):
    summary = run_notify(store, NotifyOptions(dry_run=True))
    assert {n["to"] for n in summary.notices} == TARGETED_TENANT_CONTACTS
    assert all(n["audience"] == "tenant" and n["status"] == "dry_run" for n in summary.notices)
    # dry run: nothing recorded, so a real run still sends everything
    assert AuditLog(store).records == {}


def test_untouched_probe_only_and_unattributed_tenants_hear_nothing(store):
    tenants = {n["tenant"] for n in run_notify(store, NotifyOptions(dry_run=True)).notices}
    assert "quietco.com" not in tenants  # probed only, not in the protection programme
    assert "untouched.io" not in tenants  # never touched
    assert "shopmart.com" not in tenants  # campaign has no attributed actor


def test_no_notification_at_all_when_no_campaign_is_attributed(make_store, fixture_data):
    quiet = [dict(c, actor=None, kind="unknown") for c in fixture_data["campaigns"]]
    store = make_store("quiet", campaigns=quiet)
    assert run_notify(store, NotifyOptions(dry_run=True)).planned == 0


def test_watchlisted_account_makes_its_tenant_hear_of_probing_alone(store):
    by_tenant = {n["tenant"]: n for n in run_notify(store, NotifyOptions(dry_run=True)).notices}
    assert "probed" in by_tenant["ngo-rights.org"]["why"]
    off = NotifyOptions(dry_run=True, policy=NotifyPolicy(watchlist_probes=False))
    assert "ngo-rights.org" not in {n["tenant"] for n in run_notify(store, off).notices}


def test_smtp_delivers_exactly_the_expected_mails_once(store, smtp_server):
    handler, controller = smtp_server
    options = NotifyOptions(smtp=SmtpTransport(controller.hostname, controller.port), retry=NO_SLEEP)
    first = run_notify(store, options)
    assert first.sent == 3 and first.pending == 0
    assert sorted(rcpts for rcpts, _ in handler.mails) == sorted([c] for c in TARGETED_TENANT_CONTACTS)
    mails = {rcpts[0]: msg for rcpts, msg in handler.mails}

    campaign = mails["security@campaign.org"]
    assert "compromised" in campaign["Subject"].lower()
    text = campaign.get_body(("plain",)).get_content()
    html = campaign.get_body(("html",)).get_content()
    assert "alice@campaign.org" in text and "COMPROMISED" in text and "TARGETED" in text  # bob: targeted
    assert "Phosphorus" in text and "confidence 85/100" in text
    assert "carol@campaign.org" not in text  # probed only: counted, not named
    assert "<table" in html and "alice@campaign.org" in html

    newsroom = mails["soc@newsroom.net"].get_body(("plain",)).get_content()
    assert "targeted" in mails["soc@newsroom.net"]["Subject"].lower()
    assert "no evidence that the attacker got into any of them" in newsroom

    for msg in mails.values():
        assert msg["X-Idwatch-Notification-Key"].startswith("ntf-")
        for part in (msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()):
            assert "http://" not in part and "https://" not in part and "<a " not in part
            assert "never ask you for a password" in " ".join(part.split())

    second = run_notify(store, options)
    assert second.sent == 0 and second.planned == 0
    assert len(handler.mails) == 3


def test_audit_log_says_what_to_whom_when_and_why(store, tmp_path):
    run_notify(store, NotifyOptions(outbox=tmp_path / "outbox", retry=NO_SLEEP))
    records = AuditLog(store).records.values()
    assert {r["to"] for r in records} == TARGETED_TENANT_CONTACTS
    for r in records:
        # an outbox file is not a delivered message: queued, with its message kept for a relay
        assert r["status"] == "queued" and r["queued_at"] and r["why"] and r["subject"]
        assert r["key"].startswith("ntf-") and "sent_at" not in r and r["message"]["eml"]
        assert r["outbox"] == str(tmp_path / "outbox")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_outbox_messages_are_queued_then_delivered_by_a_later_smtp_run(store, tmp_path, smtp_server):
    handler, controller = smtp_server
    outbox = tmp_path / "outbox"
    written = run_notify(store, NotifyOptions(outbox=outbox, retry=NO_SLEEP))
    assert (written.planned, written.queued, written.sent, written.pending) == (3, 3, 0, 0)
    assert {n["status"] for n in written.notices} == {"queued"}
    # another outbox run writes nothing again; a dry run still lists them as queued
    again = run_notify(store, NotifyOptions(outbox=outbox, retry=NO_SLEEP))
    assert (again.planned, again.earlier, again.queued) == (0, 0, 0)
    dry = run_notify(store, NotifyOptions(dry_run=True))
    assert dry.planned == 0 and [n["status"] for n in dry.notices] == ["queued"] * 3

    relay = NotifyOptions(smtp=SmtpTransport(controller.hostname, controller.port), retry=NO_SLEEP)
    delivered = run_notify(store, relay)
    assert (delivered.planned, delivered.earlier, delivered.sent, delivered.retried) == (0, 3, 3, 3)
    assert delivered.planned + delivered.earlier == delivered.sent + delivered.queued + delivered.pending
    assert sorted(rcpts[0] for rcpts, _ in handler.mails) == sorted(TARGETED_TENANT_CONTACTS)
    keys = {msg["X-Idwatch-Notification-Key"] for _, msg in handler.mails}
    records = AuditLog(store).records
    assert keys == set(records)
    for r in records.values():
        assert r["status"] == "sent" and r["delivered_via"].startswith("smtp://") and "message" not in r
    assert list(outbox.iterdir()) == []  # delivered messages leave the outbox

    assert run_notify(store, relay).sent == 0 and len(handler.mails) == 3


def test_an_account_moving_to_compromised_gets_a_new_notice_with_only_that_news(
    store, fixture_data, tmp_path
):
    options = NotifyOptions(outbox=tmp_path / "outbox", retry=NO_SLEEP)
    run_notify(store, options)
    campaigns = fixture_data["campaigns"]
    for acc in campaigns[0]["accounts"]:
        if acc["account"] == "bob@campaign.org":
            acc["stage"] = "compromised"
    campaigns[0]["id"] = "cmp-renamed-by-reclustering"
    store.write_state_json("campaigns", campaigns)
    again = run_notify(store, options)
    assert again.planned == 1 and again.queued == 1
    (only,) = again.notices
    assert only["to"] == "security@campaign.org" and "1 account(s) compromised" in only["why"]


def test_webhook_contacts_get_signed_json(make_store, fixture_data):
    secret = generate_secret()
    hook = _Hook(secret=secret)
    try:
        directory = [
            dict(row, notify=hook.url) if row["tenant"] == "newsroom.net" else row
            for row in fixture_data["directory"]
        ]
        store = make_store("s", directory=directory)
        summary = run_notify(
            store, NotifyOptions(outbox=None, webhook_secret=secret, smtp=None, retry=NO_SLEEP)
        )
    finally:
        hook.close()
    assert len(hook.received) == 1
    path, signature_ok, body = hook.received[0]
    assert signature_ok and path == "/idwatch"
    assert body["type"] == "idwatch.notification" and body["tenant"] == "newsroom.net"
    assert body["data"]["accounts"][0]["stage"] == "attacked"
    # the two email contacts had no SMTP relay: reported and kept, not lost
    assert summary.sent == 1 and summary.pending == 2
    assert all("no SMTP relay" in n["error"] for n in summary.notices if n["status"] == "pending")


def test_failed_delivery_is_retried_with_backoff_then_next_run_and_never_lost(store):
    secret = generate_secret()
    hook = _Hook(secret=secret, fail=3 * 3)  # every attempt of the first run fails
    delays: list[float] = []
    options = NotifyOptions(
        webhook_url=hook.url, webhook_secret=secret, retry=RetryPolicy(attempts=3, base_delay=0.5, factor=2.0)
    )
    try:
        first = run_notify(store, options, sleep=delays.append)
        assert first.sent == 0 and first.pending == 3
        assert delays == [0.5, 1.0] * 3
        assert all(r["status"] == "pending" and r["attempts"] == 3 for r in AuditLog(store).records.values())

        second = run_notify(store, options, sleep=delays.append)
        assert second.sent == 3 and second.retried == 3 and second.pending == 0 and second.planned == 0
        third = run_notify(store, options, sleep=delays.append)
        assert third.sent == 0 and third.planned == 0
    finally:
        hook.close()
    assert len(hook.received) == 3 and all(ok for _, ok, _ in hook.received)


def test_people_are_told_only_by_policy_and_never_through_a_compromised_mailbox(store):
    targeted = run_notify(store, NotifyOptions(dry_run=True, policy=NotifyPolicy(people="targeted")))
    people = {n["to"] for n in targeted.notices if n["audience"] == "person"}
    assert people == {"bob@campaign.org", "dan@newsroom.net", "erin@ngo-rights.org"}
    everyone = run_notify(store, NotifyOptions(dry_run=True, policy=NotifyPolicy(people="all")))
    assert "alice@campaign.org" in {n["to"] for n in everyone.notices if n["audience"] == "person"}


def test_person_notice_does_not_name_the_actor(store, tmp_path):
    run_notify(
        store, NotifyOptions(outbox=tmp_path / "o", policy=NotifyPolicy(people="targeted"), retry=NO_SLEEP)
    )
    person = [json.loads(p.read_text()) for p in (tmp_path / "o").glob("*.json")]
    person = [p for p in person if p["audience"] == "person"]
    assert len(person) == 3
    assert all("Phosphorus" not in p["text"] and "APT35" not in p["text"] for p in person)
    assert all("state-sponsored" in p["text"] for p in person)


def test_no_output_reveals_a_contact_that_was_only_a_hash(store, tmp_path, fixture_data):
    out = tmp_path / "o"
    run_notify(store, NotifyOptions(outbox=out, policy=NotifyPolicy(people="all"), retry=NO_SLEEP))
    blob = (
        "".join(p.read_text() for p in out.iterdir())
        + Path(store.state_dir / "notifications.json").read_text()
    )
    for contact in fixture_data["clear_contacts"]:
        assert contact not in blob
