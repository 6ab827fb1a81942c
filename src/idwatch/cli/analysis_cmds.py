"""Commands: analyze, campaigns, accounts, campaign, report, run, demo.

Thin: parse, call ``idwatch.correlate`` / ``idwatch.report``, print. The JSON outputs of
``campaigns`` and ``accounts`` are EVENTS.md section 5 exactly (a contract for scripts).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from idwatch.cli.app import JsonOpt, StoreOpt, app, id_width
from idwatch.report.jsonreport import json_default
from idwatch.store import Store, StoreError

console = Console()
err_console = Console(stderr=True)

CAMPAIGN_KEYS = (
    "id",
    "actor",
    "first_seen",
    "last_seen",
    "counts",
    "infrastructure",
    "techniques",
    "accounts",
    "evidence",
)
CAMPAIGN_EXTRA_KEYS = ("kind", "hypotheses", "categories", "tenants", "alert_ids")
ACCOUNT_KEYS = ("account", "tenant", "status", "risk", "campaigns", "alerts")
EVIDENCE_KEYS = ("kind", "detail", "weight")


def _store(path: str | None, *, create: bool = True) -> Store:
    try:
        return Store(path, create=create)
    except StoreError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def contract_campaign(obj: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """A campaign object with exactly the EVENTS.md section 5 keys (plus the extras when ``full``)."""
    out = {k: obj.get(k) for k in CAMPAIGN_KEYS}
    out["evidence"] = [{k: e.get(k) for k in EVIDENCE_KEYS} for e in obj.get("evidence") or []]
    if full:
        out.update({k: obj[k] for k in CAMPAIGN_EXTRA_KEYS if k in obj})
    return out


def _load_campaigns(st: Store) -> list[dict[str, Any]]:
    campaigns = st.read_state_json("campaigns")
    if campaigns is None:
        err_console.print("[yellow]no analysis yet:[/yellow] run `idwatch analyze` first.")
        raise typer.Exit(1)
    return campaigns


def _analysed_store(path: str | None) -> Store:
    """The store to analyse: it must exist and hold events (nothing is created on the way)."""
    st = _store(path, create=False)
    if not st.events_dir.is_dir():
        err_console.print(
            f"[red]error:[/red] no store at {st.root}: ingest events first (`idwatch ingest FILE "
            "--store DIR`), or name the store with --store / $IDWATCH_STORE."
        )
        raise typer.Exit(2)
    if next(st.events_dir.rglob("*.parquet"), None) is None:
        err_console.print(f"[red]error:[/red] the store {st.root} holds no events: nothing to analyse.")
        raise typer.Exit(2)
    return st


def headline_sentence(head: dict[str, Any]) -> str:
    """How the headline adds up: the sum over campaigns, less accounts two campaigns share, plus
    the accounts no campaign holds (the figures ``idwatch accounts`` reports)."""
    parts = []
    for key, word in (("accounts_attacked", "attacked"), ("accounts_compromised", "compromised")):
        total, camp = head["total"].get(key, 0), head["campaign_sum"].get(key, 0)
        shared, outside = head["shared"].get(key, 0), head["outside_campaigns"].get(key, 0)
        parts.append(
            f"{total:,} {word} = {camp:,} in campaigns - {shared:,} shared + {outside:,} in no campaign"
        )
    return "accounts: " + "; ".join(parts)


def _print_summary(data: dict[str, Any]) -> None:
    kinds = ", ".join(f"{n} {k}" for k, n in data["by_kind"].items()) or "none"
    console.print(
        f"[bold]analysis[/bold]: {data['alerts']:,} alerts -> {data['incidents']:,} incidents -> "
        f"{data['campaigns']} campaign(s) ({kinds}), "
        f"{data['attributed']} attributed; {data['accounts']:,} accounts"
    )
    stages = data.get("seconds_by_stage")
    if stages:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
        console.print(f"  wall time {data['seconds']:.1f} s: {parts}")
    else:
        console.print(f"  wall time {data['seconds']:.1f} s")
    head = data.get("headline") or {}
    if head.get("total"):
        console.print("  " + headline_sentence(head))
    if data["incidents"] > data["alerts"]:
        console.print(
            "  (more incidents than alerts: one alert can name many accounts, a spray or a stuffing "
            "run names every account it tried, and each account gets its own incident)"
        )


@app.command()
def analyze(
    store: StoreOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Where the detections' and correlation's queries run: duckdb or spark "
            "(the detections' staging stays on DuckDB).",
        ),
    ] = "duckdb",
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master URL (default local[2]).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run detections, correlation and attribution over the store."""
    from idwatch.cli.stages import run_analysis
    from idwatch.engines import EngineUnavailable, open_engine

    st = _analysed_store(store)
    try:
        eng = None if engine == "duckdb" else open_engine(engine, master=master)
    except (ValueError, EngineUnavailable) as exc:
        err_console.print(f"[red]error:[/red] --engine {engine}: {exc}")
        raise typer.Exit(2) from exc
    try:
        data = run_analysis(st, console=None if json_out else err_console, engine=eng)
    finally:
        if eng is not None:
            eng.close()
    if json_out:
        print(json.dumps(data, default=json_default))
    else:
        _print_summary(data)


@app.command()
def correlate(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Correlate and attribute the existing alerts (without re-running the detections)."""
    import time

    from idwatch.correlate.pipeline import correlate as run_correlation

    st = _analysed_store(store)
    started = time.perf_counter()
    data = run_correlation(st).to_dict()
    data["seconds"] = round(time.perf_counter() - started, 2)
    if json_out:
        print(json.dumps(data, default=json_default))
    else:
        _print_summary(data)


@app.command()
def campaigns(
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    full: Annotated[
        bool, typer.Option("--full", help="With --json: add kind, hypotheses, categories...")
    ] = False,
) -> None:
    """List the campaigns (EVENTS.md section 5 with --json)."""
    items = _load_campaigns(_store(store, create=False))
    if json_out:
        print(json.dumps([contract_campaign(c, full=full) for c in items], default=json_default))
        return
    table = Table(
        title=f"{len(items)} campaign(s)",
        caption="compr. = accounts compromised; conf = attribution confidence (0-100)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("id", no_wrap=True, min_width=id_width(c["id"] for c in items))
    table.add_column("kind", no_wrap=True, min_width=8)
    table.add_column("actor", min_width=6)
    wide = console.width >= 90  # the address count only where there is room for it
    for col in ("conf", "probes", "attacked", "compr.", "period", "ips")[: None if wide else -1]:
        table.add_column(col, justify="left" if col == "period" else "right", no_wrap=True)
    for c in items:
        actor = c.get("actor") or {}
        n = c["counts"]
        table.add_row(
            c["id"],
            c.get("kind", ""),
            actor.get("name", "-"),
            str(actor.get("confidence", "")),
            f"{n['probes']:,}",
            f"{n['accounts_attacked']:,}",
            f"{n['accounts_compromised']:,}",
            f"{(c.get('first_seen') or '?')[:10]}\n{(c.get('last_seen') or '?')[:10]}",
            *([str(len(c["infrastructure"]["ips"]))] if wide else []),
        )
    console.print(table)


@app.command()
def accounts(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Accounts any detection touched, with status and risk (EVENTS.md section 5 with --json)."""
    st = _store(store, create=False)
    items = st.read_state_json("accounts")
    if items is None:
        err_console.print("[yellow]no analysis yet:[/yellow] run `idwatch analyze` first.")
        raise typer.Exit(1)
    if json_out:
        print(json.dumps([{k: a.get(k) for k in ACCOUNT_KEYS} for a in items], default=json_default))
        return
    table = Table(title=f"{len(items):,} account(s)")
    for col in ACCOUNT_KEYS:
        table.add_column(col, overflow="fold")
    for a in items[:200]:
        table.add_row(
            a["account"],
            a.get("tenant") or a["account"].rpartition("@")[2] or "-",
            a["status"],
            str(a["risk"]),
            ", ".join(a["campaigns"]),
            str(a["alerts"]),
        )
    console.print(table)
    if len(items) > 200:
        console.print(f"... {len(items) - 200:,} more: `idwatch accounts --json` lists them all.")


@app.command("campaign")
def campaign_cmd(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id (or a unique prefix / suffix).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The full story of one campaign: timeline, targets, infrastructure, evidence per hypothesis."""
    from idwatch.report.model import build_report
    from idwatch.report.terminal import campaign_panel

    st = _store(store, create=False)
    items = _load_campaigns(st)
    matches = [
        c
        for c in items
        if c["id"] == campaign_id or c["id"].startswith(campaign_id) or c["id"].endswith(campaign_id)
    ]
    if len(matches) != 1:
        err_console.print(f"[red]error:[/red] {len(matches)} campaigns match {campaign_id!r}")
        raise typer.Exit(1)
    camp = matches[0]
    if json_out:
        print(json.dumps(contract_campaign(camp, full=True), default=json_default))
        return
    view = build_report(st, campaign_ids=[camp["id"]]).campaigns[0]
    console.print(campaign_panel(view, detail=True))
    timeline = Table(title="timeline (per day)")
    for col in ("day", "probes", "attack attempts", "compromising events"):
        timeline.add_column(col, justify="right")
    for row in view.timeline:
        timeline.add_row(row["day"][:10], str(row["probes"]), str(row["attacks"]), str(row["compromises"]))
    console.print(timeline)
    cats = Table(title="targets by category")
    cats.add_column("category")
    cats.add_column("accounts", justify="right")
    for cat, n in view.categories.items():
        cats.add_row(cat, str(n))
    console.print(cats)
    infra = camp["infrastructure"]
    console.print(
        f"[bold]infrastructure[/bold]: {len(infra['ips'])} address(es): "
        f"{', '.join(infra['ips'][:20])}{' ...' if len(infra['ips']) > 20 else ''}; "
        f"AS {', '.join(map(str, infra['asns'][:10]))}"
    )
    console.print(f"[bold]techniques[/bold]: {', '.join(camp.get('techniques') or [])}")
    console.print(f"[bold]tenants[/bold]: {', '.join(camp.get('tenants') or [])}")
    stages = Table(title="accounts (furthest stage)")
    for col in ("account", "tenant", "stage", "first seen", "last seen"):
        stages.add_column(col, overflow="fold")
    for acc in camp["accounts"][:50]:
        stages.add_row(
            acc["account"],
            acc.get("tenant") or acc["account"].rpartition("@")[2] or "-",
            acc["stage"],
            str(acc["first_seen"])[:19],
            str(acc["last_seen"])[:19],
        )
    console.print(stages)
    if len(camp["accounts"]) > 50:
        console.print(
            f"... {len(camp['accounts']) - 50:,} more: `idwatch campaign {camp['id']} --json` lists them all."
        )


@app.command()
def report(
    store: StoreOpt = None,
    format: Annotated[  # noqa: A002 - the option is called --format
        str, typer.Option("--format", "-f", help="terminal | html | md | json")
    ] = "terminal",
    out: Annotated[
        str | None, typer.Option("--out", "-o", help="Write to this file (default: stdout).")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Name no tenant or account; suppress small groups.")
    ] = False,
    k: Annotated[int, typer.Option("--k", help="With --public: suppress categories below k accounts.")] = 5,
) -> None:
    """Report the campaigns: headline figures, timeline and funnel charts, attribution evidence."""
    from idwatch.report.model import build_report
    from idwatch.report.render import FORMATS, MissingExtra, render
    from idwatch.report.terminal import print_report

    if format not in FORMATS and format != "markdown":
        err_console.print(f"[red]error:[/red] unknown format {format!r}; choose from {', '.join(FORMATS)}")
        raise typer.Exit(2)
    st = _store(store, create=False)
    _load_campaigns(st)
    model = build_report(st, public=public, k=k)
    if format == "terminal" and out is None:
        print_report(model, console)
        return
    try:
        text = render(model, format)
    except MissingExtra as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if out:
        Path(out).write_text(text, encoding="utf-8")
        err_console.print(f"report written to {out}")
    else:
        print(text, end="")


def _write_html(st: Store, path: Path) -> None:
    """Write the HTML report and name it; without the ``report`` extra, say how to get it."""
    from idwatch.report.model import build_report
    from idwatch.report.render import MissingExtra, render

    try:
        path.write_text(render(build_report(st), "html"), encoding="utf-8")
    except MissingExtra as exc:
        err_console.print(f"[yellow]no HTML report:[/yellow] {escape(str(exc))}")
        return
    console.print(f"HTML report: [bold]{path}[/bold] (open it in a browser)")


def _ingest_and_analyze(st: Store, events: list[str], directory: str | None, intel: list[str]) -> None:
    from idwatch.cli.stages import run_analysis
    from idwatch.directory import DirectoryError, import_directory
    from idwatch.ingest import ingest_paths
    from idwatch.intel import IntelError, import_intel
    from idwatch.report.model import build_report
    from idwatch.report.terminal import print_report
    from idwatch.sources import UnknownFormatError
    from idwatch.sources.base import SourceError

    try:
        summary = ingest_paths(st, events, progress=True)
    except (SourceError, UnknownFormatError, StoreError, OSError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    data = summary.to_dict()
    console.print(
        f"[bold]ingest[/bold]: {data['records']:,} records, {data['stored']:,} stored, "
        f"{data['duplicates']:,} duplicates, {data['quarantined']:,} quarantined, "
        f"{data['skipped']:,} skipped"
    )
    if summary.files == 0:
        err_console.print(
            f"[red]error:[/red] no data files in {', '.join(events)} (read: *.json, *.jsonl, *.ndjson, "
            "*.log, *.csv, *.tsv, *.parquet, plain or .gz)"
        )
        raise typer.Exit(1)
    for refused in summary.refused:
        err_console.print(f"[red]error:[/red] {escape(refused['file'])}: {escape(refused['reason'])}")
    if summary.refused:
        err_console.print(
            "nothing analysed: give only event files (the directory with --directory, intel with --intel)"
        )
        raise typer.Exit(1)
    try:
        if directory:
            console.print(f"[bold]directory[/bold]: {import_directory(st, directory):,} accounts")
        for path in intel:
            console.print(f"[bold]intel[/bold]: {import_intel(st, path):,} STIX objects from {path}")
    except (DirectoryError, IntelError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    _print_summary(run_analysis(_analysed_store(str(st.root)), console=err_console))
    print_report(build_report(st), console)


@app.command()
def run(
    events: Annotated[list[str], typer.Argument(help="Event files or folders.")],
    directory: Annotated[str | None, typer.Option("--directory", help="Directory CSV / JSONL.")] = None,
    intel: Annotated[list[str] | None, typer.Option("--intel", help="STIX 2.1 bundle(s).")] = None,
    store: StoreOpt = None,
) -> None:
    """One command: ingest, import directory and intel, analyze, report."""
    from idwatch.sources.base import SourceError, expand_paths

    try:  # before the store is made: a typo in a path must not leave an empty store behind
        expand_paths([p for p in events if p != "-"])
    except SourceError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    st = _store(store)
    _ingest_and_analyze(st, events, directory, intel or [])
    _write_html(st, st.root / "report.html")


@app.command()
def demo(
    out: Annotated[
        str | None, typer.Option("--out", help="Keep everything in this folder (default: temp).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    scale: Annotated[float, typer.Option("--scale")] = 1.0,
) -> None:
    """Simulate the `demo` scenario (61 days) into a fresh store, analyze it and show the headline."""
    from idwatch.simulate import simulate

    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="idwatch-demo-"))
    sim_dir, st = root / "simulated", _store(str(root / "store"))
    with console.status("simulating the demo scenario ..."):
        simulate("demo", seed=seed, scale=scale, out=sim_dir)
    events = sorted(p for p in sim_dir.iterdir() if p.name.startswith("events."))
    directory = next((str(p) for p in sim_dir.iterdir() if p.name.startswith("directory.")), None)
    intel = [str(p) for p in sim_dir.iterdir() if p.name.startswith("intel") and p.suffix == ".json"]
    _ingest_and_analyze(st, [str(p) for p in events], directory, intel)
    _write_html(st, root / "report.html")
    console.print(f"store: {st.root}; try `idwatch campaigns --store {st.root}`")
