"""Okta System Log mapping tables (eventType, outcome.result, outcome.reason, factor names).

``okta.py`` builds its SQL from these tables; ``docs/connectors/okta.md`` is generated from them.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import DocTable, Rule, pairs_doc, rules_doc

TITLE = "Okta System Log connector"

INTRO = """
`--format okta`. Reads Okta System Log events as returned by `GET /api/v1/logs` (JSON array pages,
JSON Lines, or one object), from Classic and Identity Engine orgs alike. Top-level keys may be
lower-cased (some SIEM exports do that).

The account is the event's target user (`target[type=User].alternateId`) for events about a user
(factor changes, resets, locks), else the actor's `alternateId`. `actor.id = "unknown"` (Okta's
marker for an identifier that matched no user) sets `account_exists = false` and reason
`unknown_account`; a real Okta user id (`00u...`) of the account (target user, else actor) sets it
true. `src_ip` is `client.ipAddress`
(else the first `request.ipChain` address), `session_id` is `authenticationContext.externalSessionId`,
`asn` / `asn_org` come from `securityContext`, `network_type` is `proxy` when
`securityContext.isProxy` is true. MFA push denial is recognised both in the Classic event
(`user.mfa.okta_verify.deny_push`) and in Identity Engine's `user.authentication.auth_via_mfa` /
`user.authentication.verify` failures whose reason says the user rejected the push.

`event_id` is `<uuid>#<16 hex digits of a SHA-256 of the event's content>` (time, eventType,
actor, outcome, address, session, target ids, displayMessage): the same event in any export
shape keeps one id, so it is stored once, while distinct events under one uuid (a placeholder,
a replay tool's constant) never drop each other as duplicates, within a file or across runs.
A record with an `eventType` of its own is a LogEvent even when it has top-level `event` /
`detail` keys; only records without one are read as envelopes. Bare LogEvents in JSON Lines are
read by the typed fast path (DuckDB `read_json` with the needed fields typed); envelopes,
lower-cased keys and anything that does not parse that way take the careful path, with the
same result.
"""

#: Keys under which SIEM forwarders wrap one LogEvent (Splunk HEC ``event``, Amazon EventBridge
#: log streaming ``detail``); event hooks deliver ``data.events[]``
#: (``{eventType: com.okta.event_hook, source: https://<org>/api/v1/eventHooks/<id>, data: {events}}``,
#: https://developer.okta.com/docs/concepts/event-hooks/). An EventBridge event is
#: ``{detail-type: SystemLog, source: aws.partner/okta.com/<okta subdomain>/<event source name>,
#: detail: LogEvent}`` (https://help.okta.com/en-us/content/topics/reports/log-streaming/add-aws-eb-log-stream.htm).
WRAPPER_KEYS = ("event", "detail")

#: Export shapes the connector accepts (sniffed per file).
SHAPES: list[tuple[str, str]] = [
    (
        "System Log API LogEvent",
        "`GET /api/v1/logs` objects (`uuid, published, eventType, actor, client, outcome, target, "
        "request.ipChain, securityContext, debugContext`): JSON Lines, a JSON array page, one object",
    ),
    (
        "Event hook delivery",
        "`{eventType: com.okta.event_hook, source, data: {events: [LogEvent, ...]}}`: one event per element",
    ),
    (
        "Log streaming to Amazon EventBridge",
        "`{detail-type, source: aws.partner/okta.com/<org>/..., detail: LogEvent}`",
    ),
    ("SIEM forwarder wrapper", "`{time, sourcetype, event: LogEvent}` (Splunk HEC and the like)"),
]

#: The eventType of an event hook delivery (``data.events[]`` holds the LogEvents).
EVENT_HOOK_TYPE = "com.okta.event_hook"

#: client.ipAddress / ipChain values meaning "no address" (then the next source is read).
NO_ADDRESS = ("null", "none", "unknown", "undefined")

#: The org (tenant) from an envelope's ``source``: an event hook's URL host, or the org of an
#: EventBridge partner source. Bare LogEvents name no org: the account's domain is used.
ORG_FROM_SOURCE = r"(?:https?://|aws\.partner/okta\.com/)([^/:]+)"

#: eventType -> canonical values. Not listed: skipped, counted as okta:<eventType>.
EVENT_TYPES: list[Rule] = [
    Rule("user.session.start", "sign_in", method="password", note="primary authentication"),
    Rule("user.authentication.authenticate", "sign_in", method="password"),
    Rule("user.authentication.auth_via_AD_agent", "sign_in", method="password"),
    Rule("user.authentication.auth_via_LDAP_agent", "sign_in", method="password"),
    Rule("user.authentication.auth_via_radius", "sign_in", method="password"),
    Rule("user.authentication.auth_via_IDP", "sign_in", method="token", note="federated sign-in"),
    Rule("user.authentication.auth_via_social", "sign_in", method="token", note="social IdP"),
    Rule("user.authentication.auth_via_mfa", "mfa_challenge", step="verify", note="method from the factor"),
    Rule(
        "user.authentication.verify",
        "mfa_challenge",
        step="verify",
        note="Identity Engine authenticator verification; password authenticator -> sign_in",
    ),
    Rule(
        "user.mfa.okta_verify.deny_push",
        "mfa_challenge",
        step="verify",
        method="push",
        outcome="failure",
        reason="mfa_denied",
        note="Classic: user rejected the push",
    ),
    Rule(
        "user.mfa.okta_verify.deny_push_upgrade_needed",
        "mfa_challenge",
        step="verify",
        method="push",
        outcome="failure",
        reason="mfa_denied",
    ),
    Rule("user.mfa.attempt_bypass", "mfa_challenge", outcome="failure", reason="verification_failed"),
    Rule(
        "system.push.send_factor_verify_push",
        "mfa_challenge",
        step="start",
        method="push",
        outcome="pending",
        note="push sent",
    ),
    Rule(
        "system.sms.send_factor_verify_message",
        "mfa_challenge",
        step="start",
        method="sms",
        outcome="pending",
    ),
    Rule(
        "system.voice.send_mfa_challenge_call",
        "mfa_challenge",
        step="start",
        method="voice",
        outcome="pending",
    ),
    Rule(
        "system.email.mfa_challenge.sent_message",
        "mfa_challenge",
        step="start",
        method="email",
        outcome="pending",
    ),
    Rule(
        "system.sms.send_password_reset_message",
        "password_reset",
        step="start",
        method="sms",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule(
        "system.voice.send_password_reset_call",
        "password_reset",
        step="start",
        method="voice",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule(
        "system.email.password_reset.sent_message",
        "password_reset",
        step="start",
        method="email",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule("user.account.reset_password", "password_reset", step="complete"),
    Rule("user.credential.forgot_password", "password_reset", step="start"),
    Rule(
        "system.sms.send_account_unlock_message",
        "account_recovery",
        step="start",
        method="sms",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule(
        "system.voice.send_account_unlock_call",
        "account_recovery",
        step="start",
        method="voice",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule(
        "system.email.account_unlock.sent_message",
        "account_recovery",
        step="start",
        method="email",
        outcome="pending",
        note="code / link sent: the flow goes on",
    ),
    Rule("user.account.unlock_token", "account_recovery", step="verify"),
    Rule("user.account.update_password", "password_change"),
    Rule("user.account.lock", "account_lock", outcome="success", note="detail 'locked'"),
    Rule("user.account.lock.limit", "account_lock", outcome="success", note="detail 'locked'"),
    Rule("user.account.unlock", "account_lock", note="detail 'unlocked'"),
    Rule("user.account.unlock_by_admin", "account_lock", note="detail 'unlocked'"),
    Rule("user.lifecycle.suspend", "account_lock", note="detail 'suspended'"),
    Rule(
        "system.sms.send_phone_verification_message",
        "mfa_method_change",
        step="start",
        method="sms",
        outcome="pending",
        note="code sent to verify a phone being enrolled",
    ),
    Rule(
        "system.voice.send_phone_verification_call",
        "mfa_method_change",
        step="start",
        method="voice",
        outcome="pending",
        note="call placed to verify a phone being enrolled",
    ),
    Rule("user.mfa.factor.activate", "mfa_method_change", note="factor enrolled"),
    Rule("user.mfa.factor.deactivate", "mfa_method_change", note="factor removed"),
    Rule("system.mfa.factor.deactivate", "mfa_method_change", note="factor removed by the system"),
    Rule("user.mfa.factor.reset_all", "mfa_method_change", note="all factors reset"),
    Rule("user.mfa.factor.update", "mfa_method_change"),
    Rule("user.mfa.factor.suspend", "mfa_method_change"),
    Rule("user.account.update_primary_email", "recovery_info_change", method="email"),
    Rule("user.account.update_secondary_email", "recovery_info_change", method="email"),
    Rule("user.account.update_phone", "recovery_info_change", method="sms"),
    Rule("user.session.clear", "session_revoke"),
    Rule("user.session.end", None, note="sign-out"),
    Rule("user.authentication.sso", None, note="app SSO inside an existing session"),
    Rule("policy.evaluate_sign_on", None, note="policy decision; the authentication events carry the result"),
]

#: outcome.result -> outcome.
RESULTS: list[tuple[str, str]] = [
    ("SUCCESS", "success"),
    ("ALLOW", "success"),
    ("FAILURE", "failure"),
    ("DENY", "failure"),
    ("CHALLENGE", "pending"),
    ("SKIPPED", "pending"),
    ("UNKNOWN", "pending"),
]

#: outcome.reason (lower-cased LIKE pattern) -> reason, first match wins; applied to failures.
REASONS: list[tuple[str, str]] = [
    ("%reject%push%", "mfa_denied"),
    ("%denied%push%", "mfa_denied"),
    ("%push%reject%", "mfa_denied"),
    ("%timed out%", "mfa_timeout"),
    ("%timeout%", "mfa_timeout"),
    ("invalid_credentials", "bad_password"),
    ("%invalid credentials%", "bad_password"),
    ("locked_out", "locked"),
    ("%locked%", "locked"),
    ("verification_error", "verification_failed"),
    ("%invalid_otp%", "verification_failed"),
    ("%passcode%", "verification_failed"),
    ("%suspended%", "disabled"),
    ("%deactivated%", "disabled"),
    ("%password_expired%", "expired"),
    ("%expired%", "expired"),
    ("%deny%", "blocked"),
    ("%denied%", "blocked"),
    ("%blocked%", "blocked"),
    ("%declined%", "blocked"),
    ("%network zone%", "blocked"),
]

#: Factor / authenticator names (debugData.factor, factor type in the reason or target) -> method.
FACTORS: list[tuple[str, str]] = [
    ("%push%", "push"),
    ("%signed_nonce%", "passwordless"),
    ("%fastpass%", "passwordless"),
    ("%webauthn%", "fido2"),
    ("%fido%", "fido2"),
    ("%u2f%", "fido2"),
    ("%security key%", "fido2"),
    ("%sms%", "sms"),
    ("%call%", "voice"),
    ("%voice%", "voice"),
    ("%email%", "email"),
    ("%totp%", "totp"),
    ("%token:software%", "totp"),
    ("%google%authenticator%", "totp"),
    ("%okta verify%", "push"),
    ("%question%", "kba"),
    ("%password%", "password"),
    ("%phone%", "sms"),
]


def doc_tables() -> list[DocTable]:
    return [
        pairs_doc("Accepted export shapes", SHAPES, ("shape", "what it looks like")),
        rules_doc(
            "Event types",
            EVENT_TYPES,
            key_header="eventType",
            intro="Event types not listed are skipped and counted as `okta:<eventType>`.",
        ),
        pairs_doc("Outcome", RESULTS, ("outcome.result", "outcome")),
        pairs_doc(
            "Failure reasons",
            REASONS,
            ("outcome.reason pattern (lower case)", "reason"),
            intro="Failures whose reason matches nothing get `other`; `actor.id = unknown` wins "
            "with `unknown_account`. For `user.session.start` an `INVALID_CREDENTIALS` "
            "failure is a bad password; for MFA events it is a failed verification.",
        ),
        pairs_doc(
            "Factors",
            FACTORS,
            ("factor / authenticator pattern (lower case)", "method"),
            intro="Read from `debugContext.debugData.factor`, else the target authenticator, "
            "else `outcome.reason`. An Identity Engine `user.authentication.verify` of the "
            "password authenticator is a `sign_in`.",
        ),
    ]
