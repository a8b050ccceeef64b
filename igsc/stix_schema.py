"""The declared schema of every STIX 2.1 field a stage reads: msgspec structs, checked once.

The entrance (`ingest/convert.py`) validates each object against these structs; downstream
stages decode the same structs and trust the values. Unknown (custom) properties are allowed
and ignored here, as STIX allows them; the object itself travels whole.

Strict, but not stricter than the standard: what the OASIS stix2-validator accepts passes,
except where a value would be unusable here, and then the reason says so (nesting deeper than
the stream can encode, integers beyond 64 bits, oversized objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from igsc.errors import RejectedInput
from igsc.stix_time import StixTimeError, instant_ns

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TYPE_NAME = r"[a-z][a-z0-9-]{1,249}"
_REF_TYPE = r"[a-z][a-z0-9-]*"  # a reference's type is not checked by the validator either
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,32})?Z$"

STIX_ID_PATTERN = rf"^{_REF_TYPE}--{_UUID}$"
Identifier = Annotated[str, msgspec.Meta(pattern=STIX_ID_PATTERN)]
Timestamp = Annotated[str, msgspec.Meta(pattern=_TIMESTAMP)]
Lang = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")]
Selector = Annotated[
    str, msgspec.Meta(pattern=r"^[a-z0-9_-]{1,250}(\.(\[\d{1,9}\]|[a-z0-9_-]{1,250}))*$")
]
ExtensionKey = Annotated[
    str, msgspec.Meta(pattern=rf"^(extension-definition--{_UUID}|[a-z0-9-]{{1,250}}-ext)$")
]
Confidence = Annotated[int, msgspec.Meta(ge=0, le=100)]
SightingCount = Annotated[int, msgspec.Meta(ge=0, le=999_999_999)]
# The fast pattern parser and stix2-patterns recurse per comparison: a bound keeps both usable.
Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=65_536)]

MAX_OBJECT_BYTES = 4 * 1024 * 1024

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


def _stamp(*, name: str, value: str | None) -> int | None:
    """Instant of a timestamp field already matched by its pattern; the calendar is checked
    here (the pattern accepts month 13)."""
    if value is None:
        return None
    try:
        return instant_ns(value)
    except StixTimeError as exc:
        raise ValueError(f"`{name}`: {exc}") from exc


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every typed value: immutable, built by keyword."""


class KillChainPhase(_Record, frozen=True, kw_only=True):
    kill_chain_name: str
    phase_name: str


class ExternalReference(_Record, frozen=True, kw_only=True):
    source_name: str
    external_id: str | None = None
    url: str | None = None
    description: str | None = None
    hashes: dict[str, str] = {}


class GranularMarking(_Record, frozen=True, kw_only=True):
    selectors: Annotated[tuple[Selector, ...], msgspec.Meta(min_length=1)]
    marking_ref: Identifier | None = None
    lang: Lang | None = None

    def __post_init__(self) -> None:
        if self.marking_ref is None and self.lang is None:
            raise ValueError("a granular marking needs a `marking_ref` or a `lang`")


class StixObject(_Record, frozen=True, kw_only=True):
    """What every STIX object carries; SCOs and meta objects need no more."""

    kind: ClassVar[str] = ""
    versioned: ClassVar[bool] = False

    type: Annotated[str, msgspec.Meta(pattern=rf"^{_TYPE_NAME}$")]
    id: Identifier
    spec_version: Literal["2.1"] | None = None
    # STIX says marking-definition ids; any other id is a marking nobody knows, so it counts
    # as RED (igsc.tlp) rather than refusing what the OASIS validator accepts.
    object_marking_refs: tuple[Identifier, ...] = ()
    granular_markings: tuple[GranularMarking, ...] = ()
    extensions: dict[ExtensionKey, dict[str, Any]] = {}
    lang: Lang | None = None

    def __post_init__(self) -> None:
        if self.id.partition("--")[0] != self.type:
            raise ValueError(f"`id` {self.id[:80]!r} is not an identifier of type {self.type!r}")

    @property
    def version(self) -> str | None:
        """The version timestamp; None for an object that is never versioned."""
        return None


class MarkingDefinition(StixObject, frozen=True, kw_only=True):
    kind: ClassVar[str] = "marking-definition"

    spec_version: Literal["2.1"]
    created: Timestamp
    created_by_ref: Identifier | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _stamp(name="created", value=self.created)

    @property
    def version(self) -> str | None:
        return self.created


class Sdo(StixObject, frozen=True, kw_only=True):
    """Common properties of the objects that are versioned: SDOs, SROs and custom objects."""

    versioned: ClassVar[bool] = True

    spec_version: Literal["2.1"]
    created: Timestamp
    modified: Timestamp
    created_by_ref: Identifier | None = None
    revoked: bool = False
    labels: tuple[str, ...] = ()
    confidence: Confidence | None = None
    external_references: tuple[ExternalReference, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        created = _stamp(name="created", value=self.created)
        modified = _stamp(name="modified", value=self.modified)
        if created is not None and modified is not None and modified < created:
            raise ValueError("`modified` is earlier than `created`")

    @property
    def version(self) -> str | None:
        return self.modified


class Indicator(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "indicator"

    pattern: Pattern
    pattern_type: str = "stix"
    pattern_version: str | None = None
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    name: str | None = None
    description: str | None = None
    indicator_types: tuple[str, ...] = ()
    kill_chain_phases: tuple[KillChainPhase, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        start = _stamp(name="valid_from", value=self.valid_from)
        end = _stamp(name="valid_until", value=self.valid_until)
        if start is not None and end is not None and end <= start:
            raise ValueError("`valid_until` is not later than `valid_from`")


class Sighting(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "sighting"

    sighting_of_ref: Identifier
    where_sighted_refs: tuple[Identifier, ...] = ()
    observed_data_refs: tuple[Identifier, ...] = ()
    count: SightingCount | None = None
    first_seen: Timestamp | None = None
    last_seen: Timestamp | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        first = _stamp(name="first_seen", value=self.first_seen)
        last = _stamp(name="last_seen", value=self.last_seen)
        if first is not None and last is not None and last < first:
            raise ValueError("`last_seen` is earlier than `first_seen`")


class Relationship(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "relationship"

    relationship_type: Annotated[str, msgspec.Meta(min_length=1)]
    source_ref: Identifier
    target_ref: Identifier
    start_time: Timestamp | None = None
    stop_time: Timestamp | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _stamp(name="start_time", value=self.start_time)
        _stamp(name="stop_time", value=self.stop_time)


class Identity(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "identity"

    name: str
    identity_class: str | None = None
    sectors: tuple[str, ...] = ()
    # igsc's convention, not STIX's: a custom property, so any JSON value is valid STIX and
    # only a string is used (country_code).
    x_country: Any = None

    @property
    def country_code(self) -> str | None:
        """The declared country of the identity, if it is given as text."""
        return self.x_country if isinstance(self.x_country, str) else None


class Location(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "location"

    country: str | None = None
    region: str | None = None
    name: str | None = None


class AttackPattern(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "attack-pattern"

    name: str
    kill_chain_phases: tuple[KillChainPhase, ...] = ()


class _Named(Sdo, frozen=True, kw_only=True):
    """Threat objects that cross-border rules group by: a name is required."""

    name: str
    description: str | None = None
    aliases: tuple[str, ...] = ()


class Campaign(_Named, frozen=True, kw_only=True):
    kind: ClassVar[str] = "campaign"


class IntrusionSet(_Named, frozen=True, kw_only=True):
    kind: ClassVar[str] = "intrusion-set"


class Malware(Sdo, frozen=True, kw_only=True):
    kind: ClassVar[str] = "malware"

    name: str | None = None  # optional for a malware instance (is_family false)
    is_family: bool = False
    malware_types: tuple[str, ...] = ()
    kill_chain_phases: tuple[KillChainPhase, ...] = ()


class Sco(StixObject, frozen=True, kw_only=True):
    kind: ClassVar[str] = "sco"


_SCHEMAS: dict[str, type[StixObject]] = {
    cls.kind: cls
    for cls in (
        MarkingDefinition,
        Indicator,
        Sighting,
        Relationship,
        Identity,
        Location,
        AttackPattern,
        Campaign,
        IntrusionSet,
        Malware,
    )
}


def schema_of(kind: str) -> type[StixObject]:
    """The struct that declares an object type's fields."""
    found = _SCHEMAS.get(kind)
    if found is not None:
        return found
    return Sco if kind in SCO_TYPES else Sdo


def _described(text: str) -> str:
    for pattern, description in _DESCRIPTIONS.items():
        text = text.replace(f"`str` matching regex {pattern!r}", description)
    return text


def _reason(exc: msgspec.ValidationError) -> str:
    text = _described(str(exc))
    # msgspec says "... - at `$.count`"; name the field the way a STIX reader writes it.
    message, _, where = text.rpartition(" - at `")
    if not message:
        return text
    field = where.rstrip("`").removeprefix("$").lstrip(".") or "object"
    if "Expected `int" in message and message.endswith("got `float`"):
        # JSON parsers hand integers beyond 64 bits over as floats: say why.
        message += " (or an integer beyond 64 bits)"
    return f"{field}: {message}"


def parse_object(obj: Any) -> StixObject:
    """The typed view of one STIX object; RejectedInput naming the field if it is invalid."""
    if not isinstance(obj, Mapping):
        raise RejectedInput("STIX object must be a JSON object", detail=type(obj).__name__)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise RejectedInput("type: missing or not a string", detail=repr(kind)[:80])
    try:
        typed = msgspec.convert(obj, type=schema_of(kind))
    except msgspec.ValidationError as exc:
        raise RejectedInput(_reason(exc)) from exc
    _check_selectors(obj, typed.granular_markings)
    return typed


def decode_object(raw: bytes) -> StixObject:
    """The typed view of an object as JSON bytes (a stage reading what the entrance took)."""
    try:
        head = _HEAD.decode(raw)
        return msgspec.json.decode(raw, type=schema_of(head.type))
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        reason = _reason(exc) if isinstance(exc, msgspec.ValidationError) else str(exc)
        raise RejectedInput(reason) from exc


def _pattern(kind: Any) -> str:
    meta: msgspec.Meta = kind.__metadata__[0]
    return str(meta.pattern)


_DESCRIPTIONS = {
    _pattern(Identifier): "a STIX identifier (type--UUID)",
    _pattern(Timestamp): "a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.fraction]Z)",
    _pattern(Lang): "an RFC 5646 language code",
    _pattern(Selector): "a selector such as `description` or `external_references.[0].url`",
    _pattern(ExtensionKey): "an extension-definition identifier or a name ending in -ext",
}


class _Head(msgspec.Struct):
    type: str


_HEAD = msgspec.json.Decoder(_Head)


def _check_selectors(obj: Mapping[str, Any], markings: tuple[GranularMarking, ...]) -> None:
    """Every selector must select a property of the object (STIX 2.1 section 7.2.3.1)."""
    for i, marking in enumerate(markings):
        for j, selector in enumerate(marking.selectors):
            if not _selects(obj, selector):
                raise RejectedInput(
                    f"granular_markings[{i}].selectors[{j}]: {selector[:80]!r} "
                    "selects no property of this object"
                )


def _selects(obj: Mapping[str, Any], selector: str) -> bool:
    node: Any = obj
    for part in selector.split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False
            node = node[index]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return False
    return True
