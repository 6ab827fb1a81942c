"""The redactor: customer names out of shared text, found however they are embedded."""

from __future__ import annotations

import json

from idwatch.share.redact import Redactor

R = Redactor(["alice@campaign.org", "campaign.org", "Alice Avery", "security@campaign.org"])


def test_names_are_replaced_wherever_they_sit():
    text = "hit on alice@campaign.org (Alice  Avery) at campaign.org. Contact security@campaign.org!"
    out = R.redact(text)
    assert "alice" not in out.lower() and "campaign.org" not in out and "Avery" not in out
    assert out.count("[redacted]") == 4


def test_an_unknown_address_at_a_known_tenant_is_caught_and_any_email_or_phone_is_scrubbed():
    assert R.leaks("probe of nobody7@campaign.org") == ["nobody7@campaign.org"]
    assert R.redact("mail bob@elsewhere.net or call +1 415 555 0123") == "mail [email] or call [phone]"


def test_stix_ids_and_ordinary_words_are_not_names():
    text = json.dumps({"id": "campaign--1f0c", "name": "account takeover campaign", "ip": "185.141.62.10"})
    assert R.leaks(text) == []


def test_leaks_inside_json_strings_are_found():
    assert R.leaks(json.dumps({"description": "Alice Avery of campaign.org"})) == [
        "Alice Avery",
        "campaign.org",
    ]
