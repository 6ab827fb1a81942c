"""Bench scripts run as ``python bench/NAME.py``, which puts ``bench/`` first on ``sys.path``:
a script named like an installed package would shadow it for everything idwatch imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_no_bench_script_shadows_an_importable_module():
    others = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    shadowed = []
    for script in sorted(BENCH.glob("*.py")):
        spec = importlib.util.find_spec(script.stem) if script.stem not in sys.modules else None
        found = importlib.machinery.PathFinder.find_spec(script.stem, others)
        if found is not None or (spec is not None and Path(str(spec.origin)).parent != BENCH):
            shadowed.append(script.name)
    assert shadowed == [], f"rename these bench scripts, they shadow modules: {shadowed}"
