"""IP addresses: validation / normalization and network enrichment, once per DISTINCT address.

The batch path never loops over events: the caller hands the distinct ``src_ip`` strings of a
batch, gets back one row per string, and joins it back in DuckDB.
"""

from __future__ import annotations

import ipaddress

import pyarrow as pa

IP_TABLE_SCHEMA = pa.schema(
    [
        pa.field("src_ip", pa.string()),  # the address as the source wrote it
        pa.field("ip", pa.string()),  # normalized (compressed, lower-case), NULL when invalid
        pa.field("country", pa.string()),
        pa.field("asn", pa.int64()),
        pa.field("asn_org", pa.string()),
        pa.field("network_type", pa.string()),
    ]
)


def normalize_ip(value: str) -> str | None:
    """The canonical text of an IPv4 / IPv6 address, or None when ``value`` is not one."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


class IpEnricher:
    """Answers country / ASN / operator / network type per address (no network access)."""

    def __init__(self, mmdb_paths: list[str] | None = None) -> None:
        self.mmdb_paths = list(mmdb_paths or [])

    def lookup(self, ips: list[str]) -> pa.Table:
        normalized = [normalize_ip(v) for v in ips]
        n = len(ips)
        return pa.table(
            {
                "src_ip": pa.array(ips, pa.string()),
                "ip": pa.array(normalized, pa.string()),
                "country": pa.nulls(n, pa.string()),
                "asn": pa.nulls(n, pa.int64()),
                "asn_org": pa.nulls(n, pa.string()),
                "network_type": pa.nulls(n, pa.string()),
            },
            schema=IP_TABLE_SCHEMA,
        )
