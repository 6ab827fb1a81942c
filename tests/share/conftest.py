"""Fixtures: the same hand-built campaigns and directory as tests/respond (one definition, loaded by path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "respond_fixtures" not in sys.modules:
    _path = Path(__file__).parents[1] / "respond" / "conftest.py"
    _spec = importlib.util.spec_from_file_location("respond_fixtures", _path)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["respond_fixtures"] = _module
    _spec.loader.exec_module(_module)
_fixtures = sys.modules["respond_fixtures"]

FIXTURE = _fixtures.FIXTURE
build_store = _fixtures.build_store
fixture_data = _fixtures.fixture_data
store = _fixtures.store
make_store = _fixtures.make_store
