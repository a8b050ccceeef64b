"""TAXII 2.1 query parameters: match[...] filters, added_after, limit and next."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from igsc.stix_time import format_us, parse_us, version_key
from ingest.server.errors import TaxiiError

OBJECTS_FILTERS = frozenset({"id", "type", "version", "spec_version"})
OBJECT_FILTERS = frozenset({"version", "spec_version"})
VERSIONS_FILTERS = frozenset({"spec_version"})
_KEYWORDS = ("all", "first", "last")


@dataclass(frozen=True, slots=True)
class VersionFilter:
    """match[version]: keywords first/last/all and exact versions (as version keys)."""

    all: bool = False
    first: bool = False
    last: bool = False
    exact: frozenset[str] = frozenset()

    @property
    def only_exact(self) -> bool:
        """True when only exact versions were asked for (the index can filter on them)."""
        return not (self.all or self.first or self.last)

    def describe(self) -> list[str]:
        """A canonical form, for hashing."""
        flags = [k for k in _KEYWORDS if getattr(self, k)]
        return flags + sorted(self.exact)


@dataclass(frozen=True, slots=True)
class Filters:
    """Everything a read request filters and pages on."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    versions: VersionFilter = field(default_factory=lambda: VersionFilter(all=True))
    added_after: str | None = None  # as given, at microsecond width
    limit: int = 100
    next: str | None = None

    @property
    def added_after_low(self) -> str | None:
        """The smallest date_added that is strictly after added_after."""
        return format_us(parse_us(self.added_after) + 1) if self.added_after else None

    def query_hash(self, *, scope: Sequence[str]) -> str:
        """A digest of the filters (not limit or next) and the endpoint they were sent to."""
        canonical = {
            "scope": list(scope),
            "ids": sorted(self.ids),
            "types": sorted(self.types),
            "spec_versions": sorted(self.spec_versions),
            "versions": self.versions.describe(),
            "added_after": self.added_after,
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _values(params: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in params.get(name, ()):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return tuple(dict.fromkeys(out))


def _versions(values: tuple[str, ...], default: str) -> VersionFilter:
    chosen = values or (default,)
    exact: set[str] = set()
    for value in chosen:
        if value in _KEYWORDS:
            continue
        try:
            exact.add(version_key(value))
        except ValueError as exc:
            raise TaxiiError(
                400, f"match[version] takes first, last, all or timestamps: {exc}"
            ) from exc
    return VersionFilter(
        all="all" in chosen, first="first" in chosen, last="last" in chosen, exact=frozenset(exact)
    )


def _added_after(values: tuple[str, ...]) -> str | None:
    if not values:
        return None
    if len(values) > 1:
        raise TaxiiError(400, "added_after takes a single timestamp.")
    try:
        return format_us(parse_us(values[0]))
    except ValueError as exc:
        raise TaxiiError(400, f"added_after: {exc}") from exc


def _limit(values: tuple[str, ...], *, default: int, maximum: int) -> int:
    if not values:
        return default
    if len(values) > 1 or not values[0].isdigit() or int(values[0]) < 1:
        raise TaxiiError(400, "limit must be one positive integer.")
    return min(int(values[0]), maximum)


def parse_filters(
    *,
    params: Mapping[str, Sequence[str]],
    allowed: frozenset[str],
    default_version: str,
    page_default: int,
    page_max: int,
) -> Filters:
    """Filters from query parameters; match[...] filters an endpoint lacks are ignored."""

    def match(name: str) -> tuple[str, ...]:
        return _values(params, f"match[{name}]") if name in allowed else ()

    next_values = _values(params, "next")
    if len(next_values) > 1:
        raise TaxiiError(400, "next takes a single value.")
    return Filters(
        ids=match("id"),
        types=match("type"),
        spec_versions=match("spec_version"),
        versions=_versions(match("version"), default_version),
        added_after=_added_after(_values(params, "added_after")),
        limit=_limit(_values(params, "limit"), default=page_default, maximum=page_max),
        next=next_values[0] if next_values else None,
    )
