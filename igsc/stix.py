"""Fast structural checks of STIX 2.1 objects, without the slow stix2 parse."""

from __future__ import annotations

import re
from typing import Any

from igsc.errors import RejectedInput

_ID = re.compile(
    r"^([a-z][a-z0-9-]{0,250})--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_TYPE = re.compile(r"^[a-z][a-z0-9-]{1,249}$")

SCO_TYPES = frozenset(
    [
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    ]
)
NON_VERSIONED = SCO_TYPES | {"marking-definition", "extension-definition", "language-content"}


def check_object(obj: Any) -> dict[str, Any]:
    """Return obj if it looks like a STIX 2.1 object, else raise RejectedInput naming the fault."""
    if not isinstance(obj, dict):
        raise RejectedInput("STIX object must be a JSON object", detail=type(obj).__name__)
    kind = obj.get("type")
    if not isinstance(kind, str) or not _TYPE.match(kind):
        raise RejectedInput("STIX object has no valid 'type'", detail=repr(kind)[:80])
    ident = obj.get("id")
    match = _ID.match(ident) if isinstance(ident, str) else None
    if match is None or match.group(1) != kind:
        raise RejectedInput("STIX object has no valid 'id' of its type", detail=repr(ident)[:120])
    if kind not in SCO_TYPES and obj.get("spec_version") != "2.1":
        raise RejectedInput(
            "STIX object is not spec_version 2.1", detail=repr(obj.get("spec_version"))
        )
    if kind not in NON_VERSIONED or kind == "marking-definition":
        for name in ("created", "modified") if kind != "marking-definition" else ("created",):
            value = obj.get(name)
            if not isinstance(value, str) or not _TIMESTAMP.match(value):
                raise RejectedInput(
                    f"STIX object has no valid '{name}' timestamp", detail=repr(value)
                )
    return obj


def object_version(obj: dict[str, Any]) -> str:
    """The version of an object: its modified time, or created, or a fixed one for SCOs."""
    return str(obj.get("modified") or obj.get("created") or "1970-01-01T00:00:00.000Z")
