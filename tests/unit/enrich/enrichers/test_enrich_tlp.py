"""record_tlp and max_tlp: the least and most restrictive TLP among a record's sources."""

from __future__ import annotations

from enricher_records import record, source

from enrich.enrichers.tlp import max_tlp, record_tlp


def test_least_and_most_restrictive_labels() -> None:
    rec = record(
        kind="domain-name",
        value="x.example",
        sources=(
            source(partner="a", tlp="amber+strict"),
            source(partner="b", tlp="green"),
            source(partner="c", tlp="red"),
        ),
    )
    assert record_tlp(record=rec) == "green"
    assert max_tlp(record=rec) == "red"


def test_white_is_clear_and_case_is_ignored() -> None:
    rec = record(
        kind="url",
        value="http://x.example/",
        sources=(source(partner="a", tlp="WHITE"), source(partner="b", tlp="Amber")),
    )
    assert (record_tlp(record=rec), max_tlp(record=rec)) == ("clear", "amber")


def test_unknown_labels_and_no_sources_count_as_red() -> None:
    odd = record(kind="domain-name", value="x.example", sources=(source(tlp="pap:red"),))
    assert record_tlp(record=odd) == "red"
    empty = record(kind="domain-name", value="x.example", sources=())
    assert (record_tlp(record=empty), max_tlp(record=empty)) == ("red", "red")
