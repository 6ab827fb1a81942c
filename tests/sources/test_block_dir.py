"""The typed parser's block files go to memory when there is room, and a killed ingest's are swept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import idwatch.sources.base as base


@pytest.fixture
def memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "shm"
    folder.mkdir()
    monkeypatch.setattr(base, "MEMORY_TMP", folder)
    return folder


def test_blocks_go_to_memory_when_it_has_room(memory: Path) -> None:
    blocks = base.new_block_dir()
    assert blocks.parent == memory


def test_blocks_go_to_the_ordinary_temporary_folder_when_memory_is_short(
    memory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "CHUNK_BYTES", 1 << 62)
    blocks = base.new_block_dir()
    try:
        assert blocks.parent != memory
    finally:
        base.remove_tmpdir(blocks)


def test_a_killed_ingests_blocks_are_removed_and_a_live_ones_kept(memory: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = memory / f"idwatch-blocks-{int(gone.stdout)}-abc"
    live = memory / "idwatch-blocks-1-abc"  # pid 1 is always alive
    for folder in (dead, live):
        folder.mkdir()
        (folder / "typed-x.jsonl").write_text("{}\n")

    base.new_block_dir()

    assert not dead.exists()
    assert live.exists()
