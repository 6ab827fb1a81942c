"""Vendor records for the Sigma tests, shaped as each vendor documents them, and a builder that
puts a rule's selection values where the vendor puts those fields (independently of the
pipeline under test: Graph camelCase for Entra, LogEvent for Okta, Reports API for Google,
Management Activity API for Microsoft 365)."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaBool, SigmaNull, SigmaNumber, SigmaRegularExpression, SigmaString, SpecialChars

T = "2026-03-02T10:00:00Z"

# Microsoft Graph signIn (learn.microsoft.com/graph/api/resources/signin)
SIGNIN: dict[str, Any] = {
    "id": "",
    "createdDateTime": T,
    "userDisplayName": "Alice Example",
    "userPrincipalName": "alice@contoso.com",
    "userId": "d7b3b5a0-1c2e-4a3b-9c1d-2f5e6a7b8c9d",
    "appId": "00000002-0000-0ff1-ce00-000000000000",
    "appDisplayName": "Office 365 Exchange Online",
    "ipAddress": "203.0.113.7",
    "clientAppUsed": "Browser",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "correlationId": "c1d2e3f4-0000-4000-8000-000000000001",
    "conditionalAccessStatus": "notApplied",
    "isInteractive": True,
    "riskState": "none",
    "authenticationRequirement": "singleFactorAuthentication",
    "resourceDisplayName": "Office 365 Exchange Online",
    "networkLocationDetails": [{"networkType": "namedNetwork", "networkNames": ["HQ"]}],
    "status": {
        "errorCode": 50126,
        "failureReason": "Error validating credentials due to invalid username or password.",
        "additionalDetails": None,
    },
    "deviceDetail": {
        "deviceId": "4a1b2c3d-0000-4000-8000-00000000d001",
        "displayName": "LAPTOP-1",
        "operatingSystem": "Windows 10",
        "browser": "Edge 120.0",
        "isCompliant": True,
        "isManaged": True,
        "trustType": "Azure AD joined",
    },
    "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US"},
}

# Microsoft Graph directoryAudit (learn.microsoft.com/graph/api/resources/directoryaudit)
AUDIT: dict[str, Any] = {
    "id": "",
    "category": "Other",
    "correlationId": "c1d2e3f4-0000-4000-8000-00000000a001",
    "result": "success",
    "resultReason": "",
    "activityDisplayName": "Get tenant details",
    "activityDateTime": T,
    "loggedByService": "Core Directory",
    "operationType": "Update",
    "initiatedBy": {
        "user": {
            "id": "7c1a0000-0000-4000-8000-000000000a01",
            "displayName": "Admin",
            "userPrincipalName": "admin@contoso.com",
            "ipAddress": "203.0.113.9",
        }
    },
    "targetResources": [
        {
            "id": "d7b3b5a0-1c2e-4a3b-9c1d-2f5e6a7b8c9d",
            "displayName": "Alice Example",
            "type": "User",
            "userPrincipalName": "alice@contoso.com",
            "modifiedProperties": [],
        }
    ],
    "additionalDetails": [],
}

# Azure diagnostic settings record of category UserRiskEvents (Entra ID Protection)
RISK: dict[str, Any] = {
    "time": T,
    "resourceId": "/tenants/11111111-2222-3333-4444-555555555555/providers/Microsoft.aadiam",
    "operationName": "User Risk Detection",
    "category": "UserRiskEvents",
    "tenantId": "11111111-2222-3333-4444-555555555555",
    "properties": {
        "id": "",
        "activity": "signin",
        "riskEventType": "unfamiliarFeatures",
        "riskLevel": "medium",
        "riskState": "atRisk",
        "detectionTimingType": "realtime",
        "source": "IdentityProtection",
        "userPrincipalName": "alice@contoso.com",
        "ipAddress": "203.0.113.7",
        "detectedDateTime": T,
    },
}

# Okta System Log LogEvent (developer.okta.com/docs/reference/api/system-log)
OKTA: dict[str, Any] = {
    "uuid": "",
    "published": T,
    "eventType": "user.session.start",
    "version": "0",
    "severity": "INFO",
    "legacyEventType": "core.user_auth.login_success",
    "displayMessage": "User login to Okta",
    "actor": {"id": "00u1a2b3c4", "type": "User", "alternateId": "alice@example.org", "displayName": "Alice"},
    "client": {
        "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Windows", "browser": "CHROME"},
        "zone": "null",
        "device": "Computer",
        "ipAddress": "203.0.113.7",
        "geographicalContext": {"country": "United States", "city": "Seattle"},
    },
    "outcome": {"result": "SUCCESS", "reason": None},
    "target": [
        {
            "id": "0oa1",
            "type": "AppInstance",
            "alternateId": "Okta Dashboard",
            "displayName": "Okta Dashboard",
        }
    ],
    "transaction": {"type": "WEB", "id": "Wx1"},
    "debugContext": {"debugData": {"requestUri": "/api/v1/authn", "behaviors": "{New Device=NEGATIVE}"}},
    "authenticationContext": {"externalSessionId": "idx1"},
    "securityContext": {"asNumber": 64500, "asOrg": "example isp", "isp": "example", "isProxy": False},
}

# Admin SDK Reports API activity of the login application
GOOGLE: dict[str, Any] = {
    "kind": "admin#reports#activity",
    "id": {
        "time": "2026-03-02T10:00:00.000Z",
        "uniqueQualifier": "",
        "applicationName": "login",
        "customerId": "C0abc",
    },
    "actor": {"email": "maria@example.org", "profileId": "1001"},
    "ipAddress": "203.0.113.7",
    "events": [
        {
            "type": "login",
            "name": "login_success",
            "parameters": [{"name": "login_type", "value": "google_password"}],
        }
    ],
}

# Office 365 Management Activity API record (common schema)
M365: dict[str, Any] = {
    "CreationTime": "2026-03-02T10:00:00",
    "Id": "",
    "Operation": "UserLoggedIn",
    "OrganizationId": "11111111-2222-3333-4444-555555555555",
    "RecordType": 15,
    "ResultStatus": "Success",
    "UserKey": "10030000A1B2C3D4",
    "UserType": 0,
    "Version": 1,
    "Workload": "AzureActiveDirectory",
    "ClientIP": "203.0.113.7",
    "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
    "UserId": "alice@contoso.com",
    "ApplicationId": "00000002-0000-0ff1-ce00-000000000000",
    "ExtendedProperties": [{"Name": "RequestType", "Value": "OAuth2:Authorize"}],
}

BASE = {
    "entra_signin": SIGNIN,
    "entra_audit": AUDIT,
    "entra_risk": RISK,
    "okta": OKTA,
    "gworkspace_login": GOOGLE,
    "m365": M365,
}


def _mark(source: str, rec: dict[str, Any], marker: str) -> None:
    if source == "entra_risk":
        rec["properties"]["id"] = marker
    elif source == "okta":
        rec["uuid"] = marker
    elif source == "gworkspace_login":
        rec["id"]["uniqueQualifier"] = marker
    elif source == "m365":
        rec["Id"] = marker
    else:
        rec["id"] = marker


def _modified(rec: dict[str, Any]) -> list[dict[str, Any]]:
    return rec["targetResources"][0]["modifiedProperties"]


def _set(source: str, rec: dict[str, Any], field: str, value: Any) -> None:
    """Put ``value`` where the vendor documents ``field`` (None: the field is absent)."""
    f = field.lower()
    if source == "entra_signin":
        st = rec["status"]
        simple = {
            "authenticationrequirement": "authenticationRequirement",
            "useragent": "userAgent",
            "resourcedisplayname": "resourceDisplayName",
            "conditionalaccessstatus": "conditionalAccessStatus",
            "riskstate": "riskState",
            "clientapp": "clientAppUsed",
            "username": "userPrincipalName",
        }
        if f == "resulttype":
            st["errorCode"] = int(value)
        elif f == "resultdescription":
            st["failureReason"] = value
        elif f == "status":
            if str(value).lower() == "success":
                st["errorCode"] = 0
            else:
                st["additionalDetails"] = value
        elif f in simple:
            rec[simple[f]] = value
        elif f == "networklocationdetails":
            try:
                rec["networkLocationDetails"] = json.loads(value)
            except json.JSONDecodeError:
                rec["networkLocationDetails"] = [{"networkType": value}]
        elif f.startswith("devicedetail."):
            key = {"trusttype": "trustType", "iscompliant": "isCompliant", "deviceid": "deviceId"}[
                f.split(".", 1)[1]
            ]
            if value is None:
                rec["deviceDetail"].pop(key, None)
            elif key == "isCompliant":
                rec["deviceDetail"][key] = str(value).lower() == "true"
            else:
                rec["deviceDetail"][key] = value
        else:
            raise KeyError(field)
    elif source == "entra_audit":
        if f in ("activitydisplayname", "operationname", "properties.message", "activitytype"):
            rec["activityDisplayName"] = value
        elif f in ("category", "loggedbyservice"):
            rec[{"category": "category", "loggedbyservice": "loggedByService"}[f]] = value
        elif f in ("status", "properties.result"):
            if str(value).lower() in ("success", "failure"):
                rec["result"] = str(value).lower()
            else:
                rec["resultReason"] = value
        elif f == "failure_status_reason":
            rec["resultReason"] = value
        elif f == "additionaldetails.additionalinfo":
            rec["additionalDetails"].append({"key": "AdditionalInfo", "value": value})
        elif f in ("targetresources", "properties.targetresources"):
            rec["targetResources"][0]["displayName"] = value
        elif f == "targetresources.type":
            rec["targetResources"][0]["type"] = value
        elif f == "target":
            rec["targetResources"][0]["userPrincipalName"] = value
        elif f == "initiatedby":
            rec["initiatedBy"]["user"]["userPrincipalName"] = value
        elif (
            f == "targetresources.modifiedproperties" or f == "targetresources.modifiedproperties.displayname"
        ):
            _modified(rec).append({"displayName": value, "oldValue": "[]", "newValue": "[]"})
        elif f == "targetresources.modifiedproperties.newvalue":
            mods = _modified(rec) or [{"displayName": "X", "oldValue": "[]"}]
            mods[-1]["newValue"] = value
            rec["targetResources"][0]["modifiedProperties"] = mods
        elif f == "consentcontext.isadminconsent":
            _modified(rec).append(
                {
                    "displayName": "ConsentContext.IsAdminConsent",
                    "oldValue": None,
                    "newValue": f'"{str(value).title()}"',
                }
            )
        else:
            raise KeyError(field)
    elif source == "entra_risk":
        rec["properties"][{"riskeventtype": "riskEventType"}[f]] = value
    elif source == "okta":
        parts = field.split(".")
        if parts[0] == "target":
            rec["target"][0][parts[1]] = value
            return
        node = rec
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = (str(value).lower() == "true") if parts[-1] == "isProxy" else value
    elif source == "gworkspace_login":
        if f == "protopayload.servicename":
            rec["id"]["applicationName"] = str(value).removesuffix(".googleapis.com")
        elif f == "protopayload.metadata.event.eventname":
            rec["events"][0]["name"] = value
        else:
            raise KeyError(field)
    elif source == "m365":
        top = {
            "operation": "Operation",
            "workload": "Workload",
            "eventsource": "Workload",
            "resultstatus": "ResultStatus",
            "objectid": "ObjectId",
            "applicationid": "ApplicationId",
            "directionality": "Directionality",
            "deliveryaction": "DeliveryAction",
        }
        if f in top:
            rec[top[f]] = value
        elif f == "status":  # the service writes Succeeded / Failed
            rec["ResultStatus"] = {"success": "Succeeded", "failure": "Failed"}.get(str(value).lower(), value)
        elif f == "eventname":
            if re.fullmatch(r"[A-Z][a-z]+-\w+", str(value)):
                rec["Operation"] = value  # an Exchange cmdlet
            else:  # a Security & Compliance alert
                rec["Operation"], rec["Name"] = "AlertTriggered", value
        elif f == "payload":
            rec["Data"] = json.dumps({"Cmdlet": value})
        elif f == "requesttype":
            rec["ExtendedProperties"] = [{"Name": "RequestType", "Value": value}]
        else:
            raise KeyError(field)


def _text(value: SigmaString) -> str:
    """A string the Sigma string matches: wildcards become surrounding text."""
    out = []
    for i, p in enumerate(value.s):
        if p == SpecialChars.WILDCARD_MULTI:
            out.append("pre " if i == 0 else " post")
        elif p == SpecialChars.WILDCARD_SINGLE:
            out.append("x")
        else:
            out.append(p)
    return "".join(out)


def _near(text: str) -> str:
    """The same text with the first letter of each word the rule asked for changed (a near miss)."""
    core = text.removeprefix("pre ").removesuffix(" post")
    words = [
        ("q" if w[:1].lower() != "q" else "z") + w[1:] if w[:1].isalpha() else w + "q"
        for w in core.split(" ")
    ]
    return text.replace(core, " ".join(words), 1)


def _items(det: SigmaDetection) -> list[SigmaDetectionItem]:
    """The items of one detection; of a list of maps (OR), the first map's."""
    subs = [i for i in det.detection_items if isinstance(i, SigmaDetection)]
    if subs:
        return _items(subs[0])
    return list(det.detection_items)


def _values(items: list[SigmaDetectionItem]) -> dict[str, Any]:
    """field -> a value satisfying every item on it (texts of several items joined)."""
    out: dict[str, list[Any]] = {}
    for item in items:
        chosen = item.value if item.value_linking is ConditionAND else item.value[:1]
        for v in chosen:
            if isinstance(v, SigmaString):
                out.setdefault(item.field, []).append(_text(v))
            elif isinstance(v, SigmaNumber):
                out.setdefault(item.field, []).append(v.number)
            elif isinstance(v, SigmaBool):
                out.setdefault(item.field, []).append("true" if v.boolean else "false")
            elif isinstance(v, SigmaNull):
                out.setdefault(item.field, []).append(None)
            elif isinstance(v, SigmaRegularExpression):
                raise ValueError("no generic text for a regular expression")
    return {f: (" ".join(str(p) for p in vs) if len(vs) > 1 else vs[0]) for f, vs in out.items()}


def _assign(source: str, rec: dict[str, Any], items: list[SigmaDetectionItem]) -> list[tuple[str, Any]]:
    """Satisfy every item; returns (field, value) as set."""
    done = list(_values(items).items())
    for field, value in done:
        _set(source, rec, field, value)
    return done


def _chosen(condition: str, names: list[str]) -> tuple[list[str], list[str]]:
    """(detections to satisfy, negated detections) of a simple Sigma condition."""
    cond = condition.split(" or ")[0] if " or " in condition and "(" not in condition else condition
    neg: list[str] = []
    pos: list[str] = []
    for term in [t.strip() for t in cond.split(" and ")]:
        target = neg if term.startswith("not ") else pos
        term = term.removeprefix("not ").strip()
        m = re.fullmatch(r"(1|all) of (\S+)", term)
        if m:
            found = [n for n in names if fnmatch.fnmatch(n, m.group(2))]
            target += found if m.group(1) == "all" else found[:1]
        else:
            target.append(term)
    return pos, neg


def build(
    rule: SigmaRule,
    source: str,
    stem: str,
    extra: dict[str, Any] | None = None,
    miss_extra: dict[str, Any] | None = None,
) -> tuple[dict, dict]:
    """(hit, near miss) records for one rule (``extra`` / ``miss_extra``: values set by hand)."""
    det = rule.detection.detections
    pos, neg = _chosen(str(rule.detection.condition[0]), list(det))
    hit = copy.deepcopy(BASE[source])
    set_items = _assign(source, hit, [i for name in pos for i in _items(det[name])])
    for field, value in (extra or {}).items():
        _set(source, hit, field, value)
    miss = copy.deepcopy(hit) if (neg or miss_extra) else copy.deepcopy(BASE[source])
    if miss_extra:
        for field, value in miss_extra.items():
            _set(source, miss, field, value)
    elif neg:  # the rule's own exclusion makes the near miss
        _assign(source, miss, _items(det[neg[0]]))
    else:  # every value of the rule one letter (or one unit) off
        for field, value in set_items:
            if isinstance(value, int | float):
                near: Any = value + 1
            elif value is None:
                near = "x"
            elif str(value).lower() in ("true", "false"):
                near = "false" if str(value).lower() == "true" else "true"
            else:
                near = _near(str(value))
            _set(source, miss, field, near)
    _mark(source, hit, f"{stem}-hit")
    _mark(source, miss, f"{stem}-miss")
    return hit, miss


def load(path: Path) -> SigmaRule:
    return SigmaCollection.from_yaml(path.read_text("utf-8")).rules[0]
