"""Google Workspace Admin SDK Reports API mapping tables (login and user_accounts activities).

``gworkspace.py`` builds its SQL from these tables; ``docs/connectors/gworkspace.md`` is
generated from them.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import DocTable, Rule, pairs_doc, rules_doc

TITLE = "Google Workspace connector"

INTRO = """
`--format gworkspace`. Reads Google Workspace login / user_accounts activities in the shapes they
are exported in (see "Accepted export shapes" below). Every element of an activity's `events`
list is its own canonical event (Google logs several events per activity, e.g. a challenge and
the sign-in it guards).

The account is `parameters.affected_email_address` when present (account warnings), else
`actor.email` (`authenticationInfo.principalEmail` in Cloud Logging). `tenant` is `id.customerId`
(Cloud Logging: the organization of `logName`); `event_id` is built from the application,
the normalized time, `id.uniqueQualifier` (Cloud Logging: `activityId.uniqQualifier`), the event
name and its index in `events`, so the same activity read through either shape gets the same ids.
Google does not log the recovery phone / email values, so `recovery_info_change` events carry no
`contact_hash`. Activities of other applications (drive, admin, calendar, token, saml, ...) are
skipped and counted as `gworkspace:<application>:<event name>`; skipped records are kept in the
store's `other_events` table. Google's government-backed attack warning (`gov_attack_warning`) is
not an attempt, so it is no canonical event: it is kept there as kind `gov_attack_warning`,
evidence for attribution.
"""

#: Applications whose events are mapped by name below.
APPLICATIONS = ("login", "user_accounts")

#: Cloud Logging ``protoPayload.serviceName`` of a Workspace application: ``<application>`` + this.
CLOUD_SERVICE_SUFFIX = ".googleapis.com"

#: Event names kept (skipped, stored in ``other_events``) under their own kind, not
#: ``<application>:<name>``: evidence other stages read by name.
KEPT_KINDS = ("gov_attack_warning",)

#: Export shapes the connector accepts (sniffed per file).
SHAPES: list[tuple[str, str]] = [
    (
        "Admin SDK Reports API activity",
        "`activities.list` items (`kind: admin#reports#activity`, `id`, `actor`, `ipAddress`, "
        "`events[{type, name, parameters[{name, value|multiValue|boolValue|intValue}]}]`): JSON Lines, "
        'a JSON array, or a whole response page `{"items": [...]}`',
    ),
    (
        "Flattened SIEM export",
        "one event per record with `name` and `parameters: {name: value}` at the top level beside `id`",
    ),
    (
        "Cloud Logging / Cloud Audit entry",
        "`protoPayload` (`@type` AuditLog) with `serviceName` `login.googleapis.com`, "
        "`authenticationInfo.principalEmail`, `requestMetadata.callerIp` and "
        "`metadata.event[{eventName, eventType, parameter[{name, value|multiStrValue|boolValue|intValue}]}]`",
    ),
]

#: Event name -> canonical values. Not listed: skipped.
EVENTS: list[Rule] = [
    Rule("login_success", "sign_in", outcome="success", note="method from login_type"),
    Rule("login_failure", "sign_in", outcome="failure", note="reason from login_failure_type"),
    Rule(
        "login_challenge",
        "mfa_challenge",
        step="verify",
        note="outcome from login_challenge_status, method from login_challenge_method",
    ),
    Rule(
        "login_verification",
        "mfa_challenge",
        step="verify",
        note="outcome from login_challenge_status, method from login_challenge_method",
    ),
    Rule(
        "suspicious_login",
        "sign_in",
        outcome="failure",
        reason="blocked",
        note="Google blocked a suspicious sign-in",
    ),
    Rule("suspicious_login_less_secure_app", "sign_in", outcome="failure", reason="blocked"),
    Rule("suspicious_programmatic_login", "sign_in", outcome="failure", reason="blocked"),
    Rule("account_disabled_generic", "account_lock", outcome="success", note="detail: why"),
    Rule("account_disabled_hijacked", "account_lock", outcome="success"),
    Rule("account_disabled_password_leak", "account_lock", outcome="success"),
    Rule("account_disabled_spamming", "account_lock", outcome="success"),
    Rule("account_disabled_spamming_through_relay", "account_lock", outcome="success"),
    Rule("2sv_enroll", "mfa_method_change", outcome="success", note="2-step verification enrolled"),
    Rule("2sv_disable", "mfa_method_change", outcome="success", note="2-step verification disabled"),
    Rule(
        "titanium_enroll",
        "mfa_method_change",
        method="fido2",
        outcome="success",
        note="Advanced Protection enrolled",
    ),
    Rule(
        "titanium_unenroll",
        "mfa_method_change",
        method="fido2",
        outcome="success",
        note="Advanced Protection removed",
    ),
    Rule("recovery_email_edit", "recovery_info_change", method="email", outcome="success"),
    Rule("recovery_phone_edit", "recovery_info_change", method="sms", outcome="success"),
    Rule("recovery_secret_qa_edit", "recovery_info_change", method="kba", outcome="success"),
    Rule("password_edit", "password_change", outcome="success"),
    Rule(
        "email_forwarding_out_of_domain",
        "mailbox_rule",
        outcome="success",
        note="Gmail forwarding outside the domain; detail: the destination",
    ),
    Rule("email_forwarding_change", "mailbox_rule", outcome="success", note="detail: the destination"),
    Rule(
        "gov_attack_warning",
        None,
        note="Google's government-backed attack warning: not an attempt; kept in other_events "
        "as kind gov_attack_warning (attribution evidence)",
    ),
    Rule("logout", None),
    Rule("risky_sensitive_action_allowed", None),
    Rule("risky_sensitive_action_blocked", None),
]

#: parameters.login_type -> method of login_success / login_failure.
LOGIN_TYPES: list[tuple[str, str]] = [
    ("google_password", "password"),
    ("reauth", "password"),
    ("exchange", "password"),
    ("saml", "token"),
    ("passkey", "fido2"),
]

#: parameters.login_failure_type -> reason.
FAILURE_TYPES: list[tuple[str, str]] = [
    ("login_failure_invalid_password", "bad_password"),
    ("login_failure_invalid_second_factor", "verification_failed"),
    ("login_failure_account_disabled", "disabled"),
    ("login_failure_access_code_disallowed", "blocked"),
    ("login_failure_unknown", "other"),
]

#: parameters.login_challenge_method (first value) -> method.
CHALLENGE_METHODS: list[tuple[str, str]] = [
    ("password", "password"),
    ("google_authenticator", "totp"),
    ("totp", "totp"),
    ("backup_code", "totp"),
    ("offline_otp", "totp"),
    ("idv_preregistered_phone", "sms"),
    ("idv_any_phone", "sms"),
    ("internal_two_factor", "push"),
    ("security_key", "fido2"),
    ("passkey", "fido2"),
    ("knowledge_preregistered_email", "kba"),
    ("knowledge_preregistered_phone", "kba"),
    ("knowledge_employee_id", "kba"),
    ("login_location", "kba"),
    ("email", "email"),
]

#: parameters.login_challenge_status (lower-cased LIKE pattern) -> outcome.
CHALLENGE_STATUS: list[tuple[str, str]] = [
    ("%passed%", "success"),
    ("%fail%", "failure"),
]


def doc_tables() -> list[DocTable]:
    return [
        pairs_doc("Accepted export shapes", SHAPES, ("shape", "what it looks like")),
        rules_doc(
            "Events of the login and user_accounts applications",
            EVENTS,
            key_header="event name",
            intro="Names not listed are skipped as `gworkspace:<application>:<name>`.",
        ),
        pairs_doc("login_type", LOGIN_TYPES, ("login_type", "method")),
        pairs_doc(
            "login_failure_type",
            FAILURE_TYPES,
            ("login_failure_type", "reason"),
            intro="Any other failure type: `other`.",
        ),
        pairs_doc("login_challenge_method", CHALLENGE_METHODS, ("login_challenge_method", "method")),
        pairs_doc(
            "login_challenge_status",
            CHALLENGE_STATUS,
            ("status pattern (lower case)", "outcome"),
            intro="A challenge without a status is `pending`; a failed one has reason `verification_failed`.",
        ),
    ]
