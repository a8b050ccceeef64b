"""`igsc demo`: the main job on embedded defaults, end to end, with no server."""

from __future__ import annotations

import time
from typing import TextIO

from enrich.pipeline import drain_pipeline
from enrich.schema import INDICATORS
from igsc.pipeline_run import close_ports, enrichers_for, open_ports
from igsc.ports import SearchQuery, SortKey
from igsc.samples import SAMPLE_PARTNERS, sample_objects
from igsc.settings import Settings
from ingest.publish import publish_objects


def run_demo(*, settings: Settings, out: TextIO) -> int:
    """Publish the sample from three CERTs, run the pipeline, and print the merged picture."""
    settings = settings.model_copy(update={"partners": SAMPLE_PARTNERS})
    ports = open_ports(settings)
    started = time.perf_counter()
    out.write(f"igsc demo: embedded state in {settings.home}\n")
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
    out.write(f"done in {time.perf_counter() - started:.2f}s\n")
    close_ports(ports)
    return 0 if page.total > 0 else 1
