"""Partner authentication: HTTP Basic against scrypt hashes, API tokens against sha256 hashes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from igsc.errors import ConfigError
from igsc.partners import Partner
from ingest.server.errors import TaxiiError
from ingest.server.login_limit import LoginLimiter

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


def _basic_decoded(credentials: str) -> str | None:
    """The 'user:password' text of Basic credentials, or None if they are not base64 UTF-8."""
    try:
        return base64.b64decode(credentials, validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return None


def _basic_username(credentials: str) -> str | None:
    decoded = _basic_decoded(credentials)
    return decoded.partition(":")[0] if decoded is not None and ":" in decoded else None


class Authenticator:
    """Finds the partner behind an Authorization header, or raises a 401 TAXII error.

    Failed logins are limited per partner (Basic, by username) and per client address; once
    over the limit every login from there answers 429 with Retry-After, a right password
    too, so the limit cannot be probed for which guess was right. A missing Authorization
    header is no guess and does not count.
    """

    def __init__(
        self,
        *,
        partners: Sequence[Partner],
        max_failures: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_user: dict[str, Partner] = {}
        self._by_token: dict[str, Partner] = {}
        for partner in partners:
            if partner.inbound.username and partner.inbound.password_hash:
                _claim(self._by_user, partner.inbound.username, partner, "username")
            for token_hash in partner.inbound.token_hashes:
                _claim(self._by_token, token_hash.lower().removeprefix("sha256:"), partner, "token")
        self._by_id = {p.id: p for p in partners}
        self._limiter = LoginLimiter(max_failures=max_failures, window_s=window_s, clock=clock)
        # Verified Basic credentials are remembered by a keyed digest, never in clear, so
        # clients that send Basic on every request do not pay for scrypt every time.
        self._pepper = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None

    def authenticate(self, *, authorization: str | None, client: str | None = None) -> Partner:
        """The partner these credentials belong to; client is the caller's address."""
        if not authorization:
            raise _unauthorized("Authentication required: HTTP Basic or a Bearer token.")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        keys = [f"address:{client}"] if client else []
        if scheme == "basic":
            claimed = self._by_user.get(_basic_username(credentials) or "")
            if claimed is not None:
                keys.append(f"partner:{claimed.id}")
        wait = self._limiter.retry_after(keys=keys)
        if wait is not None:
            raise TaxiiError(
                429,
                "Too many failed logins; retry after the time in Retry-After.",
                headers={"Retry-After": str(wait)},
            )
        try:
            return self._verify(scheme, credentials)
        except TaxiiError:
            self._limiter.record_failure(keys=keys)
            raise

    def _verify(self, scheme: str, credentials: str) -> Partner:
        if scheme in ("bearer", "token"):
            return self._token(credentials)
        if scheme == "basic":
            return self._basic(credentials)
        raise _unauthorized("Unsupported authentication scheme; use Basic or Bearer.")

    def _token(self, token: str) -> Partner:
        partner = self._by_token.get(hash_token(token=token)) if token else None
        if partner is None:
            raise _unauthorized("The credentials are not valid.")
        return partner

    def _basic(self, credentials: str) -> Partner:
        decoded = _basic_decoded(credentials)
        username, sep, password = (decoded or "").partition(":")
        if decoded is None or not sep:
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
