"""Where changed incidents go, for every correlating stage: the one road out of correlation.

The incidents index first (the sink), then the shared TAXII collection if one is configured,
then ticket dispatch; the incidents topic is the stage's output, and the correlation rows are
written after it is durable (after_publish), so a crash anywhere before the commit recomputes
the same incidents, which every step takes as a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from igsc.ports import Index, IndexDoc, IndexSchema, State
from igsc.records import Rejection, rejection
from igsc.worker import StageOutput
from respond.incidents import INCIDENTS, incident_doc
from respond.model import Incident, encode, resolved_marker_key


class TicketDispatch(Protocol):
    """Hands changed incidents to ticket creation (Celery tasks); idempotent per version."""

    def dispatch(self, *, incidents: Sequence[Incident]) -> None:
        """Queue (or, in-process, run) the ticket work of each incident change."""
        ...


class IncidentPublication(Protocol):
    """Writes incident changes to a shared TAXII collection (respond/stix_incidents.py)."""

    def publish(self, *, incidents: Sequence[Incident]) -> None:
        """Store every change durably, or raise: part of the sink, like the index write."""
        ...


class IncidentSink:
    """Index, publish, dispatch and emit a batch's incident changes."""

    def __init__(
        self,
        *,
        stage: str,
        state: State,
        index: Index,
        incidents_topic: str,
        table: str,
        dispatch: TicketDispatch,
        publication: IncidentPublication | None = None,
    ) -> None:
        self._stage = stage
        self._state = state
        self._index = index
        index.ensure(schema=INCIDENTS)
        self._topic = incidents_topic
        self._table = table
        self._dispatch = dispatch
        self._publication = publication

    def resolutions(self, incidents: Iterable[Incident]) -> dict[str, str]:
        """When each incident was resolved (every ticket resolved), if it was."""
        keys = {resolved_marker_key(incident_id=i.id): i.id for i in incidents}
        if not keys:
            return {}
        found = self._state.get_many(keys=list(keys))
        return {keys[k]: v.decode() for k, v in found.items()}

    def emit(
        self,
        *,
        incidents: Sequence[Incident],
        rows: Mapping[bytes, bytes],
        rejected: list[Rejection],
    ) -> StageOutput:
        """The batch's output: incidents stored, published and dispatched; rows saved last."""
        if not incidents:
            return StageOutput(rejected=rejected)
        docs = [IndexDoc(id=i.id, version=i.version, body=incident_doc(i)) for i in incidents]
        self.index_docs(schema=INCIDENTS, docs=docs, rejected=rejected)
        if self._publication is not None:
            self._publication.publish(incidents=incidents)
        self._dispatch.dispatch(incidents=incidents)
        return StageOutput(
            records={self._topic: [(i.id.encode(), encode(i)) for i in incidents]},
            rejected=rejected,
            after_publish=lambda: self._state.put_rows(table=self._table, rows=dict(rows)),
        )

    def index_docs(
        self, *, schema: IndexSchema, docs: list[IndexDoc], rejected: list[Rejection]
    ) -> None:
        """Upsert; a document the index refuses is dead-lettered, the rest go on."""
        result = self._index.bulk_upsert(schema=schema, docs=docs)
        for failure in result.failed:
            rejected.append(
                rejection(
                    stage=self._stage,
                    reason=f"{schema.name} index refused {failure.id}: {failure.reason}",
                    partner=None,
                    stix_id=None,
                    payload=failure.id,
                )
            )
