"""What a new user reads: clean errors instead of tracebacks, nothing silently empty, honest words.

Each test is one finding of issue #19 (items 3, 4, 5, 7, 9) stated as the behaviour we want.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app

runner = CliRunner()


def _invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def _text(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def store_copy(analysed_store, tmp_path):
    """A private copy of the analysed world (commands here rewrite its state)."""
    root = tmp_path / "store"
    shutil.copytree(analysed_store.root, root)
    return root


# ------------------------------------------------------------------ item 3, 4: errors, not silence


def test_run_on_a_missing_file_is_a_clean_error_and_creates_no_store(tmp_path):
    store = tmp_path / "st"
    result = _invoke("run", str(tmp_path / "nosuch.jsonl"), "--store", str(store))
    assert result.exit_code == 2
    assert "no such file" in _text(result) and "Traceback" not in result.output
    assert not store.exists()


def test_ingest_of_a_folder_without_data_files_warns_and_fails(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "README.txt").write_text("not a log\n")
    result = _invoke("ingest", str(folder), "--store", str(tmp_path / "st"))
    assert result.exit_code == 1
    assert "no data files" in _text(result)


def test_analyze_on_a_missing_store_says_so_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IDWATCH_STORE", raising=False)
    result = _invoke("analyze")
    assert result.exit_code == 2
    assert "no store at" in _text(result) and "idwatch ingest" in _text(result)
    assert not (tmp_path / "idwatch-data").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["detect"],
        ["alerts"],
        ["stats"],
        ["query", "SELECT 1"],
        ["score", '{"account": "a@x.org", "src_ip": "203.0.113.9"}'],
    ],
)
def test_reading_commands_on_a_missing_store_say_so_and_create_nothing(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IDWATCH_STORE", raising=False)
    result = _invoke(*command)
    assert result.exit_code == 2, result.output
    assert "no store at" in _text(result)
    assert not (tmp_path / "idwatch-data").exists()


@pytest.mark.parametrize("kind", ["directory", "intel"])
def test_importing_a_missing_file_is_an_error_and_makes_no_store(tmp_path, kind):
    result = _invoke(kind, "import", str(tmp_path / "nosuch.json"), "--store", str(tmp_path / "st"))
    assert result.exit_code == 2 and "no such file" in _text(result)
    assert not (tmp_path / "st").exists()


def test_analyze_on_an_empty_store_is_a_clear_error(tmp_path):
    for sub in ("events", "state"):
        (tmp_path / "st" / sub).mkdir(parents=True)
    result = _invoke("analyze", "--store", str(tmp_path / "st"))
    assert result.exit_code == 2
    assert "holds no events" in _text(result)


def _events(n: int = 50, **extra: str) -> list[dict]:
    return [
        {
            "time": "2024-03-01T10:00:00Z",
            "account": f"u{i}@x.org",
            "tenant": "x.org",
            "activity": "sign_in",
            "outcome": "success",
            "src_ip": "198.51.100.7",
            **extra,
        }
        for i in range(n)
    ]


def test_an_events_file_is_refused_as_a_directory_however_full_its_columns(tmp_path):
    # the events carry directory-looking values too: the file's shape, not its values, decides
    events = tmp_path / "events.jsonl"
    rows = _events(category="journalist", display_name="Ann", watchlist="true")
    events.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = _invoke("directory", "import", str(events), "--store", str(tmp_path / "st"))
    assert result.exit_code == 2
    text = _text(result)
    assert "not an account directory" in text and "events file" in text and "activity" in text
    assert not (tmp_path / "st").exists()  # refused before a store is made for it


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("extra.csv", "account,tenant,department\na@x.org,x.org,press\n", "department unknown"),
        ("noacct.csv", "user,tenant\na@x.org,x.org\n", "no account column"),
        ("bundle.json", json.dumps({"type": "bundle", "id": "bundle--1", "objects": []}, indent=1), "STIX"),
        ("empty.csv", "", "holds no rows"),
        ("wide.csv", "account,tenant\na@x.org,x.org,surplus\n", "more cells than the header"),
    ],
)
def test_a_file_not_shaped_like_a_directory_is_refused(tmp_path, name, content, says):
    path = tmp_path / name
    path.write_text(content)
    result = _invoke("directory", "import", str(path), "--store", str(tmp_path / "st"))
    assert result.exit_code == 2 and says in _text(result), result.output
    assert not (tmp_path / "st").exists()  # refused before a store is made for it


def test_a_parquet_file_is_refused_as_a_directory(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.table({"account": ["a@x.org"], "tenant": ["x.org"]}), path)
    result = _invoke("directory", "import", str(path), "--store", str(tmp_path / "st"))
    assert result.exit_code == 2 and "a Parquet file, not an account directory" in _text(result)


def test_a_real_directory_still_imports(tmp_path):
    directory = tmp_path / "accounts.csv"
    directory.write_text(
        "account,tenant,display_name,category,watchlist,home_country,contact,notify\n"
        "a@x.org,x.org,Ann,journalist,true,US,(202) 555-0143,soc@x.org\nb@x.org,x.org,,,,,,\n"
    )
    result = _invoke("directory", "import", str(directory), "--store", str(tmp_path / "st"))
    assert result.exit_code == 0, result.output
    assert "imported 2 directory rows" in _text(result)


def test_ingest_refuses_files_that_are_not_events_and_stores_the_events(tmp_path):
    """A simulation's folder holds events beside a directory, labels and a STIX bundle."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "sim"
    folder.mkdir()
    (folder / "events.jsonl").write_text("\n".join(json.dumps(r) for r in _events(20)) + "\n")
    (folder / "directory.csv").write_text("account,tenant,category\nu1@x.org,x.org,journalist\n")
    (folder / "intel.json").write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": []}))
    pq.write_table(
        pa.table({"event_id": ["e1"], "actor": ["x"], "kind": ["state"]}), folder / "labels.parquet"
    )
    result = _invoke("ingest", str(folder), "--store", str(tmp_path / "st"), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stored"] == 20 and summary["quarantined"] == 0 and summary["records"] == 20
    refused = {Path(r["file"]).name: r["reason"] for r in summary["refused"]}
    assert set(refused) == {"directory.csv", "intel.json", "labels.parquet"}
    assert "account directory" in refused["directory.csv"] and "STIX bundle" in refused["intel.json"]
    assert all(r.startswith("not an events file") for r in refused.values())
    forced = _invoke(
        "ingest", str(folder / "labels.parquet"), "--format", "native", "--store", str(tmp_path / "st")
    )
    assert "quarantined" in _text(forced)  # --format reads it anyway: every row quarantined, counted


def test_run_stops_before_analysis_when_an_input_is_not_events(tmp_path):
    (tmp_path / "directory.csv").write_text("account,tenant\nu1@x.org,x.org\n")
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(r) for r in _events(5)) + "\n")
    result = _invoke(
        "run",
        str(tmp_path / "events.jsonl"),
        str(tmp_path / "directory.csv"),
        "--store",
        str(tmp_path / "st"),
    )
    assert result.exit_code == 1
    assert "not an events file" in _text(result) and "nothing analysed" in _text(result)


# ------------------------------------------------------------------ item 5: honest messages


def test_analyze_prints_the_wall_time_of_the_step_and_of_each_stage(store_copy):
    result = _invoke("analyze", "--store", str(store_copy), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    stages = data["seconds_by_stage"]
    assert list(stages) == ["detections", "incidents", "campaigns", "attribution"]
    assert data["seconds"] >= sum(stages.values()) - 0.05  # the whole step, not one part of it
    human = _invoke("analyze", "--store", str(store_copy))
    assert human.exit_code == 0, human.output
    assert "wall time" in _text(human)
    for stage in stages:
        assert f"{stage} " in _text(human)


def test_more_incidents_than_alerts_is_explained(capsys):
    from idwatch.cli.analysis_cmds import _print_summary

    summary = {"alerts": 3, "incidents": 40, "campaigns": 1, "by_kind": {"criminal": 1}, "attributed": 0}
    _print_summary({**summary, "accounts": 40, "seconds": 1.0})
    out = capsys.readouterr().out
    assert "one alert can name many accounts" in " ".join(out.split())


def test_analyze_says_how_the_headline_adds_up_from_the_campaigns(store_copy):
    result = _invoke("analyze", "--store", str(store_copy), "--json")
    assert result.exit_code == 0, result.output
    head = json.loads(result.output.strip().splitlines()[-1])["headline"]
    for key in ("accounts_attacked", "accounts_compromised"):
        total = head["campaign_sum"][key] - head["shared"][key] + head["outside_campaigns"][key]
        assert head["total"][key] == total
    accounts = json.loads(_invoke("accounts", "--store", str(store_copy), "--json").output)
    compromised = sum(1 for a in accounts if a["status"] == "compromised")
    assert head["total"]["accounts_compromised"] == compromised
    human = " ".join(_text(_invoke("analyze", "--store", str(store_copy))).split())
    assert f"{head['total']['accounts_compromised']:,} compromised = " in human
    assert "in no campaign" in human


def test_outbox_writes_are_not_called_sent(store_copy):
    result = _invoke("notify", "--store", str(store_copy), "--outbox", str(store_copy / "box"))
    assert result.exit_code == 0, result.output
    assert "written to outbox" in _text(result)
    assert " sent " not in _text(result).replace("nothing was sent", "")


def test_since_accepts_rfc3339_and_relative_forms():
    from idwatch.cli.app import parse_when

    now = datetime(2019, 9, 30, 14, 30, tzinfo=UTC)
    assert parse_when("2019-09-29T08:00:00Z", now) == datetime(2019, 9, 29, 8, tzinfo=UTC)
    assert parse_when("2019-09-29", now) == datetime(2019, 9, 29, tzinfo=UTC)
    assert parse_when("24h", now) == datetime(2019, 9, 29, 14, 30, tzinfo=UTC)
    assert parse_when("7d", now) == datetime(2019, 9, 23, 14, 30, tzinfo=UTC)
    assert parse_when("yesterday", now) == datetime(2019, 9, 29, tzinfo=UTC)


def test_detect_since_nonsense_says_what_is_expected(store_copy):
    result = _invoke("detect", "--since", "last tuesday", "--store", str(store_copy))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "RFC 3339" in text and "yesterday" in text and "24h" in text
    assert "Invalid isoformat" not in text
    assert _invoke("detect", "--since", "yesterday", "--store", str(store_copy)).exit_code == 0


# ------------------------------------------------------------------ item 7: ids never cut at 80 columns


def test_campaign_and_detection_ids_are_whole_at_80_columns(store_copy):
    env = {"COLUMNS": "80"}
    ids = [c["id"] for c in json.loads(_invoke("campaigns", "--json", "--store", str(store_copy)).output)]
    table = _invoke("campaigns", "--store", str(store_copy), env=env).output
    assert max(len(line) for line in table.splitlines()) <= 80
    assert all(i in table for i in ids)
    alerts = json.loads(_invoke("alerts", "--json", "--store", str(store_copy)).output)
    shown = _invoke("alerts", "--store", str(store_copy), "--limit", "50", env=env).output
    assert all(a["detection_id"] in shown for a in alerts[:50])
    assert "…" not in shown  # nor are times, stages or scores
    told = _invoke("notify", "--dry-run", "--store", str(store_copy), env=env).output
    assert "…" not in told  # tenants and addresses fold, never cut
    listed = _invoke("detections", "list", env=env).output
    library = json.loads(_invoke("detections", "list", "--json").output)
    assert all(d["id"] in listed for d in library)


# ------------------------------------------------------------------ item 9: one time format


def test_json_times_are_rfc3339_with_z(store_copy):
    alerts = json.loads(_invoke("alerts", "--json", "--store", str(store_copy)).output)
    assert alerts
    for a in alerts:
        for key in ("first_seen", "last_seen"):
            assert a[key] is None or (a[key].endswith("Z") and "T" in a[key]), a[key]
    detect = json.loads(_invoke("detect", "--json", "--store", str(store_copy)).output)
    assert detect["until"].endswith("Z")


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?")


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--json"],
        ["campaigns", "--json"],
        ["accounts", "--json"],
        ["alerts", "--json"],
        ["respond", "--json"],
        ["notify", "--dry-run", "--json"],
        ["report", "--format", "json"],
        ["query", "--json", "SELECT time, account FROM events LIMIT 5"],
    ],
)
def test_every_time_in_json_output_is_rfc3339_utc_with_z(store_copy, command):
    result = _invoke(*command, "--store", str(store_copy))
    assert result.exit_code == 0, result.output
    times = [m.group(0) for m in _TIMESTAMP.finditer(result.stdout)]
    assert times or command[0] in ("respond", "notify", "accounts")
    assert [t for t in times if not (t.endswith("Z") and "T" in t)] == []


def test_simulate_list_json_is_json():
    data = json.loads(_invoke("simulate", "--list", "--json").output)
    assert {"name", "description"} <= set(data[0])
    assert "demo" in {d["name"] for d in data}


# ------------------------------------------------------------------ respond: a summary, nothing silently cut


def test_respond_table_summarises_and_points_to_the_full_list(store_copy):
    full = json.loads(_invoke("respond", "--json", "--store", str(store_copy)).output)
    assert len(full["actions"]) > 1
    result = _invoke("respond", "--limit", "1", "--store", str(store_copy))
    assert result.exit_code == 0, result.output
    assert f"{len(full['actions']) - 1:,} more" in _text(result)
    assert "idwatch respond --json" in _text(result)


# ------------------------------------------------------------------ libraries: optional extras


@pytest.fixture
def without_matplotlib(monkeypatch):
    """An install without the `report` extra: importing matplotlib fails."""
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    for name in ("idwatch.report.html", "idwatch.report.charts"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_the_html_report_without_the_report_extra_names_the_extra(store_copy, without_matplotlib, capsys):
    result = _invoke("report", "--format", "html", "--store", str(store_copy))
    assert result.exit_code == 2
    assert "pip install 'idwatch[report]'" in _text(result) and "Traceback" not in result.output
    assert _invoke("report", "--format", "md", "--store", str(store_copy)).exit_code == 0  # others work

    from idwatch.cli.analysis_cmds import _write_html
    from idwatch.store import Store

    _write_html(Store(store_copy, create=False), store_copy / "report.html")  # what run and demo call
    assert "idwatch[report]" in " ".join(capsys.readouterr().err.split())
    assert not (store_copy / "report.html").exists()
