"""Progress bars for the long single steps: objects validated, events a DuckDB statement has read.

Shown on stderr and only on a terminal (``enabled``), never with ``--json``: a pipe or a log gets
no bar. Each bar is determinate (done of a known total) and is driven to its total when the
work ends, so what the user last sees is the finished count. ``on_update`` sees every
``(done, total)`` the bar is given (tests use it; the bar itself may be off).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from idwatch.store import Store

Update = Callable[[int, int], None]
#: How often the DuckDB meter asks the running statement how far it is (seconds).
POLL_SECONDS = 0.1


def shows_progress(console: Console, json_out: bool = False) -> bool:
    """A bar only for a person at a terminal: not with --json, not into a pipe or a file."""
    return console.is_terminal and not json_out


def bar(console: Console, label_width: int = 0) -> Progress:
    """The one look of idwatch's bars: label, bar, done of total, elapsed; gone when finished."""
    return Progress(
        TextColumn(f"{{task.description:<{label_width}}}" if label_width else "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class Counted:
    """One determinate bar: ``update(done)`` of ``total``; a no-op display when disabled."""

    def __init__(
        self, label: str, total: int, *, console: Console, enabled: bool, on_update: Update | None = None
    ) -> None:
        self.total, self.done, self.on_update = total, 0, on_update
        self._bar: Progress | None = bar(console) if enabled else None
        self._task: TaskID | None = None
        self._lock = threading.Lock()
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(label, total=total)

    def update(self, done: int, *, total: int | None = None, label: str | None = None) -> None:
        with self._lock:
            self.total = self.total if total is None else total
            self.done = min(max(done, 0), self.total)
            if self._bar is not None and self._task is not None:
                extra: dict[str, Any] = {"description": label} if label else {}
                self._bar.update(self._task, completed=self.done, total=self.total, **extra)
            if self.on_update is not None:
                self.on_update(self.done, self.total)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def finish(self) -> None:
        self.update(self.total)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def counted(
    label: str, total: int, *, console: Console, enabled: bool, on_update: Update | None = None
) -> Iterator[Counted]:
    """A :class:`Counted` bar for the ``with`` block, driven to its total when the block ends."""
    bar = Counted(label, total, console=console, enabled=enabled, on_update=on_update)
    try:
        yield bar
    finally:
        bar.finish()


class MeteredStore(Store):
    """A store whose connections report how far their running statement has read.

    DuckDB measures a statement's progress as the share of its input rows its scans have
    read (``query_progress``, with progress tracking on and its own printing off); the meter
    shows that share of the store's events, statement by statement.
    """

    def __init__(self, root: str | None = None, *, create: bool = True, track: bool = True) -> None:
        super().__init__(root, create=create)
        self.track = track  # off: plain connections (no bar is shown, so nothing to measure)
        self.connections: list[duckdb.DuckDBPyConnection] = []

    def connect(self, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        con = super().connect(threads=threads)
        if not self.track:
            return con
        try:
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
        except duckdb.Error:  # a locked read-only connection: it runs unmetered
            return con
        self.connections.append(con)
        return con

    def event_count(self) -> int:
        con = Store.connect(self)
        try:
            return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
        finally:
            con.close()


@contextmanager
def metered(
    store: MeteredStore,
    label: str,
    events: int,
    *,
    console: Console,
    enabled: bool,
    on_update: Update | None = None,
) -> Iterator[Counted]:
    """A bar of the events the running statement has read (of ``events``), while the block runs.

    A statement that starts over is counted in the label (``statement N``): the work is many
    statements, each reading the store's sign-ins, and the bar shows the current one.
    """
    bar = Counted(f"{label}: statement 1", events, console=console, enabled=enabled, on_update=on_update)
    stop = threading.Event()

    def poll() -> None:
        statement, last = 1, -1.0
        while not stop.wait(POLL_SECONDS):
            con = store.connections[-1] if store.connections else None
            try:
                share = con.query_progress() if con is not None else -1.0
            except (duckdb.Error, RuntimeError):
                share = -1.0
            if share < 0:
                continue
            if share + 1.0 < last:  # dropped back: the next statement has begun
                statement += 1
            last = share
            bar.update(round(events * share / 100.0), label=f"{label}: statement {statement}")

    watcher = threading.Thread(target=poll, name="idwatch-progress", daemon=True)
    watcher.start()
    try:
        yield bar
    finally:
        stop.set()
        watcher.join()
        bar.finish()
