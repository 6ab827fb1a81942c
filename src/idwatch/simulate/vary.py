"""``--vary``: draw a seed's scenario parameters from realistic ranges, reproducibly from the seed.

A detection tuned on one simulated month learns that month's population, pacing, infrastructure
and logging habits. Under ``--vary`` each seed gets its own: population size and habits, the
operators' pacing, number of exits, how much of their infrastructure the intel knows, how many
browser strings they rotate, the time zone they work in, and the provider's logging conventions
(MFA-gated password steps logged as successes, operators keeping their browsers, stolen session
cookies, password managers, company VPNs, offices egressing from another country). The drawn
values are returned so they can be written into truth.json.

The ranges stand for what public reporting and everyday provider data show; each says which.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from idwatch.simulate.names import UA_DESKTOP
from idwatch.simulate.population import Population
from idwatch.simulate.scenario import Scenario
from idwatch.simulate.util import tz_offset_seconds

#: Component of the seed sequence for the parameter draws (apart from the generators' own).
VARY_COMPONENT = 99
#: Where operators may sit: a state's operators, contractors and front companies are not all in
#: the capital's time zone (the zones of the reporting on Iranian, Russian, Chinese, North Korean
#: actors and their proxies in the Gulf, Turkey, the Caucasus and South Asia).
ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Baku",
    "Asia/Karachi",
    "Asia/Shanghai",
    "Asia/Seoul",
)
#: Office egress abroad: a cloud security proxy (hosting ASN), or a head office in another country
#: the branch is backhauled to.
ABROAD_EGRESS = ("aws", "linode", "bt-business", "dtag-business", "level3")
EGRESS_COUNTRY = {"aws": "US", "linode": "NL", "bt-business": "GB", "dtag-business": "DE", "level3": "US"}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def vary_scenario(sc: Scenario, seed: int) -> tuple[Scenario, dict[str, Any]]:
    """A copy of ``sc`` with this seed's parameters, and the parameters drawn (for truth.json)."""
    rng = np.random.default_rng([seed, VARY_COMPONENT])
    sc = copy.deepcopy(sc)
    p = sc.population
    # population: a provider's size and habits differ from month to month and provider to provider
    factor = _u(rng, 0.75, 1.5)  # population size, relative to the scenario's (and --scale)
    p.sessions_per_user_day *= _u(rng, 0.7, 1.4)
    p.travel = _u(rng, 0.04, 0.2)  # share of people travelling in a month
    p.vpn = _u(rng, 0.02, 0.12)  # commercial VPN use, surveys: a few to ~15 % of users
    p.tor = _u(rng, 0.001, 0.01)
    p.typo *= _u(rng, 0.5, 2.0)
    p.forgot_password *= _u(rng, 0.5, 2.0)
    c = sc.conventions
    # vendors split: Entra / Okta log the first factor as its own success, others one pending event
    c.mfa_logging = "password_success" if rng.random() < 0.5 else "pending"
    c.operator_device = "reuse" if rng.random() < 0.5 else "fresh"
    c.operator_workstations = int(rng.integers(1, 4))
    c.stolen_cookie = _u(rng, 0.1, 0.6) if rng.random() < 0.5 else 0.0
    c.password_manager = _u(rng, 0.0, 0.15)  # share of MFA users whose manager fills the code
    tenants: dict[str, dict[str, Any]] = {}
    for t in sc.tenants:
        if t.kind == "consumer":
            continue
        change: dict[str, Any] = {}
        if rng.random() < 0.3:  # remote staff on the company VPN
            t.corporate_vpn = _u(rng, 0.1, 0.6)
            change["corporate_vpn"] = round(t.corporate_vpn, 3)
        if rng.random() < 0.15 and not t.office_network and t.kind != "university":
            options = [k for k in ABROAD_EGRESS if EGRESS_COUNTRY[k] != t.country]
            t.office_network = options[int(rng.integers(0, len(options)))]
            t.office_ips = max(t.office_ips, int(rng.integers(2, 9)))
            change["office_network"] = t.office_network
        if change:
            tenants[t.domain] = change
    actors = [_vary_actor(sc, a, rng) for a in sc.actors]
    params = {
        "seed": seed,
        "population_factor": round(factor, 4),
        "population": {
            "sessions_per_user_day": round(p.sessions_per_user_day, 4),
            "travel": round(p.travel, 4),
            "vpn": round(p.vpn, 4),
            "tor": round(p.tor, 4),
            "typo": round(p.typo, 4),
            "forgot_password": round(p.forgot_password, 5),
        },
        "conventions": {
            "mfa_logging": c.mfa_logging,
            "operator_device": c.operator_device,
            "operator_workstations": c.operator_workstations,
            "stolen_cookie": round(c.stolen_cookie, 3),
            "password_manager": round(c.password_manager, 3),
        },
        "tenants": tenants,
        "actors": actors,
    }
    return sc, params


def _vary_actor(sc: Scenario, a: Any, rng: np.random.Generator) -> dict[str, Any]:
    inf, att, res = a.infrastructure, a.attack, a.research
    a.burst_days = int(rng.integers(1, 11))  # days of heavy activity in the campaign
    lo, hi = att.attempts
    att.attempts = (lo, max(lo + 1, round(hi * _u(rng, 0.5, 1.8))))  # takeover attempts per account
    l0, l1 = res.lead_days
    l0, l1 = l0 * _u(rng, 0.3, 2.0), l1 * _u(rng, 0.3, 2.0)
    res.lead_days = (min(l0, l1), max(l0, l1) + 0.1)  # research -> attack lag, days
    inf.ips = max(3, round(inf.ips * _u(rng, 0.4, 2.5)))  # exits / servers rented
    inf.shared_vpn_ips = int(rng.integers(0, 2 * inf.shared_vpn_ips + 3))
    inf.rotation_days *= _u(rng, 0.3, 3.0)  # how long a server stays in use
    # published indicators cover a minority of an operation's infrastructure, sometimes almost none
    inf.intel_coverage = _u(rng, 0.02, 0.5)
    if inf.mistake_networks:
        inf.mistakes = int(rng.integers(0, inf.mistakes + 3))
    pool = list(dict.fromkeys([*(a.user_agents or []), *UA_DESKTOP]))
    k = int(rng.integers(1, min(8, len(pool)) + 1))  # browser strings the operators rotate
    a.user_agents = [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]
    if rng.random() < 0.5:  # operators outside the capital's time zone
        mid = a.start + (a.end - a.start) / 2 if a.start and a.end else sc.start
        own = tz_offset_seconds(a.timezone, mid)
        near = [z for z in ZONES if z != a.timezone and abs(tz_offset_seconds(z, mid) - own) <= 2.5 * 3600]
        if near:
            a.timezone = near[int(rng.integers(0, len(near)))]
    h0 = int(rng.integers(7, 11))
    a.work_hours = (h0, min(23, h0 + int(rng.integers(7, 11))))
    if "mfa_prompt" in att.methods and rng.random() < 0.4:  # push bombing instead of single prompts
        att.methods = {**att.methods, "mfa_fatigue": att.methods["mfa_prompt"] * _u(rng, 0.2, 1.0)}
    if "relay" not in att.methods and rng.random() < 0.3:  # a phishing page relaying code and password
        att.methods = {**att.methods, "relay": _u(rng, 0.05, 0.2)}
    attacked0 = sum(t.attacked for t in a.targets)
    res.probes = round(res.probes * _u(rng, 0.7, 1.3))  # probes per attacked account
    for t in a.targets:  # campaign size
        t.attacked = max(1, round(t.attacked * _u(rng, 0.6, 1.4)))
        t.researched = round(t.researched * _u(rng, 0.5, 1.5))
    if a.success.compromised:
        a.success.compromised = max(1, round(a.success.compromised * _u(rng, 0.5, 2.0)))
    return {"id": a.id, "_attacked0": attacked0}


def fit_to_population(sc: Scenario, pop: Population, params: dict[str, Any]) -> None:
    """Shrink drawn target counts that the drawn population cannot hold, then record the actors.

    Counted in scenario order the way the actors pick (never the same account twice), with a tenth
    kept free so the random pick never runs short.
    """
    tenants = np.asarray(pop.tenants, dtype=object)[pop.tenant_idx]
    taken = np.zeros(pop.size, dtype=bool)
    for a, rec in zip(sc.actors, params["actors"], strict=True):
        for t in a.targets:
            m = pop.category == t.category
            if t.tenants:
                m &= np.isin(tenants, t.tenants)
            free = np.flatnonzero(m & ~taken)
            room = int(len(free) * 0.9)
            need = t.attacked + t.researched
            if need > room:
                t.attacked = max(1, min(t.attacked, room))
                t.researched = max(0, min(t.researched, room - t.attacked))
            taken[free[: t.attacked + t.researched]] = True
        attacked = sum(t.attacked for t in a.targets)
        eligible = sum(
            t.attacked for t in a.targets if not a.success.categories or t.category in a.success.categories
        )
        a.success.compromised = min(a.success.compromised, eligible)
        a.research.probes = max(
            round(a.research.probes * attacked / max(rec.get("_attacked0", attacked), 1)),
            sum(t.attacked + t.researched for t in a.targets) + 1,
        )
        rec.pop("_attacked0", None)
        rec.update(
            {
                "timezone": a.timezone,
                "work_hours": list(a.work_hours),
                "burst_days": a.burst_days,
                "attempts": list(a.attack.attempts),
                "lead_days": [round(x, 3) for x in a.research.lead_days],
                "methods": {k: round(v, 4) for k, v in a.attack.methods.items()},
                "exits": a.infrastructure.ips,
                "shared_vpn_ips": a.infrastructure.shared_vpn_ips,
                "rotation_days": round(a.infrastructure.rotation_days, 3),
                "intel_coverage": round(a.infrastructure.intel_coverage, 4),
                "mistakes": a.infrastructure.mistakes,
                "user_agents": len(a.user_agents),
                "probes": a.research.probes,
                "attacked": attacked,
                "compromised": a.success.compromised,
            }
        )
