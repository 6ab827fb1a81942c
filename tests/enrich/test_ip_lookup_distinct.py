"""An ingest looks each distinct address up once per run, whatever the chunk it turns up in."""

from __future__ import annotations

import pyarrow as pa
import pytest

from idwatch.enrich import ip as ip_module
from idwatch.enrich.ip import IpEnricher

FIRST = ["8.8.8.8", "2A00:1450:4001::1", "not-an-ip", "81.2.69.160"]
SECOND = ["81.2.69.160", "1.1.1.1", "8.8.8.8", "2a00:1450:4001:0::1"]


def rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def test_answers_match_a_fresh_lookup_in_the_order_asked() -> None:
    run = IpEnricher()
    for batch in (FIRST, SECOND, FIRST[::-1]):
        assert rows(run.lookup_distinct(pa.array(batch))) == rows(IpEnricher().lookup(batch))


def test_an_address_met_before_is_not_looked_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    run = IpEnricher()
    asked: list[list[str]] = []
    original = run.lookup

    def spy(ips: list[str]) -> pa.Table:
        asked.append(list(ips))
        return original(ips)

    monkeypatch.setattr(run, "lookup", spy)
    run.lookup_distinct(pa.array(FIRST))
    run.lookup_distinct(pa.array(SECOND))
    run.lookup_distinct(pa.array(FIRST + ["1.1.1.1"]))
    assert asked == [FIRST, ["1.1.1.1", "2a00:1450:4001:0::1"]]


def test_invalid_addresses_come_back_without_a_normalized_form() -> None:
    table = IpEnricher().lookup_distinct(pa.array(["not-an-ip", "10.0.0.1"]))
    assert table.column("ip").to_pylist() == [None, "10.0.0.1"]


def test_the_table_of_earlier_answers_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ip_module, "KNOWN_ADDRESSES_MAX", 5)
    run = IpEnricher()
    run.lookup_distinct(pa.array(FIRST))
    second = run.lookup_distinct(pa.array(SECOND))
    assert rows(second) == rows(IpEnricher().lookup(SECOND))
    assert run._known is not None and run._known.num_rows <= len(SECOND)
