"""The partner registry: who shares with us, from where, and how far we trust them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from igsc.errors import ConfigError
from igsc.tlp import TLP_NAMES


class Secret(BaseModel):
    """A secret given inline, or read from an environment variable or a file at use time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: SecretStr | None = None
    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        given = [x for x in (self.value, self.env, self.file) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value, env or file")
        return self

    def reveal(self) -> str:
        """The secret's text; never log it."""
        if self.value is not None:
            return self.value.get_secret_value()
        if self.env is not None:
            found = os.environ.get(self.env)
            if found is None:
                raise ConfigError("secret.env", f"environment variable {self.env} is not set")
            return found
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError("secret.file", f"cannot read {self.file}: {exc.strerror}") from exc


class OutboundAuth(BaseModel):
    """How igsc authenticates to a partner's TAXII server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["none", "basic", "bearer", "cert"] = "none"
    username: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> OutboundAuth:
        needed = {
            "basic": ("username", "password"),
            "bearer": ("token",),
            "cert": ("cert_file",),
            "none": (),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth kind {self.kind!r} needs {', '.join(missing)}")
        return self


class InboundAuth(BaseModel):
    """How a partner authenticates to igsc's own TAXII server: hashed passwords and tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = None
    password_hash: str | None = Field(
        default=None, description="scrypt hash made by `igsc hash-password`"
    )
    token_hashes: tuple[str, ...] = ()


class Partner(BaseModel):
    """One cooperating CERT."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    sharing_groups: tuple[str, ...] = ()
    taxii_url: str | None = Field(default=None, description="discovery or API-root URL")
    collections: tuple[str, ...] = ()
    auth: OutboundAuth = OutboundAuth()
    inbound: InboundAuth = InboundAuth()
    poll_interval_s: float = Field(default=300.0, ge=5.0)
    reliability: float = Field(default=0.5, ge=0.0, le=1.0)
    default_tlp: str = "amber"
    allow_private_network: bool = False
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="extra hosts ('host', 'host:port' or 'scheme://host[:port]') its TAXII "
        "server may send us to (API roots, next, redirects); they get no credentials",
    )
    credential_hosts: tuple[str, ...] = Field(
        default=(),
        description="extra hosts, in the allowed_hosts forms, that may also receive its "
        "credentials (Authorization, cookies, client certificate); credentials otherwise go "
        "only to the origin of taxii_url",
    )
    can_read: tuple[str, ...] = Field(default=(), description="our collection ids it may read")
    can_write: tuple[str, ...] = Field(default=(), description="our collection ids it may write")
    amber_to_sharing_groups: bool = Field(
        default=False,
        description="let partners in a common sharing group read this partner's TLP:AMBER "
        "(never AMBER+STRICT or RED)",
    )

    @model_validator(mode="after")
    def _known_tlp(self) -> Partner:
        if self.default_tlp not in TLP_NAMES:
            raise ValueError(f"default_tlp must be one of {', '.join(TLP_NAMES)}")
        return self
