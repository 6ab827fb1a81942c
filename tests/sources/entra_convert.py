"""Test helper: native canonical events -> the Microsoft Entra ID records that would log them.

Used to check end to end that the Entra connector gives back the same canonical events (and so
the same alerts) for the activities Entra logs. Sign-ins become Graph ``signIn`` objects
(``/auditLogs/signIns``, with the beta ``userAgent`` / ``homeTenantId`` fields); self-service
password reset, security-info registration, recovery-contact and password changes become
``directoryAudit`` objects. Events Entra has no record for return None (see ``UNSUPPORTED``).

Written from the Graph resource documentation, independently of ``entra_map`` (a converter that
read the connector's tables would only test them against themselves).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

#: Native events Entra does not log as such (reason in the value).
UNSUPPORTED = {
    "account_lookup": "the identifier step of a sign-in is not a log record",
    "account_recovery": "consumer-style account recovery does not exist in Entra",
    "mailbox_rule": "inbox rules are logged by Exchange (M365 Management Activity), not Entra",
    "account_lock": "Entra records a lockout only as the 50053 sign-in it caused",
}

#: (activity, outcome, reason) of a sign-in -> status.errorCode.
SIGNIN_CODES = {
    ("sign_in", "success", None): 0,
    ("sign_in", "pending", None): 50074,
    ("sign_in", "failure", "bad_password"): 50126,
    ("sign_in", "failure", "unknown_account"): 50034,
    ("sign_in", "failure", "locked"): 50053,
    ("sign_in", "failure", "disabled"): 50057,
    ("mfa_challenge", "failure", "mfa_denied"): 500121,
}

#: canonical method -> authenticationMethod names as Graph reports them.
AUTH_METHOD_NAMES = {
    "password": "Password",
    "sms": "Text message",
    "voice": "Phone call",
    "push": "Mobile app notification",
    "totp": "OATH verification code",
    "fido2": "FIDO2 security key",
}

#: canonical method -> the SSPR verification option named in resultReason.
SSPR_OPTIONS = {
    "sms": "mobile SMS",
    "voice": "mobile voice call",
    "email": "email",
    "kba": "security questions",
}

#: canonical method -> what "User registered security info" says was registered.
SECURITY_INFO = {
    "sms": "Mobile Phone SMS",
    "voice": "Office Phone",
    "push": "Authenticator App with Notification and Code",
    "totp": "Authenticator App with Code",
    "fido2": "FIDO2 security key",
    "email": "Email",
}


def _guid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]))


def _zero_guid() -> str:
    return "00000000-0000-0000-0000-000000000000"


def stand_in_contact(event: dict[str, Any]) -> str:
    """The recovery contact logged for a native recovery_info_change (which holds only a hash).

    Deterministic per event, so a test can give the native event the hash of this very value.
    """
    digits = str(int(hashlib.sha256(event["event_id"].encode()).hexdigest(), 16))[-7:]
    return f"+1555{digits}" if event.get("method") == "sms" else f"backup-{digits}@example.net"


def convertible(event: dict[str, Any]) -> bool:
    """Whether ``to_entra`` has an Entra record for this native event."""
    return to_entra(event) is not None


def to_entra(event: dict[str, Any]) -> dict[str, Any] | None:
    activity = event["activity"]
    if activity in ("sign_in", "mfa_challenge"):
        return _signin(event)
    if activity in (
        "password_reset",
        "mfa_method_change",
        "recovery_info_change",
        "password_change",
        "session_revoke",
    ):
        return _audit(event)
    return None


def _signin(e: dict[str, Any]) -> dict[str, Any] | None:
    code = SIGNIN_CODES.get((e["activity"], e["outcome"], e.get("reason")))
    if code is None:
        return None  # e.g. a successful or timed-out MFA step: Entra logs the whole sign-in instead
    method = e.get("method")
    steps = [
        {
            "authenticationMethod": "Password",
            "succeeded": code not in (50126, 50034),
            "authenticationStepRequirement": "Primary authentication",
        }
    ]
    mfa_detail = None
    if e["activity"] == "mfa_challenge":
        name = AUTH_METHOD_NAMES.get(method or "", "Mobile app notification")
        steps.append(
            {
                "authenticationMethod": name,
                "succeeded": False,
                "authenticationStepRequirement": "Multifactor authentication",
            }
        )
        mfa_detail = {"authMethod": name, "authDetail": None}
    exists = e.get("account_exists") is not False and code != 50034
    record: dict[str, Any] = {
        "id": e["event_id"],
        "createdDateTime": e["time"],
        "userPrincipalName": e["account"],
        "userId": _guid(e["account"]) if exists else _zero_guid(),
        "homeTenantId": e.get("tenant"),
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": e["src_ip"],
        "userAgent": e.get("user_agent"),
        "clientAppUsed": "Browser",
        "correlationId": e.get("session_id") or _guid("corr", e["event_id"]),
        "isInteractive": True,
        "status": {
            "errorCode": code,
            "failureReason": None if code == 0 else "Other.",
            "additionalDetails": None,
        },
        "deviceDetail": {"deviceId": e.get("device_id") or "", "operatingSystem": "", "browser": ""},
        "location": {"countryOrRegion": e.get("country") or "", "city": "", "state": ""},
        "authenticationDetails": steps,
    }
    if mfa_detail:
        record["mfaDetail"] = mfa_detail
    return record


def _audit(e: dict[str, Any]) -> dict[str, Any] | None:
    activity, method, step = e["activity"], e.get("method"), e.get("step")
    result = "failure" if e["outcome"] == "failure" else "success"
    modified: list[dict[str, Any]] = []
    if activity == "password_reset":
        if step == "complete":
            name, reason = "Reset password (self-service)", "Successfully completed reset."
        elif step in ("start", "verify") and method in SSPR_OPTIONS:
            verb = "started" if step == "start" else "completed"
            name = "Self-service password reset flow activity progress"
            reason = f"User {verb} the {SSPR_OPTIONS[method]} verification option"
        else:
            return None  # e.g. an identifier step naming no verification option
    elif activity == "mfa_method_change":
        if method not in SECURITY_INFO:
            return None
        name, reason = "User registered security info", f"User registered {SECURITY_INFO[method]}"
    elif activity == "recovery_info_change":
        if method not in ("sms", "email"):
            return None
        # the native event carries only the hash of the new contact: a stand-in value is logged
        stand_in = stand_in_contact(e)
        prop = "Mobile" if method == "sms" else "OtherMail"
        modified = [{"displayName": prop, "oldValue": "[]", "newValue": f'["{stand_in}"]'}]
        name, reason = "Update user", ""
    elif activity == "password_change":
        name, reason = "Change password (self-service)", ""
    else:  # session_revoke
        name, reason = "Invalidate all refresh tokens for user", ""
    return {
        "id": e["event_id"],
        "category": "UserManagement",
        "correlationId": e.get("session_id") or _guid("corr", e["event_id"]),
        "result": result,
        "resultReason": reason,
        "activityDisplayName": name,
        "activityDateTime": e["time"],
        "loggedByService": "Self-service Password Management",
        "operationType": "Update",
        "initiatedBy": {
            "user": {"id": _guid(e["account"]), "userPrincipalName": e["account"], "ipAddress": e["src_ip"]}
        },
        "targetResources": [
            {
                "id": _guid(e["account"]),
                "type": "User",
                "userPrincipalName": e["account"],
                "modifiedProperties": modified,
            }
        ],
        "additionalDetails": [{"key": "User-Agent", "value": e.get("user_agent") or ""}],
    }
