"""Microsoft Entra ID sign-in and audit logs -> canonical events.

One SELECT handles the three shapes (Graph objects, Azure diagnostic records, Sentinel table
rows): every field is a coalesce over the shapes' paths, because a record has exactly one shape.
What the codes and activity names mean lives in ``entra_map`` (also the source of the docs).
"""

from __future__ import annotations

from typing import Any

from idwatch.sources import entra_map as m
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    contact_hash,
    first_of_list,
    lit,
    mask_phones,
    output_select,
    rfc3339,
    rules_table,
    sub,
    sub_list,
    unnest_envelopes,
    values_table,
)

NAME = "entra"

_SIGNIN_KEYS = {"userPrincipalName", "createdDateTime", "status", "appDisplayName", "ipAddress"}
_AUDIT_KEYS = {"activityDisplayName", "loggedByService", "initiatedBy", "targetResources"}
_DIAG_CATEGORIES = (
    set(m.SIGNIN_TABLES)
    | set(m.AUDIT_TABLES)
    | set(m.SKIPPED_SIGNIN_TABLES)
    | {
        "RiskyUsers",
        "UserRiskEvents",
        "ProvisioningLogs",
        "ADFSSignInLogs",
        "RiskyServicePrincipals",
        "ServicePrincipalRiskEvents",
        "MicrosoftGraphActivityLogs",
        "NetworkAccessTrafficLogs",
    }
)


def _ci(record: dict[str, Any], key: str) -> Any:
    """A top-level value by case-insensitive key (some exporters lower-case top-level keys)."""
    if key in record:
        return record[key]
    low = key.lower()
    for k, v in record.items():
        if k.lower() == low:
            return v
    return None


def sniff(record: dict[str, Any]) -> bool:
    """Graph signIn / directoryAudit, diagnostic record, or Sentinel SigninLogs / AuditLogs row,
    bare or in an Event Hub message (``{"records": [...]}``)."""
    for key in m.ENVELOPE_LISTS:
        inner = record.get(key.removeprefix("$."))
        if isinstance(inner, list) and inner and isinstance(inner[0], dict):
            return _sniff_one(inner[0])
    return _sniff_one(record)


def _sniff_one(record: dict[str, Any]) -> bool:
    table = _ci(record, "Type")
    if isinstance(table, str) and (
        table in m.SIGNIN_TABLES or table in m.AUDIT_TABLES or table in m.SKIPPED_SIGNIN_TABLES
    ):
        return True
    category = _ci(record, "category")
    if isinstance(_ci(record, "properties"), dict) and isinstance(category, str):
        resource = str(_ci(record, "resourceId") or "")
        return category in _DIAG_CATEGORIES or "microsoft.aadiam" in resource.lower()
    keys = set(record)
    if len(_AUDIT_KEYS & keys) >= 3:
        return True
    if _graph_risk_kind(record):
        return True
    return {"userPrincipalName", "createdDateTime"} <= keys and len(_SIGNIN_KEYS & keys) >= 4


#: Graph ID Protection objects (learn.microsoft.com/graph/api/resources/riskdetection and
#: .../riskyuser): not attempts, skipped by kind and kept so Sigma rules and the state-actor
#: warning evidence (riskEventType ``nationStateIP``) can read them.
_RISK_DETECTION_KEYS = {"riskEventType", "riskLevel", "detectedDateTime", "userPrincipalName"}
_RISKY_USER_KEYS = {"riskLevel", "riskState", "riskLastUpdatedDateTime", "userPrincipalName"}


def _graph_risk_kind(record: dict[str, Any]) -> str | None:
    keys = set(record)
    if keys >= _RISK_DETECTION_KEYS:
        return "riskDetection"
    if keys >= _RISKY_USER_KEYS:
        return "riskyUser"
    return None


def update_user_ctes(prev: str, mods: str, name_key: str, new_key: str) -> str:
    """CTEs ``upd_u, upd_v, upd_w`` over ``prev`` reading an "Update user" change list.

    ``mods`` is a column holding the list of changed properties (JSON objects with the property
    name under ``name_key`` and its new value under ``new_key``; Graph and the Management
    Activity API spell them differently). Adds ``mod_names``, ``changed_props``,
    ``upd_activity`` (per ``entra_map.UPDATE_USER_PROPERTIES``, NULL when no listed property
    changed) and ``contact_value`` (the new phone / email, to be hashed, never stored).
    The caller selects FROM ``upd_w``.
    """
    recovery = ", ".join(lit(p) for p, a, _ in m.UPDATE_USER_PROPERTIES if a == "recovery_info_change")
    mfa = ", ".join(lit(p) for p, a, _ in m.UPDATE_USER_PROPERTIES if a == "mfa_method_change")
    hashed = ", ".join(lit(p) for p, _, h in m.UPDATE_USER_PROPERTIES if h)
    contact_keys = ", ".join(sub("contact_elem", f"$.{k}") for k in m.STRONG_AUTH_CONTACT_KEYS)
    return f"""upd_u AS (
  SELECT {prev}.*,
    list_transform({mods}, lambda p: p->>'{name_key}') AS mod_names,
    array_to_string(list_filter(list_transform({mods}, lambda p: p->>'{name_key}'),
        lambda n: n <> 'Included Updated Properties'), ', ') AS changed_props,
    list_filter({mods}, lambda p: p->>'{name_key}' IN ({hashed})
        AND p->>'{new_key}' IS NOT NULL AND p->>'{new_key}' NOT IN ('[]', '""', 'null', ''))[1]->>'{new_key}'
        AS contact_raw
  FROM {prev}
),
upd_v AS (
  SELECT upd_u.*,
    CASE WHEN len(list_intersect(mod_names, [{recovery}])) > 0 THEN 'recovery_info_change'
         WHEN len(list_intersect(mod_names, [{mfa}])) > 0 THEN 'mfa_method_change' END AS upd_activity,
    {first_of_list("contact_raw")} AS contact_elem
  FROM upd_u
),
upd_w AS (
  SELECT upd_v.*,
    CASE WHEN json_valid(contact_elem) AND json_type(contact_elem) = 'OBJECT'
         THEN coalesce({contact_keys}) ELSE contact_elem END AS contact_value
  FROM upd_v
)"""


def _in(expr: str, values: object) -> str:
    return f"({expr} IN ({', '.join(lit(v) for v in values)}))"


def select_sql(view: str) -> str:
    x = Extract()
    # --- record family
    table = x("$.Type", "$.type")
    props = x("$.properties")
    category = x("$.category", "$.Category")
    activity_name = x("$.activityDisplayName", "$.properties.activityDisplayName", "$.ActivityDisplayName")
    op_name = x("$.OperationName", "$.operationName", "$.operationname")
    risk_event = x("$.riskEventType")
    risky_user = x("$.riskLastUpdatedDateTime")
    # --- sign-in fields
    si_time = x(
        "$.createdDateTime", "$.properties.createdDateTime", "$.CreatedDateTime", "$.TimeGenerated", "$.time"
    )
    ev_id = x("$.id", "$.properties.id", "$.Id")
    upn = x("$.userPrincipalName", "$.properties.userPrincipalName", "$.UserPrincipalName")
    alt_name = x(
        "$.signInIdentifier",
        "$.properties.signInIdentifier",
        "$.SignInIdentifier",
        "$.AlternateSignInName",
        "$.properties.alternateSignInName",
    )
    user_id = x("$.userId", "$.properties.userId", "$.UserId")
    status_text = x("$.Status")
    status_details = x("$.status.additionalDetails", "$.properties.status.additionalDetails")
    event_types = x("$.signInEventTypes", "$.properties.signInEventTypes", "$.SignInEventTypes")
    code = x(
        "$.status.errorCode", "$.properties.status.errorCode", "$.ResultType", "$.resultType", "$.resulttype"
    )
    si_ip = x(
        "$.ipAddress", "$.properties.ipAddress", "$.IPAddress", "$.callerIpAddress", "$.calleripaddress"
    )
    ua = x("$.userAgent", "$.properties.userAgent", "$.UserAgent")
    device = x("$.deviceDetail.deviceId", "$.properties.deviceDetail.deviceId")
    device_text = x("$.DeviceDetail")
    session = x(
        "$.sessionId",
        "$.properties.sessionId",
        "$.SessionId",
        "$.correlationId",
        "$.properties.correlationId",
        "$.CorrelationId",
        "$.correlationid",
    )
    country = x("$.location.countryOrRegion", "$.properties.location.countryOrRegion")
    location_text = x("$.LocationDetails")
    location_code = x("$.Location")
    interactive = x("$.isInteractive", "$.properties.isInteractive", "$.IsInteractive")
    app = x("$.appDisplayName", "$.properties.appDisplayName", "$.AppDisplayName")
    tenant = x(
        "$.homeTenantId",
        "$.properties.homeTenantId",
        "$.HomeTenantId",
        "$.AADTenantId",
        "$.tenantId",
        "$.tenantid",
        "$.resourceTenantId",
        "$.properties.resourceTenantId",
    )
    mfa_method = x("$.mfaDetail.authMethod", "$.properties.mfaDetail.authMethod")
    mfa_text = x("$.MfaDetail")
    auth_details = x(
        "$.authenticationDetails", "$.properties.authenticationDetails", "$.AuthenticationDetails"
    )
    # --- audit fields
    au_time = x(
        "$.activityDateTime",
        "$.properties.activityDateTime",
        "$.ActivityDateTime",
        "$.TimeGenerated",
        "$.time",
    )
    result = x("$.result", "$.properties.result", "$.Result")
    result_reason = x("$.resultReason", "$.properties.resultReason", "$.ResultReason", "$.ResultDescription")
    initiated = x("$.initiatedBy", "$.properties.initiatedBy", "$.InitiatedBy")
    targets = x("$.targetResources", "$.properties.targetResources", "$.TargetResources")
    additional = x("$.additionalDetails", "$.properties.additionalDetails", "$.AdditionalDetails")
    caller_ip = x("$.callerIpAddress", "$.calleripaddress")
    au_ua = x("$.UserAgent")

    signin_tables = list(m.SIGNIN_TABLES)
    noninteractive = [k for k, v in m.SIGNIN_TABLES.items() if v == "noninteractive"]
    family = f"""CASE
      WHEN {_in("tbl", m.SKIPPED_SIGNIN_TABLES)} THEN 'skip'
      WHEN {_in("tbl", signin_tables)} THEN 'signin'
      WHEN {_in("tbl", m.AUDIT_TABLES)} OR activity_name IS NOT NULL THEN 'audit'
      WHEN tbl IS NOT NULL THEN 'skip'
      WHEN upn IS NOT NULL AND code_raw IS NOT NULL THEN 'signin'
      ELSE 'unknown' END"""

    code_map = rules_table("ec", m.ERROR_CODES)
    audit_map = rules_table("am", m.AUDIT_ACTIVITIES)
    result_map = values_table("ar", ("ar_key", "ar_outcome"), m.AUDIT_RESULTS)

    not_second = ", ".join(lit(v) for v in m.NOT_SECOND_FACTOR)
    details = f"coalesce(status_details, {sub('status_text', '$.additionalDetails')})"
    mfa_failure_reason = case_like(details, m.MFA_FAILURE_DETAILS, "'mfa_denied'")
    signin_method = f"""coalesce(ec_method,
        CASE WHEN ec_activity = 'mfa_challenge'
               THEN nullif({case_like("coalesce(mfa_method, auth_last)", m.AUTH_METHODS)}, 'password')
             WHEN noninteractive THEN 'token'
             ELSE {case_like("auth_first", m.AUTH_METHODS)} END)"""

    audit_step = f"""(CASE WHEN am_key = 'Self-service password reset flow activity progress'
                      THEN {case_like("result_reason", m.SSPR_STEPS)} ELSE am_step END)"""
    out = {
        "time": f"""CASE WHEN fam = 'audit' THEN {rfc3339("au_time")}
                     ELSE {rfc3339("coalesce(si_time, au_time, risky_time)")} END""",
        "event_id": "ev_id",
        "tenant": """coalesce(tenant, nullif(split_part(
                       CASE WHEN fam = 'audit' THEN lower(coalesce(tgt_upn, init_upn))
                            ELSE lower(coalesce(upn, alt_name)) END, '@', 2), ''))""",
        "account": f"""CASE WHEN fam = 'audit' THEN {account_sql("coalesce(tgt_upn, init_upn)")}
                        ELSE {account_sql("coalesce(upn, alt_name)")} END""",
        "account_exists": """CASE WHEN fam = 'audit' AND tgt_upn IS NOT NULL THEN TRUE
                              WHEN fam <> 'signin' THEN NULL
                              WHEN code IN ('50034', '50128', '50059') THEN FALSE
                              WHEN user_id IS NOT NULL AND user_id NOT LIKE '00000000-0000-%'
                                THEN TRUE END""",
        "activity": """CASE WHEN fam = 'signin' THEN coalesce(ec_activity, 'sign_in')
                        WHEN am_key = 'Update user' THEN upd_activity ELSE am_activity END""",
        "step": f"CASE WHEN fam = 'signin' THEN ec_step ELSE {audit_step} END",
        "method": f"""CASE WHEN fam = 'signin' THEN {signin_method}
                      WHEN am_activity IN ('password_reset', 'mfa_method_change')
                        THEN coalesce(am_method, {case_like("result_reason", m.AUTH_METHODS)})
                      WHEN am_key = 'Update user' AND upd_activity = 'recovery_info_change'
                        THEN CASE WHEN strpos(contact_value, '@') > 0 THEN 'email'
                                  WHEN contact_value IS NOT NULL THEN 'sms' END
                      ELSE am_method END""",
        "outcome": f"""CASE WHEN fam = 'signin' THEN coalesce(ec_outcome, 'failure')
                       WHEN coalesce(am_outcome, ar_outcome) = 'success' AND {audit_step} = 'start'
                         THEN 'pending'
                       ELSE coalesce(am_outcome, ar_outcome) END""",
        "reason": f"""CASE WHEN fam = 'signin' THEN CASE WHEN ec_key IS NULL THEN 'other'
                        WHEN ec_key = '500121'
                          THEN {mfa_failure_reason}
                        ELSE ec_reason END
                      WHEN coalesce(am_outcome, ar_outcome) = 'failure'
                        THEN CASE WHEN {audit_step} = 'verify' THEN 'verification_failed' ELSE 'other' END
                   END""",
        "src_ip": "CASE WHEN fam = 'audit' THEN coalesce(init_ip, caller_ip) ELSE si_ip END",
        "user_agent": "CASE WHEN fam = 'audit' THEN coalesce(au_ua, addl_ua) ELSE ua END",
        "device_id": "CASE WHEN fam = 'signin' THEN nullif(coalesce(device, "
        + sub("device_text", "$.deviceId")
        + "), '') END",
        "session_id": "session",
        "country": "CASE WHEN fam = 'signin' AND length(country_any) = 2 THEN upper(country_any) END",
        "contact_hash": f"CASE WHEN am_key = 'Update user' THEN {contact_hash('contact_value')} END",
        "detail": f"""CASE WHEN fam = 'signin' THEN
                        CASE WHEN ec_key IS NULL
                               THEN 'error ' || coalesce(code, '?') || coalesce(' (' || app || ')', '')
                             ELSE app END
                      WHEN am_key = 'Update user' THEN 'changed ' || changed_props
                      WHEN am_key = 'Disable account' THEN 'disabled'
                      ELSE {mask_phones("result_reason")} END""",
        "_skip": """CASE
            WHEN fam = 'skip' THEN 'entra:' || tbl
            WHEN fam = 'audit' AND (am_key IS NULL OR am_activity IS NULL)
              THEN 'entra:' || coalesce(activity_name, op_name, '?')
            WHEN fam = 'audit' AND am_key = 'Update user' AND upd_activity IS NULL THEN 'entra:Update user'
            WHEN fam = 'audit' AND coalesce(init_ip, caller_ip) IS NULL
              THEN 'entra:' || activity_name || ':no_client_ip'
          END""",
        "_error": """CASE
            WHEN fam = 'unknown' THEN 'not an Entra ID sign-in or audit record'
            WHEN fam = 'signin' AND code IS NULL
              THEN 'sign-in without a numeric error code (status.errorCode / resultType)'
          END""",
    }

    mfa_values = {
        "event_id": "coalesce(ev_id, sha256(_raw)) || ':mfa'",
        "activity": "'mfa_challenge'",
        "step": "'verify'",
        "method": "second_method",
        "outcome": "'success'",
        "reason": "NULL",
        "detail": "app",
    }
    for col, value in mfa_values.items():
        out[col] = f"CASE WHEN mfa_row THEN {value} ELSE ({out[col]}) END"

    return f"""
WITH r AS ({unnest_envelopes(view, m.ENVELOPE_LISTS)}),
s AS (
  SELECT _file, _line, _raw, {x.select()} FROM r
),
f AS (
  SELECT _file, _line, _raw,
    coalesce({table}, CASE WHEN {props} IS NOT NULL THEN {category} END,
             CASE WHEN {risk_event} IS NOT NULL THEN 'riskDetection'
                  WHEN {risky_user} IS NOT NULL THEN 'riskyUser' END) AS tbl,
    {risky_user} AS risky_time,
    {activity_name} AS activity_name, {op_name} AS op_name,
    {si_time} AS si_time, {au_time} AS au_time, {ev_id} AS ev_id,
    {status_details} AS status_details, {event_types} AS event_types,
    {upn} AS upn, {alt_name} AS alt_name, {user_id} AS user_id,
    {code} AS code_raw, {status_text} AS status_text,
    {si_ip} AS si_ip, {ua} AS ua, {device} AS device, {device_text} AS device_text,
    {session} AS session, {country} AS country, {location_text} AS location_text,
    {location_code} AS location_code, {interactive} AS interactive, {app} AS app, {tenant} AS tenant,
    {mfa_method} AS mfa_method_raw, {mfa_text} AS mfa_text, {auth_details} AS auth_details,
    {result} AS result, {result_reason} AS result_reason, {initiated} AS initiated,
    {targets} AS targets, {additional} AS additional, {caller_ip} AS caller_ip, {au_ua} AS au_ua
  FROM s
),
g AS (
  SELECT *,
    {family} AS fam,
    CAST(try_cast(coalesce(code_raw, {sub("status_text", "$.errorCode")}) AS BIGINT) AS VARCHAR) AS code,
    coalesce(mfa_method_raw, {sub("mfa_text", "$.authMethod")}) AS mfa_method,
    {sub("auth_details", "$[0].authenticationMethod")} AS auth_first,
    {sub("auth_details", "$[#-1].authenticationMethod")} AS auth_last,
    list_filter({sub_list("auth_details")}, lambda e: lower(e->>'succeeded') = 'true'
        AND NOT starts_with(lower(coalesce(e->>'authenticationStepRequirement', '')), 'primary')
        AND {case_like("e->>'authenticationMethod'", m.AUTH_METHODS, "''")} NOT IN ('', {not_second}))[-1]
        ->>'authenticationMethod' AS auth_second,
    {_in("tbl", noninteractive)} OR lower(interactive) = 'false'
      OR coalesce(strpos(event_types, 'nonInteractiveUser') > 0, FALSE) AS noninteractive,
    coalesce(country, {sub("location_text", "$.countryOrRegion")}, location_code) AS country_any
  FROM f
),
a AS (
  SELECT g.*,
    CASE WHEN fam = 'audit' THEN {sub("initiated", "$.user.userPrincipalName")} END AS init_upn,
    CASE WHEN fam = 'audit' THEN nullif({sub("initiated", "$.user.ipAddress")}, '') END AS init_ip,
    CASE WHEN fam = 'audit' AND coalesce({sub("targets", "$[0].type")}, 'User') = 'User'
         THEN {sub("targets", "$[0].userPrincipalName")} END AS tgt_upn,
    CASE WHEN fam = 'audit' THEN list_filter({sub_list("additional")},
         lambda e: lower(e->>'key') = 'user-agent')[1]->>'value' END AS addl_ua,
    CASE WHEN fam = 'audit' THEN {sub_list("targets", "$[0].modifiedProperties[*]")} END AS mods
  FROM g
),
{update_user_ctes("a", "mods", "displayName", "newValue")},
fin AS (
  SELECT upd_w.*, ec.*, am.*, ar_outcome,
    {case_like("coalesce(mfa_method, auth_second)", m.AUTH_METHODS)} AS second_method,
    -- a successful sign-in that passed a second factor is also that factor's success
    unnest(CASE WHEN fam = 'signin' AND ec_key = '0' AND NOT coalesce(noninteractive, FALSE)
                  AND {case_like("coalesce(mfa_method, auth_second)", m.AUTH_METHODS, "''")}
                      NOT IN ('', {not_second})
                THEN [FALSE, TRUE] ELSE [FALSE] END) AS mfa_row
  FROM upd_w
  LEFT JOIN {code_map} ON fam = 'signin' AND ec_key = code
  LEFT JOIN {audit_map} ON fam = 'audit' AND am_key = trim(activity_name)
  LEFT JOIN {result_map} ON fam = 'audit' AND ar_key = lower(result)
)
SELECT
  {output_select(out, NAME)}
FROM fin
"""
