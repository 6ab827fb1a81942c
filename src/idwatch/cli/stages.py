"""The analysis as the user waits for it: wall time and a progress bar per stage.

``analyze`` and ``run`` print the wall time of the whole step and of each stage (detections,
incidents, campaigns, attribution), measured here around the core's calls, so the figure shown
is the time the user waited, not the time of one part.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    Progress,
    TaskID,
)

from idwatch.cli.progress import bar as progress_bar
from idwatch.engines.base import Engine
from idwatch.store import Store

STAGES = ("detections", "incidents", "campaigns", "attribution")
#: correlate()'s step names -> the stage they belong to.
STEP_STAGE = {
    "incidents": "incidents",
    "campaign graph": "campaigns",
    "campaign counts": "campaigns",
    "attribution": "attribution",
    "accounts": "attribution",
}


@dataclass
class StageClock:
    """Wall seconds per stage; a stage runs until the next one starts (or :meth:`stop`)."""

    progress: Progress | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    _current: str | None = None
    _started: float = 0.0
    _t0: float = field(default_factory=time.perf_counter)
    _tasks: dict[str, TaskID] = field(default_factory=dict)

    def start(self, stage: str, total: int | None = None) -> None:
        if stage == self._current:
            return
        self._close()
        self._current, self._started = stage, time.perf_counter()
        if self.progress is not None:
            self._tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, done: int, total: int) -> None:
        if self.progress is not None and self._current in self._tasks:
            self.progress.update(self._tasks[self._current], completed=done, total=total)

    def _close(self) -> None:
        if self._current is None:
            return
        self.seconds[self._current] = round(
            self.seconds.get(self._current, 0.0) + time.perf_counter() - self._started, 2
        )
        task = self._tasks.get(self._current)
        if self.progress is not None and task is not None:
            total = self.progress.tasks[task].total or 1
            self.progress.update(task, total=total, completed=total)
        self._current = None

    def stop(self) -> float:
        """Close the running stage; the wall seconds since the clock was made."""
        self._close()
        return round(time.perf_counter() - self._t0, 2)


def run_analysis(
    store: Store, *, console: Console | None = None, engine: Engine | None = None
) -> dict[str, Any]:
    """Detections, then correlation and attribution, timed per stage (bars when ``console``);
    ``engine`` (:mod:`idwatch.engines`): where their queries run (default DuckDB).

    The correlation summary as a dict, whose ``seconds`` is the wall time of the whole step and
    ``seconds_by_stage`` that of the four stages.
    """
    from idwatch.correlate.pipeline import correlate
    from idwatch.detections.engine import run_detections

    bar = progress_bar(console, label_width=12) if console is not None else None
    clock = StageClock(progress=bar)
    if bar is not None:
        bar.start()
    try:
        clock.start("detections")
        det = run_detections(
            store, on_detection=lambda _id, done, total: clock.advance(done, total), engine=engine
        )
        summary = correlate(store, step=lambda name: clock.start(STEP_STAGE.get(name, name)), engine=engine)
    finally:
        wall = clock.stop()
        if bar is not None:
            bar.stop()
    data = summary.to_dict()
    data["detections"] = det.to_dict()
    data["seconds"] = wall
    data["seconds_by_stage"] = {s: clock.seconds.get(s, 0.0) for s in STAGES}
    return data
