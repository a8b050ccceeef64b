"""Interned names: small ids for strings repeated across millions of state rows.

One table per stage lives under one State key. Workers cache it and append with
compare-and-set, so every worker and every restart agrees on each id. A row is written only
after the ids it uses are stored, so a row never points at an id nobody can read.
"""

from __future__ import annotations

import orjson

from igsc.errors import TransientFailure
from igsc.packing import NameTable
from igsc.ports import State

DEFAULT_LIMIT = 4096  # past this, names are written out in full: the table is one value
_ATTEMPTS = 64


class Interner(NameTable):
    """Names ↔ ids for one table, shared by every worker through the State port."""

    def __init__(self, *, state: State, table: str, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__()
        self._state = state
        self._key = f"intern:{table}"
        self._limit = limit
        self._raw: bytes | None = None
        self._strings: list[str] = []
        self._ids: dict[str, int] = {}

    def id_of(self, value: str) -> int | None:
        """The id of value, adding it if new; None once the table is full."""
        found = self._ids.get(value)
        return found if found is not None else self._add(value)

    def string(self, name_id: int) -> str:
        """The string of an id; another worker may have added it since this one last read."""
        if name_id >= len(self._strings):
            self._reload()
        return self._strings[name_id]

    def _reload(self) -> None:
        raw = self._state.get_many(keys=[self._key]).get(self._key)
        if raw != self._raw:
            self._raw = raw
            self._strings = orjson.loads(raw) if raw else []
            self._ids = {s: i for i, s in enumerate(self._strings)}

    def _add(self, value: str) -> int | None:
        for _ in range(_ATTEMPTS):
            self._reload()
            if value in self._ids:
                return self._ids[value]
            if len(self._strings) >= self._limit:
                return None
            new = orjson.dumps([*self._strings, value])
            if self._state.compare_and_set(key=self._key, expected=self._raw, new=new):
                self._raw = new
                self._ids[value] = len(self._strings)
                self._strings.append(value)
                return self._ids[value]
        raise TransientFailure(f"{self._key} stayed contended for {_ATTEMPTS} attempts")
