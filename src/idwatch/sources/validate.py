"""Central validation of what a format's ``select_sql`` produced (docs/INTERNALS.md).

Every format gets the same rules, so a vendor connector only maps fields: required columns
present, enum values known, time parseable (RFC 3339 or epoch ms) and in range, IP address
valid (checked by the caller over DISTINCT addresses, joined back as table ``_ipcheck``).
Each rejection reason reads ``"<kind>: <detail>"`` so the summary can count by kind.
"""

from __future__ import annotations

from idwatch.schema import ENUM_COLUMNS, EVENT_SCHEMA, REQUIRED_COLUMNS

#: Earliest event time accepted; the latest is now + 1 day.
MIN_TIME = "1990-01-01 00:00:00+00"

_RFC3339 = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_EPOCH_MS = r"-?[0-9]{1,15}"


def _sql_list(values: list[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def time_sql(col: str, col_type: str) -> str:
    """SQL turning a mapped ``time`` column (VARCHAR, integer or timestamp) into TIMESTAMPTZ."""
    t = col_type.upper()
    if t.startswith("TIMESTAMP"):
        return f"{col}::TIMESTAMPTZ"
    if t in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT"):
        return f"CASE WHEN abs({col}) < 1e15 THEN epoch_ms({col}::BIGINT)::TIMESTAMPTZ END"
    # RFC 3339 first: nearly every record has it, and no text matches both shapes (an epoch has
    # no ``-`` after its first byte, nor ``:``), so the order changes no answer, only the cost
    # (a quarter of the typed fast path's time went to trying the epoch shape first)
    return (
        f"CASE WHEN regexp_full_match({col}, '{_RFC3339}') THEN TRY_CAST({col} AS TIMESTAMPTZ) "
        f"WHEN regexp_full_match({col}, '{_EPOCH_MS}') THEN epoch_ms({col}::BIGINT)::TIMESTAMPTZ END"
    )


def validated_sql(mapped: str, time_type: str) -> str:
    """Mapped rows + ``_ts`` (parsed time) and ``_reject`` (reason).

    ``mapped`` is a relation (table name or parenthesized SELECT) in the ``select_sql`` shape;
    ``_file``, ``_line`` and ``_raw`` are passed through when it has them (the typed fast path
    attaches them afterwards). The event id of a record without one (``sha256(_raw)``) is the
    caller's. IP syntax is not checked here: the caller validates the DISTINCT addresses once.
    Skipped rows (``_skip`` set) are never rejected for missing fields.
    """
    checks: list[str] = []
    for col in REQUIRED_COLUMNS:
        # ``trim`` only where the first byte could start a blank (a space / control byte, or a
        # non-ASCII character such as U+00A0): most values skip it, and it allocates a string
        blank = f"(({col} < '!' OR {col} >= chr(128)) AND trim({col}) = '')"
        empty = f"{col} IS NULL" if col == "time" else f"{col} IS NULL OR {blank}"
        checks.append(f"WHEN {empty} THEN 'missing required field: {col}'")
    for col, enum in ENUM_COLUMNS.items():
        values = _sql_list([e.value for e in enum])
        checks.append(
            f"WHEN {col} IS NOT NULL AND {col} NOT IN {values} "
            f"THEN 'unknown {col} value: ' || left({col}, 80)"
        )
    checks.append("WHEN _ts IS NULL THEN 'unparseable time: ' || left(time::VARCHAR, 80)")
    checks.append(
        f"WHEN _ts < TIMESTAMPTZ '{MIN_TIME}' OR _ts > now() + INTERVAL 1 DAY "
        "THEN 'time out of range: ' || left(time::VARCHAR, 80)"
    )
    case = "\n    ".join(checks)
    return f"""
SELECT *,
  CASE WHEN _error IS NOT NULL THEN _error
    WHEN _skip IS NOT NULL THEN NULL
    {case}
  END AS _reject
FROM (SELECT *, {time_sql("time", time_type)} AS _ts FROM {mapped})
"""


def ip_reject_sql(ip_col: str, src_col: str) -> str:
    """The reason for a row whose address did not validate (``ip_col`` NULL), else NULL."""
    return f"CASE WHEN {ip_col} IS NULL THEN 'invalid IP address: ' || left({src_col}, 80) END"


#: Columns of EVENT_SCHEMA in order (what the canonical SELECT produces, ``raw`` included).
EVENT_COLUMN_NAMES = [f.name for f in EVENT_SCHEMA]
