"""Scenario files: the built-in ones, the published numbers, and clear errors for mistakes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idwatch.simulate.scenario import ScenarioError, builtin_names, load_scenario, parse_scenario

TINY = Path(__file__).with_name("tiny.toml")


def test_builtin_scenarios() -> None:
    assert {"phosphorus-2019", "quiet", "demo"} <= set(builtin_names())
    for name in builtin_names():
        assert load_scenario(name).name == name


@pytest.mark.parametrize("name", ["phosphorus-2019", "demo"])
def test_phosphorus_reproduces_the_published_case(name: str) -> None:
    sc = load_scenario(name)
    assert (sc.start.isoformat(), sc.end.isoformat()) == ("2019-08-01", "2019-09-30")
    phos = next(a for a in sc.actors if a.intrusion_set == "G0059")
    assert phos.research.probes == 2700
    assert sum(t.attacked for t in phos.targets) == 241
    assert phos.success.compromised == 4
    assert not {"political_campaign", "government"} & set(phos.success.categories)
    assert {t.category for t in phos.targets} == {
        "political_campaign",
        "government",
        "journalist",
        "diaspora",
    }
    other = [a for a in sc.actors if a is not phos]
    assert [a.intrusion_set for a in other] == ["G0007"]
    assert {t.category for t in other[0].targets} == {"government"}
    assert sc.criminal.stuffing and sc.criminal.spraying


def test_quiet_has_no_state_actor() -> None:
    sc = load_scenario("quiet")
    assert sc.actors == [] and sc.criminal.stuffing and sc.criminal.spraying


def _doc() -> dict:
    return tomllib.loads(TINY.read_text())


def test_unknown_keys_are_named() -> None:
    doc = _doc()
    doc["actors"][0]["infrastucture"] = {}
    with pytest.raises(ScenarioError, match=r"unknown key\(s\) infrastucture"):
        parse_scenario(doc)


def test_unknown_networks_and_impossible_numbers_are_refused() -> None:
    doc = _doc()
    doc["actors"][0]["infrastructure"]["networks"] = ["no-such-net"]
    with pytest.raises(ScenarioError, match="unknown network"):
        parse_scenario(doc)
    doc = _doc()
    doc["actors"][0]["success"]["compromised"] = 99
    with pytest.raises(ScenarioError, match="compromised"):
        parse_scenario(doc)


def test_unknown_scenario_lists_the_builtin_ones() -> None:
    with pytest.raises(ScenarioError, match="phosphorus-2019"):
        load_scenario("nope")


def test_the_documented_example_scenario_runs(tmp_path: Path) -> None:
    """docs/scenarios.md carries an editable example; it must stay valid."""
    doc = Path(__file__).parents[2] / "docs" / "scenarios.md"
    text = doc.read_text()
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    sc = parse_scenario(tomllib.loads(example))
    assert sc.actors and sc.actors[0].intrusion_set


def test_cli_simulate_writes_files(tmp_path: Path) -> None:
    from idwatch.cli.main import app

    res = CliRunner().invoke(
        app, ["simulate", "--config", str(TINY), "--seed", "2", "--out", str(tmp_path), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "truth.json").exists() and (tmp_path / "labels.parquet").exists()
    bad = CliRunner().invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2
