"""The simulator's output files: complete, canonical, ingestible, and reproducible to the byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from idwatch.schema import ENUM_COLUMNS, EVENT_COLUMNS
from idwatch.simulate import simulate
from idwatch.simulate.scenario import ScenarioError

TINY = Path(__file__).with_name("tiny.toml")
FILES = ("events.jsonl", "labels.parquet", "directory.csv", "intel.json", "truth.json")


def _digest(folder: Path) -> dict[str, str]:
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in FILES}


def test_writes_every_file(tiny_run: tuple[Path, dict]) -> None:
    out, truth = tiny_run
    for f in FILES:
        assert (out / f).stat().st_size > 0, f
    assert truth["events"] == sum(1 for _ in (out / "events.jsonl").open())


def test_same_seed_same_bytes_and_another_seed_other_bytes(
    tiny_run: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = tiny_run
    again = simulate("tiny", seed=7, out=tmp_path / "again", config=TINY)
    other = simulate("tiny", seed=8, out=tmp_path / "other", config=TINY)
    assert _digest(tmp_path / "again") == _digest(out)
    theirs = _digest(tmp_path / "other")
    assert all(theirs[f] != h for f, h in _digest(out).items())
    # the scenario's numbers hold for every seed
    assert [c["counts"]["accounts_attacked"] for c in other["campaigns"][:2]] == [
        c["counts"]["accounts_attacked"] for c in again["campaigns"][:2]
    ]


def test_events_are_canonical_native_records(tiny_db: duckdb.DuckDBPyConnection) -> None:
    cols = [r[0] for r in tiny_db.execute("DESCRIBE events").fetchall()]
    assert cols == [c for c in EVENT_COLUMNS if c != "raw"]
    assert tiny_db.execute("SELECT DISTINCT source FROM events").fetchall() == [("native",)]
    for col, enum in ENUM_COLUMNS.items():
        values = {r[0] for r in tiny_db.execute(f"SELECT DISTINCT {col} FROM events").fetchall()} - {None}
        assert values <= {e.value for e in enum}, col
    nulls = tiny_db.execute(
        "SELECT count(*) FROM events WHERE time IS NULL OR account IS NULL OR activity IS NULL"
        " OR outcome IS NULL OR src_ip IS NULL OR event_id IS NULL"
    ).fetchone()[0]
    assert nulls == 0
    # time-ordered, lower-cased identifiers, hashes never raw contacts
    assert tiny_db.execute("SELECT bool_and(account = lower(trim(account))) FROM events").fetchone()[0]
    hashes = tiny_db.execute(
        "SELECT DISTINCT contact_hash FROM events WHERE contact_hash IS NOT NULL"
    ).fetchall()
    assert hashes and all(len(h) == 64 and int(h, 16) >= 0 for (h,) in hashes)


def test_events_are_in_time_order(tiny_run: tuple[Path, dict]) -> None:
    out, _ = tiny_run
    times = [json.loads(line)["time"] for line in (out / "events.jsonl").open()]
    assert times == sorted(times)
    assert times[0].startswith("2019-08-01") and times[-1].startswith("2019-08-10")


def test_network_fields_are_partly_left_to_enrichment(tiny_db: duckdb.DuckDBPyConnection) -> None:
    share_asn, share_country = tiny_db.execute(
        "SELECT avg((asn IS NOT NULL)::INT), avg((country IS NOT NULL)::INT) FROM events"
    ).fetchone()
    assert 0.4 < share_asn < 0.8
    assert 0.75 < share_country < 0.95


def test_parquet_output_holds_the_same_events(tiny_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = tiny_run
    simulate("tiny", seed=7, out=tmp_path, config=TINY, fmt="parquet")
    table = pq.read_table(tmp_path / "events.parquet")
    ids = [json.loads(line)["event_id"] for line in (out / "events.jsonl").open()]
    assert table.column("event_id").to_pylist() == ids
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"


def test_ingests_without_quarantine(tiny_run: tuple[Path, dict], tmp_path: Path) -> None:
    from idwatch.ingest import ingest_paths
    from idwatch.store import Store

    out, truth = tiny_run
    summary = ingest_paths(Store(tmp_path / "store"), [str(out / "events.jsonl")])
    assert summary.quarantined == 0
    assert summary.stored == truth["events"]


def test_directory_lists_every_real_account(tiny_db: duckdb.DuckDBPyConnection) -> None:
    missing = tiny_db.execute(
        "SELECT count(DISTINCT account) FROM events WHERE account_exists AND account NOT IN "
        "(SELECT account FROM directory)"
    ).fetchone()[0]
    assert missing == 0
    cats = {r[0] for r in tiny_db.execute("SELECT DISTINCT category FROM directory").fetchall()}
    assert {"political_campaign", "government", "journalist", "diaspora", "business", "consumer"} <= cats


def test_a_population_too_small_for_the_targets_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="raise --scale"):
        simulate("tiny", seed=1, out=tmp_path, config=TINY, scale=0.05)


def test_scale_multiplies_the_population() -> None:
    import numpy as np

    from idwatch.simulate.population import build_population
    from idwatch.simulate.scenario import load_scenario

    sc = load_scenario(path=TINY)
    one = build_population(sc, np.random.default_rng(1), 1.0).size
    three = build_population(sc, np.random.default_rng(1), 3.0).size
    assert abs(three / one - 3.0) < 0.05
