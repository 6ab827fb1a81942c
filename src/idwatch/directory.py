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


#: The columns a directory file may have (EVENTS.md section 2, plus a plain ``contact`` that is
#: hashed here); any other column is refused, never silently dropped.
DIRECTORY_COLUMNS: tuple[str, ...] = (*DIRECTORY_SCHEMA.names, "contact")
#: Columns only an events file has (EVENTS.md section 1): they name what was handed in by mistake.
_EVENT_COLUMNS = frozenset({"time", "activity", "outcome", "src_ip", "event_id", "user_agent"})
_BINARY_KINDS = {b"PAR1": "a Parquet file", b"\x1f\x8b": "gzip-compressed", b"PK": "a zip archive"}


def _read_rows(path: Path) -> tuple[list[Any], list[str]]:
    """The file's rows and its columns (CSV: the header; JSON: every key any row has)."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    for magic, kind in _BINARY_KINDS.items():
        if data.startswith(magic):
            raise DirectoryError(
                f"{path}: {kind}, not an account directory: a directory is CSV (header row) or JSON "
                "Lines, one account per row (docs/EVENTS.md section 2)"
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DirectoryError(f"{path}: not UTF-8: {exc}") from exc
    first = text.lstrip()[:1]
    if first not in ("{", "["):
        reader = csv.DictReader(io.StringIO(text))
        rows: list[Any] = list(reader)
        return rows, [c for c in reader.fieldnames or [] if c is not None]
    try:
        whole = json.loads(text)  # a JSON array, or one object (which may span lines)
    except ValueError:
        whole = None
    if isinstance(whole, list):
        rows = whole
    elif isinstance(whole, dict):
        rows = [whole]
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise DirectoryError(f"{path}:{n}: not JSON: {exc}") from exc
    columns = sorted({k for r in rows if isinstance(r, dict) for k in r})
    return rows, columns


def _check_shape(path: str, rows: list[Any], columns: list[str]) -> None:
    """Refuse a file that is not shaped like a directory, whatever its values look like.

    A directory has an ``account`` column and only directory columns. Anything else (an events
    file, labels, a STIX bundle, an HR export with columns of its own) is refused whole, naming
    the columns that do not belong, instead of being read as rows of nulls.
    """
    if not rows:
        raise DirectoryError(f"{path}: holds no rows: nothing to import")
    unknown = [c for c in columns if c not in DIRECTORY_COLUMNS]
    if "account" in columns and not unknown:
        return
    if _EVENT_COLUMNS & set(unknown):
        hint = "; it looks like an events file (use `idwatch ingest`)"
    elif any(isinstance(r, dict) and r.get("type") == "bundle" for r in rows[:1]):
        hint = "; it is a STIX bundle (use `idwatch intel import`)"
    else:
        hint = ""
    problem = f"column(s) {', '.join(unknown[:12])}{', ...' if len(unknown) > 12 else ''} unknown"
    if "account" not in columns:
        problem = "no account column" + (f", {problem}" if unknown else "")
    raise DirectoryError(
        f"{path}: not an account directory: {problem}; a directory has the columns "
        f"{', '.join(DIRECTORY_COLUMNS)} (account required; docs/EVENTS.md section 2){hint}"
    )


def _row(raw: Any, n: int) -> tuple[dict[str, Any] | None, str | None]:
    """A directory row in DIRECTORY_SCHEMA shape, or the reason it is rejected."""
    if not isinstance(raw, dict):
        return None, f"row {n}: not an object"
    if None in raw:  # csv.DictReader's key for cells beyond the header
        return None, f"row {n}: more cells than the header has columns"
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
    return write_directory(store, read_directory(path))


def write_directory(store: Store, new: pa.Table) -> int:
    """Merge rows read by :func:`read_directory` into the store's directory; returns their number."""
    store.write_directory(_merge(store, new))
    return new.num_rows


def read_directory(path: str) -> pa.Table:
    """A directory file checked whole (shape, then every row) before any store is touched."""
    src = Path(path)
    try:
        raw_rows, columns = _read_rows(src)
    except OSError as exc:
        raise DirectoryError(f"{path}: {exc.strerror or exc}") from exc
    except DirectoryError:
        raise
    except ValueError as exc:
        raise DirectoryError(f"{path}: {exc}") from exc
    _check_shape(path, raw_rows, columns)
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
    return pa.Table.from_pylist(list(latest.values()), schema=DIRECTORY_SCHEMA)


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
