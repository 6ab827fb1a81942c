"""Google Workspace login activities -> canonical events, one per element of ``events``.

Reads Admin SDK Reports API activities and the same activities as Cloud Logging entries
(``protoPayload.metadata.event``); the mapping data is in ``gworkspace_map``.
"""

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
    values_table,
)

NAME = "gworkspace"


def sniff(record: dict[str, Any]) -> bool:
    """A Reports API activity (kind admin#reports#activity, or an id with applicationName), or the
    same activity as a Cloud Logging / Cloud Audit entry (protoPayload.metadata.event)."""
    if str(record.get("kind", "")).startswith("admin#reports#activity"):
        return True
    ident = record.get("id")
    if isinstance(ident, dict) and "applicationName" in ident:
        return True
    proto = record.get("protoPayload")
    return (
        isinstance(proto, dict)
        and isinstance(proto.get("metadata"), dict)
        and "event" in proto["metadata"]
        and str(proto.get("serviceName", "")).endswith(m.CLOUD_SERVICE_SUFFIX)
    )


#: A parameter list (Reports API ``parameters`` or Cloud Logging ``parameter``) -> one JSON object
#: text {name: value}; the flattened shape of SIEM exports (already an object) passes.
#: Key names as documented: Reports API ``events[].parameters[{name, value | multiValue | boolValue
#: | intValue | multiIntValue | messageValue}]``
#: (https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities); Cloud Logging
#: ``protoPayload.metadata.event[{eventName, eventType, parameter[{name, type, label, value |
#: multiStrValue | boolValue | intValue ...}]}]`` with ``metadata.activityId {timeUsec,
#: uniqQualifier}`` (https://cloud.google.com/logging/docs/audit/gsuite-login-samples).
_PARAMS_AS_OBJECT = """CASE
  WHEN params IS NULL OR NOT json_valid(params) THEN NULL
  WHEN json_type(params) = 'ARRAY' THEN '{' || array_to_string(list_transform(json_extract(params, '$[*]'),
      lambda p: to_json(p->>'name')::VARCHAR || ':' || coalesce(p->'value', p->'multiValue',
          p->'multiStrValue', p->'boolValue', p->'intValue', p->'multiIntValue', p->'messageValue',
          'null'::JSON)::VARCHAR), ',') || '}'
  WHEN json_type(params) = 'OBJECT' THEN params
END"""

#: Parameters read from each event, by the column name they get.
_PARAMS = {
    "affected": "affected_email_address",
    "login_type": "login_type",
    "failure_type": "login_failure_type",
    "challenge_method": "login_challenge_method",
    "challenge_status": "login_challenge_status",
    "forward_to": "email_forwarding_destination_address",
    "suspicious": "is_suspicious",
}


def _params_sql() -> tuple[str, str]:
    """Every parameter of :data:`_PARAMS` from ``p`` with one extraction (first value of a list)."""
    paths = []
    for name in _PARAMS.values():
        paths += [f"$.{name}[0]", f"$.{name}"]
    listing = ", ".join(lit(x) for x in paths)
    cols = ", ".join(
        f"coalesce(_pv[{2 * i + 1}], _pv[{2 * i + 2}]) AS {col}" for i, col in enumerate(_PARAMS)
    )
    return listing, cols


def select_sql(view: str) -> str:
    x = Extract()
    app = x("$.id.applicationName")
    service = x("$.protoPayload.serviceName")
    ev_time = x("$.id.time", "$.timestamp")
    time_usec = x("$.protoPayload.metadata.activityId.timeUsec")
    unique = x("$.id.uniqueQualifier", "$.protoPayload.metadata.activityId.uniqQualifier")
    customer = x("$.id.customerId", "$.ownerDomain")
    log_name = x("$.logName")
    actor = x("$.actor.email", "$.protoPayload.authenticationInfo.principalEmail")
    ip = x("$.ipAddress", "$.protoPayload.requestMetadata.callerIp")
    top_name = x("$.name")
    top_params = x("$.parameters")

    apps = ", ".join(lit(a) for a in m.APPLICATIONS)
    event_map = rules_table("ge", m.EVENTS)
    login_types = values_table("lt", ("lt_key", "lt_method"), m.LOGIN_TYPES)
    failure_types = values_table("ft", ("ft_key", "ft_reason"), m.FAILURE_TYPES)
    challenge = values_table("cm", ("cm_key", "cm_method"), m.CHALLENGE_METHODS)
    param_paths, param_cols = _params_sql()
    usec_time = f"strftime(make_timestamp(try_cast({time_usec} AS BIGINT)), '%Y-%m-%dT%H:%M:%S.%fZ')"

    out = {
        "time": "ev_ts",
        "event_id": """CASE WHEN uniq IS NOT NULL
                         THEN concat_ws(':', app, ev_ts, uniq, coalesce(ev_name, '?'), ev_idx) END""",
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
            WHEN ge_activity = 'sign_in' AND lower(suspicious) = 'true' THEN 'marked suspicious by Google'
            WHEN ge_activity IN ('mfa_method_change', 'recovery_info_change', 'password_change') THEN ev_name
            END""",
        "_skip": f"""CASE WHEN app IS NULL THEN NULL
                     WHEN in_scope AND ev_name IN ({", ".join(lit(k) for k in m.KEPT_KINDS)})
                       THEN 'gworkspace:' || ev_name
                     WHEN ge_activity IS NULL OR NOT in_scope
                       THEN 'gworkspace:' || app || ':' || coalesce(ev_name, '?') END""",
        "_error": """CASE WHEN app IS NULL
                        THEN 'not a Google Workspace activity: no application / serviceName'
                      WHEN in_scope AND ev_name IS NULL THEN 'activity without an event name' END""",
    }

    return f"""
WITH s AS (
  SELECT _file, _line, _raw, {x.select()},
    coalesce(nullif(json_extract(rec, '$.events[*]'), []),
             json_extract(rec, '$.protoPayload.metadata.event[*]')) AS evs
  FROM {view}
),
f AS (
  SELECT _file, _line, _raw,
    coalesce({app}, CASE WHEN {service} LIKE '%{m.CLOUD_SERVICE_SUFFIX}'
                         THEN replace({service}, '{m.CLOUD_SERVICE_SUFFIX}', '') END) AS app,
    {rfc3339(f"coalesce({usec_time}, {ev_time})")} AS ev_ts, {unique} AS uniq,
    coalesce({customer}, regexp_extract({log_name}, '^organizations/([^/]+)/', 1)) AS customer,
    {actor} AS actor, {ip} AS ip, {top_name} AS top_name, {top_params} AS top_params,
    -- one row per element of the activity's events (a record without any keeps one row)
    unnest(CASE WHEN len(evs) > 0 THEN evs ELSE [NULL::JSON] END) AS ev,
    unnest(CASE WHEN len(evs) > 0 THEN range(len(evs)) ELSE [0] END) AS ev_idx
  FROM s
),
g0 AS (
  SELECT f.* EXCLUDE (ev, top_name, top_params),
    trim(coalesce(ev->>'name', ev->>'eventName', top_name)) AS ev_name,
    coalesce(CAST(coalesce(ev->'parameters', ev->'parameter') AS VARCHAR), top_params) AS params
  FROM f
),
g AS (
  SELECT g0.*, coalesce(app IN ({apps}), FALSE) AS in_scope,
    CASE WHEN app IN ({apps}) THEN {_PARAMS_AS_OBJECT} END AS p
  FROM g0
),
h AS (
  SELECT g.* EXCLUDE (_pv), {param_cols}
  FROM (SELECT g.*, json_extract_string(p, [{param_paths}]) AS _pv FROM g) g
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
