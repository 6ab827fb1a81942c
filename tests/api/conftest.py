"""Fixtures: one small correlated store per test session (the hand-built world of tests/correlate)."""

from __future__ import annotations

import shutil
import sys

import pytest

scenario = sys.modules["correlate_scenario"]


@pytest.fixture(scope="session")
def built_store(tmp_path_factory):
    """The world with a state actor, criminal noise and look-alikes, correlated once."""
    return scenario.correlated_world(tmp_path_factory.mktemp("built"))


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
