from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("correlate_scenario", Path(__file__).with_name("scenario.py"))
scenario = importlib.util.module_from_spec(_spec)
sys.modules["correlate_scenario"] = scenario
_spec.loader.exec_module(scenario)


@pytest.fixture(scope="session")
def world():
    return scenario.build_world()


@pytest.fixture(scope="session")
def analysed(world, tmp_path_factory):
    """The hand-built world correlated once, with intel holding 1 of the 3 state addresses + the trap."""
    from idwatch.correlate.pipeline import correlate

    intel = scenario.intel_bundle(state_ips=[scenario.STATE_IPS[1]], extra_ips=[scenario.TRAP_IP])
    store = world.write(tmp_path_factory.mktemp("store"), [intel])
    summary = correlate(store)
    return store, summary
