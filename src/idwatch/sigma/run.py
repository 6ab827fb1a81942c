"""Run converted Sigma rules over the store and return alerts shaped like the built-in ones.

Per vendor, the rows of that ``source`` in ``events`` and in the side table ``other_events``
(records idwatch keeps raw but does not model: admin, policy, risk events, Google's
government-backed attack warning ...) are staged once with every field column the rules use,
then each rule is one filtered, grouped query. A finding is one (rule, account, tenant, UTC
day): a rule that matches thousands of sign-ins of one account on one day is one alert with its
events, like idwatch's own detections. Every alert names the rule's id, level, author and licence.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import datetime

import duckdb
import pyarrow as pa

from idwatch.schema import ALERT_SCHEMA
from idwatch.sigma.convert import SigmaConversion
from idwatch.sigma.fields import lookup, one
from idwatch.sigma.pipelines import VENDOR, column_name

MAX_EVENT_IDS = 500  # evidence kept per alert, as the detection engine keeps

#: Score of a Sigma alert by the rule's level (idwatch's own detections score 0-100; a community
#: rule's level is its authors' judgement of how often a hit is malicious).
LEVEL_SCORE = {"informational": 20, "low": 35, "medium": 50, "high": 70, "critical": 85}
SEVERITY = {"informational": "low", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}
_RECON_TACTICS = ("attack.reconnaissance", "attack.discovery")

_ENTRA_SIGNIN_KIND = "lower(coalesce(kind, '')) LIKE '%signinlogs%'"
_ENTRA_RISK = (
    "(lower(coalesce(kind, '')) LIKE '%riskevents%' OR lower(coalesce(kind, '')) LIKE '%riskdetection%' OR "
    + one("$.riskEventType", "$.properties.riskEventType", "$.RiskEventType")
    + " IS NOT NULL)"
)
#: Which stored rows each rule source reads (an audit rule never reads a sign-in).
FAMILY: dict[str, str] = {
    "entra_signin": f"(activity IN ('sign_in', 'mfa_challenge') OR {_ENTRA_SIGNIN_KIND})",
    "entra_risk": _ENTRA_RISK,
    "entra_audit": (
        f"(NOT {_ENTRA_RISK} AND ((activity IS NOT NULL AND activity NOT IN ('sign_in', 'mfa_challenge')) "
        f"OR (kind IS NOT NULL AND NOT {_ENTRA_SIGNIN_KIND})))"
    ),
    "gworkspace_login": "TRUE",
    "m365": "TRUE",
    "okta": "TRUE",
}

#: Columns a vendor's staged rows derive besides the field columns.
_DERIVED: dict[str, dict[str, str]] = {
    "gworkspace": {
        # The row's own event: a kept record's kind ends with it; a stored event's id is
        # app:time:qualifier:<name>:<index> (a record without ids has one event to look at).
        "g_event": "CASE WHEN kind IS NOT NULL THEN regexp_extract(kind, '[^:]*$') "
        "WHEN len(string_split(event_id, ':')) >= 5 THEN string_split(event_id, ':')[-2] "
        "ELSE " + one("$.events[0].name", "$.protoPayload.metadata.event[0].eventName", "$.name") + " END",
        "g_service": "coalesce("
        + one("$.protoPayload.serviceName")
        + ", "
        + one("$.id.applicationName")
        + " || '.googleapis.com')",
    },
}


def stage_name(vendor: str) -> str:
    return f"sigma_rows_{vendor}"


def _ts(value: datetime | None) -> str:
    return "NULL" if value is None else f"CAST('{value.isoformat()}' AS TIMESTAMPTZ)"


_ONE_PATH = re.compile(r"json_extract_string\(raw, '(\$[^']*)'\)")


def _one_parse(exprs: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Rewrite every single-path read of ``raw`` to an element of one multi-path read.

    DuckDB parses the JSON text once per call; a vendor's rules read dozens of paths, so one
    ``json_extract_string(raw, [paths])`` per row (``_pv``) instead of one parse per path.
    """
    paths: dict[str, int] = {}

    def sub(m: re.Match[str]) -> str:
        path = m.group(1)
        if "[*]" in path:  # a list of values: keeps its own read
            return m.group(0)
        idx = paths.setdefault(path, len(paths) + 1)
        return f"_pv[{idx}]"

    return {k: _ONE_PATH.sub(sub, v) for k, v in exprs.items()}, list(paths)


def stage_vendor(
    con: duckdb.DuckDBPyConnection,
    vendor: str,
    rules: list[SigmaConversion],
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """Stage one vendor's rows (events + kept records) with the field columns its rules use."""
    cols: dict[str, str] = {}
    for rule in rules:
        for f in rule.fields:
            col = lookup(rule.source or "", f)
            if col is not None:  # read on the rows of its rule source only (no audit path on a sign-in)
                cols[column_name(rule.source or "", f)] = (
                    f"CASE WHEN sigma_family = '{rule.source}' THEN {col.sql} END"
                )
    fam = " ".join(f"WHEN {FAMILY[s]} THEN '{s}'" for s in dict.fromkeys(r.source for r in rules if r.source))
    derived = _DERIVED.get(vendor, {})
    exprs, paths = _one_parse(
        {
            **{f"d:{k}": v for k, v in derived.items()},
            "d:sigma_family": f"CASE {fam or 'WHEN FALSE THEN NULL'} END",
            **cols,
        }
    )
    bounds = f"time >= coalesce({_ts(since)}, time) AND time <= coalesce({_ts(until)}, time)"
    base = f"""
        SELECT time, event_id, tenant, account, src_ip, asn, user_agent, device_id, activity,
               CAST(NULL AS VARCHAR) AS kind, raw
        FROM events WHERE source = '{vendor}' AND {bounds} AND NOT ends_with(event_id, ':mfa')
        UNION ALL
        SELECT time, event_id, tenant, account, src_ip, CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
               CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), kind, CAST(raw AS VARCHAR)
        FROM other_events WHERE source = '{vendor}' AND (time IS NULL OR ({bounds}))"""
    listing = ", ".join(_lit(p) for p in paths)
    pv = f", json_extract_string(raw, [{listing}]) AS _pv" if paths else ", NULL AS _pv"
    d_sql = "".join(f", {v} AS {k[2:]}" for k, v in exprs.items() if k.startswith("d:"))
    f_sql = "".join(f", {v} AS {k}" for k, v in exprs.items() if not k.startswith("d:"))
    drop = "_pv" if any(r.keywords for r in rules) else "_pv, raw"  # keywords search raw
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {stage_name(vendor)} AS
        SELECT * EXCLUDE ({drop}){f_sql}
        FROM (SELECT *{d_sql} FROM (SELECT *{pv} FROM ({base}) b) p) d"""
    )


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stage_of(rule: SigmaConversion) -> str:
    """A community rule reports that something happened, not that the actor got in: its alerts
    are ``credential`` (the account attacked) or ``recon``; idwatch's own chain decides compromise."""
    return "recon" if any(t.lower() in _RECON_TACTICS for t in rule.tags) else "credential"


def detail_of(rule: SigmaConversion) -> str:
    return (
        f"Sigma {rule.rule_id} [{rule.level}] {rule.title} - author: {rule.author or 'unknown'}; "
        f"licence: {rule.license or 'unknown'}"
    )


def rule_sql(rule: SigmaConversion) -> str:
    """The alerts of one converted rule over its vendor's staged rows (ALERT_SCHEMA columns)."""
    assert rule.predicate is not None and rule.source is not None
    techniques = "[" + ", ".join(_lit(t) for t in rule.techniques) + "]::VARCHAR[]"
    did = rule.detection_id
    return f"""
SELECT sha256({_lit(did + "|")} || key) AS alert_id, {_lit(did)} AS detection_id,
       {_lit(rule.title)} AS title, {_lit(stage_of(rule))} AS stage, {techniques} AS techniques,
       {_lit(SEVERITY.get(rule.level, "medium"))} AS severity,
       CAST({LEVEL_SCORE.get(rule.level, 50)} AS INTEGER) AS score,
       first_seen, last_seen, tenant, accounts, src_ips, asns, user_agents, device_ids,
       CAST([] AS VARCHAR[]) AS contact_hashes, event_ids,
       {_lit(detail_of(rule))} || ' (' || CAST(n AS VARCHAR) || ' record'
         || CASE WHEN n > 1 THEN 's' ELSE '' END || ')' AS detail,
       CAST(now() AS TIMESTAMPTZ) AS created_at
FROM (
  SELECT coalesce(account, '-') || '|' || coalesce(tenant, '-') || '|'
           || coalesce(CAST(CAST(time AS DATE) AS VARCHAR), '-') AS key,
         min(time) AS first_seen, max(time) AS last_seen, any_value(tenant) AS tenant,
         list_sort(list_distinct(list(account) FILTER (WHERE account IS NOT NULL))) AS accounts,
         list_sort(list_distinct(list(src_ip) FILTER (WHERE src_ip IS NOT NULL))) AS src_ips,
         list_sort(list_distinct(list(asn) FILTER (WHERE asn IS NOT NULL))) AS asns,
         list_sort(list_distinct(list(user_agent) FILTER (WHERE user_agent IS NOT NULL))) AS user_agents,
         list_sort(list_distinct(list(device_id) FILTER (WHERE device_id IS NOT NULL))) AS device_ids,
         list_slice(list_sort(list_distinct(list(event_id))), 1, {MAX_EVENT_IDS}) AS event_ids,
         count(*) AS n
  FROM {stage_name(VENDOR[rule.source])}
  WHERE sigma_family = {_lit(rule.source)} AND ({rule.predicate})
  GROUP BY 1
) q
"""


def run_rules(
    con: duckdb.DuckDBPyConnection,
    rules: Iterable[SigmaConversion],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    seconds: dict[str, float] | None = None,
) -> dict[str, pa.Table]:
    """Alerts per converted rule (detection id -> ALERT_SCHEMA table) over ``con``'s views."""
    todo = [r for r in rules if r.converted and r.source]
    by_vendor: dict[str, list[SigmaConversion]] = {}
    for r in todo:
        by_vendor.setdefault(VENDOR[r.source or ""], []).append(r)
    out: dict[str, pa.Table] = {}
    for vendor, rs in sorted(by_vendor.items()):
        t0 = time.perf_counter()
        stage_vendor(con, vendor, rs, since, until)
        if seconds is not None:
            seconds[f"sigma_stage_{vendor}"] = round(time.perf_counter() - t0, 3)
        for r in rs:
            t1 = time.perf_counter()
            table = con.sql(rule_sql(r)).to_arrow_table()
            if r.detection_id in out:  # the same id imported twice: one set of alerts
                continue
            out[r.detection_id] = table.cast(ALERT_SCHEMA)
            if seconds is not None:
                seconds[r.detection_id] = round(time.perf_counter() - t1, 4)
        con.execute(f"DROP TABLE IF EXISTS {stage_name(vendor)}")
    return out
