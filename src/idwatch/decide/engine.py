"""One decision: normalize the attempt, fill its enrichment, score it on the state, apply policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idwatch.decide.policy import Policy
from idwatch.decide.state import RiskState
from idwatch.detections.riskmodel import normalize_attempt
from idwatch.detections.riskmodel_enrich import from_enrichment


def decide(state: RiskState, policy: Policy, attempt: dict[str, Any]) -> dict[str, Any]:
    """allow | challenge | block, the calibrated risk and the per-feature explanation.

    Enrichment comes from the attempt itself, else what the store said of the same address /
    agent (kept in the state), else the ingest's offline databases; never a store scan.
    """
    row = state.fill(normalize_attempt(attempt))
    from_enrichment(row)
    # what has settled by the attempt's time counts (never beyond the wall clock: a client's
    # future timestamp must not make recent, not yet vetted successes history early)
    state.settle(min(row["time"], datetime.now(UTC)))
    scored = state.score(row)
    campaign = state.campaign_ips.get(row["src_ip"])
    verdict = policy.decide(
        scored["risk"], tenant=row.get("tenant"), watchlist=bool(attempt.get("watchlist")), campaign=campaign
    )
    scored["time"] = row["time"].isoformat().replace("+00:00", "Z")
    return {**verdict, "campaign": campaign, **scored}
