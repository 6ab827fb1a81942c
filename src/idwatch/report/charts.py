"""Charts for the HTML report, drawn by matplotlib and inlined as SVG (no external files).

Two pictures per report: the timeline (per day, what the campaigns did) and the funnel
probes -> accounts attacked -> accounts compromised for each campaign.
"""

from __future__ import annotations

import io
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402 - the backend must be chosen first
import matplotlib.pyplot as plt  # noqa: E402

from idwatch.report.model import CampaignView  # noqa: E402

PALETTE = ["#b4232a", "#1f5fa8", "#d08c00", "#3c8d40", "#6b4fa3", "#777777"]


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog / doctype so it inlines in HTML


def _label(c: CampaignView) -> str:
    name = c.actor["name"] if c.actor else f"{c.kind} {c.id[-6:]}"
    return name


def timeline_svg(campaigns: list[CampaignView], *, top: int = 5) -> str:
    """Daily activity (probes + attack attempts) of the largest campaigns."""
    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
    shown = [c for c in campaigns if c.timeline][:top]
    for i, c in enumerate(shown):
        days = [date.fromisoformat(r["day"][:10]) for r in c.timeline]
        values = [int(r["probes"]) + int(r["attacks"]) for r in c.timeline]
        color = PALETTE[i % len(PALETTE)]
        ax.plot(days, values, marker="o", markersize=3, linewidth=1.4, color=color, label=_label(c))
        hits = [(d, v) for d, v, r in zip(days, values, c.timeline, strict=True) if r["compromises"]]
        if hits:
            ax.scatter([d for d, _ in hits], [v for _, v in hits], s=60, marker="*", color=color, zorder=5)
    if not shown:
        ax.text(0.5, 0.5, "no campaign activity", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("events per day")
    ax.set_title("Campaign activity over time (stars: days with a compromise)", fontsize=10)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(fontsize=8, loc="upper left")
    return _svg(fig)


def funnel_svg(campaigns: list[CampaignView], *, top: int = 5) -> str:
    """Probes -> attacked -> compromised per campaign, as grouped horizontal bars (log scale)."""
    shown = campaigns[:top]
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.9 * max(1, len(shown))), dpi=100)
    stages = [
        ("probes", "attempts to identify accounts"),
        ("accounts_attacked", "accounts attacked"),
        ("accounts_compromised", "accounts compromised"),
    ]
    colors = ["#9bb7d4", "#d08c00", "#b4232a"]
    height = 0.25
    for j, (key, label) in enumerate(stages):
        ys = [i + (1 - j) * height for i in range(len(shown))]
        values = [max(0, int(c.counts.get(key, 0))) for c in shown]
        bars = ax.barh(ys, [v if v > 0 else 0.0 for v in values], height=height, color=colors[j], label=label)
        for bar, v in zip(bars, values, strict=True):
            ax.text(
                max(bar.get_width(), 1) * 1.05, bar.get_y() + height / 2, f"{v:,}", va="center", fontsize=8
            )
    ax.set_yticks(range(len(shown)), [_label(c) for c in shown])
    ax.invert_yaxis()
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("count (log scale)")
    ax.set_title("Funnel: probes -> attacked -> compromised", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)
