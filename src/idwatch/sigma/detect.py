"""The detection engine's hook: the store's imported Sigma rules as alert tables.

Called by ``detections.engine.run_detections`` after the built-in detections, on the same
connection (views ``events`` / ``other_events``), so Sigma alerts merge into ``alerts`` and feed
correlation like any other. Rules that do not convert are reported in ``summary.skipped`` with
their reason, never dropped silently.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.sigma.registry import load_rules, min_level, runs
from idwatch.sigma.run import run_rules
from idwatch.store import Store

PREFIX = "sigma_"


def sigma_alert_tables(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    summary: Any,
    *,
    since: datetime | None,
    scan_from: datetime | None = None,
    until: datetime | None = None,
    only: list[str] | None = None,
) -> list[pa.Table]:
    """Alerts of the imported rules whose last record is at or after ``since``.

    Rows are read from ``scan_from`` (the run's look-back start, so a day's finding keeps all its
    records) up to ``until`` when one is given: kept records (a warning) may be newer than the
    newest canonical event, which is where a default run's ``until`` lies.
    """
    rules = load_rules(store)
    if only:
        rules = [r for r in rules if r.detection_id in set(only)]
    if not rules:
        return []
    t0 = time.perf_counter()
    floor = min_level(store)
    for r in rules:
        if not r.converted:
            summary.skipped[r.detection_id] = f"Sigma rule not converted: {r.reason}"
        elif not runs(r, floor):
            summary.skipped[r.detection_id] = f"Sigma level {r.level} is below the store's minimum {floor}"
    todo = [r for r in rules if runs(r, floor)]
    tables = run_rules(con, todo, since=scan_from, until=until, seconds=summary.seconds_by_step)
    out = []
    for det_id, table in tables.items():
        if since is not None:
            table = table.filter(pc.greater_equal(table["last_seen"], pa.scalar(since)))
        summary.detections_run.append(det_id)
        summary.alerts_by_detection[det_id] = table.num_rows
        out.append(table)
    summary.seconds_by_step["sigma"] = round(time.perf_counter() - t0, 3)
    return out
