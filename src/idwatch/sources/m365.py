"""Microsoft 365 Management Activity records -> canonical events (mapping data in ``m365_map``,
sign-in codes and directory operations in ``entra_map``)."""

from __future__ import annotations

from typing import Any

from idwatch.sources import entra_map, m365_map
from idwatch.sources.entra import update_user_ctes
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    contact_hash,
    lit,
    output_select,
    rfc3339,
    rules_table,
    sub_list,
    values_table,
)

NAME = "m365"

_COMMON = {"creationtime", "operation", "workload", "recordtype", "userid"}


def sniff(record: dict[str, Any]) -> bool:
    """A Management Activity record (common schema, any key case) or a Sentinel OfficeActivity row."""
    if record.get("Type") == "OfficeActivity":
        return True
    keys = {k.lower() for k in record}
    return len(_COMMON & keys) >= 4


def _param_list(col: str) -> str:
    """``[{Name, Value}]`` (JSON text, possibly string-encoded) -> list of 'Name=Value' for detail."""
    wanted = ", ".join(lit(p) for p in m365_map.RULE_PARAMETERS)
    return f"""array_to_string(list_transform(
        list_filter({sub_list(col)}, lambda q: q->>'Name' IN ({wanted})),
        lambda q: (q->>'Name') || '=' || coalesce(q->>'Value', '')), ', ')"""


def select_sql(view: str) -> str:
    x = Extract(fold=True)
    operation = x("$.Operation")
    workload = x("$.Workload", "$.OfficeWorkload")
    record_type = x("$.RecordType")
    created = x("$.CreationTime", "$.TimeGenerated")
    ev_id = x("$.Id", "$.OfficeId")
    org = x("$.OrganizationId")
    user_id = x("$.UserId")
    object_id = x("$.ObjectId")
    client_ip = x("$.ClientIP", "$.ActorIpAddress", "$.ClientIPAddress", "$.Client_IPAddress")
    result_status = x("$.ResultStatus")
    logon_error = x("$.LogonError")
    error_number = x("$.ErrorNumber")
    extended = x("$.ExtendedProperties")
    parameters = x("$.Parameters", "$.OperationProperties")
    modified = x("$.ModifiedProperties")

    op_map = rules_table("mo", m365_map.OPERATIONS)
    dir_map = rules_table("am", entra_map.AUDIT_ACTIVITIES)
    code_map = rules_table("ec", entra_map.ERROR_CODES)
    logon_map = values_table("le", ("le_key", "le_code"), m365_map.LOGON_ERRORS)
    status_map = values_table("rs", ("rs_key", "rs_outcome"), m365_map.RESULT_STATUS)
    forwarding = ", ".join(lit(p) for p in m365_map.FORWARDING_PARAMETERS)
    no_user = ", ".join(lit(u) for u in m365_map.NO_USER_IDS)
    logout = case_like("request_type", [(p, "x") for p in m365_map.LOGOUT_REQUEST_TYPES])

    out = {
        "time": rfc3339("created"),
        "event_id": "ev_id",
        "tenant": "org",
        "account": account_sql("""CASE
            WHEN kind = 'mailbox' AND split_part(mailbox_param, '\\', 1) LIKE '%@%'
              THEN split_part(mailbox_param, '\\', 1)
            WHEN kind IN ('mailbox', 'directory') AND split_part(object_id, '\\', 1) LIKE '%@%'
              THEN split_part(object_id, '\\', 1)
            ELSE user_id END"""),
        "account_exists": "CASE WHEN code = '50034' THEN FALSE END",
        "activity": """CASE WHEN kind = 'signin' THEN coalesce(ec_activity, 'sign_in')
                        WHEN kind = 'mailbox' THEN mo_activity
                        WHEN kind = 'directory' AND am_key = 'Update user' THEN upd_activity
                        WHEN kind = 'directory' THEN am_activity END""",
        "step": "CASE WHEN kind = 'signin' THEN ec_step WHEN kind = 'directory' THEN am_step END",
        "method": "CASE WHEN kind = 'signin' THEN ec_method WHEN kind = 'directory' THEN am_method END",
        "outcome": """CASE WHEN kind = 'signin' THEN coalesce(
                          CASE WHEN mo_key = 'UserLoggedIn' THEN 'success' END, ec_outcome, 'failure')
                        ELSE coalesce(am_outcome, rs_outcome, 'success') END""",
        "reason": """CASE WHEN kind = 'signin' AND mo_key = 'UserLoginFailed'
                          AND coalesce(ec_outcome, 'failure') = 'failure'
                          THEN coalesce(ec_reason, CASE WHEN ec_key = '500121' THEN 'mfa_denied' END, 'other')
                        WHEN kind <> 'signin' AND coalesce(am_outcome, rs_outcome) = 'failure'
                          THEN 'other' END""",
        "src_ip": "ip",
        "user_agent": "ua",
        "contact_hash": f"CASE WHEN am_key = 'Update user' THEN {contact_hash('contact_value')} END",
        "detail": """CASE WHEN kind = 'mailbox' THEN concat_ws(' ', op, nullif(rule_params, ''))
                       WHEN kind = 'signin' AND code IS NOT NULL AND code <> '0' THEN 'error ' || code
                       WHEN am_key = 'Update user' THEN 'changed ' || changed_props END""",
        "_skip": f"""CASE WHEN op IS NULL THEN NULL
            WHEN kind = 'skip' THEN 'm365:' || op
            WHEN mo_key = 'UserLoggedIn' AND {logout} = 'x'
              THEN 'm365:UserLoggedIn:logout'
            WHEN mo_key = 'UserLoggedIn' AND lower(trim(coalesce(user_id, ''))) IN ({no_user})
              THEN 'm365:UserLoggedIn:no_user'
            WHEN kind = 'directory' AND (am_key IS NULL OR am_activity IS NULL) THEN 'm365:' || op
            WHEN kind = 'directory' AND am_key = 'Update user' AND upd_activity IS NULL THEN 'm365:' || op
            WHEN kind = 'directory' AND ip IS NULL THEN 'm365:' || op || ':no_client_ip'
          END""",
        "_error": "CASE WHEN op IS NULL THEN 'not a Microsoft 365 audit record: no Operation' END",
    }

    return f"""
WITH s AS (
  SELECT _file, _line, _raw, {x.select()} FROM {view}
),
f AS (
  SELECT _file, _line, _raw,
    {operation} AS op, {workload} AS workload, {record_type} AS record_type, {created} AS created,
    {ev_id} AS ev_id, {org} AS org, {user_id} AS user_id, {object_id} AS object_id,
    {client_ip} AS client_ip, lower({result_status}) AS result_status, {logon_error} AS logon_error,
    {error_number} AS error_number, {extended} AS extended, {parameters} AS parameters,
    {modified} AS modified
  FROM s
),
g AS (
  SELECT f.*, mo.*, rs_outcome,
    CASE
      WHEN mo_key IN ('UserLoggedIn', 'UserLoginFailed') THEN 'signin'
      WHEN mo_key = 'Set-Mailbox' AND NOT list_has_any(
          list_transform({sub_list("parameters")}, lambda q: q->>'Name'), [{forwarding}]) THEN 'skip'
      WHEN mo_activity = 'mailbox_rule' THEN 'mailbox'
      WHEN lower(workload) = 'azureactivedirectory' AND mo_key IS NULL THEN 'directory'
      ELSE 'skip' END AS kind,
    regexp_replace(regexp_replace(client_ip, '^\\[(.*)\\]:[0-9]+$', '\\1'),
                   '^([0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+):[0-9]+$', '\\1') AS ip,
    list_filter({sub_list("extended")}, lambda e: e->>'Name' = 'UserAgent')[1]->>'Value' AS ua,
    list_filter({sub_list("extended")}, lambda e: e->>'Name' = 'RequestType')[1]->>'Value' AS request_type,
    list_filter({sub_list("parameters")}, lambda q: q->>'Name' IN ('Identity', 'Mailbox'))[1]->>'Value'
      AS mailbox_param,
    {_param_list("parameters")} AS rule_params,
    list_transform({sub_list("modified")},
      lambda p: json_object('Name', p->>'Name', 'NewValue', p->>'NewValue')) AS mods
  FROM f
  LEFT JOIN {op_map} ON mo_key = op
  LEFT JOIN {status_map} ON rs_key = result_status
),
h AS (
  SELECT g.*,
    CAST(try_cast(coalesce(error_number, le_code,
        CASE WHEN mo_key = 'UserLoggedIn' THEN '0' END) AS BIGINT) AS VARCHAR) AS code
  FROM g LEFT JOIN {logon_map} ON le_key = logon_error
),
{update_user_ctes("h", "mods", "Name", "NewValue")}
SELECT
  {output_select(out, NAME)}
FROM upd_w
LEFT JOIN {code_map} ON kind = 'signin' AND ec_key = code
LEFT JOIN {dir_map} ON kind = 'directory' AND am_key = rtrim(trim(op), '.')
"""
