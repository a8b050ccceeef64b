"""Which API roots and collections a partner may see, read and write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from igsc.partners import Partner
from igsc.server_settings import ApiRootSettings, CollectionSettings, TaxiiServerSettings
from ingest.server.errors import TaxiiError

NO_COLLECTION = "No such collection in this API root."


@dataclass(frozen=True, slots=True)
class Target:
    """A collection a request addresses, with its API root."""

    root: ApiRootSettings
    collection: CollectionSettings


class Access:
    """Looks up API roots and collections and enforces can_read / can_write."""

    def __init__(self, *, taxii: TaxiiServerSettings) -> None:
        self._roots = {root.id: root for root in taxii.api_roots}

    @property
    def roots(self) -> Sequence[ApiRootSettings]:
        """Every configured API root."""
        return tuple(self._roots.values())

    def api_root(self, *, api_root: str) -> ApiRootSettings:
        """The API root with this id, else 404."""
        root = self._roots.get(api_root)
        if root is None:
            raise TaxiiError(404, "No such API root.")
        return root

    @staticmethod
    def can_read(*, partner: Partner, collection: CollectionSettings) -> bool:
        """True if the partner may read the collection."""
        return collection.id in partner.can_read

    @staticmethod
    def can_write(*, partner: Partner, collection: CollectionSettings) -> bool:
        """True if the partner may add objects to the collection."""
        return collection.id in partner.can_write

    def visible_collections(
        self, *, partner: Partner, root: ApiRootSettings
    ) -> list[CollectionSettings]:
        """Collections of the root the partner can read or write; the rest stay unrevealed."""
        return [
            c
            for c in root.collections
            if self.can_read(partner=partner, collection=c)
            or self.can_write(partner=partner, collection=c)
        ]

    def target(self, *, partner: Partner, api_root: str, collection_id: str) -> Target:
        """The addressed collection; 404 if unknown or neither readable nor writable."""
        root = self.api_root(api_root=api_root)
        for collection in self.visible_collections(partner=partner, root=root):
            if collection.id == collection_id.lower():
                return Target(root=root, collection=collection)
        raise TaxiiError(404, NO_COLLECTION)

    def readable(self, *, partner: Partner, api_root: str, collection_id: str) -> Target:
        """The addressed collection if the partner may read it, else 404 or 403."""
        target = self.target(partner=partner, api_root=api_root, collection_id=collection_id)
        if not self.can_read(partner=partner, collection=target.collection):
            raise TaxiiError(403, "This partner may not read this collection.")
        return target

    def writable(self, *, partner: Partner, api_root: str, collection_id: str) -> Target:
        """The addressed collection if the partner may write it, else 404 or 403."""
        target = self.target(partner=partner, api_root=api_root, collection_id=collection_id)
        if not self.can_write(partner=partner, collection=target.collection):
            raise TaxiiError(403, "This partner may not write to this collection.")
        return target
