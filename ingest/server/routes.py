"""The TAXII 2.1 endpoints; each handler authenticates, looks up, and hands off to a stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from igsc.partners import Partner
from igsc.records import utc_now_iso
from igsc.server_settings import ApiRootSettings, CollectionSettings, TaxiiServerSettings
from igsc.visibility import Reader
from ingest.server.access import Access
from ingest.server.add_objects import AddObjects, Submission
from ingest.server.auth import Authenticator
from ingest.server.delete import DeleteObject, DeleteRequest
from ingest.server.errors import TaxiiError, TaxiiResponse, json_response
from ingest.server.negotiation import check_accept, check_content_type, read_body
from ingest.server.reads import Kind, ReadRequest, Reads
from ingest.server.status import StatusStore

TAXII_VERSIONS = ["application/taxii+json;version=2.1"]
COLLECTION = "/{api_root}/collections/{collection_id}"


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the handlers call, built once per app."""

    taxii: TaxiiServerSettings
    access: Access
    auth: Authenticator
    readers: dict[str, Reader]
    reads: Reads
    add: AddObjects
    delete: DeleteObject
    statuses: StatusStore


def _services(request: Request) -> Services:
    services: Services = request.app.state.taxii
    return services


def _caller(request: Request) -> Partner:
    # A sync dependency runs in the thread pool, so a scrypt check never blocks the loop.
    services = _services(request)
    partner = services.auth.authenticate(
        authorization=request.headers.get("authorization"),
        client=request.client.host if request.client else None,
    )
    check_accept(accept=request.headers.get("accept"))
    return partner


Caller = Annotated[Partner, Depends(_caller)]


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def _collection_resource(
    collection: CollectionSettings, *, partner: Partner, access: Access
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "can_read": access.can_read(partner=partner, collection=collection),
        "can_write": access.can_write(partner=partner, collection=collection),
        "media_types": list(collection.media_types),
    }
    if collection.alias:
        resource["alias"] = collection.alias
    return resource


def _root_resource(root: ApiRootSettings) -> dict[str, Any]:
    return {
        "title": root.title,
        "description": root.description,
        "versions": TAXII_VERSIONS,
        "max_content_length": root.max_content_length,
    }


def discovery(request: Request, partner: Caller) -> Response:
    """Server discovery: title and the API roots' URLs."""
    services = _services(request)
    base = services.taxii.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    roots = [f"{base}/{root.id}/" for root in services.access.roots]
    body: dict[str, Any] = {
        "title": services.taxii.title,
        "description": services.taxii.description,
        "api_roots": roots,
    }
    if roots:
        body["default"] = roots[0]
    if services.taxii.contact:
        body["contact"] = services.taxii.contact
    return json_response(body=body)


def api_root_info(request: Request, api_root: str, partner: Caller) -> Response:
    """API root information."""
    root = _services(request).access.api_root(api_root=api_root)
    return json_response(body=_root_resource(root))


def collections(request: Request, api_root: str, partner: Caller) -> Response:
    """The collections of an API root this partner can read or write."""
    access = _services(request).access
    root = access.api_root(api_root=api_root)
    found = access.visible_collections(partner=partner, root=root)
    body = [_collection_resource(c, partner=partner, access=access) for c in found]
    return json_response(body={"collections": body})


def collection(request: Request, api_root: str, collection_id: str, partner: Caller) -> Response:
    """One collection, with can_read/can_write for this partner."""
    access = _services(request).access
    target = access.target(partner=partner, api_root=api_root, collection_id=collection_id)
    return json_response(
        body=_collection_resource(target.collection, partner=partner, access=access)
    )


def _read(
    request: Request,
    partner: Partner,
    kind: Kind,
    api_root: str,
    collection_id: str,
    object_id: str | None = None,
) -> Response:
    services = _services(request)
    target = services.access.readable(
        partner=partner, api_root=api_root, collection_id=collection_id
    )
    result = services.reads.process(
        request=ReadRequest(
            kind=kind,
            reader=services.readers[partner.id],
            target=target,
            params=_params(request),
            object_id=object_id,
        )
    )
    return json_response(body=result.body, headers=result.headers)


def get_objects(request: Request, api_root: str, collection_id: str, partner: Caller) -> Response:
    """Get Objects."""
    return _read(request, partner, "objects", api_root, collection_id)


def get_manifest(request: Request, api_root: str, collection_id: str, partner: Caller) -> Response:
    """Get Object Manifests."""
    return _read(request, partner, "manifest", api_root, collection_id)


def get_object(
    request: Request, api_root: str, collection_id: str, object_id: str, partner: Caller
) -> Response:
    """Get An Object."""
    return _read(request, partner, "object", api_root, collection_id, object_id)


def get_versions(
    request: Request, api_root: str, collection_id: str, object_id: str, partner: Caller
) -> Response:
    """Get Object Versions."""
    return _read(request, partner, "versions", api_root, collection_id, object_id)


async def add_objects(
    request: Request, api_root: str, collection_id: str, partner: Caller
) -> Response:
    """Add Objects: 202 with the status resource."""
    received_at = utc_now_iso()
    services = _services(request)
    target = services.access.writable(
        partner=partner, api_root=api_root, collection_id=collection_id
    )
    check_content_type(content_type=request.headers.get("content-type"))
    body = await read_body(request=request, limit=target.root.max_content_length)
    submission = Submission(partner=partner, target=target, body=body, received_at=received_at)
    status = await run_in_threadpool(services.add.process, submission=submission)
    return json_response(body=status, status=202)


def delete_object(
    request: Request, api_root: str, collection_id: str, object_id: str, partner: Caller
) -> Response:
    """Delete An Object: 200 with an empty body."""
    services = _services(request)
    target = services.access.writable(
        partner=partner, api_root=api_root, collection_id=collection_id
    )
    services.delete.process(
        request=DeleteRequest(
            reader=services.readers[partner.id],
            target=target,
            object_id=object_id,
            params=_params(request),
        )
    )
    return TaxiiResponse(content=b"", status_code=200)


def get_status(request: Request, api_root: str, status_id: str, partner: Caller) -> Response:
    """A status resource, only for the partner that made the request behind it."""
    services = _services(request)
    services.access.api_root(api_root=api_root)
    found = services.statuses.load(partner=partner.id, api_root=api_root, status_id=status_id)
    if found is None:
        raise TaxiiError(404, "No such status resource.")
    return json_response(body=found)


ROUTES = (
    ("/taxii2/", discovery, "GET"),
    ("/{api_root}/", api_root_info, "GET"),
    ("/{api_root}/collections/", collections, "GET"),
    (f"{COLLECTION}/", collection, "GET"),
    (f"{COLLECTION}/objects/", get_objects, "GET"),
    (f"{COLLECTION}/objects/", add_objects, "POST"),
    (f"{COLLECTION}/manifest/", get_manifest, "GET"),
    (f"{COLLECTION}/objects/{{object_id}}/", get_object, "GET"),
    (f"{COLLECTION}/objects/{{object_id}}/", delete_object, "DELETE"),
    (f"{COLLECTION}/objects/{{object_id}}/versions/", get_versions, "GET"),
    ("/{api_root}/status/{status_id}/", get_status, "GET"),
)


def add_routes(*, app: FastAPI, services: Services) -> None:
    """Register every TAXII 2.1 endpoint on the app, served by these services."""
    app.state.taxii = services
    for path, endpoint, method in ROUTES:
        app.add_api_route(path, endpoint, methods=[method])
