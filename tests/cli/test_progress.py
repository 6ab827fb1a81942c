"""Long single steps show a determinate bar on a terminal that ends at its total; nothing elsewhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.cli.progress import MeteredStore, counted, metered, shows_progress
from idwatch.detections.riskmodel import score_attempt

runner = CliRunner()


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100), out


def test_a_counted_bar_on_a_terminal_shows_done_of_total_and_ends_at_its_total():
    console, out = _terminal()
    seen: list[tuple[int, int]] = []
    with counted(
        "validating", 5, console=console, enabled=True, on_update=lambda d, t: seen.append((d, t))
    ) as bar:
        for _ in range(3):
            bar.advance()
    assert seen[-1] == (5, 5) and seen[:3] == [(1, 5), (2, 5), (3, 5)]
    assert "5/5" in out.getvalue()


def test_no_bar_off_a_terminal_or_with_json():
    piped = Console(file=io.StringIO())
    assert not shows_progress(piped)
    assert not shows_progress(_terminal()[0], json_out=True)
    console, out = _terminal()
    with counted("x", 3, console=console, enabled=False) as bar:
        bar.advance()
    assert out.getvalue() == ""


def test_scoring_reports_events_read_and_ends_at_the_stores_event_count(analysed_store):
    store = MeteredStore(str(analysed_store.root), create=False)
    events = store.event_count()
    seen: list[tuple[int, int]] = []
    console, out = _terminal()
    attempt = {"account": "carol@example.org", "src_ip": "203.0.113.9"}
    with metered(
        store, "scoring", events, console=console, enabled=True, on_update=lambda d, t: seen.append((d, t))
    ):
        result = score_attempt(store, attempt)
    assert 0 <= result["risk"] <= 100
    assert events > 0 and seen[-1] == (events, events)
    assert all(t == events and 0 <= d <= events for d, t in seen)
    assert store.connections  # the scoring's own connection was metered
    assert f"{events}/{events}" in out.getvalue()


def test_score_and_export_validate_write_no_bar_into_a_pipe(analysed_store, tmp_path):
    attempt = json.dumps({"account": "carol@example.org", "src_ip": "203.0.113.9"})
    scored = runner.invoke(app, ["score", attempt, "--json", "--store", str(analysed_store.root)])
    assert scored.exit_code == 0, scored.output
    assert "risk" in json.loads(scored.stdout) and "statement" not in scored.stderr
    out = tmp_path / "bundle.json"
    exported = runner.invoke(
        app, ["export", "stix", "--validate", "--out", str(out), "--store", str(analysed_store.root)]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(Path(out).read_text())["type"] == "bundle" and "validating" not in exported.stderr
