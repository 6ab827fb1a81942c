"""Commands: simulate (labelled telemetry with nation-state campaigns) and evaluate (score vs truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from idwatch.cli.app import JsonOpt, StoreOpt, app

console = Console()
err_console = Console(stderr=True)


@app.command()
def simulate(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", "-s", help="Built-in scenario: phosphorus-2019, phosphorus-2020, quiet, demo."
        ),
    ] = "phosphorus-2019",
    config: Annotated[
        Optional[Path],  # noqa: UP045 - Typer needs Optional on 3.11
        typer.Option("--config", help="A scenario TOML file (see docs/scenarios.md)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same bytes.")] = 1,
    scale: Annotated[
        float, typer.Option("--scale", help="Multiply the population (and criminal volume).")
    ] = 1.0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("sim-out"),
    fmt: Annotated[str, typer.Option("--format", help="jsonl | parquet")] = "jsonl",
    list_: Annotated[bool, typer.Option("--list", help="List the built-in scenarios and exit.")] = False,
    vary: Annotated[
        bool,
        typer.Option(
            "--vary",
            help="Draw this seed's parameters (population, pacing, exits, intel share, browsers, "
            "operator time zone, logging conventions) from realistic ranges; recorded in truth.json.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write simulated identity-provider logs with ground truth (events, directory, intel, truth, labels)."""
    from idwatch.simulate import simulate as run
    from idwatch.simulate.scenario import ScenarioError, builtin_names, load_scenario

    if list_ and json_out:
        print(json.dumps([{"name": n, "description": load_scenario(n).description} for n in builtin_names()]))
        return
    if list_:
        for name in builtin_names():
            console.print(f"[bold]{name}[/bold]: {load_scenario(name).description}")
        return

    def progress(day: int, days: int, rows: int) -> None:
        if not json_out and console.is_terminal:
            console.print(f"\rday {day}/{days}  {rows:,} events", end="")

    try:
        truth = run(
            scenario, seed=seed, scale=scale, out=out, fmt=fmt, config=config, progress=progress, vary=vary
        )
    except (ScenarioError, ValueError, OSError) as exc:
        err_console.print(f"\n[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    gen = truth.get("generation", {})
    if json_out:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "events": truth["events"],
                    "seconds": gen.get("seconds"),
                    "varied": truth.get("varied"),
                    "campaigns": [
                        {"id": c["id"], "actor": c["actor"], "counts": c["counts"]}
                        for c in truth["campaigns"]
                    ],
                }
            )
        )
        return
    if console.is_terminal:
        console.print()
    varied = " varied" if vary else ""
    table = Table(title=f"{truth['scenario']} (seed {seed}{varied}, scale {scale}) -> {out}")
    for col in ("campaign", "kind", "probes", "accounts probed", "attacked", "compromised"):
        table.add_column(col, justify="left" if col in ("campaign", "kind") else "right")
    names = {a["id"]: a["name"] for a in truth["actors"]}
    for c in truth["campaigns"]:
        n = c["counts"]
        table.add_row(
            names.get(c["actor"], c["actor"]),
            c["kind"],
            f"{n['probes']:,}",
            f"{n['accounts_probed']:,}",
            f"{n['accounts_attacked']:,}",
            f"{n['accounts_compromised']:,}",
        )
    console.print(table)
    console.print(
        f"{truth['events']:,} events in {gen.get('seconds')} s; files: events.{fmt}, labels.parquet, "
        "directory.csv, intel.json, truth.json"
    )


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="truth.json written by `idwatch simulate`.")],
    store: StoreOpt = None,
    min_score: Annotated[
        float, typer.Option("--min-score", help="Exit 1 when the score is below this.")
    ] = 0.5,
    json_out: JsonOpt = False,
) -> None:
    """Score the store's campaigns and alerts against simulated ground truth."""
    from idwatch.evaluate import NothingToScore
    from idwatch.evaluate import evaluate as run
    from idwatch.store import Store, StoreError

    if not truth.is_file():
        err_console.print(f"[red]error:[/red] no truth file at {truth}")
        raise typer.Exit(2)
    try:
        result = run(truth, Store(store, create=False), min_score=min_score)
    except NothingToScore as exc:
        if json_out:
            print(json.dumps({"error": "nothing_to_score", "message": str(exc)}))
        else:
            err_console.print(f"[yellow]{exc}[/yellow]")
        raise typer.Exit(3) from exc
    except (StoreError, OSError, ValueError, KeyError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if json_out:
        print(json.dumps(result))
    else:
        _print(result)
    if not result["passed"]:
        raise typer.Exit(1)


def _fmt(x: object) -> str:
    return "-" if x is None else f"{x:.2f}" if isinstance(x, float) else str(x)


def _print(result: dict) -> None:
    console.print(f"[bold]evaluation of {result['store']} against {result['scenario']}[/bold]")
    count_keys = {
        "probed": "accounts_probed",
        "attacked": "accounts_attacked",
        "compromised": "accounts_compromised",
    }
    for c in result["campaigns"]:
        attr = c["attribution"]
        ok = "[green]correct[/green]" if attr["correct"] else "[red]wrong[/red]"
        said = attr["found"] or "not attributed"
        t = Table(
            title=f"{c['actor']} ({c['kind']}) -> {c['matched'] or 'no match'}; attribution: {said}, {ok}",
            title_justify="left",
        )
        for col in ("stage", "precision", "recall", "true", "found", "rel. error"):
            t.add_column(col, justify="left" if col == "stage" else "right")
        for stage, key in count_keys.items():
            a, n = c["accounts"][stage], c["counts"][key]
            t.add_row(
                f"accounts {stage}",
                _fmt(a["precision"]),
                _fmt(a["recall"]),
                _fmt(n["true"]),
                _fmt(n["found"]),
                _fmt(n["rel_error"]),
            )
        p = c["counts"]["probes"]
        t.add_row("probe events", "", "", _fmt(p["true"]), _fmt(p["found"]), _fmt(p["rel_error"]))
        console.print(t)
    if result["events"]:
        e = Table(title="alerts vs labelled events", title_justify="left")
        for col in ("events", "labelled", "alerted", "hit", "precision", "recall"):
            e.add_column(col, justify="left" if col == "events" else "right")
        for k, v in result["events"].items():
            e.add_row(
                k, str(v["true"]), str(v["found"]), str(v["hit"]), _fmt(v["precision"]), _fmt(v["recall"])
            )
        console.print(e)
    for w in result["wrong_attributions"]:
        console.print(
            f"[red]wrongly attributed:[/red] {w['id']} -> {w['actor']} "
            f"(only {w['state_share']:.0%} of its accounts were state targets)"
        )
    colour = "green" if result["passed"] else "red"
    console.print(f"score [{colour}]{result['score']:.3f}[/{colour}] (pass >= {result['min_score']})")
