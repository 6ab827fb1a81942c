"""Outgoing webhooks follow Standard Webhooks: a stock receiver library verifies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.respond.delivery import (
    RetryPolicy,
    WebhookSecretError,
    WebhookTransport,
    generate_secret,
    signed_headers,
    verify_signature,
    with_retry,
)


@pytest.fixture
def receiver():
    """A real HTTP receiver on loopback that keeps each request's headers and body; first one gets 503."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(503 if len(got) == 1 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def test_the_standardwebhooks_library_verifies_a_posted_notice(receiver):
    url, got = receiver
    secret = generate_secret()
    hook = WebhookTransport(secret=secret)
    where, attempts, _ = with_retry(
        lambda: hook.post_json(url, {"notice": "x"}, key="ntf-1"), RetryPolicy(base_delay=0)
    )
    assert where == url and attempts == 2
    (first_headers, _), (headers, body) = got
    assert Webhook(secret).verify(body, headers) == {"notice": "x"}
    # a retry is the same message to the receiver: same webhook-id, so it can drop the duplicate
    assert first_headers["webhook-id"] == headers["webhook-id"] == "ntf-1"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"x", b"y"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)


def test_the_signature_is_the_specs_hmac_of_id_timestamp_and_body():
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    body = b'{"a":1}'
    headers = signed_headers(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", body, now=1_614_265_330)
    # written from the specification, not from idwatch's code
    mac = hmac.new(bytes(range(32)), b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W.1614265330." + body, hashlib.sha256)
    assert headers == {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }


def test_our_own_verifier_accepts_fresh_messages_and_refuses_stale_or_altered_ones():
    secret, body = generate_secret(), json.dumps({"k": "v"}).encode()
    fresh = signed_headers(secret, "id-1", body)
    assert verify_signature(secret, body, fresh)
    assert verify_signature(secret, body, {k.title(): v for k, v in fresh.items()})  # header case
    assert not verify_signature(secret, body + b" ", fresh)
    assert not verify_signature(secret, body, signed_headers(secret, "id-1", body, now=time.time() - 3600))
    assert not verify_signature(secret, body, {**fresh, "webhook-id": "id-2"})


@pytest.mark.parametrize(
    "bad", ["k", "s3cret", "whsec_not*base64", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused(bad):
    with pytest.raises(WebhookSecretError, match="whsec_"):
        WebhookTransport(secret=bad)


def test_the_cli_refuses_a_plain_secret_before_doing_anything(tmp_path):
    result = CliRunner().invoke(app, ["notify", "--webhook-secret", "k", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2 and "whsec_" in result.output
