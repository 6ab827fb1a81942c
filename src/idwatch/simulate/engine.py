"""Run a scenario: build the population, plan the attacks, stream day by day to disk, write truth.

Memory stays bounded: only one day of events is held at a time (plus the attackers' events, which
are needed for the truth and are a small fraction). Every random choice comes from generators
seeded by (seed, component, day), so the same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idwatch.simulate.actors import StateActor
from idwatch.simulate.benign import DAY_US, benign_days, events_per_day
from idwatch.simulate.clock import epoch_us
from idwatch.simulate.criminal import SPRAYING, STUFFING, Criminals
from idwatch.simulate.frame import BATCH_SCHEMA
from idwatch.simulate.intel import build_bundle, find_intrusion_set
from idwatch.simulate.population import build_population
from idwatch.simulate.scenario import Scenario, load_scenario
from idwatch.simulate.truth import campaign_truth
from idwatch.simulate.vary import fit_to_population, vary_scenario
from idwatch.simulate.writer import EventWriter, finalize

CHUNK_EVENTS = 250_000
COMPONENT = {
    "population": 1,
    "criminal": 2,
    "actors": 3,
    "intel": 4,
    "benign": 10,
    "crimday": 11,
    "final": 12,
}


def _rng(seed: int, component: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, COMPONENT[component], *more])


def simulate(
    scenario: str,
    *,
    seed: int = 1,
    scale: float = 1.0,
    out: Path,
    fmt: str = "jsonl",
    config: Path | None = None,
    progress: Any = None,
    vary: bool = False,
) -> dict:
    """Generate a scenario into ``out``; returns the truth (also written to ``out/truth.json``).

    ``scenario`` names a built-in scenario; ``config`` (a TOML file) overrides it when given.
    ``progress`` is an optional callable ``(day, days, rows)`` for a progress display.
    ``vary`` draws this seed's parameters from realistic ranges (``idwatch.simulate.vary``).
    """
    sc = load_scenario(scenario if config is None else None, config)
    if scale <= 0:
        raise ValueError("scale must be positive")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    varied: dict | None = None
    if vary:
        sc, varied = vary_scenario(sc, seed)
        scale *= varied["population_factor"]
    pop = build_population(sc, _rng(seed, "population"), scale)
    if varied is not None:
        fit_to_population(sc, pop, varied)
    ipt = pop.ipt
    criminals = Criminals(sc, pop, ipt, _rng(seed, "criminal"), scale)
    taken: set[str] = set()
    actors = [StateActor(sc, a, pop, ipt, _rng(seed, "actors", i), taken) for i, a in enumerate(sc.actors)]
    ipt.freeze()

    writer = EventWriter(out, fmt)
    attack_parts: list[pa.Table] = []
    emitted = {a.campaign_id: 0 for a in actors}
    start_us = epoch_us(sc.start)
    # benign days are drawn in chunks of about CHUNK_EVENTS events: bounded memory, few calls
    chunk = max(1, min(sc.days, int(CHUNK_EVENTS // events_per_day(pop))))
    carry = BATCH_SCHEMA.empty_table()
    try:
        for first in range(0, sc.days, chunk):
            n_days = min(chunk, sc.days - first)
            block = pa.concat_tables(
                [carry, benign_days(sc, pop, first, n_days, start_us, _rng(seed, "benign", first))]
            )
            block = block.take(pc.sort_indices(block, [("time", "ascending")]))
            times = block.column("time").to_numpy()
            for day in range(first, first + n_days):
                day0 = start_us + day * DAY_US
                lo, hi = (int(i) for i in np.searchsorted(times, [day0, day0 + DAY_US]))
                parts = [block.slice(lo, hi - lo), criminals.day(day, day0, _rng(seed, "crimday", day))]
                for a in actors:
                    part = a.day(day0)
                    emitted[a.campaign_id] += part.num_rows
                    parts.append(part)
                events, labels = finalize(
                    pa.concat_tables(parts),
                    ipt,
                    _rng(seed, "final", day),
                    sc.network_fields,
                    sc.country_field,
                )
                writer.write(events, labels)
                attack_parts += _hostile(events, labels)
                if progress:
                    progress(day + 1, sc.days, writer.rows)
            carry = block.slice(hi)
    finally:
        writer.close()
    for a in actors:
        if emitted[a.campaign_id] != a.events.num_rows:
            raise RuntimeError(
                f"actor {a.cfg.id}: {a.events.num_rows - emitted[a.campaign_id]} events fell "
                "outside the scenario period"
            )

    (out / "directory.csv").write_text(_csv(pop.directory()), encoding="utf-8")
    bundle = build_bundle(sc, seed, ipt, actors, _rng(seed, "intel"))
    (out / "intel.json").write_text(json.dumps(bundle, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    truth = _truth(sc, seed, scale, actors, attack_parts, writer, fmt)
    if varied is not None:
        truth["varied"] = varied
    truth["generation"] = {"events": writer.rows, "seconds": round(time.perf_counter() - started, 2)}
    (out / "truth.json").write_text(
        json.dumps({k: v for k, v in truth.items() if k != "generation"}, indent=1) + "\n", encoding="utf-8"
    )
    return truth


def _hostile(events: pa.Table, labels: pa.Table) -> list[pa.Table]:
    """The attackers' events of a day, in the shape the truth is computed from."""
    hostile = pc.is_valid(labels.column("campaign"))
    if not pc.any(hostile).as_py():
        return []
    att, lab = events.filter(hostile), labels.filter(hostile)
    return [
        pa.table(
            {
                "time": pc.cast(pc.cast(att.column("time"), pa.timestamp("us")), pa.int64()),
                "account": att.column("account"),
                "account_exists": att.column("account_exists"),
                "activity": att.column("activity"),
                "step": att.column("step"),
                "outcome": att.column("outcome"),
                "session_id": att.column("session_id"),
                "campaign": lab.column("campaign"),
            }
        )
    ]


def _csv(table: pa.Table) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.column_names)
    cols = [c.to_pylist() for c in table.columns]
    for row in zip(*cols, strict=True):
        w.writerow(["true" if v is True else "false" if v is False else v for v in row])
    return buf.getvalue()


def _truth(
    sc: Scenario,
    seed: int,
    scale: float,
    actors: list[StateActor],
    parts: list[pa.Table],
    writer: EventWriter,
    fmt: str,
) -> dict:
    by_campaign = campaign_truth(pa.concat_tables(parts)) if parts else {}
    out_actors = []
    campaigns = []
    for a in actors:
        iset = find_intrusion_set(a.cfg.intrusion_set)
        out_actors.append(
            {
                "id": a.actor_id,
                "name": iset["name"],
                "aliases": list(iset.get("aliases") or []),
                "kind": a.cfg.kind,
                "stix_id": iset["id"],
            }
        )
        got = by_campaign.get(a.campaign_id)
        if got is None:
            continue
        want = {
            "probes": a.cfg.research.probes,
            "accounts_attacked": sum(t.attacked for t in a.cfg.targets),
            "accounts_compromised": a.cfg.success.compromised,
        }
        for k, v in want.items():
            if got["counts"][k] != v:
                raise RuntimeError(
                    f"actor {a.cfg.id}: generated {k}={got['counts'][k]} but the scenario asks {v}"
                )
        campaigns.append({"id": a.campaign_id, "actor": a.actor_id, "kind": a.cfg.kind, **got})
    for (actor_id, cid), name in ((STUFFING, "credential-stuffing botnet"), (SPRAYING, "password sprayer")):
        if cid in by_campaign:
            out_actors.append(
                {"id": actor_id, "name": name, "aliases": [], "kind": "criminal", "stix_id": None}
            )
            campaigns.append({"id": cid, "actor": actor_id, "kind": "criminal", **by_campaign[cid]})
    return {
        "scenario": sc.name,
        "seed": seed,
        "scale": scale,
        "start": sc.start.isoformat(),
        "end": sc.end.isoformat(),
        "events": writer.rows,
        "events_file": f"events.{fmt}",
        "labels_file": "labels.parquet",
        "actors": out_actors,
        "campaigns": campaigns,
    }
