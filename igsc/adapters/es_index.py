"""Index over Elasticsearch: templates from the schema, streaming bulk, external versions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elastic_transport import ConnectionError as EsConnectionError
from elasticsearch import (
    BadRequestError,
    Elasticsearch,
    NotFoundError,
    OrjsonSerializer,
    helpers,
)

from igsc.adapters.index_common import DOC_ID_FIELD, filterable
from igsc.errors import ServiceUnavailable
from igsc.ports import BulkFailure, BulkResult, IndexDoc, IndexSchema, SearchPage, SearchQuery

BULK_CHUNK = 2000


def _expanded(action: Any) -> Any:
    # The helper types actions as documents to expand; ours are (action line, source) already.
    return action


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

    def __init__(
        self, *, url: str, prefix: str, request_timeout_s: float = 30.0, refresh_ms: int = 1000
    ) -> None:
        self._prefix = prefix
        self._refresh = f"{refresh_ms}ms"
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
                        "refresh_interval": self._refresh,
                    },
                    "mappings": mapping_for(schema),
                },
            )
            if not self._client.indices.exists(index=name):
                self._create(name)
            else:  # a changed refresh interval applies to the existing index too
                self._client.indices.put_settings(
                    index=name, settings={"index": {"refresh_interval": self._refresh}}
                )
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc

    def _create(self, name: str) -> None:
        try:
            self._client.indices.create(index=name)
        except BadRequestError as exc:
            # Another worker created it between our exists() and create(): that is fine.
            if exc.error != "resource_already_exists_exception":
                raise

    def _actions(self, name: str, docs: Sequence[IndexDoc]) -> Iterator[Any]:
        # Already split into (action line, source), so the helper's generic expand_action
        # (a dict copy and a scan of 20 keys per document) is skipped on this hot path.
        for doc in docs:
            header = {
                "_index": name,
                "_id": doc.id,
                "version": doc.version,
                "version_type": "external_gte",
            }
            yield {"index": header}, {**doc.body, DOC_ID_FIELD: doc.id}

    def bulk_upsert(self, *, schema: IndexSchema, docs: Sequence[IndexDoc]) -> BulkResult:
        """Streaming bulk; 429 items retried with backoff; version conflicts count as stale."""
        written = stale = 0
        failed: list[BulkFailure] = []
        try:
            results = helpers.streaming_bulk(
                self._client,
                self._actions(self._name(schema), docs),
                chunk_size=BULK_CHUNK,
                expand_action_callback=_expanded,
                # Only what is read back below: the full item echo is ~200 bytes per document.
                filter_path=["errors", "items.*._id", "items.*.status", "items.*.error"],
                raise_on_error=False,
                raise_on_exception=False,
                max_retries=6,
                initial_backoff=0.2,
                max_backoff=5,
            )
            for ok, item in results:
                info = item.get("index", {})
                if ok:
                    written += 1
                elif info.get("status") == 409:
                    stale += 1
                else:
                    failed.append(BulkFailure(str(info.get("_id")), _reason(info)))
        except EsConnectionError as exc:
            raise ServiceUnavailable(f"Elasticsearch unreachable: {exc}") from exc
        return BulkResult(written=written, stale=stale, failed=tuple(failed))

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
        resp = self._client.search(
            index=self._name(schema),
            query=self._query(schema, query),
            sort=sort,
            size=query.size,
            search_after=list(query.after) if query.after is not None else None,
            track_total_hits=True,
        )
        raw = resp["hits"]["hits"]
        hits = tuple(h["_source"] for h in raw)
        after = tuple(raw[-1]["sort"]) if len(raw) == query.size else None
        return SearchPage(hits=hits, total=int(resp["hits"]["total"]["value"]), after=after)

    def facets(
        self, *, schema: IndexSchema, field: str, query: SearchQuery, size: int = 20
    ) -> dict[str, int]:
        """Terms aggregation over the query's matches."""
        filterable(schema, field)
        resp = self._client.search(
            index=self._name(schema),
            query=self._query(schema, query),
            size=0,
            aggs={"f": {"terms": {"field": field, "size": size}}},
        )
        return {str(b["key"]): int(b["doc_count"]) for b in resp["aggregations"]["f"]["buckets"]}

    def refresh(self, *, schema: IndexSchema) -> None:
        """Make everything written searchable now."""
        self._client.indices.refresh(index=self._name(schema))

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
