"""Directory (EVENTS.md 2), STIX intel (EVENTS.md 3) and idwatch.toml loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from idwatch.config import ConfigError, detection_params, load_config
from idwatch.directory import DirectoryError, hash_contact, import_directory
from idwatch.intel import IntelError, import_intel
from idwatch.store import Store

# shared/ sits beside the repository checkout (as in CI), else at the workplace default.
INTEL = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[3] / "shared" / "data" / "intel",
            Path("/work/shared/data/intel"),
        )
        if p.exists()
    ),
    Path("/work/shared/data/intel"),
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def test_directory_csv_hashes_plain_contacts_and_updates_by_account(store, tmp_path):
    first = tmp_path / "d.csv"
    first.write_text(
        "account,tenant,display_name,category,watchlist,home_country,contact,notify\n"
        "Alice@X.org,x.org,Alice,journalist,true,us,+1 (425) 555-0100,sec@x.org\n"
        "bob@x.org,x.org,Bob,consumer,false,,,\n"
    )
    assert import_directory(store, str(first)) == 2
    update = tmp_path / "d.jsonl"
    update.write_text(
        json.dumps({"account": "bob@x.org", "tenant": "x.org", "category": "ngo", "watchlist": True})
    )
    assert import_directory(store, str(update)) == 1
    rows = (
        store.connect()
        .execute(
            "SELECT account, category, watchlist, home_country, contact_hash FROM directory ORDER BY account"
        )
        .fetchall()
    )
    assert rows == [
        ("alice@x.org", "journalist", True, "US", hashlib.sha256(b"+14255550100").hexdigest()),
        ("bob@x.org", "ngo", True, None, None),
    ]
    assert "425" not in store.directory_path.read_bytes().decode("latin-1")  # only the hash is stored


def test_directory_rejects_bad_rows_with_a_clear_error(store, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("account,watchlist,contact_hash\n,true,\nc@x.org,maybe,\nd@x.org,true,abc\n")
    with pytest.raises(DirectoryError) as err:
        import_directory(store, str(path))
    msg = str(err.value)
    assert "3 bad row(s)" in msg and "row 1: missing account" in msg and "watchlist" in msg
    assert not store.directory_path.exists()


def test_contact_hash_normalizes_phone_and_email():
    assert hash_contact("0044 20 7946 0000") == hash_contact("+44-20-7946-0000")
    assert hash_contact(" Bob@Example.ORG ") == hashlib.sha256(b"bob@example.org").hexdigest()
    assert hash_contact("12") is None


@pytest.mark.skipif(not INTEL.exists(), reason="reference intel not present")
def test_intel_import_of_reference_bundles(store):
    assert import_intel(store, str(INTEL / "example-attribution-bundle.json")) > 0
    assert import_intel(store, str(INTEL / "example-attribution-bundle.json")) > 0  # idempotent
    assert len(store.intel_bundles()) == 1
    with pytest.raises(IntelError, match="not a STIX 2.1 bundle"):
        import_intel(store, str(INTEL / "misp-threat-actors.json"))


def test_intel_rejects_invalid_bundles(store, tmp_path):
    cases = {
        "notjson.json": "{",
        "badid.json": json.dumps({"type": "bundle", "id": "bundle--x", "objects": []}),
        "badobj.json": json.dumps(
            {
                "type": "bundle",
                "id": "bundle--6f0b7e6e-6c0e-4b8e-9d7e-6d9f3b1b2c3d",
                "objects": [{"type": "indicator", "spec_version": "2.1", "id": "indicator--nope"}],
            }
        ),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(IntelError):
            import_intel(store, str(path))
    assert store.intel_bundles() == []


def test_config_store_first_then_cwd(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(store) == {"detections": {}}
    (tmp_path / "idwatch.toml").write_text("[detections.enum_burst]\nthreshold = 10\n")
    assert detection_params(load_config(store), "enum_burst") == {"threshold": 10}
    (store.root / "idwatch.toml").write_text("[detections.enum_burst]\nthreshold = 25\nwindow = '10m'\n")
    assert detection_params(load_config(store), "enum_burst") == {"threshold": 25, "window": "10m"}
    assert detection_params(load_config(store), "other") == {}
    (store.root / "idwatch.toml").write_text("[detections\n")
    with pytest.raises(ConfigError):
        load_config(store)
