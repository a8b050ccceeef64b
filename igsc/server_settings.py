"""Typed, frozen settings of igsc's own TAXII 2.1 server (API roots, collections, paging)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STIX21_MEDIA_TYPE = "application/stix+json;version=2.1"
SHARED_FEED_ID = "416565e6-a9dd-5ae6-ba13-92dad3e712c2"  # uuid5(URL, "igsc:taxii:shared-feed")
MiB = 1024 * 1024


class CollectionSettings(BaseModel):
    """One TAXII collection inside an API root."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="a UUID, as TAXII 2.1 requires")
    title: str = Field(min_length=1)
    description: str = ""
    alias: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    media_types: tuple[str, ...] = (STIX21_MEDIA_TYPE,)

    @field_validator("id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            parsed = uuid.UUID(value)
        except ValueError as exc:
            raise ValueError(f"collection id must be a UUID, got {value!r}") from exc
        return str(parsed)


class ApiRootSettings(BaseModel):
    """One TAXII API root: a URL path segment with its own collections and size limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="URL slug")
    title: str = Field(min_length=1)
    description: str = ""
    max_content_length: int = Field(default=10 * MiB, ge=1024, le=1024 * MiB)
    collections: tuple[CollectionSettings, ...] = ()

    @field_validator("id")
    @classmethod
    def _not_discovery(cls, value: str) -> str:
        # The discovery endpoint lives at /taxii2/; an API root there would shadow it.
        if value == "taxii2":
            raise ValueError("the API root id 'taxii2' is reserved for discovery")
        return value

    @field_validator("collections")
    @classmethod
    def _unique_collections(
        cls, value: tuple[CollectionSettings, ...]
    ) -> tuple[CollectionSettings, ...]:
        ids = [c.id for c in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"collection ids must be unique, repeated: {', '.join(repeated)}")
        return value


DEFAULT_API_ROOTS = (
    ApiRootSettings(
        id="shared",
        title="Shared CTI",
        description="Threat intelligence shared between the partner CERTs",
        collections=(
            CollectionSettings(
                id=SHARED_FEED_ID,
                title="shared-feed",
                alias="shared-feed",
                description="STIX 2.1 objects published by partners, filtered by TLP per reader",
            ),
        ),
    ),
)


class TaxiiServerSettings(BaseModel):
    """Where the TAXII server listens and what it serves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    title: str = Field(default="igsc TAXII 2.1 server", min_length=1)
    description: str = "Cross-border CTI sharing between national CERTs"
    contact: str | None = None
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$",
        description="base URL partners use (behind the TLS proxy); empty: the request's own",
    )
    api_roots: tuple[ApiRootSettings, ...] = DEFAULT_API_ROOTS
    strict_bundles: bool = Field(
        default=False, description="one invalid object in an envelope and nothing lands"
    )
    status_retention_s: int = Field(default=7 * 86400, ge=86400)
    page_size_default: int = Field(default=100, ge=1)
    page_size_max: int = Field(default=1000, ge=1, le=10_000)
    login_max_failures: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="failed logins per partner and per client address within "
        "login_failure_window_s before logins answer 429 (counted per uvicorn worker)",
    )
    login_failure_window_s: float = Field(default=60.0, gt=0, le=86_400)

    @field_validator("api_roots")
    @classmethod
    def _unique_roots(cls, value: tuple[ApiRootSettings, ...]) -> tuple[ApiRootSettings, ...]:
        ids = [r.id for r in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"API root ids must be unique, repeated: {', '.join(repeated)}")
        collections = [c.id for r in value for c in r.collections]
        shared = sorted({c for c in collections if collections.count(c) > 1})
        if shared:
            # Partner can_read/can_write name collections by id alone, so ids are global.
            raise ValueError(f"a collection id may appear in one API root only: {shared}")
        return value

    @model_validator(mode="after")
    def _page_sizes(self) -> TaxiiServerSettings:
        if self.page_size_default > self.page_size_max:
            raise ValueError("page_size_default must not exceed page_size_max")
        return self
