"""Charts for the HTML report, drawn by matplotlib and inlined as SVG (no external files).

Two pictures per report: the timeline (per day, what each campaign did) and the funnel
probes -> accounts attacked -> accounts compromised for each campaign.

Both use log scales: a criminal botnet makes thousands of attempts a day and a state actor a
handful, and on a linear axis the state actor (the story) is a flat line at zero. A day without
activity is a gap, not a line drawn across it; the legends sit outside the plotting area so they
never cover data.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402 - the backend must be chosen first
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from idwatch.report.model import CampaignView  # noqa: E402

PALETTE = ["#b4232a", "#1f5fa8", "#d08c00", "#3c8d40", "#6b4fa3", "#777777"]
STAGES = (
    ("probes", "attempts to identify accounts", "#9bb7d4"),
    ("accounts_attacked", "accounts attacked", "#d08c00"),
    ("accounts_compromised", "accounts compromised", "#b4232a"),
)


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog / doctype so it inlines in HTML


def _label(c: CampaignView) -> str:
    name = c.actor["name"] if c.actor else f"unattributed {c.kind} {c.id[-6:]}"
    return name


def _plain(value: float, _pos: int) -> str:
    """Tick labels as plain counts (1, 10, 100, 1,000), not 10^n."""
    return f"{value:,.0f}" if value >= 1 else ""


def _log_axis(axis: matplotlib.axis.Axis) -> None:
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())


def runs(days: list[date]) -> list[tuple[int, int]]:
    """Index ranges [start, end) of consecutive days: a line joins days only within a run."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(days) + 1):
        if i == len(days) or days[i] - days[i - 1] > timedelta(days=1):
            out.append((start, i))
            start = i
    return out


def timeline_svg(campaigns: list[CampaignView], *, top: int = 6) -> str:
    """Daily activity (probes + attack attempts) per campaign, log scale, gaps left as gaps."""
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=100)
    ax.set_gid("timeline-axes")
    shown = [c for c in campaigns if c.timeline][:top]
    for i, c in enumerate(shown):
        rows = [r for r in c.timeline if int(r["probes"]) + int(r["attacks"]) > 0]
        days = [date.fromisoformat(r["day"][:10]) for r in rows]
        values = [int(r["probes"]) + int(r["attacks"]) for r in rows]
        color = PALETTE[i % len(PALETTE)]
        for n, (a, b) in enumerate(runs(days)):
            ax.plot(
                days[a:b],
                values[a:b],
                marker="o",
                markersize=3.5,
                linewidth=1.2,
                color=color,
                label=f"{_label(c)} ({len(days)} active days)" if n == 0 else None,
            )
        hits = [(d, v) for d, v, r in zip(days, values, rows, strict=True) if r["compromises"]]
        if hits:
            ax.scatter([d for d, _ in hits], [v for _, v in hits], s=70, marker="*", color=color, zorder=5)
    if not shown:
        ax.text(0.5, 0.5, "no campaign activity", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.set_yscale("log")
        _log_axis(ax.yaxis)
        ax.set_ylim(bottom=0.8)
    ax.set_ylabel("events per day (log scale)")
    ax.set_title(
        "Campaign activity per day (stars: days with a compromise; no line across idle days)", fontsize=9
    )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _svg(fig)


def funnel_svg(campaigns: list[CampaignView], *, top: int = 6) -> str:
    """Probes (top) -> attacked -> compromised (bottom) per campaign, horizontal bars, log scale."""
    shown = campaigns[:top]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.9 * max(1, len(shown))), dpi=100)
    ax.set_gid("funnel-axes")
    height = 0.26
    for j, (key, label, color) in enumerate(STAGES):
        # y grows downwards (inverted axis): probes above, compromised below, in every group
        ys = [i + (j - 1) * height for i in range(len(shown))]
        values = [max(0, int(c.counts.get(key, 0))) for c in shown]
        bars = ax.barh(ys, values, height=height, color=color, label=label)
        for i, (bar, v) in enumerate(zip(bars, values, strict=True)):
            bar.set_gid(f"funnel-{key}-{i}")
            ax.text(
                max(bar.get_width(), 1) * 1.08, bar.get_y() + height / 2, f"{v:,}", va="center", fontsize=8
            )
    ax.set_yticks(range(len(shown)), [_label(c) for c in shown])
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    most = max((int(c.counts.get(k, 0)) for c in shown for k, _l, _c in STAGES), default=1)
    ax.set_xlim(0, max(10, most) * 3)  # room for the value printed after the longest bar
    ax.set_xlabel("count (log scale)")
    ax.set_title("Funnel: attempts to identify accounts -> attacked -> compromised", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)
