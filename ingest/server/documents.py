"""The documents a collection stores for each object, the same for every way objects arrive.

A partner's POST (add_objects.py) and igsc's own additions (direct_add.py) both go through
`valid_object` (its version slot and document id) and `CollectionDocuments` (the stored body,
with `visible_to` from igsc.visibility for the object's TLP and its publisher).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from igsc.ports import IndexDoc
from igsc.stix_time import format_us, version_key
from igsc.tlp import Tlp
from igsc.visibility import visible_to
from ingest.convert import Admitted
from ingest.server.access import Target
from ingest.server.store import LIVE, doc_id, scope_of


@dataclass(frozen=True, slots=True)
class ValidObject:
    """An admitted object with its version slot and its document id in the collection."""

    obj: dict[str, Any]
    admitted: Admitted
    version: str | None  # None: immutable object, its version is its date_added
    slot: str  # version_key of version, "-" for an immutable object
    level: Tlp
    doc_id: str


def valid_object(admitted: Admitted, *, target: Target, publisher: str) -> ValidObject:
    """An admitted object with its version slot and its document id in the collection."""
    obj, version = admitted.obj, admitted.version
    slot = version_key(version) if version else "-"
    ident = doc_id(
        api_root=target.root.id,
        collection=target.collection.id,
        stix_id=obj["id"],
        slot=slot,
        publisher=publisher,
    )
    return ValidObject(
        obj=obj, admitted=admitted, version=version, slot=slot, level=admitted.level, doc_id=ident
    )


class CollectionDocuments:
    """Index documents of one submission; what every object shares is computed once."""

    def __init__(self, *, target: Target, publisher: str) -> None:
        self._shared = {
            "api_root": target.root.id,
            "collection": target.collection.id,
            "publisher": publisher,
            "state": LIVE,
            "scope": scope_of(api_root=target.root.id, collection=target.collection.id, state=LIVE),
        }
        self._publisher = publisher
        self._visible: dict[Tlp, list[str]] = {}

    def docs(
        self, *, objects: Sequence[ValidObject], start: int
    ) -> tuple[list[IndexDoc], dict[str, tuple[str, str]]]:
        """Documents dated start, start + 1, ...; and doc id -> (version, date_added)."""
        docs, stored = [], {}
        for offset, v in enumerate(objects):
            micros = start + offset
            added = format_us(micros)
            version = v.version or added
            stored[v.doc_id] = (version, added)
            docs.append(IndexDoc(id=v.doc_id, version=micros, body=self._body(v, version, added)))
        return docs, stored

    def _body(self, v: ValidObject, version: str, date_added: str) -> dict[str, Any]:
        obj = v.obj
        visible = self._visible.get(v.level)
        if visible is None:
            visible = visible_to(publisher=self._publisher, level=v.level)
            self._visible[v.level] = visible
        return {
            **self._shared,
            "stix_id": obj["id"],
            "type": obj["type"],
            "spec_version": str(obj.get("spec_version", "2.1")),
            "tlp": v.level.label,
            "visible_to": list(visible),
            "version_key": v.slot if v.version else version_key(version),
            "date_added": date_added,
            "version": version,
            "object": obj,
        }
