"""The bounded queue between fetch thread and batcher: refuses whole chunks when full, drops nothing."""

from __future__ import annotations

import pytest

from idwatch.stream.buffer import Buffer, Record


def _recs(n: int, start: int = 0) -> list[Record]:
    return [Record(0, i, b"{}", 0) for i in range(start, start + n)]


def test_a_chunk_that_does_not_fit_is_taken_as_far_as_it_fits_and_the_rest_is_left_to_the_caller():
    buf = Buffer(10)
    assert buf.offer(_recs(8)) == 8
    assert buf.offer(_recs(3, start=8)) == 2
    assert buf.offer(_recs(1, start=10)) == 0
    assert [r.offset for r in buf.take(100, 0.0)] == list(range(10))


def test_a_paused_consumer_resumes_only_once_the_buffer_is_half_empty():
    buf = Buffer(10)
    buf.offer(_recs(10))
    buf.take(4, 0.0)
    assert not buf.has_room()
    buf.take(1, 0.0)
    assert buf.has_room()


def test_take_returns_in_order_and_at_most_what_was_asked():
    buf = Buffer(100)
    buf.offer(_recs(5))
    assert [r.offset for r in buf.take(2, 0.0)] == [0, 1]
    assert [r.offset for r in buf.take(10, 0.0)] == [2, 3, 4]
    assert buf.take(10, 0.01) == []


def test_a_buffer_without_room_is_a_configuration_error():
    with pytest.raises(ValueError):
        Buffer(0)
