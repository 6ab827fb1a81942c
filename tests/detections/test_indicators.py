"""STIX indicator patterns are parsed with the OASIS grammar; what idwatch cannot match is reported."""

from __future__ import annotations

import pytest

from idwatch.detections.indicators import PatternWarning, grammar_terms, indicator_rows, parse_pattern


def terms(pattern: str) -> set[tuple[str, str]]:
    parsed = parse_pattern(pattern)
    assert parsed.unsupported == []
    return set(parsed.terms)


def test_equality_on_each_matchable_object_type():
    assert terms("[ipv4-addr:value = '203.0.113.7']") == {("ipv4", "203.0.113.7")}
    assert terms("[ipv6-addr:value = '2001:DB8::0:1']") == {("ipv6", "2001:db8::1")}
    assert terms("[autonomous-system:number = 64500]") == {("asn", "64500")}
    assert terms("[domain-name:value = 'Login-Verify.example.']") == {("domain", "login-verify.example")}
    assert terms("[user-account:user_id = 'Alice@Corp.example']") == {("account", "alice@corp.example")}
    assert terms("[user-account:account_login = 'bob']") == {("account", "bob")}


def test_in_sets_give_one_term_per_member():
    assert terms("[ipv4-addr:value IN ('203.0.113.7', '198.51.100.9')]") == {
        ("ipv4", "203.0.113.7"),
        ("ipv4", "198.51.100.9"),
    }
    assert terms("[autonomous-system:number IN (64500, 64501)]") == {("asn", "64500"), ("asn", "64501")}
    # an escaped quote and a comma inside a member do not split it
    assert terms("[user-account:user_id IN ('o\\'brien', 'x,y')]") == {
        ("account", "o'brien"),
        ("account", "x,y"),
    }


def test_issubset_networks_become_what_events_carry():
    assert terms("[ipv4-addr:value ISSUBSET '198.51.100.0/24']") == {("ipnet", "198.51.100.0/24")}
    assert terms("[ipv6-addr:value ISSUBSET '2001:db8:1:2::/64']") == {("ipnet", "2001:db8:1:2::/64")}
    # narrower than the /24 the events carry: its addresses; wider: its /24s
    assert terms("[ipv4-addr:value ISSUBSET '192.0.2.0/30']") == {("ipv4", f"192.0.2.{i}") for i in range(4)}
    assert terms("[ipv4-addr:value ISSUBSET '198.51.100.0/23']") == {
        ("ipnet", "198.51.100.0/24"),
        ("ipnet", "198.51.101.0/24"),
    }


def test_or_and_and_of_comparisons_and_observations_all_count():
    pattern = (
        "[ipv4-addr:value = '203.0.113.7' OR domain-name:value = 'evil.example'] "
        "OR [autonomous-system:number = 64500 AND user-account:user_id = 'mallory']"
    )
    assert terms(pattern) == {
        ("ipv4", "203.0.113.7"),
        ("domain", "evil.example"),
        ("asn", "64500"),
        ("account", "mallory"),
    }


def test_terms_idwatch_cannot_match_are_kept_as_text():
    parsed = parse_pattern("[ipv4-addr:value = '203.0.113.7'] AND [file:hashes.'SHA-256' = 'ab']")
    assert parsed.terms == [("ipv4", "203.0.113.7")]
    assert parsed.unsupported == ["file:hashes.SHA-256 = 'ab'"]
    for pattern in (
        "[ipv4-addr:value != '203.0.113.7']",  # a negation is not an indicator
        "[domain-name:value LIKE '%.example']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",  # far too broad to be one actor's
        "[ipv4-addr:value = 'not-an-address']",
        "[ipv4-addr:value = ",
    ):
        parsed = parse_pattern(pattern)
        assert parsed.terms == [] and len(parsed.unsupported) == 1, pattern


def _bundle(*patterns: str) -> dict:
    objects = [{"type": "intrusion-set", "id": "intrusion-set--a", "name": "Actor"}]
    for n, pattern in enumerate(patterns):
        objects += [
            {"type": "indicator", "id": f"indicator--{n}", "pattern_type": "stix", "pattern": pattern},
            {
                "type": "relationship",
                "id": f"relationship--{n}",
                "relationship_type": "indicates",
                "source_ref": f"indicator--{n}",
                "target_ref": "intrusion-set--a",
            },
        ]
    return {"type": "bundle", "id": "bundle--x", "objects": objects}


def test_flattened_rows_keep_issubset_and_in_indicators_and_warn_about_the_rest():
    bundle = _bundle(
        "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
        "[ipv4-addr:value IN ('203.0.113.7', '203.0.113.8')]",
        "[domain-name:value MATCHES '^x']",
        "[process:name = 'x']",
    )
    with pytest.warns(PatternWarning, match=r"2 indicator pattern\(s\) .*2 match nothing.*indicator--2"):
        rows = indicator_rows([bundle]).to_pylist()
    assert {(r["kind"], r["value"], r["intrusion_set"]) for r in rows} == {
        ("ipnet", "198.51.100.0/24", "Actor"),
        ("ipv4", "203.0.113.7", "Actor"),
        ("ipv4", "203.0.113.8", "Actor"),
    }


def test_patterns_in_another_language_are_reported_not_guessed():
    bundle = _bundle("[ipv4-addr:value = '203.0.113.7']")
    bundle["objects"][1] |= {"pattern_type": "sigma", "pattern": "title: x"}
    with pytest.warns(PatternWarning, match="pattern_type sigma"):
        assert indicator_rows([bundle]).num_rows == 0


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '203.0.113.7']",
        "[ipv6-addr:value='2001:db8::1']",
        "[ipv4-addr:value = '198.51.100.0/24']",
        "[domain-name:value = 'O\\'Brien.example']",
        "[autonomous-system:number = 64500]",
        "[user-account:user_id = 'Mallory']",
        "[ipv4-addr:value = 'not-an-address']",
        "[ipv4-addr:number = 5]",
    ],
)
def test_the_one_comparison_shortcut_reads_exactly_what_the_grammar_reads(pattern):
    assert parse_pattern(pattern) == grammar_terms(pattern)
