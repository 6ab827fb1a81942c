"""Fixtures: a store holding hand-built campaigns and a directory (EVENTS.md sections 2 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from idwatch.store import DIRECTORY_SCHEMA, Store

FIXTURE = json.loads((Path(__file__).parents[1] / "respond" / "data" / "fixture.json").read_text())


def build_store(root: Path, campaigns: list | None = None, directory: list | None = None) -> Store:
    store = Store(root)
    store.write_directory(pa.Table.from_pylist(directory or FIXTURE["directory"], schema=DIRECTORY_SCHEMA))
    store.write_state_json("campaigns", FIXTURE["campaigns"] if campaigns is None else campaigns)
    return store


@pytest.fixture
def fixture_data() -> dict:
    return json.loads(json.dumps(FIXTURE))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store")


@pytest.fixture
def make_store(tmp_path: Path):
    """A store with other campaigns or directory rows: ``make_store(name, campaigns=..., directory=...)``."""

    def make(name: str, **kwargs) -> Store:
        return build_store(tmp_path / name, **kwargs)

    return make
