"""Fixtures: one small correlated store per test session (the hand-built world of tests/correlate)."""

from __future__ import annotations

import importlib.util
import shutil
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


@pytest.fixture(scope="session")
def built_store(tmp_path_factory):
    """The world with a state actor, criminal noise and look-alikes, correlated once."""
    from idwatch.correlate.pipeline import correlate

    world = scenario.build_world()
    intel = scenario.intel_bundle(state_ips=[scenario.STATE_IPS[1]], extra_ips=[scenario.TRAP_IP])
    store = world.write(tmp_path_factory.mktemp("built"), [intel])
    correlate(store)
    return store


@pytest.fixture
def store(built_store, tmp_path):
    """A private copy of the built store: tests that mark things do not see each other's marks."""
    from idwatch.store import Store

    shutil.copytree(built_store.root, tmp_path / "store")
    return Store(tmp_path / "store")


@pytest.fixture
def tokens(store):
    """An analyst's and a viewer's token for the store."""
    from idwatch.api.users import add_user

    return {"analyst": add_user(store, "ana", "analyst"), "viewer": add_user(store, "vic", "viewer")}


@pytest.fixture
def client(store):
    """The real app over the store, called in-process (no network)."""
    from fastapi.testclient import TestClient

    from idwatch.api.app import create_app

    with TestClient(create_app(store)) as c:
        yield c
