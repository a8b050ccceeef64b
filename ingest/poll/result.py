"""What to poll (PollTarget) and what one poll run did (PollResult)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PollTarget:
    """One partner collection, reached from a discovery or API-root URL."""

    partner: str
    start_url: str
    collection: str


@dataclass(frozen=True, slots=True)
class PollResult:
    """One run over one partner collection, for logs and `igsc run --once`."""

    partner: str
    collection: str
    api_root: str | None
    pages: int
    published: int
    rejected: int
    old_checkpoint: str | None
    new_checkpoint: str | None
    duration_s: float
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run ended without an error."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-able) of the result."""
        return asdict(self)

    def summary(self) -> str:
        """One log line."""
        head = f"poll {self.partner}/{self.collection}: "
        if self.error:
            return head + f"FAILED after {self.duration_s:.2f} s: {self.error}"
        text = (
            f"{self.published} published, {self.rejected} rejected in {self.pages} page(s), "
            f"{self.duration_s:.2f} s, checkpoint {self.old_checkpoint} -> {self.new_checkpoint}"
        )
        return head + text + (f" ({self.note})" if self.note else "")
