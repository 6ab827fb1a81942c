"""A micro-batch runs the detections from the watermark: only its new alerts come back."""

from __future__ import annotations

from idwatch.detections.engine import WATERMARK
from idwatch.store import Store
from idwatch.stream.batch import detect_new, ingest_records

from .conftest import office_history, spray, sprays_from


def _lines(records: list[bytes]) -> bytes:
    return b"\n".join(records) + b"\n"


def test_each_micro_batch_yields_only_its_own_new_alerts_and_the_watermark_advances(tmp_path):
    store = Store(str(tmp_path / "s"))
    ingest_records(store, _lines(office_history()))
    assert detect_new(store) == []
    mark0 = store.read_state_json(WATERMARK)["until"]

    ingest_records(store, _lines(spray(130, "203.0.113.9", "s1")))
    first = detect_new(store)
    mark1 = store.read_state_json(WATERMARK)["until"]
    assert sprays_from(first) == {"203.0.113.9"}
    assert mark1 > mark0

    ingest_records(store, _lines(spray(160, "198.18.7.7", "s2")))
    second = detect_new(store)
    mark2 = store.read_state_json(WATERMARK)["until"]
    assert sprays_from(second) == {"198.18.7.7"}
    assert not {a["alert_id"] for a in first} & {a["alert_id"] for a in second}
    assert mark2 > mark1
    assert store.read_state_table("alerts").num_rows == len(first) + len(second)


def test_a_replayed_batch_is_all_duplicates_and_makes_no_alert(tmp_path):
    store = Store(str(tmp_path / "s"))
    batch = _lines(office_history() + spray(130, "203.0.113.9", "s1"))
    ingest_records(store, batch)
    assert sprays_from(detect_new(store)) == {"203.0.113.9"}
    again = ingest_records(store, batch)
    assert (again.stored, again.duplicates) == (0, again.records)
    assert detect_new(store) == []
