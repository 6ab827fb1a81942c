"""Where each Sigma field of a vendor's rules lives in idwatch's stored rows.

One table per rule source. A Sigma field name (case-insensitive: SigmaHQ spells ``ResultDescription``
and ``Resultdescription``) maps to a *field column*: a SQL expression over one stored row
(canonical columns plus ``raw``, the vendor's record kept whole) that reads the same value in
every export shape idwatch accepts for that vendor (Graph API camelCase, Azure diagnostic
``properties.*``, Sentinel PascalCase with nested columns possibly JSON text; Reports API or Cloud
Logging for Google). A field absent from the table has no documented place in those records, so
the rule is reported as not converted with that reason instead of silently never matching.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldColumn:
    """One field column: its SQL and whether it holds a list (``many``) or one value."""

    sql: str
    many: bool = False
    note: str = ""


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sub(container: str, path: str) -> str:
    """``path`` inside ``container``, which may be a JSON object or JSON text of one (Sentinel)."""
    return (
        f"CASE WHEN json_valid(json_extract_string(raw, {_q(container)})) "
        f"THEN json_extract_string(json_extract_string(raw, {_q(container)}), {_q(path)}) END"
    )


def one(*paths: str) -> str:
    """First present of several JSON paths into ``raw``; ``Top>$.rest`` = nested, maybe as text."""
    parts = []
    for p in paths:
        if ">" in p:
            top, rest = p.split(">", 1)
            parts.append(_sub(top, rest))
        else:
            parts.append(f"json_extract_string(raw, {_q(p)})")
    return parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"


def many(*paths: str) -> str:
    """Every value at several list paths (``[*]``) into ``raw``, concatenated."""
    parts = []
    for p in paths:
        if ">" in p:
            top, rest = p.split(">", 1)
            parts.append(
                f"CASE WHEN json_valid(json_extract_string(raw, {_q(top)})) THEN coalesce("
                f"json_extract_string(json_extract_string(raw, {_q(top)}), {_q(rest)})::VARCHAR[], []) "
                "ELSE [] END"
                if "[*]" in rest
                else f"list_filter([{_sub(top, rest)}], lambda s: s IS NOT NULL)"
            )
        elif "[*]" in p:
            parts.append(f"coalesce(json_extract_string(raw, {_q(p)}), [])")
        else:
            parts.append(f"list_filter([json_extract_string(raw, {_q(p)})], lambda s: s IS NOT NULL)")
    return parts[0] if len(parts) == 1 else "list_concat(" + ", ".join(parts) + ")"


def _three(path: str) -> tuple[str, str, str]:
    """A sign-in / audit property in Graph, diagnostic and Sentinel spelling."""
    first, *rest = path.split(".")
    pascal = first[0].upper() + first[1:]
    tail = "$." + ".".join(rest) if rest else ""
    sentinel = f"$.{pascal}>{tail}" if rest else f"$.{pascal}"
    return f"$.{path}", f"$.properties.{path}", sentinel


def _prop(path: str) -> str:
    graph, diag, sentinel = _three(path)
    return one(graph, diag, sentinel)


def _pcol(path: str) -> FieldColumn:
    """A property read in the three Entra shapes, with the note the docs show."""
    first, *rest = path.split(".")
    pascal = ".".join([first[0].upper() + first[1:], *rest])
    return FieldColumn(_prop(path), note=f"`{path}` / `properties.{path}` / `{pascal}`")


# ---------------------------------------------------------------------------------------------
# Entra ID sign-in logs (Graph signIn, SignInLogs diagnostic, Sentinel SigninLogs)
_CODE = one("$.status.errorCode", "$.properties.status.errorCode", "$.resultType", "$.ResultType")
_FAILURE = one(
    "$.status.failureReason",
    "$.properties.status.failureReason",
    "$.resultDescription",
    "$.ResultDescription",
    "$.Status>$.failureReason",
)
_DETAILS = one(
    "$.status.additionalDetails", "$.properties.status.additionalDetails", "$.Status>$.additionalDetails"
)

ENTRA_SIGNIN: dict[str, FieldColumn] = {
    "resulttype": FieldColumn(_CODE, note="status.errorCode / resultType"),
    "resultdescription": FieldColumn(_FAILURE, note="status.failureReason / resultDescription"),
    # The portal's Status column (Success / Failure) and the status texts beside it.
    "status": FieldColumn(
        f"list_filter([CASE WHEN {_CODE} = '0' THEN 'Success' WHEN {_CODE} IS NOT NULL THEN 'Failure' END, "
        f"{_FAILURE}, {_DETAILS}], lambda s: s IS NOT NULL)",
        many=True,
        note="Success / Failure from the error code, failureReason, additionalDetails",
    ),
    "authenticationrequirement": _pcol("authenticationRequirement"),
    "useragent": _pcol("userAgent"),
    "resourcedisplayname": _pcol("resourceDisplayName"),
    "conditionalaccessstatus": _pcol("conditionalAccessStatus"),
    "riskstate": _pcol("riskState"),
    "clientapp": FieldColumn(_prop("clientAppUsed"), note="`clientAppUsed` (all shapes)"),
    "clientappused": _pcol("clientAppUsed"),
    "username": FieldColumn(_prop("userPrincipalName"), note="`userPrincipalName` (all shapes)"),
    "userprincipalname": _pcol("userPrincipalName"),
    "appdisplayname": _pcol("appDisplayName"),
    "ipaddress": _pcol("ipAddress"),
    "networklocationdetails": _pcol("networkLocationDetails"),
    "devicedetail.trusttype": _pcol("deviceDetail.trustType"),
    "devicedetail.iscompliant": _pcol("deviceDetail.isCompliant"),
    "devicedetail.ismanaged": _pcol("deviceDetail.isManaged"),
    "devicedetail.deviceid": _pcol("deviceDetail.deviceId"),
    "devicedetail.operatingsystem": _pcol("deviceDetail.operatingSystem"),
    "location.countryorregion": _pcol("location.countryOrRegion"),
    "authenticationprotocol": _pcol("authenticationProtocol"),
    "risklevelduringsignin": _pcol("riskLevelDuringSignIn"),
    "riskeventtypes": _pcol("riskEventTypes"),
}

# ---------------------------------------------------------------------------------------------
# Entra ID audit logs (Graph directoryAudit, AuditLogs diagnostic, Sentinel AuditLogs)
_ACTIVITY = one(
    "$.activityDisplayName",
    "$.properties.activityDisplayName",
    "$.ActivityDisplayName",
    "$.OperationName",
    "$.operationName",
)
_ACT_NOTE = (
    "`activityDisplayName` / `properties.activityDisplayName` / `ActivityDisplayName` / `OperationName`"
)
_TARGETS = ("$.targetResources", "$.properties.targetResources")


def _targets(rest: str) -> str:
    """Values under every target resource (``rest`` after ``[*]``), any shape."""
    return many(*(t + "[*]" + rest for t in _TARGETS), "$.TargetResources>$[*]" + rest)


_RESULT = one("$.result", "$.properties.result", "$.Result")
_REASON = one("$.resultReason", "$.properties.resultReason", "$.ResultReason")
_EXTRA = many(
    "$.additionalDetails[*].value",
    "$.properties.additionalDetails[*].value",
    "$.AdditionalDetails>$[*].value",
)
_MODIFIED = (
    "list_concat("
    + ", ".join(
        [f"coalesce(json_extract(raw, {_q(t + '[*].modifiedProperties[*]')}), [])" for t in _TARGETS]
        + [
            "CASE WHEN json_valid(json_extract_string(raw, '$.TargetResources')) THEN "
            "coalesce(json_extract(json_extract_string(raw, '$.TargetResources'), "
            "'$[*].modifiedProperties[*]'), []) "
            "ELSE [] END"
        ]
    )
    + ")"
)

ENTRA_AUDIT: dict[str, FieldColumn] = {
    "activitydisplayname": FieldColumn(_ACTIVITY, note=_ACT_NOTE),
    "operationname": FieldColumn(_ACTIVITY, note=_ACT_NOTE + " (the same operation name)"),
    # Azure Monitor's generic "message" of a directory audit is its operation name.
    "properties.message": FieldColumn(_ACTIVITY, note=_ACT_NOTE + " (Azure Monitor's message of an audit)"),
    "activitytype": FieldColumn(_ACTIVITY, note=_ACT_NOTE),
    "category": FieldColumn(
        one("$.properties.category", "$.Category", "$.category"),
        note="`properties.category` / `Category` / `category` (a diagnostic record's own is AuditLogs)",
    ),
    "loggedbyservice": _pcol("loggedByService"),
    "operationtype": FieldColumn(
        one("$.operationType", "$.properties.operationType", "$.AADOperationType"),
        note="`operationType` / `properties.operationType` / `AADOperationType`",
    ),
    "properties.result": FieldColumn(_RESULT, note="`result` / `properties.result` / `Result`"),
    "result": FieldColumn(_RESULT, note="`result` / `properties.result` / `Result`"),
    "resultreason": FieldColumn(_REASON, note="`resultReason` / `properties.resultReason` / `ResultReason`"),
    "status": FieldColumn(
        f"list_filter([{_RESULT}, {_REASON}], lambda s: s IS NOT NULL)",
        many=True,
        note="result, resultReason",
    ),
    "failure_status_reason": FieldColumn(
        f"list_filter(list_concat([{_REASON}], {_EXTRA}), lambda s: s IS NOT NULL)",
        many=True,
        note="resultReason, additionalDetails values",
    ),
    "additionaldetails.additionalinfo": FieldColumn(_EXTRA, many=True, note="additionalDetails[*].value"),
    "targetresources": FieldColumn(
        one("$.targetResources", "$.properties.targetResources", "$.TargetResources"), note="as JSON text"
    ),
    "properties.targetresources": FieldColumn(
        one("$.properties.targetResources", "$.targetResources", "$.TargetResources"), note="as JSON text"
    ),
    "targetresources.type": FieldColumn(_targets(".type"), many=True, note="`targetResources[*].type`"),
    "targetresources.displayname": FieldColumn(
        _targets(".displayName"), many=True, note="`targetResources[*].displayName`"
    ),
    "targetresources.userprincipalname": FieldColumn(
        _targets(".userPrincipalName"), many=True, note="`targetResources[*].userPrincipalName`"
    ),
    "target": FieldColumn(
        f"list_concat({_targets('.userPrincipalName')}, {_targets('.displayName')})",
        many=True,
        note="targetResources[*].userPrincipalName / displayName",
    ),
    "targetresources.modifiedproperties": FieldColumn(
        f"list_transform({_MODIFIED}, lambda p: CAST(p AS VARCHAR))", many=True, note="each as JSON text"
    ),
    "targetresources.modifiedproperties.displayname": FieldColumn(
        f"list_transform({_MODIFIED}, lambda p: p->>'displayName')",
        many=True,
        note="`targetResources[*].modifiedProperties[*].displayName`",
    ),
    "targetresources.modifiedproperties.newvalue": FieldColumn(
        f"list_transform({_MODIFIED}, lambda p: p->>'newValue')",
        many=True,
        note="`targetResources[*].modifiedProperties[*].newValue`",
    ),
    "targetresources.modifiedproperties.oldvalue": FieldColumn(
        f"list_transform({_MODIFIED}, lambda p: p->>'oldValue')",
        many=True,
        note="`targetResources[*].modifiedProperties[*].oldValue`",
    ),
    # A consent's flags are modified properties named ConsentContext.<flag>, values quoted.
    "consentcontext.isadminconsent": FieldColumn(
        f"list_transform(list_filter({_MODIFIED}, "
        "lambda p: p->>'displayName' = 'ConsentContext.IsAdminConsent'), "
        "lambda p: trim(p->>'newValue', '\"'))",
        many=True,
        note="modifiedProperties ConsentContext.IsAdminConsent newValue",
    ),
    "initiatedby": FieldColumn(
        many(
            "$.initiatedBy.user.userPrincipalName",
            "$.properties.initiatedBy.user.userPrincipalName",
            "$.InitiatedBy>$.user.userPrincipalName",
            "$.initiatedBy.app.displayName",
            "$.properties.initiatedBy.app.displayName",
            "$.InitiatedBy>$.app.displayName",
        ),
        many=True,
        note="initiatedBy.user.userPrincipalName / app.displayName",
    ),
}

# ---------------------------------------------------------------------------------------------
# Entra ID Protection risk detections (Graph riskDetection, UserRiskEvents diagnostic, Sentinel)
ENTRA_RISK: dict[str, FieldColumn] = {
    "riskeventtype": _pcol("riskEventType"),
    "risklevel": _pcol("riskLevel"),
    "riskstate": _pcol("riskState"),
    "riskdetail": _pcol("riskDetail"),
    "detectiontimingtype": _pcol("detectionTimingType"),
    "source": _pcol("source"),
    "userprincipalname": _pcol("userPrincipalName"),
    "ipaddress": _pcol("ipAddress"),
}

# ---------------------------------------------------------------------------------------------
# Google Workspace login audit (Reports API activity or Cloud Logging entry; one row per event)
GWORKSPACE: dict[str, FieldColumn] = {
    "protopayload.servicename": FieldColumn(
        "g_service", note="serviceName, or <applicationName>.googleapis.com"
    ),
    "protopayload.metadata.event.eventname": FieldColumn("g_event", note="the row's own event name"),
    "protopayload.authenticationinfo.principalemail": FieldColumn(
        one("$.protoPayload.authenticationInfo.principalEmail", "$.actor.email"),
        note="`protoPayload.authenticationInfo.principalEmail` / `actor.email`",
    ),
    "protopayload.requestmetadata.callerip": FieldColumn(
        one("$.protoPayload.requestMetadata.callerIp", "$.ipAddress"),
        note="`protoPayload.requestMetadata.callerIp` / `ipAddress`",
    ),
}

# ---------------------------------------------------------------------------------------------
# Microsoft 365 unified audit log (Management Activity API / Search-UnifiedAuditLog AuditData)
_M365_STATUS = (
    "CASE WHEN lower(json_extract_string(raw, '$.ResultStatus')) IN ('success', 'succeeded', 'true') "
    "THEN 'success' WHEN lower(json_extract_string(raw, '$.ResultStatus')) IN ('failed', 'failure', 'false') "
    "THEN 'failure' ELSE json_extract_string(raw, '$.ResultStatus') END"
)
M365: dict[str, FieldColumn] = {
    "operation": FieldColumn(one("$.Operation"), note="`Operation`"),
    "workload": FieldColumn(one("$.Workload"), note="`Workload`"),
    "resultstatus": FieldColumn(one("$.ResultStatus"), note="`ResultStatus`"),
    "objectid": FieldColumn(one("$.ObjectId"), note="`ObjectId`"),
    "applicationid": FieldColumn(one("$.ApplicationId"), note="`ApplicationId`"),
    "requesttype": FieldColumn(
        "(SELECT max(e->>'Value') FROM "
        "(SELECT unnest(coalesce(json_extract(raw, '$.ExtendedProperties[*]'), [])) AS e) "
        "WHERE e->>'Name' = 'RequestType')",
        note="ExtendedProperties[Name=RequestType].Value",
    ),
    "directionality": FieldColumn(one("$.Directionality"), note="`Directionality`"),
    "deliveryaction": FieldColumn(one("$.DeliveryAction"), note="`DeliveryAction`"),
    "userid": FieldColumn(one("$.UserId"), note="`UserId`"),
    "clientip": FieldColumn(one("$.ClientIP", "$.ClientIPAddress"), note="`ClientIP` / `ClientIPAddress`"),
    # The names of SigmaHQ's m365 threat_management / exchange rules: the record's service,
    # what happened (an alert's Name for SecurityComplianceCenter alerts, else the operation),
    # and the outcome normalised to success / failure.
    "eventsource": FieldColumn(one("$.Workload"), note="`Workload`"),
    "eventname": FieldColumn(
        "list_filter([json_extract_string(raw, '$.Name'), json_extract_string(raw, '$.Operation')], "
        "lambda s: s IS NOT NULL)",
        many=True,
        note="Name (alerts), Operation",
    ),
    "status": FieldColumn(_M365_STATUS, note="ResultStatus as success / failure"),
    "payload": FieldColumn(
        "list_filter([json_extract_string(raw, '$.Data'), json_extract_string(raw, '$.Parameters')], "
        "lambda s: s IS NOT NULL)",
        many=True,
        note="Data, Parameters (as JSON text)",
    ),
}

# ---------------------------------------------------------------------------------------------
# Okta System Log: Sigma names are the documented LogEvent paths; target is a list.
_OKTA_TOP = (
    "uuid",
    "published",
    "eventtype",
    "version",
    "severity",
    "legacyeventtype",
    "displaymessage",
    "actor",
    "client",
    "outcome",
    "transaction",
    "debugcontext",
    "authenticationcontext",
    "securitycontext",
    "request",
)


def okta_field(name: str) -> FieldColumn | None:
    """An Okta LogEvent path from its Sigma name (camelCase is kept as Okta documents it)."""
    low = name.lower()
    head = low.split(".", 1)[0]
    if head == "target":
        rest = name.split(".", 1)[1] if "." in name else ""
        return FieldColumn(
            many("$.target[*]" + ("." + rest if rest else "")), many=True, note=f"target[*].{rest}"
        )
    if head not in _OKTA_TOP:
        return None
    return FieldColumn(one("$." + name), note=f"`{name}`")


SOURCES: dict[str, dict[str, FieldColumn]] = {
    "entra_signin": ENTRA_SIGNIN,
    "entra_audit": ENTRA_AUDIT,
    "entra_risk": ENTRA_RISK,
    "gworkspace_login": GWORKSPACE,
    "m365": M365,
}


def lookup(source: str, field: str) -> FieldColumn | None:
    """The field column of a Sigma field for a rule source, or None (no documented place)."""
    if source == "okta":
        return okta_field(field)
    return SOURCES.get(source, {}).get(field.lower())
