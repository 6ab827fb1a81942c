"""Incremental ``known`` baseline: what each account used successfully, carried between runs.

``known`` (see ``sql.stage_known_sql``) holds one row per (account, tenant, kind, value) with the
first time and the number of times it was used; both merge exactly (MIN and SUM). A run keeps the
table with the instant it covers (``cut``, the run's last event) and the number of routine
successes at or before it. The next run aggregates only the events after the cut (already in the
staged ``ev``) and merges, instead of re-reading every success in the store. The kept table is
used only when the store still holds exactly the counted successes up to the cut; otherwise (late
or removed events, another DuckDB version, a changed ``known`` layout) the baseline is rebuilt
from the whole store, as a first run does.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import duckdb

from idwatch.detections import sql as stage
from idwatch.store import atomic_write_bytes

STATE_VERSION = 1
META = "known.json"
#: The layout the merge knows how to combine; anything else is rebuilt every run.
KNOWN_COLUMNS = ["account", "tenant", "kind", "value", "first_seen", "n"]


def _lit(ts: datetime) -> str:
    return f"CAST('{ts.isoformat()}' AS TIMESTAMPTZ)"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _routine_count(con: duckdb.DuckDBPyConnection, upto: datetime) -> int:
    return con.execute(
        f"SELECT count(*) FROM events WHERE {stage.ROUTINE_SUCCESS} AND time <= {_lit(upto)}"
    ).fetchall()[0][0]


def _count_new(con: duckdb.DuckDBPyConnection, relation: str, until: datetime) -> int:
    return con.execute(
        f"SELECT count(*) FROM {relation} WHERE {stage.ROUTINE_SUCCESS} AND time <= {_lit(until)}"
    ).fetchall()[0][0]


def _layout_problem(con: duckdb.DuckDBPyConnection) -> str:
    layout = [c for c, *_ in con.execute("DESCRIBE known").fetchall()]
    return "" if layout == KNOWN_COLUMNS else f"known has columns {layout}; not kept"


def _usable(
    con: duckdb.DuckDBPyConnection,
    state_dir: Path,
    meta: dict | None,
    until: datetime,
    ev_from: datetime | None,
) -> str:
    """Why the kept baseline cannot be used ("" when it can)."""
    if not meta:
        return "no saved baseline"
    if meta.get("version") != STATE_VERSION or meta.get("duckdb") != duckdb.__version__:
        return "baseline written by another version"
    if not (state_dir / meta["file"]).exists():
        return "baseline file missing"
    cut = datetime.fromisoformat(meta["cut"])
    if cut > until:
        return "the store ends before the kept baseline"
    if ev_from is not None and ev_from > cut:
        return "the staged events start after the kept baseline"
    if _routine_count(con, cut) != meta["n_ok"]:
        return "the store changed before the last run's end (late or removed events)"
    return ""


def stage_known(
    con: duckdb.DuckDBPyConnection, state_dir: Path, *, until: datetime, ev_from: datetime | None
) -> str:
    """Create temp table ``known`` as of ``until`` (all history), reusing and updating the state.

    ``ev_from``: where the staged ``ev`` starts (None: it holds every event, so a rebuild
    needs no second scan). Returns "incremental" or why the baseline was rebuilt.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        meta = json.loads((state_dir / META).read_text("utf-8"))
    except (OSError, ValueError):
        meta = None
    reason = _usable(con, state_dir, meta, until, ev_from)
    end = until.isoformat()
    n_ok = 0
    if not reason:
        assert meta is not None
        cut = datetime.fromisoformat(meta["cut"])
        con.execute(f"CREATE OR REPLACE TEMP VIEW __ev_new AS SELECT * FROM ev WHERE time > {_lit(cut)}")
        con.execute(stage.stage_known_sql("__ev_new", end))
        reason = _layout_problem(con)
        if not reason:
            n_ok = meta["n_ok"] + _count_new(con, "__ev_new", until)
            cols = ", ".join(KNOWN_COLUMNS[:4])
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE known AS
                SELECT {cols}, MIN(first_seen) AS first_seen, CAST(SUM(n) AS BIGINT) AS n
                FROM (SELECT * FROM read_parquet({_sql_path(state_dir / meta["file"])})
                      UNION ALL SELECT {", ".join(KNOWN_COLUMNS)} FROM known)
                GROUP BY {cols}
                """
            )
        con.execute("DROP VIEW __ev_new")
    if reason:
        con.execute(stage.stage_known_sql(None if ev_from is None else "events", end))
        n_ok = _count_new(con, "ev", until) if ev_from is None else _routine_count(con, until)
        problem = _layout_problem(con)
        if problem:  # the staging SQL changed shape: keep nothing rather than guess
            (state_dir / META).unlink(missing_ok=True)
            return problem
    name = f"known-{uuid.uuid4().hex[:12]}.parquet"
    con.execute(f"COPY (SELECT * FROM known) TO {_sql_path(state_dir / name)} (FORMAT parquet)")
    new_meta = {
        "version": STATE_VERSION,
        "duckdb": duckdb.__version__,
        "cut": until.isoformat(),
        "n_ok": n_ok,
        "file": name,
    }
    atomic_write_bytes(state_dir / META, json.dumps(new_meta, indent=1).encode("utf-8"))
    for path in state_dir.glob("known-*.parquet"):
        if path.name != name:
            path.unlink(missing_ok=True)
    return reason or "incremental"
