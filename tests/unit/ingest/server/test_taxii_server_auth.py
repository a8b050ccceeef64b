"""Authentication: scrypt-hashed Basic passwords, sha256-hashed tokens, TAXII 401s."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from taxii_server_fixtures import TAXII, Server, partner

from igsc.partners import InboundAuth
from ingest.server.auth import hash_secret, hash_token, verify_secret


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_hash_verifies_only_the_same_secret_and_is_salted() -> None:
    first = hash_secret(secret="correct horse")
    second = hash_secret(secret="correct horse")
    assert first != second  # salted
    assert first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_secret(secret="correct horse", hashed=first)
    assert verify_secret(secret="correct horse", hashed=second)
    assert not verify_secret(secret="correct horsE", hashed=first)


@pytest.mark.parametrize("hashed", ["", "plain", "scrypt$1$2", "scrypt$x$8$1$AA==$AA==", "md5$a"])
def test_malformed_hashes_never_verify(hashed: str) -> None:
    assert not verify_secret(secret="anything", hashed=hashed)


def test_token_hash_is_sha256_hex() -> None:
    assert hash_token(token="abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Basic realm="igsc"')
    assert response.headers["content-type"] == TAXII
    body = response.json()
    assert body["title"] and body["http_status"] == "401"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token",
        "Bearer ",
        _basic("alpha", "wrong-password"),
        _basic("nobody", "alpha-password"),
        "Basic !!!not-base64",
        "Digest username=alpha",
    ],
)
def test_missing_or_wrong_credentials_get_a_taxii_401(
    server: Server, authorization: str | None
) -> None:
    headers = {"Accept": TAXII}
    if authorization is not None:
        headers["Authorization"] = authorization
    for path in ("/taxii2/", "/main/", "/main/collections/", "/main/status/x/"):
        _assert_401(server.client.get(path, headers=headers))


def test_basic_and_bearer_and_token_schemes_authenticate(server: Server) -> None:
    for authorization in (_basic("alpha", "alpha-password"), "Bearer tok-alpha", "Token tok-alpha"):
        response = server.client.get(
            "/main/collections/", headers={"Accept": TAXII, "Authorization": authorization}
        )
        assert response.status_code == 200
        assert len(response.json()["collections"]) == 2  # alpha's view, not someone else's


def test_basic_password_of_one_partner_does_not_open_another(server: Server) -> None:
    response = server.client.get(
        "/taxii2/", headers={"Accept": TAXII, "Authorization": _basic("bravo", "alpha-password")}
    )
    _assert_401(response)


def test_credentials_never_reach_the_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.client.get(
        "/taxii2/", headers={"Accept": TAXII, "Authorization": _basic("alpha", "s3cret-guess")}
    )
    server.client.get("/taxii2/", headers={"Accept": TAXII, "Authorization": "Bearer tok-guess"})
    server.client.get("/taxii2/", headers={"Accept": TAXII, "Authorization": "Bearer tok-alpha"})
    text = caplog.text
    assert "s3cret-guess" not in text
    assert "tok-guess" not in text
    assert "tok-alpha" not in text


def test_two_partners_with_one_token_or_username_is_a_config_error() -> None:
    from igsc.errors import ConfigError
    from ingest.server.auth import Authenticator

    one = partner("alpha")
    same_token = partner("bravo", inbound=InboundAuth(token_hashes=one.inbound.token_hashes))
    with pytest.raises(ConfigError, match="alpha and bravo share the same token"):
        Authenticator(partners=[one, same_token])
    same_user = partner(
        "bravo", inbound=InboundAuth(username="alpha", password_hash=one.inbound.password_hash)
    )
    with pytest.raises(ConfigError, match="same username"):
        Authenticator(partners=[one, same_user])
