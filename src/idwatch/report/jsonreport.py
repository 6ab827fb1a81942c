"""JSON report: the report model as one JSON document (for notebooks and dashboards)."""

from __future__ import annotations

import json

from idwatch.report.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
