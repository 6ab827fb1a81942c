"""Shared helpers of the vendor connector tests.

``run_format`` runs a format's SQL over in-memory records exactly as the ingest driver exposes
them (a view ``_file, _line, _raw, rec``), so mappings can be checked record by record;
``ingest`` runs the real end-to-end ingest into a temporary store.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from idwatch.ingest import IngestSummary, ingest_paths
from idwatch.store import Store

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SAMPLES = HERE.parents[2] / "shared" / "data" / "samples"
PANTHER = SAMPLES / "panther-analysis" / "panther_labeled_test_events.jsonl"

Records = list[dict[str, Any]]


def run_format(module: ModuleType, records: list[dict[str, Any]] | list[str]) -> Records:
    """Rows of ``module.select_sql`` over ``records`` (dicts or raw JSON texts), in input order."""
    texts = [r if isinstance(r, str) else json.dumps(r) for r in records]
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    table = pa.table(
        {
            "_file": pa.array(["mem"] * len(texts), pa.string()),
            "_line": pa.array(range(1, len(texts) + 1), pa.int64()),
            "_raw": pa.array(texts, pa.string()),
        }
    )
    con.register("raw_in", table)
    con.execute("CREATE TEMP VIEW records AS SELECT _file, _line, _raw, _raw::JSON AS rec FROM raw_in")
    cur = con.execute(f"SELECT * FROM ({module.select_sql('records')}) ORDER BY _line")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def load_fixture(vendor: str, name: str) -> Records:
    """A hand-written fixture: a JSON array / object file or JSON Lines."""
    path = FIXTURES / vendor / name
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    data = json.loads(path.read_text())
    return data if isinstance(data, list) else [data]


def panther_events(*log_types: str) -> Records:
    """The vendor records (``event``) of the Panther test cases labelled with one of ``log_types``."""
    if not PANTHER.exists():
        pytest.skip("shared samples not available")
    out = []
    for line in PANTHER.read_text().splitlines():
        case = json.loads(line)
        if set(case.get("log_types") or []) & set(log_types):
            out.append(case["event"])
    return out


def load_sample(relpath: str) -> Records:
    path = SAMPLES / relpath
    if not path.exists():
        pytest.skip("shared samples not available")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def canon(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The canonical mapping part of a row (for compact expectations)."""
    keys = keys or ("activity", "step", "method", "outcome", "reason")
    return {k: row[k] for k in keys}


def load_helper(name: str) -> ModuleType:
    """A helper module of this folder (pytest's importlib mode does not put it on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"_sources_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def ingest(tmp_path: Path) -> Callable[..., tuple[IngestSummary, Store]]:
    """Write ``records`` to a file (JSON Lines, or a JSON array with ``array=True``) and ingest it."""

    def _ingest(records: Records, fmt: str = "auto", *, array: bool = False, name: str = "in.json"):
        path = tmp_path / name
        if array:
            path.write_text(json.dumps(records))
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
        store = Store(tmp_path / "store")
        return ingest_paths(store, [str(path)], fmt=fmt), store

    return _ingest


def stored_events(store: Store) -> Records:
    con = store.connect()
    cur = con.execute("SELECT * EXCLUDE (ingested_at) FROM events ORDER BY time, event_id")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


class VendorKit:
    """The helpers above, handed to tests as the ``vx`` fixture."""

    run = staticmethod(run_format)
    fixture = staticmethod(load_fixture)
    panther = staticmethod(panther_events)
    sample = staticmethod(load_sample)
    canon = staticmethod(canon)
    stored = staticmethod(stored_events)
    helper = staticmethod(load_helper)

    @staticmethod
    def one(module: ModuleType, record: dict[str, Any]) -> dict[str, Any]:
        (row,) = run_format(module, [record])
        return row


@pytest.fixture
def vx() -> VendorKit:
    return VendorKit()
