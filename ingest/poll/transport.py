"""taxii2-client on the guarded session: TaxiiConnection.

taxii2-client sends every request through `_HTTPConnection.session`; we give it an
igsc.outbound.session.GuardedSession so that every request, whoever builds its URL, passes
the partner's TargetPolicy, has timeouts, follows redirects only hop by hop after a check,
and records its response headers (taxii2-client returns only the parsed body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taxii2client.common import _HTTPConnection

from igsc.outbound.session import GuardedSession
from ingest.poll.retry import MalformedResponse


class TaxiiConnection(_HTTPConnection):  # type: ignore[misc]
    """taxii2-client's connection object, running on a GuardedSession."""

    def __init__(self, *, session: GuardedSession) -> None:
        super().__init__(version="2.1")
        self.session.close()  # the plain Session taxii2-client made: replaced by ours
        self.session: GuardedSession = session

    def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """taxii2-client's GET (Accept, status and Content-Type checks, JSON parse)."""
        try:
            return super().get(url, headers=headers, params=params)
        except KeyError as exc:  # taxii2-client indexes Content-Type without checking for it
            raise MalformedResponse(f"response from {url} lacks header {exc}") from exc

    @property
    def last_headers(self) -> Mapping[str, str]:
        """Headers of the last response received (e.g. X-TAXII-Date-Added-Last)."""
        return self.session.last_headers
