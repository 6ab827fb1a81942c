"""The run's address table: every client address, the network it belongs to, and named pools."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from idwatch.simulate.networks import NETWORKS, Network, sample_addresses


@dataclass
class IpTable:
    """Every client address of the run, with the network it belongs to, and named pools of them."""

    ips: list[str] = field(default_factory=list)
    net: list[int] = field(default_factory=list)
    pools: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, rng: np.random.Generator, network: Network, n: int, pool: str | None = None) -> int:
        """Draw ``n`` addresses in ``network`` (appended to ``pool`` if named); returns the first index."""
        start = len(self.ips)
        addrs = sample_addresses(rng, network, n)
        self.ips.extend(addrs)
        self.net.extend([NETWORKS.index(network)] * len(addrs))
        if pool:
            s, size = self.pools.get(pool, (start, 0))
            if size and s + size != start:
                raise ValueError(f"pool {pool} is not contiguous")
            self.pools[pool] = (s, size + len(addrs))
        return start

    def pool(self, name: str) -> tuple[int, int]:
        return self.pools[name]

    def freeze(self) -> None:
        """Arrow columns (address, country, asn, asn_org, kind) indexed like ``ips``, for the writer."""
        self.ip_arr = pa.array(self.ips, pa.string())
        net = np.asarray(self.net, dtype=np.int32)
        self.net_arr = net
        self.country = pa.array([n.country for n in NETWORKS]).take(pa.array(net))
        self.asn = pa.array([n.asn for n in NETWORKS], pa.int64()).take(pa.array(net))
        self.asn_org = pa.array([n.org for n in NETWORKS]).take(pa.array(net))
        self.kind = pa.array([n.kind for n in NETWORKS]).take(pa.array(net))
