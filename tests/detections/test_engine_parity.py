"""The fast staging gives exactly the alerts of the plain one (``sql_reference``), row for row.

On the simulator's tiny scenario (ten days, two state actors, criminal noise, benign look-alikes):
the same alert ids, accounts, scores, evidence and every other column but the wall-clock
``created_at``, for a first run over the whole store and for an incremental run after new events.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from idwatch.detections.engine import run_detections
from idwatch.directory import import_directory
from idwatch.ingest import ingest_paths
from idwatch.intel import import_intel
from idwatch.simulate import simulate
from idwatch.store import Store

TINY = Path(__file__).parents[1] / "simulate" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scenario, its events split in two files: all but the last day, and the last day."""
    out = tmp_path_factory.mktemp("parity")
    simulate("tiny", seed=7, out=out, config=TINY)
    lines = (out / "events.jsonl").read_text("utf-8").splitlines()
    last_day = max(json.loads(line)["time"][:10] for line in lines)
    early = [line for line in lines if json.loads(line)["time"][:10] < last_day]
    late = [line for line in lines if json.loads(line)["time"][:10] == last_day]
    assert early and late
    (out / "early.jsonl").write_text("\n".join(early) + "\n", "utf-8")
    (out / "late.jsonl").write_text("\n".join(late) + "\n", "utf-8")
    return out


def _store(files: Path, root: Path, parts: list[str]) -> Store:
    store = Store(root)
    ingest_paths(store, [str(files / p) for p in parts])
    import_directory(store, str(files / "directory.csv"))
    import_intel(store, str(files / "intel.json"))
    return store


def _rows(store: Store) -> list[dict]:
    alerts = store.read_state_table("alerts")
    assert isinstance(alerts, pa.Table)
    rows = alerts.drop_columns(["created_at"]).to_pylist()
    return sorted(rows, key=lambda r: r["alert_id"])


def _both(files: Path, tmp: Path, incremental: bool) -> tuple[list[dict], list[dict]]:
    """(plain alerts, fast alerts): each from its own copy of one store."""
    first = ["early.jsonl"] if incremental else ["events.jsonl"]
    base = _store(files, tmp / "base", first)
    out = []
    for reference in (True, False):
        root = tmp / ("plain" if reference else "fast")
        shutil.copytree(base.root, root)
        store = Store(root)
        run_detections(store, reference=reference)
        if incremental:
            ingest_paths(store, [str(files / "late.jsonl")])
            summary = run_detections(store, reference=reference)
            assert summary.state == {"known": "incremental", "risk_model": "incremental"}
        out.append(_rows(store))
    return out[0], out[1]


def test_first_run_alerts_equal_the_plain_staging_row_for_row(tiny_files: Path, tmp_path: Path) -> None:
    plain, fast = _both(tiny_files, tmp_path, incremental=False)
    assert len(plain) >= 20 and len({r["detection_id"] for r in plain}) >= 5  # a real workload
    assert [r["alert_id"] for r in fast] == [r["alert_id"] for r in plain]
    assert fast == plain


def test_incremental_run_alerts_equal_the_plain_staging_row_for_row(tiny_files: Path, tmp_path: Path) -> None:
    plain, fast = _both(tiny_files, tmp_path, incremental=True)
    assert len(plain) >= 20
    assert fast == plain


def test_the_reference_path_really_is_the_plain_staging() -> None:
    """Otherwise the two tests above would compare the fast path with itself."""
    from idwatch.detections import sql, sql_reference

    assert sql_reference.stage_evf_sql() != sql.stage_evf_sql()
    assert "own_ok" in sql_reference.UNFAMILIARITY_SQL and "own_ok" not in sql.UNFAMILIARITY_SQL
