"""A nation-state actor's campaign: research, probing, takeover attempts, the few successes, persistence.

Everything is planned up front (a campaign is thousands of events, not millions) and handed out
day by day. The numbers the scenario asks for (probes, accounts attacked, accounts compromised)
come out exactly, by construction, with the definitions of EVENTS.md section 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.simulate.clock import WorkClock, epoch_us
from idwatch.simulate.frame import BATCH_SCHEMA, batch
from idwatch.simulate.iptable import IpTable
from idwatch.simulate.names import UA_DESKTOP
from idwatch.simulate.networks import BY_KEY
from idwatch.simulate.people import MFA_METHODS
from idwatch.simulate.population import Population
from idwatch.simulate.scenario import Actor, Scenario, ScenarioError
from idwatch.simulate.util import sha256_hex

DAY_US = 86_400 * 10**6
HOUR_US = 3600 * 10**6


@dataclass
class Infra:
    ips: np.ndarray  # address indices
    active_from: np.ndarray
    active_to: np.ndarray
    own: np.ndarray  # indices the actor rents alone (not shared with benign VPN users)
    mistake_ips: np.ndarray


def _variants(first: str, last: str, rng: np.random.Generator) -> list[str]:
    """Local parts a researcher would try for a person's name."""
    year = int(rng.integers(60, 99))
    return [
        f"{first}.{last}",
        f"{first}{last}",
        f"{first[0]}{last}",
        f"{first}_{last}",
        f"{last}.{first}",
        f"{first}.{last}{year}",
        f"{first}{last}{year}",
        f"{first[0]}.{last}",
        f"{last}{first[0]}",
        f"{first}",
        f"{first}.{last[0]}",
    ]


class StateActor:
    """One actor's whole campaign as an event table, sliced per day on demand."""

    def __init__(
        self,
        sc: Scenario,
        cfg: Actor,
        pop: Population,
        ipt: IpTable,
        rng: np.random.Generator,
        taken: set[str],
    ):
        self.cfg, self.pop, self.sc, self.ipt = cfg, pop, sc, ipt
        self.conv = sc.conventions
        # the password step of an MFA-gated sign-in, as this provider logs it
        self.gated = "success" if self.conv.mfa_logging == "password_success" else "pending"
        self.actor_id = f"act-{cfg.id}"
        self.campaign_id = f"cmp-{cfg.id}"
        self.clock = WorkClock(cfg, rng)
        self.infra = self._infrastructure(ipt, rng)
        self.rng = rng
        self.uas = cfg.user_agents or [UA_DESKTOP[0], UA_DESKTOP[2]]
        self.workstations: list[str] = []
        if self.conv.operator_device == "reuse":  # the operators keep their browsers (and cookies)
            self.workstations = [
                f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**62)):016x}"
                for _ in range(max(1, self.conv.operator_workstations))
            ]
        self._victim_ips: dict[int, int] = {}
        attacked, researched = self._targets(rng, taken)
        self.attacked, self.researched = attacked, researched
        self.compromised = self._compromised(rng, attacked)
        parts: list[pa.Table] = []
        first_probe = self._research(rng, attacked + researched, attacked, parts)
        rows: list[dict] = []
        for u in attacked:
            self._attack(rng, u, first_probe[u], u in self.compromised, rows)
        if rows:
            keys = sorted({k for r in rows for k in r})
            parts.append(
                batch(
                    len(rows),
                    **{
                        k: np.asarray(
                            [r.get(k, "") for r in rows], dtype=np.int64 if k in ("time", "ip") else object
                        )
                        for k in keys
                    },
                )
            )
        if self._victim_ips:  # single-use servers join the infrastructure (and, some, the intel)
            extra = np.asarray(sorted(self._victim_ips.values()), dtype=np.int64)
            inf, zero = self.infra, np.zeros(len(extra), dtype=np.int64)
            self.infra = Infra(
                np.concatenate([inf.ips, extra]),
                np.concatenate([inf.active_from, zero]),
                np.concatenate([inf.active_to, zero]),
                np.concatenate([inf.own, extra]),
                inf.mistake_ips,
            )
        events = pa.concat_tables(parts) if parts else BATCH_SCHEMA.empty_table()
        events = self._mistakes(rng, events)
        order = pc.sort_indices(events, [("time", "ascending")])
        self.events = events.take(order)
        self._times = self.events.column("time").to_numpy()

    # ------------------------------------------------------------------ planning
    def _infrastructure(self, ipt: IpTable, rng: np.random.Generator) -> Infra:
        c = self.cfg.infrastructure
        own, shared = [], []
        for i in range(c.ips):
            key = c.networks[i % len(c.networks)]
            pool = f"{BY_KEY[key].kind}:{key}"
            if pool in ipt.pools:  # VPN and Tor exits are shared with everyone who uses them
                start, size = ipt.pool(pool)
                shared.append(start + int(rng.integers(0, size)))
            else:  # a server rented for the operation
                own.append(ipt.add(rng, BY_KEY[key], 1))
        vpn_pools = sorted(p for p in ipt.pools if p.startswith("vpn:"))
        for _ in range(c.shared_vpn_ips):
            start, size = ipt.pool(vpn_pools[int(rng.integers(0, len(vpn_pools)))])
            shared.append(start + int(rng.integers(0, size)))
        ips = np.asarray(own + shared, dtype=np.int64)
        span = self.clock.last_us - self.clock.first_us
        life = (c.rotation_days * DAY_US * rng.uniform(0.5, 1.5, len(ips))).astype(np.int64)
        start = self.clock.first_us + (rng.random(len(ips)) * np.maximum(span - life, 1)).astype(np.int64)
        mistakes = [ipt.add(rng, BY_KEY[key], 1) for key in c.mistake_networks]  # the operators' home ISP
        return Infra(
            ips, start, start + life, np.asarray(own, dtype=np.int64), np.asarray(mistakes, dtype=np.int64)
        )

    def _ip_at(self, rng: np.random.Generator, t: int) -> int:
        inf = self.infra
        live = np.flatnonzero((inf.active_from <= t) & (inf.active_to >= t))
        if not len(live):
            live = np.argsort(np.abs(inf.active_from - t))[:3]
        return int(inf.ips[live[int(rng.integers(0, len(live)))]])

    def _targets(self, rng: np.random.Generator, taken: set[str]) -> tuple[list[int], list[int]]:
        pop = self.pop
        tenants = np.asarray(pop.tenants, dtype=object)[pop.tenant_idx]
        attacked: list[int] = []
        researched: list[int] = []
        for t in self.cfg.targets:
            m = pop.category == t.category
            if t.tenants:
                m &= np.isin(tenants, t.tenants)
            free = np.asarray([i for i in np.flatnonzero(m) if pop.account[i] not in taken], dtype=np.int64)
            need = t.attacked + t.researched
            if len(free) < need:
                raise ScenarioError(
                    f"actor {self.cfg.id}: needs {need} '{t.category}' accounts"
                    f"{' in ' + ', '.join(t.tenants) if t.tenants else ''}"
                    f" but the population has {len(free)};"
                    " raise --scale or the tenant sizes"
                )
            pick = rng.choice(free, size=need, replace=False)
            attacked += [int(i) for i in pick[: t.attacked]]
            researched += [int(i) for i in pick[t.attacked :]]
        for i in attacked + researched:
            taken.add(str(pop.account[i]))
        return attacked, researched

    def _compromised(self, rng: np.random.Generator, attacked: list[int]) -> set[int]:
        s = self.cfg.success
        if s.compromised == 0:
            return set()
        ok = [u for u in attacked if not s.categories or self.pop.category[u] in s.categories]
        if len(ok) < s.compromised:
            raise ScenarioError(
                f"actor {self.cfg.id}: {s.compromised} to compromise but only {len(ok)} attacked "
                f"accounts in categories {s.categories}"
            )
        return {int(u) for u in rng.choice(ok, size=s.compromised, replace=False)}

    def _common(self, rng: np.random.Generator, t: int) -> dict:
        """Per-session columns: an address live at ``t``, the operators' browser, a fresh cookie."""
        sid = f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**32)):08x}"
        cookie = f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**62)):016x}"
        out = {
            "ip": self._ip_at(rng, t),
            "user_agent": self.uas[int(rng.integers(0, len(self.uas)))],
            "session_id": sid,
            "device_id": cookie if rng.random() < 0.7 else "",
            "actor": self.actor_id,
            "campaign": self.campaign_id,
            "kind": self.cfg.kind,
        }
        if self.workstations:
            out["device_id"] = self.workstations[int(rng.integers(0, len(self.workstations)))]
        return out

    def _victim_ip(self, rng: np.random.Generator, u: int) -> int:
        """The server rented for this one victim (single-use infrastructure)."""
        ip = self._victim_ips.get(u)
        if ip is None:
            nets = self.cfg.infrastructure.networks
            ip = self.ipt.add(rng, BY_KEY[nets[int(rng.integers(0, len(nets)))]], 1)
            self._victim_ips[u] = ip
        return ip

    # ------------------------------------------------------------------ research
    def _research(
        self, rng: np.random.Generator, people: list[int], attacked: list[int], parts: list[pa.Table]
    ) -> dict[int, int]:
        """Exactly ``research.probes`` probe events over identifiers derived from the targets' names."""
        pop, r = self.pop, self.cfg.research
        idents: dict[str, int] = {}  # identifier -> person it was derived for
        must: set[str] = set()
        for u in people:
            own = str(pop.account[u])
            idents[own] = u
            must.add(own)
            k = int(rng.integers(r.variants[0], r.variants[1] + 1))
            locals_ = _variants(str(pop.first[u]), str(pop.last[u]), rng)
            for _ in range(k):
                local = locals_[int(rng.integers(0, len(locals_)))]
                dom = r.domains[int(rng.integers(0, len(r.domains)))]
                if dom == "@tenant":
                    dom = own.split("@", 1)[1]
                elif dom == "@consumer":
                    dom = pop.consumer_domains[int(rng.integers(0, len(pop.consumer_domains)))]
                idents.setdefault(f"{local}@{dom}", u)
        names = list(idents)
        optional = [a for a in names if a not in must]
        rng.shuffle(optional)
        budget = r.probes - len(must)
        if budget < 0:
            raise ScenarioError(
                f"actor {self.cfg.id}: research.probes ({r.probes}) < people researched ({len(must)})"
            )
        keep = [a for a in names if a in must] + optional[
            : max(0, min(len(optional), int(budget * r.spread)))
        ]
        extra = r.probes - len(keep)
        weights = np.array([3.0 if a in must else 1.0 for a in keep])
        counts = 1 + rng.multinomial(extra, weights / weights.sum())
        mix_names = list(r.mix)
        mix_p = np.asarray([r.mix[k] for k in mix_names], dtype=float)
        mix_p /= mix_p.sum()
        # first look: one research session per person, all of their identifiers in a quick burst
        span_end = self.clock.first_us + int((self.clock.last_us - self.clock.first_us) * 0.7)
        session_t = {u: int(self.clock.sample(rng, 1, before_us=span_end)[0]) for u in people}
        first_probe: dict[int, int] = {}
        rows: dict[str, list] = {
            k: []
            for k in (
                "time",
                "account",
                "tenant",
                "exists",
                "activity",
                "step",
                "method",
                "outcome",
                "reason",
                "ip",
                "ua",
                "sid",
                "dev",
            )
        }
        sessions: dict[int, dict] = {}
        for a, c in zip(keep, counts, strict=True):
            u = idents[a]
            exists = a in pop.index
            tenant = pop.domain_tenant.get(a.split("@", 1)[1], "")
            times = [session_t[u] + int(rng.integers(2, 600)) * 10**6]
            if c > 1:
                times += [int(x) for x in self.clock.sample(rng, int(c) - 1)]
            for t in times:
                if t - session_t[u] < HOUR_US:
                    if u not in sessions:  # the first look: one session per person
                        sessions[u] = self._common(rng, session_t[u])
                    s = sessions[u]
                else:
                    s = self._common(rng, t)
                act = "account_lookup" if exists else mix_names[int(rng.choice(len(mix_names), p=mix_p))]
                if exists:
                    outcome, reason = "success", ""
                else:
                    outcome, reason = "failure", "unknown_account"
                rows["time"].append(t)
                rows["account"].append(a)
                rows["tenant"].append(tenant)
                rows["exists"].append(exists)
                rows["activity"].append(act)
                rows["step"].append("start" if act in ("password_reset", "account_recovery") else "")
                rows["method"].append("password" if act == "sign_in" else "")
                rows["outcome"].append(outcome)
                rows["reason"].append(reason)
                rows["ip"].append(s["ip"])
                rows["ua"].append(s["user_agent"])
                rows["sid"].append(s["session_id"])
                rows["dev"].append(s["device_id"])
                owner = pop.index.get(a)
                if owner is not None and owner in session_t:
                    first_probe[owner] = min(first_probe.get(owner, t), t)
        n = len(rows["time"])
        parts.append(
            batch(
                n,
                time=np.asarray(rows["time"], np.int64),
                account=np.asarray(rows["account"], object),
                tenant=np.asarray(rows["tenant"], object),
                account_exists=np.asarray(rows["exists"]),
                activity=np.asarray(rows["activity"], object),
                step=np.asarray(rows["step"], object),
                method=np.asarray(rows["method"], object),
                outcome=np.asarray(rows["outcome"], object),
                reason=np.asarray(rows["reason"], object),
                ip=np.asarray(rows["ip"], np.int64),
                user_agent=np.asarray(rows["ua"], object),
                session_id=np.asarray(rows["sid"], object),
                device_id=np.asarray(rows["dev"], object),
                actor=self.actor_id,
                campaign=self.campaign_id,
                kind=self.cfg.kind,
            )
        )
        return first_probe

    # ------------------------------------------------------------------ attack
    def _attack(self, rng: np.random.Generator, u: int, probed_at: int, win: bool, rows: list[dict]) -> None:
        pop, a = self.pop, self.cfg.attack
        lo, hi = self.cfg.research.lead_days
        start = probed_at + int(rng.uniform(lo, hi) * DAY_US)
        n = int(min(a.attempts[1], a.attempts[0] + rng.geometric(0.45) - 1))
        times = self.clock.sample(rng, n, after_us=start)
        methods = list(a.methods)
        p = np.asarray([a.methods[m] for m in methods], dtype=float)
        p /= p.sum()
        real = str(pop.phone_hash[u] or pop.email_hash[u])
        mfa = int(pop.mfa[u])
        for i, t in enumerate(times):
            last = i == len(times) - 1
            method = self.cfg.success.via if (win and last) else methods[int(rng.choice(len(methods), p=p))]
            rows.extend(self._flow(rng, u, int(t), method, real, mfa, success=win and last))

    def _flow(
        self, rng: np.random.Generator, u: int, t: int, method: str, real: str, mfa: int, success: bool
    ) -> list[dict]:
        """The events of one takeover attempt (and, on success, of the persistence that follows)."""
        pop, acc = self.pop, self.cfg.attack.contact_accuracy
        tenant = str(np.asarray(pop.tenants)[pop.tenant_idx[u]])
        common = self._common(rng, t)
        steps: list[dict] = []

        def add(dt_s: tuple[float, float], **kw: object) -> None:
            nonlocal t
            t += int(rng.uniform(*dt_s) * 10**6)
            steps.append({"time": t, **kw})

        right = success or rng.random() < acc
        contact = real if right else sha256_hex(f"+98{rng.integers(9_000_000_000, 9_399_999_999)}")
        mfa_method = MFA_METHODS[mfa] if mfa >= 0 else "sms"
        if method in ("mfa_prompt", "mfa_fatigue") and mfa < 0:  # no second factor: the password decides
            method = "password_guess"
        victim_rows: list[dict] = []
        if method == "relay" and self.cfg.infrastructure.per_victim:
            common["ip"] = self._victim_ip(rng, u)
        if method in ("password_reset", "account_recovery"):
            via = "sms" if method == "password_reset" or rng.random() < 0.6 else "email"
            if not right:
                add(
                    (0, 0),
                    activity=method,
                    step="start",
                    method=via,
                    outcome="failure",
                    reason="verification_failed",
                    contact_hash=contact,
                )
            else:
                add(
                    (0, 0), activity=method, step="start", method=via, outcome="pending", contact_hash=contact
                )
                if success:
                    add(
                        (60, 400),
                        activity=method,
                        step="verify",
                        method=via,
                        outcome="success",
                        contact_hash=contact,
                    )
                    add((20, 120), activity=method, step="complete", outcome="success")
                    add((10, 90), activity="sign_in", method="password", outcome="success")
                else:  # the code goes to the victim's phone; the operator guesses or gives up
                    for _ in range(int(rng.integers(1, 4))):
                        add(
                            (20, 200),
                            activity=method,
                            step="verify",
                            method=via,
                            outcome="failure",
                            reason="verification_failed" if rng.random() < 0.7 else "expired",
                            contact_hash=contact,
                        )
        elif method == "password_guess":
            if success:
                add((0, 0), activity="sign_in", method="password", outcome="success")
            else:
                for _ in range(int(rng.integers(1, 4))):
                    add(
                        (5, 90),
                        activity="sign_in",
                        method="password",
                        outcome="failure",
                        reason="bad_password",
                    )
        elif method == "relay":  # password and one-time code typed into a phishing page, replayed
            if success or mfa < 0 or rng.random() < self.cfg.attack.relay_code_expired:
                if mfa < 0:
                    add(
                        (0, 0),
                        activity="sign_in",
                        method="password",
                        outcome="success" if success else "failure",
                        reason="" if success else "bad_password",
                    )
                else:
                    add((0, 0), activity="sign_in", method="password", outcome=self.gated)
                    add(
                        (8, 150),
                        activity="mfa_challenge",
                        method=mfa_method,
                        outcome="success" if success else "failure",
                        reason="" if success else "expired",
                    )
            else:  # the victim typed a wrong password into the page
                for _ in range(int(rng.integers(1, 3))):
                    add(
                        (5, 60),
                        activity="sign_in",
                        method="password",
                        outcome="failure",
                        reason="bad_password",
                    )
            if rng.random() < self.cfg.attack.relay_victim_signin:
                victim_rows = self._victim_signin(rng, u, tenant, t + int(rng.uniform(40, 600) * 10**6), mfa)
        elif method == "mfa_fatigue":  # the password is known; push prompts until the owner gives in
            add((0, 0), activity="sign_in", method="password", outcome=self.gated)
            lo, hi = self.cfg.attack.fatigue_prompts
            for _ in range(int(rng.integers(lo, hi + 1))):
                add(
                    (15, 150),
                    activity="mfa_challenge",
                    method="push",
                    outcome="failure",
                    reason="mfa_denied" if rng.random() < 0.4 else "mfa_timeout",
                )
            if success:
                add((15, 150), activity="mfa_challenge", method="push", outcome="success")
        elif method == "mfa_prompt":
            add((0, 0), activity="sign_in", method="password", outcome=self.gated)
            if success:
                add((20, 240), activity="mfa_challenge", method=mfa_method, outcome="success")
            else:
                for _ in range(int(rng.integers(1, 4))):
                    add(
                        (20, 240),
                        activity="mfa_challenge",
                        method=mfa_method,
                        outcome="failure",
                        reason="mfa_denied" if rng.random() < 0.5 else "mfa_timeout",
                    )
        else:
            raise ScenarioError(f"actor {self.cfg.id}: unknown attack method {method!r}")
        post_share = self.cfg.success.post_share
        if success and (post_share >= 1.0 or rng.random() < post_share):
            self._persist(rng, steps, add)
        base = {"account": str(pop.account[u]), "tenant": tenant, "account_exists": True, **common}
        rows = [{**base, **st} for st in steps] + victim_rows
        if success:
            rows += self._afterwards(
                rng,
                u,
                tenant,
                t,
                changed_password=method in ("password_reset", "account_recovery"),
                ip=common["ip"] if method == "relay" and self.cfg.infrastructure.per_victim else None,
            )
        return rows

    def _victim_signin(self, rng: np.random.Generator, u: int, tenant: str, t: int, mfa: int) -> list[dict]:
        """The victim, sent on to the real site by the phishing page, signs in from home (benign)."""
        pop = self.pop
        dev = int(pop.dev_off[u])
        victim = {
            "account": str(pop.account[u]),
            "tenant": tenant,
            "account_exists": True,
            "ip": int(pop.home_ip[u, 0]),
            "user_agent": str(pop.dev_ua[dev]),
            "device_id": str(pop.dev_id[dev]),
            "session_id": f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**32)):08x}",
            "kind": "benign",
        }
        if mfa < 0:
            return [{**victim, "time": t, "activity": "sign_in", "method": "password", "outcome": "success"}]
        return [
            {**victim, "time": t, "activity": "sign_in", "method": "password", "outcome": self.gated},
            {
                **victim,
                "time": t + int(rng.uniform(5, 60) * 10**6),
                "activity": "mfa_challenge",
                "method": MFA_METHODS[mfa],
                "outcome": "success",
            },
        ]

    def _afterwards(
        self,
        rng: np.random.Generator,
        u: int,
        tenant: str,
        t: int,
        changed_password: bool,
        ip: int | None = None,
    ) -> list[dict]:
        """The operators come back to read mail; often the victim notices, recovers and cleans up.

        The victim's events are the victim's own (labelled benign), from their usual device and home.
        """
        pop = self.pop
        account = {"account": str(pop.account[u]), "tenant": tenant, "account_exists": True}
        end_us = epoch_us(self.sc.end) + DAY_US - HOUR_US
        rows = []
        visits = self.clock.sample(
            rng, int(rng.integers(0, 4)), after_us=t + HOUR_US, before_us=t + 3 * DAY_US
        )
        for v in visits:
            if v < end_us:
                row = {
                    **account,
                    **self._common(rng, int(v)),
                    "time": int(v),
                    "activity": "sign_in",
                    "method": "password",
                    "outcome": "success",
                }
                if ip is not None:  # back through the server rented for this victim
                    row["ip"] = ip
                if self.conv.stolen_cookie > 0 and rng.random() < self.conv.stolen_cookie:
                    # the session cookie stolen with the sign-in: the victim's own device id, no password
                    row["device_id"] = str(pop.dev_id[int(pop.dev_off[u])])
                    row["method"] = "token"
                rows.append(row)
        react = max([t, *[int(v) for v in visits]]) + int(rng.uniform(3, 96) * HOUR_US)
        if rng.random() > 0.65 or react > end_us:
            return rows
        dev = int(pop.dev_off[u])
        victim = {
            **account,
            "ip": int(pop.home_ip[u, 0]),
            "user_agent": str(pop.dev_ua[dev]),
            "device_id": str(pop.dev_id[dev]),
            "kind": "benign",
            "session_id": f"{int(rng.integers(0, 2**62)):016x}{int(rng.integers(0, 2**32)):08x}",
        }
        steps: list[dict] = []

        def add(dt_s: tuple[float, float], **kw: object) -> None:
            nonlocal react
            react += int(rng.uniform(*dt_s) * 10**6)
            steps.append({**victim, "time": react, **kw})

        post = self.cfg.success.post
        if changed_password:  # locked out of their own account: recover it
            add((0, 0), activity="sign_in", method="password", outcome="failure", reason="bad_password")
            add((10, 90), activity="sign_in", method="password", outcome="failure", reason="bad_password")
            add(
                (60, 900),
                activity="account_recovery",
                step="start",
                method="email",
                outcome="pending",
                contact_hash=str(pop.email_hash[u]),
            )
            add(
                (60, 900),
                activity="account_recovery",
                step="verify",
                method="email",
                outcome="success",
                contact_hash=str(pop.email_hash[u]),
            )
            add((20, 120), activity="account_recovery", step="complete", outcome="success")
            add((5, 60), activity="sign_in", method="password", outcome="success")
        else:
            add((0, 0), activity="sign_in", method="password", outcome="success")
            add((60, 600), activity="password_change", method="password", outcome="success")
        add((5, 120), activity="session_revoke", outcome="success", detail="signed out of all other sessions")
        if "mailbox_rule" in post:
            add(
                (30, 600),
                activity="mailbox_rule",
                outcome="success",
                detail="rule removed: forward all messages to external address",
            )
        if "mfa_method_change" in post:
            add(
                (30, 600),
                activity="mfa_method_change",
                method="totp",
                outcome="success",
                detail="removed authenticator app",
            )
        if "recovery_info_change" in post and pop.phone_hash[u]:
            add(
                (30, 600),
                activity="recovery_info_change",
                method="sms",
                outcome="success",
                contact_hash=str(pop.phone_hash[u]),
                detail="recovery phone changed back",
            )
        return rows + steps

    def _persist(self, rng: np.random.Generator, steps: list[dict], add) -> None:  # noqa: ANN001
        post = self.cfg.success.post
        domains = ("mail-inbox-service.com", "gmail.com", "protonmail.com", "yandex.com")
        if "mailbox_rule" in post:
            d = domains[int(rng.integers(0, len(domains)))]
            add(
                (120, 900),
                activity="mailbox_rule",
                outcome="success",
                detail=f"new rule: forward all messages to external address ({d}); mark as read",
            )
        if "mfa_method_change" in post:
            add(
                (60, 600),
                activity="mfa_method_change",
                method="totp",
                outcome="success",
                detail="added authenticator app",
            )
        if "recovery_info_change" in post:
            add(
                (60, 600),
                activity="recovery_info_change",
                method="sms",
                outcome="success",
                contact_hash=sha256_hex(f"+98{rng.integers(9_000_000_000, 9_399_999_999)}"),
                detail="recovery phone changed",
            )

    def _mistakes(self, rng: np.random.Generator, events: pa.Table) -> pa.Table:
        """A few events leak from the operators' own home connection (a forgotten VPN)."""
        k = self.cfg.infrastructure.mistakes
        if not k or not len(self.infra.mistake_ips) or events.num_rows == 0:
            return events
        sign = np.flatnonzero(pc.equal(events.column("activity"), "sign_in").to_numpy(zero_copy_only=False))
        pool = sign if len(sign) >= k else np.arange(events.num_rows)
        rows = rng.choice(pool, size=min(k, len(pool)), replace=False)
        ip = events.column("ip").to_numpy().copy()
        ip[rows] = self.infra.mistake_ips[rng.integers(0, len(self.infra.mistake_ips), len(rows))]
        return events.set_column(events.schema.get_field_index("ip"), "ip", pa.array(ip, pa.int64()))

    # ------------------------------------------------------------------ output
    def day(self, day0_us: int) -> pa.Table:
        lo, hi = np.searchsorted(self._times, [day0_us, day0_us + DAY_US])
        return self.events.slice(int(lo), int(hi - lo))

    def infrastructure_ips(self, ipt: IpTable) -> list[str]:
        return [ipt.ips[i] for i in self.infra.ips]
