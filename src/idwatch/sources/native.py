"""The native format: one JSON object (or CSV / Parquet row) per event, EVENTS.md column names.

Types are checked, never coerced: a string where a number is expected (``"asn": "AS-x"``)
is an error, so is a number where a string is expected. ``time`` is an RFC 3339 string or
epoch milliseconds (an integer). CSV values all come as text; the driver has already turned
the integer / boolean columns into JSON numbers / booleans where the text was one.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from idwatch.schema import EVENT_SCHEMA

NAME = "native"

#: Columns a native record may carry (everything but ``raw``, which the driver sets).
FIELDS: list[pa.Field] = [f for f in EVENT_SCHEMA if f.name != "raw"]
_INTEGER_TYPES = "('UBIGINT', 'BIGINT')"


def sniff(record: dict[str, Any]) -> bool:
    """Native events name the canonical columns directly."""
    return (
        isinstance(record, dict)
        and "account" in record
        and "activity" in record
        and "class_uid" not in record
    )


def _expected(field: pa.Field) -> tuple[str, str]:
    """(SQL list of accepted json_type() values, human name) for one column."""
    if field.name == "time":
        return "('VARCHAR', 'UBIGINT', 'BIGINT')", "an RFC 3339 string or epoch milliseconds"
    if pa.types.is_integer(field.type):
        return _INTEGER_TYPES, "an integer"
    if pa.types.is_boolean(field.type):
        return "('BOOLEAN')", "a boolean"
    return "('VARCHAR')", "a string"


def select_sql(view: str) -> str:
    """One vectorized SELECT: two passes over each record (values as text, JSON types).

    The per-column type check is a cheap comparison; the detailed error message is built
    only for the rare rows that fail it.
    """
    paths = ", ".join(f"'$.\"{f.name}\"'" for f in FIELDS)
    picks: list[str] = []
    checks: list[str] = []
    errors: list[str] = []
    for i, field in enumerate(FIELDS, start=1):
        s, t = f"_s[{i}]", f"_t[{i}]"
        accepted, human = _expected(field)
        if pa.types.is_integer(field.type):
            value = f"CASE WHEN {t} IN {_INTEGER_TYPES} THEN TRY_CAST({s} AS BIGINT) END"
            checks.append(f"({t} IS NULL OR {t} = 'NULL' OR ({t} IN {accepted} AND {value} IS NOT NULL))")
            errors.append(
                f"CASE WHEN {t} IN {_INTEGER_TYPES} AND TRY_CAST({s} AS BIGINT) IS NULL "
                f"THEN 'wrong type: {field.name} is out of range' END"
            )
        elif pa.types.is_boolean(field.type):
            value = f"CASE WHEN {t} = 'BOOLEAN' THEN {s} = 'true' END"
            checks.append(f"({t} IS NULL OR {t} IN ('NULL', 'BOOLEAN'))")
        else:
            value = f"CASE WHEN {t} IN {accepted} THEN {s} END"
            checks.append(f"({t} IS NULL OR {t} = 'NULL' OR {t} IN {accepted})")
        picks.append(f"{value} AS {field.name}")
        errors.append(
            f"CASE WHEN {t} IS NOT NULL AND {t} <> 'NULL' AND {t} NOT IN {accepted} "
            f"THEN 'wrong type: {field.name} must be {human}, got ' || lower({t}) END"
        )
    return f"""
SELECT _file, _line, _raw,
  {", ".join(picks)},
  NULL::VARCHAR AS _skip,
  CASE WHEN NOT ({" AND ".join(checks)}) THEN coalesce({", ".join(errors)}) END AS _error
FROM (
  SELECT _file, _line, _raw, json_extract_string(rec, [{paths}]) AS _s, json_type(rec, [{paths}]) AS _t
  FROM {view}
)
"""


# --------------------------------------------------------------------------- typed fast path
#: Columns the typed JSON Lines reader (``sources.typed_json``) reads, with the type it reads
#: each as. ``VARCHAR`` gives a string's value unescaped (cheap), but would turn ``5`` into
#: ``'5'``: :func:`fast_select_sql` sends every row where that may have happened to the careful
#: path, which says "wrong type". ``JSON`` keeps the value's JSON text: for the two columns
#: where a string and a number / boolean must be told apart even when the text is the same.
FAST_TYPES: dict[str, str] = {
    f.name: "JSON" if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type) else "VARCHAR"
    for f in FIELDS
}
FAST_COLUMNS: list[str] = list(FAST_TYPES)

#: Columns whose value is checked against a closed set by the driver (enums), or is the time or
#: the IP: a value DuckDB made text from a number / boolean / object fails that check, and a
#: rejected row takes the careful path anyway. The other text columns need :func:`_maybe_not_text`.
_CHECKED_TEXT = {"time", "src_ip", "activity", "outcome", "step", "method", "reason", "network_type"}


def _maybe_not_text(v: str) -> str:
    """SQL: could ``v`` (read as VARCHAR) be the text DuckDB made of a non-string JSON value?

    Numbers (``5``, ``-1.5e3``, ``NaN``, ``Infinity``), ``true`` / ``false``, objects and arrays
    all qualify; so do a few real strings that look like them (``"12"``): those rows merely take
    the careful path, which reads the JSON type. Comparisons on the first bytes keep the common
    case (an ordinary string) to one or two string comparisons.
    """
    return (
        f"(CASE WHEN {v} < ':' THEN regexp_full_match({v}, '[-+0-9.eE]*')"
        f" OR regexp_full_match(lower({v}), '[-+]?(nan|inf|infinity)')"
        f" WHEN {v} IN ('true', 'false') THEN true"
        f" WHEN {v} >= '{{' THEN {v} < '|'"
        f" WHEN {v} >= '[' AND {v} < '\\' THEN true"
        f" WHEN ({v} >= 'I' AND {v} < 'J') OR ({v} >= 'N' AND {v} < 'O')"
        f" OR ({v} >= 'i' AND {v} < 'j') OR ({v} >= 'n' AND {v} < 'o')"
        f" THEN lower({v}) IN ('nan', 'inf', 'infinity') ELSE false END)"
    )


def _maybe_not_ip_text(v: str) -> str:
    """SQL: could ``v`` be DuckDB's text of a non-string value rather than an address-shaped string?

    Only a string with a ``:`` (IPv6) or three dots (IPv4) not starting like an object / array
    passes: no number, boolean or object text looks like that. Anything else goes careful (an
    invalid address is quarantined there with the same reason).
    """
    return f"(NOT (contains({v}, ':') OR {v} LIKE '%.%.%.%') OR {v} >= '{{' OR ({v} >= '[' AND {v} < '\\'))"


def fast_select_sql(alias: str = "r") -> str:
    """The SELECT list over the :data:`FAST_TYPES` columns: values, ``_error``, ``_careful``.

    ``_error`` is always NULL here: a row whose value may be of the wrong type is marked
    ``_careful`` instead and re-read by the careful path (:func:`select_sql`), which gives the
    exact reason. The driver also sends rows it rejects there, so a row stored or quarantined
    from this path is always exactly what the careful path would make of it.
    """
    picks: list[str] = []
    doubts: list[str] = []
    for field in FIELDS:
        c = f'{alias}."{field.name}"'
        if pa.types.is_integer(field.type):
            whole = f"regexp_full_match({c}, '-?[0-9]{{1,19}}')"
            picks.append(f"CASE WHEN {whole} THEN TRY_CAST({c} AS BIGINT) END AS {field.name}")
            doubts.append(f"({c} IS NOT NULL AND (NOT {whole} OR TRY_CAST({c} AS BIGINT) IS NULL))")
        elif pa.types.is_boolean(field.type):
            picks.append(f"CASE WHEN {c} IN ('true', 'false') THEN {c} = 'true' END AS {field.name}")
            doubts.append(f"({c} IS NOT NULL AND {c} NOT IN ('true', 'false'))")
        else:
            picks.append(f"{c} AS {field.name}")
            if field.name == "src_ip":
                doubts.append(f"coalesce({_maybe_not_ip_text(c)}, false)")
            elif field.name not in _CHECKED_TEXT:
                doubts.append(f"coalesce({_maybe_not_text(c)}, false)")
    return ", ".join(picks) + f", NULL::VARCHAR AS _error, ({' OR '.join(doubts)}) AS _careful"


#: Arrow integer types whose every value fits a BIGINT (``uint64`` may not: the careful path says so).
_ARROW_INTS = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())


def _sql_type(field: pa.Field) -> str:
    if field.name == "time":
        return "VARCHAR"
    if pa.types.is_integer(field.type):
        return "BIGINT"
    return "BOOLEAN" if pa.types.is_boolean(field.type) else "VARCHAR"


def _arrow_compatible(field: pa.Field, typ: pa.DataType) -> bool:
    """Does a typed (Parquet) column hold what ``field`` needs, with no conversion of meaning?"""
    if pa.types.is_null(typ):
        return True
    if pa.types.is_dictionary(typ):  # e.g. pandas categoricals: the values are what count
        typ = typ.value_type
    textual = pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ)
    if field.name == "time":
        return textual or typ in _ARROW_INTS or pa.types.is_timestamp(typ)
    if pa.types.is_integer(field.type):
        return typ in _ARROW_INTS
    if pa.types.is_boolean(field.type):
        return pa.types.is_boolean(typ)
    return textual


def arrow_select_sql(relation: str, schema: pa.Schema, raw_sql: str) -> str | None:
    """Mapped rows straight from typed columns (a Parquet batch), or None when a type differs.

    When every canonical column present has the right type, no record needs its JSON parsed:
    the columns are the values, and ``raw`` is the row as JSON (``raw_sql``). A column of
    another type (``asn`` as text, ...) sends the batch to the careful path, which says which
    rows are wrong. Columns the batch does not have are NULL.
    """
    names = set(schema.names)
    picks: list[str] = []
    for field in FIELDS:
        if field.name not in names:
            picks.append(f"NULL::{_sql_type(field)} AS {field.name}")
            continue
        typ = schema.field(field.name).type
        if not _arrow_compatible(field, typ):
            return None
        col = f'"{field.name}"'
        if field.name == "time" and pa.types.is_timestamp(typ):
            picks.append(f"{col}::TIMESTAMPTZ AS time")
        else:  # an epoch-ms integer time becomes its digits, as the careful path has it
            picks.append(f"{col}::{_sql_type(field)} AS {field.name}")
    return (
        f"SELECT _row AS _line, {raw_sql} AS _raw, {', '.join(picks)}, "
        f"NULL::VARCHAR AS _skip, NULL::VARCHAR AS _error FROM {relation}"
    )
