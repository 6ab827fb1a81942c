"""IP addresses: validation / normalization and network enrichment, once per DISTINCT address.

The batch path never loops over events: the caller hands the distinct ``src_ip`` strings of a
batch, gets back one row per string, and joins it back in DuckDB.

Answers come from offline databases only (no network at run time):

* ``plevin`` with ``plevin-db-network`` (ASN, AS handle, operator category, mobile carrier),
  ``plevin-db-country`` (country of the address) and ``plevin-db-abuse`` (Tor exit, VPN,
  proxy flags), each a wheel on PyPI; any of them may be absent.
* MaxMind ``.mmdb`` files the user supplies (GeoLite2 / GeoIP2 Country or City, ASN,
  Anonymous-IP, Connection-Type); where one answers, it wins over plevin.
"""

from __future__ import annotations

import importlib
import ipaddress
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.enrich.plevin_ranges import SPINE_COLUMNS

log = logging.getLogger(__name__)

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

#: Distinct address strings whose answers an enricher keeps as a table (about 100 bytes each).
KNOWN_ADDRESSES_MAX = 2_000_000

PLEVIN_PACKAGES = {
    "network": "plevin_db_network",
    "country": "plevin_db_country",
    "abuse": "plevin_db_abuse",
}

#: plevin operator / user categories -> EVENTS.md ``network_type``.
CATEGORY_TO_NETWORK_TYPE = {
    "residential": "residential",
    "cellular": "mobile",
    "business": "business",
    "government": "business",
    "military": "business",
    "non-profit": "business",
    "education": "education",
    "hosting": "hosting",
    "cdn": "hosting",
    "content": "hosting",
    "search_engine_spider": "hosting",
}

#: plevin abuse services -> ``network_type`` (these override the operator's category).
SERVICE_TO_NETWORK_TYPE = {
    "tor_exit_node": "tor",
    "anonymous_vpn": "vpn",
    "public_proxy": "proxy",
    "residential_proxy": "proxy",
    "private_relay": "proxy",
}

#: MaxMind Connection-Type values -> ``network_type``.
CONNECTION_TO_NETWORK_TYPE = {
    "Cable/DSL": "residential",
    "Cellular": "mobile",
    "Corporate": "business",
    "Satellite": "residential",
}


_UNSEEN = object()  #: cache miss marker (``None`` is a cached answer: not an address)


@dataclass(frozen=True)
class IpInfo:
    country: str | None = None
    asn: int | None = None
    asn_org: str | None = None
    network_type: str | None = None


def normalize_ip(value: str) -> str | None:
    """The canonical text of an IPv4 / IPv6 address, or None when ``value`` is not one."""
    if _IPV4.fullmatch(value):
        return value  # already canonical dotted quad (no leading zeros, no spaces)
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _dig(row: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(row, dict):
            return None
        row = row.get(key)
    return row


@lru_cache(maxsize=1)
def _plevin_databases() -> dict[str, Any]:
    """The installed plevin databases by role, opened once per process."""
    try:
        import plevin
    except ImportError:
        return {}
    found: dict[str, Any] = {}
    for role, package in PLEVIN_PACKAGES.items():
        try:
            module = importlib.import_module(package)
            found[role] = plevin.Plevin(module.PATH)
        except (ImportError, AttributeError, OSError, ValueError) as exc:
            log.debug("plevin database %s unavailable: %s", package, exc)
    return found


def plevin_versions() -> dict[str, str]:
    """Build date of each plevin database in use (for ``idwatch stats`` and the README)."""
    return {role: db.built for role, db in _plevin_databases().items()}


def _info_from_rows(
    net: dict[str, Any] | None, geo: dict[str, Any] | None, abuse: dict[str, Any] | None
) -> IpInfo:
    """EVENTS.md network fields from plevin's network, country and abuse answers."""
    asn = _dig(net, "network", "asn") or None
    org = _dig(net, "network", "handle") or _dig(net, "network", "operator", "company") or None
    country = _dig(geo, "place", "city", "country") or _dig(net, "network", "country") or None
    service = _dig(abuse, "abuse", "service")
    category = _dig(net, "abuse", "user_type") or _dig(net, "network", "operator", "category")
    carrier = _dig(net, "network", "carrier") or {}
    if service in SERVICE_TO_NETWORK_TYPE:
        network_type = SERVICE_TO_NETWORK_TYPE[service]
    elif carrier.get("mcc"):
        network_type = "mobile"
    elif category:
        network_type = CATEGORY_TO_NETWORK_TYPE.get(category, "unknown")
    else:
        network_type = "unknown" if asn else None
    return IpInfo(country, int(asn) if asn else None, org, network_type)


class _Plevin:
    """Reads the three plevin files: row by row for a few addresses, as ranges for many."""

    #: Above this many new addresses in one call, decode the databases into range tables.
    RANGE_THRESHOLD = 3000

    def __init__(self) -> None:
        import plevin

        self._parse = plevin.parse
        self.dbs = _plevin_databases()
        self._ranges: dict[str, Any] | None = None

    def _row(self, role: str, number: int, wide: bool) -> dict[str, Any] | None:
        db = self.dbs.get(role)
        if db is None:
            return None
        return db.file.row(number, wide)

    def info(self, ip: str) -> IpInfo:
        number, wide = self._parse(ip)
        return _info_from_rows(
            self._row("network", number, wide),
            self._row("country", number, wide),
            self._row("abuse", number, wide),
        )

    def ranges(self) -> dict[str, Any]:
        if self._ranges is None:
            from idwatch.enrich.plevin_ranges import load_ranges

            loaded = {role: load_ranges(db, PLEVIN_PACKAGES[role]) for role, db in self.dbs.items()}
            self._ranges = {role: r for role, r in loaded.items() if r is not None}
        return self._ranges

    def info_many(self, ips: list[str]) -> list[IpInfo]:
        """Infos of many normalized addresses: one numpy range search per database.

        Work per address is a few array operations; Python runs once per distinct
        combination of (network, country, abuse) answers, which repeat a lot.
        """
        if len(ips) < self.RANGE_THRESHOLD or len(self.ranges()) < len(self.dbs):
            return [self.info(ip) for ip in ips]
        ranges = self.ranges()
        roles = list(ranges)
        v4_pos = np.asarray([i for i, ip in enumerate(ips) if _IPV4.fullmatch(ip)], dtype=np.int64)
        numbers = np.asarray([_ipv4_int(ips[i]) for i in v4_pos], dtype=np.uint64)
        keys = np.zeros((len(ips), len(roles) * len(SPINE_COLUMNS)), dtype=np.int64)
        for r, role in enumerate(roles):
            if len(v4_pos):
                links = ranges[role].links_v4(numbers)
                for c, name in enumerate(SPINE_COLUMNS):
                    if name in links:
                        keys[v4_pos, r * len(SPINE_COLUMNS) + c] = links[name]
        is_v4 = np.zeros(len(ips), dtype=bool)
        is_v4[v4_pos] = True
        v6_pos = np.flatnonzero(~is_v4)
        if len(v6_pos):
            numbers6 = [int(ipaddress.ip_address(ips[i])) for i in v6_pos]
            for r, role in enumerate(roles):
                links6 = ranges[role].links_v6_many(numbers6)
                for c, name in enumerate(SPINE_COLUMNS):
                    if name in links6:
                        keys[v6_pos, r * len(SPINE_COLUMNS) + c] = links6[name]
        combos, inverse = np.unique(keys, axis=0, return_inverse=True)
        infos: list[IpInfo] = []
        for combo in combos.tolist():
            rows: dict[str, dict[str, Any] | None] = {}
            for r, role in enumerate(roles):
                part = combo[r * len(SPINE_COLUMNS) : (r + 1) * len(SPINE_COLUMNS)]
                rows[role] = ranges[role].answer(dict(zip(SPINE_COLUMNS, part, strict=True))) or None
            infos.append(_info_from_rows(rows.get("network"), rows.get("country"), rows.get("abuse")))
        return [infos[k] for k in np.asarray(inverse).reshape(-1).tolist()]


_IPV4 = re.compile(
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
)


def _ipv4_int(ip: str) -> int:
    a, b, c, d = ip.split(".")
    return int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


class _MaxMind:
    """User-supplied MaxMind databases, each answering what its type knows."""

    def __init__(self, paths: list[str]) -> None:
        import maxminddb

        self.readers = []
        for path in paths:
            reader = maxminddb.open_database(path)
            self.readers.append((reader.metadata().database_type, reader))

    def info(self, ip: str) -> IpInfo:
        country = asn = org = network_type = None
        for kind, reader in self.readers:
            rec = reader.get(ip)
            if not isinstance(rec, dict):
                continue
            if "ASN" in kind:
                asn = rec.get("autonomous_system_number") or asn
                org = rec.get("autonomous_system_organization") or org
            elif "Anonymous" in kind:
                if rec.get("is_tor_exit_node"):
                    network_type = "tor"
                elif rec.get("is_anonymous_vpn"):
                    network_type = "vpn"
                elif rec.get("is_public_proxy") or rec.get("is_residential_proxy"):
                    network_type = "proxy"
                elif rec.get("is_hosting_provider") and network_type is None:
                    network_type = "hosting"
            elif "Connection" in kind:
                network_type = network_type or CONNECTION_TO_NETWORK_TYPE.get(rec.get("connection_type", ""))
            else:
                country = _dig(rec, "country", "iso_code") or _dig(rec, "registered_country", "iso_code")
        return IpInfo(country, asn, org, network_type)

    def close(self) -> None:
        for _, reader in self.readers:
            reader.close()


class IpEnricher:
    """Answers country / ASN / operator / network type per address (no network access).

    ``use_plevin=False`` switches the bundled databases off (tests, or MaxMind only).
    Answers are cached per process, so a long ingest looks each address up once.
    """

    def __init__(self, mmdb_paths: list[str] | None = None, *, use_plevin: bool = True) -> None:
        self.mmdb_paths = list(mmdb_paths or [])
        self._maxmind = _MaxMind(self.mmdb_paths) if self.mmdb_paths else None
        self._plevin = _Plevin() if use_plevin and _plevin_databases() else None
        self._cache: dict[str, IpInfo] = {}
        self._normalized: dict[str, str | None] = {}  # as written -> normalized (ipaddress is slow)
        self._known: pa.Table | None = None  # lookup() rows of every string met so far (lookup_distinct)

    def _prefetch(self, ips: list[str]) -> None:
        """Look many new addresses up at once (range tables) and cache their answers."""
        if self._plevin is None or len(ips) < _Plevin.RANGE_THRESHOLD:
            return
        try:
            infos = self._plevin.info_many(ips)
        except (ValueError, LookupError, OSError) as exc:
            log.warning("plevin batch lookup failed, falling back to single lookups: %s", exc)
            return
        for ip, info in zip(ips, infos, strict=True):
            self._cache[ip] = self._with_maxmind(ip, info)

    def _with_maxmind(self, ip: str, info: IpInfo) -> IpInfo:
        if self._maxmind is None:
            return info
        mm = self._maxmind.info(ip)
        return IpInfo(
            mm.country or info.country,
            mm.asn or info.asn,
            mm.asn_org or info.asn_org,
            mm.network_type or info.network_type,
        )

    def _info(self, ip: str) -> IpInfo:
        cached = self._cache.get(ip)
        if cached is not None:
            return cached
        info = IpInfo()
        if self._plevin is not None:
            try:
                info = self._plevin.info(ip)
            except (ValueError, LookupError, OSError) as exc:
                log.debug("plevin lookup of %s failed: %s", ip, exc)
        info = self._with_maxmind(ip, info)
        if len(self._cache) < 2_000_000:
            self._cache[ip] = info
        return info

    def _normalize(self, value: str) -> str | None:
        known = self._normalized.get(value, _UNSEEN)
        if known is not _UNSEEN:
            return known  # type: ignore[return-value]
        ip = normalize_ip(value)
        if len(self._normalized) < 2_000_000:
            self._normalized[value] = ip
        return ip

    def lookup_distinct(self, values: pa.Array) -> pa.Table:
        """:meth:`lookup` of the distinct strings ``values``, one row each, in their order.

        An ingest meets the same addresses chunk after chunk: only strings it has not met
        before go through Python; the rest are taken from the table of earlier answers.
        """
        known = self._known
        pos = None if known is None else pc.index_in(values, value_set=known.column("src_ip"))
        missing = pc.is_null(pos) if pos is not None else None
        if pos is None or pc.any(missing).as_py():
            new = self.lookup(values.to_pylist() if pos is None else pc.filter(values, missing).to_pylist())
            if known is None:
                known = new
            elif known.num_rows + new.num_rows > KNOWN_ADDRESSES_MAX:  # keep what this batch needs
                known = pa.concat_tables([known.take(pc.filter(pos, pc.invert(missing))), new])
            else:
                known = pa.concat_tables([known, new])
            self._known = known = known.combine_chunks()
            pos = pc.index_in(values, value_set=known.column("src_ip"))
        return known.take(pos)

    def lookup(self, ips: list[str]) -> pa.Table:
        """One row per distinct address string (see :data:`IP_TABLE_SCHEMA`)."""
        normalized = [self._normalize(v) for v in ips]
        self._prefetch([n for n in set(normalized) if n is not None and n not in self._cache])
        infos = [self._info(n) if n is not None else IpInfo() for n in normalized]
        return pa.table(
            {
                "src_ip": pa.array(ips, pa.string()),
                "ip": pa.array(normalized, pa.string()),
                "country": pa.array([i.country for i in infos], pa.string()),
                "asn": pa.array([i.asn for i in infos], pa.int64()),
                "asn_org": pa.array([i.asn_org for i in infos], pa.string()),
                "network_type": pa.array([i.network_type for i in infos], pa.string()),
            },
            schema=IP_TABLE_SCHEMA,
        )
