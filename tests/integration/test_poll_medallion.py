"""Polling the OASIS reference TAXII 2.1 server (medallion) with the real taxii2-client."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from igsc.settings import Settings
from igsc.wiring import build_state, build_stream
from ingest.poll import PollTarget, checkpoint_key, poll_all_once, poll_one
from tests.unit.ingest.poll.taxii_fakes import (
    COLLECTION,
    Medallion,
    indicator,
    make_settings,
    medallion,
    partner,
    read_topic,
)

PASSWORD = "medallion-pw"


def _settings(home: Path, m: Medallion, *, url: str, password: str = PASSWORD) -> Settings:
    auth = {"kind": "basic", "username": "igsc", "password": {"value": password}}
    return make_settings(
        home=home, partners=[partner("cert-m", url, auth=auth)], page_size=100, max_retries=1
    )


def test_medallion_every_object_once_then_only_new_ones_then_nothing(tmp_path: Path) -> None:
    initial = [indicator(i) for i in range(250)]
    with medallion(workdir=tmp_path, objects=initial, password=PASSWORD) as m:
        settings = _settings(tmp_path / "home", m, url=m.discovery_url)
        stream, state = build_stream(settings), build_state(settings)
        raw_topic = f"{settings.namespace}.raw"
        key = checkpoint_key(partner="cert-m", api_root=m.api_root_url, collection=COLLECTION)

        (first,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert first.error is None, first.error
        assert (first.pages, first.published, first.rejected) == (3, 250, 0)
        counts = Counter(e["object"]["id"] for e in read_topic(stream, raw_topic))
        assert set(counts) == {o["id"] for o in initial} and set(counts.values()) == {1}
        expected = m.last_date_added(added_after=None)
        assert expected is not None
        assert first.new_checkpoint == expected
        assert state.get_many(keys=[key])[key] == expected.encode()

        added = [indicator(5000 + i) for i in range(30)]
        m.add(added)
        (second,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert second.error is None, second.error
        assert second.published == 30 and second.old_checkpoint == expected
        envelopes = read_topic(stream, raw_topic)
        assert len(envelopes) == 280
        counts = Counter(e["object"]["id"] for e in envelopes)
        assert set(counts.values()) == {1}
        assert {o["id"] for o in added} <= set(counts)
        assert second.new_checkpoint == m.last_date_added(added_after=expected)

        (third,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert third.error is None and third.published == 0
        assert third.new_checkpoint == third.old_checkpoint == second.new_checkpoint
        assert len(read_topic(stream, raw_topic)) == 280


def test_medallion_api_root_url_shares_the_discovery_checkpoint(tmp_path: Path) -> None:
    with medallion(workdir=tmp_path, objects=[indicator(i) for i in range(5)]) as m:
        settings = _settings(tmp_path / "home", m, url=m.api_root_url, password="s3cret")
        stream, state = build_stream(settings), build_state(settings)
        target = PollTarget(partner="cert-m", start_url=m.api_root_url, collection=COLLECTION)
        result = poll_one(settings=settings, stream=stream, state=state, target=target)
        assert result.error is None and result.published == 5
        assert result.api_root == m.api_root_url
        key = checkpoint_key(partner="cert-m", api_root=m.api_root_url, collection=COLLECTION)
        assert state.get_many(keys=[key])[key].decode() == result.new_checkpoint


def test_medallion_wrong_password_is_an_auth_error_and_publishes_nothing(tmp_path: Path) -> None:
    with medallion(workdir=tmp_path, objects=[indicator(1)], password=PASSWORD) as m:
        settings = _settings(tmp_path / "home", m, url=m.discovery_url, password="wrong")
        stream, state = build_stream(settings), build_state(settings)
        (result,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert result.error is not None and "HTTP 401" in result.error
        assert read_topic(stream, f"{settings.namespace}.raw") == []


def test_medallion_objects_added_at_one_instant_page_through_without_loss(
    tmp_path: Path,
) -> None:
    """medallion stamps a whole POST with one date_added: ties span page boundaries."""
    with medallion(workdir=tmp_path, objects=[], password=PASSWORD) as m:
        auth = {"kind": "basic", "username": "igsc", "password": {"value": PASSWORD}}
        settings = make_settings(
            home=tmp_path / "home", partners=[partner("cert-m", m.discovery_url, auth=auth)],
            page_size=10,
        )  # fmt: skip
        stream, state = build_stream(settings), build_state(settings)
        added = [indicator(9000 + i) for i in range(30)]
        m.add(added)
        (first,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert first.error is None and (first.pages, first.published) == (3, 30)
        assert first.new_checkpoint == m.last_date_added(added_after=None)
        (second,) = poll_all_once(settings=settings, stream=stream, state=state)
        assert second.published == 0 and second.new_checkpoint == first.new_checkpoint
        ids = [e["object"]["id"] for e in read_topic(stream, f"{settings.namespace}.raw")]
        assert sorted(ids) == sorted(o["id"] for o in added)
