"""`igsc demo`: the main job on embedded defaults, end to end, with no server."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from typing import Any, TextIO

from enrich.lookup import candidate_keys, highest_tlp
from enrich.pipeline import enrichers_for
from enrich.schema import INDICATORS
from igsc.app.samples import SAMPLE_PARTNERS, sample_objects
from igsc.app.stages import drain_pipeline
from igsc.ports import SearchQuery, SortKey
from igsc.settings import Settings, default_home
from igsc.tlp import Tlp
from igsc.wiring import open_ports
from ingest.publish import publish_objects

_TLP_OPTION = {
    Tlp.CLEAR: "clear",
    Tlp.GREEN: "green",
    Tlp.AMBER: "amber",
    Tlp.AMBER_STRICT: "amber+strict",
    Tlp.RED: "red",
}


def lookup_command(*, settings: Settings, hit: Mapping[str, Any]) -> str:
    """The `igsc lookup` command line that finds this document, with the clearance it needs."""
    value, key = str(hit["value"]), str(hit["key"])
    text = value if key in candidate_keys(text=value) else key
    home = ""
    if settings.home != default_home():
        home = f"IGSC_HOME={shlex.quote(str(settings.home))} "
    level = _TLP_OPTION[highest_tlp(hit)]
    return f"{home}igsc lookup {shlex.quote(text)} --tlp {level}"


def run_demo(*, settings: Settings, out: TextIO) -> int:
    """Publish the sample from three CERTs, run the pipeline, and print the merged picture."""
    settings = settings.model_copy(update={"partners": SAMPLE_PARTNERS})
    started = time.perf_counter()
    out.write(f"igsc demo: embedded state in {settings.home}\n")
    with open_ports(settings) as ports:
        for partner in SAMPLE_PARTNERS:
            result = publish_objects(
                settings=settings,
                stream=ports.stream,
                partner=partner,
                objects=sample_objects()[partner.id],
            )
            out.write(f"  {partner.id} ({partner.country}) published {result.published} objects\n")
        handled = drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
        out.write(f"  pipeline: {handled}\n\n")
        ports.index.refresh(schema=INDICATORS)
        page = ports.index.search(
            schema=INDICATORS, query=SearchQuery(sort=(SortKey("country_count", "desc"),), size=50)
        )
        out.write(f"{page.total} canonical observables:\n")
        for hit in page.hits:
            flags = f"  flags={','.join(hit['flags'])}" if hit["flags"] else ""
            out.write(
                f"  {hit['kind']:<22} {hit['value']:<40} countries={','.join(hit['countries']):<9}"
                f" score={hit['score']:5.1f}{flags}\n"
            )
        facets = ports.index.facets(schema=INDICATORS, field="countries", query=SearchQuery())
        out.write(f"\nobservables per country: {facets}\n")
        cross = ports.index.search(
            schema=INDICATORS, query=SearchQuery(ranges={"country_count": (3, None)}, size=50)
        )
        out.write(f"cross-border (3+ countries): {cross.total}\n")
        if page.hits:
            # The sample mixes TLP levels: a lookup at the default clearance would be withheld.
            out.write(
                "\nlook one up (the clearance must cover every source's TLP):\n"
                f"  {lookup_command(settings=settings, hit=page.hits[0])}\n"
            )
    out.write(f"done in {time.perf_counter() - started:.2f}s\n")
    return 0 if page.total > 0 else 1
