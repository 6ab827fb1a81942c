"""Okta System Log events -> canonical events (mapping data in ``okta_map``)."""

from __future__ import annotations

from typing import Any

from idwatch.sources import okta_map as m
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    lit,
    output_select,
    rfc3339,
    rules_table,
    sub_list,
    unnest_envelopes,
    values_table,
)

NAME = "okta"


def _is_log_event(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    keys = {k.lower() for k in record}
    return "eventtype" in keys and bool(keys & {"published", "displaymessage", "legacyeventtype", "outcome"})


def sniff(record: dict[str, Any]) -> bool:
    """An Okta LogEvent (keys in any case), bare or in one of the envelopes of ``okta_map.SHAPES``.

    AWS CloudTrail also has an ``eventType``, but none of published / displayMessage /
    legacyEventType / outcome.
    """
    if _is_log_event(record):
        return True
    data = record.get("data")
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        return str(record.get("eventType", "")).startswith("com.okta.event_hook") or any(
            _is_log_event(e) for e in data["events"][:1]
        )
    return any(_is_log_event(record.get(key)) for key in m.WRAPPER_KEYS)


def select_sql(view: str) -> str:
    x = Extract(column="ev", fold=True)
    event_type = x("$.eventType")
    published = x("$.published")
    uuid = x("$.uuid")
    actor_id = x("$.actor.id")
    actor_alt = x("$.actor.alternateId")
    targets = x("$.target")
    result = x("$.outcome.result")
    reason_text = x("$.outcome.reason")
    client_ip = x("$.client.ipAddress")
    chain_ip = x("$.request.ipChain[0].ip")
    ua = x("$.client.userAgent.rawUserAgent")
    session = x("$.authenticationContext.externalSessionId", "$.debugContext.debugData.rootSessionId")
    device = x("$.device.id", "$.debugContext.debugData.deviceFingerprint")
    factor = x("$.debugContext.debugData.factor", "$.debugContext.debugData.factorType")
    asn = x("$.securityContext.asNumber")
    as_org = x("$.securityContext.asOrg")
    is_proxy = x("$.securityContext.isProxy")
    display = x("$.displayMessage")
    placeholders = ", ".join(lit(u) for u in m.PLACEHOLDER_UUIDS)
    no_ip = ", ".join(lit(v) for v in m.NO_ADDRESS)

    event_map = rules_table("et", m.EVENT_TYPES)
    result_map = values_table("rs", ("rs_key", "rs_outcome"), m.RESULTS)
    factor_text = "coalesce(factor, tgt_authenticator, reason_text)"

    out = {
        "time": rfc3339("published"),
        "event_id": f"""CASE WHEN uuid IS NULL THEN NULL
            WHEN regexp_full_match(lower(uuid), '{m.UUID_PATTERN}') AND lower(uuid) NOT IN ({placeholders})
              AND uuid_bodies = 1 THEN uuid
            ELSE uuid || '#' || left(sha256(body_key), 16) END""",
        "tenant": """coalesce(org,
            nullif(split_part(lower(trim(coalesce(tgt_user, actor_alt))), '@', 2), ''))""",
        "account": account_sql("coalesce(tgt_user, actor_alt)"),
        "account_exists": """CASE WHEN lower(actor_id) = 'unknown' THEN FALSE
                              WHEN tgt_user IS NOT NULL THEN CASE WHEN tgt_user_id LIKE '00u%' THEN TRUE END
                              WHEN actor_id LIKE '00u%' THEN TRUE END""",
        "activity": "activity",
        "step": "CASE WHEN activity = et_activity THEN et_step END",
        "method": "method",
        "outcome": "outcome",
        "reason": """CASE WHEN outcome <> 'failure' THEN NULL
                      WHEN lower(actor_id) = 'unknown' AND activity = 'sign_in' THEN 'unknown_account'
                      WHEN et_reason IS NOT NULL THEN et_reason
                      WHEN activity = 'mfa_challenge' AND mapped_reason = 'bad_password'
                        THEN 'verification_failed'
                      ELSE coalesce(mapped_reason, 'other') END""",
        "src_ip": "ip",
        "user_agent": "ua",
        "device_id": "device",
        "session_id": "session",
        "asn": "try_cast(asn AS BIGINT)",
        "asn_org": "as_org",
        "network_type": "CASE WHEN lower(is_proxy) = 'true' THEN 'proxy' END",
        "detail": """CASE
            WHEN event_type IN ('user.account.lock', 'user.account.lock.limit') THEN 'locked'
            WHEN event_type IN ('user.account.unlock', 'user.account.unlock_by_admin') THEN 'unlocked'
            WHEN event_type = 'user.lifecycle.suspend' THEN 'suspended'
            WHEN activity = 'mfa_method_change'
              THEN concat_ws(': ', event_type, coalesce(factor, tgt_authenticator))
            ELSE display END""",
        "_skip": "CASE WHEN event_type IS NOT NULL AND et_activity IS NULL THEN 'okta:' || event_type END",
        "_error": """CASE WHEN event_type IS NULL THEN 'not an Okta System Log event: no eventType'
                      WHEN et_activity IS NOT NULL AND outcome IS NULL
                        THEN 'Okta event without a known outcome.result' END""",
    }

    return f"""
WITH e AS ({unnest_envelopes(view, ["$.data.events"], [f"$.{k}" for k in m.WRAPPER_KEYS], ["$.source"])}),
s AS (
  SELECT _file, _raw, _line, rec AS ev, regexp_extract(_env[1], '{m.ORG_FROM_SOURCE}', 1) AS org, {x.select()}
  FROM e
),
f AS (
  SELECT _file, _line, _raw, ev, nullif(org, '') AS org,
    {event_type} AS event_type, {published} AS published, {uuid} AS uuid,
    {actor_id} AS actor_id, {actor_alt} AS actor_alt, {targets} AS targets,
    upper({result}) AS result, {reason_text} AS reason_text,
    -- Okta writes a missing address as the string "null": the proxy chain may still have it
    coalesce(CASE WHEN lower({client_ip}) NOT IN ({no_ip}) THEN {client_ip} END,
             CASE WHEN lower({chain_ip}) NOT IN ({no_ip}) THEN {chain_ip} END) AS ip, {ua} AS ua,
    {session} AS session, {device} AS device, {factor} AS factor, {asn} AS asn, {as_org} AS as_org,
    {is_proxy} AS is_proxy, {display} AS display
  FROM s
),
fk AS (
  -- what tells two events apart, whatever their spelling (key case, envelope, whitespace)
  SELECT f.*, concat_ws('|', published, event_type, actor_id, actor_alt, result, reason_text, ip,
                        session, targets, display) AS body_key
  FROM f
),
tl AS (
  SELECT fk.*, {sub_list("targets")} AS target_list,
    -- one uuid over distinct bodies (a placeholder, or a test / replay tool's constant)
    CASE WHEN uuid IS NULL THEN 0
         WHEN min(hash(body_key)) OVER (PARTITION BY uuid) = max(hash(body_key)) OVER (PARTITION BY uuid)
           THEN 1
         ELSE 2 END AS uuid_bodies
  FROM fk
),
t AS (
  SELECT tl.*,
    list_filter(target_list, lambda e: e->>'type' = 'User')[1] AS tgt_user_obj,
    list_filter(target_list,
        lambda e: e->>'type' IN ('AuthenticatorEnrollment', 'Authenticator'))[1]->>'displayName'
        AS tgt_authenticator
  FROM tl
),
tu AS (
  SELECT t.* EXCLUDE (target_list, tgt_user_obj),
    tgt_user_obj->>'alternateId' AS tgt_user, tgt_user_obj->>'id' AS tgt_user_id,
    lower({factor_text}) AS factor_low, lower(reason_text) AS reason_low
  FROM t
),
j AS (
  SELECT tu.*, et.*, rs_outcome,
    {case_like("factor_low", m.FACTORS, lowered=True)} AS factor_method,
    {case_like("reason_low", m.REASONS, lowered=True)} AS mapped_reason
  FROM tu
  LEFT JOIN {event_map} ON et_key = event_type
  LEFT JOIN {result_map} ON rs_key = result
),
k AS (
  SELECT j.*,
    CASE WHEN et_key = 'user.authentication.verify' AND factor_method = 'password' THEN 'sign_in'
         ELSE et_activity END AS activity,
    coalesce(et_method, factor_method) AS method,
    CASE WHEN et_outcome IS NOT NULL THEN et_outcome
         WHEN et_activity = 'account_lock' THEN 'success'
         ELSE rs_outcome END AS outcome
  FROM j
)
SELECT
  {output_select(out, NAME)}
FROM k
"""
