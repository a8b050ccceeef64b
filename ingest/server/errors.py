"""TAXII error objects: every failure answers JSON with title, http_status and description."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from igsc.errors import TransientFailure

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class TaxiiError(Exception):
    """An HTTP failure the client gets as a TAXII error object."""

    def __init__(
        self, status: int, description: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description
        self.headers = dict(headers or {})


class TaxiiResponse(Response):
    """A response whose body is already-serialised TAXII JSON."""

    media_type = TAXII_MEDIA_TYPE


def json_response(
    *, body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> TaxiiResponse:
    """Serialise body with orjson as application/taxii+json;version=2.1."""
    return TaxiiResponse(content=orjson.dumps(body), status_code=status, headers=headers)


def error_response(
    *, status: int, description: str, headers: Mapping[str, str] | None = None
) -> TaxiiResponse:
    """A TAXII error object for this status."""
    body = {
        "title": _TITLES.get(status, "Error"),
        "http_status": str(status),
        "description": description,
    }
    return json_response(body=body, status=status, headers=headers)


def _taxii_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaxiiError)
    return error_response(status=exc.status, description=exc.description, headers=exc.headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route offers on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    descriptions = {
        404: "No such TAXII endpoint.",
        405: "This endpoint does not support this HTTP method.",
    }
    description = descriptions.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(status=exc.status_code, description=description, headers=headers)


def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error_response(status=422, description=f"invalid request {where}: {first.get('msg')}")


def _transient(_: Request, exc: Exception) -> Response:
    log.warning("backing service unavailable: %s", exc)
    return error_response(
        status=503,
        description="A backing service is unavailable; retry the request later.",
        headers={"Retry-After": "5"},
    )


def _unexpected(_: Request, exc: Exception) -> Response:
    log.error("unhandled error in the TAXII server", exc_info=exc)
    return error_response(status=500, description="The server failed to handle the request.")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, FastAPI's own included, a TAXII error object."""
    app.add_exception_handler(TaxiiError, _taxii_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TransientFailure, _transient)
    app.add_exception_handler(Exception, _unexpected)
