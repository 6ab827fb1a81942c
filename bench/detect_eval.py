"""Score the detection alerts of a store against a simulator's ground truth (account level).

    python bench/detect_eval.py --store DIR --sim SIMDIR
    python bench/detect_eval.py --family phosphorus-2020 --seeds 1-3 --vary --scale 0.3  # heldout_eval.py

Reads only the simulator's outputs (truth.json, labels.parquet, events) and state/alerts.parquet.
Benign look-alike populations are found by behaviour in the benign events: travellers (benign
sign-ins from two or more countries), VPN users (benign events on a VPN network) and forgotten
passwords (benign password resets). Accounts any actor touched are left out of those groups, and
so are identifiers that belong to nobody (not in the directory, never signed in: a benign typo of
an address); how many of those alerts list is reported as ``benign_nonexistent_identifiers``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb


def evaluate(store: Path, sim: Path) -> dict:
    truth = json.loads((sim / "truth.json").read_text())
    con = duckdb.connect()
    con.execute(f"CREATE VIEW alerts AS SELECT * FROM read_parquet('{store}/state/alerts.parquet')")
    con.execute(f"CREATE VIEW labels AS SELECT * FROM read_parquet('{sim / 'labels.parquet'}')")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{store}/events/*/*.parquet')")
    rows = []
    for c in truth["campaigns"]:
        for stage, accts in c["accounts"].items():
            rows += [(c["kind"], c["id"], stage, a) for a in accts]
    con.execute("CREATE TABLE truth_acc (kind VARCHAR, campaign VARCHAR, stage VARCHAR, account VARCHAR)")
    if rows:
        con.executemany("INSERT INTO truth_acc VALUES (?, ?, ?, ?)", rows)
    con.execute(
        "CREATE TABLE alerted AS SELECT DISTINCT UNNEST(accounts) AS account, stage, detection_id FROM alerts"
    )
    out: dict = {"alerts": con.execute("SELECT COUNT(*) FROM alerts").fetchall()[0][0]}
    out["alerts_by_detection"] = dict(
        con.execute("SELECT detection_id, COUNT(*) FROM alerts GROUP BY 1 ORDER BY 1").fetchall()
    )

    def q(sql: str) -> float:
        return con.execute(sql).fetchall()[0][0]

    for kind in ("state", "criminal"):
        attacked = (
            f"SELECT account FROM truth_acc WHERE kind = '{kind}' AND stage IN ('attacked', 'compromised')"
        )
        n = q(f"SELECT COUNT(DISTINCT account) FROM ({attacked})")
        hit = q(
            f"SELECT COUNT(DISTINCT account) FROM ({attacked}) WHERE account IN (SELECT account FROM alerted)"
        )
        comp = f"SELECT account FROM truth_acc WHERE kind = '{kind}' AND stage = 'compromised'"
        n_comp = q(f"SELECT COUNT(DISTINCT account) FROM ({comp})")
        comp_hit = q(
            f"SELECT COUNT(DISTINCT account) FROM ({comp}) WHERE account IN "
            "(SELECT account FROM alerted WHERE stage = 'compromise')"
        )
        out[kind] = {
            "attacked": n,
            "attacked_alerted": hit,
            "coverage": round(hit / n, 4) if n else None,
            "compromised": n_comp,
            "compromised_with_compromise_alert": comp_hit,
        }
    # precision: alerted existing accounts that some actor touched (any stage, any kind)
    n_alerted = q("SELECT COUNT(DISTINCT account) FROM alerted")
    n_true = q("SELECT COUNT(DISTINCT account) FROM alerted WHERE account IN (SELECT account FROM truth_acc)")
    out["precision_any_actor"] = round(n_true / n_alerted, 4) if n_alerted else None
    out["alerted_accounts"] = n_alerted
    # state-actor precision, leaving out accounts only criminals touched: the numerator (state
    # targets) is a subset of the denominator, so accounts both kinds touched count on both sides
    criminal_only = (
        "(SELECT account FROM truth_acc WHERE kind = 'criminal' "
        "EXCEPT SELECT account FROM truth_acc WHERE kind = 'state')"
    )
    n_state_alerted = q(f"SELECT COUNT(DISTINCT account) FROM alerted WHERE account NOT IN {criminal_only}")
    n_state_true = q(
        "SELECT COUNT(DISTINCT account) FROM alerted WHERE account IN "
        "(SELECT account FROM truth_acc WHERE kind = 'state')"
    )
    out["precision_state_excluding_criminal_targets"] = (
        round(n_state_true / n_state_alerted, 4) if n_state_alerted else None
    )
    con.execute("""
        CREATE TABLE benign_ev AS
        SELECT e.account, e.activity, e.outcome, e.country, e.network_type FROM events e
        JOIN labels l USING (event_id) WHERE l.kind = 'benign'""")
    directory = sim / "directory.csv"
    in_directory = (
        f"SELECT account FROM read_csv('{directory}', header = true, all_varchar = true)"
        if directory.exists()
        else "SELECT NULL AS account WHERE FALSE"
    )
    # People: identifiers in the directory or with a benign successful sign-in. A benign typo
    # of an identifier that does not exist is nobody's account; it is reported on its own.
    con.execute(f"""
        CREATE TABLE people AS {in_directory}
        UNION SELECT account FROM benign_ev WHERE activity = 'sign_in' AND outcome = 'success'""")
    touched = "(SELECT account FROM truth_acc)"
    typos = (
        f"SELECT DISTINCT account FROM benign_ev WHERE account NOT IN {touched} "
        "AND account NOT IN (SELECT account FROM people)"
    )
    out["benign_nonexistent_identifiers"] = {
        "identifiers": q(f"SELECT COUNT(*) FROM ({typos})"),
        "alerted": q(f"SELECT COUNT(*) FROM ({typos}) WHERE account IN (SELECT account FROM alerted)"),
    }
    groups = {
        "travellers": "SELECT account FROM benign_ev WHERE activity = 'sign_in' GROUP BY account "
        "HAVING COUNT(DISTINCT country) >= 2",
        "vpn_users": "SELECT DISTINCT account FROM benign_ev WHERE network_type = 'vpn'",
        "forgotten_password": "SELECT DISTINCT account FROM benign_ev WHERE activity IN "
        "('password_reset', 'account_recovery')",
        "all_benign": "SELECT DISTINCT account FROM benign_ev",
    }
    for name, sql in groups.items():
        base = (
            f"SELECT account FROM ({sql}) WHERE account NOT IN {touched} "
            "AND account IN (SELECT account FROM people)"
        )
        n = q(f"SELECT COUNT(*) FROM ({base})")
        hit = q(f"SELECT COUNT(*) FROM ({base}) WHERE account IN (SELECT account FROM alerted)")
        out[f"benign_{name}"] = {"accounts": n, "alerted": hit, "rate": round(hit / n, 5) if n else None}
    out["false_positive_by_detection"] = dict(
        con.execute(f"""
        SELECT detection_id, COUNT(DISTINCT account) FROM alerted
        WHERE account NOT IN {touched} AND account IN (SELECT account FROM benign_ev)
          AND account IN (SELECT account FROM people)
        GROUP BY 1 ORDER BY 2 DESC""").fetchall()
    )
    return out


def main() -> None:
    if "--family" in sys.argv:  # simulate + analyze + every Done-when figure: bench/heldout_eval.py
        sys.path.insert(0, str(Path(__file__).parent))
        from heldout_eval import main as heldout

        sys.exit(heldout(sys.argv[1:]))
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--sim", required=True, type=Path)
    args = ap.parse_args()
    print(json.dumps(evaluate(args.store, args.sim), indent=2))


if __name__ == "__main__":
    main()
