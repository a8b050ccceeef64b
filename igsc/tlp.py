"""TLP 1.0 and 2.0 marking definitions, by their exact OASIS ids, on one ordered scale."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from igsc.stix_schema import GranularMarking


class Tlp(IntEnum):
    """TLP levels ordered from least to most restrictive; unknown markings count as RED."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        """The lowercase name used in records and settings (e.g. 'amber+strict')."""
        return self.name.lower().replace("_", "+")


TLP_NAMES = ("clear", "white", "green", "amber", "amber+strict", "red")

TLP_BY_NAME = {
    "clear": Tlp.CLEAR,
    "white": Tlp.CLEAR,
    "green": Tlp.GREEN,
    "amber": Tlp.AMBER,
    "amber+strict": Tlp.AMBER_STRICT,
    "red": Tlp.RED,
}

TLP_MARKING_IDS = {
    # TLP 1.0 (STIX 2.1 spec section 7.2.1.4)
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
    # TLP 2.0 (OASIS cti-stix-common-objects, extension-definition--60a3c5c5-...)
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
}

TLP2_IDS = {level: marking_id for marking_id, level in list(TLP_MARKING_IDS.items())[4:]}


def tlp_of_marking(marking_ref: str) -> Tlp | None:
    """The TLP level of a marking-definition id, or None if it is not a TLP marking."""
    return TLP_MARKING_IDS.get(marking_ref)


def granular_tlp(*, marking: GranularMarking) -> Tlp | None:
    """The TLP level a granular marking puts on its selectors: None for a `lang` marking
    (a language, not a TLP marking); a marking nobody recognises is RED."""
    ref = marking.marking_ref
    return None if ref is None else TLP_MARKING_IDS.get(ref, Tlp.RED)


def resolve_tlp(marking_refs: Iterable[str], *, default: Tlp) -> Tlp:
    """The most restrictive TLP among object markings; a marking nobody recognises is RED."""
    levels = [TLP_MARKING_IDS.get(ref, Tlp.RED) for ref in marking_refs]
    return max(levels) if levels else default


# Granular markings on these fields mark the object's identity and version, which every
# read path (manifest, versions, headers) exposes, so they count as object-level markings.
IDENTITY_FIELDS = frozenset({"id", "type", "spec_version", "created", "modified"})


def _identity_marking_refs(obj: Mapping[str, Any]) -> list[str]:
    refs: list[str] = []
    for marking in obj.get("granular_markings") or ():
        ref = marking.get("marking_ref")
        selectors = marking.get("selectors") or ()
        if isinstance(ref, str) and any(s in IDENTITY_FIELDS for s in selectors):
            refs.append(ref)
    return refs


def object_tlp(obj: Mapping[str, Any], *, default: Tlp) -> Tlp:
    """The object's TLP: most restrictive object marking, or the publisher's default."""
    if obj.get("id") in TLP_MARKING_IDS:
        return Tlp.CLEAR  # the public TLP marking definitions themselves
    level = resolve_tlp(obj.get("object_marking_refs") or (), default=default)
    identity = _identity_marking_refs(obj)
    return max(level, resolve_tlp(identity, default=Tlp.CLEAR)) if identity else level
