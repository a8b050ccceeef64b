"""Partner authentication: HTTP Basic against scrypt hashes, API tokens against sha256 hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence

from igsc.errors import ConfigError
from igsc.partners import Partner
from ingest.server.errors import TaxiiError

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _KEY_LEN = 2**14, 8, 1, 32
_CACHE_SIZE = 1024
CHALLENGE = {"WWW-Authenticate": 'Basic realm="igsc", charset="UTF-8"'}


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_LEN, maxmem=64 * 1024 * 1024
    )


def hash_secret(*, secret: str) -> str:
    """A salted scrypt hash of a password, as `scrypt$n$r$p$salt$hash` (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    encode = base64.b64encode
    return (
        f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}$"
        f"{encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_secret(*, secret: str, hashed: str) -> bool:
    """True if secret matches a hash made by hash_secret; compared in constant time."""
    parts = hashed.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        if n > 2**20 or r > 32 or p > 16:  # refuse hashes that would exhaust the server
            return False
        actual = _scrypt(secret, salt, n, r, p)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def hash_token(*, token: str) -> str:
    """The sha256 hex digest stored in Partner.inbound.token_hashes for an API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _unauthorized(description: str) -> TaxiiError:
    return TaxiiError(401, description, headers=CHALLENGE)


def _claim(table: dict[str, Partner], key: str, partner: Partner, what: str) -> None:
    holder = table.setdefault(key, partner)
    if holder.id != partner.id:
        raise ConfigError(
            "partners.inbound", f"partners {holder.id} and {partner.id} share the same {what}"
        )


class Authenticator:
    """Finds the partner behind an Authorization header, or raises a 401 TAXII error."""

    def __init__(self, *, partners: Sequence[Partner]) -> None:
        self._by_user: dict[str, Partner] = {}
        self._by_token: dict[str, Partner] = {}
        for partner in partners:
            if partner.inbound.username and partner.inbound.password_hash:
                _claim(self._by_user, partner.inbound.username, partner, "username")
            for token_hash in partner.inbound.token_hashes:
                _claim(self._by_token, token_hash.lower().removeprefix("sha256:"), partner, "token")
        self._by_id = {p.id: p for p in partners}
        # Verified Basic credentials are remembered by a keyed digest, never in clear, so
        # clients that send Basic on every request do not pay for scrypt every time.
        self._pepper = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None

    def authenticate(self, *, authorization: str | None) -> Partner:
        """The partner these credentials belong to."""
        if not authorization:
            raise _unauthorized("Authentication required: HTTP Basic or a Bearer token.")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme in ("bearer", "token"):
            return self._token(credentials.strip())
        if scheme == "basic":
            return self._basic(credentials.strip())
        raise _unauthorized("Unsupported authentication scheme; use Basic or Bearer.")

    def _token(self, token: str) -> Partner:
        partner = self._by_token.get(hash_token(token=token)) if token else None
        if partner is None:
            raise _unauthorized("The credentials are not valid.")
        return partner

    def _basic(self, credentials: str) -> Partner:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (ValueError, binascii.Error):
            raise _unauthorized("Malformed Basic credentials.") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise _unauthorized("Malformed Basic credentials.")
        cache_key = hmac.digest(self._pepper, decoded.encode("utf-8"), "sha256")
        with self._lock:
            known = self._cache.get(cache_key)
            if known is not None:
                self._cache.move_to_end(cache_key)
                return self._by_id[known]
        partner = self._check_password(username, password)
        with self._lock:
            self._cache[cache_key] = partner.id
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return partner

    def _check_password(self, username: str, password: str) -> Partner:
        partner = self._by_user.get(username)
        if partner is None or partner.inbound.password_hash is None:
            # Same work as a real check, so response time does not reveal valid usernames.
            if self._dummy_hash is None:
                self._dummy_hash = hash_secret(secret=secrets.token_urlsafe(16))
            verify_secret(secret=password, hashed=self._dummy_hash)
            raise _unauthorized("The credentials are not valid.")
        if not verify_secret(secret=password, hashed=partner.inbound.password_hash):
            raise _unauthorized("The credentials are not valid.")
        return partner
