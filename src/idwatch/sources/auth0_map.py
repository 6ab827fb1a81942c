"""Auth0 tenant log mapping table: log event type code -> canonical values.

``auth0.py`` builds its SQL from this table; ``docs/connectors/auth0.md`` is generated from it.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import DocTable, Rule, pairs_doc, rules_doc

TITLE = "Auth0 connector"

INTRO = """
`--format auth0`. Reads Auth0 tenant log events as returned by the Management API
(`GET /api/v2/logs`: JSON array or JSON Lines of `{date, type, description, ip, user_agent,
user_id, user_name, connection, client_id, details, log_id, ...}`) and as delivered by log
streams, which wrap each event as `{"log_id": ..., "data": {...}}`.

The account is `user_name` (what the client typed, trimmed and lower-cased), else `user_id`, else
the identifier in the request (`details.body.username` / `email`). A sign-in's method comes from
its type, else the connection's `strategy_type` / `strategy`, else `details.prompts`; the reason of
a failure its type does not fix, from `details.error.message` (tables below).
`fu` (unknown user) sets `account_exists = false`; other events with a `user_id` set it true.
Auth0's schemas make `user_name` / `user_id` optional (`fu`, `fp`, `f`, and the IP-level
`limit_mu` block name none): a failure that names no account at all is still an attempt from
its address, stored with the reserved account `(no identifier)` (not a valid identifier, so it
never merges with a real account) and `account_exists` null (false for `fu`). An account-less
record that is not a failure (a code sent to no one named) is skipped as
`auth0:<type>:no_account` and kept in `other_events`.
`event_id` is `log_id`; `tenant` is `tenant_name`, else `hostname`; `country` is
`location_info.country_code` when present. The phone number in a Guardian SMS / voice
enrollment (`details.authenticator.phone_number`) becomes `contact_hash`.
"""

#: Log event type code -> canonical values. Codes not listed: skipped as auth0:<type>.
TYPES: list[Rule] = [
    Rule("s", "sign_in", outcome="success", note="successful login"),
    Rule("scoa", "sign_in", outcome="success", note="successful cross-origin authentication"),
    Rule("f", "sign_in", outcome="failure", note="failed login; reason from details.error.message"),
    Rule(
        "fp",
        "sign_in",
        method="password",
        outcome="failure",
        reason="bad_password",
        note="incorrect password",
    ),
    Rule(
        "fu",
        "sign_in",
        outcome="failure",
        reason="unknown_account",
        note="invalid email / username (account_exists = false)",
    ),
    Rule(
        "fcoa",
        "sign_in",
        outcome="failure",
        note="failed cross-origin authentication; reason from details.error.message",
    ),
    Rule(
        "limit_mu",
        "sign_in",
        outcome="failure",
        reason="blocked",
        note="IP blocked: failed logins into many accounts",
    ),
    Rule("limit_sul", "sign_in", outcome="failure", reason="blocked", note="user blocked by rate limit"),
    Rule(
        "pwd_leak",
        "sign_in",
        method="password",
        outcome="failure",
        reason="blocked",
        note="login with a breached password blocked",
    ),
    Rule(
        "limit_wc",
        "account_lock",
        outcome="success",
        note="account blocked for an IP after too many failed logins",
    ),
    Rule("ublkdu", "account_lock", outcome="success", note="block released (detail 'unblocked')"),
    Rule(
        "cs", "sign_in", step="start", method="passwordless", outcome="pending", note="passwordless code sent"
    ),
    Rule(
        "cls",
        "sign_in",
        step="start",
        method="passwordless",
        outcome="pending",
        note="passwordless link sent",
    ),
    Rule("scp", "password_change", outcome="success"),
    Rule("fcp", "password_change", outcome="failure", reason="other"),
    Rule(
        "scpr",
        "password_reset",
        step="start",
        method="email",
        outcome="pending",
        note="change-password (reset) email requested",
    ),
    Rule("fcpr", "password_reset", step="start", method="email", outcome="failure", reason="other"),
    Rule("sce", "recovery_info_change", method="email", outcome="success", note="email changed"),
    Rule("fce", "recovery_info_change", method="email", outcome="failure", reason="other"),
    Rule("mfar", "sign_in", method="password", outcome="pending", note="MFA required: first factor passed"),
    Rule("gd_send_sms", "mfa_challenge", step="start", method="sms", outcome="pending"),
    Rule("gd_send_voice", "mfa_challenge", step="start", method="voice", outcome="pending"),
    Rule("gd_send_pn", "mfa_challenge", step="start", method="push", outcome="pending"),
    Rule("gd_send_email", "mfa_challenge", step="start", method="email", outcome="pending"),
    Rule(
        "gd_send_sms_failure", "mfa_challenge", step="start", method="sms", outcome="failure", reason="other"
    ),
    Rule(
        "gd_send_voice_failure",
        "mfa_challenge",
        step="start",
        method="voice",
        outcome="failure",
        reason="other",
    ),
    Rule(
        "gd_send_pn_failure", "mfa_challenge", step="start", method="push", outcome="failure", reason="other"
    ),
    Rule("gd_auth_succeed", "mfa_challenge", step="verify", outcome="success"),
    Rule("gd_auth_failed", "mfa_challenge", step="verify", outcome="failure", reason="verification_failed"),
    Rule(
        "gd_auth_rejected",
        "mfa_challenge",
        step="verify",
        method="push",
        outcome="failure",
        reason="mfa_denied",
        note="push rejected by the user",
    ),
    Rule("gd_otp_rate_limit_exceed", "mfa_challenge", step="verify", outcome="failure", reason="blocked"),
    Rule(
        "gd_enrollment_complete",
        "mfa_method_change",
        outcome="success",
        note="method from the description; phone hashed",
    ),
    Rule("gd_unenroll", "mfa_method_change", outcome="success", note="factor removed"),
    Rule(
        "gd_recovery_succeed",
        "account_recovery",
        step="verify",
        outcome="success",
        note="MFA recovery code used",
    ),
    Rule(
        "gd_recovery_failed",
        "account_recovery",
        step="verify",
        outcome="failure",
        reason="verification_failed",
    ),
    Rule(
        "gd_recovery_rate_limit_exceed",
        "account_recovery",
        step="verify",
        outcome="failure",
        reason="blocked",
    ),
    Rule("signup_pwd_leak", None, note="sign-up with a breached password"),
    Rule("ss", None, note="sign-up"),
    Rule("fs", None, note="failed sign-up"),
    Rule("slo", None, note="logout"),
    Rule("sapi", None, note="management API operation"),
    Rule("fapi", None, note="failed management API operation"),
    Rule("seacft", None, note="code exchanged for a token"),
    Rule("ferrt", None, note="refresh token reuse detected"),
]

#: ``strategy_type`` (else ``strategy``) of the connection -> method of a sign-in whose type fixes none.
STRATEGY_METHODS: list[tuple[str, str]] = [
    ("database", "password"),
    ("auth0", "password"),
    ("passwordless", "passwordless"),
    ("sms", "passwordless"),
    ("email", "passwordless"),
    ("social", "token"),
    ("enterprise", "token"),
    ("samlp", "token"),
    ("waad", "token"),
    ("adfs", "token"),
    ("oidc", "token"),
]

#: ``details.prompts[].name`` (lower case LIKE) -> method, when the connection says nothing.
PROMPT_METHODS: list[tuple[str, str]] = [
    ("%password%", "password"),
    ("%passwordless%", "passwordless"),
    ("%webauthn%", "fido2"),
    ("%otp%", "totp"),
]

#: ``details.error.message`` (else the description; lower case LIKE) -> reason of a failure
#: whose type fixes none (``f``, ``fcoa``), first match wins; anything else: ``other``.
ERROR_MESSAGES: list[tuple[str, str]] = [
    ("%wrong email or password%", "bad_password"),
    ("%wrong username or password%", "bad_password"),
    ("%invalid username or password%", "bad_password"),
    ("%wrong password%", "bad_password"),
    ("%invalid_grant%", "bad_password"),
    ("%user does not exist%", "unknown_account"),
    ("%no such user%", "unknown_account"),
    ("%unknown user%", "unknown_account"),
    ("%user is blocked%", "locked"),
    ("%too many%attempts%", "locked"),
    ("%account%locked%", "locked"),
    ("%password%expired%", "expired"),
    ("%expired%", "expired"),
    ("%blocked%", "blocked"),
    ("%disabled%", "disabled"),
    ("%mfa%", "verification_failed"),
    ("%multifactor%", "verification_failed"),
    ("%unauthorized%", "blocked"),
    ("%access denied%", "blocked"),
]

#: Where an event without ``user_name`` / ``user_id`` may still name the identifier tried.
ACCOUNT_FALLBACKS = ("details.body.username", "details.body.email", "details.request.body.username")

#: Export shapes the connector accepts (sniffed per file).
SHAPES: list[tuple[str, str]] = [
    (
        "Management API log event",
        "`GET /api/v2/logs` objects (`date, type, description, ip, user_agent, user_id, user_name, "
        "connection, strategy, strategy_type, details, log_id`): JSON Lines, a JSON array, one object",
    ),
    (
        "Log stream envelope",
        '`{"log_id": ..., "data": {log event}}` (custom webhook, Event Grid)',
    ),
    (
        "Amazon EventBridge log stream",
        '`{"detail-type": "Auth0 log", "source": "aws.partner/auth0.com/...", "detail": '
        '{"log_id": ..., "data": {log event}}}`',
    ),
]

#: The ``source`` prefix of Auth0's EventBridge partner events
#: (https://auth0.com/docs/customize/log-streams/stream-logs-to-amazon-eventbridge).
EVENTBRIDGE_SOURCE = "aws.partner/auth0.com"

#: Text patterns (description, lower case) -> method for gd_enrollment_complete / gd_unenroll.
ENROLL_METHODS: list[tuple[str, str]] = [
    ("%(sms)%", "sms"),
    ("%(voice)%", "voice"),
    ("%(push)%", "push"),
    ("%(otp)%", "totp"),
    ("%(email)%", "email"),
    ("%webauthn%", "fido2"),
    ("%recovery code%", "kba"),
]


def doc_tables() -> list[DocTable]:
    return [
        pairs_doc("Accepted export shapes", SHAPES, ("shape", "what it looks like")),
        rules_doc(
            "Log event types",
            TYPES,
            key_header="type",
            intro="Codes not listed are skipped and counted as `auth0:<type>`.",
        ),
        pairs_doc(
            "Sign-in method from the connection",
            STRATEGY_METHODS,
            ("strategy_type / strategy", "method"),
            intro="For sign-in types that fix no method; else from `details.prompts[].name` (below).",
        ),
        pairs_doc("Sign-in method from the prompts", PROMPT_METHODS, ("prompt name pattern", "method")),
        pairs_doc(
            "Failure reason from the error message",
            ERROR_MESSAGES,
            ("details.error.message pattern (lower case)", "reason"),
            intro="For failure types that fix no reason (`f`, `fcoa`, `fcp`, ...); no match: `other`. "
            "`unknown_account` also sets `account_exists = false`.",
        ),
        pairs_doc("Enrolled factor", ENROLL_METHODS, ("description pattern (lower case)", "method")),
    ]
