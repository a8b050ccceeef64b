"""Exact fast paths for the common STIX patterns, so that ANTLR only sees the rare ones.

Two shapes are read without the grammar: one plain comparison `[type:path = 'string']`, and
any number of them joined by AND/OR inside and between brackets, with parentheses. Only `=`,
`==`, `!=` and `<>` against a string literal are accepted; anything else (other operators or
literals, NOT, FOLLOWEDBY, qualifiers, comments, keywords used as names, deeper nesting than
the grammar is known to parse) returns None and the caller falls back to ANTLR. Both paths
return exactly what the ANTLR path returns for the same text; the differential test checks it.
"""

from __future__ import annotations

import re

from enrich.pattern_model import (
    STAR,
    Comparison,
    ParsedPattern,
    PatternLimits,
    Step,
    make_comparison,
    unescape,
)

# The grammar's WS token, exactly: str.isspace() accepts more (e.g. \x1c), the lexer does not.
WS_CHARS = " \t\r\n\x0b\x0c\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
WS_CHARS += "\u2028\u2029\u202f\u205f\u3000"
_WS = f"[{re.escape(WS_CHARS)}]*+"
# A StringLiteral token: runs of plain characters between \' or \\ escapes (unrolled: fast).
STRING = r"'[^'\\]*+(?:\\['\\][^'\\]*+)*+'"
_ID = r"[A-Za-z_][A-Za-z0-9_]*+"
_INDEX = r"\*|\+?(?:0|[1-9][0-9]*+)"
_STEP = rf"{_WS}(?:\.{_WS}({_ID}|{STRING})|\[{_WS}({_INDEX}){_WS}\])"
# Groups: object type, first key, further steps, (key, index), operator, value.
_COMPARISON = (
    rf"([A-Za-z_][A-Za-z0-9_-]*+){_WS}:{_WS}({_ID}|{STRING})((?:{_STEP})*+)"
    rf"{_WS}(==?|!=|<>){_WS}({STRING})"
)
_SINGLE = re.compile(rf"{_WS}\[{_WS}{_COMPARISON}{_WS}\]{_WS}")
_COMPARISON_AT = re.compile(_COMPARISON)
_STEP_PARTS = re.compile(_STEP)
_SKIP_WS = re.compile(_WS)
# A keyword is its own token only when no identifier character follows it.
_JOIN_AT = re.compile(r"(?:AND|OR)(?![A-Za-z0-9_-])")
# Keywords win over identifiers of the same length in the grammar's lexer.
KEYWORDS = frozenset(
    "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP "  # noqa: SIM905
    "SECONDS true false WITHIN REPEATS TIMES".split()
)
OPERATORS = {"==": "=", "<>": "!="} | {op: op for op in ("=", "!=", "<", "<=", ">", ">=")}
# Nesting the ANTLR parser is known to handle (the test suite parses 32 levels through it).
_SAFE_DEPTH = 32

_Raw = tuple[str, tuple[Step, ...], str, str]  # object type, steps, operator, value


def parse_single(pattern: str) -> ParsedPattern | None:
    """One plain string comparison in brackets, or None."""
    match = _SINGLE.fullmatch(pattern)
    raw = _raw_comparison(match) if match is not None else None
    if raw is None:
        return None
    return ParsedPattern(comparisons=(_build(raw),), compound=False, fast_path=True)


def parse_compound(pattern: str, limits: PatternLimits) -> ParsedPattern | None:
    """Plain string comparisons joined by AND/OR, with brackets and parentheses, or None."""
    scanned = _Scanner(pattern, limits).run()
    if scanned is None:
        return None
    raws, observations = scanned
    # Built only once the whole text is known to be valid: ANTLR reports syntax errors first.
    comparisons = tuple(_build(raw) for raw in raws)
    compound = len(comparisons) != 1 or observations != 1
    return ParsedPattern(comparisons=comparisons, compound=compound, fast_path=True)


def _raw_comparison(match: re.Match[str]) -> _Raw | None:
    object_type, first, steps_text, _key, _index, op, value = match.groups()
    if object_type in KEYWORDS or first in KEYWORDS:
        return None
    steps: list[Step] = [_key_step(first)]
    for key, index in _STEP_PARTS.findall(steps_text):
        if key in KEYWORDS:
            return None
        steps.append(_key_step(key) if key else STAR if index == "*" else int(index))
    return object_type, tuple(steps), OPERATORS[op], unescape(literal=value)


def _build(raw: _Raw) -> Comparison:
    object_type, steps, operator, value = raw
    return make_comparison(object_type=object_type, steps=steps, operator=operator, value=value)


def _skip_ws(text: str, pos: int) -> int:
    match = _SKIP_WS.match(text, pos)
    return match.end() if match is not None else pos


def _key_step(token: str) -> str:
    return unescape(literal=token) if token.startswith("'") else token


class _Scanner:
    """Checks the token sequence against the AND/OR subset of the grammar in one pass.

    Operands alternate with AND/OR. Outside brackets an operand is `[...]` or `(...)`; inside
    brackets it is a comparison or `(...)`; brackets do not nest.
    """

    def __init__(self, pattern: str, limits: PatternLimits) -> None:
        self._text = pattern
        self._max_depth = min(limits.max_depth, _SAFE_DEPTH)
        self._max_comparisons = limits.max_comparisons
        self._open: list[str] = []
        self._inside = False  # within [ ]
        self.raws: list[_Raw] = []
        self.observations = 0

    def run(self) -> tuple[list[_Raw], int] | None:
        """The comparisons and observation count, or None if the text is outside the subset."""
        text, end = self._text, len(self._text)
        pos, want_operand = _skip_ws(text, 0), True
        while pos < end:
            after = self._operand(pos) if want_operand else self._operator(pos)
            if after is None:
                return None
            pos, want_operand = _skip_ws(text, after[0]), after[1]
        if want_operand or self._open:
            return None
        return self.raws, self.observations

    def _operand(self, pos: int) -> tuple[int, bool] | None:
        char = self._text[pos]
        if char == "(" or (char == "[" and not self._inside):
            self._open.append(char)
            self._inside = self._inside or char == "["
            return (pos + 1, True) if len(self._open) <= self._max_depth else None
        if not self._inside:
            return None
        match = _COMPARISON_AT.match(self._text, pos)
        if match is None or len(self.raws) >= self._max_comparisons:
            return None
        raw = _raw_comparison(match)
        if raw is None:
            return None
        self.raws.append(raw)
        return match.end(), False

    def _operator(self, pos: int) -> tuple[int, bool] | None:
        char = self._text[pos]
        if char in ")]":
            if not self._open or self._open.pop() != ("(" if char == ")" else "["):
                return None
            if char == "]":
                self._inside = False
                self.observations += 1
            return pos + 1, False
        match = _JOIN_AT.match(self._text, pos)
        return (match.end(), True) if match is not None else None
