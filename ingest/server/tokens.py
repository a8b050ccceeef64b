"""Opaque `next` tokens, HMAC-signed and bound to the partner and the query that made them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

from igsc.ports import State
from ingest.server.errors import TaxiiError

KEY_NAME = "taxii:page-token-key"
_MAC_LEN = 20


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where the next page starts, and the date_added last handed to this reader."""

    cursor: tuple[str, str]  # (date_added, doc_id) of the last document scanned
    last_returned: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _refused() -> TaxiiError:
    return TaxiiError(
        400, "The next value is not valid for this partner and these filters; start again."
    )


class PageTokens:
    """Issues and checks next tokens; the key is shared by every worker through State."""

    def __init__(self, *, state: State) -> None:
        self._state = state
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            # First worker to get here creates the key; everyone else reads the same one.
            self._state.compare_and_set(key=KEY_NAME, expected=None, new=secrets.token_bytes(32))
            self._key = self._state.get_many(keys=[KEY_NAME])[KEY_NAME]
        return self._key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret(), payload, hashlib.sha256)[:_MAC_LEN]

    def issue(self, *, partner: str, query_hash: str, position: PagePosition) -> str:
        """A token only this partner can use, only with the same filters."""
        body = {
            "p": partner,
            "q": query_hash,
            "c": list(position.cursor),
            "l": position.last_returned,
        }
        payload = orjson.dumps(body)
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def read(self, *, token: str, partner: str, query_hash: str) -> PagePosition:
        """The position a token encodes; 400 if forged, or from another partner or query."""
        encoded, _, mac = token.partition(".")
        try:
            payload, given = _unb64(encoded), _unb64(mac)
        except (ValueError, binascii.Error):
            raise _refused() from None
        if not hmac.compare_digest(self._mac(payload), given):
            raise _refused()
        body = orjson.loads(payload)
        if body.get("p") != partner or body.get("q") != query_hash:
            raise _refused()
        cursor = body.get("c")
        last = body.get("l")
        return PagePosition(cursor=(str(cursor[0]), str(cursor[1])), last_returned=last)
