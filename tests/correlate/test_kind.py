"""The kind verdict: untargeted password guessing is criminal; a mild tilt alone decides nothing."""

from __future__ import annotations

from collections import Counter

from idwatch.correlate.features import CampaignProfile
from idwatch.correlate.kind import kind_features, profile_kind

BASE_HIGH_RISK = 0.42  # share of high-risk people among all accounts (the demo's directory)


def _sprayer(categories: Counter[str]) -> CampaignProfile:
    """A password sprayer on six hosting addresses: ~1.5 tries per account, no recovery abuse."""
    return CampaignProfile(
        id="cmp-spray",
        n_events=20,  # too few for a working-hours verdict
        ips={f"192.0.2.{i}": 180 for i in range(6)},
        categories=categories,
        n_targets=sum(categories.values()),
        attempts_per_target=1.5,
        password_share=0.95,
    )


def test_a_sprayer_that_avoids_high_risk_people_is_criminal():
    feats = kind_features(_sprayer(Counter(consumer=700, business=40)), BASE_HIGH_RISK)
    assert profile_kind(feats) == "criminal"


def test_targets_only_slightly_below_the_base_rate_do_not_decide_alone():
    near_random = Counter(consumer=240, business=60, journalist=110, government=90)  # 40 % high-risk
    feats = kind_features(_sprayer(near_random), BASE_HIGH_RISK)
    assert profile_kind(feats) == "unknown"
