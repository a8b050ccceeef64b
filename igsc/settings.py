"""Typed, frozen settings: a YAML file plus IGSC_* environment overrides, checked at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from igsc.enrich_settings import EnrichSettings
from igsc.errors import ConfigError
from igsc.partners import Partner
from igsc.poll_settings import PollSettings
from igsc.respond_settings import Playbook, RespondSettings, Rule, Team
from igsc.server_settings import TaxiiServerSettings

STREAM_SCHEMES = ("kafka", "sqlite")
INDEX_SCHEMES = ("http", "https", "sqlite")
STATE_SCHEMES = ("redis", "rediss", "sqlite")


def default_home() -> Path:
    """Where embedded state lives unless IGSC_HOME says otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "igsc"


def _check_url(value: str, *, schemes: tuple[str, ...], example: str) -> str:
    if value == "":
        return value
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ValueError(f"expected a URL starting with {allowed} (e.g. {example}), got {value!r}")
    return value


class StreamTuning(BaseModel):
    """How records are batched and partitioned on the stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partitions: int = Field(default=4, ge=1, le=256)
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    poll_timeout_s: float = Field(default=0.5, gt=0, le=60)
    # Kafka: a fetch waits for this many bytes (or fetch_max_wait_ms). Consumers at the head
    # of a busy topic otherwise fetch every few frames, and each tiny batch pays a commit, a
    # state round trip and a producer flush.
    fetch_min_bytes: int = Field(default=256 * 1024, ge=1, le=64 * 1024 * 1024)
    fetch_max_wait_ms: int = Field(default=100, ge=0, le=10_000)
    # A worker retrying the same batch this long (a service down) says so in its log.
    stall_warning_s: float = Field(default=60.0, gt=0, le=86_400)
    # Topics other tools read (Kafka's console consumer, Kafka Connect): one Kafka message
    # per record, keyed, never packed in igsc's frames. Names inside the namespace.
    plain_topics: tuple[str, ...] = ("incidents",)


class IndexTuning(BaseModel):
    """How the search index trades freshness for indexing cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Elasticsearch: how often new documents become searchable. Each refresh writes a small
    # segment that must later be merged: 500 ms measured ~25% more Elasticsearch CPU per
    # document than 1 s at full ingest, and halved the refresh share of arrival-to-searchable.
    refresh_ms: int = Field(default=500, ge=100, le=60_000)
    # While a writer has a backlog (full batches in a row, igsc.pacing), refresh this often
    # instead; null: never. Measured on 300k indicators from scratch: 5 s took 27% less
    # Elasticsearch CPU than 500 ms (23.0 against 31.3 core-s) and gave 10% more throughput.
    catch_up_refresh_ms: int | None = Field(default=5_000, ge=100, le=600_000)

    @model_validator(mode="after")
    def _catch_up_is_slower(self) -> IndexTuning:
        if self.catch_up_refresh_ms is not None and self.catch_up_refresh_ms < self.refresh_ms:
            raise ValueError(
                f"catch_up_refresh_ms ({self.catch_up_refresh_ms}) must not be below "
                f"refresh_ms ({self.refresh_ms}): catching up refreshes less often, not more"
            )
        return self


class Settings(BaseSettings):
    """Every setting igsc reads; constructed once at start-up and passed into constructors."""

    model_config = SettingsConfigDict(
        env_prefix="IGSC_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    home: Path = Field(default_factory=default_home)
    stream_url: str = ""
    index_url: str = ""
    state_url: str = ""
    celery_broker_url: str = ""
    namespace: str = Field(default="igsc", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    stream: StreamTuning = StreamTuning()
    index: IndexTuning = IndexTuning()
    enrich: EnrichSettings = EnrichSettings()
    partners: tuple[Partner, ...] = ()
    poll: PollSettings = PollSettings()
    taxii: TaxiiServerSettings = TaxiiServerSettings()
    rules: tuple[Rule, ...] = ()
    playbooks: tuple[Playbook, ...] = ()
    teams: tuple[Team, ...] = ()
    respond: RespondSettings = RespondSettings()
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("stream_url")
    @classmethod
    def _stream_url(cls, value: str) -> str:
        return _check_url(value, schemes=STREAM_SCHEMES, example="kafka://127.0.0.1:9092")

    @field_validator("index_url")
    @classmethod
    def _index_url(cls, value: str) -> str:
        return _check_url(value, schemes=INDEX_SCHEMES, example="http://127.0.0.1:9200")

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str) -> str:
        return _check_url(value, schemes=STATE_SCHEMES, example="redis://127.0.0.1:6379/0")

    @field_validator("celery_broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        return _check_url(value, schemes=("redis", "rediss"), example="redis://127.0.0.1:6379/1")

    @field_validator("partners")
    @classmethod
    def _unique_partners(cls, value: tuple[Partner, ...]) -> tuple[Partner, ...]:
        ids = [p.id for p in value]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"partner ids must be unique, repeated: {', '.join(duplicated)}")
        return value

    @model_validator(mode="after")
    def _respond_references(self) -> Settings:
        _unique("rule", [r.id for r in self.rules])
        _unique("playbook", [p.id for p in self.playbooks])
        _unique("team", [t.id for t in self.teams])
        playbooks = {p.id for p in self.playbooks}
        for rule in self.rules:
            if rule.playbook not in playbooks:
                known = ", ".join(sorted(playbooks)) or "none is configured"
                raise ValueError(
                    f"rule {rule.id!r}: playbook {rule.playbook!r} does not exist ({known})"
                )
        if self.respond.incidents_collection is not None:
            self.respond.incidents_collection.resolve(self.taxii.api_roots)
        partners = {p.id for p in self.partners}
        for team in self.teams:
            if team.partner not in partners:
                raise ValueError(f"team {team.id!r}: partner {team.partner!r} is not configured")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the YAML file, which arrives as init kwargs.
        return (env_settings, init_settings)

    @property
    def stream_target(self) -> str:
        """The stream URL, defaulting to the embedded SQLite log under home."""
        return self.stream_url or f"sqlite:///{self.home / 'stream.db'}"

    @property
    def index_target(self) -> str:
        """The index URL, defaulting to the embedded SQLite index under home."""
        return self.index_url or f"sqlite:///{self.home / 'index.db'}"

    @property
    def state_target(self) -> str:
        """The state URL, defaulting to the embedded SQLite state under home."""
        return self.state_url or f"sqlite:///{self.home / 'state.db'}"

    @property
    def embedded_celery(self) -> bool:
        """True when Celery tasks run in-process with no broker."""
        return self.celery_broker_url == ""

    def partner(self, partner_id: str) -> Partner:
        """The configured partner with this id."""
        for candidate in self.partners:
            if candidate.id == partner_id:
                return candidate
        raise ConfigError("partners", f"no partner with id {partner_id!r} is configured")


def _unique(what: str, ids: list[str]) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"{what} ids must be unique, repeated: {', '.join(repeated)}")


class InvalidSettings(ConfigError):
    """Every invalid key of one configuration, not only the first (`igsc config check`)."""

    def __init__(self, problems: tuple[tuple[str, str], ...]) -> None:
        key, problem = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(key, problem + more)
        self.problems = problems  # (dotted key, message) per invalid key


_NAMED_LISTS = ("rules", "playbooks", "teams", "partners")


def _where(loc: tuple[int | str, ...], values: dict[str, Any]) -> str:
    """A dotted key; an entry of a named list is named by its id (rules[cross-border].within),
    so the operator reads which rule is wrong, not which position it has."""
    parts = [str(part) for part in loc]
    if len(loc) >= 2 and loc[0] in _NAMED_LISTS and isinstance(loc[1], int):
        entries = values.get(str(loc[0]))
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            parts[:2] = [f"{loc[0]}[{entry['id']}]"]
    return ".".join(parts) or "(root)"


def _format_validation_error(error: ValidationError, values: dict[str, Any]) -> InvalidSettings:
    problems = tuple(
        (_where(tuple(item["loc"]), values), str(item["msg"]).removeprefix("Value error, "))
        for item in error.errors()
    )
    return InvalidSettings(problems)


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a YAML config file into a mapping, naming the file on failure."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("config", f"file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError("config", f"file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("config", f"file {path} must hold a mapping at the top level")
    return loaded


def load_settings(
    *, config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Build validated settings from an optional YAML file, IGSC_* variables and overrides."""
    values = read_config_file(config_file) if config_file else {}
    values.update(overrides or {})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _format_validation_error(exc, values) from exc


def settings_from_env() -> Settings:
    """Settings of a process started by another tool (a Celery worker or beat): the YAML
    file named by IGSC_CONFIG, if any, and IGSC_* variables."""
    path = os.environ.get("IGSC_CONFIG")
    return load_settings(config_file=Path(path) if path else None)
