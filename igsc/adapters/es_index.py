"""Index over Elasticsearch: templates from the schema, NDJSON bulk, external versions."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from elastic_transport import ConnectionError as EsConnectionError
from elasticsearch import (
    ApiError,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
    OrjsonSerializer,
)

from igsc.adapters.index_common import DOC_ID_FIELD, filterable, stored_source
from igsc.errors import ServiceUnavailable
from igsc.pacing import CatchUpSwitch
from igsc.ports import (
    FACET_SIZE,
    BulkFailure,
    BulkResult,
    IndexDoc,
    IndexSchema,
    SearchPage,
    SearchQuery,
)

BULK_CHUNK = 2000
_BULK_FILTER = ["errors", "items.*.status", "items.*.error"]  # not the ~200-byte item echo
_RETRIES_429 = 6
_NEVER_AN_ID = "~await-refresh"  # no document is ever written with this id
_FIRST_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 5.0
log = logging.getLogger(__name__)


def mapping_for(schema: IndexSchema) -> dict[str, Any]:
    """An explicit mapping: keyword, text, date and numeric fields; anything else stored only."""
    props: dict[str, Any] = {DOC_ID_FIELD: {"type": "keyword"}}
    props.update({f: {"type": "keyword"} for f in schema.keyword})
    props.update({f: {"type": "text"} for f in schema.text})
    props.update({f: {"type": "date"} for f in schema.date})
    props.update({f: {"type": "double"} for f in schema.numeric})
    # dynamic: false keeps unknown fields in _source without indexing them.
    return {"dynamic": False, "properties": props}


class ElasticsearchIndex:
    """Index port on an Elasticsearch cluster."""

    searchable_on_write = False  # documents become searchable at the next refresh

    def __init__(
        self,
        *,
        url: str,
        prefix: str,
        request_timeout_s: float = 30.0,
        refresh_ms: int = 500,
        catch_up_refresh_ms: int | None = None,
    ) -> None:
        self._prefix = prefix
        self.refresh_interval = f"{refresh_ms}ms"
        # None: no catch-up mode, the index always refreshes every refresh_ms.
        self.catch_up_interval = f"{catch_up_refresh_ms}ms" if catch_up_refresh_ms else None
        self._switches: dict[str, CatchUpSwitch] = {}
        self._client = Elasticsearch(
            url,
            serializers={"application/json": OrjsonSerializer()},
            request_timeout=request_timeout_s,
            retry_on_timeout=True,
            max_retries=3,
        )

    def _name(self, schema: IndexSchema) -> str:
        return f"{self._prefix}-{schema.name}"

    def ensure(self, *, schema: IndexSchema) -> None:
        """Install the index template and create the index if missing."""
        name = self._name(schema)
        try:
            self._client.indices.put_index_template(
                name=name,
                index_patterns=[name],
                template={
                    "settings": {
                        "number_of_shards": 1,
                        "number_of_replicas": 0,
                        "refresh_interval": self.refresh_interval,
                    },
                    "mappings": mapping_for(schema),
                },
            )
            if not self._client.indices.exists(index=name):
                self._create(name)
            else:  # a changed interval applies to the existing index too; ends any catch-up
                self._set_refresh(name, self.refresh_interval)
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc

    def _create(self, name: str) -> None:
        try:
            self._client.indices.create(index=name)
        except BadRequestError as exc:
            # Another worker created it between our exists() and create(): that is fine.
            if exc.error != "resource_already_exists_exception":
                raise

    def bulk_upsert(self, *, schema: IndexSchema, docs: Sequence[IndexDoc]) -> BulkResult:
        """Bulk requests of BULK_CHUNK; 429 items retried with backoff; conflicts are stale."""
        name = self._name(schema)
        written = stale = 0
        failed: list[BulkFailure] = []
        for i in range(0, len(docs), BULK_CHUNK):
            outcome = _BulkOutcome()
            self._send_with_retries(name, docs[i : i + BULK_CHUNK], outcome)
            written, stale = written + outcome.written, stale + outcome.stale
            failed += outcome.failed
        return BulkResult(written=written, stale=stale, failed=tuple(failed))

    def _send_with_retries(
        self, name: str, docs: Sequence[IndexDoc], outcome: _BulkOutcome
    ) -> None:
        pending = docs
        for attempt in range(_RETRIES_429 + 1):
            throttled = self._send(name, pending, outcome, last=attempt == _RETRIES_429)
            if not throttled:
                return
            time.sleep(min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2**attempt))
            pending = throttled

    def _send(
        self, name: str, docs: Sequence[IndexDoc], outcome: _BulkOutcome, *, last: bool
    ) -> list[IndexDoc]:
        """One bulk request, its items tallied into outcome; the throttled docs to retry."""
        # The NDJSON body is joined from bytes: each source is encoded once (or reused from
        # the caller) and no per-item dict passes through the client's generic helpers.
        prefix = b'{"index":{"_index":' + orjson.dumps(name) + b',"_id":'
        lines = [
            prefix
            + orjson.dumps(d.id)
            + b',"version":%d,"version_type":"external_gte"}}\n' % d.version
            + stored_source(d)
            + b"\n"
            for d in docs
        ]
        try:
            resp = self._client.bulk(
                operations=cast(Any, b"".join(lines)), filter_path=_BULK_FILTER
            )
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc
        except ApiError as exc:
            if exc.meta.status == 429 and not last:
                return list(docs)
            outcome.failed += [BulkFailure(d.id, f"status {exc.meta.status}: {exc}") for d in docs]
            return []
        if not resp.body.get("errors"):
            outcome.written += len(docs)
            return []
        return outcome.tally(docs, resp.body.get("items", []), last=last)

    def get(self, *, schema: IndexSchema, doc_id: str) -> Mapping[str, Any] | None:
        """The stored body, or None (also when the index does not exist yet)."""
        try:
            # Realtime (the default): a write is readable at once, as the contract says.
            # Measured under bulk ingestion, realtime GETs of just-updated documents added no
            # shard refreshes and no latency over realtime=False, so analysts read the same way.
            found = self._client.get(index=self._name(schema), id=doc_id)
        except NotFoundError:
            return None
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc
        source: Mapping[str, Any] = found["_source"]
        return source

    def _query(self, schema: IndexSchema, query: SearchQuery) -> dict[str, Any]:
        must: list[dict[str, Any]] = []
        flt: list[dict[str, Any]] = []
        if query.text:
            must.append(
                {
                    "simple_query_string": {
                        "query": query.text,
                        "fields": list(schema.text) or ["*"],
                        "default_operator": "and",
                    }
                }
            )
        for field, values in query.terms.items():
            filterable(schema, field)
            flt.append({"terms": {field: list(values)}})
        for field, (low, high) in query.ranges.items():
            filterable(schema, field)
            bounds = {k: v for k, v in (("gte", low), ("lte", high)) if v is not None}
            flt.append({"range": {field: bounds}})
        return {"bool": {"must": must or [{"match_all": {}}], "filter": flt}}

    def search(self, *, schema: IndexSchema, query: SearchQuery) -> SearchPage:
        """One sorted page via search_after."""
        sort = [{k.field: {"order": k.order}} for k in query.sort]
        for k in query.sort:
            filterable(schema, k.field)
        sort.append({DOC_ID_FIELD: {"order": "asc"}})
        for field in query.facets:
            filterable(schema, field)
        resp = self._client.search(
            index=self._name(schema),
            query=self._query(schema, query),
            sort=sort,
            size=query.size,
            search_after=list(query.after) if query.after is not None else None,
            track_total_hits=True,
            aggs=_terms_aggs(query.facets, FACET_SIZE) or None,
        )
        raw = resp["hits"]["hits"]
        hits = tuple(h["_source"] for h in raw)
        after = tuple(raw[-1]["sort"]) if len(raw) == query.size else None
        return SearchPage(
            hits=hits,
            total=int(resp["hits"]["total"]["value"]),
            after=after,
            facets=_bucket_counts(resp, query.facets),
        )

    def facets(
        self, *, schema: IndexSchema, field: str, query: SearchQuery, size: int = FACET_SIZE
    ) -> dict[str, int]:
        """Terms aggregation over the query's matches."""
        filterable(schema, field)
        resp = self._client.search(
            index=self._name(schema),
            query=self._query(schema, query),
            size=0,
            aggs=_terms_aggs((field,), size),
        )
        return _bucket_counts(resp, (field,))[field]

    def refresh(self, *, schema: IndexSchema) -> None:
        """Make everything written searchable now."""
        self._client.indices.refresh(index=self._name(schema))

    def await_refresh(self, *, schema: IndexSchema) -> None:
        """A write with refresh=wait_for returns after the next scheduled refresh (which also
        covers every earlier write); deleting an id that never exists writes nothing."""
        try:
            self._client.delete(index=self._name(schema), id=_NEVER_AN_ID, refresh="wait_for")
        except NotFoundError:
            return  # the expected answer, given once the refresh has happened
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc

    def pace(self, *, schema: IndexSchema, behind: bool) -> None:
        """While the writer is behind, refresh every catch_up_refresh_ms, not refresh_ms."""
        if self.catch_up_interval is None:
            return
        switch = self._switches.setdefault(schema.name, CatchUpSwitch())
        catching_up = switch.report(behind=behind)
        if catching_up is None:
            return
        interval = self.catch_up_interval if catching_up else self.refresh_interval
        try:
            self._set_refresh(self._name(schema), interval)
        except (ApiError, EsConnectionError) as exc:
            switch.undo()  # pacing is advisory: the next batch's report tries again
            log.warning("could not set %s to refresh every %s: %s", schema.name, interval, exc)
            return
        state = "catching up" if catching_up else "caught up"
        log.info("%s: %s, refresh every %s", schema.name, state, interval)

    def _set_refresh(self, name: str, interval: str) -> None:
        self._client.indices.put_settings(
            index=name, settings={"index": {"refresh_interval": interval}}
        )

    def drop(self, *, schema: IndexSchema) -> None:
        """Delete the index and its template."""
        name = self._name(schema)
        self._client.indices.delete(index=name, ignore_unavailable=True)
        with contextlib.suppress(NotFoundError):
            self._client.indices.delete_index_template(name=name)

    def close(self) -> None:
        """Close the HTTP pool."""
        self._client.close()


def _reason(info: Mapping[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, Mapping):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error or f"status {info.get('status')}")


@dataclass(slots=True)
class _BulkOutcome:
    """What the bulk requests of one call did, item by item."""

    written: int = 0
    stale: int = 0
    failed: list[BulkFailure] = dataclasses.field(default_factory=list)

    def tally(
        self, docs: Sequence[IndexDoc], items: Sequence[Mapping[str, Any]], *, last: bool
    ) -> list[IndexDoc]:
        """Count the items of a response (in request order); the throttled docs to retry."""
        throttled: list[IndexDoc] = []
        for doc, item in zip(docs, items, strict=True):
            info = item.get("index", {})
            status = info.get("status", 0)
            if 200 <= status < 300:
                self.written += 1
            elif status == 409:
                self.stale += 1
            elif status == 429 and not last:
                throttled.append(doc)
            else:
                self.failed.append(BulkFailure(doc.id, _reason(info)))
        return throttled


def _terms_aggs(fields: Sequence[str], size: int) -> dict[str, Any]:
    """One terms aggregation per field, named after it."""
    return {f"facet:{f}": {"terms": {"field": f, "size": size}} for f in fields}


def _bucket_counts(resp: Any, fields: Sequence[str]) -> dict[str, dict[str, int]]:
    """Value -> document count of each field's terms aggregation."""
    aggs = resp.get("aggregations") or {}
    return {
        f: {str(b["key"]): int(b["doc_count"]) for b in aggs[f"facet:{f}"]["buckets"]}
        for f in fields
    }
