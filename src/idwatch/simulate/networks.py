"""The networks simulated clients connect from: real prefixes of real providers.

Each entry is a public prefix with the AS number, organisation, country and network kind that
public routing data gives for it (checked against the offline IP database idwatch enriches
with, so enrichment of simulated events gives plausible answers). Pools of client addresses are
drawn from inside these prefixes. Residential, mobile and education networks carry everyday users;
hosting, VPN and Tor networks carry VPN users, criminals and state actors alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Network:
    """One routed prefix and what it is."""

    key: str  # short stable name used by scenario files
    cidr: str
    asn: int
    org: str
    country: str
    kind: str  # residential | mobile | business | education | hosting | vpn | tor


def _n(key: str, cidr: str, asn: int, org: str, country: str, kind: str) -> Network:
    return Network(key, cidr, asn, org, country, kind)


NETWORKS: tuple[Network, ...] = (
    # --- residential broadband
    _n("comcast", "73.0.0.0/8", 7922, "COMCAST-7922", "US", "residential"),
    _n("comcast6", "2601::/20", 7922, "COMCAST-7922", "US", "residential"),
    _n("charter-tx", "24.28.0.0/17", 11427, "TWC-11427-TEXAS", "US", "residential"),
    _n("charter-nyc", "66.65.0.0/17", 12271, "TWC-12271-NYC", "US", "residential"),
    _n("att", "99.0.0.0/13", 7018, "ATT-INTERNET4", "US", "residential"),
    _n("att6", "2600:1700::/28", 7018, "ATT-INTERNET4", "US", "residential"),
    _n("verizon", "108.20.0.0/16", 701, "UUNET", "US", "residential"),
    _n("bt", "86.128.0.0/12", 2856, "BT-UK-AS", "GB", "residential"),
    _n("talktalk", "2.96.0.0/14", 13285, "OPALTELECOM-AS", "GB", "residential"),
    _n("virgin", "82.0.0.0/14", 5089, "NTL", "GB", "residential"),
    _n("dtag", "79.192.0.0/10", 3320, "DTAG", "DE", "residential"),
    _n("dtag6", "2003::/19", 3320, "DTAG", "DE", "residential"),
    _n("free", "82.64.0.0/14", 12322, "PROXAD", "FR", "residential"),
    _n("orange6", "2a01:cb00::/30", 3215, "AS3215", "FR", "residential"),
    _n("rogers", "174.112.0.0/16", 812, "ROGERS-COMMUNICATIONS", "CA", "residential"),
    _n("tci", "151.232.0.0/18", 58224, "TCI", "IR", "residential"),
    _n("tci2", "2.176.0.0/15", 58224, "TCI", "IR", "residential"),
    _n("shatel", "94.182.0.0/20", 31549, "RASANA", "IR", "residential"),
    _n("ttnet", "88.224.0.0/21", 47331, "TTNET", "TR", "residential"),
    _n("du", "94.200.0.0/19", 15802, "DU-AS1", "AE", "residential"),
    _n("beeline", "93.80.0.0/15", 8402, "CORBINA-AS", "RU", "residential"),
    _n("ziggo", "84.24.0.0/14", 33915, "TNF-AS", "NL", "residential"),
    _n("kpn", "77.160.0.0/13", 1136, "KPN", "NL", "residential"),
    _n("telia", "81.224.0.0/12", 3301, "TELIANET-SWEDEN", "SE", "residential"),
    # --- mobile carriers (carrier-grade NAT: many subscribers behind few addresses)
    _n("tmobile", "172.58.0.0/21", 21928, "T-MOBILE-AS21928", "US", "mobile"),
    _n("tmobile6", "2607:fb90::/40", 21928, "T-MOBILE-AS21928", "US", "mobile"),
    _n("vzw", "174.192.0.0/18", 6167, "CELLCO-PART", "US", "mobile"),
    _n("attmobility", "166.128.0.0/16", 20057, "ATT-MOBILITY-LLC-AS20057", "US", "mobile"),
    _n("three-uk", "92.40.0.0/22", 206067, "H3GUK", "GB", "mobile"),
    _n("vodafone-de", "188.96.0.0/12", 3209, "VODANET", "DE", "mobile"),
    _n("orange-mobile", "90.0.0.0/17", 3215, "AS3215", "FR", "mobile"),
    _n("rogers-mobile", "99.224.0.0/20", 812, "ROGERS-COMMUNICATIONS", "CA", "mobile"),
    _n("irancell", "5.112.0.0/20", 44244, "IranCell-AS", "IR", "mobile"),
    _n("mci", "5.208.0.0/20", 197207, "MCCI-AS", "IR", "mobile"),
    _n("etisalat", "86.96.0.0/19", 5384, "EMIRATES-INTERNET", "AE", "mobile"),
    _n("beeline-mobile", "217.118.64.0/24", 16345, "BEE-AS", "RU", "mobile"),
    _n("turkcell", "176.232.0.0/21", 34984, "TELLCOM-AS", "TR", "mobile"),
    # --- business / office egress
    _n("level3", "4.4.0.0/14", 3356, "LEVEL3", "US", "business"),
    _n("cogent", "38.104.0.0/16", 174, "COGENT-174", "US", "business"),
    _n("bt-business", "81.128.0.0/12", 2856, "BT-UK-AS", "GB", "business"),
    _n("dtag-business", "91.0.0.0/10", 3320, "DTAG", "DE", "business"),
    _n("respina", "5.160.0.0/24", 42337, "RESPINA-AS", "AE", "business"),
    # --- universities
    _n("ucb", "128.32.0.0/16", 25, "UCB", "US", "education"),
    _n("harvard", "128.103.0.0/16", 1742, "HARVARD-UNIV", "US", "education"),
    _n("stanford", "171.64.0.0/14", 32, "STANFORD", "US", "education"),
    _n("yale", "130.132.0.0/16", 29, "YALE-AS", "US", "education"),
    # --- hosting (VPS rented by the hour)
    _n("digitalocean", "159.89.0.0/20", 14061, "DIGITALOCEAN-ASN", "US", "hosting"),
    _n("digitalocean2", "167.99.0.0/20", 14061, "DIGITALOCEAN-ASN", "US", "hosting"),
    _n("digitalocean3", "138.68.0.0/20", 14061, "DIGITALOCEAN-ASN", "US", "hosting"),
    _n("vultr", "108.61.0.0/18", 20473, "AS-VULTR", "US", "hosting"),
    _n("vultr2", "45.77.0.0/21", 20473, "AS-VULTR", "US", "hosting"),
    _n("ovh", "51.68.0.0/16", 16276, "OVH", "FR", "hosting"),
    _n("ovh2", "145.239.0.0/16", 16276, "OVH", "FR", "hosting"),
    _n("hetzner", "88.198.0.0/16", 24940, "HETZNER-AS", "DE", "hosting"),
    _n("hetzner2", "95.216.0.0/16", 24940, "HETZNER-AS", "DE", "hosting"),
    _n("linode", "139.162.0.0/19", 63949, "AKAMAI-LINODE-AP", "NL", "hosting"),
    _n("aws", "3.80.0.0/12", 14618, "AMAZON-AES", "US", "hosting"),
    _n("leaseweb", "5.79.64.0/18", 60781, "LEASEWEB-NL-AMS-01", "NL", "hosting"),
    _n("contabo", "5.189.128.0/20", 51167, "CONTABO", "DE", "hosting"),
    _n("hostsailor", "185.141.24.0/24", 60117, "HS", "AE", "hosting"),
    _n("frantech", "104.244.72.0/24", 53667, "PONYNET", "US", "hosting"),
    # --- commercial VPN exits (the same ones everyday privacy-minded users rent)
    _n("datacamp-cz", "89.187.160.0/23", 60068, "CDN77", "CZ", "vpn"),
    _n("datacamp-gb", "195.181.160.0/23", 60068, "CDN77", "GB", "vpn"),
    _n("datacamp-gb2", "212.102.32.0/24", 60068, "CDN77", "GB", "vpn"),
    _n("datacamp-us", "149.34.244.0/24", 212238, "CDNEXT", "US", "vpn"),
    _n("mullvad", "193.138.216.0/22", 39351, "ESAB-AS", "SE", "vpn"),
    _n("mullvad2", "185.213.154.0/24", 39351, "ESAB-AS", "SE", "vpn"),
    _n("m247", "37.120.192.0/24", 9009, "M247", "RO", "vpn"),
    _n("proton", "185.159.156.0/24", 8473, "BAHNHOF", "CH", "vpn"),
    # --- Tor exits
    _n("tor-sef", "185.220.101.0/24", 60729, "TORSERVERS-NET", "DE", "tor"),
    _n("tor-f3", "185.220.100.0/24", 205100, "F3NETZE", "DE", "tor"),
    _n("tor-appliedprivacy", "109.70.100.0/24", 208323, "APPLIEDPRIVACY-AS", "AT", "tor"),
)

BY_KEY: dict[str, Network] = {n.key: n for n in NETWORKS}

#: Everyday networks of each home country: (residential keys, mobile keys).
HOME_NETWORKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "US": (
        ("comcast", "comcast6", "charter-tx", "charter-nyc", "att", "att6", "verizon"),
        ("tmobile", "tmobile6", "vzw", "attmobility"),
    ),
    "GB": (("bt", "talktalk", "virgin"), ("three-uk",)),
    "DE": (("dtag", "dtag6"), ("vodafone-de",)),
    "FR": (("free", "orange6"), ("orange-mobile",)),
    "CA": (("rogers",), ("rogers-mobile",)),
    "IR": (("tci", "tci2", "shatel"), ("irancell", "mci")),
    "TR": (("ttnet",), ("turkcell",)),
    "AE": (("du",), ("etisalat",)),
    "RU": (("beeline",), ("beeline-mobile",)),
    "NL": (("ziggo", "kpn"), ("kpn",)),
    "SE": (("telia",), ("telia",)),
}

VPN_KEYS: tuple[str, ...] = tuple(n.key for n in NETWORKS if n.kind == "vpn")
TOR_KEYS: tuple[str, ...] = tuple(n.key for n in NETWORKS if n.kind == "tor")
HOSTING_KEYS: tuple[str, ...] = tuple(n.key for n in NETWORKS if n.kind == "hosting")
EDUCATION_KEYS: tuple[str, ...] = tuple(n.key for n in NETWORKS if n.kind == "education")
#: Office egress networks per country (countries without one use the US carriers).
BUSINESS_KEYS: dict[str, tuple[str, ...]] = {
    "US": ("level3", "cogent"),
    "GB": ("bt-business",),
    "DE": ("dtag-business",),
    "AE": ("respina",),
}


def sample_addresses(rng: np.random.Generator, network: Network, n: int) -> list[str]:
    """``n`` distinct-ish client addresses inside ``network`` (never its first or last address)."""
    net = ipaddress.ip_network(network.cidr)
    if n <= 0:
        return []
    if net.version == 4:
        span = max(net.num_addresses - 2, 1)
        offs = rng.integers(1, span + 1, size=n, dtype=np.int64)
        return ipv4_strings(int(net.network_address) + offs)
    # IPv6: a random /64 inside the prefix and a random interface id (privacy addresses)
    base = int(net.network_address)
    host_bits = 128 - net.prefixlen
    subnet_bits = max(host_bits - 64, 0)
    hi = rng.integers(0, 2 ** min(subnet_bits, 62), size=n, dtype=np.int64)
    lo = rng.integers(1, 2**62, size=n, dtype=np.int64)
    return [str(ipaddress.IPv6Address(base + (int(h) << 64) + int(lw))) for h, lw in zip(hi, lo, strict=True)]


def ipv4_strings(values: np.ndarray) -> list[str]:
    """Dotted quads for an array of integer IPv4 addresses (vectorized with Arrow)."""
    v = np.asarray(values, dtype=np.int64)
    octets = [pc.cast(pa.array((v >> s) & 255), pa.string()) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".").to_pylist()
