from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from idwatch.schema import STORED_EVENT_SCHEMA

scenario = sys.modules["correlate_scenario"]


@pytest.fixture(scope="module")
def analysed_store(tmp_path_factory):
    """The hand-built world (see tests/correlate/scenario.py), correlated, as a store."""
    return scenario.correlated_world(tmp_path_factory.mktemp("store"))


HOME_UA = "Mozilla/5.0 (Macintosh) Safari/17"


def _daily_signins(days: range) -> pa.Table:
    """carol and dave sign in once a day from their own home address with their Macs."""
    t0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    rows = []
    for d in days:
        for who, ip in (("carol@example.org", "198.51.100.10"), ("dave@example.org", "198.51.100.11")):
            rows.append(
                {
                    "time": t0 + timedelta(days=d, minutes=len(rows)),
                    "event_id": f"ev-{d}-{who}",
                    "source": "native",
                    "tenant": "example.org",
                    "account": who,
                    "activity": "sign_in",
                    "outcome": "success",
                    "src_ip": ip,
                    "asn": 64500,
                    "country": "US",
                    "raw": "{}",
                    "user_agent": HOME_UA,
                    "ua_family": "Safari",
                    "ua_os": "Mac OS X",
                }
            )
    full = [{n: r.get(n) for n in STORED_EVENT_SCHEMA.names} for r in rows]
    return pa.Table.from_pylist(full, schema=STORED_EVENT_SCHEMA)


@pytest.fixture(scope="session")
def daily_signins() -> Callable[[range], pa.Table]:
    """Builds the home sign-ins of carol and dave for the given day offsets (from 2024-05-01)."""
    return _daily_signins
