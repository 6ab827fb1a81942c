"""Score an analysis (the store's campaigns and alerts) against a simulator's ground truth.

Reads only files: ``truth.json`` and the label file beside it, and the store's
``state/campaigns.json`` and ``state/alerts.parquet``. It never imports the simulator or the
analysis, so it can score any tool that writes the EVENTS.md section 5 output.

Account-level scores are cumulative per stage: "attacked" compares the accounts that reached
at least the attacked stage (attacked or compromised) in truth and in the finding.

Beside the score it reports the figures an honest evaluation needs on every seed: per state
campaign the compromised accounts its matched campaign misses and the attribution's confidence;
how many campaigns carry a state attribution; the accounts ``accounts.json`` marks compromised that
no actor compromised (as a share of all accounts); and whether ``accounts.json`` and the campaigns
tell the same story (accounts at each stage = the sum over campaigns + the accounts no campaign
holds, each account once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from idwatch.store import Store

STAGES = ("probed", "attacked", "compromised")
COUNT_KEYS = ("probes", "accounts_probed", "accounts_attacked", "accounts_compromised")


class NothingToScore(RuntimeError):
    """The store has no campaigns and no alerts yet (run detection and correlation first)."""


@dataclass
class PR:
    true: int
    found: int
    hit: int

    @property
    def precision(self) -> float | None:
        return self.hit / self.found if self.found else (1.0 if self.true == 0 else None)

    @property
    def recall(self) -> float | None:
        return self.hit / self.true if self.true else (1.0 if self.found == 0 else None)

    @property
    def f1(self) -> float:
        if self.true == 0 and self.found == 0:
            return 1.0
        return 2 * self.hit / (self.true + self.found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "true": self.true,
            "found": self.found,
            "hit": self.hit,
            "precision": _r(self.precision),
            "recall": _r(self.recall),
            "f1": _r(self.f1),
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _at_least(by_stage: dict[str, set[str]], stage: str) -> set[str]:
    keep = STAGES[STAGES.index(stage) :]
    return set().union(*(by_stage.get(s, set()) for s in keep))


def _found_by_stage(campaign: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {s: set() for s in STAGES}
    for a in campaign.get("accounts") or []:
        stage = a.get("stage") if isinstance(a, dict) else None
        account = (a.get("account") if isinstance(a, dict) else a) or ""
        out.get(stage or "probed", out["probed"]).add(str(account).strip().lower())
    return out


def _names(actor: dict[str, Any] | None) -> set[str]:
    if not actor:
        return set()
    return {str(n).strip().lower() for n in [actor.get("name"), *(actor.get("aliases") or [])] if n}


def _load_campaigns(store: Store) -> list[dict[str, Any]] | None:
    data = store.read_state_json("campaigns", None)
    if data is None:
        return None
    if isinstance(data, dict):  # tolerate {"campaigns": [...]}
        data = data.get("campaigns", [])
    return list(data)


def _event_scores(store: Store, labels: Path) -> dict[str, Any] | None:
    alerts = store.state_dir / "alerts.parquet"
    if not alerts.exists():
        return None
    con = duckdb.connect(":memory:")
    lab, al = str(labels).replace("'", "''"), str(alerts).replace("'", "''")
    con.execute(f"CREATE VIEW labels AS SELECT * FROM read_parquet('{lab}')")
    con.execute(
        f"CREATE VIEW alerted AS SELECT DISTINCT unnest(event_ids) AS event_id FROM read_parquet('{al}')"
    )
    out = {}
    for name, cond in (("attacker", "l.actor IS NOT NULL"), ("state", "l.kind = 'state'")):
        positives, alerted, hit = con.execute(f"""
            SELECT (SELECT count(*) FROM labels l WHERE {cond}),
                   (SELECT count(*) FROM alerted),
                   (SELECT count(*) FROM alerted a JOIN labels l USING (event_id) WHERE {cond})
        """).fetchone()
        out[name] = PR(true=positives, found=alerted, hit=hit).to_dict()
    return out


def _directory_size(truth_path: Path, store: Store) -> int:
    """Accounts the provider has: the simulated directory's rows, else the store's directory."""
    path = truth_path.parent / "directory.csv"
    con = duckdb.connect(":memory:")
    if path.exists():
        lit = str(path).replace("'", "''")
        q = f"SELECT count(DISTINCT account) FROM read_csv('{lit}', header = true, all_varchar = true)"
        return int(con.execute(q).fetchone()[0])
    rows = store.read_state_json("directory", None)
    return len(rows) if isinstance(rows, list) else 0


def account_story(accounts: list[dict[str, Any]], campaigns: list[dict[str, Any]]) -> dict[str, Any]:
    """Do ``accounts.json`` and the campaigns tell one story? Per stage (cumulative: attacked
    includes compromised) the accounts ``accounts`` puts at that stage or beyond must be exactly
    the accounts the campaigns list there plus those it says no campaign holds; each account is
    listed once. ``campaigns_sum`` (the campaigns' counts added up) exceeds the distinct accounts by
    the accounts two campaigns share (``shared``)."""
    names = [str(a.get("account", "")).strip().lower() for a in accounts]
    out: dict[str, Any] = {"duplicates": len(names) - len(set(names)), "stages": {}}
    agree = out["duplicates"] == 0
    found = [(c, _found_by_stage(c)) for c in campaigns]
    for stage, key in (("attacked", "accounts_attacked"), ("compromised", "accounts_compromised")):
        keep = STAGES[STAGES.index(stage) :]
        rows = {n for n, a in zip(names, accounts, strict=True) if a.get("status") in keep}
        alone = {
            n
            for n, a in zip(names, accounts, strict=True)
            if a.get("status") in keep and not a.get("campaigns")
        }
        held = set().union(*(_at_least(f, stage) for _, f in found)) if found else set()
        summed = sum(int((c.get("counts") or {}).get(key) or 0) for c in campaigns)
        same = rows == held | alone and summed >= len(held)
        agree &= same
        out["stages"][stage] = {
            "accounts": len(rows),
            "in_campaigns": len(held),
            "in_no_campaign": len(alone),
            "campaigns_sum": summed,
            "shared": summed - len(held),
            "only_in_accounts": len(rows - held - alone),
            "only_in_campaigns": len(held - rows),
            "agree": same,
        }
    out["agree"] = agree
    return out


def evaluate(truth_path: str | Path, store: Store, *, min_score: float = 0.5) -> dict[str, Any]:
    """Compare the store's findings with ``truth.json``; raises NothingToScore on an empty store."""
    truth_path = Path(truth_path)
    truth = json.loads(truth_path.read_text("utf-8"))
    labels = truth_path.parent / truth.get("labels_file", "labels.parquet")
    found = _load_campaigns(store)
    events = _event_scores(store, labels) if labels.exists() else None
    if not found and events is None:
        raise NothingToScore(
            f"nothing to score yet: {store.root} has no campaigns (state/campaigns.json) "
            "and no alerts (state/alerts.parquet); run `idwatch analyze` first"
        )
    found = found or []
    actors = {a["id"]: a for a in truth.get("actors", [])}
    found_sets = [(f, _found_by_stage(f)) for f in found]
    state_accounts: set[str] = set()
    results = []
    for c in truth.get("campaigns", []):
        t_sets = {s: {x.lower() for x in c["accounts"].get(s, [])} for s in STAGES}
        if c.get("kind") == "state":
            state_accounts |= _at_least(t_sets, "probed")
        t_all = _at_least(t_sets, "probed")
        best, best_key = None, (0, 0.0)
        for f, f_sets in found_sets:
            f_all = _at_least(f_sets, "probed")
            inter = len(t_all & f_all)
            key = (inter, inter / len(t_all | f_all) if t_all | f_all else 0.0)
            if inter and key > best_key:
                best, best_key = (f, f_sets), key
        f_sets = best[1] if best else {s: set() for s in STAGES}
        stages = {}
        for s in STAGES:
            t, fs = _at_least(t_sets, s), _at_least(f_sets, s)
            stages[s] = PR(true=len(t), found=len(fs), hit=len(t & fs))
        actor = actors.get(c.get("actor"), {})
        found_actor = best[0].get("actor") if best else None
        missing = sorted(_at_least(t_sets, "compromised") - _at_least(f_sets, "compromised"))
        if c.get("kind") == "state":
            correct = bool(_names(actor) & _names(found_actor))
        else:
            correct = best is not None and not found_actor
        counts = {}
        for k in COUNT_KEYS:
            tv = int(c["counts"].get(k, 0))
            fv = (best[0].get("counts") or {}).get(k) if best else None
            err = abs(int(fv) - tv) / max(tv, 1) if fv is not None else 1.0
            counts[k] = {"true": tv, "found": fv, "rel_error": round(err, 4)}
        mean_err = sum(min(v["rel_error"], 1.0) for v in counts.values()) / len(counts)
        parts = [stages[s].f1 for s in STAGES] + [1.0 if correct else 0.0, 1.0 - mean_err]
        results.append(
            {
                "truth_id": c["id"],
                "kind": c.get("kind"),
                "actor": actor.get("name"),
                "matched": best[0].get("id") if best else None,
                "overlap": best_key[0],
                "attribution": {
                    "expected": actor.get("name") if c.get("kind") == "state" else None,
                    "found": (found_actor or {}).get("name") if found_actor else None,
                    "correct": correct,
                    "confidence": (found_actor or {}).get("confidence") if found_actor else None,
                },
                "compromised_missing": len(missing),
                "accounts": {s: stages[s].to_dict() for s in STAGES},
                "counts": counts,
                "score": round(sum(parts) * (1.0 if best else 0.0) / len(parts), 4),
            }
        )
    wrong = []
    attributed = [(f, s) for f, s in found_sets if f.get("actor") and f.get("kind") != "criminal"]
    for f, f_sets in attributed:
        accts = _at_least(f_sets, "probed")
        share = len(accts & state_accounts) / len(accts) if accts else 0.0
        if share < 0.5:
            wrong.append(
                {
                    "id": f.get("id"),
                    "actor": (f.get("actor") or {}).get("name"),
                    "state_share": round(share, 4),
                }
            )
    # accounts.json: what it marks compromised that no actor got into, over all accounts
    true_comp: set[str] = set()
    touched: set[str] = set()
    for c in truth.get("campaigns", []):
        true_comp |= {x.lower() for x in c["accounts"].get("compromised", [])}
        touched |= {x.lower() for s in STAGES for x in c["accounts"].get(s, [])}
    listed = store.read_state_json("accounts", None)
    listed = listed if isinstance(listed, list) else []
    marked = {str(a.get("account", "")).lower() for a in listed if a.get("status") == "compromised"}
    n_accounts = _directory_size(truth_path, store)
    false_comp = marked - true_comp
    benign_comp = false_comp - touched
    compromised_accounts = {
        "marked": len(marked),
        "false": len(false_comp),
        "benign": len(benign_comp),
        "accounts": n_accounts,
        "benign_share": round(len(benign_comp) / n_accounts, 6) if n_accounts else None,
    }
    state_attributions = sum(1 for f in found if f.get("actor"))
    story = account_story(listed, found) if listed or found else None
    state = [r for r in results if r["kind"] == "state"]
    # with no state campaign to find (a quiet scenario), only the alerts and false attributions count
    parts = [r["score"] for r in state] or [1.0]
    score = sum(parts) / len(parts)
    if events is not None:
        # alerting on criminal attacks is right too: the event term is F1 over all attacker events
        score = (score * len(parts) + events["attacker"]["f1"]) / (len(parts) + 1)
    if attributed:
        score *= 1.0 - len(wrong) / len(attributed)
    return {
        "truth": str(truth_path),
        "store": str(store.root),
        "scenario": truth.get("scenario"),
        "score": round(score, 4),
        "passed": score >= min_score,
        "min_score": min_score,
        "campaigns": results,
        "wrong_attributions": wrong,
        "found_campaigns": len(found),
        "state_attributions": state_attributions,
        "compromised_accounts": compromised_accounts,
        "accounts_vs_campaigns": story,
        "events": events,
    }
