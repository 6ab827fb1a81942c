"""The vectorized IPv6 range lookup answers exactly what the one-address lookup answers."""

from __future__ import annotations

import random

import pytest

from idwatch.enrich.ip import IpEnricher


@pytest.fixture(scope="module")
def ranges():  # noqa: ANN201 - dict of PlevinRanges
    enricher = IpEnricher()
    if enricher._plevin is None or not enricher._plevin.ranges():
        pytest.skip("plevin range tables not available")
    return enricher._plevin.ranges()


def _probes(arrays: dict, rng: random.Random) -> list[int]:
    """Range starts, their neighbours, host overrides and random addresses (edges included)."""
    out = [0, (1 << 128) - 1]
    for i in rng.sample(range(len(arrays["v6.hi"])), min(300, len(arrays["v6.hi"]))):
        start = int(arrays["v6.hi"][i]) << 64 | int(arrays["v6.lo"][i])
        out += [start, max(start - 1, 0), start + 1]
    for i in range(min(200, len(arrays["v6h.hi"]))):
        host = int(arrays["v6h.hi"][i]) << 64 | int(arrays["v6h.lo"][i])
        out += [host, host + 1]
    return out + [rng.getrandbits(128) for _ in range(300)]


def test_links_v6_many_matches_single_lookups(ranges: dict) -> None:
    rng = random.Random(7)
    for table in ranges.values():
        numbers = _probes(table.a, rng)
        many = table.links_v6_many(numbers)
        for i, number in enumerate(numbers):
            single = table.links_v6(number)
            assert {k: int(many[k][i]) for k in single} == single
