"""The poll stage: one run over one partner's TAXII 2.1 collection, onto the raw topic.

Pages follow `next` with the original filters; each page is published, then the checkpoint
(the server's X-TAXII-Date-Added-Last) is saved: at-least-once, the downstream dedups.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from taxii2client.v21 import ApiRoot, Collection

from igsc.errors import ConfigError, IgscError
from igsc.outbound.guard import TargetPolicy
from igsc.outbound.session import Credentials, GuardedSession
from igsc.partners import Partner
from igsc.poll_settings import PollSettings
from igsc.ports import State, Stream
from ingest.convert import Batch, ObjectConverter
from ingest.poll.page_convert import convert_page
from ingest.poll.pages import Page, parse_envelope
from ingest.poll.result import PollResult, PollTarget
from ingest.poll.retry import MalformedResponse, Retrier
from ingest.poll.timestamps import ServerTime, parse_server_time
from ingest.poll.transport import TaxiiConnection

log = logging.getLogger(__name__)

DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"


def checkpoint_key(*, partner: str, api_root: str, collection: str) -> str:
    """The State key of a collection's checkpoint."""
    return f"poll:{partner}:{api_root}:{collection}"


@dataclass(frozen=True, slots=True)
class Topics:
    """Where valid envelopes and rejections go."""

    raw: str
    rejected: str


@dataclass(slots=True)
class _Run:
    """Mutable tally of one run, frozen into a PollResult at the end."""

    target: PollTarget
    started: float = field(default_factory=time.monotonic)
    api_root: str | None = None
    key: str | None = None
    pages: int = 0
    published: int = 0
    rejected: int = 0
    old: str | None = None
    new: str | None = None
    notes: list[str] = field(default_factory=list)

    def result(self, *, error: str | None) -> PollResult:
        return PollResult(
            partner=self.target.partner,
            collection=self.target.collection,
            api_root=self.api_root,
            pages=self.pages,
            published=self.published,
            rejected=self.rejected,
            old_checkpoint=self.old,
            new_checkpoint=self.new,
            duration_s=round(time.monotonic() - self.started, 3),
            error=error,
            note="; ".join(self.notes) or None,
        )


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
    roots = body.get("api_roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise MalformedResponse("discovery 'api_roots' must be a list of URLs")
    return body


def _load_collections(api_root: ApiRoot) -> list[Collection]:
    try:
        api_root.refresh_collections()
    except (KeyError, TypeError, AttributeError) as exc:  # taxii2-client on a malformed body
        raise MalformedResponse(f"collections of {api_root.url}: {exc!r}") from exc
    return list(api_root.collections)


class CollectionPoller:
    """Stage: poll one partner collection once, publishing every page it gets."""

    def __init__(
        self,
        *,
        partner: Partner,
        settings: PollSettings,
        stream: Stream,
        state: State,
        topics: Topics,
        retrier: Retrier | None = None,
    ) -> None:
        self._partner = partner
        self._settings = settings
        self._stream = stream
        self._state = state
        self._topics = topics
        self._retrier = retrier or Retrier(settings=settings)

    def process(self, *, target: PollTarget) -> PollResult:
        """Run once over the target; errors end up in the result, never raised."""
        run = _Run(target=target)
        try:
            self._run(run)
        except IgscError as exc:
            log.warning("poll %s/%s failed: %s", target.partner, target.collection, exc)
            return run.result(error=str(exc))
        return run.result(error=None)

    def _run(self, run: _Run) -> None:
        policy = TargetPolicy.for_partner(self._partner)
        policy.check_url(run.target.start_url)
        session = GuardedSession(
            policy=policy, credentials=Credentials.of(self._partner.auth), settings=self._settings
        )
        conn = TaxiiConnection(session=session)
        try:
            collection = self._locate(conn, policy, run)
            self._load_checkpoint(run)
            self._pages(conn, policy, collection, run)
        finally:
            conn.close()

    # ------------------------------------------------------------ locating the collection

    def _locate(self, conn: TaxiiConnection, policy: TargetPolicy, run: _Run) -> Collection:
        url = run.target.start_url
        body = self._retrier.call(
            action=lambda: _json_object(conn.get(url)),
            what=f"partner {self._partner.id!r}: GET {url}",
        )
        roots = [url]
        if "api_roots" in body or not ({"versions", "max_content_length"} & body.keys()):
            roots = self._discovered_roots(body, base=url, policy=policy)
        for root_url in roots:
            api_root = ApiRoot(root_url, conn=conn)
            collections = self._retrier.call(
                action=partial(_load_collections, api_root),
                what=f"partner {self._partner.id!r}: collections of {api_root.url}",
            )
            for collection in collections:
                if collection.id == run.target.collection:
                    run.api_root = str(api_root.url)
                    return self._readable(collection)
        raise ConfigError(
            f"partners.{self._partner.id}.collections",
            f"collection {run.target.collection} is not offered at {', '.join(roots) or url}",
        )

    def _discovered_roots(
        self, body: dict[str, Any], *, base: str, policy: TargetPolicy
    ) -> list[str]:
        roots: list[str] = list(body.get("api_roots", []))
        default = body.get("default")
        if default in roots:
            roots.remove(default)
            roots.insert(0, default)
        absolute = [urljoin(base, root) for root in roots]
        for root in absolute:
            policy.check_url(root)  # refused before any request at all goes there
        return absolute

    def _readable(self, collection: Collection) -> Collection:
        if not collection.can_read:
            raise ConfigError(
                f"partners.{self._partner.id}.collections",
                f"collection {collection.id} at {collection.url} does not allow reading",
            )
        return collection

    # ------------------------------------------------------------ checkpoint

    def _load_checkpoint(self, run: _Run) -> None:
        assert run.api_root is not None
        run.key = checkpoint_key(
            partner=self._partner.id, api_root=run.api_root, collection=run.target.collection
        )
        stored = self._state.get_many(keys=[run.key]).get(run.key)
        text = stored.decode("utf-8", "replace") if stored is not None else None
        if text is not None and parse_server_time(text) is None:
            log.warning("checkpoint %s holds %r, not a timestamp: starting over", run.key, text)
            run.notes.append(f"stored checkpoint {text!r} ignored")
            text = None
        run.old = run.new = text

    def _advance(self, run: _Run, *, last: ServerTime | None, page: Page, final: bool) -> None:
        if last is None:
            if page.objects:
                self._header_unusable(run)
            return
        # Mid-run, the next page may hold more objects added at the same instant: stay before it.
        candidate = last.text if final else last.tick_before()
        current = parse_server_time(run.new)
        candidate_time = parse_server_time(candidate)
        if current is not None and candidate_time is not None and candidate_time <= current:
            return
        self._save(run, candidate)

    def _header_unusable(self, run: _Run) -> None:
        # No per-object date_added comes with Get Objects, so nothing safe to move to.
        note = f"{DATE_ADDED_LAST} missing or not a timestamp: checkpoint kept"
        if note in run.notes:
            return
        run.notes.append(note)
        partner, collection = self._partner.id, run.target.collection
        log.warning("partner %s collection %s: %s at %s", partner, collection, note, run.new)

    def _save(self, run: _Run, value: str) -> None:
        assert run.key is not None
        expected = run.new.encode() if run.new is not None else None
        if not self._state.compare_and_set(key=run.key, expected=expected, new=value.encode()):
            # Another run of this collection moved it meanwhile: keep the later of the two.
            theirs = self._state.get_many(keys=[run.key]).get(run.key, b"").decode()
            their_time, our_time = parse_server_time(theirs), parse_server_time(value)
            if their_time is not None and our_time is not None and their_time >= our_time:
                run.new = theirs
                return
            self._state.put_many(items={run.key: value.encode()})
        run.new = value

    # ------------------------------------------------------------ pages

    def _pages(
        self, conn: TaxiiConnection, policy: TargetPolicy, collection: Collection, run: _Run
    ) -> None:
        converter = ObjectConverter(
            partner=self._partner, collection=run.target.collection, via="poll"
        )
        token: str | None = None
        previous: frozenset[str] = frozenset()
        while True:
            if run.pages >= self._settings.max_pages_per_run:
                run.notes.append(f"stopped at {run.pages} pages (max_pages_per_run)")
                return
            page, headers = self._fetch(conn, collection, added_after=run.old, token=token)
            run.pages += 1
            last = parse_server_time(headers.get(DATE_ADDED_LAST))
            batch = convert_page(
                converter=converter,
                objects=page.objects,
                date_added=last.text if last else None,
                partner=self._partner.id,
            )
            self._publish(batch)
            run.published += len(batch.raw)
            run.rejected += len(batch.rejected)
            ids = _fingerprint(page)
            stop = _stop_reason(page, token=token, ids=ids, previous=previous)
            self._advance(run, last=last, page=page, final=not (page.more and stop is None))
            if not page.more or stop is not None:
                if stop:
                    log.warning("partner %s: %s", self._partner.id, stop)
                    run.notes.append(stop)
                return
            previous = ids
            token = self._next_token(page.next, policy)

    def _fetch(
        self,
        conn: TaxiiConnection,
        collection: Collection,
        *,
        added_after: str | None,
        token: str | None,
    ) -> tuple[Page, dict[str, str]]:
        def attempt() -> tuple[Page, dict[str, str]]:
            body = collection.get_objects(
                limit=self._settings.page_size, added_after=added_after, next=token
            )
            return parse_envelope(body), dict(conn.last_headers)

        return self._retrier.call(
            action=attempt,
            what=f"partner {self._partner.id!r}: objects of {collection.url}",
        )

    def _publish(self, batch: Batch) -> None:
        if batch.raw:
            self._stream.publish(topic=self._topics.raw, records=batch.raw)
        if batch.rejected:
            self._stream.publish(topic=self._topics.rejected, records=batch.rejected)

    def _next_token(self, value: str | None, policy: TargetPolicy) -> str | None:
        """A `next` value; one given as a URL must point at the partner and yields its token."""
        if value is None or "://" not in value:
            return value
        policy.check_url(value)
        return parse_qs(urlsplit(value).query).get("next", [value])[0]


def _fingerprint(page: Page) -> frozenset[str]:
    """Ids and versions of a page's objects, to tell a new page from a repeated one."""
    return frozenset(
        f"{o.get('id')}|{o.get('modified') or o.get('created')}"
        for o in page.objects
        if isinstance(o, dict)
    )


def _stop_reason(
    page: Page, *, token: str | None, ids: frozenset[str], previous: frozenset[str]
) -> str | None:
    """Why paging must stop although the server says more=true, or None.

    Some servers (medallion) keep one `next` value for a whole paging session, so a
    repeated `next` is fine as long as the pages it brings are new.
    """
    if not page.more:
        return None
    if not page.next:
        return "server said more=true without a next value: stopped"
    if not page.objects:
        return "server sent an empty page with more=true: stopped to avoid a loop"
    if page.next == token and ids == previous:
        return f"server repeated next={page.next!r} and the same page: stopped to avoid a loop"
    return None
