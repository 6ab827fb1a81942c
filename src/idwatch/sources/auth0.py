"""Auth0 tenant logs -> canonical events (mapping data in ``auth0_map``)."""

from __future__ import annotations

from typing import Any

from idwatch.sources import auth0_map as m
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    contact_hash,
    mask_phones,
    output_select,
    rfc3339,
    rules_table,
)

NAME = "auth0"

_AUTH0_KEYS = {"date", "type", "log_id"}


def sniff(record: dict[str, Any]) -> bool:
    """An Auth0 log event, bare or wrapped by a log stream as {log_id, data}."""
    data = record.get("data")
    if isinstance(data, dict) and "type" in data and ({"log_id", "date"} & (set(record) | set(data))):
        return True
    return set(record) >= _AUTH0_KEYS or ({"date", "type", "description"} <= set(record) and "ip" in record)


def select_sql(view: str) -> str:
    x = Extract()

    def both(path: str) -> str:
        return x(f"$.data.{path}", f"$.{path}")

    code = both("type")
    date = both("date")
    log_id = x("$.log_id", "$.data.log_id", "$._id")
    user_name = both("user_name")
    user_id = both("user_id")
    ip = both("ip")
    ua = both("user_agent")
    tenant = x("$.data.tenant_name", "$.tenant_name", "$.data.hostname", "$.hostname")
    country = both("location_info.country_code")
    description = both("description")
    phone = both("details.authenticator.phone_number")
    session = both("details.session_id")

    type_map = rules_table("a0", m.TYPES)

    out = {
        "time": rfc3339("date"),
        "event_id": "log_id",
        "tenant": "tenant",
        "account": account_sql("coalesce(user_name, user_id)"),
        "account_exists": "CASE WHEN a0_key = 'fu' THEN FALSE WHEN user_id IS NOT NULL THEN TRUE END",
        "activity": "a0_activity",
        "step": "a0_step",
        "method": f"""coalesce(a0_method, CASE WHEN a0_activity = 'mfa_method_change'
                       THEN {case_like("description", m.ENROLL_METHODS)} END)""",
        "outcome": "a0_outcome",
        "reason": "a0_reason",
        "src_ip": "ip",
        "user_agent": "ua",
        "session_id": "session",
        "country": "CASE WHEN length(country) = 2 THEN upper(country) END",
        "contact_hash": f"CASE WHEN a0_activity = 'mfa_method_change' THEN {contact_hash('phone')} END",
        "detail": f"CASE WHEN a0_key = 'ublkdu' THEN 'unblocked' ELSE {mask_phones('description')} END",
        "_skip": """CASE WHEN code IS NOT NULL AND a0_activity IS NULL THEN 'auth0:' || code
                     WHEN code IS NOT NULL AND coalesce(user_name, user_id) IS NULL
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
    {phone} AS phone, {session} AS session
  FROM s
)
SELECT
  {output_select(out, NAME)}
FROM f
LEFT JOIN {type_map} ON a0_key = code
"""
