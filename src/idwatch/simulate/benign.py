"""One day of everyday activity of the whole population, vectorized over users.

Sign-ins follow each person's diurnal and weekly rhythm in their own time zone, come from their
devices over their home, office, mobile, VPN or travel networks, and include the mundane trouble
that looks like attacks: wrong passwords, mistyped addresses, lockouts, forgotten passwords with
SMS / e-mail resets (some failing), new MFA methods, recovery-info changes and inbox rules.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from idwatch.simulate.frame import BATCH_SCHEMA, Step, arrow_columns, expand
from idwatch.simulate.people import HOURLY_CDF, MFA_METHODS, PROFILES, WEEKLY
from idwatch.simulate.population import Population
from idwatch.simulate.scenario import Scenario
from idwatch.simulate.util import hex_ids

DAY_US = 86_400 * 10**6
OFFICE_PROFILES = np.array([PROFILES.index(p) for p in ("office", "campaign", "newsroom", "student")])

_SIGNIN_OK = Step("sign_in", "success", method="password")
_FLOWS: dict[str, list[Step]] = {
    "forgot_sms": [
        Step("account_lookup", "success"),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(2, 20)),
        Step("password_reset", "success", step="verify", method="sms", contact="phone", delay=(20, 240)),
        Step("password_reset", "success", step="complete", delay=(20, 180)),
        Step("sign_in", "success", method="password", delay=(5, 60)),
    ],
    "forgot_email": [
        Step("account_lookup", "success"),
        Step("password_reset", "pending", step="start", method="email", contact="email", delay=(2, 20)),
        Step("password_reset", "success", step="verify", method="email", contact="email", delay=(40, 900)),
        Step("password_reset", "success", step="complete", delay=(20, 180)),
        Step("sign_in", "success", method="password", delay=(5, 60)),
    ],
    "forgot_fail": [
        Step("account_lookup", "success"),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(2, 20)),
        Step(
            "password_reset",
            "failure",
            step="verify",
            method="sms",
            reason="verification_failed",
            contact="phone",
            delay=(30, 300),
        ),
        Step(
            "password_reset",
            "failure",
            step="verify",
            method="sms",
            reason="expired",
            contact="phone",
            delay=(300, 1200),
        ),
    ],
    "forgot_old_number": [
        Step("account_lookup", "success"),
        Step(
            "password_reset",
            "failure",
            step="start",
            method="sms",
            reason="verification_failed",
            contact="old",
            delay=(2, 20),
        ),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(20, 120)),
        Step("password_reset", "success", step="verify", method="sms", contact="phone", delay=(20, 240)),
        Step("password_reset", "success", step="complete", delay=(20, 180)),
        Step("sign_in", "success", method="password", delay=(5, 60)),
    ],
    "reset_typo": [
        Step(
            "password_reset",
            "failure",
            step="start",
            method="sms",
            reason="unknown_account",
            identifier="typo",
        ),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(10, 60)),
        Step("password_reset", "success", step="verify", method="sms", contact="phone", delay=(20, 240)),
        Step("password_reset", "success", step="complete", delay=(20, 180)),
    ],
    # an old phone or mail client still holding the previous password keeps retrying for hours
    "stale_client": [
        Step("sign_in", "failure", method="password", reason="bad_password"),
        *[
            Step("sign_in", "failure", method="password", reason="bad_password", delay=(300, 1800))
            for _ in range(9)
        ],
    ],
    # someone else (a namesake, a mistyped address) starts a reset of this account; the code goes
    # to the owner's phone and nobody enters it
    "wrong_person_reset": [
        Step("account_lookup", "success"),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(3, 30)),
        Step(
            "password_reset",
            "failure",
            step="verify",
            method="sms",
            reason="verification_failed",
            contact="phone",
            delay=(60, 400),
        ),
    ],
    "mfa_denied": [
        Step("sign_in", "pending", method="password"),
        Step("mfa_challenge", "failure", method="push", reason="mfa_denied", delay=(5, 30)),
        Step("sign_in", "pending", method="password", delay=(20, 120)),
        Step("mfa_challenge", "success", method="push", delay=(5, 30)),
    ],
    "recovery_form": [
        Step("account_recovery", "pending", step="start", method="email", contact="email", delay=(0, 0)),
        Step(
            "account_recovery",
            "failure",
            step="verify",
            method="kba",
            reason="verification_failed",
            delay=(120, 900),
        ),
    ],
    "lockout": [
        Step("sign_in", "failure", method="password", reason="bad_password"),
        Step("sign_in", "failure", method="password", reason="bad_password", delay=(5, 40)),
        Step("sign_in", "failure", method="password", reason="bad_password", delay=(5, 40)),
        Step("sign_in", "failure", method="password", reason="bad_password", delay=(5, 60)),
        Step("sign_in", "failure", method="password", reason="bad_password", delay=(5, 60)),
        Step(
            "account_lock",
            "success",
            reason="locked",
            delay=(0, 1),
            details=("locked after 5 failed sign-ins",),
        ),
        Step("sign_in", "failure", method="password", reason="locked", delay=(30, 600)),
        Step("password_reset", "pending", step="start", method="sms", contact="phone", delay=(60, 1800)),
        Step("password_reset", "success", step="verify", method="sms", contact="phone", delay=(20, 200)),
        Step("password_reset", "success", step="complete", delay=(20, 120)),
        Step("sign_in", "success", method="password", delay=(5, 60)),
    ],
    "new_mfa": [
        _SIGNIN_OK,
        Step(
            "mfa_method_change",
            "success",
            method="totp",
            delay=(30, 600),
            details=("added authenticator app", "added authenticator app on new phone"),
        ),
    ],
    "new_mfa_key": [
        _SIGNIN_OK,
        Step(
            "mfa_method_change", "success", method="fido2", delay=(30, 600), details=("added security key",)
        ),
    ],
    "recovery_change": [
        _SIGNIN_OK,
        Step(
            "recovery_info_change",
            "success",
            method="sms",
            contact="new",
            delay=(30, 900),
            details=("recovery phone changed", "recovery phone added"),
        ),
    ],
    "recovery_email_change": [
        _SIGNIN_OK,
        Step(
            "recovery_info_change",
            "success",
            method="email",
            contact="new",
            delay=(30, 900),
            details=("recovery email changed",),
        ),
    ],
    "inbox_rule": [
        _SIGNIN_OK,
        Step(
            "mailbox_rule",
            "success",
            delay=(20, 1200),
            details=(
                "new rule: move messages from newsletters to folder 'Newsletters'",
                "new rule: move messages with subject 'invoice' to folder 'Receipts'",
                "new rule: mark as read messages from no-reply senders",
                "new rule: delete messages from promotions senders",
                "new rule: forward all messages to personal address (external domain)",
                "new rule: move messages from boss to folder 'Important'",
            ),
        ),
    ],
    "password_change": [
        _SIGNIN_OK,
        Step("password_change", "success", method="password", delay=(30, 900)),
        Step(
            "session_revoke",
            "success",
            delay=(0, 2),
            details=("other sessions signed out after password change",),
        ),
    ],
    "identifier_typo": [
        Step("account_lookup", "failure", reason="unknown_account", identifier="typo"),
        Step("account_lookup", "success", delay=(4, 30)),
        Step("sign_in", "success", method="password", delay=(3, 20)),
    ],
    "identifier_typo_signin": [
        Step("sign_in", "failure", method="password", reason="unknown_account", identifier="typo"),
        Step("sign_in", "success", method="password", delay=(5, 40)),
    ],
}


def _flow_rates(sc: Scenario) -> dict[str, float]:
    p = sc.population
    return {
        "forgot_sms": p.forgot_password * 0.55,
        "forgot_email": p.forgot_password * 0.25,
        "forgot_fail": p.forgot_password * 0.12,
        "forgot_old_number": p.forgot_password * 0.06,
        "reset_typo": p.forgot_password * 0.03,
        "recovery_form": p.forgot_password * 0.05,
        "mfa_denied": p.new_mfa_method * 0.5,
        "stale_client": p.password_change * 0.5,
        "wrong_person_reset": p.forgot_password * 0.1,
        "lockout": p.lockout,
        "new_mfa": p.new_mfa_method * 0.8,
        "new_mfa_key": p.new_mfa_method * 0.2,
        "recovery_change": p.recovery_change * 0.7,
        "recovery_email_change": p.recovery_change * 0.3,
        "inbox_rule": p.inbox_rule,
        "password_change": p.password_change,
        "identifier_typo": p.identifier_typo * 0.6,
        "identifier_typo_signin": p.identifier_typo * 0.4,
    }


def _flows(sc: Scenario) -> dict[str, list[Step]]:
    """The flow templates under the scenario's logging convention for MFA-gated password steps."""
    if sc.conventions.mfa_logging == "pending":
        return _FLOWS
    return {
        name: [
            dataclasses.replace(s, outcome="success")
            if s.activity == "sign_in" and s.outcome == "pending"
            else s
            for s in steps
        ]
        for name, steps in _FLOWS.items()
    }


OTHER_PROVIDERS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com")


def _typo(rng: np.random.Generator, pop: Population, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mistyped identifiers and their tenants: a dropped, doubled or swapped character in the local
    part, or the right name at another provider (typed into the wrong sign-in page)."""
    out, tenants = [], []
    for a in pop.account[users]:
        local, _, domain = str(a).partition("@")
        i = int(rng.integers(0, max(len(local) - 1, 1)))
        op = int(rng.integers(0, 4))
        if op == 0:
            local = local[:i] + local[i + 1 :]
        elif op == 1:
            local = local[:i] + local[i] + local[i:]
        elif op == 2:
            local = local[:i] + local[i + 1 : i + 2] + local[i : i + 1] + local[i + 2 :]
        else:
            domain = OTHER_PROVIDERS[int(rng.integers(0, len(OTHER_PROVIDERS)))]
        while f"{local}@{domain}" in pop.index:  # the mistake must not land on someone's real account
            local += str(int(rng.integers(0, 10)))
        out.append(f"{local}@{domain}")
        tenants.append(pop.domain_tenant.get(domain, ""))
    return np.asarray(out, dtype=object), np.asarray(tenants, dtype=object)


def _session_times(
    rng: np.random.Generator, pop: Population, users: np.ndarray, day0_us: np.ndarray
) -> np.ndarray:
    """UTC times inside the day, drawn from each user's local diurnal profile."""
    hour = np.empty(len(users), dtype=np.int64)
    prof = pop.profile[users]
    u = rng.random(len(users))
    for p in range(len(PROFILES)):
        m = prof == p
        hour[m] = np.searchsorted(HOURLY_CDF[p], u[m], side="right")
    local = hour * 3600 + rng.integers(0, 3600, len(users))
    utc = (local - pop.tz_offset[users]) % 86_400
    return day0_us + utc * 10**6 + rng.integers(0, 10**6, len(users))


def _networks(
    rng: np.random.Generator,
    pop: Population,
    users: np.ndarray,
    devs: np.ndarray,
    t: np.ndarray,
    day: np.ndarray,
) -> np.ndarray:
    """Address index of each session: home, office NAT, mobile carrier, VPN exit or travel network."""
    n = len(users)
    home = pop.home_ip[users, (day >= pop.home_switch_day[users]).astype(np.int64)]
    ip = home.copy()
    mobile_dev = pop.dev_mobile[devs]
    local_hour = ((t // 10**6 + pop.tz_offset[users]) % 86_400) // 3600
    weekday = ((t // 10**6 + pop.tz_offset[users]) // 86_400 + 3) % 7  # 1970-01-01 was a Thursday
    at_office = (
        (pop.office_start[users] >= 0)
        & np.isin(pop.profile[users], OFFICE_PROFILES)
        & (weekday < 5)
        & (local_hour >= 8)
        & (local_hour < 19)
        & (rng.random(n) < 0.75)
    )
    office = pop.office_start[users] + rng.integers(0, 1 << 30, n) % pop.office_size[users]
    ip = np.where(at_office, office, ip)
    on_cell = mobile_dev & (rng.random(n) < np.where(at_office, 0.3, 0.5))
    carrier = pop.carrier_start[users] + rng.integers(0, 1 << 30, n) % pop.carrier_size[users]
    ip = np.where(on_cell, carrier, ip)
    abroad = (pop.trip_start[users] >= 0) & (t >= pop.trip_start[users]) & (t < pop.trip_end[users])
    local_net = pop.trip_pool_start[users] + rng.integers(0, 1 << 30, n) % pop.trip_pool_size[users]
    roaming = on_cell & (rng.random(n) < 0.5)  # roaming traffic leaves through the home carrier
    ip = np.where(abroad & ~roaming, local_net, ip)
    vpn = rng.random(n) < np.where(abroad, np.minimum(pop.vpn_p[users] * 1.5, 1.0), pop.vpn_p[users])
    exit_ip = pop.vpn_pool[users] + rng.integers(0, 1 << 30, n) % pop.vpn_size[users]
    out = np.where(vpn, exit_ip, ip)
    if pop.corp_vpn is not None:  # the company VPN: home and travel sessions leave through the office
        via = ~at_office & (pop.office_start[users] >= 0) & (rng.random(n) < pop.corp_vpn[users])
        out = np.where(via, office, out)
    return out


def _pick_devices(
    rng: np.random.Generator, pop: Population, users: np.ndarray, day: np.ndarray
) -> np.ndarray:
    k = (rng.random(len(users)) ** 1.6 * pop.dev_cnt[users]).astype(np.int64)  # favour the first devices
    dev = pop.dev_off[users] + np.minimum(k, pop.dev_cnt[users] - 1)
    inactive = (pop.dev_start[dev] > day) | (pop.dev_end[dev] < day)
    return np.where(inactive, pop.dev_swap[dev], dev)


def _fixed(pop: Population, users: np.ndarray, devs: np.ndarray, ip: np.ndarray, sid: np.ndarray) -> dict:
    tenants = np.asarray(pop.tenants, dtype=object)[pop.tenant_idx[users]]
    return {
        "account": pop.account[users],
        "tenant": tenants,
        "account_exists": True,
        "ip": ip,
        "user_agent": pop.dev_ua[devs],
        "device_id": pop.dev_id[devs],
        "session_id": sid,
        "kind": "benign",
    }


def events_per_day(pop: Population) -> float:
    """A rough size of one day of benign events (to size generation chunks)."""
    return float(pop.rate.sum()) * 1.5 + 1.0


def benign_days(
    sc: Scenario, pop: Population, first: int, n_days: int, start_us: int, rng: np.random.Generator
) -> pa.Table:
    """Every benign event of days ``first`` .. ``first + n_days - 1`` (0-based), unsorted.

    Several days are drawn at once so the per-call costs are paid once per chunk, not per day.
    Times stay inside the scenario period; a session late in a day may end on the next day.
    """
    days = np.arange(first, first + n_days, dtype=np.int64)
    day0 = start_us + days * DAY_US
    weekday = (day0 // DAY_US + 3) % 7  # 1970-01-01 was a Thursday
    lam = pop.rate[:, None] * WEEKLY[pop.profile][:, weekday]
    counts = rng.poisson(lam)
    uu, dd = np.nonzero(counts)
    reps = counts[uu, dd]
    users, sday = np.repeat(uu, reps), np.repeat(dd, reps)
    parts: list[pa.Table] = []
    if len(users):
        parts.append(_sessions(sc, pop, users, days[sday], day0[sday], rng))
    active = np.flatnonzero(pop.rate > 0)
    flows = _flows(sc)
    for name, rate in _flow_rates(sc).items():
        k = int(rng.binomial(len(active) * n_days, rate)) if len(active) else 0
        if not k:
            continue
        flat = np.sort(rng.integers(0, len(active) * n_days, k))
        who, fday = active[flat // n_days], flat % n_days
        t0 = _session_times(rng, pop, who, day0[fday])
        devs = _pick_devices(rng, pop, who, days[fday])
        ip = _networks(rng, pop, who, devs, t0, days[fday])
        sid = hex_ids(rng, len(who), 12)
        contacts = {
            "phone": np.where(pop.phone_hash[who] != "", pop.phone_hash[who], pop.email_hash[who]),
            "email": pop.email_hash[who],
            "new": hex_ids(rng, len(who), 32),
            "old": hex_ids(rng, len(who), 32),  # a number the user no longer has
        }
        typo, typo_tenant = _typo(rng, pop, who) if "typo" in name else (None, None)
        fixed = _fixed(pop, who, devs, ip, sid)
        if name == "wrong_person_reset":  # from someone else's home and browser
            other = rng.integers(0, pop.size, len(who))
            other_dev = pop.dev_off[other]
            fixed.update(
                ip=pop.home_ip[other, 0], user_agent=pop.dev_ua[other_dev], device_id=pop.dev_id[other_dev]
            )
        parts.append(expand(rng, flows[name], t0, fixed, contacts, typo, typo_tenant))
    table = pa.concat_tables(parts) if parts else BATCH_SCHEMA.empty_table()
    end_us = start_us + sc.days * DAY_US - 1
    t = np.clip(table.column("time").to_numpy(), start_us, end_us)
    return table.set_column(0, "time", pa.array(t, pa.int64()))


def _sessions(
    sc: Scenario,
    pop: Population,
    users: np.ndarray,
    day: np.ndarray,
    day0_us: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Ordinary sign-ins: optional login-name lookup, optional wrong password, optional MFA."""
    p = sc.population
    n = len(users)
    t0 = _session_times(rng, pop, users, day0_us)
    devs = _pick_devices(rng, pop, users, day)
    ip = _networks(rng, pop, users, devs, t0, day)
    sid = hex_ids(rng, n, 12)
    fixed = arrow_columns(_fixed(pop, users, devs, ip, sid))
    ua = pop.dev_ua[devs].astype(str)
    browser = np.char.startswith(ua, "Mozilla")
    lookup = browser & (rng.random(n) < p.lookup_before_signin)
    typo = rng.random(n) < p.typo
    has_mfa = pop.mfa[users] >= 0
    new_device = pop.dev_start[devs] == day
    abroad = (pop.trip_start[users] >= 0) & (t0 >= pop.trip_start[users]) & (t0 < pop.trip_end[users])
    mfa = has_mfa & (new_device | abroad | (rng.random(n) < 0.12))
    parts = []

    def sub(mask: np.ndarray, steps: list[Step], t: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        if len(idx):
            take = pa.array(idx)
            f = {k: (v.take(take) if isinstance(v, pa.Array) else v) for k, v in fixed.items()}
            parts.append(expand(rng, steps, t[idx], f))

    sub(lookup, [Step("account_lookup", "success")], t0 - rng.integers(1, 8, n) * 10**6)
    sub(typo, [Step("sign_in", "failure", method="password", reason="bad_password")], t0)
    t_main = t0 + np.where(typo, rng.integers(6, 60, n), 0) * 10**6
    sub(~mfa, [Step("sign_in", "success", method="password")], t_main)
    gated = "success" if sc.conventions.mfa_logging == "password_success" else "pending"
    sub(mfa, [Step("sign_in", gated, method="password")], t_main)
    # the second factor: mostly approved, sometimes timed out and approved on the retry
    timeout = mfa & (rng.random(n) < 0.04)
    t_mfa = t_main + rng.integers(5, 45, n) * 10**6
    if pop.password_manager is not None:  # the code is filled in by the password manager, in seconds
        t_mfa = np.where(pop.password_manager[users], t_main + rng.integers(1, 4, n) * 10**6, t_mfa)
    for code, method in enumerate(MFA_METHODS):
        m = mfa & (pop.mfa[users] == code)
        sub(
            m & timeout,
            [
                Step("mfa_challenge", "failure", method=method, reason="mfa_timeout"),
                Step("mfa_challenge", "success", method=method, delay=(60, 300)),
            ],
            t_mfa,
        )
        sub(m & ~timeout, [Step("mfa_challenge", "success", method=method)], t_mfa)
    return pa.concat_tables(parts)
