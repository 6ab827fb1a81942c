"""--vary and the logging conventions: each seed its own world, recorded, reproducible; relays,
single-use servers and the MFA-gated password step logged as a success, as vendors log them."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import duckdb
import pytest

from idwatch.simulate import simulate
from idwatch.simulate.scenario import ScenarioError, load_scenario

TINY = Path(__file__).with_name("tiny.toml")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in ("events.jsonl", "labels.parquet", "intel.json", "truth.json"):
        h.update((folder / f).read_bytes())
    return h.hexdigest()


def _events(out: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(
        f"CREATE VIEW ev AS SELECT * FROM read_json_auto('{out / 'events.jsonl'}') "
        f"JOIN read_parquet('{out / 'labels.parquet'}') USING (event_id)"
    )
    return con


def _variant(tmp_path: Path, **changes: object) -> Path:
    """tiny.toml with some tables replaced (top-level keys, or the first actor's)."""
    data = tomllib.loads(TINY.read_text())
    for key, value in changes.items():
        if key.startswith("kitten_"):
            data["actors"][0][key.removeprefix("kitten_")] = value
        else:
            data[key] = value
    lines: list[str] = []

    def emit(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict | list) or _flat(v)}
        lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if k in scalars:
                continue
            if isinstance(v, dict):
                emit(f"{prefix}.{k}", v)
            else:
                for item in v:
                    lines.append(f"[[{prefix}.{k}]]")
                    lines.extend(f"{a} = {_toml(b)}" for a, b in item.items())

    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"[[{key}]]")
                for a, b in item.items():
                    if isinstance(b, dict):
                        continue
                    if isinstance(b, list) and b and isinstance(b[0], dict):
                        continue
                    lines.append(f"{a} = {_toml(b)}")
                for a, b in item.items():
                    if isinstance(b, dict):
                        emit(f"{key}.{a}", b)
                    elif isinstance(b, list) and b and isinstance(b[0], dict):
                        for sub in b:
                            lines.append(f"[[{key}.{a}]]")
                            lines.extend(f"{x} = {_toml(y)}" for x, y in sub.items())
        else:
            emit(key, value)
    path = tmp_path / "variant.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _flat(v: object) -> bool:
    return isinstance(v, list) and not (v and isinstance(v[0], dict))


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(x)}" for k, x in v.items()) + " }"
    return str(v)


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("varied")
    return out, simulate("tiny", seed=11, out=out, config=TINY, vary=True)


def test_vary_is_reproducible_from_the_seed_and_recorded_in_the_truth(
    varied: tuple[Path, dict], tmp_path: Path
) -> None:
    out, truth = varied
    again = simulate("tiny", seed=11, out=tmp_path / "again", config=TINY, vary=True)
    assert _digest(tmp_path / "again") == _digest(out)
    written = json.loads((out / "truth.json").read_text())
    assert written["varied"] == again["varied"] == truth["varied"]
    params = written["varied"]
    assert {"population_factor", "population", "conventions", "tenants", "actors"} <= set(params)
    kitten = params["actors"][0]
    assert {"timezone", "exits", "intel_coverage", "user_agents", "burst_days", "attacked"} <= set(kitten)
    # the truth counts are the drawn ones, exactly
    counts = {c["id"]: c["counts"] for c in written["campaigns"]}
    assert counts["cmp-kitten"]["accounts_attacked"] == kitten["attacked"]
    assert counts["cmp-kitten"]["accounts_compromised"] == kitten["compromised"]
    assert counts["cmp-kitten"]["probes"] == kitten["probes"]


def test_seeds_draw_different_worlds(tmp_path: Path) -> None:
    drawn = [
        simulate("tiny", seed=s, out=tmp_path / str(s), config=TINY, vary=True)["varied"]
        for s in (21, 22, 23)
    ]
    assert len({json.dumps(d["conventions"], sort_keys=True) for d in drawn}) > 1
    assert len({d["population_factor"] for d in drawn}) == 3
    assert len({d["actors"][0]["exits"] for d in drawn}) > 1


def test_without_vary_the_truth_says_nothing_was_drawn(tiny_run: tuple[Path, dict]) -> None:
    out, _ = tiny_run
    assert "varied" not in json.loads((out / "truth.json").read_text())
    assert load_scenario(path=TINY).conventions.mfa_logging == "pending"


def test_the_password_step_logged_as_success_is_tied_to_its_challenge(tmp_path: Path) -> None:
    cfg = _variant(
        tmp_path,
        conventions={
            "mfa_logging": "password_success",
            "operator_device": "reuse",
            "operator_workstations": 1,
        },
    )
    truth = simulate("tiny", seed=5, out=tmp_path / "out", config=cfg)
    con = _events(tmp_path / "out")
    assert (
        con.execute("SELECT count(*) FROM ev WHERE activity = 'sign_in' AND outcome = 'pending'").fetchone()[
            0
        ]
        == 0
    )
    # every challenge has its password step in the same session
    orphans = con.execute("""
        SELECT count(*) FROM ev c WHERE activity = 'mfa_challenge' AND NOT EXISTS (
            SELECT 1 FROM ev s WHERE s.activity = 'sign_in' AND s.session_id = c.session_id
              AND s.account = c.account)""").fetchone()[0]
    assert orphans == 0
    # a password success stopped by the second factor is no compromise in the truth
    stopped = {
        r[0]
        for r in con.execute("""
            SELECT account FROM ev WHERE campaign = 'cmp-kitten' GROUP BY account, session_id
            HAVING bool_or(activity = 'sign_in' AND outcome = 'success')
               AND bool_or(activity = 'mfa_challenge')
               AND NOT bool_or(activity = 'mfa_challenge' AND outcome = 'success')
        """).fetchall()
    }
    kitten = next(c for c in truth["campaigns"] if c["id"] == "cmp-kitten")
    won_elsewhere = set(kitten["accounts"]["compromised"])
    assert kitten["counts"]["accounts_compromised"] == 2
    assert stopped - won_elsewhere <= set(kitten["accounts"]["attacked"])
    # the operators keep their browser: one device id across their sessions
    devices = con.execute(
        "SELECT count(DISTINCT device_id), count(DISTINCT session_id) FROM ev WHERE campaign = 'cmp-kitten'"
    ).fetchone()
    assert devices[0] == 1 and devices[1] > 20


def test_a_relay_comes_from_a_server_rented_for_that_victim(tmp_path: Path) -> None:
    cfg = _variant(
        tmp_path,
        kitten_attack={"methods": {"relay": 1.0}, "attempts": [1, 2]},
        kitten_success={"compromised": 3, "via": "relay", "post": ["mailbox_rule"], "post_share": 0.5},
        kitten_infrastructure={
            "ips": 4,
            "networks": ["digitalocean", "vultr", "ovh"],
            "shared_vpn_ips": 0,
            "per_victim": True,
            "intel_coverage": 0.2,
        },
    )
    truth = simulate("tiny", seed=6, out=tmp_path / "out", config=cfg)
    con = _events(tmp_path / "out")
    per_ip = con.execute("""
        SELECT src_ip, count(DISTINCT account) FROM ev
        WHERE campaign = 'cmp-kitten' AND account_exists AND activity IN ('sign_in', 'mfa_challenge')
        GROUP BY 1""").fetchall()
    assert per_ip and all(n == 1 for _, n in per_ip)
    kitten = next(c for c in truth["campaigns"] if c["id"] == "cmp-kitten")
    assert kitten["counts"]["accounts_compromised"] == 3
    # the victim's own sign-in around the relay is the victim's (benign), from their usual place
    assert (
        con.execute(
            "SELECT count(*) FROM ev WHERE kind = 'benign' AND account IN (SELECT account FROM ev "
            "WHERE campaign = 'cmp-kitten' AND activity = 'sign_in')"
        ).fetchone()[0]
        > 0
    )


def test_an_unknown_attack_method_or_convention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="unknown attack method"):
        simulate(
            "tiny", seed=1, out=tmp_path, config=_variant(tmp_path, kitten_attack={"methods": {"phish": 1.0}})
        )
    with pytest.raises(ScenarioError, match="mfa_logging"):
        simulate("tiny", seed=1, out=tmp_path, config=_variant(tmp_path, conventions={"mfa_logging": "odd"}))


def test_the_2020_family_loads_with_its_relay_and_spraying_actors() -> None:
    sc = load_scenario("phosphorus-2020")
    by_id = {a.id: a for a in sc.actors}
    assert by_id["phosphorus"].attack.methods == {"relay": 1.0}
    assert by_id["phosphorus"].infrastructure.per_victim
    assert {"tor-sef", "tor-f3"} <= set(by_id["strontium"].infrastructure.networks)
    assert sc.conventions.mfa_logging == "password_success"
    assert any(t.corporate_vpn for t in sc.tenants) and any(t.office_network for t in sc.tenants)


@pytest.fixture(scope="module")
def lookalikes(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """tiny with the benign look-alikes of a relay turned up: password managers, a company VPN,
    an office that egresses from another country."""
    tmp = tmp_path_factory.mktemp("lookalikes")
    data = tomllib.loads(TINY.read_text())
    for t in data["tenants"]:
        if t["domain"] == "agency.gov":
            t["corporate_vpn"] = 0.8
        if t["domain"] == "campaign2020.com":
            t["office_network"] = "bt-business"  # backhauled to a head office in London
    cfg = _variant(
        tmp,
        tenants=data["tenants"],
        conventions={"password_manager": 0.5, "mfa_logging": "password_success"},
    )
    simulate("tiny", seed=9, out=tmp / "out", config=cfg)
    return _events(tmp / "out")


def test_password_managers_fill_the_code_within_seconds(lookalikes: duckdb.DuckDBPyConnection) -> None:
    fast = lookalikes.execute("""
        SELECT count(*) FROM ev c JOIN ev s USING (session_id, account)
        WHERE c.kind = 'benign' AND c.activity = 'mfa_challenge' AND c.outcome = 'success'
          AND s.activity = 'sign_in' AND s.outcome = 'success'
          AND c.time - s.time < INTERVAL 4 SECOND""").fetchone()[0]
    assert fast > 20


def test_a_company_vpn_carries_sessions_from_home_through_the_office(
    lookalikes: duckdb.DuckDBPyConnection,
) -> None:
    office = {
        r[0]
        for r in lookalikes.execute("""
            SELECT src_ip FROM ev WHERE tenant = 'agency.gov' AND kind = 'benign'
            GROUP BY 1 HAVING count(DISTINCT account) > 10""").fetchall()
    }
    weekend = lookalikes.execute(
        "SELECT count(*) FROM ev WHERE tenant = 'agency.gov' AND kind = 'benign' AND activity = 'sign_in'"
        " AND dayofweek(time) IN (0, 6) AND list_contains(?, src_ip)",
        [sorted(office)],
    ).fetchone()[0]
    assert office and weekend > 10


def test_an_office_can_egress_from_another_country(lookalikes: duckdb.DuckDBPyConnection) -> None:
    countries = dict(
        lookalikes.execute("""
            SELECT country, count(*) FROM ev WHERE tenant = 'campaign2020.com' AND kind = 'benign'
              AND asn_org = 'BT-UK-AS' GROUP BY 1""").fetchall()
    )
    assert countries.get("GB", 0) > 50
