"""Analyst lookup: however an observable is typed, it finds the document the pipeline indexed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from enrich.lookup import candidate_keys, lookup_observable
from enrich.observables import observables_from
from enrich.patterns import parse_pattern
from enrich.record import IndicatorRecord, SourceEntry
from enrich.schema import INDICATORS, indicator_doc
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.errors import RejectedInput
from igsc.ports import Index, IndexDoc
from igsc.tlp import Tlp

HALF_LIFE = 30.0  # days
MD5 = hashlib.md5(b"dropper").hexdigest()
SHA1 = hashlib.sha1(b"dropper").hexdigest()
SHA256 = hashlib.sha256(b"dropper").hexdigest()
SHA512 = hashlib.sha512(b"dropper").hexdigest()

# Patterns as partners send them → what analysts type for the same observable.
SAME_OBSERVABLE = {
    "[ipv4-addr:value = '198.51.100.7']": ["198.51.100.7", " 198.51.100.7/32 "],
    "[ipv6-addr:value = '2001:db8::1']": [
        "2001:DB8::1",
        "2001:0db8:0:0:0:0:0:1",
        "2001:db8::1/128",
    ],
    "[domain-name:value = 'evil.example']": ["evil.example", "EVIL.Example."],
    "[domain-name:value = 'xn--bcher-kva.example']": [
        "b\u00fccher.example",
        "B\u00dcCHER.example.",
    ],
    "[url:value = 'http://example.com/a']": ["http://Example.com:80/a", "HTTP://EXAMPLE.COM/a"],
    "[email-addr:value = 'user@example.com']": ["user@Example.COM", "user@example.com."],
    "[mac-addr:value = '00:11:22:33:44:55']": ["00-11-22-33-44-55", "0011.2233.4455"],
    f"[file:hashes.MD5 = '{MD5}']": [MD5, MD5.upper()],
    f"[file:hashes.'SHA-1' = '{SHA1}']": [SHA1, SHA1.upper()],
    f"[file:hashes.SHA256 = '{SHA256.upper()}']": [SHA256, f" {SHA256.upper()} "],
    f"[file:hashes.'SHA-512' = '{SHA512}']": [SHA512],
    "[process:name = 'evil.exe']": ["process:name|evil.exe"],
}


def _pipeline_key(pattern: str) -> str:
    """The document id the pipeline writes for a one-observable pattern."""
    (observable,) = observables_from(parsed=parse_pattern(pattern=pattern))
    return observable.key


def _doc(key: str) -> IndexDoc:
    kind, _, value = key.partition("|")
    source = SourceEntry(
        stix_id="indicator--00000000-0000-4000-8000-000000000001",
        version="2026-01-15T10:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp="TLP:GREEN",
        confidence=80,
        reliability=0.9,
        created_by=None,
        valid_from=None,
    )
    record = IndicatorRecord(key=key, kind=kind, value=value, flags=(), sources=(source,))
    return IndexDoc(id=key, version=1, body=indicator_doc(record))


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    made = SqliteIndex(path=tmp_path / "index.db", prefix="lookup")
    made.ensure(schema=INDICATORS)
    keys = [_pipeline_key(p) for p in SAME_OBSERVABLE]
    made.bulk_upsert(schema=INDICATORS, docs=[_doc(k) for k in keys])
    yield made
    made.close()


@pytest.mark.parametrize(
    ("pattern", "typed"), [(p, t) for p, texts in SAME_OBSERVABLE.items() for t in texts]
)
def test_every_spelling_finds_the_document_the_pipeline_indexed(
    index: Index, pattern: str, typed: str
) -> None:
    result = lookup_observable(index=index, text=typed, clearance=Tlp.RED, half_life_days=HALF_LIFE)
    assert result.found
    assert result.key == _pipeline_key(pattern)
    assert result.document is not None and result.document["key"] == result.key


def test_an_explicit_key_is_canonicalised_like_typed_text(index: Index) -> None:
    for text in ("domain-name|EVIL.example.", f"file:hashes.'SHA-256'|{SHA256.upper()}"):
        assert lookup_observable(
            index=index, text=text, clearance=Tlp.RED, half_life_days=HALF_LIFE
        ).found, text


@pytest.mark.parametrize(
    "typed", ["203.0.113.9", "absent.example", "http://absent.example/", "a@absent.example"]
)
def test_an_observable_nobody_reported_is_not_found(index: Index, typed: str) -> None:
    result = lookup_observable(index=index, text=typed, clearance=Tlp.RED, half_life_days=HALF_LIFE)
    assert not result.found and result.key is None and result.document is None
    assert len(result.candidates) == 1


def test_a_fresh_index_answers_not_found(tmp_path: Path) -> None:
    fresh = SqliteIndex(path=tmp_path / "fresh.db", prefix="empty")
    try:
        assert not lookup_observable(
            index=fresh, text="evil.example", clearance=Tlp.RED, half_life_days=HALF_LIFE
        ).found
    finally:
        fresh.close()


@pytest.mark.parametrize(
    ("digest", "algorithms"),
    [
        (MD5, ["MD5"]),
        (SHA1, ["SHA-1", "RIPEMD-160"]),
        (SHA256, ["SHA-256", "SHA3-256"]),
        (SHA512, ["SHA-512", "SHA3-512", "WHIRLPOOL"]),
    ],
)
def test_a_hex_digest_is_tried_as_each_algorithm_of_its_length(
    digest: str, algorithms: list[str]
) -> None:
    expected = [f"file:hashes.{a}|{digest}" for a in algorithms]
    assert list(candidate_keys(text=digest.upper())) == expected


def test_an_ambiguous_digest_finds_the_algorithm_that_was_indexed(index: Index) -> None:
    ripemd = hashlib.sha1(b"other").hexdigest()  # 40 hex digits, indexed as RIPEMD-160
    key = f"file:hashes.RIPEMD-160|{ripemd}"
    index.bulk_upsert(schema=INDICATORS, docs=[_doc(key)])
    result = lookup_observable(
        index=index, text=ripemd, clearance=Tlp.RED, half_life_days=HALF_LIFE
    )
    assert result.key == key and result.candidates[0] == f"file:hashes.SHA-1|{ripemd}"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("   ", "empty"),
        ("198.51.100.300", "not an IP or MAC address"),
        ("2001:db8::zz", "not an IP or MAC address"),
        ("not a domain", "not an IP address, domain, URL, e-mail address, hash"),
        ("http://", "url has no host"),
        ("user@", "email address has no local@domain form"),
        ("ipv4-addr|evil.example", "not an IPv4 address"),
        ("file:hashes.MD5|abc", "no such hash"),
    ],
)
def test_unreadable_input_is_refused_naming_the_problem(
    index: Index, typed: str, problem: str
) -> None:
    with pytest.raises(RejectedInput, match=problem):
        lookup_observable(index=index, text=typed, clearance=Tlp.RED, half_life_days=HALF_LIFE)


def _scored_doc(key: str, *, score: float, version: str) -> IndexDoc:
    kind, _, value = key.partition("|")
    source = SourceEntry(
        stix_id="indicator--00000000-0000-4000-8000-000000000002",
        version=version,
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=80,
        reliability=0.9,
        created_by=None,
        valid_from=None,
    )
    record = IndicatorRecord(
        key=key, kind=kind, value=value, flags=(), sources=(source,), score=score
    )
    return IndexDoc(id=key, version=1, body=indicator_doc(record))


def test_a_lookup_decays_the_score_by_age_and_leaves_the_stored_score(index: Index) -> None:
    key = "domain-name|stale.example"
    index.bulk_upsert(
        schema=INDICATORS,
        docs=[_scored_doc(key, score=80.0, version="2026-10-28T12:00:00.000Z")],
    )
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 30 days after it was last seen
    month = lookup_observable(
        index=index, text="stale.example", clearance=Tlp.GREEN, half_life_days=30, now=now
    )
    assert month.document is not None
    assert month.document["score"] == 80.0 and month.document["decayed_score"] == 40.0
    week = lookup_observable(
        index=index, text="stale.example", clearance=Tlp.GREEN, half_life_days=7.5, now=now
    )
    assert week.document is not None and week.document["decayed_score"] == 5.0


def test_a_lookup_at_the_moment_last_seen_does_not_decay(index: Index) -> None:
    key = "domain-name|fresh.example"
    index.bulk_upsert(
        schema=INDICATORS,
        docs=[_scored_doc(key, score=62.5, version="2026-11-27T12:00:00.000Z")],
    )
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    result = lookup_observable(
        index=index, text="fresh.example", clearance=Tlp.RED, half_life_days=30, now=now
    )
    assert result.document is not None and result.document["decayed_score"] == 62.5
