"""Microsoft Entra ID mapping tables: the one place that says what each sign-in error code and
audit activity means canonically. ``entra.py`` builds its SQL from these tables and
``docs/connectors/entra.md`` is generated from them.

Sign-ins are mapped by ``status.errorCode`` (a stable number), never by the error text, which
Microsoft rewrites from time to time.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import DocTable, Rule, pairs_doc, rules_doc

TITLE = "Microsoft Entra ID (Azure AD) connector"

INTRO = """
`--format entra`. Reads Entra ID sign-in and audit logs in the three shapes they are exported in:

- Microsoft Graph API objects: `/auditLogs/signIns` (`signIn`) and `/auditLogs/directoryAudits`
  (`directoryAudit`), as JSON Lines, a JSON array, or a whole Graph page (`{"value": [...]}`).
- Azure diagnostic settings / Event Hub records: `{"time", "category", "properties": {...}}` with
  category `SignInLogs`, `NonInteractiveUserSignInLogs` or `AuditLogs` (the other categories are
  skipped and counted by category), one per line or as an Event Hub message (`{"records": [...]}`).
- Microsoft Sentinel / Log Analytics exports of the `SigninLogs`, `AADNonInteractiveUserSignInLogs`
  and `AuditLogs` tables (PascalCase columns; nested columns may be JSON text).

Every record keeps its whole original in `raw` (the error code included). Sign-ins get
`session_id` from `sessionId` when present, else `correlationId`; `tenant` from the home tenant id
(diagnostic `tenantId`, Sentinel `AADTenantId`), else the domain of the account; `country` from
`location.countryOrRegion`. Audit events are about the target user (else the initiator), and a
target user object means `account_exists = true`; their
`src_ip` is the initiator's `ipAddress`; an audit event without one (admin and service operations
often have none) cannot be a canonical event and is skipped as `entra:<activity>:no_client_ip`.
Recovery phone numbers and emails in `Update user` changes become `contact_hash` (method `sms` for a
phone, `email` for an address)
(SHA-256 of E.164 / lower-cased email); they never appear in clear in canonical columns.
"""

#: Sign-in tables / diagnostic categories. Value: canonical handling of the record family.
SIGNIN_TABLES: dict[str, str] = {
    "SignInLogs": "interactive",
    "SigninLogs": "interactive",
    "NonInteractiveUserSignInLogs": "noninteractive",
    "AADNonInteractiveUserSignInLogs": "noninteractive",
    "ADFSSignInLogs": "federated",
}
AUDIT_TABLES = ("AuditLogs",)

#: status.errorCode -> canonical sign-in values. Codes not listed: activity sign_in, outcome
#: failure, reason other (the code stays in raw and in detail).
ERROR_CODES: list[Rule] = [
    Rule("0", "sign_in", outcome="success", note="success"),
    Rule(
        "50126",
        "sign_in",
        method="password",
        outcome="failure",
        reason="bad_password",
        note="invalid username or password",
    ),
    Rule(
        "50034",
        "sign_in",
        outcome="failure",
        reason="unknown_account",
        note="user account does not exist (account_exists = false)",
    ),
    Rule(
        "50053",
        "sign_in",
        outcome="failure",
        reason="locked",
        note="account locked (smart lockout) or sign-in from a malicious IP blocked",
    ),
    Rule("50057", "sign_in", outcome="failure", reason="disabled", note="user account is disabled"),
    Rule("50055", "sign_in", method="password", outcome="failure", reason="expired", note="password expired"),
    Rule("53003", "sign_in", outcome="failure", reason="blocked", note="blocked by Conditional Access"),
    Rule("530032", "sign_in", outcome="failure", reason="blocked", note="blocked by security policy"),
    Rule(
        "500121",
        "mfa_challenge",
        outcome="failure",
        note="strong authentication failed: reason from status.additionalDetails (table below)",
    ),
    Rule(
        "50074",
        "sign_in",
        method="password",
        outcome="pending",
        note="strong authentication required: the password was right, MFA comes next",
    ),
    Rule(
        "50076",
        "sign_in",
        method="password",
        outcome="pending",
        note="MFA required by policy or location: the password was right, MFA comes next",
    ),
    Rule(
        "50128",
        "sign_in",
        outcome="failure",
        reason="unknown_account",
        note="invalid domain name: no tenant for the identifier's domain (account_exists = false)",
    ),
    Rule(
        "50059",
        "sign_in",
        outcome="failure",
        reason="unknown_account",
        note="no tenant-identifying information in the request or the credentials (account_exists = false)",
    ),
    Rule(
        "50056",
        "sign_in",
        method="password",
        outcome="failure",
        reason="bad_password",
        note="no password stored",
    ),
    Rule(
        "50064",
        "sign_in",
        method="password",
        outcome="failure",
        reason="bad_password",
        note="credential validation failed",
    ),
    Rule(
        "50144", "sign_in", method="password", outcome="failure", reason="expired", note="AD password expired"
    ),
    Rule(
        "50133",
        "sign_in",
        outcome="failure",
        reason="expired",
        note="session invalid: password changed or expired",
    ),
    Rule(
        "50173",
        "sign_in",
        outcome="failure",
        reason="expired",
        note="fresh auth token needed (grant revoked)",
    ),
    Rule("50089", "sign_in", outcome="failure", reason="expired", note="flow token expired"),
    Rule("50131", "sign_in", outcome="failure", reason="blocked", note="Conditional Access failed"),
    Rule("53000", "sign_in", outcome="failure", reason="blocked", note="device not compliant / not managed"),
    Rule("53001", "sign_in", outcome="failure", reason="blocked", note="device not domain joined"),
    Rule(
        "53002",
        "sign_in",
        outcome="failure",
        reason="blocked",
        note="application not approved for the device",
    ),
    Rule(
        "50105", "sign_in", outcome="failure", reason="blocked", note="user not assigned to the application"
    ),
    Rule("50155", "sign_in", outcome="failure", reason="blocked", note="device authentication failed"),
    Rule(
        "50088",
        "mfa_challenge",
        outcome="failure",
        reason="blocked",
        note="limit on telecom MFA calls or messages reached",
    ),
    Rule(
        "50140",
        "sign_in",
        outcome="pending",
        note='interrupt: the "keep me signed in" prompt (not a failure)',
    ),
    Rule("50199", "sign_in", outcome="pending", note="interrupt: user confirmation required (not a failure)"),
    Rule("50125", "sign_in", outcome="pending", note="interrupt: password reset or registration required"),
    Rule("50072", "sign_in", outcome="pending", note="interrupt: the user must enrol in MFA"),
    Rule("50079", "sign_in", outcome="pending", note="interrupt: MFA registration required"),
    Rule("50097", "sign_in", outcome="pending", note="interrupt: device authentication required"),
    Rule(
        "16000",
        "sign_in",
        outcome="pending",
        note="interrupt: account selection (several accounts signed in)",
    ),
    Rule(
        "50158",
        "mfa_challenge",
        outcome="failure",
        reason="verification_failed",
        note="external security challenge not satisfied",
    ),
]

#: 500121 ``status.additionalDetails`` (lower-cased LIKE pattern) -> reason; anything else
#: (or no details) is ``mfa_denied``, what the code itself says.
MFA_FAILURE_DETAILS: list[tuple[str, str]] = [
    ("%declined%", "mfa_denied"),
    ("%denied%fraud%", "mfa_denied"),
    ("%fraud%", "mfa_denied"),
    ("%did not respond%", "mfa_timeout"),
    ("%no response%", "mfa_timeout"),
    ("%not completed%", "mfa_timeout"),
    ("%did not complete%", "mfa_timeout"),
    ("%timed out%", "mfa_timeout"),
    ("%timeout%", "mfa_timeout"),
    ("%incorrect%code%", "verification_failed"),
    ("%invalid%code%", "verification_failed"),
]

#: A successful sign-in that passed a second factor (``mfaDetail.authMethod``, or a succeeded
#: ``authenticationDetails`` step that is not the password) also yields an ``mfa_challenge``
#: success (event id ``<id>:mfa``): "failures, then a success" rules need the success. Steps whose
#: method maps to one of these are not a second factor.
NOT_SECOND_FACTOR = ("password", "token")

#: Envelopes whose array holds records (an Event Hub message, one per line): one row per element.
ENVELOPE_LISTS = ("$.records",)

#: Export shapes the connector accepts (sniffed per file).
SHAPES: list[tuple[str, str]] = [
    (
        "Microsoft Graph v1.0 signIn / directoryAudit",
        "`/auditLogs/signIns`, `/auditLogs/directoryAudits` objects (camelCase: `createdDateTime, "
        "userPrincipalName, status{errorCode, additionalDetails}, ipAddress, location, deviceDetail`): "
        'JSON Lines, a JSON array, or a page `{"value": [...]}`',
    ),
    (
        "Microsoft Graph beta signIn",
        "the v1.0 fields plus `authenticationDetails[]`, `mfaDetail`, `authenticationRequirement`, "
        "`signInEventTypes` (`nonInteractiveUser` -> method token), `isInteractive`",
    ),
    (
        "Azure diagnostic settings / Event Hub",
        "`{time, category, tenantId, resultType, callerIpAddress, properties: {...}}`, one per line or "
        'as an Event Hub message `{"records": [...]}`',
    ),
    (
        "Microsoft Graph riskDetection / riskyUser",
        "ID Protection objects (`/identityProtection/riskDetections`: `riskEventType, riskLevel, "
        "detectedDateTime, activityDateTime, userPrincipalName, ipAddress`; `/riskyUsers`: "
        "`riskLevel, riskState, riskLastUpdatedDateTime`): no attempts, skipped by kind "
        "(`entra:riskDetection`, `entra:riskyUser`) and kept for Sigma rules and attribution",
    ),
    (
        "Sentinel / Log Analytics rows",
        "`SigninLogs`, `AADNonInteractiveUserSignInLogs`, `ADFSSignInLogs`, `AuditLogs` (PascalCase "
        "columns, `Type`; nested columns may be JSON text)",
    ),
]

#: Sign-in tables whose codes are not mapped: service principals and managed identities are
#: not accounts of people.
SKIPPED_SIGNIN_TABLES = (
    "ServicePrincipalSignInLogs",
    "AADServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "AADManagedIdentitySignInLogs",
)

#: Authentication method names (signIn.authenticationDetails[].authenticationMethod,
#: mfaDetail.authMethod, security-info texts) -> canonical method. Ordered LIKE patterns on the
#: lower-cased text; the first match wins.
AUTH_METHODS: list[tuple[str, str]] = [
    ("%passwordless%", "passwordless"),
    ("%windows hello%", "passwordless"),
    ("%fido%", "fido2"),
    ("%security key%", "fido2"),
    ("%passkey%", "fido2"),
    ("%notification%", "push"),
    ("%oath%", "totp"),
    ("%verification code%", "totp"),
    ("%app with code%", "totp"),
    ("%authenticator app%", "push"),
    ("%text message%", "sms"),
    ("%sms%", "sms"),
    ("%voice%", "voice"),
    ("%phone call%", "voice"),
    ("%office phone%", "voice"),
    ("%email%", "email"),
    ("%security question%", "kba"),
    ("%password%", "password"),
    ("%pass-through%", "password"),
    ("%forms authentication%", "password"),
    ("federat%", "token"),
    ("%previously satisfied%", "token"),
    ("%satisfied by token%", "token"),
]

#: directoryAudit activityDisplayName -> canonical values. Not listed: skipped, counted by name.
AUDIT_ACTIVITIES: list[Rule] = [
    Rule(
        "Reset password (self-service)",
        "password_reset",
        step="complete",
        note="SSPR completed (result failure: reset refused)",
    ),
    Rule(
        "Self-service password reset flow activity progress",
        "password_reset",
        note="step and method from resultReason, see below",
    ),
    Rule(
        "Unlock user account (self-service)",
        "password_reset",
        step="complete",
        note="SSPR used to unlock the account",
    ),
    Rule("Change password (self-service)", "password_change", method="password"),
    Rule("User registered security info", "mfa_method_change", note="detail: what was registered"),
    Rule("User deleted security info", "mfa_method_change", note="detail: what was deleted"),
    Rule("User changed default security info", "mfa_method_change"),
    Rule("Admin registered security info", "mfa_method_change"),
    Rule("Admin deleted security info", "mfa_method_change"),
    Rule(
        "Update user",
        "recovery_info_change",
        note="only when a recovery / MFA contact property changed (table below); else skipped",
    ),
    Rule("Disable account", "account_lock", outcome=None, note="detail 'disabled'"),
    Rule("Invalidate all refresh tokens for user", "session_revoke"),
    Rule("User registered all required security info", None, note="summary of the events above"),
    Rule("User started security info registration", None),
    Rule("Reset user password", None, note="admin reset: not a self-service flow"),
]

#: resultReason patterns of "Self-service password reset flow activity progress": step.
SSPR_STEPS: list[tuple[str, str]] = [
    ("%submitted a new password%", "complete"),
    ("%started%", "start"),
    ("%entered%user id%", "start"),
    ("%submitted%user id%", "start"),
    ("%completed%", "verify"),
    ("%verified%", "verify"),
    ("%successfully%", "verify"),
]

#: "Update user" modifiedProperties.displayName -> activity. The first changed property listed
#: here decides; its newValue is hashed into contact_hash when it is a phone or an email.
UPDATE_USER_PROPERTIES: list[tuple[str, str, bool]] = [
    ("StrongAuthenticationUserDetails", "recovery_info_change", True),
    ("Mobile", "recovery_info_change", True),
    ("OtherMail", "recovery_info_change", True),
    ("AlternateEmailAddress", "recovery_info_change", True),
    ("StrongAuthenticationEmailAddress", "recovery_info_change", True),
    ("StrongAuthenticationPhoneNumber", "recovery_info_change", True),
    ("StrongAuthenticationMethod", "mfa_method_change", False),
    ("StrongAuthenticationPhoneAppDetail", "mfa_method_change", False),
]

#: Inside a StrongAuthenticationUserDetails value, the contact keys (first present wins).
STRONG_AUTH_CONTACT_KEYS = ("PhoneNumber", "AlternativePhoneNumber", "Email", "VoiceOnlyPhoneNumber")

#: directoryAudit.result -> outcome.
AUDIT_RESULTS: list[tuple[str, str]] = [
    ("success", "success"),
    ("failure", "failure"),
    ("timeout", "failure"),
]


def doc_tables() -> list[DocTable]:
    return [
        pairs_doc("Accepted export shapes", SHAPES, ("shape", "what it looks like")),
        rules_doc(
            "Sign-ins by status.errorCode",
            ERROR_CODES,
            key_header="errorCode",
            intro="Any other code: `sign_in`, `failure`, reason `other`, detail `error <code>`. "
            "`50034` sets `account_exists = false`; other codes with a non-zero `userId` set it true. "
            "Non-interactive sign-ins (token use) get method `token`. Service-principal and "
            "managed-identity sign-ins are skipped: " + ", ".join(SKIPPED_SIGNIN_TABLES) + ".",
        ),
        pairs_doc(
            "500121: reason from status.additionalDetails",
            MFA_FAILURE_DETAILS,
            ("additionalDetails pattern (lower case)", "reason"),
            intro="No details, or details matching nothing: `mfa_denied`.",
        ),
        pairs_doc(
            "Authentication method names",
            AUTH_METHODS,
            ("text pattern (lower case)", "method"),
            intro="Method of an MFA event from `mfaDetail.authMethod` or the second "
            "`authenticationDetails` step; of a first-factor sign-in from the first step. A successful "
            "sign-in whose second factor (`mfaDetail.authMethod`, else the last succeeded "
            "`authenticationDetails` step whose method is not " + " / ".join(NOT_SECOND_FACTOR) + ") "
            "is known also gives an `mfa_challenge` / `verify` / `success` event with id `<id>:mfa`.",
        ),
        rules_doc(
            "Audit activities (activityDisplayName)",
            AUDIT_ACTIVITIES,
            key_header="activityDisplayName",
            intro="Activities not listed are skipped and counted as `entra:<activityDisplayName>`.",
        ),
        pairs_doc(
            "Self-service password reset progress: step from resultReason",
            SSPR_STEPS,
            ("resultReason pattern", "step"),
            intro="The method comes from the same text with the method patterns above. A started "
            "step that succeeded is `pending` (the flow goes on); a failed verify step has reason "
            "`verification_failed`, other failures `other`.",
        ),
        pairs_doc(
            "Update user: changed properties",
            UPDATE_USER_PROPERTIES,
            ("modifiedProperties.displayName", "activity", "contact hashed"),
            intro="`StrongAuthenticationUserDetails` values are JSON; the contact is the first of "
            + ", ".join(STRONG_AUTH_CONTACT_KEYS)
            + ".",
        ),
        pairs_doc("Audit result", AUDIT_RESULTS, ("result", "outcome")),
    ]
