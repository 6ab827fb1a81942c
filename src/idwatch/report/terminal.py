"""Terminal report: Rich panels with the headline of every campaign and its attribution."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from idwatch.report.model import CampaignView, Report

KIND_STYLE = {"state": "bold red", "criminal": "yellow", "unknown": "dim"}


def campaign_panel(c: CampaignView, *, detail: bool = False) -> Panel:
    body: list[object] = [Text(c.headline, style="bold"), Text(c.attribution)]
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("hypothesis")
    table.add_column("posterior", justify="right")
    table.add_column("assessment")
    table.add_column("evidence (likelihood ratio)")
    for h in c.hypotheses[: 5 if detail else 3]:
        ev = (
            "\n".join(
                f"{'+' if e['weight'] > 0 else '-'} {e['kind']}: {e['detail']} (x{e['likelihood_ratio']})"
                for e in h["evidence"]
            )
            or "baseline"
        )
        table.add_row(h["name"], f"{h['confidence']}", h["words"], ev if detail else ev.split("\n")[0])
    body.append(table)
    title = escape(f"{c.actor['name'] if c.actor else 'unattributed'} [{c.kind}] {c.id}")
    return Panel(Group(*body), title=title, title_align="left", border_style=KIND_STYLE.get(c.kind, ""))


def print_report(report: Report, console: Console | None = None, *, limit: int = 10) -> None:
    console = console or Console()
    t = report.totals
    console.print(
        f"[bold]{t['campaigns']} campaign(s)[/bold], {t['attributed']} attributed; "
        f"{t['state']} targeted (state-style), {t['criminal']} criminal; "
        f"{t['accounts_attacked']:,} accounts attacked, {t['accounts_compromised']:,} compromised."
    )
    for c in report.campaigns[:limit]:
        console.print(campaign_panel(c))
    if len(report.campaigns) > limit:
        console.print(f"... and {len(report.campaigns) - limit} more campaign(s) (see idwatch campaigns).")
    if not report.campaigns:
        console.print("No campaigns found.")


def render_terminal(report: Report, *, width: int = 120) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=False)
    print_report(report, console)
    return console.export_text()
