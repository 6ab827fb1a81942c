"""idwatch respond: protective actions as JSON; sent to the provider only when asked, once."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from idwatch.respond.actions import plan_actions, run_respond
from idwatch.respond.delivery import RetryPolicy, generate_secret, verify_signature
from idwatch.respond.findings import load_campaigns

SECRET = generate_secret()


def _types_for(actions, account):
    return {a["type"] for a in actions if a["target"].get("account") == account}


def test_actions_follow_how_far_the_attacker_got(store):
    actions = plan_actions(load_campaigns(store))
    assert _types_for(actions, "alice@campaign.org") == {
        "revoke_sessions",
        "force_password_reset",
        "require_mfa_reregistration",
    }
    assert _types_for(actions, "bob@campaign.org") == {"enroll_watchlist"}
    assert _types_for(actions, "carol@campaign.org") == set()  # probed only
    assert all(
        a["priority"] == "critical" for a in actions if a["target"].get("account") == "alice@campaign.org"
    )


def test_infrastructure_is_blocked_and_networks_only_for_the_targets(store):
    actions = plan_actions(load_campaigns(store), campaign_id="cmp-phos-1")
    ips = {a["target"]["ip"]: a["target"]["mode"] for a in actions if a["type"] == "block_ip"}
    assert ips == {"185.141.62.10": "block", "91.218.114.31": "block", "2a0b:7280:200::13": "block"}
    asn = next(a for a in actions if a["type"] == "block_asn" and a["target"]["asn"] == 44477)
    assert asn["target"]["scope"] == "targeted_accounts"
    assert set(asn["target"]["accounts"]) == {"alice@campaign.org", "bob@campaign.org", "dan@newsroom.net"}
    unattributed = plan_actions(load_campaigns(store), campaign_id="cmp-crim-2")
    assert {a["target"]["mode"] for a in unattributed if a["type"] == "block_ip"} == {"challenge"}
    assert not any(a["type"] in ("block_asn", "enroll_watchlist") for a in unattributed)


def test_one_account_only(store):
    actions = plan_actions(load_campaigns(store), account="Alice@Campaign.org")
    assert {a["target"]["account"] for a in actions} == {"alice@campaign.org"}


def test_dry_run_by_default_sends_nothing_and_records_nothing(store):
    summary = run_respond(store, webhook_url="http://127.0.0.1:9/never")
    assert summary.dry_run and summary.sent == 0
    assert all(a["status"] == "planned" for a in summary.actions)
    assert not (store.state_dir / "actions.json").exists()


@pytest.fixture
def provider():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(SECRET, body, dict(self.headers))
            received.append((ok, json.loads(body)))
            self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/actions", received
    server.shutdown()
    server.server_close()


def test_execute_posts_each_action_once_signed(store, provider):
    url, received = provider
    first = run_respond(
        store, execute=True, webhook_url=url, webhook_secret=SECRET, retry=RetryPolicy(base_delay=0)
    )
    assert not first.dry_run and first.sent == len(first.actions) == len(received)
    assert all(ok for ok, _ in received)
    assert {body["action"]["type"] for _, body in received} >= {"revoke_sessions", "block_ip", "block_asn"}
    second = run_respond(store, execute=True, webhook_url=url, webhook_secret=SECRET)
    assert second.sent == 0 and second.already_done == len(first.actions)
    assert len(received) == len(first.actions)


def test_no_output_reveals_a_contact_that_was_only_a_hash(store, fixture_data):
    text = json.dumps(run_respond(store).to_dict())
    for contact in fixture_data["clear_contacts"]:
        assert contact not in text
