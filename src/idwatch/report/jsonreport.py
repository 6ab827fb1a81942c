"""JSON report: the report model as one JSON document (for notebooks and dashboards).

Also the one rule for times in every JSON idwatch prints: RFC 3339 in UTC with ``Z``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from idwatch.report.model import Report


def json_default(value: object) -> object:
    """``json.dumps(default=...)``: datetimes as RFC 3339 UTC with ``Z``, dates ISO, the rest as text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=json_default)
