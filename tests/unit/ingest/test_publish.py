"""ingest.publish: what a local file may hold, and why its objects were refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from igsc.app.samples import SAMPLE_PARTNERS
from igsc.errors import RejectedInput
from igsc.settings import load_settings
from igsc.wiring import open_ports
from ingest.publish import objects_of, publish_objects

ONE = {"type": "indicator", "id": "indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a"}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"type": "bundle", "id": "bundle--x", "objects": [ONE]}, [ONE]),
        ({"objects": [ONE], "more": False}, [ONE]),  # a TAXII envelope
        ([ONE, ONE], [ONE, ONE]),
        (ONE, [ONE]),  # one STIX object
        ({"type": "bundle", "id": "bundle--x"}, []),  # an empty bundle may omit objects
    ],
)
def test_objects_of_accepts_bundles_envelopes_lists_and_one_object(
    document: object, expected: list[object]
) -> None:
    assert objects_of(document) == expected


@pytest.mark.parametrize("document", [{"hello": "world"}, "text", 5, {"type": 7}])
def test_objects_of_refuses_anything_else(document: object) -> None:
    with pytest.raises(RejectedInput, match="one STIX object"):
        objects_of(document)


def test_publish_result_carries_one_reason_per_rejected_object(tmp_path: Path) -> None:
    settings = load_settings(overrides={"home": tmp_path})
    with open_ports(settings) as ports:
        result = publish_objects(
            settings=settings,
            stream=ports.stream,
            partner=SAMPLE_PARTNERS[0],
            objects=[{"type": "indicator"}, 5],
        )
    assert (result.published, result.rejected) == (0, 2)
    assert len(result.reasons) == 2 and all(result.reasons)
    assert "(no reason given)" not in result.reasons
