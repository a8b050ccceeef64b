"""Builds the respond stage from settings and ports (the stage registry names it).

Playbook templates are compiled here, at start-up, so a template that does not compile stops
the worker with the playbook named (exit 2), before any incident needs it.
"""

from __future__ import annotations

from collections.abc import Callable

from igsc.records import utc_now_iso
from igsc.settings import Settings
from igsc.wiring import Ports, topic
from ingest.server.access import Target
from ingest.server.clock import DateAddedClock
from ingest.server.direct_add import DirectAdd
from ingest.server.store import VersionStore
from respond.celery_app import CeleryDispatch, RespondCelery, make_respond_celery
from respond.exclusions import Exclusions
from respond.model import INCIDENTS_TOPIC
from respond.render import compile_playbooks
from respond.sink import IncidentSink
from respond.stage import CORRELATION_TABLE, RespondStage
from respond.stix_incidents import IncidentCollection
from respond.threats import THREAT_EVIDENCE_TOPIC, THREATS_TABLE, ThreatStage


def respond_celery(
    *, settings: Settings, ports: Ports, clock: Callable[[], str] = utc_now_iso
) -> RespondCelery:
    """The respond Celery app of this process: in-process tasks share its ports."""
    return make_respond_celery(
        settings=settings, ports=ports if settings.embedded_celery else None, clock=clock
    )


def build_respond_stage(
    *, settings: Settings, ports: Ports, app: RespondCelery | None = None
) -> RespondStage:
    """indicators → incidents, with ticket work dispatched to Celery (or run in-process)."""
    compile_playbooks(playbooks=settings.playbooks)  # fail at start-up, not at the first crossing
    return RespondStage(
        state=ports.state,
        index=ports.index,
        rules=settings.rules,
        critical_sectors=settings.respond.critical_sectors,
        exclusions=Exclusions(
            allowlist=settings.respond.allowlist, warninglists=settings.respond.warninglists
        ),
        sink=incident_sink(settings=settings, ports=ports, app=app, table=CORRELATION_TABLE),
        threat_evidence_topic=topic(settings, THREAT_EVIDENCE_TOPIC),
    )


def build_threat_stage(
    *, settings: Settings, ports: Ports, app: RespondCelery | None = None
) -> ThreatStage:
    """threat-evidence → incidents on campaigns, intrusion sets and malware."""
    compile_playbooks(playbooks=settings.playbooks)
    return ThreatStage(
        state=ports.state,
        rules=settings.rules,
        sink=incident_sink(settings=settings, ports=ports, app=app, table=THREATS_TABLE),
    )


def incident_sink(
    *, settings: Settings, ports: Ports, app: RespondCelery | None, table: str
) -> IncidentSink:
    """Where a correlating stage's incident changes go (index, collection, tickets, topic)."""
    return IncidentSink(
        stage="respond",
        state=ports.state,
        index=ports.index,
        incidents_topic=topic(settings, INCIDENTS_TOPIC),
        table=table,
        dispatch=CeleryDispatch(app=app or respond_celery(settings=settings, ports=ports)),
        publication=incident_collection(settings=settings, ports=ports),
    )


def incident_collection(*, settings: Settings, ports: Ports) -> IncidentCollection | None:
    """The TAXII collection incidents are published to, written through the TAXII store's own
    write path on this process's ports; None if respond.incidents_collection is not set."""
    configured = settings.respond.incidents_collection
    if configured is None:
        return None
    root, collection = configured.resolve(settings.taxii.api_roots)  # checked at load
    writer = DirectAdd(
        store=VersionStore(index=ports.index),
        clock=DateAddedClock(state=ports.state),
        target=Target(root=root, collection=collection),
    )
    return IncidentCollection(writer=writer, namespace=settings.namespace)
