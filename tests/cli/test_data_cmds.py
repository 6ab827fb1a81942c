"""The data commands end to end: ingest --json summary line, stats, read-only query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app

runner = CliRunner()


def _events(path: Path) -> Path:
    recs = [
        {
            "time": f"2024-03-0{1 + i % 2}T10:00:00Z",
            "event_id": f"e{i}",
            "account": f"u{i % 3}@x.org",
            "activity": "sign_in",
            "outcome": "failure" if i % 2 else "success",
            "src_ip": "8.8.8.8",
        }
        for i in range(6)
    ]
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\nnot json\n")
    return path


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    result = runner.invoke(
        app, ["ingest", str(_events(tmp_path / "e.jsonl")), "--store", str(store), "--json"]
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert {k: last[k] for k in ("records", "stored", "duplicates", "quarantined", "skipped")} == {
        "records": 7,
        "stored": 6,
        "duplicates": 0,
        "quarantined": 1,
        "skipped": 0,
    }
    return store


def test_ingest_of_missing_file_exits_non_zero(tmp_path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope.jsonl"), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2


def test_store_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IDWATCH_STORE", str(tmp_path / "envstore"))
    result = runner.invoke(app, ["ingest", str(_events(tmp_path / "e.jsonl")), "--json"])
    assert result.exit_code == 0
    assert (tmp_path / "envstore" / "events").is_dir()


def test_stats(loaded):
    result = runner.invoke(app, ["stats", "--store", str(loaded), "--json"])
    data = json.loads(result.output)
    assert data["events"] == 6 and data["accounts"] == 3 and data["quarantined"] == 1
    assert data["by_outcome"] == [["failure", 3], ["success", 3]]
    table = runner.invoke(app, ["stats", "--store", str(loaded)])
    assert table.exit_code == 0 and "sign_in" in table.output


def test_query_json_and_csv(loaded):
    result = runner.invoke(
        app,
        [
            "query",
            "SELECT account, count(*) AS n FROM events GROUP BY 1 ORDER BY 1",
            "--store",
            str(loaded),
            "--json",
        ],
    )
    assert json.loads(result.output) == [
        {"account": "u0@x.org", "n": 2},
        {"account": "u1@x.org", "n": 2},
        {"account": "u2@x.org", "n": 2},
    ]
    csv_out = runner.invoke(
        app, ["query", "SELECT min(time) AS t FROM events", "--store", str(loaded), "--csv"]
    )
    assert csv_out.output.splitlines() == ["t", "2024-03-01T10:00:00Z"]


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT * FROM events) TO '/tmp/idwatch-leak.csv'",
        "ATTACH '/tmp/idwatch-x.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA enable_profiling",
        "SET threads = 1",
        "CREATE TABLE t AS SELECT 1",
        "DELETE FROM events",
        "SELECT 1; DROP VIEW events",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM query('COPY (SELECT 1) TO ''/tmp/idwatch-y.csv''')",
    ],
)
def test_query_refuses_anything_that_writes_or_escapes(loaded, sql):
    result = runner.invoke(app, ["query", sql, "--store", str(loaded), "--json"])
    assert result.exit_code != 0
    assert not Path("/tmp/idwatch-leak.csv").exists() and not Path("/tmp/idwatch-y.csv").exists()


def test_directory_and_intel_import_commands(tmp_path):
    store = tmp_path / "s"
    d = tmp_path / "d.csv"
    d.write_text("account,tenant,watchlist\na@x.org,x.org,true\n")
    ok = runner.invoke(app, ["directory", "import", str(d), "--store", str(store), "--json"])
    assert json.loads(ok.output) == {"imported": 1}
    bad = tmp_path / "b.json"
    bad.write_text('{"type": "report"}')
    err = runner.invoke(app, ["intel", "import", str(bad), "--store", str(store)])
    assert err.exit_code == 2
