"""One entry point for every report format."""

from __future__ import annotations

from idwatch.report.model import Report

FORMATS = ("terminal", "html", "md", "json")


def render(report: Report, fmt: str) -> str:
    if fmt == "html":
        from idwatch.report.html import render_html

        return render_html(report)
    if fmt in ("md", "markdown"):
        from idwatch.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "json":
        from idwatch.report.jsonreport import render_json

        return render_json(report)
    if fmt == "terminal":
        from idwatch.report.terminal import render_terminal

        return render_terminal(report)
    raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
