"""STIX 2.1 patterns: an exact fast path for one comparison, the ANTLR grammar for the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from stix2patterns.exceptions import ParseException
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as P
from stix2patterns.v21.pattern import Pattern

from igsc.errors import RejectedInput


class _Star:
    """The index step `[*]` of an object path (a sentinel: a key may be the string '*')."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STAR"


STAR: Final = _Star()
Scalar = str | int | float | bool
Value = Scalar | tuple[Scalar, ...] | None
Step = str | int | _Star


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison; `path` is normalised text (`hashes.'SHA-256'` → `hashes.SHA-256`)."""

    object_type: str
    path: str
    operator: str  # = != > < >= <= IN LIKE MATCHES ISSUBSET ISSUPERSET EXISTS
    value: Value  # unescaped string, number or bool; a tuple for IN; None for EXISTS
    negated: bool = False
    literal: str = "string"  # string|int|float|bool|hex|binary|timestamp|none; IN: kind or mixed
    steps: tuple[Step, ...] = ()  # the path as keys (str) and indexes (int, or STAR)


@dataclass(frozen=True, slots=True)
class ParsedPattern:
    """The comparisons of a pattern, whether it was compound and which parser read it."""

    comparisons: tuple[Comparison, ...]
    compound: bool
    fast_path: bool


@dataclass(frozen=True, slots=True)
class PatternLimits:
    """Bounds checked before the ANTLR parser sees a pattern (it recurses and is slow)."""

    max_chars: int = 16 * 1024
    max_depth: int = 32
    max_comparisons: int = 256


DEFAULT_LIMITS = PatternLimits()

# The grammar's WS token, exactly: str.isspace() accepts more (e.g. \x1c), the lexer does not.
_WS_CHARS = " \t\r\n\x0b\x0c\x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_WS_CHARS += "\u2028\u2029\u202f\u205f\u3000"
_WS = f"[{re.escape(_WS_CHARS)}]*+"
_UNICODE_WS = frozenset(c for c in _WS_CHARS if not c.isascii())
_STR = r"'(?:[^'\\]|\\['\\])*+'"
_ID = r"[A-Za-z_][A-Za-z0-9_]*+"
_INDEX = r"\*|\+?(?:0|[1-9][0-9]*+)"
_STEP = rf"{_WS}(?:\.{_WS}({_ID}|{_STR})|\[{_WS}({_INDEX}){_WS}\])"
_FAST = re.compile(
    rf"{_WS}\[{_WS}([A-Za-z_][A-Za-z0-9_-]*+){_WS}:{_WS}({_ID}|{_STR})((?:{_STEP})*+)"
    rf"{_WS}(==?|!=|<>){_WS}({_STR}){_WS}\]{_WS}"
)
_STEP_PARTS = re.compile(_STEP)
_STRING_AT = re.compile(_STR)
_GUARD_TOKEN = re.compile(r"['/()\[\]:]|[^\x00-\x7f]")
_LINE_END = re.compile(r"[\r\n]")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Keywords win over identifiers of the same length in the grammar's lexer.
_KEYWORDS = frozenset(
    "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP "  # noqa: SIM905
    "SECONDS true false WITHIN REPEATS TIMES".split()
)
_OPERATORS = {"==": "=", "<>": "!="} | {op: op for op in ("=", "!=", "<", "<=", ">", ">=")}
_STRING_OPS = {
    P.PropTestLikeContext: "LIKE",
    P.PropTestRegexContext: "MATCHES",
    P.PropTestIsSubsetContext: "ISSUBSET",
    P.PropTestIsSupersetContext: "ISSUPERSET",
}
_QUALIFIERS = (
    P.ObservationExpressionWithinContext,
    P.ObservationExpressionRepeatedContext,
    P.ObservationExpressionStartStopContext,
)
_LITERALS = {P.StringLiteral: "string", P.BoolLiteral: "bool", P.HexLiteral: "hex"}
_LITERALS |= {P.IntPosLiteral: "int", P.IntNegLiteral: "int", P.BinaryLiteral: "binary"}
_LITERALS |= {
    P.FloatPosLiteral: "float",
    P.FloatNegLiteral: "float",
    P.TimestampLiteral: "timestamp",
}
# Same algorithms the stix2-patterns validator checks, with exact lengths (it is laxer on MD6).
_HEX_LENGTHS = {"MD5": (32,), "MD6": (32, 40, 56, 64, 96, 128), "RIPEMD160": (40,)}
_HEX_LENGTHS |= {"SHA1": (40,), "SHA224": (56,), "SHA256": (64,), "SHA384": (96,)}
_HEX_LENGTHS |= {"SHA512": (128,), "SHA3224": (56,), "SHA3256": (64,), "SHA3384": (96,)}
_HEX_LENGTHS |= {"SHA3512": (128,), "WHIRLPOOL": (128,)}
_HEX = re.compile(r"[0-9a-fA-F]+")
_SSDEEP = re.compile(r"[a-zA-Z0-9/+:.]{1,128}")


def parse_pattern(*, pattern: str, limits: PatternLimits = DEFAULT_LIMITS) -> ParsedPattern:
    """Parse a STIX 2.1 pattern, by the fast path when it is one plain string comparison."""
    _check_length(pattern, limits)
    fast = _parse_fast(pattern)
    return fast if fast is not None else _parse_antlr(pattern, limits)


def parse_pattern_full(*, pattern: str, limits: PatternLimits = DEFAULT_LIMITS) -> ParsedPattern:
    """Parse a STIX 2.1 pattern with the ANTLR grammar of stix2-patterns, after bounding it."""
    _check_length(pattern, limits)
    return _parse_antlr(pattern, limits)


def render_path(*, steps: tuple[Step, ...]) -> str:
    """The normalised text of an object path: keys joined by '.', indexes as [n] or [*]."""
    out = [_render_key(steps[0])]
    for step in steps[1:]:
        if step is STAR:
            out.append("[*]")
        elif isinstance(step, int):
            out.append(f"[{step}]")
        else:
            out.append("." + _render_key(step))
    return "".join(out)


def unescape(*, literal: str) -> str:
    """The value of a quoted StringLiteral token (quotes included): only \\' and \\\\ escape."""
    body = literal[1:-1]
    if "\\" not in body:
        return body
    # Exact: in a valid body every quote carries its escape and other backslashes come in pairs.
    return body.replace("\\'", "'").replace("\\\\", "\\")


def _render_key(step: Step) -> str:
    text = str(step)
    if _BARE_KEY.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check_length(pattern: str, limits: PatternLimits) -> None:
    if len(pattern) > limits.max_chars:
        raise RejectedInput("pattern is too long", detail=f"{len(pattern)} > {limits.max_chars}")


def _parse_fast(pattern: str) -> ParsedPattern | None:
    match = _FAST.fullmatch(pattern)
    if match is None:
        return None
    object_type, first, steps_text, _key, _index, op, value = match.groups()
    if object_type in _KEYWORDS or first in _KEYWORDS:
        return None
    steps: list[Step] = [_key_step(first)]
    for key, index in _STEP_PARTS.findall(steps_text):
        if key in _KEYWORDS:
            return None
        steps.append(_key_step(key) if key else STAR if index == "*" else int(index))
    comparison = _comparison(object_type, tuple(steps), _OPERATORS[op], unescape(literal=value))
    return ParsedPattern(comparisons=(comparison,), compound=False, fast_path=True)


def _key_step(token: str) -> str:
    return unescape(literal=token) if token.startswith("'") else token


def _comparison(
    object_type: str,
    steps: tuple[Step, ...],
    operator: str,
    value: Value,
    *,
    negated: bool = False,
    literal: str = "string",
) -> Comparison:
    comparison = Comparison(
        object_type=object_type,
        path=render_path(steps=steps),
        operator=operator,
        value=value,
        negated=negated,
        literal=literal,
        steps=steps,
    )
    _check_hash(comparison)
    return comparison


def _check_hash(comparison: Comparison) -> None:
    """Reject a known hash compared with a value that cannot be that hash, as the validator does."""
    steps = comparison.steps
    if comparison.operator not in ("=", "!=", "IN") or "hashes" not in steps:
        return
    last = steps[-1]
    name = last.upper().replace("-", "").replace("'", "") if isinstance(last, str) else ""
    if name not in _HEX_LENGTHS and name != "SSDEEP":
        return
    values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
    for value in values:
        if not _hash_ok(name, value):
            raise RejectedInput(
                f"pattern compares {comparison.path} with a value that is no such hash",
                detail=repr(value)[:160],
            )


def _hash_ok(name: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    if name == "SSDEEP":
        return _SSDEEP.fullmatch(value) is not None
    return len(value) in _HEX_LENGTHS[name] and _HEX.fullmatch(value) is not None


def _guard(pattern: str, limits: PatternLimits) -> list[tuple[int, int, bool]]:
    """Bound nesting and comparisons as the grammar's lexer sees them, in one linear pass.

    Returns spans to rewrite before ANTLR (its lexer is slow on long or non-ASCII text):
    (start, end, True) for a string literal, (start, end, False) for a comment or Unicode space.
    """
    depth = colons = 0
    pos = 0
    spans: list[tuple[int, int, bool]] = []
    while (found := _GUARD_TOKEN.search(pattern, pos)) is not None:
        char, start = found.group(), found.start()
        pos = found.end()
        if char == "'":
            literal = _STRING_AT.match(pattern, start)
            if literal is None:  # the lexer would emit a lone QUOTE, which no rule accepts
                raise RejectedInput("pattern has an unterminated or badly escaped string")
            pos = literal.end()
            # Only h'..', b'..' and t'..' tokens hold a quote that does not start them.
            if start == 0 or pattern[start - 1] not in "hbt":
                spans.append((start, pos, True))
            elif not pattern[start:pos].isascii():  # no h'..', b'..' or t'..' literal: an error
                raise RejectedInput("pattern has a malformed hex, binary or timestamp literal")
        elif char == "/":
            pos = _skip_comment(pattern, start)
            spans.append((start, pos, False))
        elif not char.isascii():
            if char not in _UNICODE_WS:  # InvalidCharacter: no parser rule accepts it
                raise RejectedInput(
                    "pattern has a character no STIX pattern allows outside strings",
                    detail=repr(char),
                )
            spans.append((start, pos, False))
        elif char in "([":
            depth += 1
            if depth > limits.max_depth:
                raise RejectedInput("pattern nests too deeply", detail=f"> {limits.max_depth}")
        elif char in ")]":
            depth = max(depth - 1, 0)
        else:  # every object path has exactly one ':' outside strings
            colons += 1
            if colons > limits.max_comparisons:
                raise RejectedInput(
                    "pattern has too many comparisons", detail=f"> {limits.max_comparisons}"
                )
    return spans


def _skip_comment(pattern: str, start: int) -> int:
    if pattern.startswith("/*", start):
        end = pattern.find("*/", start + 2)
        if end < 0:
            raise RejectedInput("pattern has an unterminated comment")
        return end + 2
    if pattern.startswith("//", start):
        line_end = _LINE_END.search(pattern, start)
        return len(pattern) if line_end is None else line_end.start()
    raise RejectedInput("pattern has a stray '/'")  # DIVIDE is in no parser rule


def _shrink(pattern: str, spans: list[tuple[int, int, bool]]) -> tuple[str, dict[int, str]]:
    """The pattern with short ASCII string literals and plain spaces, lexed the same way.

    Also returns each original string literal by its start offset in the new text.
    """
    parts: list[str] = []
    originals: dict[int, str] = {}
    last = length = 0
    for start, end, is_string in spans:
        parts.append(pattern[last:start])
        length += start - last
        # A comment or a run of WS is skipped by the lexer, as one space is.
        replacement = f"'{len(originals)}'" if is_string else " "
        if is_string:
            originals[length] = pattern[start:end]
        parts.append(replacement)
        length += len(replacement)
        last = end
    parts.append(pattern[last:])
    return "".join(parts), originals


def _parse_antlr(pattern: str, limits: PatternLimits) -> ParsedPattern:
    text, originals = _shrink(pattern, _guard(pattern, limits))
    collector = _Collector(originals)
    try:
        Pattern(text).visit(collector)
    except ParseException as exc:
        raise RejectedInput("pattern is not valid STIX 2.1", detail=str(exc)[:200]) from None
    except RecursionError:
        raise RejectedInput("pattern nests too deeply to parse") from None
    comparisons = tuple(collector.comparisons)
    compound = len(comparisons) != 1 or collector.observations != 1 or collector.qualified
    return ParsedPattern(comparisons=comparisons, compound=compound, fast_path=False)


def _preorder(tree: Any) -> Iterator[Any]:
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        children = getattr(node, "children", None)
        if children:
            stack.extend(reversed(children))


def _is_token(node: Any) -> bool:
    return hasattr(node, "symbol")  # ANTLR terminal nodes carry their token; rule contexts don't


def _check_qualifier_chain(node: Any) -> None:
    """The validator's rule: one qualifier of each kind directly on a bracketed observation."""
    seen: set[type] = set()
    duplicate = False
    while isinstance(node, _QUALIFIERS):
        duplicate = duplicate or type(node) in seen
        seen.add(type(node))
        node = node.observationExpression()
    if duplicate and isinstance(node, P.ObservationExpressionSimpleContext):
        raise RejectedInput("pattern repeats a qualifier on one observation")


class _Collector:
    """Reads an ANTLR parse tree iteratively (deep trees cannot overflow the stack)."""

    def __init__(self, originals: dict[int, str]) -> None:
        self.comparisons: list[Comparison] = []
        self.observations = 0
        self.qualified = False
        self._originals = originals

    def visit(self, tree: Any) -> None:
        """Walk the whole tree once, in source order."""
        for node in _preorder(tree):
            if isinstance(node, P.ObservationExpressionSimpleContext):
                self.observations += 1
            elif isinstance(node, _QUALIFIERS):
                self.qualified = True
                if not isinstance(node.parentCtx, _QUALIFIERS):
                    _check_qualifier_chain(node)
            elif isinstance(node, P.PropTestContext) and not isinstance(
                node, P.PropTestParenContext
            ):
                self.comparisons.append(self._comparison(node))

    def _comparison(self, node: Any) -> Comparison:
        object_type, steps = self._path(node.objectPath())
        negated = node.NOT() is not None
        value: Value
        if isinstance(node, P.PropTestEqualContext):
            literal, value = self._literal(node.primitiveLiteral())
            operator = "=" if node.EQ() is not None else "!="
        elif isinstance(node, P.PropTestOrderContext):
            literal, value = self._literal(node.orderableLiteral())
            operator = _OPERATORS[(node.GT() or node.LT() or node.GE() or node.LE()).getText()]
        elif isinstance(node, P.PropTestSetContext):
            members = [self._literal(m) for m in node.setLiteral().primitiveLiteral()]
            kinds = {kind for kind, _ in members}
            literal = kinds.pop() if len(kinds) == 1 else "mixed"
            value, operator = tuple(v for _, v in members), "IN"
        elif isinstance(node, P.PropTestExistsContext):
            literal, value, operator = "none", None, "EXISTS"
        else:
            literal, operator = "string", _STRING_OPS[type(node)]
            value = unescape(literal=self._text(node.StringLiteral().symbol))
        return _comparison(object_type, steps, operator, value, negated=negated, literal=literal)

    def _path(self, ctx: Any) -> tuple[str, tuple[Step, ...]]:
        tokens = [n.symbol for n in _preorder(ctx) if _is_token(n)]
        steps: list[Step] = [self._key(tokens[2])]
        rest = iter(tokens[3:])
        for token in rest:
            step = next(rest)
            if token.type == P.DOT:
                steps.append(self._key(step))
            else:  # '[' index ']'
                steps.append(STAR if step.type == P.ASTERISK else int(step.text))
                next(rest)
        return tokens[0].text, tuple(steps)

    def _key(self, token: Any) -> str:
        text = self._text(token)
        return unescape(literal=text) if token.type == P.StringLiteral else text

    def _text(self, token: Any) -> str:
        text: str = token.text
        return self._originals.get(token.start, text) if token.type == P.StringLiteral else text

    def _literal(self, ctx: Any) -> tuple[str, Scalar]:
        while not _is_token(ctx):
            ctx = ctx.getChild(0)
        token = ctx.symbol
        kind = _LITERALS[token.type]
        text = self._text(token)
        if kind == "string":
            return kind, unescape(literal=text)
        if kind == "int":
            return kind, int(text)
        if kind == "float":
            return kind, float(text)
        if kind == "bool":
            return kind, text == "true"
        return kind, text[2:-1]  # hex, binary, timestamp: the text between the quotes
