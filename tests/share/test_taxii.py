"""idwatch taxii: the STIX export round-trips through a TAXII 2.1 server and taxii2-client."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import pytest
import requests
from taxii2client.v21 import Collection, Server, as_pages
from typer.testing import CliRunner

from idwatch.cli.main import app
from idwatch.share.stix import build_bundle
from idwatch.share.taxii import MissingExtra, make_taxii_server
from idwatch.share.taxii_collections import PreparedCollection, prepare_collection


@pytest.fixture
def served(store):
    bundle = build_bundle(store, tlp="green")
    server = make_taxii_server({"idwatch-campaigns": bundle["objects"]}, {"analyst": "correct horse"}).start()
    try:
        yield server, bundle
    finally:
        server.stop()


def test_taxii2_client_reads_back_every_object(served):
    server, bundle = served
    api = Server(server.url, user="analyst", password="correct horse")
    (root,) = api.api_roots
    (collection,) = root.collections
    assert collection.title == "idwatch-campaigns" and collection.can_read and not collection.can_write
    got = [o for page in as_pages(collection.get_objects, per_request=7) for o in page.get("objects", [])]
    assert sorted(o["id"] for o in got) == sorted(o["id"] for o in bundle["objects"])
    assert {o["type"] for o in got} >= {"campaign", "indicator", "relationship", "report", "note", "sighting"}


def test_unauthenticated_and_wrong_password_requests_are_refused(served):
    server, _ = served
    assert requests.get(server.url, timeout=5).status_code == 401
    assert requests.get(server.url, auth=("analyst", "wrong"), timeout=5).status_code == 401
    assert requests.get(server.collection_url("idwatch-campaigns") + "objects/", timeout=5).status_code == 401


def test_a_server_without_a_password_does_not_start():
    with pytest.raises(ValueError):
        make_taxii_server({"c": []}, {"analyst": ""})


def _big_collection(n: int) -> list[dict]:
    """``n`` indicators (every tenth in two versions) and a note per hundred: store-sized, built as dicts."""
    objects = []
    for i in range(n):
        base = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
            "created": "2019-08-01T00:00:00.000Z",
            "modified": "2019-08-01T00:00:00.000Z",
            "pattern": f"[ipv4-addr:value = '198.51.{i // 256 % 256}.{i % 256}']",
            "pattern_type": "stix",
            "valid_from": "2019-08-01T00:00:00Z",
        }
        objects.append(base)
        if i % 10 == 0:
            objects.append({**base, "modified": "2019-09-01T00:00:00.000Z", "revoked": True})
        if i % 100 == 0:
            objects.append(
                {
                    "type": "note",
                    "spec_version": "2.1",
                    "id": f"note--00000000-0000-4000-8000-{i:012d}",
                    "created": "2019-08-01T00:00:00.000Z",
                    "modified": "2019-08-01T00:00:00.000Z",
                    "content": "x",
                    "object_refs": [base["id"]],
                }
            )
    return objects


@pytest.fixture(scope="module")
def big_server():
    objects = _big_collection(8_000)
    server = make_taxii_server({"big": objects}, {"analyst": "correct horse"}).start()
    try:
        yield server, objects
    finally:
        server.stop()


def test_a_store_sized_collection_pages_in_date_added_order_with_the_latest_versions(big_server):
    server, objects = big_server
    collection = Collection(server.collection_url("big"), user="analyst", password="correct horse")
    started = time.perf_counter()
    first = collection.get_objects(limit=10)
    print(f"first page of 10 from {len(objects)} objects: {time.perf_counter() - started:.3f} s")
    latest = {o["id"]: o for o in sorted(objects, key=lambda o: o["modified"])}
    in_order = [latest[i] for i in sorted(latest)]  # one date_added for all: ties go by id
    assert first["more"] is True and first["objects"] == in_order[:10]

    started = time.perf_counter()
    pages = list(as_pages(collection.get_objects, per_request=100))
    print(f"all {len(latest)} latest versions in pages of 100: {time.perf_counter() - started:.3f} s")
    got = [o for page in pages for o in page["objects"]]
    assert got == in_order and len(pages) == 81
    assert all(o.get("revoked") for o in got if int(o["id"][-12:]) % 10 == 0 and o["type"] == "indicator")


def test_a_store_sized_collection_answers_type_version_and_id_filters(big_server):
    server, objects = big_server
    collection = Collection(server.collection_url("big"), user="analyst", password="correct horse")
    notes = [
        o for page in as_pages(collection.get_objects, per_request=30, type="note") for o in page["objects"]
    ]
    assert [o["id"] for o in notes] == sorted(o["id"] for o in objects if o["type"] == "note") and len(
        notes
    ) == 80
    every = [
        o
        for page in as_pages(collection.get_objects, per_request=100, version="all")
        for o in page.get("objects", [])
    ]
    assert len(every) == len(objects) == 8_880
    first = collection.get_objects(id="indicator--00000000-0000-4000-8000-000000000010", version="first")
    assert [o["modified"] for o in first["objects"]] == ["2019-08-01T00:00:00.000Z"]
    manifest = collection.get_manifest(limit=5)
    assert [m["id"] for m in manifest["objects"]] == [
        o["id"] for o in collection.get_objects(limit=5)["objects"]
    ]


def test_a_next_token_from_other_filters_is_refused(big_server):
    server, _ = big_server
    url = server.collection_url("big") + "objects/"
    headers = {"Accept": "application/taxii+json;version=2.1"}
    auth = ("analyst", "correct horse")
    page = requests.get(url, params={"limit": 5}, headers=headers, auth=auth, timeout=10).json()
    refused = requests.get(
        url,
        params={"limit": 5, "next": page["next"], "match[type]": "note"},
        headers=headers,
        auth=auth,
        timeout=10,
    )
    assert refused.status_code == 400
    assert requests.get(url, params={"next": "x"}, headers=headers, auth=auth, timeout=10).status_code == 400


def test_added_after_keeps_only_objects_added_later():
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    objects = _big_collection(20)
    a = prepare_collection({"id": "c"}, objects[:10], early)
    b = prepare_collection({"id": "c"}, objects[10:], late)
    both = PreparedCollection(info={"id": "c"}, entries=a.entries + b.entries)
    kept = both.select({"added_after": "2026-01-15T00:00:00Z", "match[version]": "all"}, ("version",))
    assert [both.entries[p].obj for p in kept] == sorted(objects[10:], key=lambda o: (o["id"], o["modified"]))


def test_without_the_taxii_extra_the_error_names_it(monkeypatch, store):
    monkeypatch.setitem(sys.modules, "medallion", None)  # as if `pip install idwatch` without [taxii]
    with pytest.raises(MissingExtra, match=r"pip install 'idwatch\[taxii\]'"):
        make_taxii_server({"c": []}, {"analyst": "pw"})
    args = ["taxii", "serve", "--password", "pw", "--store", str(store.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "pip install 'idwatch[taxii]'" in " ".join(result.output.split())
