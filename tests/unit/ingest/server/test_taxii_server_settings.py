"""TaxiiServerSettings: a default that serves out of the box, and refusals of bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from igsc.server_settings import (
    SHARED_FEED_ID,
    ApiRootSettings,
    CollectionSettings,
    TaxiiServerSettings,
)
from igsc.settings import Settings


def test_default_serves_one_shared_collection_on_loopback() -> None:
    taxii = Settings().taxii
    assert (taxii.host, taxii.port) == ("127.0.0.1", 8000)
    assert [r.id for r in taxii.api_roots] == ["shared"]
    [collection] = taxii.api_roots[0].collections
    assert collection.id == SHARED_FEED_ID
    assert collection.title == "shared-feed"
    assert collection.media_types == ("application/stix+json;version=2.1",)
    assert taxii.api_roots[0].max_content_length == 10 * 1024 * 1024
    assert taxii.status_retention_s >= 86400
    assert (taxii.page_size_default, taxii.page_size_max) == (100, 1000)


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        TaxiiServerSettings().port = 1


@pytest.mark.parametrize(
    "values",
    [
        {"status_retention_s": 3600},
        {"page_size_default": 500, "page_size_max": 100},
        {"port": 0},
    ],
)
def test_bad_server_values_are_refused(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        TaxiiServerSettings(**values)  # type: ignore[arg-type]


def test_collection_ids_must_be_uuids() -> None:
    with pytest.raises(ValidationError, match="UUID"):
        CollectionSettings(id="shared-feed", title="x")


def test_collection_ids_are_unique_across_api_roots() -> None:
    one = CollectionSettings(id=SHARED_FEED_ID, title="x")
    with pytest.raises(ValidationError, match="one API root"):
        TaxiiServerSettings(
            api_roots=(
                ApiRootSettings(id="a", title="A", collections=(one,)),
                ApiRootSettings(id="b", title="B", collections=(one,)),
            )
        )


def test_the_discovery_path_cannot_be_an_api_root() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        ApiRootSettings(id="taxii2", title="x")
