"""Incremental login-risk scoring: carry the model's counts from one detection run to the next.

Every count the model uses is "rows with this key earlier than the sign-in" (or earlier than
the sign-in minus ``settle_hours``). Counts of the rows before a cut C are sums, so a run keeps
them per key (``counts-*.parquet``: level, key, n) and the next run reads only the events from
C on: its window counts plus the kept counts equal a pass over all history for every sign-in at
least ``settle_hours`` after C. C is the previous run's last sign-in minus ``settle_hours``, so
every new sign-in qualifies. The account counts take only the sign-ins the model learned from
(risk below ``learn_risk``); a sign-in's mark depends only on rows before it, so the marks of
the rows before C are final and their counts are sums too, and so are the typical-range sums
(``typical-*.parquet``: acct, n, s1, s2) and the vouching days (``vouch-*.parquet``: uk_asn,
n, last), which the model merges itself. With learning on, the sign-ins
between C and the previous run's end are rescored (not only counted) to settle their marks.
The scores of earlier sign-ins are kept (``scores-*.parquet``) for as
long as detections look back. The cost of a run is thus proportional to the new events (plus
``settle_hours`` of overlap), not to the store.

Kept state is used only when it provably matches the store: same model parameters, same DuckDB
version (the keys are DuckDB hashes), and the store still holds exactly the sign-ins that were
counted, with nothing new at or before the previous run's last sign-in (a late-arriving event
makes the run start from scratch). Files are written under new names and published by an
atomic rewrite of ``meta.json``, so a killed run leaves the previous state intact.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from idwatch.detections import riskmodel
from idwatch.detections.riskmodel import RiskParams, Window
from idwatch.detections.riskmodel_sql import COUNT_NAMES, FAILED_SIGNIN, SUCCESSFUL_SIGNIN
from idwatch.store import atomic_write_bytes

STATE_VERSION = 3  # 2: u_* count learned sign-ins only, s_all counts them all; 3: typical, vouch
META = "meta.json"
_ATTEMPT = f"(({SUCCESSFUL_SIGNIN}) OR ({FAILED_SIGNIN}))"
_G_ALL, _A_ALL, _S_ALL = (COUNT_NAMES.index(n) for n in ("g_all", "a_all", "s_all"))


@dataclass
class RiskUpdate:
    """What :func:`update_signin_risk` did (the engine reports it)."""

    mode: str  # "full" or "incremental"
    reason: str  # why a full build, or "" when incremental
    scored: int = 0  # sign-ins scored by this run
    reused: int = 0  # earlier scores loaded from the state


def _lit(ts: datetime) -> str:
    return f"CAST('{ts.isoformat()}' AS TIMESTAMPTZ)"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _read_meta(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / META).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _params_key(p: RiskParams) -> dict[str, Any]:
    return {
        k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in asdict(p).items()
    }


def _why_full(
    con: duckdb.DuckDBPyConnection,
    state_dir: Path,
    meta: dict[str, Any] | None,
    p: RiskParams,
    need_from: datetime | None,
) -> str:
    """Why the kept state cannot be used ("" when it can)."""
    if not meta:
        return "no saved state"
    if meta.get("version") != STATE_VERSION or meta.get("duckdb") != duckdb.__version__:
        return "state written by another version"
    if meta.get("params") != _params_key(p):
        return "model parameters changed"
    files = [meta["counts"], meta["typical"], meta["vouch"], *(s["file"] for s in meta["scores"])]
    if not all((state_dir / f).exists() for f in files):
        return "state files missing"
    if need_from is None or need_from < datetime.fromisoformat(meta["scores_from"]):
        return "scores needed from before the kept ones"
    cut, until = datetime.fromisoformat(meta["cut"]), datetime.fromisoformat(meta["until"])
    seen = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE {SUCCESSFUL_SIGNIN} AND time < {_lit(cut)}),
               count(*) FILTER (WHERE time < {_lit(cut)}),
               count(*) FILTER (WHERE time >= {_lit(cut)})
        FROM events WHERE {_ATTEMPT} AND time <= {_lit(until)}
        """
    ).fetchall()[0]
    if list(seen) != [meta["g_all"], meta["a_all"], meta["n_tail"]]:
        return "the store changed before the last run's end (late or removed events)"
    return ""


def update_signin_risk(
    con: duckdb.DuckDBPyConnection,
    state_dir: Path,
    *,
    params: dict | None = None,
    need_from: datetime | None = None,
    keep_from: datetime | None = None,
) -> RiskUpdate:
    """Create table ``signin_risk`` (event_id, account, tenant, time, risk), reusing ``state_dir``.

    ``need_from``: the table must hold every successful sign-in from this instant on (None: all).
    ``keep_from``: scores to keep for the next run (from its ``need_from`` on).
    Scores equal :func:`build_signin_risk`'s over the whole store.
    """
    p = RiskParams.from_dict(params)
    state_dir.mkdir(parents=True, exist_ok=True)
    meta = _read_meta(state_dir)
    until = con.execute(f"SELECT max(time) FROM events WHERE {_ATTEMPT}").fetchall()[0][0]
    if until is None:
        riskmodel.build_signin_risk(con, params=params, window=Window(narrow=True))
        return RiskUpdate("full", "no sign-ins")
    reason = _why_full(con, state_dir, meta, p, need_from)
    cut = until - timedelta(hours=p.settle_hours)
    keep_from = min(keep_from or cut, cut)
    if reason:
        window = Window(save_before=_lit(cut), narrow=True)
    else:
        assert meta is not None
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __rm_base_counts AS "
            f"SELECT * FROM read_parquet({_sql_path(state_dir / meta['counts'])})"
        )
        for name in ("typical", "vouch"):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE __rm_base_{name} AS "
                f"SELECT * FROM read_parquet({_sql_path(state_dir / meta[name])})"
            )
        users = con.execute(f"SELECT count(*) FROM __rm_base_counts WHERE level = {_S_ALL}").fetchall()[0][0]
        window = Window(
            start=_lit(datetime.fromisoformat(meta["cut"])),
            base="__rm_base_counts",
            typical="__rm_base_typical",
            vouch="__rm_base_vouch",
            base_totals=(meta["g_all"], meta["a_all"], users),
            save_before=_lit(cut),
            narrow=True,
            # with learning on, the overlap's scores decide which of its sign-ins are history
            score_after=None if p.learning else _lit(datetime.fromisoformat(meta["until"])),
        )
    riskmodel.build_signin_risk(con, params=params, window=window)
    stamp = uuid.uuid4().hex[:12]
    counts_file = f"counts-{stamp}.parquet"
    merged = "__rm_new_counts"
    if not reason:
        merged = (
            "(SELECT level, key, CAST(SUM(n) AS BIGINT) AS n FROM "
            "(SELECT * FROM __rm_base_counts UNION ALL SELECT * FROM __rm_new_counts) GROUP BY level, key)"
        )
    con.execute(f"COPY (SELECT * FROM {merged}) TO {_sql_path(state_dir / counts_file)} (FORMAT parquet)")
    learning_files = {name: f"{name}-{stamp}.parquet" for name in ("typical", "vouch")}
    for name, file in learning_files.items():
        con.execute(f"COPY __rm_new_{name} TO {_sql_path(state_dir / file)} (FORMAT parquet)")
    totals = dict(
        con.execute(
            f"SELECT level, n FROM read_parquet({_sql_path(state_dir / counts_file)}) "
            f"WHERE level IN ({_G_ALL}, {_A_ALL})"
        ).fetchall()
    )
    update = _publish_scores(con, state_dir, meta, reason, need_from, keep_from, stamp)
    n_tail = con.execute(
        f"SELECT count(*) FROM events WHERE {_ATTEMPT} AND time >= {_lit(cut)} AND time <= {_lit(until)}"
    ).fetchall()[0][0]
    new_meta = {
        "version": STATE_VERSION,
        "duckdb": duckdb.__version__,
        "params": _params_key(p),
        "cut": cut.isoformat(),
        "until": until.isoformat(),
        "counts": counts_file,
        **learning_files,
        "g_all": int(totals.get(_G_ALL, 0)),
        "a_all": int(totals.get(_A_ALL, 0)),
        "n_tail": int(n_tail),
        "scores": update.pop("scores"),
        "scores_from": update.pop("scores_from"),
    }
    atomic_write_bytes(state_dir / META, json.dumps(new_meta, indent=1).encode("utf-8"))
    keep = {counts_file, *learning_files.values(), *(s["file"] for s in new_meta["scores"]), META}
    for path in state_dir.iterdir():
        if path.name not in keep and path.suffix == ".parquet":
            path.unlink(missing_ok=True)
    for name in (f"__rm_{a}_{b}" for a in ("new", "base") for b in ("counts", "typical", "vouch")):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return RiskUpdate("incremental" if not reason else "full", reason, update["scored"], update["reused"])


def _publish_scores(
    con: duckdb.DuckDBPyConnection,
    state_dir: Path,
    meta: dict[str, Any] | None,
    reason: str,
    need_from: datetime | None,
    keep_from: datetime,
    stamp: str,
) -> dict[str, Any]:
    """Write this run's new scores, reload the kept ones into ``signin_risk``; the new file list."""
    old = [] if reason or not meta else list(meta["scores"])
    new_from = "TRUE" if reason else f"time > {_lit(datetime.fromisoformat(meta['until']))}"  # type: ignore[index]
    scores_file = f"scores-{stamp}.parquet"
    keep = f"{new_from} AND time >= {_lit(keep_from)}"
    bounds = con.execute(f"SELECT count(*), min(time), max(time) FROM signin_risk WHERE {keep}").fetchall()[0]
    con.execute(
        f"COPY (SELECT * FROM signin_risk WHERE {keep} ORDER BY time) "
        f"TO {_sql_path(state_dir / scores_file)} (FORMAT parquet)"
    )
    scored = con.execute(f"SELECT count(*) FROM signin_risk WHERE {new_from}").fetchall()[0][0]
    reused = 0
    if old:
        listing = ", ".join(_sql_path(state_dir / s["file"]) for s in old)
        need = f" AND time >= {_lit(need_from)}" if need_from else ""
        con.execute(
            f"""
            CREATE OR REPLACE TABLE signin_risk AS
            SELECT * FROM read_parquet([{listing}]) WHERE TRUE{need}
            UNION ALL SELECT * FROM signin_risk WHERE {new_from}
            """
        )
        reused = con.execute("SELECT count(*) FROM signin_risk").fetchall()[0][0] - scored
    kept = [s for s in old if s["max_time"] and datetime.fromisoformat(s["max_time"]) >= keep_from]
    scores_from = keep_from if reason else datetime.fromisoformat(meta["scores_from"])  # type: ignore[index]
    if len(kept) < len(old):
        scores_from = max(scores_from, keep_from)
    if bounds[0]:
        kept.append(
            {
                "file": scores_file,
                "min_time": bounds[1].isoformat(),
                "max_time": bounds[2].isoformat(),
            }
        )
    return {"scores": kept, "scores_from": scores_from.isoformat(), "scored": scored, "reused": reused}
