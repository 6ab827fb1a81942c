"""Microsoft 365 Management Activity API mapping tables.

Sign-in error numbers and Entra audit operations reuse the Entra tables (``entra_map``): the
Azure AD workload of the Management Activity API logs the same events under the same names.
``m365.py`` builds its SQL from these tables; ``docs/connectors/m365.md`` is generated from them.
"""

from __future__ import annotations

from idwatch.sources.vendor_sql import DocTable, Rule, pairs_doc, rules_doc

TITLE = "Microsoft 365 Management Activity connector"

INTRO = """
`--format m365`. Reads Office 365 Management Activity API records (common schema: `Id`,
`RecordType`, `CreationTime`, `Operation`, `Workload`, `UserId`, `ClientIP`, `ResultStatus`, ...;
top-level keys in any case) and the Microsoft Sentinel `OfficeActivity` table rows built from them.

- `AzureActiveDirectoryStsLogon` (`UserLoggedIn`, `UserLoginFailed`): sign-ins. The reason comes
  from `ErrorNumber` through the Entra error-code table (see `entra.md`), else from `LogonError`
  (a stable identifier, not prose) through the table below.
- Azure AD directory operations (`Update user.`, `Reset password (self-service).`, ...): the Entra
  audit activity table with the trailing period removed; `Update user.` changes of recovery
  contacts are hashed into `contact_hash`.
- Exchange `New-InboxRule`, `Set-InboxRule`, `UpdateInboxRules` and `Set-Mailbox` with a forwarding
  parameter: `mailbox_rule`, the rule's forwarding / redirect / delete parameters in `detail`.

The account of a mailbox change is the mailbox (`Identity` / `Mailbox` parameter or `ObjectId`
when it is an address), else `UserId`. `ClientIP` values with a port (`1.2.3.4:5678`,
`[2001:db8::1]:443`) are cut to the address. Operations not listed are skipped as
`m365:<Operation>`; directory operations without a client IP as `m365:<Operation>:no_client_ip`.
A `UserLoggedIn` of a sign-out (`RequestType` `OAuth2:Logout`) or of no user (`UserId` `Unknown`)
is no sign-in: skipped as `m365:UserLoggedIn:logout` / `m365:UserLoggedIn:no_user`. A failed
sign-in whose code is an interrupt (e.g. 50140) is `pending` without a reason.
"""

#: Operation -> canonical values (Azure AD directory operations: see entra_map.AUDIT_ACTIVITIES).
OPERATIONS: list[Rule] = [
    Rule("UserLoggedIn", "sign_in", outcome="success"),
    Rule("UserLoginFailed", "sign_in", outcome="failure", note="reason from ErrorNumber / LogonError"),
    Rule("New-InboxRule", "mailbox_rule", note="detail: forwarding / redirect / delete actions"),
    Rule("Set-InboxRule", "mailbox_rule"),
    Rule("UpdateInboxRules", "mailbox_rule", note="rule changed from an Outlook client"),
    Rule(
        "Set-Mailbox",
        "mailbox_rule",
        note="only with ForwardingSmtpAddress / ForwardingAddress / DeliverToMailboxAndForward; else skipped",
    ),
    Rule("MailItemsAccessed", None, note="mailbox access (not modelled)"),
]

#: A ``UserLoggedIn`` that is no sign-in: Azure AD logs the sign-out as ``UserLoggedIn`` with
#: ``ExtendedProperties.RequestType`` ``OAuth2:Logout`` and often ``UserId`` ``Unknown``. Skipped
#: as ``m365:UserLoggedIn:logout`` (RequestType LIKE pattern) / ``m365:UserLoggedIn:no_user``.
LOGOUT_REQUEST_TYPES = ("%logout%", "%signout%")
NO_USER_IDS = ("unknown", "not available", "")

#: Export shapes the connector accepts (sniffed per file).
SHAPES: list[tuple[str, str]] = [
    (
        "Office 365 Management Activity API record",
        "common schema (`Id, RecordType, CreationTime, Operation, Workload, UserId, ClientIP, "
        "ResultStatus`, `ExtendedProperties`, `Parameters`, `ModifiedProperties`; keys in any case): "
        "JSON Lines, a JSON array (a content blob), one object",
    ),
    (
        "Sentinel OfficeActivity row",
        "`Type: OfficeActivity`, `OfficeWorkload`, `Client_IPAddress`, `TimeGenerated`",
    ),
]

#: Parameters reported in detail as Name=Value, in the record's order.
RULE_PARAMETERS = (
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "ForwardingSmtpAddress",
    "ForwardingAddress",
    "DeliverToMailboxAndForward",
    "DeleteMessage",
    "MoveToFolder",
    "MarkAsRead",
    "SubjectContainsWords",
    "Name",
)

#: Set-Mailbox parameters that make it a forwarding change.
FORWARDING_PARAMETERS = ("ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward")

#: LogonError identifier -> Entra error code (then mapped by entra_map.ERROR_CODES).
LOGON_ERRORS: list[tuple[str, str]] = [
    ("InvalidUserNameOrPassword", "50126"),
    ("UserAccountNotFound", "50034"),
    ("IdsLocked", "50053"),
    ("UserDisabled", "50057"),
    ("InvalidPasswordExpiredPassword", "50055"),
    ("UserStrongAuthClientAuthNRequiredInterrupt", "50074"),
    ("UserStrongAuthClientAuthNRequired", "50076"),
    ("BlockedByConditionalAccess", "53003"),
]

#: ResultStatus -> outcome (values of other workloads vary in case and wording).
RESULT_STATUS: list[tuple[str, str]] = [
    ("true", "success"),
    ("success", "success"),
    ("succeeded", "success"),
    ("partiallysucceeded", "success"),
    ("false", "failure"),
    ("failed", "failure"),
    ("failure", "failure"),
]


def doc_tables() -> list[DocTable]:
    return [
        pairs_doc("Accepted export shapes", SHAPES, ("shape", "what it looks like")),
        rules_doc("Operations", OPERATIONS, key_header="Operation"),
        pairs_doc(
            "LogonError of UserLoginFailed",
            LOGON_ERRORS,
            ("LogonError", "Entra errorCode"),
            intro="Used only when the record has no `ErrorNumber`; any other value: reason `other`.",
        ),
        pairs_doc("Mailbox rule parameters in detail", [(p,) for p in RULE_PARAMETERS], ("parameter",)),
        pairs_doc(
            "ResultStatus",
            RESULT_STATUS,
            ("ResultStatus (lower case)", "outcome"),
            intro="Sign-ins take their outcome from the operation; other values: `success`.",
        ),
    ]
