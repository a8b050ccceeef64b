"""default_enrichers and enrich: order, immutability, and no network at all."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from enricher_records import record, sighting, source

from enrich.enrichers import EnrichSettings, default_enrichers, enrich
from enrich.enrichers.geo import _bundled_geoip2fast
from enrich.record import Enricher, IndicatorRecord

REPO = Path(__file__).resolve().parents[4]


def phishing_ip() -> IndicatorRecord:
    return record(
        kind="ipv4-addr",
        value="8.8.8.8",
        techniques=("T1566.001",),
        sources=(
            source(kill_chain_phases=("mitre-attack:initial-access",)),
            source(partner="cert-ee", country="EE", confidence=None, reliability=0.6),
        ),
        sightings=(sighting(count=3),),
    )


@pytest.fixture(scope="module")
def enrichers() -> tuple[Enricher, ...]:
    return default_enrichers(settings=EnrichSettings(), reliability_of={"cert-ee": 0.9})


def test_default_order_is_geo_domain_attack_score(enrichers: tuple[Enricher, ...]) -> None:
    assert [e.name for e in enrichers] == ["geo", "domain", "attack", "score"]


def test_enrich_fills_every_fact_and_scores_last(enrichers: tuple[Enricher, ...]) -> None:
    out = enrich(record=phishing_ip(), enrichers=enrichers)
    assert (out.geo_country, out.as_org) == ("US", "GOOGLE")
    assert out.technique_names == ("Spearphishing Attachment",)
    assert out.tactics == ("initial-access",)
    assert 0 < out.score <= 100


def test_no_enricher_mutates_its_input(enrichers: tuple[Enricher, ...]) -> None:
    for before in (
        phishing_ip(),
        record(kind="url", value="https://login.example.co.uk/x", techniques=("T1204.001",)),
        record(kind="email-addr", value="ceo@example.com"),
        record(kind="file:hashes.SHA-256", value="e" * 64),
    ):
        snapshot = copy.deepcopy(before)
        for enricher in enrichers:
            enricher.process(record=before)
            assert before == snapshot


def test_enriching_an_enriched_record_again_changes_nothing(
    enrichers: tuple[Enricher, ...],
) -> None:
    # Replays enrich records that already carry every fact: the result must not drift.
    for before in (
        phishing_ip(),
        record(kind="url", value="https://login.example.co.uk/x", techniques=("T1204.001",)),
        record(kind="ipv4-addr", value="10.1.2.3"),
        record(kind="file:hashes.SHA-256", value="e" * 64),
    ):
        once = enrich(record=before, enrichers=enrichers)
        assert enrich(record=once, enrichers=enrichers) == once


def test_enrichment_with_sockets_blocked(no_network: list[str]) -> None:
    with pytest.raises(OSError, match="blocked"):  # the block itself works
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    no_network.clear()
    _bundled_geoip2fast.cache_clear()  # load the bundled geo file again, under the block
    fresh = default_enrichers(settings=EnrichSettings())
    ip = enrich(record=phishing_ip(), enrichers=fresh)
    host = enrich(record=record(kind="url", value="https://www.bbc.co.uk/news"), enrichers=fresh)
    assert (ip.geo_country, ip.technique_names) == ("US", ("Spearphishing Attachment",))
    assert (host.registered_domain, host.public_suffix) == ("bbc.co.uk", "co.uk")
    assert no_network == []


NETNS_SCRIPT = """
import json, socket
from enrich.enrichers import EnrichSettings, default_enrichers, enrich
from enrich.record import Enricher, IndicatorRecord
assert [name for _, name in socket.if_nameindex()] == ["lo"], socket.if_nameindex()
chain = default_enrichers(settings=EnrichSettings())
def one(kind, value, techniques=()):
    rec = IndicatorRecord(key=kind + "|" + value, kind=kind, value=value, flags=(),
                          sources=(), techniques=techniques)
    out = enrich(record=rec, enrichers=chain)
    return [out.geo_country, out.as_org, out.registered_domain, list(out.technique_names)]
print(json.dumps([one("ipv6-addr", "2001:4860:4860::8888"),
                  one("domain-name", "www.bbc.co.uk"),
                  one("url", "http://x.test/", ("T1566.001",))]))
"""


def test_enrichment_in_a_network_namespace_with_only_loopback() -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare(1) is not installed")
    done = subprocess.run(
        [unshare, "-n", sys.executable, "-c", NETNS_SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no permission for a network namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        ["US", "GOOGLE", None, []],
        [None, None, "bbc.co.uk", []],
        [None, None, None, ["Spearphishing Attachment"]],
    ]
