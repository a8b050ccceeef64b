"""Extract state rows: per STIX indicator, its creator and each partner's version and keys.

Keyed by the packed STIX id (17 bytes); observable keys are kept in full because retractions,
sightings and ATT&CK links are routed to merge by them.
"""

from __future__ import annotations

from typing import Any

from igsc.packing import CorruptRow, Names, Packer, Unpacker, stix_id_bytes

SID_TABLE = "sid"
_FORMAT = 1


def sid_row_key(stix_id: str) -> bytes:
    """The row key of an indicator's version state."""
    return stix_id_bytes(stix_id)


def encode_sid(record: dict[str, Any], *, names: Names) -> bytes:
    """Packed form of {"by": creator or None, "p": {partner: {"v": modified, "k": [keys]}}}."""
    p = Packer(names=names)
    p.uint(_FORMAT)
    p.name(record["by"] or "")
    p.uint(len(record["p"]))
    for partner, seen in record["p"].items():
        p.name(partner)
        p.time(seen["v"])
        p.uint(len(seen["k"]))
        for key in seen["k"]:
            kind, _, value = key.partition("|")
            p.name(kind)  # a handful of kinds: one byte instead of ~10
            p.text(value)
    return p.done()


def decode_sid(data: bytes, *, names: Names) -> dict[str, Any]:
    """Inverse of encode_sid."""
    u = Unpacker(data, names=names)
    if u.uint() != _FORMAT:
        raise CorruptRow("extract row has an unknown format")
    creator = u.name() or None
    partners: dict[str, Any] = {}
    for _ in range(u.uint()):
        partner = u.name()
        version = u.time()
        keys = [f"{u.name()}|{u.text()}" for _ in range(u.uint())]
        partners[partner] = {"v": version, "k": keys}
    if not u.at_end():
        raise CorruptRow("extract row has trailing bytes")
    return {"by": creator, "p": partners}
