"""One contract for every Index adapter: the same assertions on SQLite and on Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from igsc.adapters.es_index import ElasticsearchIndex
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.ports import Index, IndexDoc, IndexSchema, SearchQuery, SortKey
from tests.conftest import require_service

SCHEMA = IndexSchema(
    name="things",
    keyword=("value", "countries", "tlp"),
    text=("description",),
    date=("last_seen",),
    numeric=("score",),
)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def index(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Index]:
    if request.param == "elasticsearch":
        made: Index = ElasticsearchIndex(
            url=f"http://{require_service('elasticsearch')}",
            prefix=unique,
            catch_up_refresh_ms=1500,  # catch-up mode on, as deployed (shorter, for speed)
        )
    else:
        made = SqliteIndex(path=tmp_path / "index.db", prefix=unique)
    made.ensure(schema=SCHEMA)
    yield made
    made.drop(schema=SCHEMA)
    made.close()


def doc(i: int, *, version: int = 1, **extra: object) -> IndexDoc:
    body = {
        "value": f"host{i}.example",
        "countries": ["DE", "FR"] if i % 2 else ["DE"],
        "tlp": "green",
        "description": f"item {i} of a phishing campaign" if i % 3 == 0 else f"item {i}",
        "last_seen": f"2026-01-{1 + i % 28:02d}T00:00:00Z",
        "score": float(i % 10),
    }
    body.update(extra)
    return IndexDoc(id=f"id-{i:03d}", version=version, body=body)


def test_upsert_then_get_returns_the_body(index: Index) -> None:
    result = index.bulk_upsert(schema=SCHEMA, docs=[doc(1), doc(2)])
    assert (result.written, result.stale, result.failed) == (2, 0, ())
    got = index.get(schema=SCHEMA, doc_id="id-001")
    assert got is not None and got["value"] == "host1.example" and got["countries"] == ["DE", "FR"]
    assert index.get(schema=SCHEMA, doc_id="missing") is None


def test_an_older_version_never_overwrites_and_the_same_version_replaces(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=5, tlp="amber")])
    result = index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=3, tlp="red")])
    assert (result.written, result.stale) == (0, 1)
    got = index.get(schema=SCHEMA, doc_id="id-001")
    assert got is not None and got["tlp"] == "amber"
    # The same version recomputed (e.g. after a crash) replaces: the last write wins.
    again = index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=5, tlp="clear")])
    assert (again.written, again.stale) == (1, 0)
    got = index.get(schema=SCHEMA, doc_id="id-001")
    assert got is not None and got["tlp"] == "clear"
    newer = index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=6, tlp="red")])
    assert newer.written == 1
    got = index.get(schema=SCHEMA, doc_id="id-001")
    assert got is not None and got["tlp"] == "red"


def test_versions_of_one_document_in_one_bulk_apply_in_order(index: Index) -> None:
    result = index.bulk_upsert(
        schema=SCHEMA,
        docs=[
            doc(1, version=1, description="draft wording"),
            doc(2, version=1),
            doc(1, version=2, description="final wording"),
            doc(1, version=2, description="replayed wording"),
        ],
    )
    assert (result.written, result.stale, result.failed) == (4, 0, ())
    index.refresh(schema=SCHEMA)
    got = index.get(schema=SCHEMA, doc_id="id-001")
    assert got is not None and got["description"] == "replayed wording"
    for word, hits in (("draft", 0), ("final", 0), ("replayed", 1)):
        assert index.search(schema=SCHEMA, query=SearchQuery(text=word)).total == hits, word


def test_a_newer_version_replaces_the_searchable_text(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=1, description="alpha beacon")])
    index.bulk_upsert(schema=SCHEMA, docs=[doc(1, version=2, description="gamma loader")])
    index.refresh(schema=SCHEMA)
    assert index.search(schema=SCHEMA, query=SearchQuery(text="beacon")).total == 0
    assert index.search(schema=SCHEMA, query=SearchQuery(text="loader")).total == 1


def test_one_bad_document_fails_alone_and_names_its_field(index: Index) -> None:
    docs = [doc(1), doc(2, score="not-a-number"), doc(3)]
    result = index.bulk_upsert(schema=SCHEMA, docs=docs)
    assert result.written == 2
    assert [f.id for f in result.failed] == ["id-002"]
    assert "score" in result.failed[0].reason
    index.refresh(schema=SCHEMA)
    assert index.get(schema=SCHEMA, doc_id="id-003") is not None
    assert index.get(schema=SCHEMA, doc_id="id-002") is None


def test_cursor_pagination_visits_every_match_once_in_sort_order(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(45)])
    index.refresh(schema=SCHEMA)
    query = SearchQuery(terms={"countries": ["DE"]}, sort=(SortKey("score", "desc"),), size=10)
    seen: list[dict[str, object]] = []
    page = index.search(schema=SCHEMA, query=query)
    assert page.total == 45
    while True:
        seen.extend(dict(h) for h in page.hits)
        if page.after is None:
            break
        page = index.search(
            schema=SCHEMA,
            query=SearchQuery(
                terms=query.terms, sort=query.sort, size=query.size, after=page.after
            ),
        )
    assert len(seen) == 45 and len({s["doc_id"] for s in seen}) == 45
    keys = [(-float(str(s["score"])), str(s["doc_id"])) for s in seen]
    assert keys == sorted(keys)


def test_filters_text_and_ranges_combine(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(30)])
    index.refresh(schema=SCHEMA)
    fr = index.search(schema=SCHEMA, query=SearchQuery(terms={"countries": ["FR"]}, size=100))
    assert fr.total == 15
    phishing = index.search(schema=SCHEMA, query=SearchQuery(text="phishing", size=100))
    assert {h["doc_id"] for h in phishing.hits} == {f"id-{i:03d}" for i in range(0, 30, 3)}
    both = index.search(
        schema=SCHEMA,
        query=SearchQuery(
            text="phishing campaign", terms={"countries": ["FR"]}, ranges={"score": (5, None)}
        ),
    )
    expected = {f"id-{i:03d}" for i in range(30) if i % 3 == 0 and i % 2 and i % 10 >= 5}
    assert {h["doc_id"] for h in both.hits} == expected
    recent = index.search(
        schema=SCHEMA,
        query=SearchQuery(ranges={"last_seen": ("2026-01-25T00:00:00Z", None)}, size=100),
    )
    assert recent.total == sum(1 for i in range(30) if 1 + i % 28 >= 25)


def test_facets_count_documents_per_value(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(10)])
    index.refresh(schema=SCHEMA)
    counts = index.facets(schema=SCHEMA, field="countries", query=SearchQuery())
    assert counts == {"DE": 10, "FR": 5}
    scoped = index.facets(
        schema=SCHEMA, field="countries", query=SearchQuery(ranges={"score": (None, 4)})
    )
    assert scoped == {"DE": 5, "FR": 2}


def test_a_search_page_carries_the_facets_of_all_its_matches(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(10)])
    index.refresh(schema=SCHEMA)
    query = SearchQuery(ranges={"score": (None, 4)}, size=2, facets=("countries",))
    page = index.search(schema=SCHEMA, query=query)
    assert len(page.hits) == 2 and page.total == 5
    assert page.facets == {"countries": {"DE": 5, "FR": 2}}  # all 5 matches, not the page
    assert page.facets["countries"] == index.facets(schema=SCHEMA, field="countries", query=query)
    plain = index.search(schema=SCHEMA, query=SearchQuery(size=2))
    assert plain.facets == {}
    with pytest.raises(ValueError, match="not a keyword"):
        index.search(schema=SCHEMA, query=SearchQuery(facets=("nope",)))


def test_writes_while_catching_up_are_searchable_after_await_refresh(index: Index) -> None:
    for _ in range(5):
        index.pace(schema=SCHEMA, behind=True)
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(3)])
    index.await_refresh(schema=SCHEMA)
    assert index.search(schema=SCHEMA, query=SearchQuery(size=10)).total == 3
    for _ in range(5):  # caught up again
        index.pace(schema=SCHEMA, behind=False)
    index.bulk_upsert(schema=SCHEMA, docs=[doc(3)])
    index.await_refresh(schema=SCHEMA)
    assert index.get(schema=SCHEMA, doc_id="id-003") is not None
    assert index.search(schema=SCHEMA, query=SearchQuery(size=10)).total == 4


def test_filtering_on_an_unmapped_field_is_refused(index: Index) -> None:
    with pytest.raises(ValueError, match="not a keyword"):
        index.search(schema=SCHEMA, query=SearchQuery(terms={"nope": ["x"]}))


def test_ensure_is_safe_when_several_workers_start_at_once(index: Index) -> None:
    from concurrent.futures import ThreadPoolExecutor

    index.drop(schema=SCHEMA)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: index.ensure(schema=SCHEMA), range(8)))
    assert index.bulk_upsert(schema=SCHEMA, docs=[doc(1)]).written == 1


def test_a_body_sent_with_its_json_is_stored_like_one_without(index: Index) -> None:
    import orjson

    plain = doc(1)
    with_json = doc(2)
    with_json = IndexDoc(
        id=with_json.id,
        version=with_json.version,
        body=with_json.body,
        encoded=orjson.dumps(with_json.body),
    )
    result = index.bulk_upsert(schema=SCHEMA, docs=[plain, with_json])
    assert (result.written, result.failed) == (2, ())
    index.refresh(schema=SCHEMA)
    got = index.get(schema=SCHEMA, doc_id="id-002")
    assert got is not None and got["value"] == "host2.example"
    page = index.search(schema=SCHEMA, query=SearchQuery(terms={"value": ("host2.example",)}))
    assert [h["value"] for h in page.hits] == ["host2.example"]


def test_after_await_refresh_earlier_writes_are_searchable(index: Index) -> None:
    index.bulk_upsert(schema=SCHEMA, docs=[doc(i) for i in range(5)])
    index.await_refresh(schema=SCHEMA)  # no forced refresh: the next scheduled one
    page = index.search(schema=SCHEMA, query=SearchQuery(size=10))
    assert sorted(h["value"] for h in page.hits) == [f"host{i}.example" for i in range(5)]


def test_only_the_embedded_index_is_searchable_on_write(index: Index) -> None:
    assert index.searchable_on_write is isinstance(index, SqliteIndex)
