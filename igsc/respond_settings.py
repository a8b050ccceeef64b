"""Settings of the respond half: rules, playbooks, on-call teams, delivery and escalation.

Part of the shared settings model (igsc.settings embeds them as `rules:`, `playbooks:`,
`teams:` and `respond:`), so they live in the core; the respond package reads them from here.
Cross-references (a rule's playbook, a team's partner) are checked by igsc.settings, which
sees the whole configuration; everything one entry can check about itself is checked here.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from igsc.partners import Secret
from igsc.server_settings import ApiRootSettings, CollectionSettings
from igsc.tlp import TLP_NAMES

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def parse_duration(value: object) -> int:
    """Seconds of a duration written `90s`, `30m`, `24h`, `7d` or `2w` (or a number of s)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 24h or 7d")
    if isinstance(value, int | float):
        seconds = int(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 30m, 24h or 7d, got {value!r}")
        seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]  # seconds


class Distinct(StrEnum):
    """What a rule counts distinct values of."""

    COUNTRY = "country"
    PARTNER = "partner"


class Severity(StrEnum):
    """Incident severity, as on-call tools grade it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EvidenceKind(StrEnum):
    """Which evidence a rule counts: partners' reports (indicators), sightings, or both."""

    REPORT = "report"
    SIGHTING = "sighting"


class SubjectKind(StrEnum):
    """What a rule correlates on: one canonical observable, or a shared threat reference."""

    OBSERVABLE = "observable"
    THREAT = "threat"  # a campaign, intrusion-set or malware the indicators point to


def _tlp_name(value: str) -> str:
    if value not in TLP_NAMES:
        raise ValueError(f"expected one of {', '.join(TLP_NAMES)}, got {value!r}")
    return value


class RuleWhere(BaseModel):
    """Which records and evidence a rule looks at; empty lists mean no restriction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_score: float = Field(default=0, ge=0, le=100)
    kinds: tuple[str, ...] = ()  # observable kinds, e.g. domain-name, ipv4-addr
    tactics: tuple[str, ...] = ()  # ATT&CK tactics (any of them)
    techniques: tuple[str, ...] = ()  # ATT&CK technique ids (any of them; T1486 matches .001)
    max_tlp: str = "red"  # evidence above this level is not counted
    evidence: tuple[EvidenceKind, ...] = (EvidenceKind.REPORT, EvidenceKind.SIGHTING)
    # Sightings count only if sighted at an identity in one of these sectors; the word
    # `critical` stands for every sector in respond.critical_sectors.
    sighted_sectors: tuple[str, ...] = ()

    _max_tlp = field_validator("max_tlp")(classmethod(lambda cls, v: _tlp_name(v)))

    @field_validator("evidence")
    @classmethod
    def _some_evidence(cls, value: tuple[EvidenceKind, ...]) -> tuple[EvidenceKind, ...]:
        if not value:
            raise ValueError("a rule must count reports, sightings or both")
        return value


class Rule(BaseModel):
    """At least N distinct countries (or partners) within a sliding window, per subject.

    The shape follows Sigma's `value_count` correlation: group by the subject, count distinct
    values of `distinct`, fire when the count reaches `at_least` within `within`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    distinct: Distinct = Distinct.COUNTRY
    at_least: int = Field(ge=2, le=1000)
    within: Duration
    subject: SubjectKind = SubjectKind.OBSERVABLE
    where: RuleWhere = RuleWhere()
    severity: Severity = Severity.MEDIUM
    playbook: str = Field(pattern=ID_PATTERN)
    # Values on these MISP warninglists (pymispwarninglists names) or on
    # respond.allowlist never open an incident.
    exclude_warninglists: bool = True


class PlaybookStep(BaseModel):
    """One step of a playbook: who acts, by when, and what the ticket says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    owner: Literal["national-csirt-oncall", "coordinating-hub", "sector-regulator"] = (
        "national-csirt-oncall"
    )
    due_in: Duration
    text: str = ""  # a Jinja2 template (sandboxed), rendered into the ticket


class Playbook(BaseModel):
    """Ordered steps, rendered into every ticket of an incident the rule opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    subject: str = (
        "[{{ incident.severity | upper }}] {{ rule.title or rule.id }}: "
        "{{ incident.subject_label }}"
    )
    summary: str = ""  # a Jinja2 template, rendered above the steps
    steps: tuple[PlaybookStep, ...] = Field(min_length=1)


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    if parts.username or parts.password:
        raise ValueError("credentials inside a URL are not accepted")
    return value


class WebhookChannel(BaseModel):
    """A Standard Webhooks endpoint: bodies signed with the team's whsec_ secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secret: Secret  # "whsec_" + base64 of 24-64 random bytes
    allow_private_network: bool = False  # loopback/private targets (a receiver on-site)

    _url = field_validator("url")(classmethod(lambda cls, v: _check_http_url(v)))

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: Secret) -> Secret:
        if value.value is not None:  # env/file secrets are checked when first used
            webhook_key(value.value.get_secret_value())
        return value


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError naming the problem (never the secret)."""
    if not secret.startswith("whsec_"):
        raise ValueError("a webhook secret starts with 'whsec_' (Standard Webhooks)")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class EmailChannel(BaseModel):
    """E-mail to the team's on-call addresses, through respond.smtp."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: tuple[str, ...] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value


class Channels(BaseModel):
    """Where a team's tickets go; the ticket store always holds them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: WebhookChannel | None = None
    email: EmailChannel | None = None


class Team(BaseModel):
    """A country's on-call team: what it may read and where its tickets go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    country: str = Field(pattern=r"^[A-Z]{2}$")
    partner: str = Field(pattern=ID_PATTERN)  # whose data is the team's own (its RED too)
    sectors: tuple[str, ...] = ()
    clearance: str = "amber"  # the highest TLP of others' evidence it may read
    channels: Channels = Channels()
    escalation: Channels = Channels()  # where an SLA breach goes

    _clearance = field_validator("clearance")(classmethod(lambda cls, v: _tlp_name(v)))


class Smtp(BaseModel):
    """The mail relay e-mail tickets go through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "igsc <igsc@localhost>"
    starttls: bool = False
    username: str | None = None
    password: Secret | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class Delivery(BaseModel):
    """Retries of every delivery channel: exponential backoff, then a dead letter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base_s: float = Field(default=2.0, gt=0, le=600)
    backoff_cap_s: float = Field(default=600.0, gt=0, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)  # one webhook request
    # Celery on Redis hands an unacknowledged task to another worker after this long: a
    # killed worker's task runs again after it (keep it above the longest delivery).
    visibility_timeout_s: int = Field(default=300, ge=5, le=86_400)
    escalation_check_s: float = Field(default=60.0, ge=1, le=3600)  # Celery beat period


class IncidentsCollection(BaseModel):
    """The collection of igsc's own TAXII server that incidents are published to, as STIX 2.1
    `incident` objects with their evidence (respond/stix_incidents.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_root: str = Field(min_length=1)  # an id of taxii.api_roots
    collection: str = Field(min_length=1)  # the collection's id or alias in that API root

    def resolve(
        self, api_roots: tuple[ApiRootSettings, ...]
    ) -> tuple[ApiRootSettings, CollectionSettings]:
        """The configured API root and collection; ValueError naming the key if either is
        not configured."""
        roots = {root.id: root for root in api_roots}
        root = roots.get(self.api_root)
        if root is None:
            known = ", ".join(sorted(roots)) or "none is configured"
            raise ValueError(
                f"respond.incidents_collection.api_root: no API root {self.api_root!r} in "
                f"taxii.api_roots ({known})"
            )
        wanted = self.collection.lower()
        for collection in root.collections:
            if wanted in (collection.id, collection.alias):
                return root, collection
        known = ", ".join(c.alias or c.id for c in root.collections) or "it has none"
        raise ValueError(
            f"respond.incidents_collection.collection: API root {root.id!r} has no collection "
            f"{self.collection!r} ({known})"
        )


class RespondSettings(BaseModel):
    """Everything the respond stage and its delivery tasks read besides rules and teams."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    smtp: Smtp = Smtp()
    delivery: Delivery = Delivery()
    # Values that never open an incident, written as canonical keys ("domain-name|example.org")
    # or bare values.
    allowlist: tuple[str, ...] = ()
    # MISP warninglists to consult (names as pymispwarninglists gives them); empty: all lists
    # of the kinds that fit (hostname, cidr, string).
    warninglists: tuple[str, ...] = ()
    critical_sectors: tuple[str, ...] = (
        "energy",
        "water",
        "healthcare",
        "transportation",
        "telecommunications",
        "financial-services",
        "government-national",
        "defense",
    )
    # Publish incidents (STIX 2.1 `incident` + evidence) to this TAXII collection; None: not
    # published. Checked against taxii.api_roots at start-up (igsc.settings).
    incidents_collection: IncidentsCollection | None = None

    @model_validator(mode="after")
    def _sane(self) -> RespondSettings:
        if self.delivery.backoff_cap_s < self.delivery.backoff_base_s:
            raise ValueError("delivery.backoff_cap_s must not be below backoff_base_s")
        return self
