"""Every "Done when" figure of issue #21, per seed and aggregated, on freshly simulated logs.

    python bench/heldout_eval.py --family phosphorus-2020 --family quiet --seeds 1-3 --vary --scale 0.3
    python bench/detect_eval.py --family phosphorus-2019 --seeds 1,2 --vary     # the same

For each family (a built-in scenario) and seed: simulate (``--vary`` draws the seed's parameters),
then what ``idwatch run`` does (ingest, directory, intel, analyze) into a scratch store, then score
with ``idwatch.evaluate``. Printed per seed and over all seeds of a family:

- state actors: attacked-account recall and precision of the matched campaign; compromised
  accounts missing from it; % off of the probe / attacked / compromised counts; the right actor
  and its confidence;
- state attributions (on ``quiet`` any is a false one);
- accounts marked compromised that no actor compromised, as % of all accounts;
- whether ``accounts.json`` and the campaigns agree.

Seeds 1001..1010 with ``--vary`` are the HELD-OUT seeds: no rule is written or tuned on them, and
they run only with ``--heldout`` (to judge a finished change, never while writing one). Development seeds are
1..99.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HELDOUT = range(1001, 1011)
# The issue's bar (#21, "Done when"): what each figure must reach on every held-out seed.
BAR = {"recall": 0.97, "precision": 0.95, "count_off": 0.02, "confidence": 85, "benign_share": 0.0001}


def parse_seeds(text: str) -> list[int]:
    """'1-3,7' -> [1, 2, 3, 7]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(family: str, seed: int, vary: bool, scale: float, scratch: Path, keep: bool) -> dict[str, Any]:
    """Simulate, analyze and score one seed in this process; returns the figures."""
    from idwatch.correlate.pipeline import analyze
    from idwatch.directory import import_directory
    from idwatch.evaluate import evaluate
    from idwatch.ingest import ingest_paths
    from idwatch.intel import import_intel
    from idwatch.simulate import simulate
    from idwatch.store import Store

    config = Path(family) if family.endswith(".toml") else None  # a scenario file instead of a name
    root = scratch / f"{Path(family).stem}-{seed}{'-vary' if vary else ''}"
    shutil.rmtree(root, ignore_errors=True)
    sim, t0 = root / "sim", time.perf_counter()
    try:
        truth = simulate(family, seed=seed, scale=scale, out=sim, vary=vary, config=config)
        st = Store(root / "store")
        ingest_paths(st, [str(sim / truth["events_file"])])
        import_directory(st, str(sim / "directory.csv"))
        import_intel(st, str(sim / "intel.json"))
        analyze(st)
        result = evaluate(sim / "truth.json", st)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return figures(Path(family).stem, seed, truth, result, time.perf_counter() - t0)


def figures(family: str, seed: int, truth: dict, result: dict, seconds: float) -> dict[str, Any]:
    """The Done-when figures of one scored seed."""
    actors = []
    for c in result["campaigns"]:
        if c["kind"] != "state":
            continue
        att = c["accounts"]["attacked"]
        off = {
            k: c["counts"][k]["rel_error"] for k in ("probes", "accounts_attacked", "accounts_compromised")
        }
        actors.append(
            {
                "actor": c["actor"],
                "recall": att["recall"],
                "precision": att["precision"],
                "attacked": att["true"],
                "compromised": c["accounts"]["compromised"]["true"],
                "compromised_missing": c["compromised_missing"],
                "count_off": off,
                "attributed": c["attribution"]["found"],
                "correct": c["attribution"]["correct"],
                "confidence": c["attribution"]["confidence"],
            }
        )
    story = result.get("accounts_vs_campaigns") or {}
    comp = result["compromised_accounts"]
    return {
        "family": family,
        "seed": seed,
        "events": truth["events"],
        "seconds": round(seconds, 1),
        "varied": "varied" in truth,
        "state": actors,
        "state_attributions": result["state_attributions"],
        "benign_compromised": comp["benign"],
        "benign_share": comp["benign_share"],
        "accounts_agree": story.get("agree"),
        "score": result["score"],
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'family':<16}{'seed':>5} {'actor':<14}{'recall':>7}{'prec':>7}{'comp':>6}{'miss':>5}"
        f"{'probes':>8}{'attckd':>8}{'compr':>8} {'attributed to':<16}{'conf':>5}{'st.attr':>8}"
        f"{'benign comp':>12}{'agree':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        tail = f"{r['state_attributions']:>8}{r['benign_compromised']:>5} {_pct(r['benign_share']):>6}"
        tail += f"{'yes' if r['accounts_agree'] else 'NO':>6}"
        if not r["state"]:
            print(
                f"{r['family']:<16}{r['seed']:>5} {'(no state)':<14}{'':>7}{'':>7}{'':>6}{'':>5}"
                f"{'':>8}{'':>8}{'':>8} {'':<16}{'':>5}{tail}"
            )
        for a in r["state"]:
            o = a["count_off"]
            off = "".join(f"{_pct(o[k]):>8}" for k in ("probes", "accounts_attacked", "accounts_compromised"))
            conf = "-" if a["confidence"] is None else a["confidence"]
            print(
                f"{r['family']:<16}{r['seed']:>5} {a['actor'][:13]:<14}{a['recall'] or 0:>7.3f}"
                f"{a['precision'] or 0:>7.3f}{a['compromised']:>6}{a['compromised_missing']:>5}"
                f"{off} {(a['attributed'] or '-')[:15]:<16}{conf:>5}"
                f"{tail}"
            )


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per family: the worst value of each figure over its seeds, and whether it meets the bar."""
    out: dict[str, Any] = {}
    for fam in sorted({r["family"] for r in rows}):
        rs = [r for r in rows if r["family"] == fam]
        st = [a for r in rs for a in r["state"]]
        agg: dict[str, Any] = {"seeds": len(rs)}
        if st:
            agg["min_recall"] = min(a["recall"] or 0 for a in st)
            agg["min_precision"] = min(a["precision"] or 0 for a in st)
            agg["compromised_missing"] = sum(a["compromised_missing"] for a in st)
            agg["compromised_true"] = sum(a["compromised"] for a in st)
            agg["max_count_off"] = max(max(a["count_off"].values()) for a in st)
            agg["right_actor"] = sum(1 for a in st if a["correct"])
            agg["state_campaigns"] = len(st)
            agg["min_confidence_right"] = min((a["confidence"] or 0) if a["correct"] else 0 for a in st)
        agg["state_attributions"] = sum(r["state_attributions"] for r in rs)
        agg["max_benign_share"] = max(r["benign_share"] or 0 for r in rs)
        agg["accounts_agree"] = all(r["accounts_agree"] for r in rs)
        checks = {
            "benign compromised <= 0.01 %": agg["max_benign_share"] <= BAR["benign_share"],
            "accounts = campaigns": agg["accounts_agree"],
        }
        if st:
            checks |= {
                "recall >= 0.97": agg["min_recall"] >= BAR["recall"],
                "precision >= 0.95": agg["min_precision"] >= BAR["precision"],
                "every compromise in its campaign": agg["compromised_missing"] == 0,
                "counts within 2 %": agg["max_count_off"] <= BAR["count_off"],
                "right actor at >= 85": agg["right_actor"] == len(st)
                and agg["min_confidence_right"] >= BAR["confidence"],
            }
        else:
            checks["no state attribution"] = agg["state_attributions"] == 0
        agg["checks"] = checks
        out[fam] = agg
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--family", action="append", required=True, help="built-in scenario or .toml file (repeatable)"
    )
    ap.add_argument("--seeds", default="1-3", help="e.g. 1-3 or 1,5,9 (development seeds: 1..99)")
    ap.add_argument(
        "--vary", action="store_true", help="draw each seed's parameters (idwatch simulate --vary)"
    )
    ap.add_argument("--scale", type=float, default=1.0, help="population scale (0.3 for a quick run)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds analysed in parallel (one process each)")
    ap.add_argument("--scratch", type=Path, default=Path("heldout-scratch"), help="scratch folder")
    ap.add_argument("--keep", action="store_true", help="keep the simulated logs and stores")
    ap.add_argument("--heldout", action="store_true", help="allow the held-out seeds 1001..1010")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    held = [s for s in seeds if s in HELDOUT]
    if held and not args.heldout:
        print(
            f"seeds {held} are held out: never tune a rule on them; pass --heldout to run them",
            file=sys.stderr,
        )
        return 2
    jobs = [(f, s) for f in args.family for s in seeds]
    args.scratch.mkdir(parents=True, exist_ok=True)
    call = (args.vary, args.scale, args.scratch, args.keep)
    if args.jobs <= 1:
        rows = [run_one(f, s, *call) for f, s in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_one, f, s, *call) for f, s in jobs]
            rows = [fu.result() for fu in futures]
    agg = aggregate(rows)
    if args.json:
        print(json.dumps({"seeds": rows, "families": agg}, indent=1))
        return 0
    print_table(rows)
    print()
    for fam, a in agg.items():
        figures_ = {k: v for k, v in a.items() if k != "checks"}
        print(f"{fam}: {json.dumps(figures_)}")
        for name, ok in a["checks"].items():
            print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
