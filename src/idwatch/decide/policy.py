"""Policy: turn a calibrated risk (a percentile of the store's legitimate sign-ins) into
allow | challenge | block, with thresholds per tenant and for watchlisted accounts.

``idwatch.toml``::

    [decide]
    challenge = 99.0     # risk at or above: ask for a second factor
    block = 99.9         # risk at or above: refuse
    [decide.watchlist]   # accounts in the high-risk programme: stricter
    challenge = 95.0
    block = 99.5
    [decide.tenants."example.org"]
    challenge = 98.0

An address in an active state campaign blocks whatever the risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Defaults. Risk is a percentile of legitimate sign-ins, so ``challenge = 99`` asks a second
#: factor of about 1 % of legitimate sign-ins; ``block = 99.9`` refuses about 1 in 1,000 of them.
DEFAULT_CHALLENGE = 99.0
DEFAULT_BLOCK = 99.9
#: The watchlist (journalists, officials): a challenge costs them little, a takeover much.
WATCHLIST_CHALLENGE = 95.0
WATCHLIST_BLOCK = 99.5


@dataclass(frozen=True)
class Thresholds:
    challenge: float
    block: float


class Policy:
    """Thresholds read once from the ``[decide]`` section of the configuration."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        section = dict((config or {}).get("decide", {}) or {})
        self.default = Thresholds(
            float(section.get("challenge", DEFAULT_CHALLENGE)), float(section.get("block", DEFAULT_BLOCK))
        )
        wl = dict(section.get("watchlist", {}) or {})
        self.watchlist = Thresholds(
            float(wl.get("challenge", WATCHLIST_CHALLENGE)), float(wl.get("block", WATCHLIST_BLOCK))
        )
        self.tenants: dict[str, Thresholds] = {}
        for name, t in (section.get("tenants", {}) or {}).items():
            self.tenants[str(name)] = Thresholds(
                float(t.get("challenge", self.default.challenge)), float(t.get("block", self.default.block))
            )
        for t in [self.default, self.watchlist, *self.tenants.values()]:
            if not 0 <= t.challenge <= t.block <= 100:
                raise ValueError("decide: thresholds need 0 <= challenge <= block <= 100")

    def thresholds(self, tenant: str | None, watchlist: bool) -> Thresholds:
        base = self.tenants.get(tenant or "", self.default)
        if watchlist:
            return Thresholds(
                min(base.challenge, self.watchlist.challenge), min(base.block, self.watchlist.block)
            )
        return base

    def decide(
        self, risk: float, *, tenant: str | None, watchlist: bool, campaign: str | None
    ) -> dict[str, Any]:
        """The decision and why."""
        t = self.thresholds(tenant, watchlist)
        if campaign:
            return {"decision": "block", "reason": f"address in active campaign {campaign}"}
        if risk >= t.block:
            return {"decision": "block", "reason": f"risk {risk:.1f} >= block {t.block}"}
        if risk >= t.challenge:
            return {"decision": "challenge", "reason": f"risk {risk:.1f} >= challenge {t.challenge}"}
        return {"decision": "allow", "reason": f"risk {risk:.1f} < challenge {t.challenge}"}
