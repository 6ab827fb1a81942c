"""The account directory (EVENTS.md section 2): who the accounts are, imported from CSV or JSONL.

A re-import updates accounts by (account, tenant) and keeps the others. Recovery contacts are
stored only as SHA-256 hashes: a file may carry ``contact_hash`` (64 hex digits) or a plain
``contact`` (a phone number, international or national in the account's ``home_country``, or an
email), which is normalized (E.164 by libphonenumber), hashed here and never stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa

from idwatch.store import DIRECTORY_SCHEMA, Store

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


class DirectoryError(ValueError):
    """The directory file has rows that cannot be imported (the message lists them)."""


def normalize_contact(value: str, region: str | None = None) -> str | None:
    """E.164 for a phone number, lower-case for an email; None if neither.

    A phone number in national form (``(202) 555-0143``, ``07700 900123``) is read with the
    account's home country as region (libphonenumber's rules: trunk prefix, ``(0)``, the
    country's international prefix); without a region it must be international (``+`` or
    ``00``), or its digits are taken as already carrying the country code, as logs write them.
    """
    value = value.strip()
    if "@" in value:
        return value.lower() or None
    if not any(ch.isdigit() for ch in value):
        return None
    text = "+" + value[2:] if value.startswith("00") and not region else value
    candidates = [(text, region.upper() if region else None)]
    if not region and not text.startswith("+"):
        candidates.append(("+" + re.sub(r"[^0-9]", "", text), None))
    for candidate, reg in candidates:
        try:
            number = phonenumbers.parse(candidate, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def hash_contact(value: str, region: str | None = None) -> str | None:
    """SHA-256 hex of a normalized recovery contact (phones read in the account's home country)."""
    norm = normalize_contact(value, region)
    return hashlib.sha256(norm.encode()).hexdigest() if norm else None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DirectoryError(f"{path}: not UTF-8: {exc}") from exc
    first = text.lstrip()[:1]
    if first in ("{", "["):
        if first == "[":
            rows = json.loads(text)
        else:
            rows = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise DirectoryError(f"{path}:{n}: not JSON: {exc}") from exc
        return rows
    return list(csv.DictReader(io.StringIO(text)))


#: What a directory says about an account beyond its name: a file where every row leaves all of
#: these empty describes nobody (an events file read as a directory has account and tenant only).
DESCRIBING_COLUMNS = (
    "display_name",
    "category",
    "watchlist",
    "home_country",
    "contact_hash",
    "contact",
    "notify",
)


def _check_is_directory(path: str, raw_rows: list[Any]) -> None:
    """Refuse a file whose rows describe no account (e.g. an events file given as the directory)."""
    rows = [r for r in raw_rows if isinstance(r, dict)]
    if not rows or any(r.get(c) not in (None, "") for r in rows for c in DESCRIBING_COLUMNS):
        return
    seen = sorted({k for r in rows[:1000] for k in r})
    hint = "; it looks like an events file (use `idwatch ingest`)" if "activity" in seen else ""
    raise DirectoryError(
        f"{path}: not an account directory: the columns {', '.join(DESCRIBING_COLUMNS)} are missing "
        f"or empty in all {len(rows):,} rows (columns found: {', '.join(seen[:12])}){hint}"
    )


def _row(raw: Any, n: int) -> tuple[dict[str, Any] | None, str | None]:
    """A directory row in DIRECTORY_SCHEMA shape, or the reason it is rejected."""
    if not isinstance(raw, dict):
        return None, f"row {n}: not an object"
    account = raw.get("account")
    if not isinstance(account, str) or not account.strip():
        return None, f"row {n}: missing account"
    out: dict[str, Any] = {"account": account.strip().lower()}
    for col in ("tenant", "display_name", "category", "home_country", "notify"):
        value = raw.get(col)
        if value is not None and not isinstance(value, str):
            return None, f"row {n}: {col} must be text"
        out[col] = value.strip() if isinstance(value, str) and value.strip() else None
    if out["home_country"]:
        out["home_country"] = out["home_country"].upper()
    watch = raw.get("watchlist")
    if isinstance(watch, str):
        if watch.strip().lower() not in _TRUE | _FALSE:
            return None, f"row {n}: watchlist must be true/false, got {watch!r}"
        watch = watch.strip().lower() in _TRUE
    elif watch is not None and not isinstance(watch, bool):
        return None, f"row {n}: watchlist must be true/false"
    out["watchlist"] = bool(watch)
    digest = raw.get("contact_hash")
    if isinstance(digest, str) and digest.strip():
        digest = digest.strip().lower()
        if not _HEX64.fullmatch(digest):
            return None, f"row {n}: contact_hash must be a SHA-256 hex digest"
    else:
        digest = None
    contact = raw.get("contact")
    if digest is None and isinstance(contact, str) and contact.strip():
        digest = hash_contact(contact, out["home_country"])
        if digest is None:
            return None, f"row {n}: contact is neither a phone number nor an email address"
    out["contact_hash"] = digest
    return out, None


def import_directory(store: Store, path: str) -> int:
    """Import a CSV / JSONL directory file; returns the number of rows imported."""
    src = Path(path)
    try:
        raw_rows = _read_rows(src)
    except OSError as exc:
        raise DirectoryError(f"{path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise DirectoryError(f"{path}: {exc}") from exc
    _check_is_directory(path, raw_rows)
    rows, problems = [], []
    for n, raw in enumerate(raw_rows, 1):
        row, problem = _row(raw, n)
        if problem:
            problems.append(problem)
        else:
            rows.append(row)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... {len(problems) - 10} more" if len(problems) > 10 else "")
        raise DirectoryError(f"{path}: {len(problems)} bad row(s), nothing imported: {shown}")
    latest = {(r["account"], r["tenant"]): r for r in rows}  # a later row for the same account wins
    new = pa.Table.from_pylist(list(latest.values()), schema=DIRECTORY_SCHEMA)
    merged = _merge(store, new)
    store.write_directory(merged)
    return len(rows)


def _merge(store: Store, new: pa.Table) -> pa.Table:
    """Existing directory rows not in ``new`` (by account, tenant), then ``new``."""
    con = store.connect()
    try:
        con.register("_new", new)
        return (
            con.sql(
                """SELECT * FROM directory d
               WHERE NOT EXISTS (SELECT 1 FROM _new n WHERE n.account = d.account
                                 AND n.tenant IS NOT DISTINCT FROM d.tenant)
               UNION ALL BY NAME
               SELECT * FROM _new"""
            )
            .to_arrow_table()
            .select(DIRECTORY_SCHEMA.names)
        )
    finally:
        con.close()
