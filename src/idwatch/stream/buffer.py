"""The bounded queue between the Kafka fetch thread and the micro-batcher.

Capacity is counted in records. ``offer`` never blocks and never drops: a chunk that does not
fit is refused whole and the fetcher keeps it (and pauses the consumer) until there is room.
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


class Buffer:
    """A FIFO of records holding at most ``capacity`` (a single larger chunk fits an empty buffer)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the queue needs room for at least one record")
        self.capacity = capacity
        self._items: deque[Record] = deque()
        self._cond = threading.Condition()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def offer(self, chunk: list[Record]) -> bool:
        """Append the whole chunk if it fits; False (nothing taken) when it does not."""
        with self._cond:
            if self._items and len(self._items) + len(chunk) > self.capacity:
                return False
            self._items.extend(chunk)
            self._cond.notify_all()
            return True

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
