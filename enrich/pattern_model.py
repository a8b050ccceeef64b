"""What a parsed STIX 2.1 pattern is: comparisons with normalised paths, and parse limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

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

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Same algorithms the stix2-patterns validator checks, with exact lengths (it is laxer on MD6).
_HEX_LENGTHS = {"MD5": (32,), "MD6": (32, 40, 56, 64, 96, 128), "RIPEMD160": (40,)}
_HEX_LENGTHS |= {"SHA1": (40,), "SHA224": (56,), "SHA256": (64,), "SHA384": (96,)}
_HEX_LENGTHS |= {"SHA512": (128,), "SHA3224": (56,), "SHA3256": (64,), "SHA3384": (96,)}
_HEX_LENGTHS |= {"SHA3512": (128,), "WHIRLPOOL": (128,)}
_HEX = re.compile(r"[0-9a-fA-F]+")
_SSDEEP = re.compile(r"[a-zA-Z0-9/+:.]{1,128}")


def render_path(*, steps: tuple[Step, ...]) -> str:
    """The normalised text of an object path: keys joined by '.', indexes as [n] or [*]."""
    return _rendered(steps)


@lru_cache(maxsize=4096)  # a handful of paths (value, hashes.MD5, ...) make up most patterns
def _rendered(steps: tuple[Step, ...]) -> str:
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


def make_comparison(
    *,
    object_type: str,
    steps: tuple[Step, ...],
    operator: str,
    value: Value,
    negated: bool = False,
    literal: str = "string",
) -> Comparison:
    """A Comparison, rejected as the validator would if it compares a hash with a non-hash."""
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


def _render_key(step: Step) -> str:
    text = str(step)
    if _BARE_KEY.fullmatch(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
