"""Add Objects: validate an envelope, store the valid objects, then publish them to raw."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from igsc.errors import RejectedInput, TransientFailure
from igsc.partners import Partner
from igsc.ports import Stream
from igsc.visibility import default_tlp
from ingest.convert import ObjectConverter, admit
from ingest.server.access import Target
from ingest.server.clock import DateAddedClock
from ingest.server.documents import CollectionDocuments, ValidObject, valid_object
from ingest.server.errors import TaxiiError
from ingest.server.release import SearchableReleaser
from ingest.server.status import Outcome, StatusStore
from ingest.server.store import VersionStore

log = logging.getLogger(__name__)

# Threads that search and encode while the request thread builds, stores and publishes: up
# to two per request in flight (tasks never wait on each other, so a full pool only queues).
_WORKERS = 96


@dataclass(frozen=True, slots=True)
class Submission:
    """One POST to a collection's objects endpoint."""

    partner: Partner
    target: Target
    body: bytes
    received_at: str


def _detail(stix_id: Any, version: Any, message: str | None = None) -> dict[str, str]:
    detail = {"id": stix_id if isinstance(stix_id, str) else "", "version": version or ""}
    if not isinstance(detail["version"], str):
        detail["version"] = ""
    if message:
        detail["message"] = message
    return detail


def parse_envelope(body: bytes) -> list[Any]:
    """The objects of a TAXII envelope or STIX bundle; 422 if the body is neither."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TaxiiError(422, f"The body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise TaxiiError(422, "The body must be a TAXII envelope object.")
    if data.get("type") == "bundle" and "objects" not in data:
        return []
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise TaxiiError(422, "The envelope needs an 'objects' list.")
    return objects


_Record = tuple[bytes, bytes]
_DUPLICATE = "the same id and version appear earlier in this envelope"
_UNFORWARDED = "stored but not yet forwarded; send the envelope again to complete"
_UNREADABLE = "stored; readable after the store's next refresh"


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the store holds of one submission after landing it."""

    versions: dict[str, tuple[str, str]]  # doc id -> (version, date_added) of all stored
    refused: dict[str, str]  # doc id -> why the store refused it
    encoded: Future[dict[str, _Record]] | None  # raw-topic records, encoded meanwhile
    unreadable: frozenset[str]  # landed now, readable only after the store's next refresh


def _records(
    submission: Submission, landed: Sequence[ValidObject], stored: dict[str, tuple[str, str]]
) -> dict[str, _Record]:
    """Raw-topic records by doc id: each object as a push envelope, keyed by its STIX id."""
    converter = ObjectConverter(
        partner=submission.partner, collection=submission.target.collection.id, via="push"
    )
    return {
        v.doc_id: (
            str(v.obj["id"]).encode(),
            converter.envelope(
                admitted=v.admitted,
                date_added=stored[v.doc_id][1],
                received_at=submission.received_at,
            ).to_bytes(),
        )
        for v in landed
    }


class AddObjects:
    """Stage: one submission in, one status resource out (also kept for GET status)."""

    def __init__(
        self,
        *,
        store: VersionStore,
        clock: DateAddedClock,
        stream: Stream,
        statuses: StatusStore,
        raw_topic: str,
        rejected_topic: str,
        strict_bundles: bool,
    ) -> None:
        self._versions = store
        self._clock = clock
        self._stream = stream
        self._statuses = statuses
        self._topic = raw_topic
        self._rejected_topic = rejected_topic
        self._strict = strict_bundles
        self._workers = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="taxii-add")
        self._releaser = SearchableReleaser(store=store, clock=clock, statuses=statuses)

    def process(self, *, submission: Submission) -> dict[str, Any]:
        """Land the valid objects, publish them, and return the saved status resource."""
        objects = parse_envelope(submission.body)
        valid, failures, rejections = self._validate(submission, objects)
        self._dead_letter(rejections)
        if self._strict and failures:
            message = f"not added: strict_bundles is on and {len(failures)} object(s) are invalid"
            failures += [_detail(v.obj["id"], v.version, message) for v in valid]
            valid = []
        # The 202 goes out once the objects are stored and published, without waiting for
        # the store's next refresh: until readers can see them (SearchableReleaser), the
        # status lists them as pending, so `complete` means they can be read back.
        outcome = self._land(submission, valid, status_id=str(uuid.uuid4()), failures=failures)
        return self._save_status(submission, outcome)

    def _dead_letter(self, rejections: list[_Record]) -> None:
        """Refused objects go to the rejected topic too, where operators look for them; the
        status resource already tells the partner, so a stream outage does not fail the POST."""
        if not rejections:
            return
        try:
            self._stream.publish(topic=self._rejected_topic, records=rejections)
        except TransientFailure as exc:
            log.warning("could not dead-letter %d refused objects: %s", len(rejections), exc)

    def _save_status(self, submission: Submission, outcome: Outcome) -> dict[str, Any]:
        self._statuses.save(
            partner=submission.partner.id, api_root=submission.target.root.id, outcome=outcome
        )
        return outcome.resource(readable=False)

    def _validate(
        self, submission: Submission, objects: Sequence[Any]
    ) -> tuple[list[ValidObject], list[dict[str, str]], list[_Record]]:
        target, publisher = submission.target, submission.partner
        valid: list[ValidObject] = []
        failures: list[dict[str, str]] = []
        rejections: list[_Record] = []
        converter = ObjectConverter(partner=publisher, collection=target.collection.id, via="push")
        seen: set[tuple[str, str]] = set()
        level = default_tlp(publisher)
        for obj in objects:
            try:
                admitted = admit(obj, default_tlp=level)
            except RejectedInput as exc:
                get = obj.get if isinstance(obj, dict) else (lambda _: None)
                failures.append(_detail(get("id"), get("modified") or get("created"), str(exc)))
                rejections.append(converter.rejection(obj=obj, reason=str(exc)))
                continue
            one = valid_object(admitted, target=target, publisher=publisher.id)
            if one.version is not None and (obj["id"], one.slot) in seen:
                failures.append(_detail(obj["id"], one.version, _DUPLICATE))
                continue
            seen.add((obj["id"], one.slot))
            valid.append(one)
        return valid, failures, rejections

    def _land(
        self,
        submission: Submission,
        valid: Sequence[ValidObject],
        *,
        status_id: str,
        failures: list[dict[str, str]],
    ) -> Outcome:
        """Store, then publish; what became of each object."""
        first: dict[str, ValidObject] = {}
        for v in valid:
            first.setdefault(v.doc_id, v)  # the same object twice in one envelope lands once
        unique = list(first.values())
        stored = self._store(submission, unique, status_id=status_id)
        # Only what the store accepted is published.
        landed = [v for v in unique if v.doc_id in stored.versions]
        published = self._publish(submission, landed, stored.versions, stored.encoded)
        successes, unforwarded, unreadable, refused = [], [], [], []
        for v in valid:
            if v.doc_id in stored.refused:
                refused.append(_detail(v.obj["id"], v.version, stored.refused[v.doc_id]))
                continue
            version = stored.versions[v.doc_id][0]
            if not published:  # pending even once readable: raw never got it
                unforwarded.append(_detail(v.obj["id"], version, _UNFORWARDED))
            elif v.doc_id in stored.unreadable:
                unreadable.append(_detail(v.obj["id"], version, _UNREADABLE))
            else:  # readable now, or already stored by an earlier request
                successes.append(_detail(v.obj["id"], version))
        return Outcome(
            id=status_id,
            request_timestamp=submission.received_at,
            successes=tuple(successes),
            failures=tuple(failures + refused),
            unforwarded=tuple(unforwarded),
            unreadable=tuple(unreadable),
        )

    def _store(
        self, submission: Submission, unique: Sequence[ValidObject], *, status_id: str
    ) -> _Stored:
        """Land what is not stored yet; its block is released (and the status `status_id`
        marked readable) once readers can see it."""
        if not unique:
            return _Stored(versions={}, refused={}, encoded=None, unreadable=frozenset())
        # The dedup search runs while a date_added block is reserved and the documents are
        # built; an object found already stored keeps its date_added (a gap in the block).
        searched = self._workers.submit(
            self._versions.live_by_id, doc_ids=[v.doc_id for v in unique]
        )
        target = submission.target
        scope = f"{target.root.id}:{target.collection.id}"
        reservation = self._clock.reserve(scope=scope, count=len(unique))
        try:
            bodies = CollectionDocuments(target=target, publisher=submission.partner.id)
            docs, stamped = bodies.docs(objects=unique, start=reservation.start)
            existing = searched.result()
            stored = {i: (str(h["version"]), str(h["date_added"])) for i, h in existing.items()}
            fresh = [v for v in unique if v.doc_id not in existing]
            if not fresh:
                self._clock.release(reservation=reservation)
                return _Stored(versions=stored, refused={}, encoded=None, unreadable=frozenset())
            stamped = {v.doc_id: stamped[v.doc_id] for v in fresh}
            encoded = self._workers.submit(_records, submission, fresh, stamped)
            result = self._versions.land(docs=[d for d in docs if d.id in stamped])
        except BaseException:
            self._clock.release(reservation=reservation)
            raise
        readable = self._releaser.release_when_searchable(
            reservation=reservation, status_id=status_id
        )
        failed = {f.id: f"not stored: {f.reason}" for f in result.failed}
        landed = {k: val for k, val in stamped.items() if k not in failed}
        stored.update(landed)
        return _Stored(
            versions=stored,
            refused=failed,
            encoded=encoded,
            unreadable=frozenset() if readable else frozenset(landed),
        )

    def _publish(
        self,
        submission: Submission,
        landed: Sequence[ValidObject],
        stored: dict[str, tuple[str, str]],
        encoded: Future[dict[str, _Record]] | None,
    ) -> bool:
        if not landed:
            return True
        ready = encoded.result() if encoded is not None else {}
        missing = [v for v in landed if v.doc_id not in ready]  # already stored before
        ready = {**ready, **_records(submission, missing, stored)} if missing else ready
        records = [ready[v.doc_id] for v in landed]
        try:
            self._stream.publish(topic=self._topic, records=records)
        except TransientFailure as exc:
            log.warning("stored %d objects but could not publish them: %s", len(records), exc)
            return False
        return True
