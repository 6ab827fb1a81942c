"""POST /api/v1/events: the file-ingest path over HTTP, counts that add up, 503 when full."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from idwatch.api.app import create_app
from idwatch.api.users import add_user
from idwatch.store import Store
from idwatch.stream.batch import Gate

from .conftest import native_events


@pytest.fixture
def served(tmp_path):
    store = Store(str(tmp_path / "s"))
    store.root.mkdir(parents=True, exist_ok=True)
    token = add_user(store, "ana", "analyst")
    app = create_app(store)
    return TestClient(app), {"Authorization": f"Bearer {token}"}, app


def test_json_lines_are_stored_and_a_repeat_is_all_duplicates(served):
    client, auth, _ = served
    body = b"\n".join(native_events(20)) + b"\n" + b'{"time": "not a time"}\n'
    first = client.post("/api/v1/events", content=body, headers=auth).json()
    assert (first["records"], first["ingested"], first["quarantined"]) == (21, 20, 1)
    again = client.post("/v1/events", content=body, headers=auth).json()
    assert (again["ingested"], again["duplicate"], again["quarantined"]) == (0, 20, 1)
    for r in (first, again):
        assert r["records"] == r["ingested"] + r["duplicate"] + r["quarantined"] + r["skipped"]


def test_a_json_array_is_read_like_json_lines(served):
    client, auth, _ = served
    body = ("[" + ",".join(e.decode() for e in native_events(5, start=100)) + "]").encode()
    got = client.post("/api/v1/events", content=body, headers=auth).json()
    assert (got["records"], got["ingested"]) == (5, 5)


def test_unauthenticated_callers_are_refused(served):
    client, _, _ = served
    assert client.post("/api/v1/events", content=native_events(1)[0]).status_code == 401


def test_a_full_queue_answers_503_and_stores_nothing(served):
    client, auth, app = served
    app.state.ingest_gate = gate = Gate(depth=1)
    gate._slots.acquire()  # the one slot is taken by a batch in flight
    r = client.post("/api/v1/events", content=native_events(1)[0], headers=auth)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    gate._slots.release()
    assert client.post("/api/v1/events", content=native_events(1)[0], headers=auth).json()["ingested"] == 1


def test_an_empty_body_is_a_clear_error(served):
    client, auth, _ = served
    r = client.post("/api/v1/events", content=b"  ", headers=auth)
    assert r.status_code == 400 and "empty body" in json.loads(r.text)["error"]
