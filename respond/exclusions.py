"""Known-benign values that never open an incident: the operator's allowlist and the MISP
warninglists (pymispwarninglists ships them), consulted only for subjects about to cross.

Each time a list keeps a subject from crossing, the respond stage records which list matched
in the `benign` index (one document per rule and subject), and `igsc lookup` shows it with
the indicator: an analyst sees why a value reported by many countries opened nothing.

Loading the 100+ warninglists takes seconds, so it happens once per process, on the first
subject that needs it (not at start-up), and every answer is cached.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from igsc.ports import Index, IndexDoc, IndexSchema, SearchQuery

BENIGN = IndexSchema(
    name="benign",
    keyword=("subject", "rule", "list"),
    date=("at",),
    numeric=("version",),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BenignMatch:
    """A rule that did not correlate a subject because a list says it is benign."""

    subject: str  # the canonical key
    rule: str
    list_name: str
    at: str  # the newest evidence time of the document it was decided on
    version: int  # of that document: a replay writes the same, an older one nothing

    def index_doc(self) -> IndexDoc:
        row = hashlib.blake2b(f"{self.rule}|{self.subject}".encode(), digest_size=16)
        return IndexDoc(
            id=row.hexdigest(),
            version=self.version,
            body={
                "subject": self.subject,
                "rule": self.rule,
                "list": self.list_name,
                "version": self.version,
                **({"at": self.at} if self.at else {}),
            },
        )


def benign_matches(*, index: Index, subject: str) -> list[dict[str, str]]:
    """Which lists kept which rules from correlating a subject, by rule."""
    index.ensure(schema=BENIGN)
    page = index.search(schema=BENIGN, query=SearchQuery(terms={"subject": [subject]}, size=100))
    found = [{"rule": h["rule"], "list": h["list"], "at": h.get("at", "")} for h in page.hits]
    return sorted(found, key=lambda m: m["rule"])


class Exclusions:
    """Which list, if any, says a subject is benign."""

    def __init__(self, *, allowlist: Sequence[str], warninglists: Sequence[str]) -> None:
        self._allowed = frozenset(allowlist)
        self._wanted = frozenset(warninglists)  # empty: every list

    def matching(self, *, key: str, value: str, use_warninglists: bool) -> str | None:
        """The name of the list the subject is on ("allowlist" or a warninglist), or None."""
        if key in self._allowed or value in self._allowed:
            return "allowlist"
        if not use_warninglists:
            return None
        for name in _lists_with(value):
            if not self._wanted or name in self._wanted:
                return name
        return None

    @staticmethod
    def lists_with(value: str) -> tuple[str, ...]:
        """Every MISP warninglist the value is on (names as pymispwarninglists gives them)."""
        return _lists_with(value)


@functools.lru_cache(maxsize=65_536)
def _lists_with(value: str) -> tuple[str, ...]:
    return tuple(str(found.name) for found in _warninglists().search(value))


@functools.lru_cache(maxsize=1)
def _warninglists() -> Any:
    from pymispwarninglists.api import WarningLists

    return WarningLists(slow_search=False)
