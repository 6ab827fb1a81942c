"""Compare the alerts of two versions of the detection engine on the same store, row for row.

    python bench/detect_parity.py --store DIR --reference /path/to/old/src
    python bench/detect_parity.py --store DIR --reference OLD_SRC --append 1   # + incremental run

Each version runs in its own interpreter (``PYTHONPATH`` = its ``src``) on a fresh detection
state: a first run over the whole store; with ``--append P`` the newest event files holding
about P % of the events are hidden for the first run and put back for a second, incremental
one (the default path reusing ``state/detect/``). Alerts are compared on every column
except ``created_at`` (the wall clock). Exit status 1 when they differ, with the first rows
that do. A frozen copy of the old code: ``git archive <commit> src | tar -x -C DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

_RUN = """
import json, sys, time
from idwatch.detections.engine import run_detections
from idwatch.store import Store
t0 = time.perf_counter()
s = run_detections(Store(sys.argv[1]))
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "alerts": s.alerts_total,
                  "state": s.state, "warnings": s.warnings}))
"""


def _reset(store: Path) -> None:
    state = store / "state"
    for name in ("detect_watermark.json", "alerts.parquet"):
        (state / name).unlink(missing_ok=True)
    shutil.rmtree(state / "detect", ignore_errors=True)


def _run(src: Path, store: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(store)], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _diff(a: Path, b: Path) -> tuple[int, int, list]:
    """(rows in a, rows in b, first differing rows) over every column but created_at."""
    con = duckdb.connect()
    cols = "* EXCLUDE (created_at)"
    con.execute(f"CREATE TABLE a AS SELECT {cols} FROM read_parquet('{a}')")
    con.execute(f"CREATE TABLE b AS SELECT {cols} FROM read_parquet('{b}')")
    na, nb = (con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in "ab")
    rows = con.execute(
        "(SELECT 'only_reference' AS side, * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)) UNION ALL "
        "(SELECT 'only_current', * FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)) "
        "ORDER BY alert_id LIMIT 10"
    ).fetchall()
    return na, nb, rows


def _hide_tail(store: Path, percent: float, into: Path) -> list[Path]:
    """Move the newest event files holding about ``percent`` % of the rows out of the store."""
    files = sorted((store / "events").glob("day=*/*.parquet"))
    con = duckdb.connect()
    sizes = [con.execute(f"SELECT count(*) FROM read_parquet('{f}')").fetchall()[0][0] for f in files]
    total, moved, out = sum(sizes), 0, []
    for f, n in zip(reversed(files), reversed(sizes), strict=True):
        if moved and moved + n > total * percent / 100:
            break
        dest = into / f.relative_to(store)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f, dest)
        out.append(dest)
        moved += n
    return out


def _restore(store: Path, hidden: list[Path], into: Path) -> None:
    for f in hidden:
        shutil.move(f, store / f.relative_to(into))


def _versions(store: Path, ref: Path, cur: Path, append: float, tmp: Path) -> dict[str, Path]:
    results = {}
    for name, src in (("reference", ref), ("current", cur)):
        _reset(store)
        hidden = _hide_tail(store, append, tmp / "hidden") if append else []
        info = _run(src, store)
        if hidden:
            _restore(store, hidden, tmp / "hidden")
            inc = _run(src, store)
            info = {"first": info, "incremental": inc}
        print(name, json.dumps(info), flush=True)
        keep = tmp / f"{name}.parquet"
        shutil.copy(store / "state" / "alerts.parquet", keep)
        results[name] = keep
    _reset(store)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True, help="an ingested store (its alerts are replaced)")
    ap.add_argument("--reference", type=Path, required=True, help="the old code's src/ folder")
    ap.add_argument("--current", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    ap.add_argument("--append", type=float, default=0.0, help="also compare after an incremental run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="idwatch-parity-") as tmp:
        res = _versions(args.store, args.reference, args.current, args.append, Path(tmp))
        na, nb, rows = _diff(res["reference"], res["current"])
    print(f"alerts: reference {na:,}, current {nb:,}, differing rows shown: {len(rows)}")
    for row in rows:
        print("  ", row[:4], "...")
    sys.exit(1 if rows or na != nb else 0)


if __name__ == "__main__":
    main()
