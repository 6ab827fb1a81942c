"""Okta System Log events -> canonical events (mapping data in ``okta_map``).

Two front ends read the same fields and hand them to one mapping (:func:`_mapping_sql`):
:func:`select_sql` extracts them from any record's text (every shape, envelopes unwrapped),
:func:`fast_query_sql` from the typed columns of the JSON Lines fast path
(``sources.typed_json``), which takes the bare System Log LogEvents; every other record
(an envelope, lower-cased keys, not Okta) is marked ``_careful`` and left to the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from idwatch.sources import okta_map as m
from idwatch.sources.vendor_sql import (
    Extract,
    account_sql,
    case_like,
    lit,
    output_select,
    pairs_map,
    rfc3339,
    rules_map,
    sub_list,
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
        return str(record.get("eventType", "")).startswith(m.EVENT_HOOK_TYPE) or any(
            _is_log_event(e) for e in data["events"][:1]
        )
    return any(_is_log_event(record.get(key)) for key in m.WRAPPER_KEYS)


def _target_fields(items: str, get: Callable[[str, str], str]) -> str:
    """``tgt_user, tgt_user_id, tgt_authenticator, target_ids`` from the list ``items`` of targets.

    ``get(e, key)`` reads one key of an element: JSON text on the careful path, a struct on the
    fast one, so both hand the mapping the same values.
    """
    user = f"list_filter({items}, lambda e: {get('e', 'type')} = 'User')[1]"
    kinds = "('AuthenticatorEnrollment', 'Authenticator')"
    factor = f"list_filter({items}, lambda e: {get('e', 'type')} IN {kinds})[1]"
    ids = f"list_transform({items}, lambda e: {get('e', 'id')})"
    return (
        f"{get(f'({user})', 'alternateId')} AS tgt_user, {get(f'({user})', 'id')} AS tgt_user_id, "
        f"{get(f'({factor})', 'displayName')} AS tgt_authenticator, "
        f"nullif(array_to_string({ids}, ','), '') AS target_ids"
    )


def _careful_fields(x: Extract) -> dict[str, str]:
    """The fields as positions of one ``json_extract_string`` list (``x`` collects the paths)."""
    return {
        "event_type": x("$.eventType"),
        "published": x("$.published"),
        "uuid": x("$.uuid"),
        "actor_id": x("$.actor.id"),
        "actor_alt": x("$.actor.alternateId"),
        "targets": x("$.target"),
        "result": x("$.outcome.result"),
        "reason_text": x("$.outcome.reason"),
        "client_ip": x("$.client.ipAddress"),
        "chain_ip": x("$.request.ipChain[0].ip"),
        "ua": x("$.client.userAgent.rawUserAgent"),
        "session": x("$.authenticationContext.externalSessionId", "$.debugContext.debugData.rootSessionId"),
        "device": x("$.device.id", "$.debugContext.debugData.deviceFingerprint"),
        "factor": x("$.debugContext.debugData.factor", "$.debugContext.debugData.factorType"),
        "asn": x("$.securityContext.asNumber"),
        "as_org": x("$.securityContext.asOrg"),
        "is_proxy": x("$.securityContext.isProxy"),
        "display": x("$.displayMessage"),
    }


def _careful_front(view: str) -> str:
    """CTEs ending in ``f``: the fields of every record of ``view``, envelopes unwrapped.

    The record is parsed once for its fields and its envelope keys together; only an envelope's
    elements are parsed again.
    """
    x = Extract(column="rec", fold=True)
    fields = _careful_fields(x)
    paths = list(x.paths)
    hook_events = x("$.data.events")
    wrapped = [x(f"$.{k}") for k in m.WRAPPER_KEYS]
    source = x("$.source")
    event_type = fields["event_type"]
    elems = " ".join(
        [
            f"WHEN starts_with({hook_events}, '[') AND json_array_length({hook_events}) > 0 "
            f"THEN list_transform(json_extract({hook_events}, '$[*]'), lambda v: v::VARCHAR)",
            *(f"WHEN starts_with({w}, '{{') THEN [{w}]" for w in wrapped),
        ]
    )
    listing = ", ".join(lit(p) for p in paths)
    picks = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    return f"""
WITH o AS (
  SELECT _file, _line, _raw, {x.select()} FROM {view}
),
w AS (
  -- a record with its own eventType is a LogEvent, whatever other keys it has (a top-level
  -- "event" or "detail" of its own); any other record with an envelope key (an event hook's
  -- data.events, EventBridge's detail, a forwarder's event) is unwrapped
  SELECT _file, _line, _raw, _v,
    CASE WHEN {event_type} IS NULL OR lower({event_type}) LIKE {lit(m.EVENT_HOOK_TYPE + "%")}
      THEN CASE {elems} END END AS _elems,
    {source} AS _source
  FROM o
),
u AS (
  SELECT _file, _line, _v, _source, unnest(_elems) AS _inner FROM w WHERE _elems IS NOT NULL
),
s AS (
  SELECT _file, _line, _raw, _v, NULL::VARCHAR AS org FROM w WHERE _elems IS NULL
  UNION ALL
  SELECT _file, _line, _inner AS _raw, json_extract_string(_inner, [{listing}]) AS _v,
    nullif(regexp_extract(_source, {lit(m.ORG_FROM_SOURCE)}, 1), '') AS org
  FROM u
),
f0 AS (
  SELECT _file, _line, _raw, org, {picks} FROM s
),
f AS (
  SELECT f0.* EXCLUDE (targets, _targets),
    {_target_fields("_targets", lambda e, k: f"{e}->>{lit(k)}")}
  FROM (SELECT f0.*, {sub_list("targets")} AS _targets FROM f0) f0
)"""


#: Columns of the typed fast path: a bare LogEvent's top-level keys, as Okta spells them, with
#: the nested values needed typed VARCHAR (a number becomes its digits, as ``json_extract_string``
#: gives it on the careful path; a value of another shape makes the block go careful).
FAST_TYPES: dict[str, str] = {
    "eventType": "VARCHAR",
    "published": "VARCHAR",
    "uuid": "VARCHAR",
    "actor": "STRUCT(id VARCHAR, alternateId VARCHAR)",
    "target": "STRUCT(id VARCHAR, type VARCHAR, alternateId VARCHAR, displayName VARCHAR)[]",
    "outcome": "STRUCT(result VARCHAR, reason VARCHAR)",
    "client": "STRUCT(ipAddress VARCHAR, userAgent STRUCT(rawUserAgent VARCHAR))",
    "request": "STRUCT(ipChain STRUCT(ip VARCHAR)[])",
    "authenticationContext": "STRUCT(externalSessionId VARCHAR)",
    "debugContext": (
        "STRUCT(debugData STRUCT(rootSessionId VARCHAR, deviceFingerprint VARCHAR, "
        "factor VARCHAR, factorType VARCHAR))"
    ),
    "device": "STRUCT(id VARCHAR)",
    "securityContext": "STRUCT(asNumber VARCHAR, asOrg VARCHAR, isProxy VARCHAR)",
    "displayMessage": "VARCHAR",
}
FAST_COLUMNS: list[str] = list(FAST_TYPES)

#: Top-level keys the careful path reads that the fast path may ignore: the envelope keys count
#: only for a record without an eventType of its own (or an event hook delivery), which
#: ``_careful`` sends careful anyway; and LogEvents have nested keys of those names
#: (``request.ipChain[].source``, ``transaction.detail``), so matching them would send every
#: line careful.
_IGNORED_ON_FAST = frozenset({"data", "source", *m.WRAPPER_KEYS})

#: A JSON escape of an ASCII letter, digit or underscore (``\u0065ventType``): a key may be
#: spelled so. Other escapes (Okta's ``\u003d`` for ``=`` in debugData) never spell a key read.
_ESCAPED_KEY_CHAR = r"\\u00(?:3[0-9]|4[1-9a-fA-F]|5[0-9aAfF]|6[1-9a-fA-F]|7[0-9aA])"


def _careful_lines_pattern() -> str:
    """A regex matching every line the fast path cannot read exactly as the careful path does.

    Those name a top-level key the careful path reads that is no fast column: the lower-cased
    spellings it also tries (``eventtype``, ``displaymessage`` ...), or spell a key with
    ``\\u`` escapes. Built from the careful paths themselves, so a path added there is routed
    here too; matching a nested key of such a name only costs speed, never a different answer.
    """
    x = Extract(column="rec", fold=True)
    _careful_fields(x)
    for path in ("$.data.events", "$.source", *(f"$.{k}" for k in m.WRAPPER_KEYS)):
        x(path)
    tops = {re.match(r"\$\.([A-Za-z0-9_-]+)", p).group(1) for p in x.paths}  # type: ignore[union-attr]
    other = sorted(tops - set(FAST_TYPES) - _IGNORED_ON_FAST)
    return '"(?:' + "|".join(re.escape(k) for k in other) + r')"\s*:|' + _ESCAPED_KEY_CHAR


#: The lines ``sources.typed_json`` leaves to the careful path without parsing them.
CAREFUL_LINES = _careful_lines_pattern()


def _fast_front(src: str) -> str:
    """CTE ``f`` over the typed columns of ``src`` (no ``_file / _line / _raw``: attached later)."""

    def v(*exprs: str) -> str:
        refs = [f"nullif(r.{e}, '')" for e in exprs]
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    fields = {
        "event_type": v("eventType"),
        "published": v("published"),
        "uuid": v("uuid"),
        "actor_id": v("actor.id"),
        "actor_alt": v("actor.alternateId"),
        "result": v("outcome.result"),
        "reason_text": v("outcome.reason"),
        "client_ip": v("client.ipAddress"),
        "chain_ip": v("request.ipChain[1].ip"),
        "ua": v("client.userAgent.rawUserAgent"),
        "session": v("authenticationContext.externalSessionId", "debugContext.debugData.rootSessionId"),
        "device": v("device.id", "debugContext.debugData.deviceFingerprint"),
        "factor": v("debugContext.debugData.factor", "debugContext.debugData.factorType"),
        "asn": v("securityContext.asNumber"),
        "as_org": v("securityContext.asOrg"),
        "is_proxy": v("securityContext.isProxy"),
        "display": v("displayMessage"),
    }
    picks = ", ".join(f"{expr} AS {name}" for name, expr in fields.items())
    return f"""
WITH f AS (
  SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _line, NULL::VARCHAR AS _raw, NULL::VARCHAR AS org,
    {picks}, {_target_fields("r.target", lambda e, k: f"{e}.{k}")}
  FROM {src} r
)"""


def _mapping_sql(front: str, fast: bool) -> str:
    """The canonical rows of the fields of ``front`` (CTEs ending in ``f`` with
    ``_file, _line, _raw, org`` and the columns of :func:`_careful_fields`).

    ``fast``: the rows come from the typed fast path; the result then has no ``_file, _line,
    _raw`` and has ``_careful``, true for a record the careful path must read (no eventType:
    an envelope, lower-cased keys, not Okta; an event hook delivery).
    """
    no_ip = ", ".join(lit(v) for v in m.NO_ADDRESS)
    event_map = rules_map(m.EVENT_TYPES)
    result_map = pairs_map(m.RESULTS)
    factor_text = "coalesce(factor, tgt_authenticator, reason_text)"

    out = {
        "time": "time_text",
        # Okta's uuid with a digest of what tells events apart: a placeholder or a replay tool's
        # constant shared by distinct events never drops one as a duplicate (in one batch or
        # across runs), while the same event in any export shape keeps one id
        "event_id": "CASE WHEN uuid IS NOT NULL THEN uuid || '#' || left(sha256(body_key), 16) END",
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
    select = output_select(out, NAME)
    if fast:
        careful = f"event_type IS NULL OR lower(event_type) LIKE {lit(m.EVENT_HOOK_TYPE + '%')}"
        select += f",\n  ({careful}) AS _careful"
    mapped = f"""{front},
g AS (
  SELECT _file, _line, _raw, org, event_type, published, uuid, actor_id, actor_alt,
    tgt_user, tgt_user_id, tgt_authenticator, target_ids, upper(result) AS result, reason_text,
    -- Okta writes a missing address as the string "null": the proxy chain may still have it
    coalesce(CASE WHEN lower(client_ip) NOT IN ({no_ip}) THEN client_ip END,
             CASE WHEN lower(chain_ip) NOT IN ({no_ip}) THEN chain_ip END) AS ip,
    ua, session, device, factor, asn, as_org, is_proxy, display
  FROM f
),
t AS (
  SELECT g.*, {rfc3339("published")} AS time_text FROM g
),
tu AS (
  SELECT t.*,
    lower({factor_text}) AS factor_low, lower(reason_text) AS reason_low,
    -- what tells two events apart, whatever their spelling (key case, envelope, whitespace,
    -- a forwarder that drops null keys)
    concat_ws('|', time_text, event_type, actor_id, lower(actor_alt), result, reason_text, ip,
              session, target_ids, display) AS body_key
  FROM t
),
j AS (
  -- lookups, not joins: the fast path's rows must stay in input order
  SELECT tu.*, et.activity AS et_activity, et.step AS et_step, et.method AS et_method,
    et.outcome AS et_outcome, et.reason AS et_reason, rs_outcome, factor_method, mapped_reason
  FROM (
    SELECT tu.*, {event_map}[event_type] AS et, {result_map}[result] AS rs_outcome,
      {case_like("factor_low", m.FACTORS, lowered=True)} AS factor_method,
      {case_like("reason_low", m.REASONS, lowered=True)} AS mapped_reason
    FROM tu
  ) tu
),
k AS (
  SELECT j.*,
    CASE WHEN event_type = 'user.authentication.verify' AND factor_method = 'password' THEN 'sign_in'
         ELSE et_activity END AS activity,
    coalesce(et_method, factor_method) AS method,
    CASE WHEN et_outcome IS NOT NULL THEN et_outcome
         WHEN et_activity = 'account_lock' THEN 'success'
         ELSE rs_outcome END AS outcome
  FROM j
)
SELECT
  {select}
FROM k
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
