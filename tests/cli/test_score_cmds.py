"""`idwatch score`: one attempt as JSON in (argument, file or stdin), risk and explanation out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.store import Store

UA = "Mozilla/5.0 (Macintosh) Safari/17"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, daily_signins) -> Path:
    """carol signs in every day for three weeks from her home IP with her Mac."""
    root = tmp_path_factory.mktemp("score") / "store"
    Store(root).append_events(daily_signins(range(21)))
    return root


HOME = {
    "account": "carol@example.org",
    "src_ip": "198.51.100.10",
    "user_agent": UA,
    "time": "2024-06-01T10:00:00Z",
}
AWAY = {
    "account": "carol@example.org",
    "src_ip": "192.0.2.200",
    "asn": 64999,
    "country": "RU",
    "user_agent": "curl/8.0",
    "ua_family": "curl",
    "ua_os": "Other",
    "time": "2024-06-01T10:05:00Z",
}


def run(store_dir: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["score", *args, "--store", str(store_dir)], input=stdin)


def test_score_json_argument_round_trip(store_dir):
    home = run(store_dir, json.dumps(HOME), "--json")
    away = run(store_dir, json.dumps(AWAY), "--json")
    assert home.exit_code == 0, home.output
    h, a = json.loads(home.stdout), json.loads(away.stdout)
    assert h["account"] == "carol@example.org" and h["history_signins"] == 21
    assert h["model_risk"] < 5 < 60 < a["model_risk"]  # the model's own scale
    assert h["risk"] < a["risk"] == 100.0  # calibrated: stranger than every legitimate sign-in
    assert a["decision"] == "block" and h["decision"] == "allow"
    assert {f["feature"] for f in a["features"]} == {"country", "asn", "ip", "os", "browser", "ua"}
    assert all(f["new_for_account"] for f in a["features"])


def test_score_exact_replays_the_batch_model(store_dir):
    fast = json.loads(run(store_dir, json.dumps(AWAY), "--json").stdout)
    exact = json.loads(run(store_dir, json.dumps(AWAY), "--json", "--exact").stdout)
    assert exact["risk"] == pytest.approx(fast["model_risk"], abs=0.01)


def test_score_reads_a_file_or_stdin(store_dir, tmp_path):
    path = tmp_path / "attempt.json"
    path.write_text(json.dumps(AWAY))
    from_file = json.loads(run(store_dir, str(path), "--json").stdout)
    from_stdin = json.loads(run(store_dir, "--json", stdin=json.dumps(AWAY)).stdout)
    assert from_file["risk"] == from_stdin["risk"] > 60


def test_score_prints_a_readable_explanation(store_dir):
    out = run(store_dir, json.dumps(AWAY))
    assert out.exit_code == 0, out.output
    assert "risk" in out.stdout and "country" in out.stdout and "RU" in out.stdout


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", json.dumps({"src_ip": "192.0.2.1"})])
def test_score_rejects_bad_input_with_exit_code_2(store_dir, bad):
    out = run(store_dir, "--json", stdin=bad)
    assert out.exit_code == 2
