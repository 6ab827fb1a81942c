"""Google Workspace Reports API activities -> canonical events (mapping data in ``gworkspace_map``)."""

from __future__ import annotations

from typing import Any

from idwatch.sources import gworkspace_map as m
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    lit,
    output_select,
    rfc3339,
    rules_table,
    sub,
    values_table,
)

NAME = "gworkspace"


def sniff(record: dict[str, Any]) -> bool:
    """A Reports API activity: kind admin#reports#activity, or an id with applicationName."""
    if str(record.get("kind", "")).startswith("admin#reports#activity"):
        return True
    ident = record.get("id")
    return isinstance(ident, dict) and "applicationName" in ident


#: Reports API parameter list -> one JSON object text {name: value}; the flattened shape passes.
_PARAMS_AS_OBJECT = """CASE
  WHEN params IS NULL OR NOT json_valid(params) THEN NULL
  WHEN json_type(params) = 'ARRAY' THEN '{' || array_to_string(list_transform(json_extract(params, '$[*]'),
      lambda p: to_json(p->>'name')::VARCHAR || ':' || coalesce(p->'value', p->'multiValue', p->'boolValue',
          p->'intValue', p->'multiIntValue', p->'messageValue', 'null'::JSON)::VARCHAR), ',') || '}'
  WHEN json_type(params) = 'OBJECT' THEN params
END"""


def _param(name: str) -> str:
    """A parameter's value; for multi-valued parameters, the first value."""
    return f"coalesce({sub('p', f'$.{name}[0]')}, {sub('p', f'$.{name}')})"


def select_sql(view: str) -> str:
    x = Extract()
    app = x("$.id.applicationName")
    ev_time = x("$.id.time")
    unique = x("$.id.uniqueQualifier")
    customer = x("$.id.customerId", "$.ownerDomain")
    actor = x("$.actor.email")
    ip = x("$.ipAddress")
    name = x("$.events[0].name", "$.name")
    params = x("$.events[0].parameters", "$.parameters")

    apps = ", ".join(lit(a) for a in m.APPLICATIONS)
    event_map = rules_table("ge", m.EVENTS)
    login_types = values_table("lt", ("lt_key", "lt_method"), m.LOGIN_TYPES)
    failure_types = values_table("ft", ("ft_key", "ft_reason"), m.FAILURE_TYPES)
    challenge = values_table("cm", ("cm_key", "cm_method"), m.CHALLENGE_METHODS)

    out = {
        "time": rfc3339("ev_time"),
        "event_id": "CASE WHEN uniq IS NOT NULL THEN concat_ws(':', app, ev_time, uniq) END",
        "tenant": "customer",
        "account": account_sql("coalesce(affected, actor)"),
        "activity": "ge_activity",
        "step": "ge_step",
        "method": """coalesce(ge_method,
                      CASE WHEN ge_activity = 'mfa_challenge' THEN cm_method ELSE lt_method END)""",
        "outcome": "outcome",
        "reason": """CASE WHEN outcome <> 'failure' THEN NULL
                      WHEN ge_reason IS NOT NULL THEN ge_reason
                      WHEN ge_activity = 'mfa_challenge' THEN 'verification_failed'
                      ELSE coalesce(ft_reason, 'other') END""",
        "src_ip": "ip",
        "detail": """CASE
            WHEN ge_activity = 'mailbox_rule' THEN 'forward to ' || coalesce(forward_to, '?')
            WHEN ge_activity = 'account_lock' THEN 'disabled: ' || replace(ev_name, 'account_disabled_', '')
            WHEN ge_activity = 'sign_in' AND suspicious = 'true' THEN 'marked suspicious by Google'
            WHEN ge_activity IN ('mfa_method_change', 'recovery_info_change', 'password_change') THEN ev_name
            END""",
        "_skip": """CASE WHEN app IS NOT NULL AND (ge_activity IS NULL OR NOT in_scope)
                     THEN 'gworkspace:' || app || ':' || coalesce(ev_name, '?') END""",
        "_error": """CASE WHEN app IS NULL THEN 'not a Google Workspace activity: no id.applicationName'
                      WHEN in_scope AND ev_name IS NULL THEN 'activity without an event name' END""",
    }

    return f"""
WITH s AS (
  SELECT _file, _line, _raw, {x.select()} FROM {view}
),
f AS (
  SELECT _file, _line, _raw,
    {app} AS app, {ev_time} AS ev_time, {unique} AS uniq, {customer} AS customer, {actor} AS actor,
    {ip} AS ip, trim({name}) AS ev_name, {params} AS params
  FROM s
),
g AS (
  SELECT f.*, coalesce(app IN ({apps}), FALSE) AS in_scope,
    CASE WHEN app IN ({apps}) THEN {_PARAMS_AS_OBJECT} END AS p
  FROM f
),
h AS (
  SELECT g.*,
    {_param("affected_email_address")} AS affected,
    {_param("login_type")} AS login_type,
    {_param("login_failure_type")} AS failure_type,
    {_param("login_challenge_method")} AS challenge_method,
    {_param("login_challenge_status")} AS challenge_status,
    {_param("email_forwarding_destination_address")} AS forward_to,
    lower({_param("is_suspicious")}) AS suspicious
  FROM g
),
j AS (
  SELECT h.*, ge.*, lt_method, ft_reason, cm_method,
    coalesce(ge_outcome, {case_like("challenge_status", m.CHALLENGE_STATUS, "'pending'")}) AS outcome
  FROM h
  LEFT JOIN {event_map} ON in_scope AND ge_key = ev_name
  LEFT JOIN {login_types} ON lt_key = login_type
  LEFT JOIN {failure_types} ON ft_key = failure_type
  LEFT JOIN {challenge} ON cm_key = challenge_method
)
SELECT
  {output_select(out, NAME)}
FROM j
"""
