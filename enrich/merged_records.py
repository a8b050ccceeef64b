"""Point reads of merged records from the dedup state, as the documents merge indexes.

An exact lookup needs one record, not a search: the merge row in the State port is the record
of truth (the index is written from it), so reading it is one key-value round trip, fresher
than the index (no refresh wait) and untouched by the indexing load on the search cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from enrich.enrichers import enrich
from enrich.merge_codec import MERGE_TABLE, decode_record, row_key
from enrich.record import Enricher
from enrich.schema import indicator_doc
from igsc.interning import Interner
from igsc.ports import State


class MergedRecords:
    """Merged records by observable key, enriched and shaped like their index documents."""

    def __init__(self, *, state: State, enrichers: Sequence[Enricher]) -> None:
        self._state = state
        self._enrichers = tuple(enrichers)
        self._names = Interner(state=state, table=MERGE_TABLE)

    def document(self, *, key: str) -> Mapping[str, Any] | None:
        """The document merge indexed (or is indexing) for this key, or None."""
        row = row_key(key)
        data = self._state.get_rows(table=MERGE_TABLE, keys=[row]).get(row)
        if data is None:
            return None
        record = decode_record(key, data, names=self._names)
        return indicator_doc(enrich(record=record, enrichers=self._enrichers))
