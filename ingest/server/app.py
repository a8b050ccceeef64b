"""igsc's TAXII 2.1 server: partners publish STIX 2.1 and read the shared feed back.

TLS is terminated by a reverse proxy in front of this process (nginx, HAProxy, a load
balancer); uvicorn listens on plain HTTP on settings.taxii.host:port, which stays 127.0.0.1
or a private address. Set settings.taxii.public_url to the proxy's https:// URL so discovery
advertises it, and let the proxy pass Authorization through untouched. Never expose the
plain-HTTP port directly: Basic credentials and tokens would cross the network in clear.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from fastapi import FastAPI

from igsc.ports import Index, State, Stream
from igsc.records import RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings
from igsc.visibility import reader_for
from igsc.wiring import open_ports, topic
from ingest.server.access import Access
from ingest.server.add_objects import AddObjects
from ingest.server.auth import Authenticator
from ingest.server.clock import DateAddedClock
from ingest.server.delete import DeleteObject
from ingest.server.errors import install_error_handlers
from ingest.server.reads import Reads
from ingest.server.routes import Services, add_routes
from ingest.server.status import StatusStore
from ingest.server.store import VersionStore
from ingest.server.tokens import PageTokens

log = logging.getLogger(__name__)


def build_services(*, settings: Settings, stream: Stream, index: Index, state: State) -> Services:
    """Wire the stages of the server onto the three ports."""
    taxii, partners = settings.taxii, settings.partners
    store = VersionStore(index=index)
    clock = DateAddedClock(state=state)
    statuses = StatusStore(state=state, retention_s=taxii.status_retention_s)
    return Services(
        taxii=taxii,
        access=Access(taxii=taxii),
        auth=Authenticator(
            partners=partners,
            max_failures=taxii.login_max_failures,
            window_s=taxii.login_failure_window_s,
        ),
        readers={p.id: reader_for(partner=p, registry=partners) for p in partners},
        reads=Reads(
            store=store,
            clock=clock,
            tokens=PageTokens(state=state),
            page_default=taxii.page_size_default,
            page_max=taxii.page_size_max,
        ),
        add=AddObjects(
            store=store,
            clock=clock,
            stream=stream,
            statuses=statuses,
            raw_topic=topic(settings, RAW_TOPIC),
            rejected_topic=topic(settings, REJECTED_TOPIC),
            strict_bundles=taxii.strict_bundles,
        ),
        delete=DeleteObject(store=store, clock=clock),
        statuses=statuses,
    )


def create_app(*, settings: Settings, stream: Stream, index: Index, state: State) -> FastAPI:
    """The FastAPI application serving every TAXII 2.1 endpoint on these ports."""
    app = FastAPI(
        title=settings.taxii.title,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    services = build_services(settings=settings, stream=stream, index=index, state=state)
    add_routes(app=app, services=services)
    return app


def serve(*, settings: Settings) -> None:
    """Run the server with uvicorn on settings.taxii.host:port until interrupted.

    With several workers each uvicorn process builds its own app from `IGSC_CONFIG` (see
    ingest/server/asgi.py); the store, status and date_added clock are shared through the ports.
    """
    taxii = settings.taxii
    log.info(
        "TAXII server on http://%s:%d/taxii2/ (%d workers)", taxii.host, taxii.port, taxii.workers
    )
    options: dict[str, Any] = {
        "host": taxii.host,
        "port": taxii.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "server_header": False,
    }
    if taxii.workers > 1:
        uvicorn.run("ingest.server.asgi:app", workers=taxii.workers, **options)
        return
    with open_ports(settings) as ports:
        app = create_app(
            settings=settings, stream=ports.stream, index=ports.index, state=ports.state
        )
        uvicorn.run(app, **options)
