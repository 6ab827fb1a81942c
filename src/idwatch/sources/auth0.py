"""Auth0 tenant logs -> canonical events (mapping data in ``auth0_map``)."""

from __future__ import annotations

from typing import Any

from idwatch.sources import auth0_map as m
from idwatch.sources.vendor_sql import (
    NO_ACCOUNT,
    Extract,
    account_sql,
    case_like,
    contact_hash,
    lit,
    mask_phones,
    output_select,
    rfc3339,
    rules_table,
    sub_list,
    values_table,
)

NAME = "auth0"

_AUTH0_KEYS = {"date", "type", "log_id"}


def sniff(record: dict[str, Any]) -> bool:
    """An Auth0 log event, bare or wrapped by a log stream as {log_id, data}, or that wrapper as
    the ``detail`` of an Amazon EventBridge event (source ``aws.partner/auth0.com/...``)."""
    detail = record.get("detail")
    if isinstance(detail, dict) and str(record.get("source", "")).startswith(m.EVENTBRIDGE_SOURCE):
        return sniff(detail)
    data = record.get("data")
    if isinstance(data, dict) and "type" in data and ({"log_id", "date"} & (set(record) | set(data))):
        return True
    return set(record) >= _AUTH0_KEYS or ({"date", "type", "description"} <= set(record) and "ip" in record)


def select_sql(view: str) -> str:
    x = Extract()

    def both(path: str) -> str:
        return x(f"$.data.{path}", f"$.{path}", f"$.detail.data.{path}", f"$.detail.{path}")

    code = both("type")
    date = both("date")
    log_id = x("$.log_id", "$.data.log_id", "$._id", "$.detail.log_id", "$.detail.data.log_id")
    user_name = both("user_name")
    user_id = both("user_id")
    ip = both("ip")
    ua = both("user_agent")
    tenant = f"coalesce({both('tenant_name')}, {both('hostname')})"
    country = both("location_info.country_code")
    description = both("description")
    phone = both("details.authenticator.phone_number")
    strategy_type = both("strategy_type")
    strategy = both("strategy")
    error_message = both("details.error.message")
    prompts = both("details.prompts")
    fallback = x(*(f"$.data.{p}" for p in m.ACCOUNT_FALLBACKS), *(f"$.{p}" for p in m.ACCOUNT_FALLBACKS))
    session = both("details.session_id")

    type_map = rules_table("a0", m.TYPES)
    enrolled = case_like("description", m.ENROLL_METHODS)
    strategy_map = values_table("sm", ("sm_key", "s_method"), m.STRATEGY_METHODS)
    type_strategy_map = values_table("st", ("st_key", "st_method"), m.STRATEGY_METHODS)
    prompt_names = f"array_to_string(list_transform({sub_list('prompts')}, lambda p: p->>'name'), ' ')"

    out = {
        "time": rfc3339("date"),
        "event_id": "log_id",
        "tenant": "tenant",
        # a failure that names no identifier is still an attempt (from its address): NO_ACCOUNT
        "account": f"""coalesce({account_sql("coalesce(user_name, user_id, fallback)")},
                        CASE WHEN a0_outcome = 'failure' THEN {lit(NO_ACCOUNT)} END)""",
        "account_exists": """CASE WHEN a0_key = 'fu' OR reason = 'unknown_account' THEN FALSE
                              WHEN user_id IS NOT NULL THEN TRUE END""",
        "activity": "a0_activity",
        "step": "a0_step",
        "method": f"""coalesce(a0_method,
                       CASE WHEN a0_activity = 'mfa_method_change' THEN {enrolled}
                            WHEN a0_activity = 'sign_in' THEN coalesce(st_method, s_method, prompt_method)
                       END)""",
        "outcome": "a0_outcome",
        "reason": "reason",
        "src_ip": "ip",
        "user_agent": "ua",
        "session_id": "session",
        "country": "CASE WHEN length(country) = 2 THEN upper(country) END",
        "contact_hash": f"CASE WHEN a0_activity = 'mfa_method_change' THEN {contact_hash('phone')} END",
        "detail": f"CASE WHEN a0_key = 'ublkdu' THEN 'unblocked' ELSE {mask_phones('description')} END",
        "_skip": """CASE WHEN code IS NOT NULL AND a0_activity IS NULL THEN 'auth0:' || code
                     WHEN code IS NOT NULL AND coalesce(user_name, user_id, fallback) IS NULL
                       AND a0_outcome IS DISTINCT FROM 'failure'
                       THEN 'auth0:' || code || ':no_account' END""",
        "_error": "CASE WHEN code IS NULL THEN 'not an Auth0 log event: no type' END",
    }
    return f"""
WITH s AS (
  SELECT _file, _line, _raw, {x.select()} FROM {view}
),
f AS (
  SELECT _file, _line, _raw,
    {code} AS code, {date} AS date, {log_id} AS log_id, {user_name} AS user_name, {user_id} AS user_id,
    {ip} AS ip, {ua} AS ua, {tenant} AS tenant, {country} AS country, {description} AS description,
    {phone} AS phone, {session} AS session, lower({strategy_type}) AS strategy_type,
    lower({strategy}) AS strategy, {error_message} AS error_message, {fallback} AS fallback,
    {prompts} AS prompts
  FROM s
),
j AS (
  SELECT f.*, a0.*, st.st_method, sm.s_method,
    {case_like(prompt_names, m.PROMPT_METHODS)} AS prompt_method,
    {case_like("coalesce(error_message, description)", m.ERROR_MESSAGES)} AS msg_reason
  FROM f
  LEFT JOIN {type_map} ON a0_key = code
  LEFT JOIN {type_strategy_map} ON st.st_key = strategy_type
  LEFT JOIN {strategy_map} ON sm.sm_key = strategy
),
k AS (
  SELECT j.*,
    CASE WHEN a0_outcome = 'failure' THEN
      CASE WHEN a0_reason IS NULL OR a0_reason = 'other' THEN coalesce(msg_reason, a0_reason, 'other')
           ELSE a0_reason END END AS reason
  FROM j
)
SELECT
  {output_select(out, NAME)}
FROM k
"""
