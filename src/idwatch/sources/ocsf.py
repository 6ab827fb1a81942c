"""OCSF (Open Cybersecurity Schema Framework) Authentication (3002) and Account Change (3001).

One mapping table (below) is the single place that says how an OCSF event becomes a
canonical one; the SQL is generated from it. Other OCSF classes, Logoff and Kerberos service
tickets, and account-lifecycle changes idwatch does not model (create, enable, policy ...)
are valid records counted in ``skipped`` by kind, never quarantined.
"""

from __future__ import annotations

from typing import Any

NAME = "ocsf"

AUTHENTICATION = 3002
ACCOUNT_CHANGE = 3001

#: Authentication (3002) activity_id -> (activity, or None = skipped with this kind).
AUTH_ACTIVITY: dict[int, tuple[str | None, str]] = {
    1: ("sign_in", "logon"),
    2: (None, "ocsf_logoff"),
    3: ("sign_in", "authentication_ticket"),
    4: (None, "ocsf_service_ticket"),
    5: (None, "ocsf_service_ticket_renew"),
    6: ("sign_in", "preauth"),
    99: ("sign_in", "other"),
}

#: Account Change (3001) activity_id -> (activity or None = skipped, detail / skip kind).
ACCOUNT_ACTIVITY: dict[int, tuple[str | None, str]] = {
    1: (None, "ocsf_account_create"),
    2: (None, "ocsf_account_enable"),
    3: ("password_change", "password change"),
    4: ("password_reset", "password reset"),
    5: (None, "ocsf_account_disable"),
    6: (None, "ocsf_account_delete"),
    7: (None, "ocsf_attach_policy"),
    8: (None, "ocsf_detach_policy"),
    9: ("account_lock", "lock"),
    10: ("mfa_method_change", "mfa factor enable"),
    11: ("mfa_method_change", "mfa factor disable"),
    12: ("account_lock", "unlock"),
    99: (None, "ocsf_account_change_other"),
}

#: auth_factors[0].factor_type_id -> canonical method.
FACTOR_METHOD: dict[int, str] = {
    1: "sms",
    2: "kba",
    3: "voice",
    4: "passwordless",
    5: "push",
    6: "token",
    7: "totp",
    8: "email",
    9: "fido2",
    10: "fido2",
    11: "password",
}

#: status_detail text (lower-cased) containing ... -> canonical failure reason (first match wins).
REASON_WORDS: list[tuple[str, str]] = [
    ("password", "bad_password"),
    ("credential", "bad_password"),
    ("locked", "locked"),
    ("lockout", "locked"),
    ("not found", "unknown_account"),
    ("does not exist", "unknown_account"),
    ("unknown user", "unknown_account"),
    ("no such user", "unknown_account"),
    ("disabled", "disabled"),
    ("expired", "expired"),
    ("denied", "mfa_denied"),
    ("timeout", "mfa_timeout"),
    ("timed out", "mfa_timeout"),
    ("blocked", "blocked"),
    ("verification", "verification_failed"),
]

#: JSON paths read from each record: name -> (path, accepted json types, human type).
_STR = ("('VARCHAR')", "a string")
_INT = ("('UBIGINT', 'BIGINT')", "an integer")
PATHS: dict[str, tuple[str, tuple[str, str]]] = {
    "class_uid": ("$.class_uid", _INT),
    "activity_id": ("$.activity_id", _INT),
    "status_id": ("$.status_id", _INT),
    "status": ("$.status", _STR),
    "status_detail": ("$.status_detail", _STR),
    "time": ("$.time", ("('UBIGINT', 'BIGINT', 'VARCHAR')", "epoch milliseconds or a string")),
    "time_dt": ("$.time_dt", _STR),
    "event_uid": ("$.metadata.uid", _STR),
    "user_email": ("$.user.email_addr", _STR),
    "user_name": ("$.user.name", _STR),
    "user_uid": ("$.user.uid", _STR),
    "user_domain": ("$.user.domain", _STR),
    "org_name": ("$.user.org.name", _STR),
    "org_uid": ("$.user.org.uid", _STR),
    "cloud_account": ("$.cloud.account.uid", _STR),
    "src_ip": ("$.src_endpoint.ip", _STR),
    "country": ("$.src_endpoint.location.country", _STR),
    "asn": ("$.src_endpoint.autonomous_system.number", _INT),
    "asn_org": ("$.src_endpoint.autonomous_system.name", _STR),
    "user_agent": ("$.http_request.user_agent", _STR),
    "device_uid": ("$.device.uid", _STR),
    "session_uid": ("$.session.uid", _STR),
    "factor_type_id": ("$.auth_factors[0].factor_type_id", _INT),
    "is_mfa": ("$.is_mfa", ("('BOOLEAN')", "a boolean")),
    "message": ("$.message", _STR),
}


def sniff(record: dict[str, Any]) -> bool:
    """OCSF events carry a numeric class_uid and (almost always) a metadata object."""
    return isinstance(record, dict) and isinstance(record.get("class_uid"), int) and "metadata" in record


def _case(expr: str, table: dict[int, Any], pick: Any) -> str:
    whens = " ".join(f"WHEN {k} THEN {pick(v)}" for k, v in table.items())
    return f"CASE {expr} {whens} END"


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def select_sql(view: str) -> str:
    """One vectorized SELECT over the driver's view (see docs/INTERNALS.md)."""
    names = list(PATHS)
    paths = ", ".join(f"'{PATHS[n][0]}'" for n in names)
    idx = {n: i + 1 for i, n in enumerate(names)}

    def v(n: str) -> str:
        return f"_v[{idx[n]}]"

    def t(n: str) -> str:
        return f"_t[{idx[n]}]"

    type_errors = ", ".join(
        f"CASE WHEN {t(n)} IS NOT NULL AND {t(n)} <> 'NULL' AND {t(n)} NOT IN {acc} "
        f"THEN 'wrong type: {PATHS[n][0][2:]} must be {human}, got ' || lower({t(n)}) END"
        for n, (_, (acc, human)) in PATHS.items()
    )
    aid = f"TRY_CAST({v('activity_id')} AS INTEGER)"
    cls = f"TRY_CAST({v('class_uid')} AS INTEGER)"
    auth_act = _case(aid, AUTH_ACTIVITY, lambda x: _lit(x[0]))
    auth_skip = _case(aid, AUTH_ACTIVITY, lambda x: "NULL" if x[0] else _lit(x[1]))
    acct_act = _case(aid, ACCOUNT_ACTIVITY, lambda x: _lit(x[0]))
    acct_skip = _case(aid, ACCOUNT_ACTIVITY, lambda x: "NULL" if x[0] else _lit(x[1]))
    acct_detail = _case(aid, ACCOUNT_ACTIVITY, lambda x: _lit(x[1]) if x[0] else "NULL")
    method = _case(f"TRY_CAST({v('factor_type_id')} AS INTEGER)", FACTOR_METHOD, _lit)
    detail_text = f"lower(coalesce({v('status_detail')}, ''))"
    reason = (
        "CASE "
        + " ".join(f"WHEN contains({detail_text}, {_lit(word)}) THEN {_lit(r)}" for word, r in REASON_WORDS)
        + " ELSE 'other' END"
    )
    auth_ids = ", ".join(str(k) for k in AUTH_ACTIVITY)
    acct_ids = ", ".join(str(k) for k in ACCOUNT_ACTIVITY)
    status = f"TRY_CAST({v('status_id')} AS INTEGER)"
    outcome = (
        f"CASE WHEN {status} = 1 THEN 'success' WHEN {status} = 2 THEN 'failure' "
        f"WHEN lower({v('status')}) IN ('success', 'failure') THEN lower({v('status')}) "
        f"WHEN {cls} = {ACCOUNT_CHANGE} AND {status} IS NULL THEN 'success' END"
    )
    return f"""
SELECT _file, _line, _raw,
  coalesce({v("time")}, {v("time_dt")}) AS time,
  {v("event_uid")} AS event_id,
  '{NAME}' AS source,
  coalesce({v("org_name")}, {v("org_uid")}, {v("user_domain")}, {v("cloud_account")},
           CASE WHEN contains(coalesce({v("user_email")}, {v("user_name")}, ''), '@')
                THEN split_part(coalesce({v("user_email")}, {v("user_name")}), '@', -1) END) AS tenant,
  coalesce({v("user_email")}, {v("user_name")}, {v("user_uid")}) AS account,
  NULL::BOOLEAN AS account_exists,
  CASE WHEN {cls} = {AUTHENTICATION} THEN {auth_act}
       WHEN {cls} = {ACCOUNT_CHANGE} THEN {acct_act} END AS activity,
  CASE WHEN {cls} = {ACCOUNT_CHANGE} AND {aid} = 4 THEN 'complete' END AS step,
  {method} AS method,
  _outcome AS outcome,
  CASE WHEN _outcome = 'failure' THEN {reason} END AS reason,
  {v("src_ip")} AS src_ip,
  {v("user_agent")} AS user_agent,
  {v("device_uid")} AS device_id,
  {v("session_uid")} AS session_id,
  {v("country")} AS country,
  TRY_CAST({v("asn")} AS BIGINT) AS asn,
  {v("asn_org")} AS asn_org,
  NULL::VARCHAR AS network_type,
  NULL::VARCHAR AS contact_hash,
  coalesce(CASE WHEN {cls} = {ACCOUNT_CHANGE} THEN {acct_detail} END, left({v("message")}, 200)) AS detail,
  CASE WHEN _err IS NOT NULL THEN NULL
       WHEN {cls} NOT IN ({AUTHENTICATION}, {ACCOUNT_CHANGE}) THEN 'ocsf_class_' || {cls}
       WHEN {cls} = {AUTHENTICATION} THEN {auth_skip}
       ELSE {acct_skip} END AS _skip,
  coalesce(_err, CASE
      WHEN {cls} = {AUTHENTICATION} AND coalesce({aid} NOT IN ({auth_ids}), TRUE)
        OR {cls} = {ACCOUNT_CHANGE} AND coalesce({aid} NOT IN ({acct_ids}), TRUE)
      THEN 'unknown activity value: OCSF activity_id ' || coalesce({v("activity_id")}, 'missing')
    END) AS _error
FROM (
  SELECT *, {outcome} AS _outcome, coalesce({type_errors}) AS _err
  FROM (
    SELECT _file, _line, _raw, json_extract_string(rec, [{paths}]) AS _v, json_type(rec, [{paths}]) AS _t
    FROM {view}
  )
)
"""
