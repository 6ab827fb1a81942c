"""SQL building blocks shared by the vendor connectors (Entra, Okta, Google Workspace, Auth0, M365).

Each connector turns one vendor's records into canonical events with a single vectorized DuckDB
SELECT. The expensive part of that is JSON parsing, so every connector pulls all the paths it needs
with ONE ``json_extract_string(rec, [path, ...])`` call (the record is parsed once) and reads the
resulting list by position. Mapping tables (``<vendor>_map.py``) are plain Python data rendered here
into ``VALUES`` tables that the SELECT joins on, and into the Markdown of ``docs/connectors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from idwatch.schema import EVENT_COLUMNS

# --------------------------------------------------------------------------- literals


def lit(value: object) -> str:
    """A SQL literal for a str / int / bool / None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def values_table(alias: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """``(VALUES ...) AS alias(columns)``; every column typed VARCHAR unless ints/bools only."""
    rows = [tuple(r) for r in rows]
    if not rows:
        raise ValueError(f"mapping table {alias} is empty")
    body = ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)
    return f"(VALUES {body}) AS {alias}({', '.join(columns)})"


def case_like(
    expr: str, patterns: Iterable[tuple[str, str]], default: str = "NULL", *, lowered: bool = False
) -> str:
    """``CASE WHEN lower(expr) LIKE p1 THEN v1 ...`` for ordered (pattern, value) rules.

    ``lowered``: ``expr`` is already lower case (a column computed once), so each pattern does
    not lower the text again.
    """
    text = expr if lowered else f"lower({expr})"
    whens = " ".join(f"WHEN {text} LIKE {lit(p)} THEN {lit(v)}" for p, v in patterns)
    return f"(CASE {whens} ELSE {default} END)"


# --------------------------------------------------------------------------- JSON extraction


def fold_top(path: str) -> str:
    """The same path with its first key lower-cased (some exporters lower-case top-level keys)."""
    if not path.startswith("$."):
        return path
    head, dot, rest = path[2:].partition(".")
    bracket = head.find("[")
    if bracket >= 0:
        head, rest_head = head[:bracket], head[bracket:]
        return "$." + head.lower() + rest_head + dot + rest
    return "$." + head.lower() + dot + rest


@dataclass
class Extract:
    """Collects JSON paths so that the record is parsed once for all of them.

    ``x("$.a.b", "$.c")`` returns a SQL expression (coalesce over the paths, empty strings as NULL)
    that reads positions of the list column ``_v``; ``select()`` renders the one extraction call.
    With ``fold=True`` each path is also tried with its first key lower-cased.
    """

    column: str = "rec"
    fold: bool = False
    paths: list[str] = field(default_factory=list)

    def _pos(self, path: str) -> int:
        if path not in self.paths:
            self.paths.append(path)
        return self.paths.index(path) + 1

    def __call__(self, *paths: str) -> str:
        refs: list[str] = []
        for p in paths:
            variants = [p]
            if self.fold and fold_top(p) != p:
                variants.append(fold_top(p))
            refs.extend(f"nullif(_v[{self._pos(v)}], '')" for v in variants)
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    def select(self) -> str:
        listing = ", ".join(lit(p) for p in self.paths)
        return f"json_extract_string({self.column}, [{listing}]) AS _v"


def sub(container: str, path: str) -> str:
    """``path`` inside a JSON text that may also be a plain string (Sentinel string-encoded columns).

    ``json_extract_string`` raises on text that is not JSON, which would fail the whole batch, so
    the text is checked first.
    """
    return f"json_extract_string(CASE WHEN json_valid({container}) THEN {container} END, {lit(path)})"


def sub_list(container: str, path: str = "$[*]") -> str:
    """The elements of a JSON array (as JSON texts) held in ``container``; empty for anything else."""
    return f"json_extract(CASE WHEN json_valid({container}) THEN {container} END, {lit(path)})"


# --------------------------------------------------------------------------- normalization


def rfc3339(expr: str) -> str:
    """Vendor timestamps -> RFC 3339 UTC text; unparseable text is passed through unchanged so
    that the driver quarantines the record quoting it.

    Handles 'T' or space separators, 0-9 fractional digits (DuckDB takes at most 6), a 'Z' or
    numeric offset, and no zone at all (vendors that omit it log UTC).
    """
    trimmed = f"regexp_replace(trim({expr}), '(\\.\\d{{6}})\\d+', '\\1')"
    zoned = (
        f"(CASE WHEN regexp_matches({trimmed}, '(Z|z|[+-]\\d\\d(:?\\d\\d)?)$') "
        f"THEN {trimmed} ELSE {trimmed} || 'Z' END)"
    )
    ts = f"try_cast({zoned} AS TIMESTAMPTZ)"
    return f"coalesce(strftime(timezone('UTC', {ts}), '%Y-%m-%dT%H:%M:%S.%fZ'), {expr})"


#: The ``account`` of an attempt whose record names no identifier at all (an IP-level block, a
#: failure before the identifier was read). Not a valid identifier on any vendor (spaces and
#: parentheses), so it never merges with a real account; such events carry
#: ``account_exists`` NULL (or FALSE when the vendor says the identifier matched no account).
NO_ACCOUNT = "(no identifier)"


def account_sql(expr: str) -> str:
    """Identifiers trimmed and lower-cased (EVENTS.md: account)."""
    return f"nullif(lower(trim({expr})), '')"


def phone_e164(expr: str) -> str:
    """A phone number as E.164 text: digits with a leading '+', '00' prefix read as '+'.

    Numbers without a country prefix are taken as already international (the vendors log E.164
    or '+CC NNN' forms); anything outside 6..15 digits is not a phone number (NULL).
    """
    digits = f"regexp_replace({expr}, '[^0-9]', '', 'g')"
    intl = f"(CASE WHEN regexp_matches(trim({expr}), '^00') THEN substr({digits}, 3) ELSE {digits} END)"
    return f"(CASE WHEN length({intl}) BETWEEN 6 AND 15 THEN '+' || {intl} END)"


def email_norm(expr: str) -> str:
    """An email address lower-cased and trimmed, without an Exchange 'smtp:' prefix."""
    return f"nullif(lower(trim(regexp_replace({expr}, '^(?i)smtp:', ''))), '')"


def contact_hash(expr: str) -> str:
    """SHA-256 hex of a recovery contact: an email (has '@') or else a phone number."""
    return (
        f"(CASE WHEN {expr} IS NULL THEN NULL WHEN strpos({expr}, '@') > 0 "
        f"THEN sha256({email_norm(expr)}) ELSE sha256({phone_e164(expr)}) END)"
    )


def mask_phones(expr: str) -> str:
    """Free text with phone numbers ('+' and 7+ digits, or 9+ digits in a row) replaced by '[phone]'.

    For vendor prose copied into ``detail``: recovery contacts may only be stored as hashes.
    """
    return (
        f"regexp_replace(regexp_replace({expr}, '\\+[0-9][0-9 ()\\-]{{5,}}[0-9]', '[phone]', 'g'), "
        f"'[0-9]{{9,}}', '[phone]', 'g')"
    )


def first_of_list(expr: str) -> str:
    """The first string of a JSON array text like '["+1 425..."]', or the text itself."""
    return (
        f"(CASE WHEN json_valid({expr}) AND json_type({expr}) = 'ARRAY' "
        f"THEN json_extract_string({expr}, '$[0]') "
        f"WHEN json_valid({expr}) AND json_type({expr}) = 'VARCHAR' THEN json_extract_string({expr}, '$') "
        f"ELSE {expr} END)"
    )


# --------------------------------------------------------------------------- mapping tables


@dataclass(frozen=True)
class Rule:
    """One vendor event kind -> canonical values. ``activity=None`` marks a known kind that is skipped.

    ``outcome=None`` means "from the record's result field"; ``step``/``method``/``reason`` None
    means "not fixed by the kind" (the connector may derive them from other fields).
    """

    key: str
    activity: str | None
    step: str | None = None
    method: str | None = None
    outcome: str | None = None
    reason: str | None = None
    note: str = ""

    def row(self) -> tuple[object, ...]:
        return (self.key, self.activity, self.step, self.method, self.outcome, self.reason)


RULE_COLUMNS = ("key", "activity", "step", "method", "outcome", "reason")


def rules_table(alias: str, rules: Sequence[Rule]) -> str:
    keys = [r.key for r in rules]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ValueError(f"duplicate keys in mapping {alias}: {sorted(dupes)}")
    cols = tuple(f"{alias}_{c}" for c in RULE_COLUMNS)
    return values_table(alias, cols, (r.row() for r in rules))


def rules_map(rules: Sequence[Rule]) -> str:
    """``MAP {key: {activity, step, method, outcome, reason}}``: the rules as one constant.

    Looked up per row (``map[key]``, NULL for a key not listed) instead of joined: a join may
    reorder the rows, which a query whose rows must stay in input order cannot afford.
    """
    keys = [r.key for r in rules]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise ValueError(f"duplicate keys in mapping: {sorted(dupes)}")
    fields = RULE_COLUMNS[1:]

    def struct(r: Rule) -> str:
        return (
            "{"
            + ", ".join(f"'{c}': {lit(v)}::VARCHAR" for c, v in zip(fields, r.row()[1:], strict=True))
            + "}"
        )

    return "MAP {" + ", ".join(f"{lit(r.key)}: {struct(r)}" for r in rules) + "}"


def pairs_map(pairs: Iterable[tuple[str, str]]) -> str:
    """``MAP {key: value}`` of text pairs (looked up per row, see :func:`rules_map`)."""
    return "MAP {" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in pairs) + "}"


@dataclass(frozen=True)
class DocTable:
    """A table of a connector's documentation page (generated from the mapping data)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    intro: str = ""


def rules_doc(
    title: str, rules: Sequence[Rule], intro: str = "", key_header: str = "vendor event"
) -> DocTable:
    rows = tuple(
        (
            r.key,
            r.activity or "*(skipped)*",
            r.step or "",
            r.method or "",
            r.outcome or ("" if r.activity is None else "from record"),
            r.reason or "",
            r.note,
        )
        for r in rules
    )
    return DocTable(
        title, (key_header, "activity", "step", "method", "outcome", "reason", "note"), rows, intro
    )


def pairs_doc(
    title: str, pairs: Iterable[tuple[object, ...]], headers: tuple[str, ...], intro: str = ""
) -> DocTable:
    return DocTable(title, headers, tuple(tuple(p) for p in pairs), intro)


def render_markdown(title: str, intro: str, tables: Sequence[DocTable]) -> str:
    """The Markdown page of one connector."""

    def cell(v: object) -> str:
        text = "" if v is None else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    out = [f"# {title}", "", intro.strip(), ""]
    for t in tables:
        out += [f"## {t.title}", ""]
        if t.intro:
            out += [t.intro.strip(), ""]
        out.append("| " + " | ".join(t.headers) + " |")
        out.append("|" + "---|" * len(t.headers))
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
        out.append("")
    out.append(
        "*Generated from `src/idwatch/sources/*_map.py` by `python -m idwatch.sources.connector_docs`;"
        " do not edit by hand.*"
    )
    return "\n".join(out) + "\n"


#: Output columns every connector SELECT ends with (EVENT_SCHEMA minus raw, plus the driver's).
OUTPUT_COLUMNS: tuple[str, ...] = (
    ("_file", "_line", "_raw") + tuple(c for c in EVENT_COLUMNS if c != "raw") + ("_skip", "_error")
)

_TYPES = {"account_exists": "BOOLEAN", "asn": "BIGINT", "_line": "BIGINT"}


def output_select(exprs: dict[str, str], source: str) -> str:
    """The final projection in contract order; columns a connector does not set are NULL."""
    exprs = {"_file": "_file", "_line": "_line", "_raw": "_raw", "source": lit(source), **exprs}
    unknown = set(exprs) - set(OUTPUT_COLUMNS)
    if unknown:
        raise ValueError(f"not output columns: {sorted(unknown)}")
    cols = []
    for c in OUTPUT_COLUMNS:
        typ = _TYPES.get(c, "VARCHAR")
        cols.append(f"CAST({exprs.get(c, 'NULL')} AS {typ}) AS {c}")
    return ",\n  ".join(cols)


# --------------------------------------------------------------------------- envelopes


def unnest_envelopes(
    view: str,
    list_paths: Sequence[str] = (),
    object_paths: Sequence[str] = (),
    envelope_fields: Sequence[str] = (),
) -> str:
    """SELECT over ``view`` with one row per record inside an envelope, the same columns.

    A record whose ``list_paths`` element is a non-empty JSON array (an Event Hub message's
    ``records``, an Okta event hook's ``data.events``) becomes one row per element; one whose
    ``object_paths`` element is an object (a forwarder's ``event``) becomes that object. Such a
    row's ``_raw`` and ``rec`` are the inner record's text. Any other record passes unchanged.
    Only records whose text names one of the keys are parsed for it (a cheap ``strpos``), so bare
    records cost nothing extra. ``envelope_fields`` are read from the envelope itself into the
    list column ``_env`` (NULL for a bare record), e.g. the org an event hook came from.
    """
    paths = [*list_paths, *object_paths]
    if not paths:
        return f"SELECT _file, _line, _raw, rec, NULL::VARCHAR[] AS _env FROM {view}"
    keys = {p.rsplit(".", 1)[-1] for p in paths}
    probe = " OR ".join(f"strpos(rec, {lit(chr(34) + k + chr(34))}) > 0" for k in sorted(keys))
    listing = ", ".join(lit(p) for p in paths)
    env_listing = ", ".join(lit(p) for p in envelope_fields) or "'$.__none__'"
    whens = [
        f"WHEN json_type(_w[{i}]) = 'ARRAY' AND json_array_length(_w[{i}]) > 0 "
        f"THEN list_transform(json_extract(_w[{i}], '$[*]'), lambda v: v::VARCHAR)"
        for i in range(1, len(list_paths) + 1)
    ]
    whens += [
        f"WHEN json_type(_w[{i}]) = 'OBJECT' THEN [_w[{i}]::VARCHAR]"
        for i in range(len(list_paths) + 1, len(paths) + 1)
    ]
    # bare records pass without an unnest (which would copy their text); envelopes are unnested
    return f"""
WITH _probe AS (
  SELECT _file, _line, _raw, rec,
    CASE WHEN {probe} THEN json_extract(rec, [{listing}]) END AS _w,
    CASE WHEN {probe} THEN json_extract_string(rec, [{env_listing}]) END AS _env
  FROM {view}
),
_split AS (
  SELECT *, CASE WHEN _w IS NOT NULL THEN CASE {" ".join(whens)} END END AS _elems FROM _probe
)
SELECT _file, _line, _raw, rec, NULL::VARCHAR[] AS _env FROM _split WHERE _elems IS NULL
UNION ALL
SELECT _file, _line, _inner AS _raw, _inner AS rec, _env
FROM (SELECT _file, _line, _env, unnest(_elems) AS _inner FROM _split WHERE _elems IS NOT NULL)"""
