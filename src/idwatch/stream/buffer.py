"""The bounded queue between the Kafka fetch thread and the micro-batcher.

Capacity is counted in records. ``offer`` never blocks and never drops: it takes what fits and
the fetcher keeps the rest (and pauses the consumer) until there is room.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import NamedTuple


class Record(NamedTuple):
    """One Kafka message as the batcher needs it."""

    partition: int
    offset: int
    value: bytes
    timestamp_ms: int  #: the message's create time (the producer's clock), for latency figures
    key: bytes | None = None


class Buffer:
    """A FIFO of records holding at most ``capacity``."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the queue needs room for at least one record")
        self.capacity = capacity
        self._items: deque[Record] = deque()
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def offer(self, chunk: list[Record]) -> int:
        """Append the longest head of ``chunk`` that fits; return how many records it took."""
        with self._cond:
            n = max(0, min(len(chunk), self.capacity - len(self._items)))
            if n:
                self._items.extend(chunk[:n])
                self._cond.notify_all()
            return n

    def has_room(self) -> bool:
        """At most half full: where a paused consumer resumes (hysteresis, so it does not flap)."""
        with self._cond:
            return len(self._items) <= self.capacity // 2

    def take(self, most: int, timeout: float) -> list[Record]:
        """Up to ``most`` records, waiting at most ``timeout`` seconds for the first one."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            n = min(most, len(self._items))
            return [self._items.popleft() for _ in range(n)]
