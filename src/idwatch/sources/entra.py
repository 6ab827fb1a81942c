"""Microsoft Entra ID sign-in and audit logs -> canonical events.

One SELECT handles the three shapes (Graph objects, Azure diagnostic records, Sentinel table
rows): every field is a coalesce over the shapes' paths, because a record has exactly one shape.
What the codes and activity names mean lives in ``entra_map`` (also the source of the docs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    pairs_map,
    rfc3339,
    rules_map,
    sub,
    sub_list,
    unnest_envelopes,
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


def _careful_fields(x: Extract) -> dict[str, str]:
    """The record's fields (CTE ``f``) as positions of one ``json_extract_string`` list.

    Every field is a coalesce over the paths of the shapes (Graph, diagnostic record, Sentinel
    row): a record has exactly one shape. ``x`` collects the paths.
    """
    table = x("$.Type", "$.type")
    props = x("$.properties")
    category = x("$.category", "$.Category")
    risk_event = x("$.riskEventType")
    risky_user = x("$.riskLastUpdatedDateTime")
    return {
        # --- record family
        "tbl": f"""coalesce({table}, CASE WHEN {props} IS NOT NULL THEN {category} END,
             CASE WHEN {risk_event} IS NOT NULL THEN 'riskDetection'
                  WHEN {risky_user} IS NOT NULL THEN 'riskyUser' END)""",
        "risky_time": risky_user,
        "activity_name": x(
            "$.activityDisplayName", "$.properties.activityDisplayName", "$.ActivityDisplayName"
        ),
        "op_name": x("$.OperationName", "$.operationName", "$.operationname"),
        # --- sign-in fields
        "si_time": x(
            "$.createdDateTime",
            "$.properties.createdDateTime",
            "$.CreatedDateTime",
            "$.TimeGenerated",
            "$.time",
        ),
        "au_time": x(
            "$.activityDateTime",
            "$.properties.activityDateTime",
            "$.ActivityDateTime",
            "$.TimeGenerated",
            "$.time",
        ),
        "ev_id": x("$.id", "$.properties.id", "$.Id"),
        "status_details": x("$.status.additionalDetails", "$.properties.status.additionalDetails"),
        "event_types": x("$.signInEventTypes", "$.properties.signInEventTypes", "$.SignInEventTypes"),
        "upn": x("$.userPrincipalName", "$.properties.userPrincipalName", "$.UserPrincipalName"),
        "alt_name": x(
            "$.signInIdentifier",
            "$.properties.signInIdentifier",
            "$.SignInIdentifier",
            "$.AlternateSignInName",
            "$.properties.alternateSignInName",
        ),
        "user_id": x("$.userId", "$.properties.userId", "$.UserId"),
        "code_raw": x(
            "$.status.errorCode",
            "$.properties.status.errorCode",
            "$.ResultType",
            "$.resultType",
            "$.resulttype",
        ),
        "status_text": x("$.Status"),
        "si_ip": x(
            "$.ipAddress", "$.properties.ipAddress", "$.IPAddress", "$.callerIpAddress", "$.calleripaddress"
        ),
        "ua": x("$.userAgent", "$.properties.userAgent", "$.UserAgent"),
        "device": x("$.deviceDetail.deviceId", "$.properties.deviceDetail.deviceId"),
        "device_text": x("$.DeviceDetail"),
        "session": x(
            "$.sessionId",
            "$.properties.sessionId",
            "$.SessionId",
            "$.correlationId",
            "$.properties.correlationId",
            "$.CorrelationId",
            "$.correlationid",
        ),
        "country": x("$.location.countryOrRegion", "$.properties.location.countryOrRegion"),
        "location_text": x("$.LocationDetails"),
        "location_code": x("$.Location"),
        "interactive": x("$.isInteractive", "$.properties.isInteractive", "$.IsInteractive"),
        "app": x("$.appDisplayName", "$.properties.appDisplayName", "$.AppDisplayName"),
        "tenant": x(
            "$.homeTenantId",
            "$.properties.homeTenantId",
            "$.HomeTenantId",
            "$.AADTenantId",
            "$.tenantId",
            "$.tenantid",
            "$.resourceTenantId",
            "$.properties.resourceTenantId",
        ),
        "mfa_method_raw": x("$.mfaDetail.authMethod", "$.properties.mfaDetail.authMethod"),
        "mfa_text": x("$.MfaDetail"),
        "auth_details": x(
            "$.authenticationDetails", "$.properties.authenticationDetails", "$.AuthenticationDetails"
        ),
        # --- audit fields
        "result": x("$.result", "$.properties.result", "$.Result"),
        "result_reason": x(
            "$.resultReason", "$.properties.resultReason", "$.ResultReason", "$.ResultDescription"
        ),
        "initiated": x("$.initiatedBy", "$.properties.initiatedBy", "$.InitiatedBy"),
        "targets": x("$.targetResources", "$.properties.targetResources", "$.TargetResources"),
        "additional": x("$.additionalDetails", "$.properties.additionalDetails", "$.AdditionalDetails"),
        "caller_ip": x("$.callerIpAddress", "$.calleripaddress"),
        "au_ua": x("$.UserAgent"),
    }


def _auth_fields(items: str, get: Callable[[str, str], str]) -> str:
    """``auth_first, auth_last, auth_second`` of the list ``items`` of authenticationDetails.

    ``get(e, key)`` reads one key of an element: JSON text on the careful path, a struct on the
    fast one, so both hand the mapping the same values.
    """
    not_second = ", ".join(lit(v) for v in m.NOT_SECOND_FACTOR)
    method = case_like(get("e", "authenticationMethod"), m.AUTH_METHODS, "''")
    # a CASE, not AND: the method's patterns are matched only for the factors that passed
    second = f"""list_filter({items}, lambda e: CASE WHEN lower({get("e", "succeeded")}) = 'true'
        AND NOT starts_with(lower(coalesce({get("e", "authenticationStepRequirement")}, '')), 'primary')
        THEN {method} NOT IN ('', {not_second}) ELSE FALSE END)[-1]"""
    return (
        f"{get(f'({items})[1]', 'authenticationMethod')} AS auth_first, "
        f"{get(f'({items})[-1]', 'authenticationMethod')} AS auth_last, "
        f"{get(f'({second})', 'authenticationMethod')} AS auth_second"
    )


def _careful_front(view: str) -> str:
    """CTEs ending in ``f``: the fields of every record of ``view`` (envelopes unwrapped)."""
    x = Extract()
    picks = ", ".join(f"{expr} AS {name}" for name, expr in _careful_fields(x).items())
    return f"""
WITH r AS ({unnest_envelopes(view, m.ENVELOPE_LISTS)}),
s AS (
  SELECT _file, _line, _raw, {x.select()} FROM r
),
f0 AS (
  SELECT _file, _line, _raw, {picks} FROM s
),
f AS (
  SELECT f0.*, {_auth_fields("_auth", lambda e, k: f"{e}->>{lit(k)}")}
  FROM (SELECT f0.*, {sub_list("auth_details")} AS _auth FROM f0) f0
)"""


#: Columns of the typed fast path: the top-level keys of a Graph signIn / directoryAudit object
#: (v1.0 and beta), as Graph spells them, each value read as text (VARCHAR: a string unescaped,
#: anything else its JSON text, exactly what ``json_extract_string`` gives the careful path) or
#: as a struct of the nested keys the mapping reads (a value of another shape, e.g. a string
#: where Graph has an object, makes DuckDB refuse the block, whose lines then go careful).
FAST_TYPES: dict[str, str] = {
    "type": "VARCHAR",  # no Graph key, but nested ones (targetResources[].type) are common
    "id": "VARCHAR",
    "createdDateTime": "VARCHAR",
    "activityDateTime": "VARCHAR",
    "activityDisplayName": "VARCHAR",
    "userPrincipalName": "VARCHAR",
    "signInIdentifier": "VARCHAR",
    "userId": "VARCHAR",
    "status": "STRUCT(errorCode VARCHAR, additionalDetails VARCHAR)",
    "signInEventTypes": "VARCHAR",
    "ipAddress": "VARCHAR",
    "userAgent": "VARCHAR",
    "deviceDetail": "STRUCT(deviceId VARCHAR)",
    "sessionId": "VARCHAR",
    "correlationId": "VARCHAR",
    "location": "STRUCT(countryOrRegion VARCHAR)",
    "isInteractive": "VARCHAR",
    "appDisplayName": "VARCHAR",
    "homeTenantId": "VARCHAR",
    "tenantId": "VARCHAR",
    "resourceTenantId": "VARCHAR",
    "mfaDetail": "STRUCT(authMethod VARCHAR)",
    "authenticationDetails": (
        "STRUCT(authenticationMethod VARCHAR, succeeded VARCHAR, authenticationStepRequirement VARCHAR)[]"
    ),
    "result": "VARCHAR",
    "resultReason": "VARCHAR",
    "initiatedBy": "VARCHAR",
    "targetResources": "VARCHAR",
    "additionalDetails": "VARCHAR",
}
FAST_COLUMNS: list[str] = list(FAST_TYPES)

#: Top-level keys the careful path reads that the fast path may ignore: ``category`` counts only
#: next to ``properties`` (a diagnostic record), which sends a line careful.
_IGNORED_ON_FAST = frozenset({"category"})


def _careful_lines_pattern() -> str:
    """A regex matching every line the fast path cannot read exactly as the careful path does.

    Those are the lines naming a top-level key of another shape (Sentinel's ``Status``,
    ``Location``, ``Id``, a diagnostic record's ``properties``, an Event Hub ``records``
    envelope, Graph ID Protection objects ...): any key the careful path reads that is no
    fast column. A key can also be spelled with ``\\u`` escapes of ASCII letters, so such a
    line goes careful too. The pattern is built from the careful paths themselves; matching a
    nested key of that name as well only costs speed, never a different answer.
    """
    x = Extract()
    _careful_fields(x)
    tops = {re.match(r"\$\.([A-Za-z0-9_]+)", p).group(1) for p in x.paths}  # type: ignore[union-attr]
    tops |= {p.removeprefix("$.").split(".")[0] for p in m.ENVELOPE_LISTS}
    other = sorted(tops - set(FAST_TYPES) - _IGNORED_ON_FAST)
    return '"(?:' + "|".join(re.escape(k) for k in other) + r')"\s*:|\\u00[2-7][0-9a-fA-F]'


#: The lines ``sources.typed_json`` leaves to the careful path without parsing them.
CAREFUL_LINES = _careful_lines_pattern()


def _fast_front(src: str) -> str:
    """CTE ``f`` over the typed columns of ``src`` (no ``_file / _line / _raw``: attached later)."""

    def v(*exprs: str) -> str:
        refs = [f"nullif(r.{e}, '')" for e in exprs]
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    none = "NULL::VARCHAR"
    fields = {
        # ``Type``, ``properties`` and the risk keys send a line careful: only ``type`` is left
        "tbl": v("type"),
        "risky_time": none,
        "activity_name": v("activityDisplayName"),
        "op_name": none,
        "si_time": v("createdDateTime"),
        "au_time": v("activityDateTime"),
        "ev_id": v("id"),
        "status_details": v("status.additionalDetails"),
        "event_types": v("signInEventTypes"),
        "upn": v("userPrincipalName"),
        "alt_name": v("signInIdentifier"),
        "user_id": v("userId"),
        "code_raw": v("status.errorCode"),
        "status_text": none,
        "si_ip": v("ipAddress"),
        "ua": v("userAgent"),
        "device": v("deviceDetail.deviceId"),
        "device_text": none,
        "session": v("sessionId", "correlationId"),
        "country": v("location.countryOrRegion"),
        "location_text": none,
        "location_code": none,
        "interactive": v("isInteractive"),
        "app": v("appDisplayName"),
        "tenant": v("homeTenantId", "tenantId", "resourceTenantId"),
        "mfa_method_raw": v("mfaDetail.authMethod"),
        "mfa_text": none,
        "result": v("result"),
        "result_reason": v("resultReason"),
        "initiated": v("initiatedBy"),
        "targets": v("targetResources"),
        "additional": v("additionalDetails"),
        "caller_ip": none,
        "au_ua": none,
    }
    picks = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    return f"""
WITH f AS (
  SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _line, NULL::VARCHAR AS _raw,
    {picks}, {_auth_fields("r.authenticationDetails", lambda e, k: f"{e}.{k}")}
  FROM {src} r
)"""


def _mapping_sql(front: str, fast: bool) -> str:
    """Canonical rows of the fields of ``front`` (CTEs ending in ``f``: ``_file, _line, _raw``,
    the columns of :func:`_careful_fields` and ``auth_first, auth_last, auth_second``).

    ``fast``: the rows come from the typed fast path, one per record and in input order, so the
    mapping tables are looked up, never joined (a join may reorder rows), and a sign-in's
    second-factor row is not made here but named in ``_mfa_method`` (:func:`fast_expand`);
    the result then has no ``_file, _line, _raw`` and has ``_careful``, true for a record the
    careful path must read.
    """
    signin_tables = list(m.SIGNIN_TABLES)
    noninteractive = [k for k, v in m.SIGNIN_TABLES.items() if v == "noninteractive"]
    family = f"""CASE
      WHEN {_in("tbl", m.SKIPPED_SIGNIN_TABLES)} THEN 'skip'
      WHEN {_in("tbl", signin_tables)} THEN 'signin'
      WHEN {_in("tbl", m.AUDIT_TABLES)} OR activity_name IS NOT NULL THEN 'audit'
      WHEN tbl IS NOT NULL THEN 'skip'
      WHEN upn IS NOT NULL AND code_raw IS NOT NULL THEN 'signin'
      ELSE 'unknown' END"""

    code_map = rules_map(m.ERROR_CODES)
    audit_map = rules_map(m.AUDIT_ACTIVITIES)
    result_map = pairs_map(m.AUDIT_RESULTS)

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

    for col, value in MFA_ROW.items():
        out[col] = f"CASE WHEN mfa_row THEN {value} ELSE ({out[col]}) END"

    # a successful sign-in that passed a second factor is also that factor's success
    passed = "fam = 'signin' AND ec_key = '0' AND NOT coalesce(noninteractive, FALSE)"
    has_second = f"coalesce(second_method, '') NOT IN ('', {not_second})"
    if fast:
        rows = f"FALSE AS mfa_row, CASE WHEN {has_second} THEN second_method END AS _mfa_method"
    else:
        rows = f"unnest(CASE WHEN {has_second} THEN [FALSE, TRUE] ELSE [FALSE] END) AS mfa_row"
    select = output_select(out, NAME)
    if fast:
        # the second factor's id is built from the record's own (one without has it hashed
        # from its text, which the fast path's query does not see)
        select += ",\n  _mfa_method,\n  (_mfa_method IS NOT NULL AND ev_id IS NULL) AS _careful"

    mapped = f"""{front},
g AS (
  SELECT *,
    {family} AS fam,
    CAST(try_cast(coalesce(code_raw, {sub("status_text", "$.errorCode")}) AS BIGINT) AS VARCHAR) AS code,
    coalesce(mfa_method_raw, {sub("mfa_text", "$.authMethod")}) AS mfa_method,
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
lk AS (
  -- lookups, not joins: the fast path's rows must stay in input order
  SELECT upd_w.*,
    CASE WHEN fam = 'signin' THEN {code_map}[code] END AS ec,
    CASE WHEN fam = 'audit' THEN {audit_map}[trim(activity_name)] END AS am,
    CASE WHEN fam = 'audit' THEN {result_map}[lower(result)] END AS ar_outcome
  FROM upd_w
),
lk2 AS (
  SELECT lk.* EXCLUDE (ec, am),
    CASE WHEN ec IS NOT NULL THEN code END AS ec_key, ec.activity AS ec_activity, ec.step AS ec_step,
    ec.method AS ec_method, ec.outcome AS ec_outcome, ec.reason AS ec_reason,
    CASE WHEN am IS NOT NULL THEN trim(activity_name) END AS am_key, am.activity AS am_activity,
    am.step AS am_step, am.method AS am_method, am.outcome AS am_outcome, am.reason AS am_reason
  FROM lk
),
fin0 AS (
  SELECT lk2.*,
    -- the second factor's method matters only for a sign-in that passed (MFA_ROW)
    CASE WHEN {passed} THEN {case_like("coalesce(mfa_method, auth_second)", m.AUTH_METHODS)} END
      AS second_method
  FROM lk2
),
fin AS (
  SELECT fin0.*, {rows} FROM fin0
)
SELECT
  {select}
FROM fin
"""
    if fast:
        return f"SELECT * EXCLUDE (_file, _line, _raw) FROM ({mapped})"
    return mapped


#: The values of a sign-in's second-factor row that differ from the sign-in's own.
MFA_ROW: dict[str, str] = {
    "event_id": "coalesce(ev_id, sha256(_raw)) || ':mfa'",
    "activity": "'mfa_challenge'",
    "step": "'verify'",
    "method": "second_method",
    "outcome": "'success'",
    "reason": "NULL",
    "detail": "app",
}


def select_sql(view: str) -> str:
    """Canonical rows of the records of ``view`` (every accepted shape)."""
    return _mapping_sql(_careful_front(view), fast=False)


def fast_query_sql(src: str) -> str:
    """Canonical rows (and ``_mfa_method``, ``_careful``) of ``src``, with the :data:`FAST_TYPES` columns."""
    return _mapping_sql(_fast_front(src), fast=True)


def fast_expand(rows: pa.Table) -> pa.Table:
    """The fast path's validated rows with each second-factor row (``_mfa_method``) added.

    The careful path makes that row in SQL (an unnest); here it is a copy of the sign-in's row
    right after it, with :data:`MFA_ROW`'s values, which are constants, the sign-in's ``app``
    (its ``detail`` already: the code is ``0``) and its id (never NULL here, see ``_careful``).
    The copy's validation is the sign-in's: the fields it changes are valid enum values.
    """
    method = rows.column("_mfa_method")
    rows = rows.drop_columns(["_mfa_method"])
    has = pc.is_valid(method).to_numpy(zero_copy_only=False)
    if not has.any():
        return rows
    take = np.repeat(np.arange(rows.num_rows), 1 + has.astype(np.int64))
    second = np.zeros(len(take), dtype=bool)
    second[np.cumsum(1 + has.astype(np.int64))[has] - 1] = True
    out = rows.take(pa.array(take))
    mask = pa.array(second)
    method = method.take(pa.array(take))
    values = {
        "event_id": pc.binary_join_element_wise(out.column("event_id"), pa.scalar(":mfa"), ""),
        "activity": pa.scalar("mfa_challenge"),
        "step": pa.scalar("verify"),
        "method": method,
        "outcome": pa.scalar("success"),
        "reason": pa.scalar(None, pa.string()),
    }
    for name, value in values.items():
        i = out.schema.get_field_index(name)
        column = out.column(i)
        value = value.cast(column.type) if isinstance(value, pa.Scalar) else pc.cast(value, column.type)
        out = out.set_column(i, name, pc.if_else(mask, value, column))
    return out
