from __future__ import annotations

import sys

import pytest

scenario = sys.modules["correlate_scenario"]  # loaded once by tests/conftest.py


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
