"""Recovery contacts in the directory hash like the same contact in a log, whatever the spelling."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from idwatch.directory import hash_contact, import_directory, normalize_contact
from idwatch.sources.vendor_sql import contact_hash
from idwatch.store import Store


@pytest.mark.parametrize(
    ("national", "country", "e164"),
    [
        ("(202) 555-0143", "US", "+12025550143"),
        ("07700 900123", "GB", "+447700900123"),
        ("030 123456", "DE", "+4930123456"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("0412 345 678", "AU", "+61412345678"),
        ("0044 20 7946 0958", "GB", "+442079460958"),  # the country's own international prefix
        ("+1 (425) 555-0100", "DE", "+14255550100"),  # international: the region does not matter
    ],
)
def test_national_formats_are_read_in_the_accounts_home_country(national, country, e164):
    assert normalize_contact(national, country) == e164


def test_without_a_home_country_a_number_must_carry_its_country_code():
    assert normalize_contact("+44 (0)20 7946 0958") == "+442079460958"  # the '(0)' is a trunk prefix
    assert normalize_contact("0044 20 7946 0958") == "+442079460958"
    assert normalize_contact("1 425 555 0100") == "+14255550100"
    assert normalize_contact("12") is None and normalize_contact("n/a") is None


def test_a_directory_contact_hashes_like_the_e164_contact_a_vendor_logs():
    logged = duckdb.sql(
        f"SELECT {contact_hash('c')} FROM (VALUES ('+1 202-555-0143'), ('+447700900123')) t(c)"
    )
    log_side = [row[0] for row in logged.fetchall()]
    assert [hash_contact("(202) 555-0143", "US"), hash_contact("07700 900123", "GB")] == log_side
    assert hash_contact("07700 900123", "GB") == hashlib.sha256(b"+447700900123").hexdigest()


def test_import_reads_each_contact_in_its_rows_home_country(tmp_path):
    store = Store(tmp_path / "store")
    path = tmp_path / "d.csv"
    path.write_text(
        "account,home_country,contact\nann@corp.example,us,(202) 555-0143\nbob@corp.example,GB,07700 900123\n"
    )
    assert import_directory(store, str(path)) == 2
    con = store.connect()
    try:
        got = dict(con.sql("SELECT account, contact_hash FROM directory").fetchall())
    finally:
        con.close()
    assert got == {
        "ann@corp.example": hashlib.sha256(b"+12025550143").hexdigest(),
        "bob@corp.example": hashlib.sha256(b"+447700900123").hexdigest(),
    }
