"""Known-benign values that never open an incident: the operator's allowlist and the MISP
warninglists (pymispwarninglists ships them), consulted only for subjects about to cross.

Loading the 100+ warninglists takes seconds, so it happens once per process, on the first
subject that needs it (not at start-up), and every answer is cached.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


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


@functools.lru_cache(maxsize=65_536)
def _lists_with(value: str) -> tuple[str, ...]:
    return tuple(str(found.name) for found in _warninglists().search(value))


@functools.lru_cache(maxsize=1)
def _warninglists() -> Any:
    from pymispwarninglists.api import WarningLists

    return WarningLists(slow_search=False)
