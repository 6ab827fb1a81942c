from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

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
