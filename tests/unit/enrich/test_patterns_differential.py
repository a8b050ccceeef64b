"""Differential test: the fast pattern path against the stix2-patterns ANTLR grammar.

Run this file directly (`python tests/unit/enrich/test_patterns_differential.py`) to print the
speed of both parsers on the generated corpus.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.inspector import INDEX_STAR
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator

from enrich.patterns import STAR, ParsedPattern, parse_pattern, parse_pattern_full
from igsc.errors import RejectedInput

SEED = 20240611
CORPUS_SIZE = 3000
GRAMMAR_WS = (
    " \t\r\n\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
NOT_GRAMMAR_WS = "\x1c\x1d\x1e\x1f\u200b\u180e"  # str.isspace() or invisible, but not WS tokens
SCO_TYPES = (  # noqa: SIM905
    "artifact autonomous-system directory domain-name email-addr email-message file ipv4-addr "
    "ipv6-addr mac-addr mutex network-traffic process software url user-account "
    "windows-registry-key x509-certificate x-custom-object _under"
).split()
ODD_TYPES = ("AND", "true", "IN", "1abc", "-x", "domain name", "d\u00f6main")
PATHS = (
    "value",
    "name",
    "x_custom",
    "'value'",
    "'first key'",
    "payload_bin",
    "values[0].name",
    "values[+12].data",
    "resolves_to_refs[*].value",
    "extensions.'windows-pebinary-ext'.sections[*].name",
    "extensions . 'x-ext' . field",
    "body_multipart [ 0 ] . body",
    "'it\\'s'.'back\\\\slash'",
)
ODD_PATHS = (
    "value-x",
    "val ue",
    "IN",
    "a.IN",
    "a[01]",
    "a[-1]",
    "a[1.5]",
    "a.5",
    "'unterminated",
    "a..b",
    "a.'x'y",
)
HASHES: tuple[tuple[str, int], ...] = (
    ("MD5", 32),
    ("'SHA-256'", 64),
    ('"SHA-256"', 64),
    ("SHA256", 64),
    ("'SHA-1'", 40),
)
HASHES += (("SHA512", 128), ("'SHA-512'", 128), ("sha1", 40), ("'x-custom-hash'", 10))
OPERATORS = ("=", "==", "!=", "<>")
ODD_OPERATORS = ("===", "= =", "=<", "NOT =", ">", "<=", "LIKE", "!", "=!")
ASCII_CHARS = "aZ09 .-_:/@[]()'\\\t\n*%&,;\"?#=<>!+~\x00\x7f"
UNICODE_CHARS = ASCII_CHARS + "\u00e9\u6771\U0001f600\u0430\u200b\u3000\u2028"
TAILS = (
    "",
    " ",
    "\n",
    " // comment",
    " /* c */",
    " AND [a:b = 'x']",
    " WITHIN 5 SECONDS",
    "x",
    "]",
)


def escape(value: str) -> str:
    """A value as a STIX string literal body."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def decode_literal(raw: str) -> str:
    """Independent decoder of a StringLiteral token (char by char, unlike the code under test)."""
    assert raw[0] == "'" and raw[-1] == "'"
    out, i, body = [], 0, raw[1:-1]
    while i < len(body):
        if body[i] == "\\":
            assert body[i + 1] in "'\\"
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Case:
    pattern: str
    plain: bool  # generated as one plain comparison with grammar whitespace only


def _ws(rng: random.Random, odd: float) -> str:
    if rng.random() < odd:
        return rng.choice(NOT_GRAMMAR_WS)
    return "".join(rng.choice(GRAMMAR_WS) for _ in range(rng.choice((0, 0, 0, 1, 1, 2))))


def _value(rng: random.Random) -> str:
    # Non-ASCII makes the ANTLR lexer ~3x slower, so only a third of the values carry it.
    chars = UNICODE_CHARS if rng.random() < 0.33 else ASCII_CHARS
    return "".join(rng.choice(chars) for _ in range(rng.choice((0, 1, 3, 8, 20))))


def _literal(rng: random.Random, path: str) -> tuple[str, bool]:
    """A value literal and whether it is well formed."""
    for name, length in HASHES:
        if path == f"hashes.{name}" and rng.random() < 0.9:
            digits = "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(length))
            return f"'{digits}'", True
    roll = rng.random()
    if roll < 0.8:
        return f"'{escape(_value(rng))}'", True
    broken = (
        "'a\\x'",
        "'a'b'",
        "'tail\\'",
        "'open",
        "h'ab'",
        "12",
        "true",
        "t'2020-01-01T00:00:00Z'",
    )
    return rng.choice(broken), False


def generate(rng: random.Random) -> Case:
    """One pattern: mostly plain comparisons, with every kind of near miss mixed in."""
    odd = rng.random() < 0.25
    object_type = rng.choice(ODD_TYPES) if odd and rng.random() < 0.3 else rng.choice(SCO_TYPES)
    if rng.random() < 0.3:
        name, _ = rng.choice(HASHES)
        path = f"hashes.{name}"
    else:
        path = rng.choice(ODD_PATHS) if odd and rng.random() < 0.3 else rng.choice(PATHS)
    op = rng.choice(ODD_OPERATORS) if odd and rng.random() < 0.3 else rng.choice(OPERATORS)
    literal, good_literal = _literal(rng, path)
    tail = rng.choice(TAILS) if odd and rng.random() < 0.5 else ""
    ws_odd = 0.2 if odd else 0.0
    parts = [_ws(rng, ws_odd), "[", _ws(rng, ws_odd), object_type, _ws(rng, 0), ":"]
    parts += [_ws(rng, 0), path, _ws(rng, ws_odd), op, _ws(rng, ws_odd), literal]
    parts += [_ws(rng, ws_odd), "]", tail, _ws(rng, ws_odd)]
    plain = (
        object_type in SCO_TYPES
        and path not in ODD_PATHS
        and op in OPERATORS
        and good_literal
        and not tail
        and not any(c in NOT_GRAMMAR_WS for c in "".join(parts))
        and '"' not in path  # double quotes never quote a key in STIX 2.1
    )
    return Case(pattern="".join(parts), plain=plain)


def corpus(size: int = CORPUS_SIZE) -> list[Case]:
    rng = random.Random(SEED)
    return [generate(rng) for _ in range(size)]


def library_view(pattern: str) -> list[tuple[str, tuple[object, ...], str, str]]:
    """Comparisons as the stix2-patterns inspector reports them, decoded by this test."""
    data = Pattern(pattern).inspect()
    ops = {"=": "=", "==": "=", "!=": "!=", "<>": "!="}
    return [
        (kind, tuple(STAR if s is INDEX_STAR else s for s in path), ops[op], decode_literal(raw))
        for kind, comparisons in data.comparisons.items()
        for path, op, raw in comparisons
    ]


def fast_view(parsed: ParsedPattern) -> list[tuple[str, tuple[object, ...], str, str]]:
    return [(c.object_type, c.steps, c.operator, str(c.value)) for c in parsed.comparisons]


def validator_errors(pattern: str) -> list[str]:
    """The validator's complaints; its inspector crashes on negative indexes like a[-1]."""
    try:
        return list(run_validator(pattern, stix_version="2.1"))
    except AttributeError as exc:
        return [f"validator crashed: {exc}"]


def check(case: Case) -> str:
    """Assert the differential properties for one pattern; say which path took it."""
    errors = validator_errors(case.pattern)
    try:
        parsed: ParsedPattern | None = parse_pattern(pattern=case.pattern)
    except RejectedInput:
        parsed = None
    if parsed is not None and parsed.fast_path:
        assert errors == [], f"fast path accepted what the validator rejects: {case.pattern!r}"
        full = parse_pattern_full(pattern=case.pattern)
        assert full.comparisons == parsed.comparisons, case.pattern
        assert full.compound == parsed.compound, case.pattern
        assert all(not c.negated and c.literal == "string" for c in parsed.comparisons)
        if parsed.compound:  # a tail joined another observation with AND
            assert our_compound_view(parsed) == library_compound_view(case.pattern), case.pattern
            return "fast-compound"
        assert fast_view(parsed) == library_view(case.pattern), case.pattern
        return "fast"
    if case.plain and not errors:
        raise AssertionError(f"fast path missed a plain valid pattern: {case.pattern!r}")
    return "antlr" if parsed is not None else "rejected"


def test_generated_corpus_agrees_with_antlr_grammar() -> None:
    outcomes = [check(case) for case in corpus()]
    # The corpus must exercise every branch: a differential test of nothing proves nothing.
    assert outcomes.count("fast") > CORPUS_SIZE // 2
    assert outcomes.count("fast-compound") > 0
    assert outcomes.count("antlr") > 50
    assert outcomes.count("rejected") > 200


KEYS = st.sampled_from(["value", "name", "'SHA-256'", "MD5", "'a b'", "x_y", "[*]", "[0]", "[7]"])


@st.composite
def plain_patterns(draw: st.DrawFn) -> Case:
    ws = st.text(alphabet=GRAMMAR_WS + NOT_GRAMMAR_WS, max_size=2)
    object_type = draw(st.sampled_from(SCO_TYPES + list(ODD_TYPES)))
    steps = draw(st.lists(KEYS, max_size=3))
    path = draw(st.sampled_from(["value", "'quoted key'", "name"]))
    for step in steps:
        path += draw(ws).join(["", step]) if step.startswith("[") else "." + draw(ws) + step
    value = draw(st.text(max_size=30))
    op = draw(st.sampled_from(OPERATORS))
    parts = [draw(ws), "[", draw(ws), object_type, draw(ws), ":", draw(ws), path, draw(ws)]
    parts += [op, draw(ws), f"'{escape(value)}'", draw(ws), "]", draw(ws)]
    text = "".join(parts)
    plain = object_type in SCO_TYPES and not any(c in NOT_GRAMMAR_WS for c in text)
    return Case(pattern=text, plain=plain)


@settings(
    derandomize=True,
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(case=plain_patterns())
def test_hypothesis_patterns_agree_with_antlr_grammar(case: Case) -> None:
    check(case)


COMPOUND_SIZE = 600
SET_TOKEN = re.compile(r"'(?:[^'\\]|\\['\\])*'|[^,()]+")


def _comparison_text(rng: random.Random) -> str:
    """One comparison of any kind the grammar has (EXISTS aside: the inspector skips it)."""
    case = generate(rng)  # reuse plain comparisons, made into bare comparison text
    inner = case.pattern.strip(GRAMMAR_WS + NOT_GRAMMAR_WS)[1:-1] if case.plain else "a:b = 'x'"
    roll = rng.random()
    path = rng.choice(["domain-name:value", "url:value", "file:name", "x-y:'k z'"])
    if roll < 0.15:
        members = [f"'{escape(_value(rng))}'" for _ in range(rng.randint(1, 4))]
        members += [str(rng.randint(-5, 5))] if rng.random() < 0.2 else []
        return f"{path} {rng.choice(['IN', 'NOT IN'])} ({', '.join(members)})"
    if roll < 0.25:
        op = rng.choice(["LIKE", "MATCHES", "NOT LIKE", "ISSUBSET", "ISSUPERSET"])
        return f"{path} {op} '{escape(_value(rng))}'"
    if roll < 0.32:
        op = rng.choice([">", "<", ">=", "<=", "NOT >", "="])
        number = rng.choice(["5", "-3", "1.5", "+2", "true", "h'ab'"])
        return f"file:size {op} {number}"
    if roll < 0.38:
        return f"{path} NOT = '{escape(_value(rng))}'"
    return inner


def _observation(rng: random.Random, depth: int = 0) -> str:
    comparisons = [_comparison_text(rng) for _ in range(rng.randint(1, 3))]
    text = comparisons[0]
    for other in comparisons[1:]:
        joiner = rng.choice([" AND ", " OR ", "\u3000AND/* c */", " OR\n"])
        text = f"({text}){joiner}{other}" if rng.random() < 0.2 else f"{text}{joiner}{other}"
    text = f"[{text}]"
    if depth < 2 and rng.random() < 0.3:
        op = rng.choice([" AND ", " OR ", " FOLLOWEDBY "])
        text = f"({text}{op}{_observation(rng, depth + 1)})"
    if rng.random() < 0.25:
        qualifier = rng.choice(
            [
                " WITHIN 5 SECONDS",
                " REPEATS 3 TIMES",
                " WITHIN 1.5 SECONDS",
                " START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00.5Z'",
                " WITHIN 5 SECONDS WITHIN 6 SECONDS",
            ]
        )
        text += qualifier
    return text


def compound_corpus(size: int = COMPOUND_SIZE) -> list[str]:
    rng = random.Random(SEED + 1)
    out = []
    for _ in range(size):
        text = _observation(rng)
        for _ in range(rng.randint(0, 2)):
            text += rng.choice([" AND ", " OR ", " FOLLOWEDBY "]) + _observation(rng)
        out.append(text + rng.choice(["", " // end", "\u2028", " /* \u00e9 */"]))
    return out


def _library_value(raw: str) -> object:
    if raw.startswith("'"):
        return decode_literal(raw)
    if raw.startswith("("):
        return tuple(_library_value(m) for m in SET_TOKEN.findall(raw[1:-1]))
    if raw in ("true", "false"):
        return raw == "true"
    if raw[:2] in ("h'", "b'", "t'"):
        return raw[2:-1]
    return float(raw) if "." in raw else int(raw)


def library_compound_view(pattern: str) -> dict[str, list[tuple[object, ...]]]:
    """Per object type, in order: (steps, operator, negated, value) as the inspector sees them."""
    ops = {"==": "=", "<>": "!="}
    view: dict[str, list[tuple[object, ...]]] = {}
    for kind, comparisons in Pattern(pattern).inspect().comparisons.items():
        for path, op, raw in comparisons:
            negated, op = op.startswith("NOT "), op.removeprefix("NOT ")
            steps = tuple(STAR if s is INDEX_STAR else s for s in path)
            view.setdefault(kind, []).append((steps, ops.get(op, op), negated, _library_value(raw)))
    return view


def our_compound_view(parsed: ParsedPattern) -> dict[str, list[tuple[object, ...]]]:
    view: dict[str, list[tuple[object, ...]]] = {}
    for c in parsed.comparisons:
        view.setdefault(c.object_type, []).append((c.steps, c.operator, c.negated, c.value))
    return view


def test_compound_patterns_agree_with_antlr_inspector() -> None:
    outcomes = {"both": 0, "neither": 0, "fast": 0}
    for pattern in compound_corpus():
        errors = validator_errors(pattern)
        try:
            parsed: ParsedPattern | None = parse_pattern(pattern=pattern)
        except RejectedInput:
            parsed = None
        assert (parsed is not None) == (errors == []), (pattern, errors)
        if parsed is None:
            outcomes["neither"] += 1
            continue
        outcomes["both"] += 1
        if parsed.fast_path:  # the AND/OR fast path must read it exactly as ANTLR does
            outcomes["fast"] += 1
            full = parse_pattern_full(pattern=pattern)
            assert (parsed.comparisons, parsed.compound) == (full.comparisons, full.compound)
        assert our_compound_view(parsed) == library_compound_view(pattern), pattern
    assert outcomes["both"] > COMPOUND_SIZE // 2 and outcomes["neither"] > 50, outcomes
    assert 10 < outcomes["fast"] < outcomes["both"], outcomes  # both paths exercised


def _rate(parse: Callable[[str], object], patterns: list[str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for pattern in patterns:
            parse(pattern)
    return repeat * len(patterns) / (time.perf_counter() - start)


def main() -> None:
    """Print patterns/s of the fast path, our ANTLR path and the stix2-patterns library."""
    accepted = [c.pattern for c in corpus() if check(c) == "fast"]
    print(f"corpus: {CORPUS_SIZE} generated, {len(accepted)} plain ones on the fast path")
    fast = _rate(lambda p: parse_pattern(pattern=p), accepted, 20)
    full = _rate(lambda p: parse_pattern_full(pattern=p), accepted, 1)
    lib = _rate(lambda p: Pattern(p).inspect(), accepted, 1)
    val = _rate(lambda p: run_validator(p, stix_version="2.1"), accepted, 1)
    print(f"fast path parse_pattern:          {fast:12,.0f} patterns/s")
    print(f"ANTLR path parse_pattern_full:    {full:12,.0f} patterns/s")
    print(f"stix2patterns Pattern().inspect(): {lib:11,.0f} patterns/s")
    print(f"stix2patterns run_validator:      {val:12,.0f} patterns/s")


if __name__ == "__main__":
    main()
