"""The canonical identity-event schema (EVENTS.md section 1) and the alert schema.

This module is the one owner of column names, types and enum values; every source,
detection and report imports them from here so that a rename happens in one place.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class Activity(StrEnum):
    SIGN_IN = "sign_in"
    ACCOUNT_LOOKUP = "account_lookup"
    PASSWORD_RESET = "password_reset"
    ACCOUNT_RECOVERY = "account_recovery"
    MFA_CHALLENGE = "mfa_challenge"
    MFA_METHOD_CHANGE = "mfa_method_change"
    RECOVERY_INFO_CHANGE = "recovery_info_change"
    PASSWORD_CHANGE = "password_change"
    MAILBOX_RULE = "mailbox_rule"
    ACCOUNT_LOCK = "account_lock"
    SESSION_REVOKE = "session_revoke"


class Step(StrEnum):
    START = "start"
    VERIFY = "verify"
    COMPLETE = "complete"


class Method(StrEnum):
    PASSWORD = "password"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    TOTP = "totp"
    PUSH = "push"
    FIDO2 = "fido2"
    KBA = "kba"
    PASSWORDLESS = "passwordless"
    TOKEN = "token"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"


class Reason(StrEnum):
    BAD_PASSWORD = "bad_password"
    UNKNOWN_ACCOUNT = "unknown_account"
    LOCKED = "locked"
    MFA_DENIED = "mfa_denied"
    MFA_TIMEOUT = "mfa_timeout"
    VERIFICATION_FAILED = "verification_failed"
    BLOCKED = "blocked"
    DISABLED = "disabled"
    EXPIRED = "expired"
    OTHER = "other"


class NetworkType(StrEnum):
    RESIDENTIAL = "residential"
    MOBILE = "mobile"
    BUSINESS = "business"
    EDUCATION = "education"
    HOSTING = "hosting"
    VPN = "vpn"
    PROXY = "proxy"
    TOR = "tor"
    UNKNOWN = "unknown"


class Stage(StrEnum):
    """Detection stages, in the order an attack chain moves through them."""

    RECON = "recon"
    CREDENTIAL = "credential"
    RECOVERY = "recovery"
    MFA = "mfa"
    COMPROMISE = "compromise"
    PERSISTENCE = "persistence"


class AccountStatus(StrEnum):
    """How far an attacker got with one account (EVENTS.md section 5)."""

    PROBED = "probed"
    ATTACKED = "attacked"
    COMPROMISED = "compromised"


#: Enum-typed columns of the event table and the values each may take.
ENUM_COLUMNS: dict[str, type[StrEnum]] = {
    "activity": Activity,
    "step": Step,
    "method": Method,
    "outcome": Outcome,
    "reason": Reason,
    "network_type": NetworkType,
}

TIME_TYPE = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema(
    [
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("tenant", pa.string()),
        pa.field("account", pa.string(), nullable=False),
        pa.field("account_exists", pa.bool_()),
        pa.field("activity", pa.string(), nullable=False),
        pa.field("step", pa.string()),
        pa.field("method", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("src_ip", pa.string(), nullable=False),
        pa.field("user_agent", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("country", pa.string()),
        pa.field("asn", pa.int64()),
        pa.field("asn_org", pa.string()),
        pa.field("network_type", pa.string()),
        pa.field("contact_hash", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.string()),
    ]
)

#: Columns added by idwatch beyond the contract (EVENTS.md allows additions, never renames).
EXTRA_EVENT_FIELDS = [
    pa.field("ua_family", pa.string()),  # browser family parsed from user_agent
    pa.field("ua_os", pa.string()),  # operating-system family parsed from user_agent
    pa.field("ingested_at", TIME_TYPE),
]

STORED_EVENT_SCHEMA = pa.schema(list(EVENT_SCHEMA) + EXTRA_EVENT_FIELDS)

EVENT_COLUMNS: list[str] = EVENT_SCHEMA.names
REQUIRED_COLUMNS: tuple[str, ...] = ("time", "account", "activity", "outcome", "src_ip")

#: One row per finding of one detection (written by the detection engine, read by correlation).
ALERT_SCHEMA = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),  # stable hash: detection_id + key
        pa.field("detection_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("stage", pa.string(), nullable=False),  # Stage
        pa.field("techniques", pa.list_(pa.string())),  # ATT&CK ids
        pa.field("severity", pa.string()),  # low | medium | high | critical
        pa.field("score", pa.int32()),  # 0-100
        pa.field("first_seen", TIME_TYPE),
        pa.field("last_seen", TIME_TYPE),
        pa.field("tenant", pa.string()),  # set when all accounts share one tenant
        pa.field("accounts", pa.list_(pa.string())),  # identifiers the finding is about
        pa.field("src_ips", pa.list_(pa.string())),
        pa.field("asns", pa.list_(pa.int64())),
        pa.field("user_agents", pa.list_(pa.string())),
        pa.field("device_ids", pa.list_(pa.string())),
        pa.field("contact_hashes", pa.list_(pa.string())),
        pa.field("event_ids", pa.list_(pa.string())),  # evidence: pivot back to raw events
        pa.field("detail", pa.string()),
        pa.field("created_at", TIME_TYPE),
    ]
)


def empty_events() -> pa.Table:
    return STORED_EVENT_SCHEMA.empty_table()
