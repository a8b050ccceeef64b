"""The HTTP layer under taxii2-client: guarded, time-boxed, size-capped, credentials per origin.

taxii2-client sends every request through `_HTTPConnection.session`; we give it a
GuardedSession so that every request, whoever builds its URL, passes the partner's
TargetPolicy, has timeouts, follows redirects only hop by hop after a check, and
records its response headers (taxii2-client returns only the parsed body).
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from taxii2client.common import _HTTPConnection
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from igsc.partners import OutboundAuth
from igsc.poll_settings import PollSettings
from ingest.poll.guard import Origin, TargetPolicy
from ingest.poll.retry import MalformedResponse


class ResponseTooLarge(requests.exceptions.RequestException):
    """A response body above PollSettings.max_response_bytes."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Resolved outbound credentials: an Authorization value and/or a client certificate."""

    authorization: str | None = None
    cert: str | tuple[str, str] | None = None

    @classmethod
    def of(cls, auth: OutboundAuth) -> Credentials:
        """Reveal the partner's secrets once per run (never logged)."""
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
    """A requests Session that enforces one partner's policy on every hop."""

    def __init__(
        self, *, policy: TargetPolicy, credentials: Credentials, settings: PollSettings
    ) -> None:
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
        """Send with timeouts; follow redirects only after checking each target."""
        started = time.monotonic()
        timeout = kwargs.get("timeout") or (
            self._settings.connect_timeout_s,
            self._settings.read_timeout_s,
        )
        verify = kwargs.get("verify", True)
        hops = 0
        while True:
            url = str(request.url)
            self._policy.check_url(url)  # before anything at all is sent there
            cert = self._apply_credentials(request)
            # The adapter, not Session.send: Session.send would read redirect bodies unbounded.
            response = self.get_adapter(url=url).send(
                request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies={}
            )
            if not response.is_redirect:
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
                    raise ResponseTooLarge(f"response from {response.url} exceeds {limit} bytes")
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
