"""The notebook API: idwatch.open(store) gives Arrow tables of the analysis, read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import idwatch
from idwatch.analyst_marks import add_mark
from idwatch.query import QueryRefused
from idwatch.store import StoreError


def test_campaigns_are_one_row_per_campaign_with_the_section_5_counts(store):
    s = idwatch.open(store.root)
    table = s.campaigns()
    raw = json.loads((store.state_dir / "campaigns.json").read_text())
    assert isinstance(table, pa.Table) and table.num_rows == len(raw) > 0
    first = table.slice(0, 1).to_pylist()[0]
    assert first["id"] == raw[0]["id"]
    assert first["accounts_attacked"] == raw[0]["counts"]["accounts_attacked"]
    assert first["first_seen"].tzinfo is not None
    assert json.loads(first["hypotheses_json"]) == raw[0].get("hypotheses", [])


def test_accounts_match_the_accounts_json(store):
    table = idwatch.open(store.root).accounts()
    raw = json.loads((store.state_dir / "accounts.json").read_text())
    assert table.num_rows == len(raw)
    assert set(table.column("status").to_pylist()) <= {"probed", "attacked", "compromised"}


def test_alerts_carry_the_analysts_current_mark(store):
    s = idwatch.open(store.root)
    alerts = s.alerts()
    assert alerts.num_rows > 0 and "mark" in alerts.column_names
    assert set(alerts.column("mark").to_pylist()) == {None}
    target = alerts.column("alert_id")[0].as_py()
    add_mark(store, "alert", target, "benign", "first look", "ana")
    add_mark(store, "alert", target, "true_positive", "on second thought", "ana")
    marked = {r["alert_id"]: r["mark"] for r in s.alerts().to_pylist()}
    assert marked[target] == "true_positive"
    campaign = s.campaigns().column("id")[0].as_py()
    add_mark(store, "campaign", campaign, "false_positive", None, "ana")
    assert s.campaigns().column("mark")[0].as_py() == "false_positive"


def test_events_runs_sql_and_gives_polars_or_pandas_by_choice(store):
    table = idwatch.open(store.root).events("SELECT account, count(*) AS n FROM events GROUP BY 1")
    assert table.num_rows > 0 and table.column_names == ["account", "n"]
    pd = pytest.importorskip("pandas")
    assert isinstance(table.to_pandas(), pd.DataFrame)


@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM events", "SELECT 1; SELECT 2", "COPY events TO '/tmp/x.csv'"],
)
def test_events_refuses_anything_but_one_select(store, sql):
    with pytest.raises(QueryRefused):
        idwatch.open(store.root).events(sql)


def test_events_cannot_read_outside_the_store(store, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    with pytest.raises(Exception, match="(?i)permission|not allowed|disabled"):
        idwatch.open(store.root).events(f"SELECT * FROM read_csv('{outside}')")


def test_opening_a_missing_store_says_so_and_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no store"):
        idwatch.open(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_the_example_notebook_runs_against_a_store(store, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(Path(__file__).parents[2] / "docs" / "notebook.ipynb", as_version=4)
    monkeypatch.setenv("IDWATCH_STORE", str(store.root))  # the kernel inherits it
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("campaigns" in str(o.get("text", "")) for o in outputs)
