"""ScoreEnricher and decayed_score: bounded, monotonic, deterministic, halving at half-life."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from enricher_records import record, sighting, source
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from enrich.enrichers import EnrichSettings, ScoreWeights
from enrich.enrichers.score import ScoreEnricher, decayed_score
from enrich.record import IndicatorRecord

SCORER = ScoreEnricher(settings=EnrichSettings())


def score(rec: IndicatorRecord, scorer: ScoreEnricher = SCORER) -> float:
    return scorer.process(record=rec).score


def base() -> IndicatorRecord:
    return record(kind="domain-name", value="c2.example.net", sources=(source(),))


def test_more_partners_raise_the_score() -> None:
    one = base()
    two = replace(one, sources=(*one.sources, source(partner="cert-it", country="FR")))
    three = replace(two, sources=(*two.sources, source(partner="cert-es", country="FR")))
    assert score(one) < score(two) < score(three)


def test_more_countries_raise_the_score() -> None:
    same = replace(base(), sources=(source(), source(partner="cert-fr-2", country="FR")))
    spread = replace(base(), sources=(source(), source(partner="cert-fr-2", country="BE")))
    assert score(same) < score(spread)


def test_more_sightings_raise_the_score_with_diminishing_returns() -> None:
    counts = [0, 1, 5, 50]
    scores = [score(replace(base(), sightings=(sighting(count=n),) if n else ())) for n in counts]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
    one_more_early = score(replace(base(), sightings=(sighting(count=2),))) - scores[1]
    one_more_late = score(replace(base(), sightings=(sighting(count=51),))) - scores[3]
    assert one_more_early > one_more_late


def test_higher_confidence_raises_the_score() -> None:
    scores = [score(replace(base(), sources=(source(confidence=c),))) for c in (0, 15, 50, 85, 100)]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)


def test_missing_confidence_counts_as_the_default() -> None:
    missing = replace(base(), sources=(source(confidence=None),))
    fifty = replace(base(), sources=(source(confidence=50),))
    assert score(missing) == score(fifty)


def test_partner_registry_reliability_overrides_the_stamped_one() -> None:
    trusted = ScoreEnricher(settings=EnrichSettings(), reliability_of={"cert-fr": 1.0})
    doubted = ScoreEnricher(settings=EnrichSettings(), reliability_of={"cert-fr": 0.1})
    assert score(base(), doubted) < score(base()) < score(base(), trusted)


def test_mean_mode_lets_an_unreliable_partner_pull_reliability_down() -> None:
    reliable = replace(base(), sources=(source(reliability=0.9),))
    mixed = replace(
        reliable, sources=(*reliable.sources, source(partner="cert-x", reliability=0.1))
    )
    only = ScoreWeights(confidence=0, reliability=1, partners=0, countries=0, sightings=0)
    mean_only = ScoreEnricher(settings=EnrichSettings(reliability_mode="mean", score_weights=only))
    max_only = ScoreEnricher(settings=EnrichSettings(score_weights=only))
    assert score(reliable, mean_only) == 90.0
    assert score(mixed, mean_only) == 50.0  # (0.9 + 0.1) / 2
    assert score(mixed, max_only) == 90.0


def test_source_order_does_not_change_the_score() -> None:
    sources = (
        source(partner="cert-fr", confidence=70, reliability=0.7),
        source(partner="cert-de", country="DE", confidence=None, reliability=0.3),
        source(partner="cert-ee", country="EE", confidence=95, reliability=0.9),
    )
    results = {score(replace(base(), sources=p)) for p in itertools.permutations(sources)}
    assert len(results) == 1


def test_everything_maximal_scores_near_100_and_nothing_scores_low() -> None:
    best = replace(
        base(),
        sources=tuple(
            source(partner=f"p{i}", country=f"C{i}", confidence=100, reliability=1.0)
            for i in range(12)
        ),
        sightings=(sighting(count=10_000),),
    )
    worst = replace(base(), sources=(source(confidence=0, reliability=0.0),))
    assert 99.0 < score(best) <= 100.0
    assert 0.0 <= score(worst) < 20.0


@settings(max_examples=200, deadline=None)
@given(
    confidences=st.lists(st.one_of(st.none(), st.integers(-50, 200)), min_size=0, max_size=6),
    reliabilities=st.lists(st.floats(-1, 2, allow_nan=False), min_size=6, max_size=6),
    counts=st.lists(st.integers(-5, 10**9), max_size=4),
    mode=st.sampled_from(["max", "mean"]),
)
def test_score_is_always_within_0_and_100(
    confidences: list[int | None], reliabilities: list[float], counts: list[int], mode: str
) -> None:
    scorer = ScoreEnricher(settings=EnrichSettings(reliability_mode=mode))  # type: ignore[arg-type]
    rec = replace(
        base(),
        sources=tuple(
            source(partner=f"p{i}", confidence=c, reliability=reliabilities[i])
            for i, c in enumerate(confidences)
        ),
        sightings=tuple(sighting(partner=f"s{i}", count=n) for i, n in enumerate(counts)),
    )
    assert 0.0 <= score(rec, scorer) <= 100.0


def test_weights_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match="sum to 1"):
        ScoreWeights(confidence=0.5)
    ok = ScoreWeights(confidence=0.2, reliability=0.2, partners=0.2, countries=0.2, sightings=0.2)
    assert ok.confidence == 0.2


def test_only_confidence_weighted_scores_confidence_alone() -> None:
    weights = ScoreWeights(confidence=1, reliability=0, partners=0, countries=0, sightings=0)
    scorer = ScoreEnricher(settings=EnrichSettings(score_weights=weights))
    assert score(replace(base(), sources=(source(confidence=73),)), scorer) == 73.0


# ---------------------------------------------------------------- read-time decay

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_decay_halves_at_the_half_life() -> None:
    seen = "2026-10-28T12:00:00.000Z"  # 30 days before NOW
    assert decayed_score(score=80.0, last_seen=seen, now=NOW, half_life_days=30) == (
        pytest.approx(40.0)
    )
    two = "2026-09-28T12:00:00Z"
    assert decayed_score(score=80.0, last_seen=two, now=NOW, half_life_days=30) == (
        pytest.approx(20.0)
    )


def test_decay_is_none_when_just_seen_unknown_or_in_the_future() -> None:
    just = "2026-11-27T12:00:00.000Z"
    assert decayed_score(score=80.0, last_seen=just, now=NOW, half_life_days=30) == 80
    assert decayed_score(score=80.0, last_seen=None, now=NOW, half_life_days=30) == 80
    future = "2026-12-02T12:00:00Z"
    assert decayed_score(score=80.0, last_seen=future, now=NOW, half_life_days=30) == 80


def test_decay_reads_offsets_and_a_naive_now_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    got = decayed_score(
        score=50.0, last_seen="2026-11-20T13:00:00+01:00", now=naive_now, half_life_days=7
    )
    assert got == pytest.approx(25.0)


def test_decay_refuses_a_non_positive_half_life() -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        decayed_score(score=50.0, last_seen="2026-11-20T12:00:00Z", now=NOW, half_life_days=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cert-de", "cert-fr", "cert-nl"]),
            st.sampled_from([None, 30, 95]),
            st.sampled_from([0.4, 0.9]),
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.integers(0, 20), max_size=2),
)
def test_a_scorer_that_has_seen_other_records_scores_like_a_fresh_one(
    reports: list[tuple[str, int | None, float]], sighting_counts: list[int]
) -> None:
    rec = base()
    rec = replace(
        rec,
        sources=tuple(
            source(partner=p, country=p[-2:].upper(), confidence=c, reliability=r)
            for p, c, r in reports
        ),
        sightings=tuple(
            sighting(partner=f"cert-{i}", count=n) for i, n in enumerate(sighting_counts)
        ),
    )
    # Near misses: the same reports but one field off, each of which changes the score.
    near = [
        replace(rec, sources=tuple(replace(s, reliability=0.1) for s in rec.sources)),
        replace(rec, sources=tuple(replace(s, confidence=10) for s in rec.sources)),
        replace(rec, sources=tuple(replace(s, country="BE") for s in rec.sources)),
        replace(rec, sightings=tuple(replace(g, count=g.count + 7) for g in rec.sightings)),
    ]
    warmed = ScoreEnricher(settings=EnrichSettings())
    for other in near:
        warmed.process(record=other)
    assert score(rec, warmed) == score(rec, ScoreEnricher(settings=EnrichSettings()))


def test_withdrawn_reports_add_nothing_to_the_score() -> None:
    other = source(partner="cert-it", country="IT", confidence=100, reliability=1.0)
    arrived = replace(base().sources[0], received_at="2026-10-05T00:00:00Z")
    alone = replace(base(), sources=(arrived,))
    revoked = replace(alone, sources=(arrived, replace(other, revoked=True)))
    expired = replace(alone, sources=(arrived, replace(other, valid_until="2026-10-04T00:00:00Z")))
    still_valid = replace(
        alone, sources=(arrived, replace(other, valid_until="2026-10-06T00:00:00Z"))
    )
    assert score(revoked) == score(alone) == score(expired)
    assert score(still_valid) > score(alone)
