"""Sigma's value semantics in the SQL the backend writes, checked by running it in DuckDB over
Okta System Log records (whose Sigma field names are the record's own paths)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from idwatch.sigma.convert import SigmaConversion, convert_text
from idwatch.sigma.fields import lookup
from idwatch.sigma.pipelines import column_name

RECORDS = {
    "login": {
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "actor": {"alternateId": "admin@corp.com"},
        "client": {"ipAddress": "10.1.2.3"},
        "outcome": {"result": "SUCCESS", "reason": None},
        "securityContext": {"asNumber": 64500, "isProxy": True},
        "debugContext": {"debugData": {"requestUri": "/api/v1/authn", "path": "C:\\temp\\x"}},
    },
    "underscore": {
        "eventType": "a_b",
        "displayMessage": "at 100% load",
        "actor": {"alternateId": "Bob@Corp.com"},
        "client": {"ipAddress": "192.168.16.5"},
        "outcome": {"result": "FAILURE", "reason": ""},
        "securityContext": {"asNumber": "64500", "isProxy": False},
    },
    "lookalike": {
        "eventType": "axb",
        "displayMessage": "at 100 percent load, EvilCorp tools",
        "actor": {"alternateId": "admin@corp.com.evil"},
        "client": {"ipAddress": "11.0.0.1"},
        "outcome": {"result": "SUCCESS"},
        "securityContext": {"asNumber": "n/a"},
    },
}


def _rule(detection: str) -> SigmaConversion:
    text = f"""
title: t
id: 5f0c7e3a-0000-4000-8000-000000000001
logsource: {{product: okta, service: okta}}
detection:
{detection}
"""
    (conv,) = convert_text(text, Path("t.yml"))
    assert conv.converted, conv.reason
    return conv


def matches(detection: str) -> set[str]:
    """The names of the records a rule's predicate selects."""
    conv = _rule(detection)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR, raw VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(k, json.dumps(v)) for k, v in RECORDS.items()])
    cols = "".join(
        f", {lookup('okta', f).sql} AS {column_name('okta', f)}"  # type: ignore[union-attr]
        for f in conv.fields
    )
    rows = con.execute(f"SELECT name FROM (SELECT *{cols} FROM t) WHERE {conv.predicate}").fetchall()
    return {r[0] for r in rows}


def test_equality_ignores_case() -> None:
    assert matches("  sel: {eventType: USER.Session.START}\n  condition: sel") == {"login"}


def test_cased_modifier_keeps_case() -> None:
    assert matches("  sel: {actor.alternateId|cased: Bob@Corp.com}\n  condition: sel") == {"underscore"}
    assert matches("  sel: {actor.alternateId|cased: bob@corp.com}\n  condition: sel") == set()


def test_wildcards_star_and_question_mark() -> None:
    assert matches("  sel: {displayMessage: 'user log?n*'}\n  condition: sel") == {"login"}


def test_underscore_and_percent_are_literal() -> None:
    assert matches("  sel: {eventType: a_b}\n  condition: sel") == {"underscore"}
    assert matches("  sel: {displayMessage|contains: '100%'}\n  condition: sel") == {"underscore"}


def test_backslash_is_literal() -> None:
    assert matches("  sel: {debugContext.debugData.path: 'C:\\temp\\x'}\n  condition: sel") == {"login"}


def test_startswith_endswith_contains_all() -> None:
    assert matches("  sel: {actor.alternateId|startswith: ADMIN@}\n  condition: sel") == {
        "login",
        "lookalike",
    }
    assert matches("  sel: {actor.alternateId|endswith: '@corp.com'}\n  condition: sel") == {
        "login",
        "underscore",
    }
    assert matches("  sel: {displayMessage|contains|all: [load, evilcorp]}\n  condition: sel") == {
        "lookalike"
    }


def test_regular_expressions_case_sensitive_unless_i() -> None:
    assert matches("  sel: {actor.alternateId|re: '^[a-z]+@corp\\.com$'}\n  condition: sel") == {"login"}
    assert matches("  sel: {actor.alternateId|re|i: '^[a-z]+@corp\\.com$'}\n  condition: sel") == {
        "login",
        "underscore",
    }


def test_cidr_on_octet_and_non_octet_prefixes() -> None:
    assert matches("  sel: {client.ipAddress|cidr: 10.0.0.0/8}\n  condition: sel") == {"login"}
    assert matches("  sel: {client.ipAddress|cidr: 192.168.16.0/20}\n  condition: sel") == {"underscore"}


def test_numbers_compare_as_numbers_and_text_never_breaks() -> None:
    assert matches("  sel: {securityContext.asNumber: 64500}\n  condition: sel") == {"login", "underscore"}
    assert matches("  sel: {securityContext.asNumber|gt: 64499}\n  condition: sel") == {"login", "underscore"}
    assert matches("  sel: {securityContext.asNumber|lt: 100}\n  condition: sel") == set()


def test_booleans() -> None:
    assert matches("  sel: {securityContext.isProxy: true}\n  condition: sel") == {"login"}


def test_null_means_absent_or_null_not_empty() -> None:
    assert matches("  sel: {outcome.reason: null}\n  condition: sel") == {"login", "lookalike"}
    assert matches("  sel: {outcome.reason: ''}\n  condition: sel") == {"underscore"}


def test_exists_modifier() -> None:
    assert matches("  sel: {securityContext.isProxy|exists: true}\n  condition: sel") == {
        "login",
        "underscore",
    }


def test_not_over_an_absent_field_matches() -> None:
    got = matches(
        "  sel: {outcome.result: SUCCESS}\n  f: {securityContext.isProxy: true}\n  condition: sel and not f"
    )
    assert got == {"lookalike"}


def test_keywords_search_the_whole_record() -> None:
    assert matches("  keywords: [evilcorp]\n  condition: keywords") == {"lookalike"}


def test_targets_list_any_element() -> None:
    conv = _rule("  sel: {target.displayName: Okta Admin Console}\n  condition: sel")
    assert "list_filter" in (conv.predicate or "")


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        ("  sel: {nosuchfield: x}\n  condition: sel", "no documented place"),
        ("  sel: {eventType|fieldref: displayMessage}\n  condition: sel", "field references"),
    ],
)
def test_unconvertible_rules_say_why(detection: str, reason: str) -> None:
    text = (
        "title: t\nid: 5f0c7e3a-0000-4000-8000-000000000002\n"
        f"logsource: {{product: okta, service: okta}}\ndetection:\n{detection}\n"
    )
    (conv,) = convert_text(text, Path("t.yml"))
    assert not conv.converted
    assert reason in (conv.reason or "")


def test_unknown_logsource_says_why() -> None:
    text = "title: t\nlogsource: {product: windows, service: security}\n"
    text += "detection:\n  sel: {EventID: 1}\n  condition: sel\n"
    (conv,) = convert_text(text, Path("t.yml"))
    assert conv.reason == "logsource windows/security is no source idwatch stores"


def test_predicates_transpile_to_spark_sql() -> None:
    """The rule predicates are plain SQL over staged columns: the same text serves Spark."""
    sqlglot = pytest.importorskip("sqlglot")
    conv = _rule(
        "  sel: {target.displayName|contains: console, actor.alternateId|re: '^a.*', eventType: a_b}\n"
        "  condition: sel"
    )
    spark = sqlglot.transpile(
        f"SELECT 1 FROM t WHERE {conv.predicate}",
        read="duckdb",
        write="spark",
        unsupported_level=sqlglot.ErrorLevel.RAISE,
    )[0]
    assert "SIZE(FILTER(" in spark and "RLIKE" in spark and "ESCAPE" in spark
