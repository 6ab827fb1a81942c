"""Fixtures for the ingest tests: valid native records and a fresh store per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from idwatch.store import Store


def native_event(i: int = 0, **over: Any) -> dict[str, Any]:
    """One valid native event; ``i`` makes event_id, account and IP distinct."""
    rec: dict[str, Any] = {
        "time": f"2024-03-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
        "event_id": f"ev-{i}",
        "source": "native",
        "tenant": "example.org",
        "account": f"user{i}@example.org",
        "activity": "sign_in",
        "method": "password",
        "outcome": "failure",
        "reason": "bad_password",
        "src_ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "Chrome/120.0 Safari/537.36",
    }
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not ...}


def write_jsonl(path: Path, records: list[Any], *, newline: str = "\n") -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text(newline.join(lines) + newline, encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


@pytest.fixture
def quarantined(store: Store):  # noqa: ANN201 - returns a function
    """All quarantine rows of the store, sorted by (file, line)."""

    def read() -> list[dict[str, Any]]:
        rows = []
        for path in sorted(store.quarantine_dir.glob("*.jsonl")):
            rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
        return sorted(rows, key=lambda r: (r["file"], r["line"]))

    return read


@pytest.fixture
def event():  # noqa: ANN201 - returns a function
    """``event(i, **overrides)``: a valid native record (dict)."""
    return native_event


@pytest.fixture
def jsonl():  # noqa: ANN201 - returns a function
    """``jsonl(path, records, newline="\\n")``: write records (dicts or raw strings) as JSON Lines."""
    return write_jsonl
