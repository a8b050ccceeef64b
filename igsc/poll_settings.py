"""Typed, frozen settings for polling partners' TAXII 2.1 collections."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PollSettings(BaseModel):
    """Paging, timeouts, retries and concurrency of TAXII polling."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page_size: int = Field(default=500, ge=1, le=10_000)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    read_timeout_s: float = Field(default=30.0, gt=0, le=600)
    request_deadline_s: float = Field(
        default=120.0, gt=0, le=3600, description="whole request, body included"
    )
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff_base_s: float = Field(default=0.5, ge=0, le=60)
    backoff_cap_s: float = Field(default=30.0, ge=0, le=3600)
    retry_after_cap_s: float = Field(default=120.0, ge=0, le=3600)
    max_pages_per_run: int = Field(default=1000, ge=1, le=1_000_000)
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=3, ge=0, le=10)
    concurrency: int = Field(default=8, ge=1, le=256)
