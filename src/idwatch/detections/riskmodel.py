"""Login-risk model after Freeman et al., "Who Are You? A Statistical Approach to Measuring
User Authenticity" (NDSS 2016).

For a successful sign-in by account u with feature values x, the risk score is the
likelihood ratio of "an attacker signed in as u" against "u signed in"::

    S_u(x) = prod_k  p(x_k) / p(x_k | u)   *   p(u | attack) / p(u | legitimate)

Features are the two hierarchies country -> network (ASN) -> IP and OS -> browser ->
user-agent string; each level is scored conditionally on its parent, so the ratios along a
hierarchy multiply to the ratio of its leaf, and a value the account has never used backs
off to its parent level (a new IP in a known ASN is far less surprising than a new ASN,
which is less than a new country). p(u | attack) treats every known account alike.

p(x | attack): the paper's baseline is the population distribution p(x); its framework (and
LinkedIn's deployment) sharpen it with reputation systems, "how often do we see abuse from"
a value. Without labels, idwatch uses failed sign-ins as the abuse signal: the population
distribution is tilted toward values that fail far more than their parent level
(``reputation_weight``; 0 gives the paper's baseline).

Training data: every account's *successful* sign-ins before the one being scored (no
look-ahead, ties in time excluded), and only once they are ``settle_hours`` old (default
24): an offline log cannot tell which sign-ins passed a challenge, and without settling an
attacker's first success would vouch for the rest of the session. Failed attempts are never
history: sprays and guesses come from attackers, and counting them would make the
attacker's infrastructure look familiar. Population shares come from all earlier successful
sign-ins, failure counts from all earlier failed ones.

Not learning from risky sign-ins (``learn_risk``): a deployed RBA system does not let a sign-in
it judged risky (and would have challenged or blocked) vouch for the values it came from,
else an attacker's first success makes all their later sign-ins look familiar. So the
account counts ``u_*`` only take sign-ins whose own risk is below ``learn_risk``; population
counts take every sign-in (they describe the world, not the account). Whether a sign-in is
learned depends on its score, which depends on the earlier learned ones: a causal recursion
with exactly one solution. The batch path reaches it by fixed-point passes (score, mark
sign-ins at or above ``learn_risk``, recount only the account counts and rescore), each pass
settling at least one more link of every chain, until no mark changes. ``learn_passes`` caps
the passes; a run stopped by the cap keeps the last pass's marks (an approximation, and then
incremental runs may differ slightly from a full one). An offline log cannot see a passed
challenge (MFA) that would vouch for a risky sign-in, so a new country or device stays
unfamiliar until a sign-in from it scores below the threshold on its own.

Typical range: ``learn_risk`` alone lets an attacker's success at a middling risk (below the
threshold, far above what the account usually scores) teach the account their network. So a
sign-in is learned only if its log-LR is also inside the account's own typical range: at most
the mean + ``typical_sd`` standard deviations (at least ``typical_floor`` nats) of the log-LRs
of the account's earlier learned sign-ins, once it has ``typical_min`` of them. The decide
state applies the same rule as sign-ins settle (``idwatch.decide.state``); both take the
account's learned sign-ins strictly earlier than the one judged. What the features cannot tell
apart (a move to a new ISP and an attacker's own network both score "new network") time can:
a network the account used on ``vouch_days`` distinct earlier days in untied successes is
vouched for, so a new home network or a long stay abroad is learned after a week of ordinary
use, and a new address in an established network at once, while an operator's few returns
stay unfamiliar. ``tied`` (see :func:`build_signin_risk`): sign-ins a detection or campaign
tied to an attack are never learned and never vouch.

Calibration: ``risk = 100 / (1 + exp(-(ln S - midpoint) / temperature))``, monotone in S.
The default midpoint ln(100) puts "100 times likelier an attacker than the account
holder" at risk 50; temperature 1.5 makes a factor ~20 in S move risk from 10 to 50 or 50
to 90. These are product defaults (override in ``params``), not fitted to any test data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from idwatch.detections.riskmodel_enrich import enrich_attempt
from idwatch.detections.riskmodel_sql import (
    FAILED_SIGNIN,
    LEVEL_NAMES,
    LEVELS,
    SUCCESSFUL_SIGNIN,
    base_offsets_sql,
    key_columns_sql,
    key_names,
    llr_sql,
    new_counts_sql,
    reputation_sql,
    risk_sql,
    user_prior_sql,
)


@dataclass(frozen=True)
class RiskParams:
    """Tunable constants of the model (all overridable per deployment)."""

    alpha: float = 1.0  # smoothing strength: pseudo-sign-ins drawn from the population
    midpoint: float = math.log(100.0)  # ln S at which risk = 50
    temperature: float = 1.5  # ln S units per logistic unit
    user_prior: bool = True  # include the p(u|attack)/p(u|legit) term
    reputation_weight: float = 0.5  # 0 = attacker draws values like the population (paper's default)
    reputation_smoothing: float = 1.0  # pseudo-sign-ins in the failure-odds estimates
    settle_hours: float = 24.0  # a sign-in joins the account's history only this long after it
    learn_risk: float = 50.0  # sign-ins scored at or above this never join the history (100 = all do)
    learn_passes: int = 20  # cap on the fixed-point passes that settle which sign-ins are learned
    # The account's own typical range (see "Typical range" above): a sign-in is learned only if
    # its log-LR is at most the mean + typical_sd standard deviations of the account's earlier
    # learned sign-ins. 3 sd covers ~99.7 % of an account's own normal sign-ins (roughly normal).
    typical_sd: float = 3.0
    # learned sign-ins an account needs before its typical range is trusted (fewer: learn_risk only)
    typical_min: int = 5
    # floor on the range's width in nats: a factor e (~2.7) of likelihood ratio, so an account
    # whose sign-ins all scored alike is not made to reject its own next trip to the office
    typical_floor: float = 1.0
    # A network (country + ASN) the account used on this many distinct earlier days (UTC) in
    # untied successes is vouched for: its sign-ins are learned even outside the typical range
    # (still below learn_risk). A week of daily use is what a person who moved or changed ISP
    # produces; a new address in an established network is vouched at once. 0 = never vouch.
    vouch_days: int = 7

    @property
    def learning(self) -> bool:
        """Whether risky sign-ins are kept out of the accounts' history."""
        return self.learn_risk < 100.0

    @classmethod
    def from_dict(cls, params: dict[str, Any] | None) -> RiskParams:
        known = {f.name for f in fields(cls)}
        given = {k: v for k, v in (params or {}).items() if k in known}
        out = cls(**given)
        if out.alpha <= 0 or out.temperature <= 0 or out.reputation_smoothing <= 0:
            raise ValueError("riskmodel: alpha, temperature and reputation_smoothing must be positive")
        if out.settle_hours < 0:
            raise ValueError("riskmodel: settle_hours must not be negative")
        if out.learn_passes < 1:
            raise ValueError("riskmodel: learn_passes must be at least 1")
        if out.typical_sd <= 0 or out.typical_min < 2 or out.typical_floor < 0 or out.vouch_days < 0:
            raise ValueError("riskmodel: typical_sd > 0, typical_min >= 2, typical_floor, vouch_days >= 0")
        if not 0.0 <= out.reputation_weight <= 1.0:
            raise ValueError("riskmodel: reputation_weight must be within [0, 1]")
        return out


def _score_relation(p: RiskParams, counts: str) -> str:
    """SELECT adding hist_/rep_/llr_<level> and llr_user to relation ``counts``.

    ``hist_<level>`` is the paper's history term p(x) / p(x | u), ``rep_<level>`` the
    reputation tilt of the attacker's distribution, ``llr_<level>`` their sum (natural logs).
    """
    terms = []
    for lv in LEVELS:
        terms.append(f"{llr_sql(lv, p.alpha)} AS hist_{lv.name}")
        rep = reputation_sql(lv, p.reputation_weight, p.reputation_smoothing)
        terms.append(f"{rep if p.reputation_weight else '0.0'} AS rep_{lv.name}")
    terms.append(f"{user_prior_sql() if p.user_prior else '0.0'} AS llr_user")
    sums = ", ".join(f"hist_{n} + rep_{n} AS llr_{n}" for n in LEVEL_NAMES)
    return f"SELECT *, {sums} FROM (SELECT *, {', '.join(terms)} FROM {counts})"


def _total_llr() -> str:
    return " + ".join([f"llr_{n}" for n in LEVEL_NAMES] + ["llr_user"])


#: Columns of the canonical events the model reads and copies to its output.
_IDENTITY_COLUMNS = (
    "event_id, account, tenant, time, src_ip, asn, asn_org, country, network_type, "
    "user_agent, ua_family, ua_os, device_id"
)
#: Columns the feature keys are made of.
_KEY_INPUT_COLUMNS = "time, tenant, account, src_ip, asn, asn_org, country, user_agent, ua_family, ua_os"


def _result_columns(p: RiskParams) -> str:
    """Score columns (history, new_*, lr_*, llr, risk) over a relation holding the llr_* terms."""
    ratios = ", ".join(f"exp(llr_{n}) AS lr_{n}" for n in [*LEVEL_NAMES, "user"])
    news = ", ".join(f"u_{n} = 0 AS new_{n}" for n in LEVEL_NAMES)
    total = _total_llr()
    return (
        f"CAST(u_all AS BIGINT) AS history, {news}, {ratios}, "
        f"{total} AS llr, {risk_sql(total, p.midpoint, p.temperature)} AS risk"
    )


@dataclass(frozen=True)
class Window:
    """Which sign-ins a batch build reads, and what it carries over (see ``riskmodel_state``).

    ``start``: read only events at or after this instant (SQL timestamp literal), with the
    counts of everything earlier taken from table ``base`` (level, key, n) and the totals
    ``base_totals`` (g_all, a_all, users). ``save_before``: also leave table ``__rm_new_counts``
    with the counts of the rows read that are earlier than this instant, for the next run.
    ``narrow``: output only event_id, account, tenant, time and risk (what detections join).
    ``score_after``: only sign-ins after this instant need correct scores (the caller keeps
    earlier ones from a previous run), so earlier rows skip most of the ``base`` lookups.
    ``typical``: table (acct, n, s1, s2) of the learned sign-ins before ``start`` (count, sum
    and sum of squares of their log-LRs) for the typical range; ``vouch``: table (uk_asn, n,
    last) of the distinct days (``n``, the latest ``last``, days since 1970 UTC) with untied
    successes per account and network before ``start``. With ``save_before`` the run leaves
    ``__rm_new_typical`` / ``__rm_new_vouch`` of the same shapes for everything before that
    instant (the given tables merged with the rows read).
    """

    start: str | None = None
    base: str | None = None
    typical: str | None = None
    vouch: str | None = None
    base_totals: tuple[int, int, int] = (0, 0, 0)
    save_before: str | None = None
    narrow: bool = False
    score_after: str | None = None


def build_signin_risk(
    con: duckdb.DuckDBPyConnection,
    *,
    params: dict | None = None,
    window: Window | None = None,
    tied: str | None = None,
) -> None:
    """Create table ``signin_risk``: one row per successful sign-in in view ``events``.

    Columns: the sign-in's identity and network/client values; ``history`` (the account's
    earlier, settled successful sign-ins); ``new_<level>`` (value not in that history);
    ``lr_<level>`` for country, asn, ip, os, browser, ua (each conditional on its parent,
    so lr_country*lr_asn*lr_ip is the network's ratio) and ``lr_user`` (the prior term);
    ``llr`` (natural log of the product), ``risk`` (0-100, see the module docstring) and
    ``learned`` (whether it joins the account's history once settled).
    With a narrow ``window`` only event_id, account, tenant, time and risk. ``tied``: a
    relation with column ``event_id`` naming sign-ins tied to an attack (never learned).

    Vectorized: every count is one window over ``time`` (``rank() - 1``, or a RANGE frame
    ending ``settle_hours`` back), which counts rows strictly earlier, so simultaneous
    sign-ins never see each other.
    """
    p = RiskParams.from_dict(params)
    # Positional joins below rely on tables keeping the order rows were written in.
    keep_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")
    try:
        _build(con, p, window or Window(), tied)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if keep_order else 'false'}")


def _offsets(p: RiskParams, w: Window) -> str:
    """``* REPLACE`` items adding the counts of rows before the window (incremental runs)."""
    g_all, a_all, users = w.base_totals
    items = ["u_all + b_u_all AS u_all", f"g_all + {int(g_all)} AS g_all", f"users + {int(users)} AS users"]
    items += [f"u_{n} + b_u_{n} AS u_{n}" for n in LEVEL_NAMES]
    items += [f"g_{n} + b_g_{n} AS g_{n}" for n in LEVEL_NAMES]
    if p.reputation_weight:
        items.append(f"a_all + {int(a_all)} AS a_all")
        items += [f"a_{n} + b_a_{n} AS a_{n}" for n in LEVEL_NAMES]
    return f"* REPLACE ({', '.join(items)})"


def _build(con: duckdb.DuckDBPyConnection, p: RiskParams, w: Window, tied: str | None = None) -> None:
    """The batch pipeline (see :func:`build_signin_risk`).

    Each count is its own window query over a narrow projection (row id, time, integer
    keys), written back in row-id order so that all counts line up by position: DuckDB runs
    many windows in one SELECT, or many hash joins on the row id, several times slower.
    With learning on, the account counts are recounted until the learned marks settle.
    """
    since = f" AND time >= {w.start}" if w.start else ""
    # Only the keys are materialized; the text columns are read again at the end, in the
    # same (insertion) order, instead of being carried through the pipeline.
    signins = f"(SELECT event_id, {_KEY_INPUT_COLUMNS} FROM events WHERE {SUCCESSFUL_SIGNIN}{since})"
    tie = bool(tied and p.learning)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __rm_keys AS "
        f"SELECT time, {', '.join(key_names())}, true AS untied, true AS learn"
        f"{', hash(event_id) AS eid' if tie else ''} FROM ({key_columns_sql(signins)})"
    )
    if tie:  # an in-place update (a join here could reorder the rows); 64-bit hashes of the ids
        con.execute(
            f"UPDATE __rm_keys SET untied = false, learn = false "
            f"WHERE eid IN (SELECT hash(event_id) FROM {tied})"
        )
        con.execute("ALTER TABLE __rm_keys DROP COLUMN eid")
    tables = _count_tables(con, p, w, since)
    if p.learning:
        _vouch_table(con, w)
    _terms(con, p, w, tables)
    passes = 1
    while p.learning and passes < p.learn_passes and _relearn(con, p, w, changed=passes > 1):
        _recount_changed_accounts(con, p)
        _terms(con, p, w, tables, changed=True)
        passes += 1
    if p.learning:  # a run stopped by the cap: the output's marks are the last pass's
        con.execute(
            f"UPDATE __rm_terms SET __learn = k.learn FROM {_KEYS} k "
            "WHERE __rm_terms.rowid = k.rid AND __rm_terms.__learn <> k.learn"
        )
    con.execute("DROP TABLE IF EXISTS __rm_changed")
    if w.save_before:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __rm_new_counts AS "
            + new_counts_sql("__rm_keys", "__rm_attempts", w.save_before)
        )
        _save_learning_state(con, w)
    con.execute("DROP TABLE IF EXISTS __rm_attempts")
    con.execute("DROP TABLE IF EXISTS __rm_vouch")
    for name in [*tables, "keys"]:  # free the counts before the wide output is written
        con.execute(f"DROP TABLE __rm_{name}")
    identity = "event_id, account, tenant, time" if w.narrow else _IDENTITY_COLUMNS
    result = (
        f"{risk_sql(_total_llr(), p.midpoint, p.temperature)} AS risk"
        if w.narrow
        else f"{_result_columns(p)}, __learn AS learned"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE signin_risk AS
        SELECT e.*, {result}
        FROM (SELECT {identity} FROM events WHERE {SUCCESSFUL_SIGNIN}{since}) e POSITIONAL JOIN __rm_terms
        WHERE e.time = __time
        """
    )
    written = con.execute("SELECT count(*) FROM signin_risk").fetchall()[0][0]
    expected = con.execute("SELECT count(*) FROM __rm_terms").fetchall()[0][0]
    con.execute("DROP TABLE __rm_terms")
    if written != expected:  # the two reads of `events` did not line up: never return wrong rows
        con.execute("DROP TABLE signin_risk")
        raise RuntimeError("riskmodel: events changed order between reads; signin_risk not built")


def _day(time: str = "time") -> str:
    """The UTC day of a timestamp, as days since 1970 (vouching counts distinct days)."""
    return f"CAST(floor(epoch({time}) / 86400) AS BIGINT)"


def _vouch_table(con: duckdb.DuckDBPyConnection, w: Window) -> None:
    """Table ``__rm_vouch`` (rid, vdays): distinct UTC days strictly before the sign-in's day on
    which its account had an untied success from the same network (plus ``w.vouch``'s days)."""
    base = f"LEFT JOIN {w.vouch} b USING (uk_asn)" if w.vouch else ""
    bn, blast = ("coalesce(b.n, 0)", "b.last") if w.vouch else ("0", "NULL")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __rm_vouch AS
        WITH k AS (
          SELECT k.rid, k.uk_asn, k.untied, {_day()} AS day, {bn} AS bn, {blast} AS blast,
            row_number() OVER (PARTITION BY k.uk_asn, {_day()}, k.untied ORDER BY k.rid) AS nth
          FROM {_KEYS} k {base}
        )
        SELECT rid, bn - CASE WHEN blast >= day THEN 1 ELSE 0 END
          + coalesce(SUM(CASE WHEN untied AND nth = 1 AND (blast IS NULL OR day > blast) THEN 1 ELSE 0 END)
            OVER (PARTITION BY uk_asn ORDER BY day RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
          AS vdays
        FROM k
        """
    )


def _save_learning_state(con: duckdb.DuckDBPyConnection, w: Window) -> None:
    """``__rm_new_typical`` and ``__rm_new_vouch``: the typical-range sums and vouching days of
    everything before ``w.save_before`` (the window's given ones merged with the rows read)."""
    before = f"time < {w.save_before}"
    rows = (
        f"(SELECT k.acct, k.uk_asn, k.time, {_day('k.time')} AS day, k.untied, k.learn, t.llr "
        f"FROM __rm_keys k POSITIONAL JOIN (SELECT {_total_llr()} AS llr FROM __rm_terms) t)"
    )
    base_typical = f" UNION ALL SELECT acct, n, s1, s2 FROM {w.typical}" if w.typical else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __rm_new_typical AS
        SELECT acct, CAST(SUM(n) AS BIGINT) AS n, SUM(s1) AS s1, SUM(s2) AS s2 FROM (
          SELECT acct, count(*) AS n, sum(llr) AS s1, sum(llr * llr) AS s2 FROM {rows}
          WHERE learn AND {before} GROUP BY acct{base_typical}
        ) GROUP BY acct
        """
    )
    given = f"FULL JOIN {w.vouch} b USING (uk_asn)" if w.vouch else ""
    bn, blast = ("coalesce(b.n, 0)", "b.last") if w.vouch else ("0", "NULL")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __rm_new_vouch AS
        SELECT uk_asn, CAST({bn} + coalesce(d.days, 0) AS BIGINT) AS n, greatest({blast}, d.last) AS last
        FROM (
          SELECT r.uk_asn, count(DISTINCT r.day) AS days, max(r.day) AS last FROM {rows} r
          {f"LEFT JOIN {w.vouch} v USING (uk_asn)" if w.vouch else ""}
          WHERE r.untied AND r.{before}{" AND (v.last IS NULL OR r.day > v.last)" if w.vouch else ""}
          GROUP BY r.uk_asn
        ) d {given}
        """
    )


def _terms(
    con: duckdb.DuckDBPyConnection, p: RiskParams, w: Window, tables: list[str], *, changed: bool = False
) -> None:
    """Table ``__rm_terms``: every sign-in's time, account counts and log ratios, in row order.

    ``changed``: recompute only the rows of the accounts in ``__rm_changed`` (their marks
    changed; every other account's terms depend on its own marks alone and stay valid), in place.
    """
    failures = ", ".join(
        f"a_{n} - g_{n} AS f_{n}" if p.reputation_weight else f"0 AS f_{n}" for n in ["all", *LEVEL_NAMES]
    )
    joined = " POSITIONAL JOIN ".join(f"__rm_{name}" for name in tables)
    offsets = _offsets(p, w) if w.base else "*"
    where = " WHERE k.acct IN (SELECT acct FROM __rm_changed)" if changed else ""
    columns = ["__time", "__learn", "u_all", *(f"u_{n}" for n in LEVEL_NAMES)]
    columns += [f"llr_{n}" for n in [*LEVEL_NAMES, "user"]]
    # two steps: DuckDB would otherwise re-evaluate the per-level terms for every reference
    select = f"""
        WITH c0 AS (
          SELECT k.rid AS __rid, k.time AS __time, k.learn AS __learn, * EXCLUDE (rid, learn, untied)
          FROM {_KEYS} k POSITIONAL JOIN {joined}{where}
        ),
        c AS (SELECT *, {failures} FROM (SELECT {offsets} FROM c0))
        SELECT {"__rid, " if changed else ""}{", ".join(columns)}
        FROM ({_score_relation(p, "c")})
        """
    if not changed:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __rm_terms AS {select}")
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE __rm_terms_part AS {select}")
    sets = ", ".join(f"{c} = q.{c}" for c in columns)
    con.execute(f"UPDATE __rm_terms SET {sets} FROM __rm_terms_part q WHERE __rm_terms.rowid = q.__rid")
    con.execute("DROP TABLE __rm_terms_part")


def _relearn(con: duckdb.DuckDBPyConnection, p: RiskParams, w: Window, *, changed: bool = False) -> bool:
    """Mark each sign-in learned iff it is untied, its current risk is below ``learn_risk`` and
    its log-LR is inside the account's typical range (over the current marks of its earlier
    sign-ins, plus ``w.typical`` for those before the window) or its network is vouched for;
    whether any mark changed (their accounts: ``__rm_changed``). ``changed``: judge only the
    accounts of the previous ``__rm_changed`` (the others' terms did not change)."""
    risk = risk_sql("llr", p.midpoint, p.temperature)
    before = "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP"
    base = f"LEFT JOIN {w.typical} b USING (acct)" if w.typical else ""
    b = (lambda c: f"coalesce(b.{c}, 0)") if w.typical else (lambda c: "0")
    n, s1, s2 = "tn", "ts1", "ts2"
    sd = f"sqrt(greatest(({s2} - {s1} * {s1} / {n}) / ({n} - 1), 0.0))"
    vouched = f"vdays >= {int(p.vouch_days)} OR " if p.vouch_days else ""
    typical = (
        f"({vouched}{n} < {int(p.typical_min)} OR "
        f"llr <= {s1} / {n} + greatest({float(p.typical_sd)!r} * {sd}, {float(p.typical_floor)!r}))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __rm_flags AS
        WITH j AS (
          SELECT k.rid, k.acct, k.time, k.untied, k.learn AS was, t.llr
          FROM (SELECT rid, acct, time, untied, learn FROM {_KEYS}) k
          POSITIONAL JOIN (SELECT {_total_llr()} AS llr FROM __rm_terms) t
          {"WHERE k.acct IN (SELECT acct FROM __rm_changed)" if changed else ""}
        ), s AS (
          SELECT j.rid, j.untied, j.llr, v.vdays,
            coalesce(SUM(CASE WHEN was THEN 1 ELSE 0 END) OVER w, 0) + {b("n")} AS {n},
            coalesce(SUM(CASE WHEN was THEN llr ELSE 0 END) OVER w, 0) + {b("s1")} AS {s1},
            coalesce(SUM(CASE WHEN was THEN llr * llr ELSE 0 END) OVER w, 0) + {b("s2")} AS {s2}
          FROM j JOIN __rm_vouch v USING (rid) {base}
          WINDOW w AS (PARTITION BY j.acct ORDER BY j.time {before})
        )
        SELECT rid, untied AND {risk} < {float(p.learn_risk)!r} AND {typical} AS learn FROM s
        """
    )
    where = "__rm_keys.rowid = f.rid AND __rm_keys.learn <> f.learn"
    changed = con.execute(f"SELECT count(*) FROM __rm_keys, __rm_flags f WHERE {where}").fetchall()[0][0]
    if changed:  # an in-place update keeps the row ids (and order) the positional joins rely on
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __rm_changed AS "
            f"SELECT DISTINCT __rm_keys.acct FROM __rm_keys, __rm_flags f WHERE {where}"
        )
        con.execute(f"UPDATE __rm_keys SET learn = f.learn FROM __rm_flags f WHERE {where}")
    con.execute("DROP TABLE __rm_flags")
    return bool(changed)


#: The keys table with its row id (rowid exists on stored tables only, so it is added here).
_KEYS = "(SELECT rowid AS rid, * FROM __rm_keys)"
#: Successes strictly before, in a window over successes and failures (peers excluded).
_SUCCESSES_BEFORE = (
    "coalesce(SUM(CASE WHEN rid IS NOT NULL THEN 1 ELSE 0 END) "
    "OVER (w RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP), 0)"
)


def _history_count(p: RiskParams) -> str:
    """The account's earlier sign-ins in the window ``w``: strictly before the sign-in, and
    at least ``settle_hours`` before it when settling is on.

    Settling keeps an attacker's first success from vouching for the rest of the session:
    in a deployment a sign-in only becomes trusted history once it has not been reported or
    reverted for a while, and an offline log cannot tell which sign-ins passed a challenge.
    Only sign-ins marked ``learn`` count (see ``RiskParams.learn_risk``).
    """
    learned = "SUM(CASE WHEN learn THEN 1 ELSE 0 END)"
    if not p.settle_hours:
        frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP"
        return f"coalesce({learned} OVER (w {frame}), 0)"
    micros = int(round(p.settle_hours * 3_600_000_000))
    frame = f"RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL {micros} MICROSECONDS PRECEDING"
    return f"coalesce({learned} OVER (w {frame}), 0)"


def _user_count_tables(con: duckdb.DuckDBPyConnection, p: RiskParams) -> list[str]:
    """The account counts ``__rm_u_*`` over the learned sign-ins."""
    history = _history_count(p)
    items = f"{history} AS u_all, rank() OVER w = 1 AS first_signin"
    _count_table(con, "u_all", items, _KEYS, "PARTITION BY acct ORDER BY time")
    for n in LEVEL_NAMES:
        _count_table(con, f"u_{n}", f"{history} AS u_{n}", _KEYS, f"PARTITION BY uk_{n} ORDER BY time")
    return ["u_all", *(f"u_{n}" for n in LEVEL_NAMES)]


def _recount_changed_accounts(con: duckdb.DuckDBPyConnection, p: RiskParams) -> None:
    """Redo the account counts of the accounts in ``__rm_changed`` only, in place.

    An account's counts depend on its own marks alone (every ``uk_*`` key includes the
    account), so the other accounts' counts stay valid; the count tables' row ids are the
    keys' row ids (written in ``rid`` order), which the update matches on.
    """
    history = _history_count(p)
    source = f"(SELECT * FROM {_KEYS} WHERE acct IN (SELECT acct FROM __rm_changed))"
    for n in ("all", *LEVEL_NAMES):
        part = "acct" if n == "all" else f"uk_{n}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __rm_part AS SELECT rid, {history} AS u FROM {source} "
            f"WINDOW w AS (PARTITION BY {part} ORDER BY time)"
        )
        con.execute(f"UPDATE __rm_u_{n} SET u_{n} = q.u FROM __rm_part q WHERE __rm_u_{n}.rowid = q.rid")
    con.execute("DROP TABLE __rm_part")


def _count_table(con: duckdb.DuckDBPyConnection, table: str, items: str, source: str, window: str) -> None:
    """Table ``__rm_<table>``: the count columns ``items`` (over window ``w``) for every
    successful sign-in (rows with a row id), in row-id order."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __rm_{table} AS SELECT * EXCLUDE (rid) FROM "
        f"(SELECT rid, {items} FROM {source} WINDOW w AS ({window})) WHERE rid IS NOT NULL ORDER BY rid"
    )


def _count_tables(con: duckdb.DuckDBPyConnection, p: RiskParams, w: Window, since: str) -> list[str]:
    """All counts, one window per partitioning; returns the tables' names (``__rm_<name>``).

    ``u_*``: the account's successful sign-ins with the value strictly before; ``g_*``: the
    population's; ``a_*`` (reputation on): all sign-in attempts, successful or failed, so
    that ``a - g`` is the failures. With the reputation term on, ``g_*`` and ``a_*`` share one
    window over successes and failures together, and so do ``g_all``, ``a_all`` and ``users``
    (one sort by time). All counts are over the rows read (the
    window); ``__rm_base`` holds the counts of earlier rows for incremental runs.
    """
    tables = _user_count_tables(con, p)
    first = "u.first_signin"
    if w.base:
        offsets = base_offsets_sql(_KEYS, w.base, w.score_after)
        con.execute(f"CREATE OR REPLACE TEMP TABLE __rm_base AS {offsets}")
        first = "u.first_signin AND b.b_s_all = 0"
    if p.reputation_weight or w.save_before:
        pop_keys = ", ".join(f"k_{n}" for n in LEVEL_NAMES)
        failures = f"(SELECT {_KEY_INPUT_COLUMNS} FROM events WHERE {FAILED_SIGNIN}{since})"
        # ``is_first``: the sign-in is its account's first (for ``users``); failures never are
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE __rm_attempts AS
            SELECT k.rid, k.time, {", ".join(f"k.k_{n}" for n in LEVEL_NAMES)}, {first} AS is_first
            FROM {_KEYS} k POSITIONAL JOIN __rm_u_all u {"POSITIONAL JOIN __rm_base b" if w.base else ""}
            UNION ALL
            SELECT NULL AS rid, time, {pop_keys}, false AS is_first
            FROM ({key_columns_sql(failures, account_keys=False)})
            """
        )
    # population size and users known at the sign-in's time, in one sort by time. An account's
    # first sign-in counts itself among the users; different accounts' first sign-ins at the
    # very same instant count each other (a smoothing constant, not history, so harmless).
    # With the attempts staged, the same sort also gives ``a_all`` (successes and failures
    # strictly before): ``g_all`` counts only the successes, ``users`` only successes' flags.
    users = "SUM(CASE WHEN is_first THEN 1 ELSE 0 END) OVER w AS users"
    if p.reputation_weight or w.save_before:
        items = f"CAST({_SUCCESSES_BEFORE} AS BIGINT) AS g_all, {users}"
        if p.reputation_weight:
            items += ", rank() OVER w - 1 AS a_all"
        _count_table(con, "g_all", items, "__rm_attempts", "ORDER BY time")
    else:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE __rm_g_all AS
            SELECT rank() OVER (ORDER BY k.time) - 1 AS g_all,
              SUM(CASE WHEN {first} THEN 1 ELSE 0 END) OVER (ORDER BY k.time) AS users
            FROM {_KEYS} k POSITIONAL JOIN __rm_u_all u {"POSITIONAL JOIN __rm_base b" if w.base else ""}
            ORDER BY k.rid
            """
        )
    tables.append("g_all")
    if w.base:
        tables.append("base")
    if not p.reputation_weight:
        for n in LEVEL_NAMES:
            _count_table(
                con, f"g_{n}", f"rank() OVER w - 1 AS g_{n}", _KEYS, f"PARTITION BY k_{n} ORDER BY time"
            )
            tables.append(f"g_{n}")
    else:
        for n in LEVEL_NAMES:
            items = f"rank() OVER w - 1 AS a_{n}, {_SUCCESSES_BEFORE} AS g_{n}"
            _count_table(con, f"ag_{n}", items, "__rm_attempts", f"PARTITION BY k_{n} ORDER BY time")
            tables.append(f"ag_{n}")
    return tables


# ---------------------------------------------------------------- one attempt (CLI / API)

_ATTEMPT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string()),
        pa.field("account", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("time", pa.timestamp("us", tz="UTC")),
        pa.field("src_ip", pa.string()),
        pa.field("asn", pa.int64()),
        pa.field("asn_org", pa.string()),
        pa.field("country", pa.string()),
        pa.field("network_type", pa.string()),
        pa.field("user_agent", pa.string()),
        pa.field("ua_family", pa.string()),
        pa.field("ua_os", pa.string()),
        pa.field("device_id", pa.string()),
    ]
)


_ATTEMPT_NAMES = tuple(_ATTEMPT_SCHEMA.names)  # once: pyarrow builds the list on every access


def _parse_time(value: Any) -> datetime:
    if value is None or value == "":
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalize_attempt(attempt: dict[str, Any]) -> dict[str, Any]:
    """Validate one attempt given in canonical column names (account, src_ip, time, ...)."""
    if not isinstance(attempt, dict):
        raise ValueError("attempt must be a JSON object")
    account = str(attempt.get("account") or "").strip().lower()
    src_ip = str(attempt.get("src_ip") or "").strip()
    if not account or not src_ip:
        raise ValueError("attempt needs at least 'account' and 'src_ip'")
    row: dict[str, Any] = {name: attempt.get(name) for name in _ATTEMPT_NAMES}
    row.update(account=account, src_ip=src_ip, time=_parse_time(attempt.get("time")))
    row["event_id"] = str(row["event_id"] or "attempt")
    if row["asn"] not in (None, ""):
        row["asn"] = int(row["asn"])
    else:
        row["asn"] = None
    return row


def score_attempt(store: Any, attempt: dict[str, Any], *, params: dict | None = None) -> dict[str, Any]:
    """Risk of one sign-in attempt against the store's history, with a per-feature explanation.

    Uses exactly the features, smoothing and calibration of :func:`build_signin_risk`, with
    the counts taken by aggregation over successful sign-ins strictly before the attempt's
    ``time`` (default: now). With learning on, which of the account's sign-ins are history
    depends on their own scores, so the batch model is built first (the cost of one detection
    run; :func:`_learned_marks`).
    """
    p = RiskParams.from_dict(params)
    row = normalize_attempt(attempt)
    con = store.connect()
    try:
        enrich_attempt(con, row)
        con.register("__rm_attempt_in", pa.Table.from_pylist([row], schema=_ATTEMPT_SCHEMA))
        settled = f"h.time <= a.time - INTERVAL {int(round(p.settle_hours * 3_600_000_000))} MICROSECONDS"
        settled += " AND h.learn"
        learned = "true AS learn"
        if p.learning:
            _learned_marks(con, p, row)
            learned = "coalesce(__rm_learned.learn, true) AS learn"
        counts = []
        for n in LEVEL_NAMES:
            counts.append(f"count(*) FILTER (WHERE h.ok AND {settled} AND h.uk_{n} = a.uk_{n}) AS u_{n}")
            counts.append(f"count(*) FILTER (WHERE h.ok AND h.k_{n} = a.k_{n}) AS g_{n}")
            counts.append(f"count(*) FILTER (WHERE NOT h.ok AND h.k_{n} = a.k_{n}) AS f_{n}")
        before = "time < (SELECT time FROM a)"
        history = (
            f"(SELECT {_KEY_INPUT_COLUMNS}, true AS ok, {learned} FROM events "
            f"{'LEFT JOIN __rm_learned USING (event_id) ' if p.learning else ''}"
            f"WHERE {SUCCESSFUL_SIGNIN} AND {before} "
            f"UNION ALL SELECT {_KEY_INPUT_COLUMNS}, false AS ok, false AS learn FROM events "
            f"WHERE {FAILED_SIGNIN} AND {before})"
        )
        result = con.execute(
            f"""
            WITH a AS ({key_columns_sql("__rm_attempt_in")}),
            h AS ({key_columns_sql(history)}),
            agg AS (
              SELECT count(*) FILTER (WHERE h.ok) AS g_all,
                count(*) FILTER (WHERE NOT h.ok) AS f_all,
                count(*) FILTER (WHERE h.ok AND {settled} AND h.acct = a.acct) AS u_all,
                count(*) FILTER (WHERE h.ok AND h.acct = a.acct) AS any_before,
                count(DISTINCT h.acct) FILTER (WHERE h.ok) AS known_users,
                {", ".join(counts)}
              FROM a LEFT JOIN h ON TRUE
            ), c AS (
              SELECT a.* EXCLUDE ({", ".join(key_names())}), agg.*,
                agg.known_users + CASE WHEN agg.any_before = 0 THEN 1 ELSE 0 END AS users
              FROM a, agg
            ), s AS ({_score_relation(p, "c")})
            SELECT {_result_columns(p)}, s.* FROM s
            """
        )
        names = [d[0] for d in result.description]
        values = result.fetchall()[0]
    finally:
        con.close()
    return _explain(dict(zip(names, values, strict=False)), row, p)


def _learned_marks(con: duckdb.DuckDBPyConnection, p: RiskParams, row: dict[str, Any]) -> None:
    """Temp table ``__rm_learned`` (event_id, learn): the attempt's account's sign-ins, each
    marked as the batch model marks it (risk below ``learn_risk``)."""
    build_signin_risk(con, params={f.name: getattr(p, f.name) for f in fields(p)}, window=Window(narrow=True))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __rm_learned AS "
        f"SELECT event_id, risk < {float(p.learn_risk)!r} AS learn FROM signin_risk "
        "WHERE account = ? AND coalesce(tenant, '') = coalesce(?, '')",
        [row["account"], row.get("tenant")],
    )
    con.execute("DROP TABLE signin_risk")


_LEVEL_VALUE_COLUMN = {
    "country": "country",
    "asn": "asn",
    "ip": "src_ip",
    "os": "ua_os",
    "browser": "ua_family",
    "ua": "user_agent",
}


def _explain(r: dict[str, Any], row: dict[str, Any], p: RiskParams) -> dict[str, Any]:
    """Shape one scored row into the CLI / API answer."""
    features = []
    for lv in LEVELS:
        value = row.get(_LEVEL_VALUE_COLUMN[lv.name])
        if lv.name == "asn" and value is None:
            value = row.get("asn_org")
        parent_pop = r[f"g_{lv.parent or 'all'}"]
        features.append(
            {
                "feature": lv.name,
                "parent": lv.parent,
                "value": value,
                "account_count": int(r[f"u_{lv.name}"]),
                "account_parent_count": int(r[f"u_{lv.parent or 'all'}"]),
                "population_share": (r[f"g_{lv.name}"] / parent_pop) if parent_pop else 0.0,
                "new_for_account": bool(r[f"new_{lv.name}"]),
                "failed_before": int(r[f"f_{lv.name}"]),
                "history_ratio": math.exp(r[f"hist_{lv.name}"]),
                "reputation_factor": math.exp(r[f"rep_{lv.name}"]),
                "likelihood_ratio": r[f"lr_{lv.name}"],
                "log_lr": r[f"llr_{lv.name}"],
            }
        )
    features.sort(key=lambda f: -f["log_lr"])
    return {
        "account": row["account"],
        "tenant": row.get("tenant"),
        "time": row["time"].isoformat().replace("+00:00", "Z"),
        "src_ip": row["src_ip"],
        "risk": round(float(r["risk"]), 2),
        "log_likelihood_ratio": r["llr"],
        "history_signins": int(r["u_all"]),
        "features": features,
        "user_prior": {
            "likelihood_ratio": r["lr_user"],
            "log_lr": r["llr_user"],
            "known_users": int(r["users"]),
            "population_signins": int(r["g_all"]),
        },
        "params": {f.name: getattr(p, f.name) for f in fields(p)},
    }
