"""Markdown report: the same story as the HTML one, as text a ticket or wiki can take."""

from __future__ import annotations

from idwatch.report.model import Report


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    lines = ["# idwatch: targeted account-takeover campaigns", ""]
    note = f"Generated {report.generated}."
    if report.public:
        note += (
            f" Public edition: no customer named; categories with fewer than {report.k} accounts suppressed."
        )
    lines += [
        note,
        "",
        f"{report.totals['campaigns']} campaign(s), {report.totals['attributed']} attributed; "
        f"{report.totals['state']} targeted (state-style), {report.totals['criminal']} criminal.",
        "",
    ]
    for c in report.campaigns:
        title = c.actor["name"] if c.actor else "Unattributed"
        lines += [
            f"## {title} ({c.kind}, `{c.id}`)",
            "",
            f"**{c.headline}**",
            "",
            c.attribution,
            "",
            "| | |",
            "|---|---|",
            f"| Period | {c.period} |",
            f"| Attempts to identify accounts | {c.counts['probes']:,} ({c.counts['accounts_probed']:,} "
            "identifiers) |",
            f"| Accounts attacked | {c.counts['accounts_attacked']:,} |",
            f"| Accounts compromised | {c.counts['accounts_compromised']:,} |",
            "| Targets by category | "
            + _cell(", ".join(f"{k}: {v}" for k, v in c.categories.items()))
            + " |",
            f"| Techniques | {', '.join(c.techniques)} |",
            f"| Infrastructure | {len(c.infrastructure.get('ips', []))} addresses; AS "
            f"{', '.join(map(str, c.infrastructure.get('asns', [])[:8]))} |",
            "",
        ]
        lines += [
            "### Competing hypotheses",
            "",
            "| Hypothesis | Posterior | Assessment | Evidence |",
            "|---|---|---|---|",
        ]
        for h in c.hypotheses[:5]:
            ev = (
                "; ".join(
                    f"{'+' if e['weight'] > 0 else '-'} {e['kind']}: {e['detail']} (x{e['likelihood_ratio']})"
                    for e in h["evidence"]
                )
                or "baseline"
            )
            lines.append(f"| {_cell(h['name'])} | {h['confidence']}/100 | {h['words']} | {_cell(ev)} |")
        profile = [e for e in c.evidence if e["kind"] == "campaign_profile"]
        if profile:
            lines += ["", f'Why "{c.kind}":', ""] + [f"- {e['detail']}" for e in profile]
        lines.append("")
    if not report.campaigns:
        lines.append("No campaigns found.")
    return "\n".join(lines) + "\n"
