"""Known-benign values that never open an incident: the operator's allowlist and the MISP
warninglists (pymispwarninglists ships them), consulted only for subjects about to cross.

Loading the 100+ warninglists takes seconds, so it happens on the first subject that needs
it, not at start-up, and every answer is cached.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any


class Exclusions:
    """Which list, if any, says a subject is benign."""

    def __init__(self, *, allowlist: Sequence[str], warninglists: Sequence[str]) -> None:
        self._allowed = frozenset(allowlist)
        self._wanted = frozenset(warninglists)  # empty: every list
        self._lists: Any = None
        self._lock = threading.Lock()

    def matching(self, *, key: str, value: str, use_warninglists: bool) -> str | None:
        """The name of the list the subject is on ("allowlist" or a warninglist), or None."""
        if key in self._allowed or value in self._allowed:
            return "allowlist"
        if not use_warninglists:
            return None
        return self._warninglist(value)

    @functools.lru_cache(maxsize=65_536)  # noqa: B019 - one instance per process, on purpose
    def _warninglist(self, value: str) -> str | None:
        for found in self._loaded().search(value):
            if not self._wanted or found.name in self._wanted:
                return str(found.name)
        return None

    def _loaded(self) -> Any:
        with self._lock:
            if self._lists is None:
                from pymispwarninglists.api import WarningLists

                self._lists = WarningLists(slow_search=False)
            return self._lists
