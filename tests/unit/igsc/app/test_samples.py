"""The STIX builders (igsc.app.corpus) and the demo scenario: valid STIX, admitted, reproducible."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import stix2validator

from igsc.app.corpus import (
    CORPUS_NAMESPACE,
    corpus_with_keys,
    fresh_indicators,
    identity,
    indicator,
    random_indicator,
    sighting,
    stix_id,
    tlp_marking,
)
from igsc.app.samples import SAMPLE_NAMESPACE, SAMPLE_PARTNERS, sample_objects
from igsc.tlp import TLP2_IDS, TLP_BY_NAME, TLP_MARKING_IDS, Tlp
from ingest.convert import admit

_PARTNERS = list(SAMPLE_PARTNERS)
_VALIDATION = stix2validator.ValidationOptions(strict=False)


def _small_corpus(seed: int) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    made = corpus_with_keys(
        partners=_PARTNERS,
        per_partner=60,
        overlap=0.4,
        seed=seed,
        compound_share=0.3,
        sighting_share=0.3,
    )
    return [(partner.id, obj, keys) for partner, obj, keys in made]


def _built_objects() -> list[dict[str, Any]]:
    """Everything the builders make: the demo, a corpus, fresh indicators, each builder alone."""
    partner = SAMPLE_PARTNERS[0]
    made = [obj for objects in sample_objects().values() for obj in objects]
    made += [obj for _, obj, _ in _small_corpus(seed=3)]
    made += [obj for obj, _ in fresh_indicators(partner=partner, count=40, seed=5, tag="t")]
    made += [identity(partner=p) for p in SAMPLE_PARTNERS]
    ind = indicator(
        partner=partner,
        name="one",
        pattern="[ipv4-addr:value = '198.51.100.1']",
        marking=tlp_marking(tlp=Tlp.AMBER_STRICT),
        confidence=50,
        description="described",
        kill_chain_phase="execution",
    )
    made += [ind, sighting(name="s", sighting_of_ref=ind["id"], count=1)]
    return made


_OBJECTS = _built_objects()


def _label(obj: dict[str, Any]) -> str:
    return str(obj["id"])


@pytest.mark.parametrize("obj", _OBJECTS, ids=_label)
def test_every_built_object_passes_the_one_entrance(obj: dict[str, Any]) -> None:
    admitted = admit(obj, default_tlp=Tlp.GREEN)
    assert admitted.typed.id == obj["id"]


@pytest.mark.parametrize("obj", _OBJECTS, ids=_label)
def test_every_built_object_is_valid_for_the_oasis_validator(obj: dict[str, Any]) -> None:
    result = stix2validator.validate_instance(obj, _VALIDATION)
    assert result.is_valid, [str(e) for e in result.errors]


def test_the_builders_cover_every_kind_the_corpus_and_demo_publish() -> None:
    assert {o["type"] for o in _OBJECTS} == {"identity", "indicator", "sighting"}
    assert any(" OR " in o.get("pattern", "") for o in _OBJECTS)  # compound patterns


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    assert _small_corpus(seed=11) == _small_corpus(seed=11)
    assert _small_corpus(seed=11) != _small_corpus(seed=12)


def test_the_corpus_spells_shared_observables_differently_across_partners() -> None:
    by_key: dict[str, set[str]] = {}
    for partner_id, obj, keys in _small_corpus(seed=11):
        if obj["type"] == "indicator":
            first = obj["pattern"].split(" OR ")[0]
            by_key.setdefault(keys[0], set()).add(f"{partner_id}:{first}")
    shared = [spellings for spellings in by_key.values() if len(spellings) == len(_PARTNERS)]
    assert len(shared) >= 20  # 40% of 60 per partner
    assert all(len({s.split(":", 1)[1] for s in spellings}) > 1 for spellings in shared)


def test_sightings_point_at_an_indicator_published_just_before() -> None:
    previous: dict[str, Any] = {}
    sightings = 0
    for _, obj, _ in _small_corpus(seed=11):
        if obj["type"] == "sighting":
            sightings += 1
            assert obj["sighting_of_ref"] == previous["id"]
        previous = obj
    assert sightings > 0


def test_stix_ids_are_uuid5_of_the_namespace_and_name() -> None:
    for namespace in (CORPUS_NAMESPACE, SAMPLE_NAMESPACE):
        made = stix_id(kind="indicator", name="cert-de ind-1", namespace=namespace)
        assert made == f"indicator--{uuid.uuid5(namespace, 'cert-de ind-1')}"


def test_indicators_name_their_partners_identity() -> None:
    de = SAMPLE_PARTNERS[0]
    demo_de = sample_objects()["cert-de"]
    assert {o.get("created_by_ref") for o in demo_de[1:]} == {demo_de[0]["id"]}
    made = random_indicator(partner=de, pattern="[url:value = 'x']", name="n", rng=random.Random(1))
    assert made["created_by_ref"] == identity(partner=de)["id"]


def test_the_tlp_marking_is_tlp2_unless_an_rng_picks_tlp1_green() -> None:
    assert [tlp_marking(tlp=t) for t in Tlp] == [TLP2_IDS[t] for t in Tlp]
    picked = {tlp_marking(tlp=Tlp.GREEN, rng=random.Random(seed)) for seed in range(40)}
    assert {TLP_MARKING_IDS[m] for m in picked} == {Tlp.GREEN}
    assert len(picked) == 2  # both the TLP 1.0 and the TLP 2.0 GREEN definition
    assert tlp_marking(tlp=Tlp.RED, rng=random.Random(0)) == TLP2_IDS[Tlp.RED]


def test_the_demo_marks_each_partners_indicators_with_one_tlp() -> None:
    expected = {"cert-de": "green", "cert-fr": "amber", "cert-nl": "clear"}
    for partner_id, objects in sample_objects().items():
        markings = {m for o in objects for m in o.get("object_marking_refs", [])}
        assert markings == {TLP2_IDS[TLP_BY_NAME[expected[partner_id]]]}
