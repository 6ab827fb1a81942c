"""Scenario files: who lives in the simulated provider, and who attacks them.

A scenario is a TOML file (format in docs/scenarios.md). Built-in ones ship as package data in
``idwatch/simulate/scenarios/``. Loading validates every key, so a typo in a user's scenario is an
error that names the key, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from idwatch.simulate.networks import BY_KEY

ATTACK_METHODS = (
    "password_reset",
    "account_recovery",
    "password_guess",
    "mfa_prompt",
    "relay",
    "mfa_fatigue",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CATEGORY_OF_KIND = {
    "political_campaign": "political_campaign",
    "government": "government",
    "newsroom": "journalist",
    "ngo": "ngo",
    "university": "academic",
    "business": "business",
    "consumer": "consumer",
}


class ScenarioError(ValueError):
    """The scenario file is invalid; the message names the offending key."""


@dataclass
class Tenant:
    domain: str
    kind: str
    users: int
    country: str = "US"
    countries: dict[str, float] = field(default_factory=dict)  # consumer: home-country mix
    aliases: list[str] = field(default_factory=list)
    watchlist: float = 0.0  # share of accounts enrolled in the high-risk program
    mfa: float = 0.3  # share of accounts with a second factor
    office_ips: int = 4  # shared NAT egress addresses of the office
    culture: str = ""  # names of the staff ("fa", "en", ...); default: from the country
    office_network: str = ""  # network key of the office egress (e.g. "aws" for a cloud proxy)
    corporate_vpn: float = 0.0  # share of out-of-office sessions sent through the office egress (company VPN)


@dataclass
class Community:
    """A group inside a tenant with its own culture and habits (e.g. a diaspora)."""

    name: str
    tenant: str
    category: str
    users: int
    culture: str = "fa"
    countries: dict[str, float] = field(default_factory=lambda: {"US": 1.0})
    vpn: float = 0.2
    travel_to: dict[str, float] = field(default_factory=dict)
    watchlist: float = 0.05


@dataclass
class Population:
    sessions_per_user_day: float = 0.55
    activity_sigma: float = 1.1  # lognormal spread of per-user activity (heavy tail)
    dormant: float = 0.06  # share of accounts that never sign in during the period
    vpn: float = 0.04  # share of users who use a commercial VPN some of the time
    hosting_vpn: float = 0.01  # share of users whose VPN is their own rented server (hosting ASNs)
    tor: float = 0.003  # share of users who sometimes sign in over Tor
    travel: float = 0.08  # share of users who travel during the period
    devices: tuple[int, int] = (1, 4)
    device_churn: float = 0.08  # share of users who get a new device during the period
    ipv6: float = 0.25  # share of home connections with IPv6
    typo: float = 0.03  # share of sign-ins preceded by a wrong password
    forgot_password: float = 0.0025  # per user-day
    lockout: float = 0.0004
    new_mfa_method: float = 0.0006
    recovery_change: float = 0.0004
    inbox_rule: float = 0.0008
    password_change: float = 0.0006
    identifier_typo: float = 0.0015
    lookup_before_signin: float = 0.35


@dataclass
class Conventions:
    """How the simulated provider logs and how the operators' tools look (``--vary`` draws these).

    The defaults are the simulator's original conventions; real vendors differ, and an analysis
    must hold under each of them.
    """

    # "pending": an MFA-gated sign-in's password step is logged as pending; "password_success": as a
    # success first (Entra, Okta and others log the first factor on its own), then the mfa_challenge
    # with the same session_id decides the sign-in
    mfa_logging: str = "pending"
    # "fresh": a new browser cookie per operator session; "reuse": the operators keep their browsers,
    # so one device id per operator workstation comes back across sessions and accounts
    operator_device: str = "fresh"
    operator_workstations: int = 2
    # share of the operators' return visits after a takeover that replay the victim's stolen session
    # cookie (so the event carries the victim's own device id)
    stolen_cookie: float = 0.0
    # share of the people with a second factor whose password manager fills the one-time code
    # within seconds (a relay's speed without a relay)
    password_manager: float = 0.0


@dataclass
class Stuffing:
    attempts_per_day: int = 900  # on wave days, scaled
    wave_days: int = 14
    existing: float = 0.35  # share of attempts on identifiers that exist
    success: float = 0.004  # share of attempts on existing accounts whose password is right
    ips_per_wave: int = 2500


@dataclass
class Spraying:
    tenants: list[str] = field(default_factory=list)  # default: every business tenant
    rounds: int = 6
    ips: int = 6
    networks: list[str] = field(default_factory=lambda: ["ovh", "contabo", "tor-f3", "leaseweb"])
    unknown: float = 0.15  # share of sprayed identifiers that do not exist
    success: float = 0.003


@dataclass
class Criminal:
    stuffing: Stuffing | None = field(default_factory=Stuffing)
    spraying: Spraying | None = field(default_factory=Spraying)


@dataclass
class Target:
    category: str
    attacked: int
    tenants: list[str] = field(default_factory=list)  # empty: any tenant
    researched: int = 0  # extra people researched (probed) but never attacked


@dataclass
class Research:
    probes: int = 1000
    variants: tuple[int, int] = (2, 6)  # identifiers derived per researched person
    spread: float = (
        0.35  # share of the probes beyond one per person spent on new identifiers (rest: re-checks)
    )
    domains: list[str] = field(default_factory=lambda: ["@tenant", "@consumer", "gmail.com", "yahoo.com"])
    mix: dict[str, float] = field(
        default_factory=lambda: {"account_lookup": 0.85, "sign_in": 0.1, "password_reset": 0.05}
    )
    lead_days: tuple[float, float] = (0.5, 12.0)  # research precedes an account's attack by this much


@dataclass
class Attack:
    methods: dict[str, float] = field(
        default_factory=lambda: {
            "password_reset": 0.45,
            "account_recovery": 0.2,
            "password_guess": 0.2,
            "mfa_prompt": 0.15,
        }
    )
    attempts: tuple[int, int] = (1, 12)
    contact_accuracy: float = 0.8
    # credential relay (phishing page that passes password and code on): share of failed relays
    # where the victim typed the password but the one-time code expired before the replay
    relay_code_expired: float = 0.6
    # the victim's own sign-in on the real site minutes after the phishing page sent them there
    relay_victim_signin: float = 0.5
    fatigue_prompts: tuple[int, int] = (5, 25)  # MFA fatigue: push prompts sent before giving up


@dataclass
class Success:
    compromised: int = 0
    categories: list[str] = field(default_factory=list)  # empty: any category
    via: str = "password_reset"  # one of ATTACK_METHODS: how the successful attempt gets in
    post: list[str] = field(
        default_factory=lambda: ["mailbox_rule", "mfa_method_change", "recovery_info_change"]
    )
    post_share: float = 1.0  # share of the compromised accounts where the follow-on steps happen


@dataclass
class Infrastructure:
    ips: int = 40
    networks: list[str] = field(default_factory=lambda: ["digitalocean", "vultr", "ovh", "m247"])
    shared_vpn_ips: int = 3  # exits of commercial VPNs that benign users share
    mistakes: int = 2  # events from the actor's own home network
    mistake_networks: list[str] = field(default_factory=list)
    rotation_days: float = 10.0
    intel_coverage: float = 0.3  # share of the infrastructure published as indicators
    # single-use infrastructure: every victim's relayed sign-ins come from a server rented for them
    per_victim: bool = False


@dataclass
class Actor:
    id: str
    intrusion_set: str  # ATT&CK id (G0059) or name/alias in the reference bundle
    kind: str = "state"
    country: str = "IR"
    timezone: str = "Asia/Tehran"
    work_days: list[str] = field(default_factory=lambda: ["sat", "sun", "mon", "tue", "wed"])
    work_hours: tuple[int, int] = (8, 17)
    start: dt.date | None = None
    end: dt.date | None = None
    burst_days: int = 5
    user_agents: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    research: Research = field(default_factory=Research)
    attack: Attack = field(default_factory=Attack)
    success: Success = field(default_factory=Success)
    infrastructure: Infrastructure = field(default_factory=Infrastructure)
    techniques: list[str] = field(default_factory=list)


@dataclass
class Decoy:
    """An intrusion set present in the intel bundle but absent from the data."""

    intrusion_set: str
    indicators: int = 6


@dataclass
class Scenario:
    name: str
    start: dt.date
    end: dt.date
    description: str = ""
    network_fields: float = 0.6  # share of events where the provider logged asn / asn_org / network_type
    country_field: float = 0.85  # share of events where it logged the country
    population: Population = field(default_factory=Population)
    conventions: Conventions = field(default_factory=Conventions)
    tenants: list[Tenant] = field(default_factory=list)
    communities: list[Community] = field(default_factory=list)
    criminal: Criminal = field(default_factory=Criminal)
    actors: list[Actor] = field(default_factory=list)
    decoys: list[Decoy] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown keys."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    kwargs: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        here = f"{where}.{key}"
        hint = hints[key]
        inner = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        if dataclasses.is_dataclass(hint) or (inner and typing.get_origin(hint) is not list):
            target = hint if dataclasses.is_dataclass(hint) else inner[0]
            kwargs[key] = None if value is False else _build(target, value, here)
        elif typing.get_origin(hint) is list and inner:
            if not isinstance(value, list):
                raise ScenarioError(f"{here}: expected an array of tables")
            kwargs[key] = [_build(inner[0], v, f"{here}[{i}]") for i, v in enumerate(value)]
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, list) or len(value) != 2:
                raise ScenarioError(f"{here}: expected a pair like [1, 5]")
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc


def _validate(sc: Scenario) -> None:
    if sc.end < sc.start:
        raise ScenarioError("scenario.end is before scenario.start")
    domains = {t.domain for t in sc.tenants}
    for t in sc.tenants:
        if t.kind not in CATEGORY_OF_KIND:
            raise ScenarioError(f"tenant {t.domain}: kind must be one of {', '.join(CATEGORY_OF_KIND)}")
    for c in sc.communities:
        if c.tenant not in domains:
            raise ScenarioError(f"community {c.name}: unknown tenant {c.tenant}")
    for t in sc.tenants:
        if t.office_network and t.office_network not in BY_KEY:
            raise ScenarioError(f"tenant {t.domain}: unknown office_network {t.office_network!r}")
    conv = sc.conventions
    if conv.mfa_logging not in ("pending", "password_success"):
        raise ScenarioError("conventions.mfa_logging must be 'pending' or 'password_success'")
    if conv.operator_device not in ("fresh", "reuse"):
        raise ScenarioError("conventions.operator_device must be 'fresh' or 'reuse'")
    for a in sc.actors:
        for m in [*a.attack.methods, a.success.via]:
            if m not in ATTACK_METHODS:
                raise ScenarioError(f"actor {a.id}: unknown attack method {m!r}; one of {ATTACK_METHODS}")
        for key in a.infrastructure.networks + a.infrastructure.mistake_networks:
            if key not in BY_KEY:
                raise ScenarioError(f"actor {a.id}: unknown network {key!r} (see idwatch.simulate.networks)")
        for d in a.work_days:
            if d not in WEEKDAYS:
                raise ScenarioError(f"actor {a.id}: work_days entry {d!r} is not one of {WEEKDAYS}")
        for t in a.targets:
            for name in t.tenants:
                if name not in domains:
                    raise ScenarioError(f"actor {a.id}: target tenant {name} is not a tenant")
        attacked = sum(t.attacked for t in a.targets)
        if a.success.compromised > attacked:
            raise ScenarioError(
                f"actor {a.id}: compromised ({a.success.compromised}) > attacked ({attacked})"
            )
        if a.research.probes < attacked:
            raise ScenarioError(f"actor {a.id}: research.probes must be at least the number attacked")


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """A Scenario from the decoded TOML document."""
    data = dict(data)
    head = data.pop("scenario", None)
    if not isinstance(head, dict):
        raise ScenarioError("missing [scenario] table (name, start, end)")
    merged = {**head, **data}
    sc = _build(Scenario, merged, "scenario")
    for a in sc.actors:
        a.start = a.start or sc.start
        a.end = a.end or sc.end
    _validate(sc)
    return sc


def builtin_names() -> list[str]:
    folder = resources.files("idwatch.simulate") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name: str | None = None, path: Path | None = None) -> Scenario:
    """A built-in scenario by name, or a scenario file."""
    if path is not None:
        text = Path(path).read_text("utf-8")
    else:
        folder = resources.files("idwatch.simulate") / "scenarios"
        res = folder / f"{name}.toml"
        if not res.is_file():
            raise ScenarioError(f"unknown scenario {name!r}; built-in: {', '.join(builtin_names())}")
        text = res.read_text("utf-8")
    try:
        return parse_scenario(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"invalid TOML: {exc}") from exc
