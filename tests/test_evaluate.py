"""`idwatch evaluate`: scoring an analysis against simulated ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from idwatch.evaluate import NothingToScore, evaluate
from idwatch.schema import ALERT_SCHEMA
from idwatch.simulate import simulate
from idwatch.store import Store

TINY = Path(__file__).parent / "simulate" / "tiny.toml"


@pytest.fixture(scope="module")
def truth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("truth")
    simulate("tiny", seed=3, out=out, config=TINY)
    return out


def _truth(truth_dir: Path) -> dict:
    return json.loads((truth_dir / "truth.json").read_text())


def _perfect_campaigns(truth: dict) -> list[dict]:
    actors = {a["id"]: a for a in truth["actors"]}
    found = []
    for c in truth["campaigns"]:
        a = actors[c["actor"]]
        actor = (
            None
            if c["kind"] != "state"
            else {
                "name": a["aliases"][5]
                if len(a["aliases"]) > 5
                else a["name"],  # an alias is as good as the name
                "aliases": [],
                "stix_id": a["stix_id"],
                "confidence": 80,
            }
        )
        accounts = [{"account": x, "tenant": None, "stage": s} for s, xs in c["accounts"].items() for x in xs]
        found.append(
            {
                "id": "found-" + c["id"],
                "actor": actor,
                "kind": c["kind"],
                "counts": dict(c["counts"]),
                "accounts": accounts,
                "first_seen": c["first_seen"],
                "last_seen": c["last_seen"],
                "infrastructure": {"ips": [], "asns": []},
                "techniques": [],
                "evidence": [],
            }
        )
    return found


def _alerts(event_ids: list[str]) -> pa.Table:
    row = {f.name: None for f in ALERT_SCHEMA}
    row.update(alert_id="a1", detection_id="test", stage="recon", event_ids=event_ids)
    return pa.Table.from_pylist([row], schema=ALERT_SCHEMA)


def _attacker_event_ids(truth_dir: Path) -> list[str]:
    return [
        r[0]
        for r in duckdb.execute(
            f"SELECT event_id FROM read_parquet('{truth_dir / 'labels.parquet'}') WHERE actor IS NOT NULL"
        ).fetchall()
    ]


def _store(tmp_path: Path, campaigns: list[dict] | None, alert_ids: list[str] | None) -> Store:
    store = Store(tmp_path / "store")
    if campaigns is not None:
        store.write_state_json("campaigns", campaigns)
    if alert_ids is not None:
        store.write_state_table("alerts", _alerts(alert_ids))
    return store


def test_a_perfect_analysis_scores_one(truth_dir: Path, tmp_path: Path) -> None:
    truth = _truth(truth_dir)
    store = _store(tmp_path, _perfect_campaigns(truth), _attacker_event_ids(truth_dir))
    result = evaluate(truth_dir / "truth.json", store)
    assert result["score"] == 1.0 and result["passed"]
    for c in result["campaigns"]:
        assert c["matched"] == "found-" + c["truth_id"]
        assert c["attribution"]["correct"]
        assert all(v["precision"] == 1.0 and v["recall"] == 1.0 for v in c["accounts"].values())
        assert all(v["rel_error"] == 0 for v in c["counts"].values())
    assert result["events"]["attacker"]["recall"] == 1.0 and result["events"]["attacker"]["precision"] == 1.0
    assert result["events"]["state"]["recall"] == 1.0
    assert result["wrong_attributions"] == []


def test_a_store_without_analysis_has_nothing_to_score(truth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NothingToScore, match="nothing to score"):
        evaluate(truth_dir / "truth.json", _store(tmp_path, None, None))


def test_an_empty_analysis_fails(truth_dir: Path, tmp_path: Path) -> None:
    result = evaluate(truth_dir / "truth.json", _store(tmp_path, [], []))
    assert result["score"] == 0.0 and not result["passed"]
    assert all(c["matched"] is None for c in result["campaigns"])
    assert result["events"]["state"]["recall"] == 0.0


def test_a_swapped_attribution_is_caught(truth_dir: Path, tmp_path: Path) -> None:
    truth = _truth(truth_dir)
    found = _perfect_campaigns(truth)
    state = [f for f in found if f["actor"]]
    state[0]["actor"], state[1]["actor"] = state[1]["actor"], state[0]["actor"]
    result = evaluate(truth_dir / "truth.json", _store(tmp_path, found, _attacker_event_ids(truth_dir)))
    wrong = [c for c in result["campaigns"] if c["kind"] == "state" and not c["attribution"]["correct"]]
    assert len(wrong) == 2
    assert result["score"] < 0.9


def test_benign_accounts_attributed_to_a_state_actor_are_flagged(truth_dir: Path, tmp_path: Path) -> None:
    truth = _truth(truth_dir)
    found = _perfect_campaigns(truth)
    benign = [
        r[0]
        for r in duckdb.execute(
            f"SELECT account FROM read_csv_auto('{truth_dir / 'directory.csv'}')"
            " WHERE category = 'business' LIMIT 20"
        ).fetchall()
    ]
    found.append(
        {
            "id": "oops",
            "actor": {"name": "APT29", "aliases": ["NOBELIUM"]},
            "kind": "state",
            "counts": {},
            "accounts": [{"account": a, "stage": "attacked"} for a in benign],
        }
    )
    result = evaluate(truth_dir / "truth.json", _store(tmp_path, found, None))
    assert [w["id"] for w in result["wrong_attributions"]] == ["oops"]
    assert result["score"] < 1.0


def test_counts_errors_are_relative(truth_dir: Path, tmp_path: Path) -> None:
    truth = _truth(truth_dir)
    found = _perfect_campaigns(truth)
    target = next(f for f in found if f["id"] == "found-cmp-kitten")
    target["counts"]["probes"] *= 2
    result = evaluate(truth_dir / "truth.json", _store(tmp_path, found, None))
    kitten = next(c for c in result["campaigns"] if c["truth_id"] == "cmp-kitten")
    assert kitten["counts"]["probes"]["rel_error"] == 1.0
    assert kitten["counts"]["accounts_attacked"]["rel_error"] == 0.0


def test_cli_reports_nothing_to_score_and_scores(truth_dir: Path, tmp_path: Path) -> None:
    from idwatch.cli.main import app

    runner = CliRunner()
    empty = tmp_path / "empty"
    res = runner.invoke(
        app, ["evaluate", "--truth", str(truth_dir / "truth.json"), "--store", str(empty), "--json"]
    )
    assert res.exit_code == 3
    assert json.loads(res.stdout)["error"] == "nothing_to_score"
    store = _store(tmp_path, _perfect_campaigns(_truth(truth_dir)), _attacker_event_ids(truth_dir))
    res = runner.invoke(
        app, ["evaluate", "--truth", str(truth_dir / "truth.json"), "--store", str(store.root)]
    )
    assert res.exit_code == 0, res.output
    assert "score" in res.output


def test_without_state_actors_only_false_attributions_and_alerts_count(
    truth_dir: Path, tmp_path: Path
) -> None:
    """A quiet scenario: nothing to attribute; claiming a state actor is the mistake."""
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    truth = _truth(truth_dir)
    truth["campaigns"] = [c for c in truth["campaigns"] if c["kind"] != "state"]
    truth["actors"] = [a for a in truth["actors"] if a["kind"] != "state"]
    (quiet / "truth.json").write_text(json.dumps(truth))
    (quiet / "labels.parquet").write_bytes((truth_dir / "labels.parquet").read_bytes())
    found = _perfect_campaigns(truth)
    result = evaluate(quiet / "truth.json", _store(tmp_path / "a", found, None))
    assert result["score"] == 1.0
    found[0].update(actor={"name": "APT35", "aliases": []}, kind="state")
    result = evaluate(quiet / "truth.json", _store(tmp_path / "b", found, None))
    assert result["score"] == 0.0 and [w["id"] for w in result["wrong_attributions"]] == [found[0]["id"]]


def _accounts_json(campaigns: list[dict]) -> list[dict]:
    """accounts.json as a consistent analysis writes it: one row per account, furthest stage."""
    rank = {"probed": 0, "attacked": 1, "compromised": 2}
    rows: dict[str, dict] = {}
    for c in campaigns:
        for a in c["accounts"]:
            row = rows.setdefault(
                a["account"], {"account": a["account"], "status": "probed", "campaigns": []}
            )
            row["campaigns"].append(c["id"])
            if rank[a["stage"]] > rank[row["status"]]:
                row["status"] = a["stage"]
    return list(rows.values())


def test_missing_compromises_and_confidence_are_reported_per_state_campaign(
    truth_dir: Path, tmp_path: Path
) -> None:
    truth = _truth(truth_dir)
    found = _perfect_campaigns(truth)
    kitten = next(f for f in found if f["id"] == "found-cmp-kitten")
    lost = next(a for a in kitten["accounts"] if a["stage"] == "compromised")
    lost["stage"] = "attacked"  # flagged elsewhere, but not in its actor's campaign
    result = evaluate(truth_dir / "truth.json", _store(tmp_path, found, None))
    by_id = {c["truth_id"]: c for c in result["campaigns"]}
    assert by_id["cmp-kitten"]["compromised_missing"] == 1
    assert by_id["cmp-bear"]["compromised_missing"] == 0
    assert by_id["cmp-kitten"]["attribution"]["confidence"] == 80
    assert result["state_attributions"] == 2


def test_benign_accounts_marked_compromised_are_counted_over_all_accounts(
    truth_dir: Path, tmp_path: Path
) -> None:
    truth = _truth(truth_dir)
    found = _perfect_campaigns(truth)
    store = _store(tmp_path, found, None)
    rows = _accounts_json(found)
    directory = duckdb.execute(
        f"SELECT account FROM read_csv_auto('{truth_dir / 'directory.csv'}')"
    ).fetchall()
    touched = {r["account"] for r in rows}
    bystanders = [a for (a,) in directory if a not in touched][:3]
    rows += [{"account": a, "status": "compromised", "campaigns": []} for a in bystanders]
    store.write_state_json("accounts", rows)
    got = evaluate(truth_dir / "truth.json", store)["compromised_accounts"]
    assert got["benign"] == 3 and got["false"] == 3
    assert got["accounts"] == len(directory)
    assert got["benign_share"] == round(3 / len(directory), 6)


def test_accounts_and_campaigns_agree_when_every_count_adds_up(truth_dir: Path, tmp_path: Path) -> None:
    found = _perfect_campaigns(_truth(truth_dir))
    store = _store(tmp_path, found, None)
    store.write_state_json("accounts", _accounts_json(found))
    story = evaluate(truth_dir / "truth.json", store)["accounts_vs_campaigns"]
    assert story["agree"], story


def test_a_headline_that_differs_from_the_campaigns_is_disagreement(truth_dir: Path, tmp_path: Path) -> None:
    found = _perfect_campaigns(_truth(truth_dir))
    store = _store(tmp_path, found, None)
    rows = _accounts_json(found)
    extra = next(r for r in rows if r["status"] == "attacked")
    extra["status"] = "compromised"  # accounts says compromised, no campaign counts it
    rows.append(dict(rows[0]))  # and one account listed twice
    store.write_state_json("accounts", rows)
    story = evaluate(truth_dir / "truth.json", store)["accounts_vs_campaigns"]
    assert not story["agree"]
    assert story["duplicates"] == 1
    assert not story["stages"]["compromised"]["agree"]
