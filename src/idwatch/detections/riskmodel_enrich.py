"""Fill the enrichment columns of a single attempt scored outside the ingest path.

The batch model reads events the ingest already enriched. An attempt posted to
``idwatch score`` may carry only ``src_ip`` and ``user_agent``; its network and browser
values must then be derived the same way the stored history was, or every attempt would
look "new". Two sources, in order: the store itself (the latest stored event with the same
address / user-agent string, which is by construction consistent with the history), then
the ingest's enrichment functions for values the store has never seen.
"""

from __future__ import annotations

from typing import Any

import duckdb

_IP_FIELDS = ("asn", "asn_org", "country", "network_type")
_UA_FIELDS = ("ua_family", "ua_os")


def _missing(row: dict[str, Any], names: tuple[str, ...]) -> bool:
    return any(row.get(n) in (None, "") for n in names)


def _fill(row: dict[str, Any], found: dict[str, Any]) -> None:
    for name, value in found.items():
        if row.get(name) in (None, "") and value is not None:
            row[name] = value


def from_store(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """Copy enrichment from the latest stored event with the same address / user agent.

    A missing tenant is taken from the account's latest event: the account key is
    (tenant, account), so guessing it wrong would score the attempt against no history.
    """
    if row.get("tenant") in (None, ""):
        got = con.execute(
            "SELECT tenant FROM events WHERE account = ? ORDER BY time DESC LIMIT 1", [row["account"]]
        ).fetchall()
        if got:
            row["tenant"] = got[0][0]
    if _missing(row, _IP_FIELDS):
        got = con.execute(
            f"SELECT {', '.join(_IP_FIELDS)} FROM events WHERE src_ip = ? ORDER BY time DESC LIMIT 1",
            [row["src_ip"]],
        ).fetchall()
        if got:
            _fill(row, dict(zip(_IP_FIELDS, got[0], strict=True)))
    if row.get("user_agent") and _missing(row, _UA_FIELDS):
        got = con.execute(
            f"SELECT {', '.join(_UA_FIELDS)} FROM events WHERE user_agent = ? ORDER BY time DESC LIMIT 1",
            [row["user_agent"]],
        ).fetchall()
        if got:
            _fill(row, dict(zip(_UA_FIELDS, got[0], strict=True)))


def from_enrichment(row: dict[str, Any]) -> None:
    """Ask the ingest's enrichment (idwatch.enrich) for what the store could not tell."""
    if _missing(row, _IP_FIELDS):
        from idwatch.enrich.ip import IpEnricher

        found = IpEnricher().lookup([row["src_ip"]]).to_pylist()[0]
        _fill(row, {name: found.get(name) for name in _IP_FIELDS})
    if row.get("user_agent") and _missing(row, _UA_FIELDS):
        from idwatch.enrich.useragent import parse_agent

        family, os_family = parse_agent(row["user_agent"])
        _fill(row, {"ua_family": family, "ua_os": os_family})


def enrich_attempt(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> dict[str, Any]:
    """Complete ``row`` in place (and return it); given values always win."""
    from_store(con, row)
    from_enrichment(row)
    return row
