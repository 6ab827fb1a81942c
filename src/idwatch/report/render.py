"""One entry point for every report format."""

from __future__ import annotations

from idwatch.report.model import Report

FORMATS = ("terminal", "html", "md", "json")


class MissingExtra(ImportError):
    """The HTML report's charts need matplotlib, which comes with the ``report`` extra."""


def render(report: Report, fmt: str) -> str:
    if fmt == "html":
        try:
            from idwatch.report.html import render_html
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("matplotlib"):
                raise
            raise MissingExtra(
                "the HTML report's charts need the 'report' extra (matplotlib is missing): "
                "pip install 'idwatch[report]'"
            ) from exc
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
