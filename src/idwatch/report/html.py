"""Self-contained HTML report: one file, charts inlined as SVG, no network access needed."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from idwatch.report.charts import funnel_svg, timeline_svg
from idwatch.report.model import Report

#: Account rows per campaign in the page (a browser stays responsive); the rest are counted and
#: pointed to, never dropped silently.
MAX_ACCOUNTS = 500


def render_html(report: Report) -> str:
    env = Environment(loader=PackageLoader("idwatch.report", "templates"), autoescape=select_autoescape())
    template = env.get_template("report.html.j2")
    return template.render(
        report=report,
        timeline_svg=timeline_svg(report.campaigns),
        funnel_svg=funnel_svg(report.campaigns),
        max_accounts=MAX_ACCOUNTS,
    )
