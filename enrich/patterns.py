"""STIX 2.1 patterns: exact fast paths for plain AND/OR comparisons, ANTLR for the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stix2patterns.exceptions import ParseException
from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser as P
from stix2patterns.v21.pattern import Pattern

from enrich.pattern_fast import OPERATORS, STRING, WS_CHARS, parse_compound, parse_single
from enrich.pattern_model import (
    DEFAULT_LIMITS,
    STAR,
    Comparison,
    ParsedPattern,
    PatternLimits,
    Scalar,
    Step,
    Value,
    make_comparison,
    render_path,
    unescape,
)
from igsc.errors import RejectedInput

__all__ = [
    "DEFAULT_LIMITS",
    "STAR",
    "Comparison",
    "ParsedPattern",
    "PatternLimits",
    "Step",
    "Value",
    "parse_pattern",
    "parse_pattern_full",
    "render_path",
    "unescape",
]

_UNICODE_WS = frozenset(c for c in WS_CHARS if not c.isascii())
_STRING_AT = re.compile(STRING)
_GUARD_TOKEN = re.compile(r"['/()\[\]:]|[^\x00-\x7f]")
_LINE_END = re.compile(r"[\r\n]")
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


def parse_pattern(*, pattern: str, limits: PatternLimits = DEFAULT_LIMITS) -> ParsedPattern:
    """Parse a STIX 2.1 pattern, by a fast path when it only joins string comparisons."""
    _check_length(pattern, limits)
    fast = parse_single(pattern) or parse_compound(pattern, limits)
    return fast if fast is not None else _parse_antlr(pattern, limits)


def parse_pattern_full(*, pattern: str, limits: PatternLimits = DEFAULT_LIMITS) -> ParsedPattern:
    """Parse a STIX 2.1 pattern with the ANTLR grammar of stix2-patterns, after bounding it."""
    _check_length(pattern, limits)
    return _parse_antlr(pattern, limits)


def _check_length(pattern: str, limits: PatternLimits) -> None:
    if len(pattern) > limits.max_chars:
        raise RejectedInput("pattern is too long", detail=f"{len(pattern)} > {limits.max_chars}")


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
            operator = OPERATORS[(node.GT() or node.LT() or node.GE() or node.LE()).getText()]
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
        return make_comparison(
            object_type=object_type,
            steps=steps,
            operator=operator,
            value=value,
            negated=negated,
            literal=literal,
        )

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
