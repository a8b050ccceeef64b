"""TLP across a record's sources: the least and the most restrictive label.

A merged record keeps each source's TLP; these helpers summarise them for readers. A label
nobody recognises counts as RED (as igsc.tlp does for markings), and a record with no
sources is RED, because nothing says it may be shared.
"""

from __future__ import annotations

from enrich.record import IndicatorRecord
from igsc.tlp import TLP_BY_NAME, Tlp


def tlp_level(*, label: str) -> Tlp:
    """The TLP level of a label such as 'amber+strict' or 'WHITE'; unknown labels are RED."""
    return TLP_BY_NAME.get(label.strip().lower(), Tlp.RED)


def _levels(record: IndicatorRecord) -> list[Tlp]:
    return [tlp_level(label=s.tlp) for s in record.sources]


def record_tlp(*, record: IndicatorRecord) -> str:
    """The least restrictive TLP label among the sources: what at least one partner allows."""
    return min(_levels(record), default=Tlp.RED).label


def max_tlp(*, record: IndicatorRecord) -> str:
    """The most restrictive TLP label among the sources: what every source allows."""
    return max(_levels(record), default=Tlp.RED).label
