"""Microsoft 365 Management Activity records -> canonical events (mapping data in ``m365_map``,
sign-in codes and directory operations in ``entra_map``).

Two front ends read the same fields and hand them to one mapping (:func:`_mapping_sql`):
:func:`select_sql` extracts them from any record's text (keys in any case),
:func:`fast_query_sql` from the typed columns of the JSON Lines fast path
(``sources.typed_json``), which takes records whose keys are spelled as the Management Activity
API and Sentinel spell them; a line naming a key in another spelling goes careful
(:data:`CAREFUL_LINES`).
"""

from __future__ import annotations

import re
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
    pairs_map,
    rfc3339,
    rules_map,
    sub_list,
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


def _careful_fields(x: Extract) -> dict[str, str]:
    """The fields (CTE ``f``) as positions of one ``json_extract_string`` list (``x`` collects the paths)."""
    return {
        "op": x("$.Operation"),
        "workload": x("$.Workload", "$.OfficeWorkload"),
        "record_type": x("$.RecordType"),
        "created": x("$.CreationTime", "$.TimeGenerated"),
        "ev_id": x("$.Id", "$.OfficeId"),
        "org": x("$.OrganizationId"),
        "user_id": x("$.UserId"),
        "object_id": x("$.ObjectId"),
        "client_ip": x("$.ClientIP", "$.ActorIpAddress", "$.ClientIPAddress", "$.Client_IPAddress"),
        "result_status": f"lower({x('$.ResultStatus')})",
        "logon_error": x("$.LogonError"),
        "error_number": x("$.ErrorNumber"),
        "extended": x("$.ExtendedProperties"),
        "parameters": x("$.Parameters", "$.OperationProperties"),
        "modified": x("$.ModifiedProperties"),
    }


def _careful_front(view: str) -> str:
    """CTEs ending in ``f``: the fields of every record of ``view``."""
    x = Extract(fold=True)
    picks = ", ".join(f"{expr} AS {name}" for name, expr in _careful_fields(x).items())
    return f"""
WITH s AS (
  SELECT _file, _line, _raw, {x.select()} FROM {view}
),
f AS (
  SELECT _file, _line, _raw, {picks} FROM s
)"""


#: Columns of the typed fast path: the top-level keys the mapping reads, as the Management
#: Activity API and Sentinel's OfficeActivity table spell them, every value read as text
#: (VARCHAR: a string unescaped, anything else its JSON text, as ``json_extract_string`` gives
#: the careful path; the lists stay JSON text and are read as the careful path reads them).
FAST_TYPES: dict[str, str] = dict.fromkeys(
    (
        "Operation",
        "Workload",
        "OfficeWorkload",
        "RecordType",
        "CreationTime",
        "TimeGenerated",
        "Id",
        "OfficeId",
        "OrganizationId",
        "UserId",
        "ObjectId",
        "ClientIP",
        "ActorIpAddress",
        "ClientIPAddress",
        "Client_IPAddress",
        "ResultStatus",
        "LogonError",
        "ErrorNumber",
        "ExtendedProperties",
        "Parameters",
        "OperationProperties",
        "ModifiedProperties",
    ),
    "VARCHAR",
)
FAST_COLUMNS: list[str] = list(FAST_TYPES)


def _careful_lines_pattern() -> str:
    """A regex matching every line the fast path cannot read exactly as the careful path does:
    one naming a key the careful path reads in another spelling (``operation``, ``id`` ...: it
    tries each top-level key lower-cased too), or with ``\\u`` escapes of ASCII characters
    (which may spell a key). Built from the careful paths; a nested key of such a name only
    costs speed (the line goes careful), never a different answer.
    """
    x = Extract(fold=True)
    _careful_fields(x)
    tops = {re.match(r"\$\.([A-Za-z0-9_]+)", p).group(1) for p in x.paths}  # type: ignore[union-attr]
    other = sorted(tops - set(FAST_TYPES))
    return '"(?:' + "|".join(re.escape(k) for k in other) + r')"\s*:|\\u00[2-7][0-9a-fA-F]'


#: The lines ``sources.typed_json`` leaves to the careful path without parsing them.
CAREFUL_LINES = _careful_lines_pattern()


def _fast_front(src: str) -> str:
    """CTE ``f`` over the typed columns of ``src`` (no ``_file / _line / _raw``: attached later)."""

    def v(*keys: str) -> str:
        refs = [f"nullif(r.{k}, '')" for k in keys]
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    fields = {
        "op": v("Operation"),
        "workload": v("Workload", "OfficeWorkload"),
        "record_type": v("RecordType"),
        "created": v("CreationTime", "TimeGenerated"),
        "ev_id": v("Id", "OfficeId"),
        "org": v("OrganizationId"),
        "user_id": v("UserId"),
        "object_id": v("ObjectId"),
        "client_ip": v("ClientIP", "ActorIpAddress", "ClientIPAddress", "Client_IPAddress"),
        "result_status": f"lower({v('ResultStatus')})",
        "logon_error": v("LogonError"),
        "error_number": v("ErrorNumber"),
        "extended": v("ExtendedProperties"),
        "parameters": v("Parameters", "OperationProperties"),
        "modified": v("ModifiedProperties"),
    }
    picks = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    return f"""
WITH f AS (
  SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _line, NULL::VARCHAR AS _raw, {picks}
  FROM {src} r
)"""


def _mapping_sql(front: str, fast: bool) -> str:
    """Canonical rows of the fields of ``front`` (CTEs ending in ``f``: ``_file, _line, _raw``
    and the columns of :func:`_careful_fields`).

    The mapping tables are looked up, never joined: the fast path's rows must stay in input
    order. ``fast``: the result has no ``_file, _line, _raw`` and has ``_careful`` (false: a
    row the fast path cannot map is rejected, and rejected rows are read again carefully).
    """
    op_map = rules_map(m365_map.OPERATIONS)
    dir_map = rules_map(entra_map.AUDIT_ACTIVITIES)
    code_map = rules_map(entra_map.ERROR_CODES)
    logon_map = pairs_map(m365_map.LOGON_ERRORS)
    status_map = pairs_map(m365_map.RESULT_STATUS)
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
    select = output_select(out, NAME)
    if fast:
        select += ",\n  FALSE AS _careful"

    mapped = f"""{front},
g0 AS (
  SELECT f.*, {op_map}[op] AS mo, {status_map}[result_status] AS rs_outcome FROM f
),
g AS (
  SELECT g0.* EXCLUDE (mo),
    CASE WHEN mo IS NOT NULL THEN op END AS mo_key, mo.activity AS mo_activity, mo.step AS mo_step,
    mo.method AS mo_method, mo.outcome AS mo_outcome, mo.reason AS mo_reason,
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
  FROM g0
),
h AS (
  SELECT g.*,
    CAST(try_cast(coalesce(error_number, {logon_map}[logon_error],
        CASE WHEN mo_key = 'UserLoggedIn' THEN '0' END) AS BIGINT) AS VARCHAR) AS code
  FROM g
),
{update_user_ctes("h", "mods", "Name", "NewValue")},
lk AS (
  SELECT upd_w.*,
    CASE WHEN kind = 'signin' THEN {code_map}[code] END AS ec,
    CASE WHEN kind = 'directory' THEN {dir_map}[rtrim(trim(op), '.')] END AS am
  FROM upd_w
),
fin AS (
  SELECT lk.* EXCLUDE (ec, am),
    CASE WHEN ec IS NOT NULL THEN code END AS ec_key, ec.activity AS ec_activity, ec.step AS ec_step,
    ec.method AS ec_method, ec.outcome AS ec_outcome, ec.reason AS ec_reason,
    CASE WHEN am IS NOT NULL THEN rtrim(trim(op), '.') END AS am_key, am.activity AS am_activity,
    am.step AS am_step, am.method AS am_method, am.outcome AS am_outcome, am.reason AS am_reason
  FROM lk
)
SELECT
  {select}
FROM fin
"""
    if fast:
        return f"SELECT * EXCLUDE (_file, _line, _raw) FROM ({mapped})"
    return mapped


def select_sql(view: str) -> str:
    """Canonical rows of the records of ``view`` (every accepted shape)."""
    return _mapping_sql(_careful_front(view), fast=False)


def fast_query_sql(src: str) -> str:
    """Canonical rows (and ``_careful``) of ``src``, a relation with the :data:`FAST_TYPES` columns."""
    return _mapping_sql(_fast_front(src), fast=True)
