from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from idwatch.schema import STORED_EVENT_SCHEMA

if "correlate_scenario" not in sys.modules:
    _path = Path(__file__).parents[1] / "correlate" / "scenario.py"
    _spec = importlib.util.spec_from_file_location("correlate_scenario", _path)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["correlate_scenario"] = _module
    _spec.loader.exec_module(_module)
scenario = sys.modules["correlate_scenario"]


@pytest.fixture(scope="module")
def analysed_store(tmp_path_factory):
    """The hand-built world (see tests/correlate/scenario.py), correlated, as a store."""
    from idwatch.correlate.pipeline import correlate

    world = scenario.build_world()
    intel = scenario.intel_bundle(state_ips=[scenario.STATE_IPS[1]], extra_ips=[scenario.TRAP_IP])
    store = world.write(tmp_path_factory.mktemp("store"), [intel])
    correlate(store)
    return store


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
