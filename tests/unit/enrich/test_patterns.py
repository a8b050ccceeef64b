"""STIX pattern parsing: fast path, ANTLR fallback, rejections and pathological input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.patterns import STAR, Comparison, PatternLimits, parse_pattern, parse_pattern_full
from igsc.errors import RejectedInput

SHA256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"


def only(pattern: str) -> Comparison:
    parsed = parse_pattern(pattern=pattern)
    assert len(parsed.comparisons) == 1
    return parsed.comparisons[0]


def test_plain_comparison_takes_the_fast_path() -> None:
    parsed = parse_pattern(pattern="[domain-name:value = 'evil.example']")
    assert parsed.fast_path and not parsed.compound
    assert parsed.comparisons == (
        Comparison(
            object_type="domain-name",
            path="value",
            operator="=",
            value="evil.example",
            steps=("value",),
        ),
    )


@pytest.mark.parametrize(
    "pattern",
    [
        f"[file:hashes.'SHA-256' = '{SHA256}']",
        f"[ file : hashes . 'SHA-256' == '{SHA256}' ]",
        f"\u3000[file:hashes.'SHA-256'\t=\n'{SHA256}']\u2028",
    ],
)
def test_quoted_hash_names_and_whitespace_normalise(pattern: str) -> None:
    comparison = only(pattern)
    assert comparison.path == "hashes.SHA-256"
    assert comparison.steps == ("hashes", "SHA-256")
    assert (comparison.operator, comparison.value) == ("=", SHA256)
    assert parse_pattern(pattern=pattern).fast_path


def test_string_escapes_are_undone() -> None:
    comparison = only(r"[file:name = 'it\'s a back\\slash']")
    assert comparison.value == "it's a back\\slash"


def test_not_equal_spellings_agree() -> None:
    assert only("[url:value != 'x']").operator == only("[url:value <> 'x']").operator == "!="


def test_index_steps_render_in_the_path() -> None:
    comparison = only("[file:extensions.'windows-pebinary-ext'.sections[*].name = 'x']")
    assert comparison.path == "extensions.windows-pebinary-ext.sections[*].name"
    assert comparison.steps[3] is STAR
    negative = only("[file:values[-1].name = 'x']")  # the grammar allows it, via ANTLR
    assert negative.steps == ("values", -1, "name")


def test_compound_pattern_falls_back_to_antlr() -> None:
    parsed = parse_pattern(
        pattern="[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2') AND file:size > 5] "
        "FOLLOWEDBY [domain-name:value NOT = 'ok.example'] WITHIN 60 SECONDS"
    )
    assert not parsed.fast_path and parsed.compound
    first, second, third = parsed.comparisons
    assert (first.operator, first.value, first.literal) == (
        "IN",
        ("10.0.0.1", "10.0.0.2"),
        "string",
    )
    assert (second.operator, second.value, second.literal) == (">", 5, "int")
    assert third.negated and third.value == "ok.example"


def test_single_comparison_with_a_qualifier_is_compound() -> None:
    parsed = parse_pattern(pattern="[url:value = 'http://x.example/'] REPEATS 3 TIMES")
    assert parsed.compound and not parsed.fast_path


def test_non_string_literals_keep_their_kind() -> None:
    parsed = parse_pattern_full(
        pattern="[x:a = true AND x:b = -1.5 AND x:c = h'0aFF' AND x:d = t'2020-01-02T03:04:05Z']"
    )
    kinds = [(c.literal, c.value) for c in parsed.comparisons]
    assert kinds == [
        ("bool", True),
        ("float", -1.5),
        ("hex", "0aFF"),
        ("timestamp", "2020-01-02T03:04:05Z"),
    ]


def test_full_and_fast_path_agree_on_a_plain_pattern() -> None:
    pattern = "[email-addr:value = 'a\\'b@example.org']"
    assert (
        parse_pattern_full(pattern=pattern).comparisons
        == parse_pattern(pattern=pattern).comparisons
    )


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("domain-name:value = 'x'", "not valid STIX 2.1"),
        ("[domain-name:value = 'x'", "not valid STIX 2.1"),
        ("[domain-name:value = 'x\\q']", "badly escaped string"),
        ("[domain-name:value = 'x] ", "unterminated"),
        ("[file:hashes.MD5 = 'not-a-hash']", "no such hash"),
        ("[file:hashes.'SHA-256' = 'abc']", "no such hash"),
        ("[AND:value = 'x']", "not valid STIX 2.1"),
        ("[domain-name:value-x = 'x']", "not valid STIX 2.1"),
        ("[a:b = 'x'] WITHIN 5 SECONDS WITHIN 6 SECONDS", "repeats a qualifier"),
        ("[a:b = 'x'] /* open", "unterminated comment"),
        ("[a:b = 'x'] \u00e9", "outside strings"),
        ("[a:b = 'x']\x1c", "not valid STIX 2.1"),
    ],
)
def test_invalid_patterns_are_rejected_with_a_reason(pattern: str, reason: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse_pattern(pattern=pattern)
    assert reason in caught.value.reason


def _rejected_quickly(pattern: str, *, limits: PatternLimits | None = None) -> str:
    start = time.perf_counter()
    with pytest.raises(RejectedInput) as caught:
        parse_pattern(pattern=pattern, limits=limits or PatternLimits())
    assert time.perf_counter() - start < 0.5, "pathological input took too long"
    return caught.value.reason


def test_deep_nesting_is_rejected_before_antlr() -> None:
    assert "nests too deeply" in _rejected_quickly("(" * 8000 + "[a:b = 'x']" + ")" * 8000)
    assert "nests too deeply" in _rejected_quickly("[" * 8000 + "a:b = 'x'" + "]" * 8000)
    # the bound itself: 32 levels parse, 33 do not
    assert parse_pattern(pattern="(" * 31 + "[a:b = 'x']" + ")" * 31).comparisons
    assert "nests too deeply" in _rejected_quickly("(" * 33 + "[a:b = 'x']" + ")" * 33)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    parsed = parse_pattern(pattern="[a:b = '" + "((((" * 100 + "' AND a:c = ']]]]']")
    assert [c.value for c in parsed.comparisons] == ["((((" * 100, "]]]]"]


def test_recursion_in_antlr_is_caught_when_limits_allow_it() -> None:
    loose = PatternLimits(max_depth=100_000)
    reason = _rejected_quickly("(" * 5000 + "[a:b = 'x']" + ")" * 5000, limits=loose)
    assert reason == "pattern nests too deeply to parse"  # RecursionError, caught
    assert parse_pattern_full(pattern="([a:b = 'x'] AND [c:d = 'y'])").compound  # still works


def test_huge_and_wide_patterns_are_rejected() -> None:
    assert "too long" in _rejected_quickly("[a:b = '" + "x" * 20_000 + "']")
    many = "[" + " AND ".join(f"a:b = '{i}'" for i in range(1000)) + "]"
    assert "too many comparisons" in _rejected_quickly(many)


@pytest.mark.parametrize(
    "pattern",
    [
        "[a:b = '" + "\\'" * 8000,  # unterminated string full of escapes
        "/*" * 8000,  # unterminated comments
        "'" * 16_000,  # thousands of empty strings
        "[a:b = 'x'" + "\u3000" * 16_000 + "]  AND",  # Unicode spaces, slow for ANTLR
        "[a:b = 'x'] /*" + "\u00e9" * 16_000 + "*/ x",  # Unicode comment
        "[a:b = 'x']" + "." * 16_000,
        "[a:b = xt'" + "\u00e9" * 16_000 + "']",  # no timestamp, and not replaced before ANTLR
    ],
)
def test_pathological_input_is_rejected_in_well_under_a_second(pattern: str) -> None:
    _rejected_quickly(pattern[:16_384])


def test_largest_allowed_patterns_parse_quickly() -> None:
    unicode_heavy = "[a:b = '" + "\u00e9" * 8_000 + "' AND a:c LIKE'" + "\u00e9" * 8_000 + "']"
    chain = "([a:b = 'x'])" + " WITHIN 1 SECONDS" * 900
    wide = " OR ".join(f"[a:b = '{i}']" for i in range(256))
    for pattern in (unicode_heavy, chain, wide):
        start = time.perf_counter()
        parsed = parse_pattern(pattern=pattern)
        assert time.perf_counter() - start < 1.0
        assert parsed.compound
    assert len(parse_pattern(pattern=wide).comparisons) == 256


BITS = ["[", "]", "(", ")", "a", ":", "b", "=", "'x'", "'", "\\", " ", "AND", "OR", "NOT", "IN"]
BITS += ["WITHIN", "5", "SECONDS", "t'2020-01-01T00:00:00Z'", "h'ab'", ".", ",", "*", "-1", "/*"]
BITS += ["*/", "//", "\n", "hashes", "'SHA-256'", "<", "!=", "EXISTS", "\u00e9", "\u3000"]
GRAMMAR_BITS = st.sampled_from(BITS)


@settings(derandomize=True, max_examples=400, deadline=None, database=None)
@given(text=st.one_of(st.text(max_size=60), st.lists(GRAMMAR_BITS, max_size=40).map("".join)))
def test_any_text_parses_or_is_rejected_never_crashes(text: str) -> None:
    try:
        parsed = parse_pattern(pattern=text)
    except RejectedInput as exc:
        assert exc.reason
    else:
        assert parsed.comparisons  # every valid pattern compares something
