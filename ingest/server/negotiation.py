"""Content negotiation (Accept, Content-Type) and size-limited reading of request bodies."""

from __future__ import annotations

from contextlib import aclosing

from fastapi import Request

from ingest.server.errors import TaxiiError

TAXII_TYPE = "application/taxii+json"
_DRAIN_LIMIT = 4 * 1024 * 1024


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    """(type/subtype, params) of each comma-separated media range, lowercased."""
    ranges: list[tuple[str, dict[str, str]]] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str] = {}
        for param in parts[1:]:
            name, _, value = param.partition("=")
            params[name.strip().lower()] = value.strip().strip('"').lower()
        ranges.append((parts[0].lower(), params))
    return ranges


def _is_taxii21(media: str, params: dict[str, str]) -> bool:
    return media == TAXII_TYPE and params.get("version", "2.1") == "2.1"


def _refused(params: dict[str, str]) -> bool:
    try:
        return float(params.get("q", "1")) <= 0
    except ValueError:
        return False


def check_accept(*, accept: str | None) -> None:
    """Raise 406 unless the client accepts TAXII 2.1 JSON (version-less and wildcards count)."""
    if accept is None or not accept.strip():
        return
    for media, params in _media_ranges(accept):
        if _refused(params):
            continue
        if _is_taxii21(media, params) or media in ("*/*", "application/*"):
            return
    raise TaxiiError(
        406, "This server answers only application/taxii+json;version=2.1; fix the Accept header."
    )


def check_content_type(*, content_type: str | None) -> None:
    """Raise 415 unless the body is declared as TAXII 2.1 JSON."""
    ranges = _media_ranges(content_type or "")
    if len(ranges) == 1 and _is_taxii21(*ranges[0]):
        return
    raise TaxiiError(415, "Send the body as Content-Type: application/taxii+json;version=2.1.")


def _too_large(limit: int) -> TaxiiError:
    return TaxiiError(413, f"The request body exceeds this API root's limit of {limit} bytes.")


async def read_body(*, request: Request, limit: int) -> bytes:
    """The body, counted on the bytes actually received; 413 as soon as it passes limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async with aclosing(request.stream()) as stream:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
        if size > limit:
            # Read a bounded amount more, so the client gets the 413 rather than a reset
            # connection while it is still sending.
            async for chunk in stream:
                size += len(chunk)
                if size > limit + _DRAIN_LIMIT:
                    break
            raise _too_large(limit)
    return b"".join(chunks)
