"""The AND/OR fast path against the ANTLR path and the stix2-patterns validator.

Every pattern here is parsed both ways: whatever the fast path accepts must equal the ANTLR
result (comparisons and `compound`) and pass the validator; whatever it rejects, ANTLR must
reject for the same reason. The corpus mixes valid AND/OR structures with near misses.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from enrich.patterns import ParsedPattern, PatternLimits, parse_pattern, parse_pattern_full
from igsc.errors import RejectedInput

SEED = 20241127
SIZE = 1500
SHA256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
COMPARISONS = (
    "domain-name:value = 'evil.example'",
    "url:value == 'http://a.example/x?y=1'",
    "ipv4-addr:value != '10.0.0.1'",
    "email-addr:value <> 'a\\'b@example.org'",
    f"file:hashes.'SHA-256' = '{SHA256}'",
    f"file:hashes.MD5 = '{SHA256[:32]}'",
    "file:extensions.'windows-pebinary-ext'.sections[*].name = '.text'",
    "network-traffic:dst_ref.value = '198.51.100.7'",
    "x-custom_obj:'odd key'[0].v = '\u00e9\u6771 ( ] [ ) AND'",
    "directory : path\u3000=\u2028'C:\\\\tmp'",
)
NEAR_MISSES = (
    "file:hashes.MD5 = 'not-a-hash'",  # valid syntax, rejected by the hash check
    f"file:hashes.'SHA-1' = '{SHA256}'",  # wrong length
    "domain-name:value NOT = 'x'",
    "domain-name:value IN ('a', 'b')",
    "file:size > 5",
    "domain-name:value LIKE '%x'",
    "AND:value = 'x'",
    "domain-name:IN = 'x'",
    "domain-name:value = 'x\\q'",
    "domain-name:value-x = 'x'",
    "domain-name:value = h'ab'",
    "EXISTS domain-name:value",
)
JOINS = (" AND ", " OR ", "\u3000OR\n", "\tAND ")
ODD_JOINS = ("AND", "OR", " and ", " FOLLOWEDBY ", " AND/* c */", " ANDx ")  # AND[ is valid
WS = ("", "", " ", "\t", "\u2029", "\u3000\n")


def _operand(rng: random.Random, depth: int, inside: bool) -> str:
    """A comparison (inside brackets) or a bracketed observation, maybe in parentheses."""
    if depth < 3 and rng.random() < 0.25:
        return "(" + _expression(rng, depth + 1, inside) + ")"
    if inside:
        return rng.choice(NEAR_MISSES if rng.random() < 0.03 else COMPARISONS)
    return "[" + _expression(rng, depth + 1, inside=True) + "]"


def _expression(rng: random.Random, depth: int, inside: bool) -> str:
    text = _operand(rng, depth, inside)
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        join = rng.choice(JOINS) if rng.random() < 0.95 else rng.choice(ODD_JOINS)
        text += join + _operand(rng, depth, inside)
    return text


def _mutate(rng: random.Random, text: str) -> str:
    """One syntax slip in about one pattern in six."""
    roll = rng.random()
    if roll < 0.02:
        return text + " WITHIN 5 SECONDS"
    if roll < 0.04:
        return text[:-1]  # a bracket or parenthesis left open
    if roll < 0.06:
        return "(" + text
    if roll < 0.08:
        return text + ")"
    if roll < 0.10:
        return "[" + text + "]"  # brackets do not nest
    if roll < 0.12:
        return text + " AND"
    if roll < 0.14:
        return "() OR " + text
    if roll < 0.16:
        return text.replace("[", "", 1).replace("]", "", 1)  # a comparison outside brackets
    return text


def corpus(size: int = SIZE) -> list[str]:
    rng = random.Random(SEED)
    out = []
    for _ in range(size):
        text = _mutate(rng, _expression(rng, 0, inside=False))
        tail = "\x1c" if rng.random() < 0.02 else rng.choice(WS)  # not a grammar WS
        out.append(rng.choice(WS) + text + tail)
    return out


DEFAULT = PatternLimits()


def outcome(pattern: str, *, full: bool, limits: PatternLimits = DEFAULT) -> tuple[object, ...]:
    """What a parser makes of the pattern: the comparisons and flag, or the rejection."""
    parse = parse_pattern_full if full else parse_pattern
    try:
        parsed = parse(pattern=pattern, limits=limits)
    except RejectedInput as exc:
        return ("rejected", exc.reason, exc.detail)
    return (parsed.comparisons, parsed.compound)


def check(pattern: str) -> str:
    """Assert both parsers agree; say which path took the pattern."""
    ours = outcome(pattern, full=False)
    assert ours == outcome(pattern, full=True), pattern
    if ours[0] == "rejected":
        return "rejected"
    parsed = parse_pattern(pattern=pattern)
    if not parsed.fast_path:
        return "antlr"
    errors = list(run_validator(pattern, stix_version="2.1"))
    assert errors == [], f"fast path accepted what the validator rejects: {pattern!r} {errors}"
    assert all(not c.negated and c.literal == "string" for c in parsed.comparisons)
    return "fast-compound" if parsed.compound else "fast"


def test_and_or_corpus_agrees_with_antlr_and_validator() -> None:
    outcomes = [check(pattern) for pattern in corpus()]
    # Every path must be exercised, or the comparison proves nothing.
    assert outcomes.count("fast-compound") > SIZE // 3, outcomes.count("fast-compound")
    assert outcomes.count("fast") > 20
    assert outcomes.count("antlr") > 50
    assert outcomes.count("rejected") > SIZE // 10


@pytest.mark.parametrize(
    ("pattern", "compound", "count"),
    [
        ("[a:b = 'x'] AND [c:d = 'y']", True, 2),
        ("[a:b = 'x' OR c:d = 'y']", True, 2),
        ("([a:b = 'x'])", False, 1),
        ("[(a:b = 'x')]", False, 1),
        ("(([a:b = 'x'] OR [c:d = 'y']) AND [e:f = 'z'])OR[g:h = 'w']", True, 4),
        ("[a:b = 'x' AND (c:d = 'y' OR e:f = 'z')]", True, 3),
        ("[a:b = 'x']AND[a:b = 'x']", True, 2),
    ],
)
def test_and_or_patterns_take_the_fast_path(pattern: str, compound: bool, count: int) -> None:
    parsed = parse_pattern(pattern=pattern)
    assert parsed.fast_path and parsed.compound is compound
    assert len(parsed.comparisons) == count
    assert parsed == ParsedPattern(
        comparisons=parse_pattern_full(pattern=pattern).comparisons,
        compound=compound,
        fast_path=True,
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "[a:b = 'x'] FOLLOWEDBY [c:d = 'y']",
        "[a:b = 'x'] AND [c:d = 'y'] WITHIN 5 SECONDS",
        "[a:b = 'x' AND c:d IN ('y')]",
        "[a:b = 'x'] AND [c:d NOT = 'y']",
        "[a:b = 'x'] /* note */ OR [c:d = 'y']",
        "[[a:b = 'x']]",
        "[a:b = 'x' AND [c:d = 'y']]",
        "[(a:b = 'x') OR ([c:d = 'y'])]",
        "(a:b = 'x')",
        "(" * 32 + "[a:b = 'x']" + ")" * 32 + " OR [c:d = 'y']",  # deeper than 32: the guard
    ],
)
def test_other_patterns_fall_back_or_are_rejected(pattern: str) -> None:
    try:
        parsed = parse_pattern(pattern=pattern)
    except RejectedInput:
        return
    assert not parsed.fast_path


def test_first_bad_hash_is_reported_as_antlr_reports_it() -> None:
    pattern = "[file:hashes.MD5 = 'abc'] OR [file:hashes.'SHA-256' = 'def']"
    assert outcome(pattern, full=False) == outcome(pattern, full=True)
    assert "hashes.MD5" in str(outcome(pattern, full=False))


def test_syntax_errors_win_over_bad_hashes_as_in_antlr() -> None:
    pattern = "[file:hashes.MD5 = 'abc'] OR [c:d = 'y'"
    assert outcome(pattern, full=False) == outcome(pattern, full=True)
    assert "not valid STIX 2.1" in str(outcome(pattern, full=False))


def test_limits_apply_to_the_fast_path() -> None:
    wide = " OR ".join(f"[a:b = '{i}']" for i in range(20))
    tight = PatternLimits(max_comparisons=10)
    assert outcome(wide, full=False, limits=tight) == outcome(wide, full=True, limits=tight)
    deep = "(" * 5 + "[a:b = 'x']" + ")" * 5
    shallow = PatternLimits(max_depth=4)
    assert outcome(deep, full=False, limits=shallow) == outcome(deep, full=True, limits=shallow)
    assert "nests too deeply" in str(outcome(deep, full=False, limits=shallow))


TOKENS = ["[", "]", "(", ")", " AND ", " OR ", "AND", "OR", " ", "\u3000", "a:b = 'x'"]
TOKENS += [f"file:hashes.MD5 = '{SHA256[:32]}'", "file:hashes.MD5 = 'zz'", "and", "x", "'", ":"]
TOKENS += ["FOLLOWEDBY", " WITHIN 1 SECONDS", "NOT", "=", "c:'d e'[*] != 'f'", "/**/", "\x1c"]


@settings(
    derandomize=True,
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(text=st.lists(st.sampled_from(TOKENS), max_size=24).map("".join))
def test_token_soup_parses_the_same_both_ways(text: str) -> None:
    check(text)
