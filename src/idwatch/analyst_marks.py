"""Analyst marks: an alert or a campaign judged true positive, false positive or benign.

Kept in the store (``state/analyst_marks.parquet``, view ``analyst_marks``) as an append-only
history, one row per judgement with who made it and why; the current mark of a target is its
latest row. Every view of an alert or campaign shows it, and ``notify`` tells no one about a
campaign whose current mark is a false positive.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from idwatch.schema import TIME_TYPE
from idwatch.store import Store

TABLE = "analyst_marks"
TARGET_KINDS = ("alert", "campaign")
VERDICTS = ("true_positive", "false_positive", "benign")
#: A comment is a note, not a document: long enough for a ticket reference and a paragraph.
MAX_COMMENT = 2000

MARK_SCHEMA = pa.schema(
    [
        pa.field("mark_id", pa.string(), nullable=False),
        pa.field("target_kind", pa.string(), nullable=False),  # alert | campaign
        pa.field("target_id", pa.string(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),  # true_positive | false_positive | benign
        pa.field("comment", pa.string()),
        pa.field("author", pa.string(), nullable=False),
        pa.field("created_at", TIME_TYPE, nullable=False),
    ]
)
# One writer at a time within the process (the API server); the file itself is replaced atomically.
_LOCK = threading.Lock()


class MarkError(ValueError):
    """A mark that cannot be recorded (unknown kind or verdict, comment too long)."""


def all_marks(store: Store) -> list[dict[str, Any]]:
    """Every recorded judgement, oldest first."""
    table = store.read_state_table(TABLE)
    return table.cast(MARK_SCHEMA).to_pylist() if table is not None else []


def current_marks(store: Store, target_kind: str) -> dict[str, dict[str, Any]]:
    """target id -> its latest mark, for one kind of target."""
    out: dict[str, dict[str, Any]] = {}
    for row in all_marks(store):
        if row["target_kind"] == target_kind:
            out[row["target_id"]] = row
    return out


def false_positive_campaigns(store: Store) -> set[str]:
    """Campaigns whose current mark says they are not an attack (notify skips them)."""
    return {cid for cid, m in current_marks(store, "campaign").items() if m["verdict"] == "false_positive"}


def add_mark(
    store: Store, target_kind: str, target_id: str, verdict: str, comment: str | None, author: str
) -> dict[str, Any]:
    """Record one judgement and return it. The caller checks that the target exists."""
    if target_kind not in TARGET_KINDS:
        raise MarkError(f"target kind must be one of {', '.join(TARGET_KINDS)}, not {target_kind!r}")
    if verdict not in VERDICTS:
        raise MarkError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if comment and len(comment) > MAX_COMMENT:
        raise MarkError(f"comment is {len(comment)} characters; at most {MAX_COMMENT}")
    row = {
        "mark_id": uuid.uuid4().hex,
        "target_kind": target_kind,
        "target_id": target_id,
        "verdict": verdict,
        "comment": comment or None,
        "author": author,
        "created_at": datetime.now(UTC),
    }
    with _LOCK:
        rows = [*all_marks(store), row]
        store.write_state_table(TABLE, pa.Table.from_pylist(rows, schema=MARK_SCHEMA))
    return row
