"""One decision: normalize the attempt, fill its enrichment, score it on the state, apply policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from idwatch.decide.policy import Policy
from idwatch.decide.state import RiskState
from idwatch.detections.riskmodel import normalize_attempt

_ENRICHER: list = []  # one IpEnricher per process: opening its databases costs milliseconds


def _enrich(row: dict[str, Any]) -> None:
    """Fill only what the model reads (country, network, browser, OS) from the offline databases."""
    if row.get("country") in (None, "") or (row.get("asn") is None and not row.get("asn_org")):
        if not _ENRICHER:
            from idwatch.enrich.ip import IpEnricher

            _ENRICHER.append(IpEnricher())
        found = _ENRICHER[0].lookup([row["src_ip"]]).to_pylist()[0]
        for name in ("asn", "asn_org", "country"):
            if row.get(name) in (None, "") and found.get(name) is not None:
                row[name] = found[name]
    if row.get("user_agent") and (not row.get("ua_family") or not row.get("ua_os")):
        from idwatch.enrich.useragent import parse_agent

        family, os_family = parse_agent(row["user_agent"])
        row["ua_family"] = row.get("ua_family") or family
        row["ua_os"] = row.get("ua_os") or os_family


def decide(state: RiskState, policy: Policy, attempt: dict[str, Any]) -> dict[str, Any]:
    """allow | challenge | block, the calibrated risk and the per-feature explanation.

    Enrichment comes from the attempt itself, else what the store said of the same address /
    agent (kept in the state), else the ingest's offline databases; never a store scan.
    """
    row = state.fill(normalize_attempt(attempt))
    _enrich(row)
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
