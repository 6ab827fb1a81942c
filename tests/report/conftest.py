"""Fixtures: the correlated hand-built world of tests/cli (one definition, loaded by path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "cli_fixtures" not in sys.modules:
    _path = Path(__file__).parents[1] / "cli" / "conftest.py"
    _spec = importlib.util.spec_from_file_location("cli_fixtures", _path)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["cli_fixtures"] = _module
    _spec.loader.exec_module(_module)

analysed_store = sys.modules["cli_fixtures"].analysed_store
