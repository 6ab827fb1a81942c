"""What an ingest shows while it runs: bytes read of the file at hand, records, files done.

One big file used to show nothing until it was done; the bar now moves with every chunk the
reader cuts (bytes of the lines read, against the file's size when it is not compressed).
"""

from __future__ import annotations

import pyarrow.compute as pc
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from idwatch.sources.base import Chunk, InputFile

GZIP_MAGIC = b"\x1f\x8b"


def _plain_size(inp: InputFile) -> int | None:
    """The size to read through, when bytes read can be compared with it (plain files on disk)."""
    if inp.path is None:
        return len(inp.data) if inp.data is not None and not inp.data.startswith(GZIP_MAGIC) else None
    try:
        with open(inp.path, "rb") as fh:
            if fh.read(2) == GZIP_MAGIC:
                return None
        return inp.path.stat().st_size
    except OSError:
        return None


def chunk_bytes(chunk: Chunk) -> int:
    """Bytes of input a chunk stands for (its lines, newline included; 0 when not line-based)."""
    if chunk.lines is None or chunk.lines.num_rows == 0:
        return 0
    total = pc.sum(pc.binary_length(chunk.lines.column("_bytes"))).as_py() or 0
    return int(total)


class IngestProgress:
    """A rich progress display per input file; a no-op when disabled."""

    def __init__(self, inputs: list[InputFile], enabled: bool) -> None:
        self.inputs = inputs
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._done = 0
        self._size: int | None = None
        self._read = 0
        if enabled:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()

    def start_file(self, inp: InputFile) -> None:
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._done += 1
        label = f"ingesting {inp.name}" + (
            f" (file {self._done}/{len(self.inputs)})" if len(self.inputs) > 1 else ""
        )
        self._size = _plain_size(inp)
        self._read = 0
        self._task = self._bar.add_task(label, total=self._size)

    def advance(self, chunk: Chunk) -> None:
        if self._bar is not None and self._task is not None:
            self._read += chunk_bytes(chunk)
            shown = min(self._read, self._size) if self._size is not None else self._read
            self._bar.update(self._task, completed=shown)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
