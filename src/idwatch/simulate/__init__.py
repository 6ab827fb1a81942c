"""idwatch.simulate: realistic identity-provider telemetry with nation-state campaigns and ground truth.

The simulator never imports the analysis (detections, correlation, reports), and the analysis
never imports it: it writes files that the product ingests like any other logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def simulate(
    scenario: str,
    *,
    seed: int = 1,
    scale: float = 1.0,
    out: Path,
    fmt: str = "jsonl",
    config: Path | None = None,
    progress: Any = None,
    vary: bool = False,
) -> dict:
    """Write events.*, labels.parquet, directory.csv, intel.json and truth.json into ``out``.

    ``vary``: draw the seed's parameters (population, pacing, exits, intel share, browsers, time
    zone, logging conventions) from realistic ranges; they are recorded in truth.json.
    """
    from idwatch.simulate.engine import simulate as _simulate

    return _simulate(
        scenario, seed=seed, scale=scale, out=out, fmt=fmt, config=config, progress=progress, vary=vary
    )


__all__ = ["simulate"]
