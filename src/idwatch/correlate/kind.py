"""Is a campaign a targeted (state-style) operation or criminal mass abuse?

A transparent point score over the campaign's profile: each feature that points one way
adds a named, explained point. Mass abuse looks like many short-lived residential
addresses, about one try per account, random targets and password guessing round the
clock; a targeted operation looks like few addresses, chosen high-risk people (probed
under several name variants), abuse of reset / recovery, office hours. Attribution to a
known actor of a known kind overrides the score (see :func:`final_kind`).
"""

from __future__ import annotations

from dataclasses import dataclass

from idwatch.correlate.features import CampaignProfile
from idwatch.correlate.timing import UNIFORM_SHARE, best_offset, fmt_offset

MIN_TIMING_EVENTS = 30


@dataclass
class KindFeature:
    side: str  # state | criminal
    points: float
    detail: str

    def to_evidence(self) -> dict[str, object]:
        return {
            "kind": "campaign_profile",
            "detail": f"{self.side}-like: {self.detail}",
            "weight": round(self.points if self.side == "state" else -self.points, 3),
        }


def kind_features(p: CampaignProfile, base_high_risk: float) -> list[KindFeature]:
    """The features of ``p`` that point to a targeted or a mass campaign."""
    out: list[KindFeature] = []
    n_ips = len(p.ips)
    residential = sum(p.network_types[t] for t in ("residential", "mobile")) / max(1, n_ips)
    if n_ips >= 20 and p.events_per_ip_median <= 5:
        out.append(
            KindFeature(
                "criminal",
                1.0,
                f"{n_ips} addresses, median {p.events_per_ip_median:g} events each (botnet-like rotation)",
            )
        )
    if n_ips >= 10 and residential >= 0.6:
        out.append(KindFeature("criminal", 1.0, f"{residential:.0%} of addresses are residential/mobile"))
    if p.n_targets >= 5:
        hr = p.high_risk_share
        if hr >= max(0.5, 2 * base_high_risk):
            pts = 1.5 if hr >= 0.7 else 1.0
            out.append(
                KindFeature(
                    "state",
                    pts,
                    f"{hr:.0%} of targets are high-risk people "
                    f"(journalists, officials, ...) vs {base_high_risk:.0%} overall",
                )
            )
        elif hr <= base_high_risk + 0.15:
            # mirrors the state side's 1.5: targets chosen against high-risk people (under half
            # their share of all accounts) are as clearly untargeted as 70 % high-risk is targeted
            out.append(
                KindFeature(
                    "criminal",
                    1.5 if hr <= base_high_risk / 2 else 1.0,
                    f"targets look random: {hr:.0%} high-risk vs {base_high_risk:.0%} of all accounts",
                )
            )
    if p.recovery_share >= 0.3:
        out.append(
            KindFeature(
                "state", 1.0, f"{p.recovery_share:.0%} of attempts abuse password reset / account recovery"
            )
        )
    elif p.password_share >= 0.8 and p.attempts_per_target <= 3 and p.n_targets >= 20:
        out.append(
            KindFeature("criminal", 0.5, f"password guessing, {p.attempts_per_target:.1f} tries per account")
        )
    if p.person_key_reuse >= 1.3:
        out.append(
            KindFeature(
                "state",
                1.0,
                f"{p.person_key_reuse:.1f} identifiers probed per person (name variants of the same people)",
            )
        )
    if p.watchlist_share >= 0.3:
        out.append(KindFeature("state", 0.5, f"{p.watchlist_share:.0%} of targets are on the watchlist"))
    if p.n_events >= MIN_TIMING_EVENTS:
        offset, share, week = best_offset(p.how)
        if share >= 0.7:
            out.append(
                KindFeature(
                    "state", 0.5, f"{share:.0%} of activity in office hours at {fmt_offset(offset)} ({week})"
                )
            )
        elif share < UNIFORM_SHARE + 0.15:
            out.append(KindFeature("criminal", 0.5, "activity around the clock (no office hours)"))
    return out


def profile_kind(features: list[KindFeature]) -> str:
    state = sum(f.points for f in features if f.side == "state")
    crim = sum(f.points for f in features if f.side == "criminal")
    if state >= 2 and state > crim + 0.5:
        return "state"
    if crim >= 2 and crim > state + 0.5:
        return "criminal"
    return "unknown"


def final_kind(profile_verdict: str, actor_kind: str | None) -> str:
    """An attributed actor of known kind decides; otherwise the profile's verdict stands."""
    if actor_kind in ("state", "criminal"):
        return actor_kind
    return profile_verdict
