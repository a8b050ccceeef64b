"""A guarded requests Session: policy-checked hops, pinned sockets, bounded bodies.

Every request, whoever builds its URL, passes a TargetPolicy before anything is sent; the
socket connects to exactly the address the policy checked (no DNS rebinding); redirects
are followed only hop by hop after a check (or not at all with allow_redirects=False);
bodies are read up to a size and time limit; credentials go only where the policy says;
proxies and .netrc from the environment are ignored because they would bypass the guard.
"""

from __future__ import annotations

import base64
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from igsc.outbound.guard import Origin, TargetPolicy
from igsc.partners import OutboundAuth


class Limits(Protocol):
    """Timeouts and caps of a GuardedSession (PollSettings has them; so does SessionLimits)."""

    @property
    def connect_timeout_s(self) -> float: ...
    @property
    def read_timeout_s(self) -> float: ...
    @property
    def request_deadline_s(self) -> float: ...  # the whole request, body included
    @property
    def max_response_bytes(self) -> int: ...
    @property
    def max_redirects(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLimits:
    """Limits for callers without PollSettings (e.g. webhook delivery)."""

    connect_timeout_s: float
    read_timeout_s: float
    request_deadline_s: float
    max_response_bytes: int
    max_redirects: int = 0


class ResponseTooLarge(requests.exceptions.RequestException):
    """A response body above the session's max_response_bytes; `.response` has its status."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Resolved outbound credentials: an Authorization value and/or a client certificate."""

    authorization: str | None = None
    cert: str | tuple[str, str] | None = None

    @classmethod
    def of(cls, auth: OutboundAuth) -> Credentials:
        """Reveal the peer's secrets once per run (never logged)."""
        if auth.kind == "basic" and auth.username and auth.password:
            pair = f"{auth.username}:{auth.password.reveal()}".encode()
            return cls(authorization="Basic " + base64.b64encode(pair).decode("ascii"))
        if auth.kind == "bearer" and auth.token:
            return cls(authorization=f"Bearer {auth.token.reveal()}")
        if auth.kind == "cert" and auth.cert_file:
            key = str(auth.key_file) if auth.key_file else None
            return cls(cert=(str(auth.cert_file), key) if key else str(auth.cert_file))
        return cls()

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"


def _pinned_socket(conn: HTTPConnection, policy: TargetPolicy) -> socket.socket:
    """Resolve, refuse forbidden addresses, then connect to exactly the address checked."""
    try:
        infos = socket.getaddrinfo(conn._dns_host, conn.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    policy.check_addresses(host=conn.host, addresses=addresses)
    last_error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from exc
        except OSError as exc:
            last_error = exc
    raise NewConnectionError(conn, f"failed to establish a new connection: {last_error}")


def _pool_classes(policy: TargetPolicy) -> dict[str, type[HTTPConnectionPool]]:
    class _Http(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_socket(self, policy)

    class _Https(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _pinned_socket(self, policy)

    class _HttpPool(HTTPConnectionPool):
        ConnectionCls = _Http

    class _HttpsPool(HTTPSConnectionPool):
        ConnectionCls = _Https

    return {"http": _HttpPool, "https": _HttpsPool}


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections check the peer address before connecting."""

    def __init__(self, *, policy: TargetPolicy) -> None:
        self._policy = policy  # set first: HTTPAdapter.__init__ builds the pool manager
        super().__init__(pool_connections=4, pool_maxsize=4, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Build the pool manager with pinned, policy-checked connection classes."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._policy)


class GuardedSession(requests.Session):
    """A requests Session that enforces one peer's policy on every hop."""

    def __init__(self, *, policy: TargetPolicy, credentials: Credentials, settings: Limits) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or .netrc from the environment: they bypass the guard
        self._policy = policy
        self._credentials = credentials
        self._settings = settings
        self.last_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        adapter = GuardedAdapter(policy=policy)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send with timeouts; follow redirects (if allowed) only after checking each target."""
        started = time.monotonic()
        timeout = kwargs.get("timeout") or (
            self._settings.connect_timeout_s,
            self._settings.read_timeout_s,
        )
        verify = kwargs.get("verify", True)
        follow = kwargs.get("allow_redirects", True)
        hops = 0
        while True:
            url = str(request.url)
            self._policy.check_url(url)  # before anything at all is sent there
            cert = self._apply_credentials(request)
            # The adapter, not Session.send: Session.send would read redirect bodies unbounded.
            response = self.get_adapter(url=url).send(
                request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies={}
            )
            if not (follow and response.is_redirect):
                break
            response.close()
            if hops >= self._settings.max_redirects:
                raise requests.exceptions.TooManyRedirects(f"more than {hops} redirects from {url}")
            request = _redirected(request, urljoin(url, response.headers["location"]))
            hops += 1
        self._read_body(response, started=started)
        self.last_headers = CaseInsensitiveDict(response.headers)
        return response

    def _apply_credentials(self, request: requests.PreparedRequest) -> str | tuple[str, str] | None:
        request.headers.pop("Authorization", None)
        if not self._policy.may_send_credentials(str(request.url)):
            request.headers.pop("Cookie", None)  # a session cookie is a credential too
            return None
        if self._credentials.authorization:
            request.headers["Authorization"] = self._credentials.authorization
        return self._credentials.cert

    def _read_body(self, response: requests.Response, *, started: float) -> None:
        limit = self._settings.max_response_bytes
        deadline = started + self._settings.request_deadline_s
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(
                        f"response from {response.url} exceeds {limit} bytes", response=response
                    )
                if time.monotonic() > deadline:
                    raise requests.exceptions.ReadTimeout(
                        f"response from {response.url} took over "
                        f"{self._settings.request_deadline_s} s"
                    )
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)


def _redirected(request: requests.PreparedRequest, target: str) -> requests.PreparedRequest:
    """The next hop: a GET of the target, without cookies from another origin."""
    hop = request.copy()
    if Origin.of(target) != Origin.of(str(request.url)):
        hop.headers.pop("Cookie", None)
    hop.prepare_url(target, None)
    hop.method = "GET"
    hop.body = None
    for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
        hop.headers.pop(name, None)
    return hop
