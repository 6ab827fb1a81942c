"""Suite-wide: say loudly when tests were skipped because ``../shared`` is not beside the checkout.

Some tests read the vendor samples and reference intel in ``shared/data`` (next to the
repository, as in CI). Without it they skip; this hook puts one warning line with their
number and the path to provide at the end of the run, instead of a silent "s" among dots.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# The hand-built world of tests/correlate/scenario.py, importable as ``correlate_scenario``
# from every test folder (the CLI and API tests correlate it once too).
_SCENARIO = Path(__file__).parent / "correlate" / "scenario.py"
if "correlate_scenario" not in sys.modules and _SCENARIO.exists():  # (absent in a copied conftest)
    _spec = importlib.util.spec_from_file_location("correlate_scenario", _SCENARIO)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["correlate_scenario"] = _module
    _spec.loader.exec_module(_module)


# Skip reasons that mean "the shared data is missing" (tests/sources, tests/store).
SHARED_SKIP_REASONS = ("shared samples not available", "reference intel not present")
SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


def shared_skips(reports: list[pytest.TestReport]) -> list[str]:
    """Node ids of the skipped tests whose reason is the missing shared data."""
    out = []
    for rep in reports:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        if any(text in reason for text in SHARED_SKIP_REASONS):
            out.append(rep.nodeid)
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    skipped = shared_skips(terminalreporter.stats.get("skipped", []))
    if skipped:
        terminalreporter.write_line(
            f"WARNING: {len(skipped)} test(s) skipped because the shared data (vendor samples, reference "
            f"intel) is missing: put it at {SHARED_DIR / 'data'} to run them (e.g. {skipped[0]})",
            yellow=True,
            bold=True,
        )
