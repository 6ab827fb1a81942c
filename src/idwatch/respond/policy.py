"""Who is told what: the notification policy, one place for every knob.

Defaults follow the practice of the large providers: tell the organisation's security
contact about every account an attributed state actor attacked or compromised; tell a
high-risk (watchlisted) account's organisation even of probing alone; tell people
themselves only when the deployment opts in, and never by writing to a mailbox the
attacker may be reading.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

PEOPLE_CHOICES = ("none", "targeted", "all")


@dataclass(frozen=True)
class NotifyPolicy:
    """Notification policy (``[respond.notify]`` in idwatch.toml, or CLI options)."""

    #: campaign kinds that lead to notifications (an attributed campaign without ``kind`` counts as state)
    kinds: tuple[str, ...] = ("state",)
    #: attribution confidence (0-100) below which a campaign is not announced
    min_confidence: int = 0
    #: tell a watchlisted account's tenant even when the account was only probed
    watchlist_probes: bool = True
    #: notices to the targeted people themselves: none | targeted (not compromised mailboxes) | all
    people: str = "none"
    #: name the actor to the tenant's security contact (people are told "state-sponsored" only)
    name_actor_to_tenant: bool = True
    #: the provider's name as it appears in the messages
    provider: str = "idwatch"
    #: From: address of notification mails
    sender: str = "security-notifications@idwatch.invalid"

    def __post_init__(self) -> None:
        if self.people not in PEOPLE_CHOICES:
            raise ValueError(f"people must be one of {PEOPLE_CHOICES}, not {self.people!r}")
        if not 0 <= self.min_confidence <= 100:
            raise ValueError("min_confidence must be 0..100")

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None, **overrides: Any) -> NotifyPolicy:
        """Build from a config table, ignoring unknown keys; ``overrides`` (not None) win."""
        known = {f.name for f in fields(cls)}
        merged = {k: v for k, v in (values or {}).items() if k in known}
        merged.update({k: v for k, v in overrides.items() if v is not None and k in known})
        if "kinds" in merged:
            merged["kinds"] = tuple(merged["kinds"])
        return replace(cls(), **merged)
