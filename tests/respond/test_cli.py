"""The CLI faces of respond/share: notify, respond, export stix | misp (thin wrappers, end to end)."""

from __future__ import annotations

import json

import stix2
from pymisp import MISPEvent
from typer.testing import CliRunner

from idwatch.cli.main import app

runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_notify_dry_run_then_outbox_then_nothing_new(store, tmp_path):
    root = str(store.root)
    dry = json.loads(_run("notify", "--dry-run", "--json", "--store", root).stdout)
    assert dry["planned"] == 3 and dry["sent"] == 0
    out = tmp_path / "outbox"
    sent = json.loads(_run("notify", "--outbox", str(out), "--json", "--store", root).stdout)
    assert sent["queued"] == 3 and sent["sent"] == 0 and len(list(out.glob("*.eml"))) == 3
    again = json.loads(_run("notify", "--outbox", str(out), "--json", "--store", root).stdout)
    assert again["planned"] == 0 and again["sent"] == 0


def _line(result) -> str:
    return " ".join(result.stdout.split())


def test_notify_outbox_then_smtp_prints_counts_that_add_up(store, tmp_path, smtp_server):
    handler, controller = smtp_server
    root, out = str(store.root), str(tmp_path / "outbox")
    written = _line(_run("notify", "--outbox", out, "--store", root))
    assert "3 new + 0 from earlier runs = 3 written to outbox + 0 pending; nothing was sent" in written
    assert " sent " not in written.replace("was sent", "")
    dry = json.loads(_run("notify", "--dry-run", "--json", "--store", root).stdout)
    assert dry["planned"] == 0 and [n["status"] for n in dry["notices"]] == ["queued"] * 3
    relay = f"{controller.hostname}:{controller.port}"
    delivered = _line(_run("notify", "--smtp", relay, "--store", root))
    assert "0 new + 3 from earlier runs = 3 sent + 0 pending" in delivered
    assert len(handler.mails) == 3
    assert "0 new + 0 from earlier runs = 0 sent + 0 pending" in _line(
        _run("notify", "--smtp", relay, "--store", root)
    )


def test_notify_exits_nonzero_while_messages_are_pending(store):
    result = runner.invoke(
        app, ["notify", "--smtp", "127.0.0.1:9", "--attempts", "1", "--store", str(store.root)]
    )
    assert result.exit_code == 1


def test_respond_is_a_dry_run_unless_executed(store):
    data = json.loads(_run("respond", "--json", "--store", str(store.root)).stdout)
    assert data["dry_run"] and data["planned"] > 0 and data["sent"] == 0
    refused = runner.invoke(app, ["respond", "--execute", "--store", str(store.root)])
    assert refused.exit_code == 2


def test_export_stix_and_misp_files(store, tmp_path):
    bundle_path, misp_path = tmp_path / "b.json", tmp_path / "e.json"
    _run("export", "stix", "--tlp", "clear", "--out", str(bundle_path), "--store", str(store.root))
    assert isinstance(stix2.parse(bundle_path.read_text()), stix2.Bundle)
    _run("export", "misp", "--campaign", "cmp-phos-1", "--out", str(misp_path), "--store", str(store.root))
    ev = MISPEvent()
    ev.load(misp_path.read_text())
    assert "tlp:amber" in {t.name for t in ev.tags}
    unknown = runner.invoke(app, ["export", "stix", "--campaign", "nope", "--store", str(store.root)])
    assert unknown.exit_code == 2
