"""The simulated networks are real: each prefix's AS number and country agree with the offline IP database."""

from __future__ import annotations

import ipaddress

import numpy as np
import plevin
import pytest

from idwatch.simulate.networks import NETWORKS, sample_addresses


@pytest.mark.parametrize("net", NETWORKS, ids=[n.key for n in NETWORKS])
def test_prefix_matches_public_routing_data(net) -> None:  # noqa: ANN001
    addrs = sample_addresses(np.random.default_rng(1), net, 3)
    prefix = ipaddress.ip_network(net.cidr)
    for a in addrs:
        assert ipaddress.ip_address(a) in prefix
        found = plevin.lookup(a).network
        assert found is not None, a
        assert found.asn in (net.asn, None), (a, found.asn)
        assert found.country == net.country, (a, found.country)
