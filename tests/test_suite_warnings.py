"""The suite tells the reader when tests could not run for want of the shared data."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]


def test_a_skip_for_missing_shared_data_is_reported_in_the_summary(pytester):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        test_x="""
import pytest

def test_needs_samples():
    pytest.skip("shared samples not available")

@pytest.mark.skipif(True, reason="reference intel not present")
def test_needs_intel():
    pass

def test_other_skip():
    pytest.skip("no chromium")

def test_runs():
    pass
"""
    )
    for workers in ("0", "2"):  # also when xdist's workers ran the tests
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-n", workers)
        result.assert_outcomes(passed=1, skipped=3)
        result.stdout.fnmatch_lines(["WARNING: 2 test(s) skipped because the shared data * is missing*"])


def test_nothing_is_said_when_no_test_needed_it(pytester):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_y="def test_runs():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", "-n", "0")
    assert "shared data" not in result.stdout.str()
