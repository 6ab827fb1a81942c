"""Criminal noise: a credential-stuffing botnet and password spraying against business tenants.

These are real attacks, not nation-state campaigns: the botnet replays a leaked list of
addresses and passwords from thousands of infected home routers (about one attempt per address),
the sprayer tries one common password against every account of a business tenant from a few
rented servers. Both compromise a handful of accounts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from idwatch.simulate.frame import BATCH_SCHEMA, Step, batch, expand
from idwatch.simulate.iptable import IpTable
from idwatch.simulate.names import FIRST, LAST, UA_DESKTOP, UA_TOOLS
from idwatch.simulate.networks import BY_KEY, HOME_NETWORKS
from idwatch.simulate.population import Population
from idwatch.simulate.scenario import Scenario
from idwatch.simulate.util import hex_ids

DAY_US = 86_400 * 10**6
STUFFING = ("crim-stuffing", "cmp-stuffing")
SPRAYING = ("crim-spraying", "cmp-spraying")
LEAK_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "aol.com", "outlook.com")


class Criminals:
    """Plans the criminal waves once, then yields each day's events."""

    def __init__(self, sc: Scenario, pop: Population, ipt: IpTable, rng: np.random.Generator, scale: float):
        self.sc, self.pop, self.scale = sc, pop, scale
        # the provider's log line for a right password in front of a second factor
        self.gated = "success" if sc.conventions.mfa_logging == "password_success" else "pending"
        self.stuff = sc.criminal.stuffing
        self.spray = sc.criminal.spraying
        days = sc.days
        self.wave_days: set[int] = set()
        if self.stuff:
            k = min(self.stuff.wave_days, days)
            self.wave_days = {int(d) for d in rng.choice(days, size=k, replace=False)}
            # a botnet: infected home routers all over the world
            res = [k for c, (r, _) in HOME_NETWORKS.items() for k in r if ":" not in BY_KEY[k].cidr]
            n_ips = max(50, int(self.stuff.ips_per_wave * scale))
            self.bot_start = len(ipt.ips)
            per = n_ips // len(res) + 1
            for key in res:
                ipt.add(rng, BY_KEY[key], per)
            self.bot_size = len(ipt.ips) - self.bot_start
        self.rounds: dict[int, list[str]] = {}
        if self.spray:
            tenants = self.spray.tenants or [
                t for t, k in zip(pop.tenants, pop.tenant_kind, strict=True) if k == "business"
            ]
            for r in range(self.spray.rounds):
                d = int(rng.integers(0, days))
                self.rounds.setdefault(d, []).append(tenants[r % len(tenants)] if tenants else "")
            self.spray_ips = []
            for i in range(self.spray.ips):
                key = self.spray.networks[i % len(self.spray.networks)]
                self.spray_ips.append(ipt.add(rng, BY_KEY[key], 1))

    def day(self, day: int, day0_us: int, rng: np.random.Generator) -> pa.Table:
        parts = []
        if self.stuff and day in self.wave_days:
            parts.append(self._stuffing(day0_us, rng))
        for tenant in self.rounds.get(day, []):
            if tenant:
                parts.append(self._spraying(tenant, day0_us, rng))
        return pa.concat_tables(parts) if parts else BATCH_SCHEMA.empty_table()

    def _stuffing(self, day0_us: int, rng: np.random.Generator) -> pa.Table:
        pop, cfg = self.pop, self.stuff
        n = max(10, int(cfg.attempts_per_day * self.scale * rng.lognormal(0, 0.4)))
        start = day0_us + int(rng.integers(0, 16 * 3600)) * 10**6
        t = start + np.sort(rng.integers(0, int(rng.uniform(2, 8) * 3600 * 10**6), n))
        exists = rng.random(n) < cfg.existing
        consumer = np.flatnonzero(np.asarray(pop.tenant_kind)[pop.tenant_idx] == "consumer")
        users = np.where(
            rng.random(n) < 0.85,
            rng.choice(consumer, n) if len(consumer) else 0,
            rng.integers(0, pop.size, n),
        )
        cult = rng.choice(["en", "fa", "de", "fr", "tr"], n)
        fake = np.empty(n, dtype=object)
        domains = np.asarray(list(pop.consumer_domains) + list(LEAK_DOMAINS), dtype=object)
        for c in np.unique(cult):
            m = cult == c
            k = int(m.sum())
            f = np.asarray(FIRST[c], dtype=object)[rng.integers(0, len(FIRST[c]), k)]
            la = np.asarray(LAST[c], dtype=object)[rng.integers(0, len(LAST[c]), k)]
            num = rng.integers(1, 9999, k).astype(str).astype(object)
            fake[m] = f + "." + la + num + "@" + domains[rng.integers(0, len(domains), k)]
        account = np.where(exists, pop.account[users], fake)
        tenant_of = np.asarray(pop.tenants, dtype=object)[pop.tenant_idx[users]]
        fake_tenant = np.array([pop.domain_tenant.get(a.split("@", 1)[1], "") for a in fake], dtype=object)
        tenant = np.where(exists, tenant_of, fake_tenant)
        hit = exists & (rng.random(n) < cfg.success)
        mfa = pop.mfa[users] >= 0
        outcome = np.where(~exists, "failure", np.where(hit, np.where(mfa, self.gated, "success"), "failure"))
        reason = np.where(~exists, "unknown_account", np.where(hit, "", "bad_password"))
        ip = self.bot_start + rng.integers(0, self.bot_size, n)
        uas = np.asarray(UA_TOOLS + UA_DESKTOP[:3], dtype=object)
        ua = uas[rng.integers(0, len(uas), n)]
        main = batch(
            n,
            time=t,
            tenant=tenant,
            account=account,
            account_exists=exists,
            activity="sign_in",
            method="password",
            outcome=outcome,
            reason=reason,
            ip=ip,
            user_agent=ua,
            actor=STUFFING[0],
            campaign=STUFFING[1],
            kind="criminal",
        )
        main, sid = self._sessions(main, rng)
        parts = [main]
        m = np.flatnonzero(hit & mfa)  # right password, but the second factor stops them
        if len(m):
            parts.append(
                expand(
                    rng,
                    [Step("mfa_challenge", "failure", method="sms", reason="mfa_timeout", delay=(30, 120))],
                    t[m],
                    _fx(account[m], tenant[m], ip[m], ua[m], STUFFING, rng, None if sid is None else sid[m]),
                )
            )
        return pa.concat_tables(parts)

    def _sessions(self, main: pa.Table, rng: np.random.Generator) -> tuple[pa.Table, np.ndarray | None]:
        """Session ids on the password attempts where the password step is logged on its own, so
        the second factor that stops the attacker is tied to it (the default log has none)."""
        if self.gated != "success" or main.num_rows == 0:
            return main, None
        sid = hex_ids(rng, main.num_rows, 12)
        i = main.schema.get_field_index("session_id")
        return main.set_column(i, "session_id", pa.array(sid, pa.string())), sid

    def _spraying(self, tenant: str, day0_us: int, rng: np.random.Generator) -> pa.Table:
        pop, cfg = self.pop, self.spray
        users = np.flatnonzero(np.asarray(pop.tenants, dtype=object)[pop.tenant_idx] == tenant)
        n_fake = int(len(users) * cfg.unknown / max(1 - cfg.unknown, 1e-6))
        f = np.asarray(FIRST["en"], dtype=object)[rng.integers(0, len(FIRST["en"]), n_fake)]
        la = np.asarray(LAST["en"], dtype=object)[rng.integers(0, len(LAST["en"]), n_fake)]
        fake = f + "." + la + "@" + tenant
        fake = np.asarray([a for a in fake if a not in pop.index], dtype=object)
        account = np.concatenate([pop.account[users], fake])
        exists = np.concatenate([np.ones(len(users), bool), np.zeros(len(fake), bool)])
        uidx = np.concatenate([users, np.zeros(len(fake), np.int64)])
        n = len(account)
        order = rng.permutation(n)
        account, exists, uidx = account[order], exists[order], uidx[order]
        # low and slow: the round is spread over many hours, one address at a time
        t = day0_us + int(rng.integers(0, 6 * 3600)) * 10**6 + np.sort(rng.integers(0, 16 * 3600 * 10**6, n))
        ip = np.asarray(self.spray_ips)[rng.integers(0, len(self.spray_ips), n)]
        hit = exists & (rng.random(n) < cfg.success)
        mfa = pop.mfa[uidx] >= 0
        locked = exists & ~hit & (rng.random(n) < 0.01)
        outcome = np.where(hit, np.where(mfa, self.gated, "success"), "failure")
        reason = np.where(
            ~exists, "unknown_account", np.where(hit, "", np.where(locked, "locked", "bad_password"))
        )
        ua = np.asarray(("BAV2ROPC", "python-requests/2.22.0"), dtype=object)[rng.integers(0, 2, n)]
        main = batch(
            n,
            time=t,
            tenant=tenant,
            account=account,
            account_exists=exists,
            activity="sign_in",
            method="password",
            outcome=outcome,
            reason=reason,
            ip=ip,
            user_agent=ua,
            actor=SPRAYING[0],
            campaign=SPRAYING[1],
            kind="criminal",
        )
        main, sid = self._sessions(main, rng)
        parts = [main]
        m = np.flatnonzero(hit & mfa)
        if len(m):
            parts.append(
                expand(
                    rng,
                    [Step("mfa_challenge", "failure", method="push", reason="mfa_denied", delay=(20, 90))],
                    t[m],
                    _fx(account[m], tenant, ip[m], ua[m], SPRAYING, rng, None if sid is None else sid[m]),
                )
            )
        m = np.flatnonzero(hit & ~mfa)  # in: a forwarding rule to harvest invoices
        if len(m):
            parts.append(
                expand(
                    rng,
                    [
                        Step(
                            "mailbox_rule",
                            "success",
                            delay=(300, 3600),
                            details=("new rule: forward messages containing 'invoice' to external address",),
                        )
                    ],
                    t[m],
                    _fx(account[m], tenant, ip[m], ua[m], SPRAYING, rng),
                )
            )
        return pa.concat_tables(parts)


def _fx(
    account: np.ndarray,
    tenant: object,
    ip: np.ndarray,
    ua: np.ndarray,
    who: tuple[str, str],
    rng: np.random.Generator,
    sid: np.ndarray | None = None,
) -> dict:
    sessions = hex_ids(rng, len(account), 12)
    return {
        "account": account,
        "tenant": tenant,
        "account_exists": True,
        "ip": ip,
        "user_agent": ua,
        "session_id": sessions if sid is None else sid,
        "actor": who[0],
        "campaign": who[1],
        "kind": "criminal",
    }
