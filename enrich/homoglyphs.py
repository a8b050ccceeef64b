"""Look-alike domains: a compact confusable skeleton and a mixed-script check per label."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Lower-case letters from other scripts (and odd Latin) that render like a plain ASCII letter.
# A compact subset of Unicode's confusables.txt, chosen for what phishing domains use.
_LOOKALIKES = {
    # Cyrillic
    "\N{CYRILLIC SMALL LETTER A}": "a",
    "\N{CYRILLIC SMALL LETTER IE}": "e",
    "\N{CYRILLIC SMALL LETTER O}": "o",
    "\N{CYRILLIC SMALL LETTER ER}": "p",
    "\N{CYRILLIC SMALL LETTER ES}": "c",
    "\N{CYRILLIC SMALL LETTER U}": "y",
    "\N{CYRILLIC SMALL LETTER HA}": "x",
    "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
    "\N{CYRILLIC SMALL LETTER JE}": "j",
    "\N{CYRILLIC SMALL LETTER DZE}": "s",
    "\N{CYRILLIC SMALL LETTER KOMI DE}": "d",
    "\N{CYRILLIC SMALL LETTER QA}": "q",
    "\N{CYRILLIC SMALL LETTER WE}": "w",
    "\N{CYRILLIC SMALL LETTER SHHA}": "h",
    "\N{CYRILLIC SMALL LETTER PALOCHKA}": "l",
    "\N{CYRILLIC SMALL LETTER STRAIGHT U}": "y",
    "\N{CYRILLIC SMALL LETTER ABKHASIAN CHE}": "e",
    "\N{LATIN SMALL LETTER SCRIPT G}": "g",
    # Greek
    "\N{GREEK SMALL LETTER OMICRON}": "o",
    "\N{GREEK SMALL LETTER ALPHA}": "a",
    "\N{GREEK SMALL LETTER NU}": "v",
    "\N{GREEK SMALL LETTER RHO}": "p",
    "\N{GREEK SMALL LETTER UPSILON}": "u",
    "\N{GREEK SMALL LETTER IOTA}": "i",
    "\N{GREEK SMALL LETTER CHI}": "x",
    "\N{GREEK LUNATE SIGMA SYMBOL}": "c",
    "\N{GREEK LETTER YOT}": "j",
    # Latin letters that are not ASCII but look it
    "\N{LATIN SMALL LETTER ALPHA}": "a",
    "\N{LATIN SMALL LETTER DOTLESS I}": "i",
    "\N{LATIN SMALL LETTER IOTA}": "i",
    "\N{LATIN LETTER SMALL CAPITAL Y}": "y",
    # Armenian
    "\N{ARMENIAN SMALL LETTER OH}": "o",
    "\N{ARMENIAN SMALL LETTER SEH}": "u",
    "\N{ARMENIAN SMALL LETTER HO}": "h",
    "\N{ARMENIAN SMALL LETTER VO}": "n",
    "\N{ARMENIAN SMALL LETTER ZA}": "q",
    "\N{ARMENIAN SMALL LETTER CO}": "g",
    "\N{ARMENIAN SMALL LETTER AYB}": "w",
}
_TABLE = str.maketrans(_LOOKALIKES)
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN"}
# Script mixes that are normal in one label (UTS 39 "highly restrictive"): CJK writing.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
_SCRIPTS = frozenset(
    "LATIN CYRILLIC GREEK ARMENIAN GEORGIAN HEBREW ARABIC SYRIAC THAANA DEVANAGARI BENGALI "  # noqa: SIM905
    "GURMUKHI GUJARATI ORIYA TAMIL TELUGU KANNADA MALAYALAM SINHALA THAI LAO TIBETAN MYANMAR "
    "ETHIOPIC CHEROKEE KHMER MONGOLIAN HAN HIRAGANA KATAKANA HANGUL BOPOMOFO".split()
)


def skeleton(*, text: str) -> str:
    """The text with every listed look-alike letter replaced by the ASCII letter it imitates."""
    return text.translate(_TABLE)


def scripts_of(*, label: str) -> frozenset[str]:
    """The scripts of the letters of a label (digits, hyphens and marks belong to none)."""
    return frozenset(s for s in map(_script, label) if s is not None)


def is_mixed_script(*, label: str) -> bool:
    """True when a label mixes scripts beyond the mixes normal for CJK writing."""
    scripts = scripts_of(label=label)
    if len(scripts) < 2:
        return False
    return not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def homoglyph_flags(*, unicode_domain: str) -> tuple[str, ...]:
    """Flags for a domain in Unicode (U-label) form: homoglyph, mixed-script, lookalike:<ascii>."""
    if unicode_domain.isascii():
        return ()
    flags: set[str] = set()
    if any(is_mixed_script(label=label) for label in unicode_domain.split(".")):
        flags.update(("homoglyph", "mixed-script"))
    imitated = skeleton(text=unicode_domain)
    if imitated.isascii():  # every non-ASCII letter had an ASCII twin: it imitates that domain
        flags.update(("homoglyph", f"lookalike:{imitated}"))
    return tuple(sorted(flags))


@lru_cache(maxsize=4096)
def _script(char: str) -> str | None:
    if not unicodedata.category(char).startswith("L"):
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    word = _SCRIPT_ALIASES.get(word, word)
    return word if word in _SCRIPTS else None
