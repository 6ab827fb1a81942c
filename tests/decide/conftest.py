"""Fixtures of the decide tests: a real store of the small world."""

from __future__ import annotations

from pathlib import Path

import pytest

from idwatch.store import Store

from .world import make_store, population  # noqa: TID252


@pytest.fixture
def home_store(tmp_path: Path) -> Store:
    return make_store(tmp_path, population())
