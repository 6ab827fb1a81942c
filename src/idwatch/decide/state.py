"""In-memory per-account risk state: the Freeman et al. counts of ``riskmodel`` held in dicts.

``idwatch score`` used to rebuild the batch model per call (10-25 s). Here the counts the model
needs (per account and value path: country -> network -> address, OS -> browser -> agent; the
population's successes and failures per value; totals) are aggregated once from the store,
kept in memory, saved as a state file and updated after each stream micro-batch, so one
decision is a few dict lookups.

Not teachable: a success joins the account's counts only once it is ``settle_hours`` old,
only if it was not tied to an attack by then (an alert naming its event, or its address in a
campaign), and only if it passes the batch model's learning rule (``riskmodel``: below
``learn_risk`` and inside the account's own typical range, or from a network the account used
on ``vouch_days`` earlier days). A later alert on a settled success removes it again
(``unlearn``).

Calibration: ``risk`` is the percentile of the attempt's log-likelihood ratio among the
store's own learned (legitimate) sign-ins: risk 50 = as unusual as the median legitimate
sign-in, risk 99 = more unusual than 99 % of them. The raw model score is ``model_risk``.
"""

from __future__ import annotations

import bisect
import math
import pickle
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from idwatch.detections.riskmodel import RiskParams, Window, build_signin_risk, normalize_attempt
from idwatch.detections.riskmodel_sql import FAILED_SIGNIN, LEVELS, network_sql

STATE_NAME = "decide_state.pkl"
#: A campaign is active while its last activity is at most this old (one month: state actors
#: reuse infrastructure for weeks; older addresses have usually been handed to new tenants).
CAMPAIGN_ACTIVE_DAYS = 30

_CHAINS = (("country", "asn", "ip"), ("os", "browser", "ua"))
_LEVEL_PAIRS = tuple((lv.name, lv.parent) for lv in LEVELS)


def _BY_LOG_LR(feature: dict[str, Any]) -> float:  # noqa: N802 - a sort key, named as a constant
    return -feature["log_lr"]


def value_paths(row: dict[str, Any]) -> dict[str, tuple]:
    """The level -> value-path tuples of one canonical row (same values as ``riskmodel_sql``)."""
    country = row.get("country") or "?"
    asn = row.get("asn")
    org = (row.get("asn_org") or "").strip()
    if asn is not None:
        net = f"AS{int(asn)}"
    elif org:
        net = "ORG:" + org.upper()
    else:
        net = "NET:" + _prefix(str(row["src_ip"]))
    os_ = row.get("ua_os") or "?"
    br = row.get("ua_family") or "?"
    ua = row.get("user_agent") or ""
    return feature_paths(country, net, str(row["src_ip"]), os_, br, ua)


def feature_paths(country: str, net: str, ip: str, os_: str, browser: str, ua: str) -> dict[str, tuple]:
    """The model's two hierarchies (country > network > address, OS > browser > agent) as keys."""
    return {
        "country": (country,),
        "asn": (country, net),
        "ip": (country, net, ip),
        "os": (os_,),
        "browser": (os_, browser),
        "ua": (os_, browser, ua),
    }


def _prefix(ip: str) -> str:
    if ":" not in ip:
        return ip.rsplit(".", 1)[0] + ".0/24"
    import ipaddress

    net = ipaddress.IPv6Network(f"{ip}/64", strict=False)
    return ":".join(f"{int(g, 16):x}" for g in net.exploded.split(":")[:4]) + "::/64"


@dataclass
class Pending:
    """A success waiting to settle: it joins the counts at ``time + settle_hours``."""

    event_id: str
    acct: tuple[str, str]
    time: datetime
    paths: dict[str, tuple]
    llr: float
    vdays: int = 0  # distinct earlier days the account used this network (vouching)
    judged: bool | None = None  # the batch model's learning mark, when it judged this one


@dataclass
class RiskState:
    """All counts one decision needs; see the module docstring."""

    params: RiskParams = field(default_factory=RiskParams)
    u: dict[tuple, int] = field(default_factory=dict)  # (acct, level, path) -> learned successes
    u_all: dict[tuple, int] = field(default_factory=dict)  # acct -> learned successes
    g: dict[tuple, int] = field(default_factory=dict)  # (level, path) -> population successes
    f: dict[tuple, int] = field(default_factory=dict)  # (level, path) -> population failures
    g_all: int = 0
    f_all: int = 0
    seen: set = field(default_factory=set)  # accounts with any success (the prior's `users`)
    typical: dict[tuple, tuple[int, float, float]] = field(default_factory=dict)  # acct -> n, mean, M2
    learned: dict[str, tuple] = field(default_factory=dict)  # event_id -> (acct, paths) for unlearning
    pending: list[Pending] = field(default_factory=list)
    tied: set = field(default_factory=set)  # event ids an alert ties to an attack
    campaign_ips: dict[str, str] = field(default_factory=dict)  # address -> campaign id (active)
    legit_llr: list[float] = field(default_factory=list)  # sorted: the calibration sample
    ip_info: dict[str, tuple] = field(default_factory=dict)  # address -> (asn, asn_org, country)
    ua_info: dict[str, tuple] = field(default_factory=dict)  # user agent -> (ua_family, ua_os)
    tenant_of: dict[str, str] = field(default_factory=dict)  # account -> its latest tenant
    days: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # (acct, network) -> n days, last
    as_of: datetime | None = None

    # ------------------------------------------------------------------ scoring

    def score(self, row: dict[str, Any]) -> dict[str, Any]:
        """Risk of one attempt (canonical columns), with the per-feature likelihood ratios.

        The decision's hot path: a dozen dict lookups and logs, no allocation beyond the answer.
        """
        p = self.params
        acct = (row.get("tenant") or "", row["account"])
        paths = value_paths(row)
        u_all = self.u_all.get(acct, 0)
        u, gd, fd = self.u.get, self.g.get, self.f.get
        a = p.alpha
        log_a = math.log(a)
        weight, smooth = p.reputation_weight, p.reputation_smoothing
        log, exp = math.log, math.exp
        features = []
        total = 0.0
        above: dict[str, tuple[int, int, int]] = {}  # level -> (n, g, f): the next level's parent
        for name, parent in _LEVEL_PAIRS:
            path = paths[name]
            n = u((acct, name, path), 0)
            g = gd((name, path), 0)
            fv = fd((name, path), 0)
            m, gp, fp = above[parent] if parent else (u_all, self.g_all, self.f_all)
            above[name] = (n, g, fv)
            share = g / max(gp, 1)
            hist = log(m + a) - log_a if n == 0 else log(max(share, 1e-300)) + log(m + a) - log(n + a * share)
            rep = 0.0
            if weight:
                q = fp / max(fp + gp, 1)
                r = (fv + smooth) / ((fv + g) * q + smooth)
                rep = log(1.0 - weight + weight * r)
            lr = hist + rep
            total += lr
            features.append(
                {
                    "feature": name,
                    "parent": parent,
                    "value": path[-1],
                    "account_count": n,
                    "account_parent_count": m,
                    "population_share": share,
                    "new_for_account": n == 0,
                    "failed_before": fv,
                    "history_ratio": exp(hist),
                    "reputation_factor": exp(rep),
                    "likelihood_ratio": exp(lr),
                    "log_lr": lr,
                }
            )
        users = len(self.seen) + (0 if acct in self.seen else 1)
        prior = 0.0
        if p.user_prior:
            prior = log(self.g_all + users) - log(users) - log(u_all + 1.0)
        total += prior
        features.sort(key=_BY_LOG_LR)
        model_risk = 100.0 / (1.0 + exp(-(total - p.midpoint) / p.temperature))
        return {
            "account": row["account"],
            "tenant": row.get("tenant"),
            "src_ip": row["src_ip"],
            "risk": round(self.percentile(total), 2),
            "model_risk": round(model_risk, 2),
            "log_likelihood_ratio": total,
            "history_signins": u_all,
            "features": features,
            "user_prior": {"likelihood_ratio": exp(prior), "log_lr": prior, "known_users": users},
        }

    def percentile(self, llr: float) -> float:
        """Share (0-100) of the store's learned sign-ins whose log-LR is below ``llr``."""
        if not self.legit_llr:  # no calibration sample yet: the model's own logistic scale
            p = self.params
            return 100.0 / (1.0 + math.exp(-(llr - p.midpoint) / p.temperature))
        return 100.0 * bisect.bisect_left(self.legit_llr, llr) / len(self.legit_llr)

    def fill(self, row: dict[str, Any]) -> dict[str, Any]:
        """Complete a bare attempt from what the store said of its address, agent and account
        (consistent with the history by construction); given values always win."""
        if row.get("tenant") in (None, "") and row["account"] in self.tenant_of:
            row["tenant"] = self.tenant_of[row["account"]]
        got = self.ip_info.get(row["src_ip"])
        if got is not None:
            for name, value in zip(("asn", "asn_org", "country"), got, strict=True):
                if row.get(name) in (None, "") and value is not None:
                    row[name] = value
        got = self.ua_info.get(row.get("user_agent") or "")
        if got is not None:
            for name, value in zip(("ua_family", "ua_os"), got, strict=True):
                if row.get(name) in (None, "") and value is not None:
                    row[name] = value
        return row

    def _remember(self, row: dict[str, Any]) -> None:
        self.ip_info[str(row["src_ip"])] = (row.get("asn"), row.get("asn_org"), row.get("country"))
        if row.get("user_agent"):
            self.ua_info[row["user_agent"]] = (row.get("ua_family"), row.get("ua_os"))
        if row.get("tenant"):
            self.tenant_of[row["account"]] = row["tenant"]

    # ------------------------------------------------------------------ learning

    def typical_limit(self, acct: tuple) -> float:
        """The highest log-LR still inside the account's own typical range."""
        p = self.params
        cap = p.midpoint + p.temperature * math.log(p.learn_risk / max(100.0 - p.learn_risk, 1e-9))
        n, mean, m2 = self.typical.get(acct, (0, 0.0, 0.0))
        if n < p.typical_min:
            return cap
        sd = math.sqrt(max(m2 / (n - 1), 0.0)) if n > 1 else 0.0
        return min(cap, mean + max(p.typical_sd * sd, p.typical_floor))

    def learnable(self, item: Pending) -> bool:
        """The batch model's rule (``riskmodel``): below learn_risk, and typical or vouched for."""
        if item.judged is not None:
            return item.judged
        p = self.params
        if p.learn_risk >= 100.0:
            return True
        if p.vouch_days and item.vdays >= p.vouch_days:
            return 100.0 / (1.0 + math.exp(-(item.llr - p.midpoint) / p.temperature)) < p.learn_risk
        return item.llr <= self.typical_limit(item.acct)

    def _learn(self, item: Pending) -> None:
        for name, path in item.paths.items():
            key = (item.acct, name, path)
            self.u[key] = self.u.get(key, 0) + 1
        self.u_all[item.acct] = self.u_all.get(item.acct, 0) + 1
        n, mean, m2 = self.typical.get(item.acct, (0, 0.0, 0.0))
        n += 1
        delta = item.llr - mean
        mean += delta / n
        self.typical[item.acct] = (n, mean, m2 + delta * (item.llr - mean))
        self.learned[item.event_id] = (item.acct, item.paths)

    def unlearn(self, event_ids: list[str]) -> int:
        """Remove sign-ins an alert now ties to an attack from the accounts' counts; how many."""
        removed = 0
        for eid in event_ids:
            self.tied.add(eid)
            got = self.learned.pop(eid, None)
            if got is None:
                continue
            acct, paths = got
            for name, path in paths.items():
                key = (acct, name, path)
                left = self.u.get(key, 0) - 1
                if left > 0:
                    self.u[key] = left
                else:
                    self.u.pop(key, None)
            self.u_all[acct] = max(self.u_all.get(acct, 0) - 1, 0)
            removed += 1
        self.pending = [x for x in self.pending if x.event_id not in self.tied]
        return removed

    def settle(self, now: datetime) -> int:
        """Learn every pending success that is ``settle_hours`` old and still untied."""
        cutoff = now - timedelta(hours=self.params.settle_hours)
        if not self.pending or self.pending[0].time > cutoff:  # the hot path: nothing to settle
            return 0
        # pending is in arrival (time) order: the settled ones are a prefix
        cut = bisect.bisect_right([x.time for x in self.pending], cutoff)
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        learned = 0
        for item in ready:
            if item.event_id in self.tied or item.paths["ip"][2] in self.campaign_ips:
                continue
            if self.learnable(item):
                self._learn(item)
                learned += 1
        return learned

    def observe(self, rows: list[dict[str, Any]]) -> None:
        """Count new events (canonical rows, time order): population now, successes pending."""
        for row in rows:
            if row.get("activity") != "sign_in":
                continue
            self._remember(row)
            paths = value_paths(row)
            if row.get("outcome") == "failure":
                self.f_all += 1
                for name, path in paths.items():
                    self.f[(name, path)] = self.f.get((name, path), 0) + 1
                continue
            if row.get("outcome") != "success":
                continue
            acct = (row.get("tenant") or "", row["account"])
            llr = self.score(row)["log_likelihood_ratio"]  # judged before it counts itself
            self.g_all += 1
            for name, path in paths.items():
                self.g[(name, path)] = self.g.get((name, path), 0) + 1
            self.seen.add(acct)
            t = row["time"]
            eid = str(row.get("event_id") or "")
            vdays = self._count_day(acct, paths["asn"], t, tied=eid in self.tied)
            self.pending.append(Pending(eid, acct, t, paths, llr, vdays))
            self.as_of = max(self.as_of or t, t)

    def _count_day(self, acct: tuple, network: tuple, t: datetime, *, tied: bool) -> int:
        """Distinct days before ``t``'s (UTC) the account used ``network``; counts ``t``'s day."""
        day = int(t.timestamp() // 86400)
        n, last = self.days.get((acct, network), (0, -1))
        before = n - (1 if last >= day else 0)
        if not tied and last < day:
            self.days[(acct, network)] = (n + 1, day)
        return before

    def save(self, path: Path) -> Path:
        """Write the state file (pickle of plain containers; written whole, then renamed)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
        return path


def state_path(store: Any) -> Path:
    """Where a store's decide state is kept."""
    return Path(store.state_dir) / STATE_NAME


def load(store: Any) -> RiskState | None:
    """The saved state of ``store``, or None. A state file is trusted: it is the store's own."""
    path = state_path(store)
    if not path.is_file():
        return None
    return pickle.loads(path.read_bytes())  # noqa: S301 - written by this store's own idwatch


def _tied_event_ids(store: Any) -> set[str]:
    alerts = store.read_state_table("alerts")
    if alerts is None or "event_ids" not in alerts.column_names:
        return set()
    stages = alerts.column("stage").to_pylist()
    ids = alerts.column("event_ids").to_pylist()
    return {e for stage, evs in zip(stages, ids, strict=True) if stage == "compromise" for e in evs or []}


def _active_campaign_ips(store: Any, as_of: datetime | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for camp in store.read_state_json("campaigns", []) or []:
        last = camp.get("last_seen")
        if as_of is not None and last:
            seen = datetime.fromisoformat(str(last).replace("Z", "+00:00"))
            if seen < as_of - timedelta(days=CAMPAIGN_ACTIVE_DAYS):
                continue
        for ip in (camp.get("infrastructure") or {}).get("ips") or []:
            out[str(ip)] = str(camp.get("id"))
    return out


_ROW_COLUMNS = (
    "event_id, tenant, account, time, activity, outcome, src_ip, asn, asn_org, country, "
    "ua_os, ua_family, user_agent"
)


def build(store: Any, *, params: dict | None = None) -> RiskState:
    """Rebuild the state from the store: the batch model's learned marks, alerts, campaigns.

    The counts are aggregated in DuckDB (one row per distinct account and value path), so
    Python only touches distinct combinations, never every event.
    """
    p = RiskParams.from_dict(params)
    st = RiskState(params=p)
    if not store.has_events():
        return st
    tied = _tied_event_ids(store)
    st.tied = tied
    con = store.connect()
    try:
        con.register("__tied", pa.table({"event_id": pa.array(sorted(tied), pa.string())}))
        params = {f.name: getattr(p, f.name) for f in fields(p)}
        build_signin_risk(con, params=params, window=Window(), tied="__tied")
        as_of = con.execute("SELECT max(time) FROM events").fetchall()[0][0]
        st.as_of = as_of
        st.campaign_ips = _active_campaign_ips(store, as_of)
        con.register("__cips", pa.table({"src_ip": pa.array(sorted(st.campaign_ips), pa.string())}))
        net = network_sql()
        settle = f"INTERVAL {int(round(p.settle_hours * 3_600_000_000))} MICROSECONDS"
        learn = (
            f"learned AND time <= TIMESTAMPTZ '{as_of.isoformat()}' - {settle} "
            "AND event_id NOT IN (SELECT event_id FROM __tied) AND src_ip NOT IN (SELECT src_ip FROM __cips)"
        )
        vals = (
            f"coalesce(country, '?') AS c, {net} AS n, src_ip AS i, coalesce(ua_os, '?') AS o, "
            "coalesce(ua_family, '?') AS b, coalesce(user_agent, '') AS a"
        )
        rows = con.execute(
            f"SELECT coalesce(tenant, '') t, account, c, n, i, o, b, a, "
            f"count(*) FILTER (WHERE {learn}) AS learned, count(*) AS total, "
            f"list(llr) FILTER (WHERE {learn}) AS llrs "
            f"FROM (SELECT *, {vals} FROM signin_risk) GROUP BY ALL"
        ).fetchall()
        fails = con.execute(
            f"SELECT c, n, i, o, b, a, count(*) FROM (SELECT *, {vals} FROM events WHERE {FAILED_SIGNIN}) "
            "GROUP BY ALL"
        ).fetchall()
        # distinct days each account used each network in untied successes (vouching)
        day = "CAST(floor(epoch(time) / 86400) AS BIGINT)"
        days = con.execute(
            f"SELECT coalesce(tenant, '') t, account, c, n, count(DISTINCT {day}), max({day}) "
            f"FROM (SELECT *, {vals} FROM signin_risk) "
            "WHERE event_id NOT IN (SELECT event_id FROM __tied) GROUP BY ALL"
        ).fetchall()
        st.days = {((t, a), (c, n)): (int(k), int(last)) for t, a, c, n, k, last in days}
        # the unsettled tail: successes of the last settle_hours stay pending, as a stream would
        recent = con.execute(
            "SELECT event_id, tenant, account, time, src_ip, asn, asn_org, country, ua_os, ua_family, "
            f"user_agent, llr, learned FROM signin_risk "
            f"WHERE time > TIMESTAMPTZ '{as_of.isoformat()}' - {settle} ORDER BY time"
        )
        names = [d[0] for d in recent.description]
        recent_rows = [dict(zip(names, r, strict=True)) for r in recent.fetchall()]
        # the latest enrichment of each address / agent and tenant of each account, as from_store
        latest = "QUALIFY row_number() OVER (PARTITION BY {k} ORDER BY time DESC) = 1"
        st.ip_info = {
            r[0]: r[1:]
            for r in con.execute(
                f"SELECT src_ip, asn, asn_org, country FROM events {latest.format(k='src_ip')}"
            ).fetchall()
        }
        st.ua_info = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT user_agent, ua_family, ua_os FROM events WHERE user_agent IS NOT NULL "
                + latest.format(k="user_agent")
            ).fetchall()
        }
        st.tenant_of = dict(
            con.execute(
                f"SELECT account, tenant FROM events WHERE tenant IS NOT NULL {latest.format(k='account')}"
            ).fetchall()
        )
    finally:
        con.close()
    sample: list[float] = []
    for t, account, c, n, i, o, b, a, learned, total, llrs in rows:
        acct = (t, account)
        paths = feature_paths(c, n, i, o, b, a)
        st.seen.add(acct)
        st.g_all += total
        for name, path in paths.items():
            st.g[(name, path)] = st.g.get((name, path), 0) + total
            if learned:
                key = (acct, name, path)
                st.u[key] = st.u.get(key, 0) + learned
        if learned:
            st.u_all[acct] = st.u_all.get(acct, 0) + learned
            for llr in llrs:
                cnt, mean, m2 = st.typical.get(acct, (0, 0.0, 0.0))
                cnt += 1
                d = llr - mean
                mean += d / cnt
                st.typical[acct] = (cnt, mean, m2 + d * (llr - mean))
            sample.extend(llrs)
    for c, n, i, o, b, a, cnt in fails:
        st.f_all += cnt
        for name, path in feature_paths(c, n, i, o, b, a).items():
            st.f[(name, path)] = st.f.get((name, path), 0) + cnt
    st.legit_llr = sorted(sample)
    for r in recent_rows:
        acct = (r.get("tenant") or "", r["account"])
        paths, llr = value_paths(r), float(r["llr"])
        item = Pending(r["event_id"], acct, r["time"], paths, llr, judged=bool(r["learned"]))
        st.pending.append(item)
    return st


def update(state: RiskState, events: pa.Table) -> RiskState:
    """Feed one stream micro-batch (canonical events, enriched) into ``state``; the stream's hook.

    Counts the batch's sign-ins, unlearns nothing by itself (call :meth:`RiskState.unlearn`
    with an alert's ``event_ids`` when alerts arrive), and settles successes now old enough.
    """
    cols = [c for c in _ROW_COLUMNS.split(", ") if c in events.column_names]
    rows = events.select(cols).sort_by("time").to_pylist()
    state.observe(rows)
    if state.as_of is not None:
        state.settle(state.as_of)
    return state


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = ["RiskState", "build", "load", "normalize_attempt", "state_path", "update", "value_paths"]
