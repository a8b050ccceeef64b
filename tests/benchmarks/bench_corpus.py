"""The benchmark corpus on disk: one pre-serialised feed file per partner, cached by size/seed.

The expected number of index documents is the number of distinct canonical observable keys
the generator put into patterns; a sample of patterns is checked against the pipeline's own
parser (enrich.patterns + enrich.observables) so the two can never drift apart silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from enrich.observables import observables_from
from enrich.patterns import parse_pattern
from igsc.app import corpus as corpus_module
from igsc.app.corpus import corpus_with_keys
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.partners import Partner

COLLECTION = "7d2b5a62-3f0e-4c1e-9b8a-5d0c6e4f1a2b"
OVERLAP = 0.3
_CHECKED_PATTERNS = 3000
EXTRA_PARTNER = Partner(
    id="cert-pl",
    name="CERT PL (bench)",
    country="PL",
    sharing_groups=("eu",),
    reliability=0.6,
    default_tlp="green",
)


def bench_partners(count: int) -> tuple[Partner, ...]:
    """3 or 4 partners in different countries."""
    return (*SAMPLE_PARTNERS, EXTRA_PARTNER)[: max(1, min(count, 4))]


@dataclass(frozen=True, slots=True)
class CorpusFiles:
    """Where each partner's feed file is, and what the corpus holds."""

    files: dict[str, Path]  # partner id -> file, one JSON object per line
    indicators: int
    objects: int
    expected_keys: int
    per_kind: dict[str, int]
    compound_indicators: int
    generated_s: float


def _fingerprint(*, indicators: int, partners: int, seed: int) -> str:
    source = Path(corpus_module.__file__).read_bytes() + Path(__file__).read_bytes()
    text = f"{indicators}|{partners}|{seed}|{OVERLAP}|".encode() + source
    return hashlib.sha256(text).hexdigest()[:12]


def build_corpus(*, indicators: int, partners: int, seed: int, cache: Path) -> CorpusFiles:
    """Generate (or reuse) the per-partner feed files for `indicators` indicators in total."""
    import time

    people = bench_partners(partners)
    tag = _fingerprint(indicators=indicators, partners=len(people), seed=seed)
    folder = cache / f"corpus-{indicators}-{len(people)}-{seed}-{tag}"
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = orjson.loads(meta_path.read_bytes())
        meta["files"] = {k: Path(v) for k, v in meta["files"].items()}
        return CorpusFiles(**meta)
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    handles = {p.id: (folder / f"{p.id}.jsonl").open("wb") for p in people}
    keys: set[str] = set()
    compound = objects = count = 0
    checked: list[tuple[str, tuple[str, ...]]] = []
    try:
        for partner, obj, obj_keys in corpus_with_keys(
            partners=list(people), per_partner=indicators // len(people), overlap=OVERLAP, seed=seed
        ):
            handles[partner.id].write(orjson.dumps(obj) + b"\n")
            objects += 1
            if obj["type"] == "indicator":
                count += 1
                keys.update(obj_keys)
                compound += len(obj_keys) > 1
                if len(checked) < _CHECKED_PATTERNS:
                    checked.append((obj["pattern"], obj_keys))
    finally:
        for handle in handles.values():
            handle.close()
    check_keys(checked)
    per_kind: dict[str, int] = {}
    for key in keys:
        kind = key.split("|", 1)[0]
        per_kind[kind] = per_kind.get(kind, 0) + 1
    files = CorpusFiles(
        files={p.id: folder / f"{p.id}.jsonl" for p in people},
        indicators=count,
        objects=objects,
        expected_keys=len(keys),
        per_kind=dict(sorted(per_kind.items())),
        compound_indicators=compound,
        generated_s=round(time.perf_counter() - started, 2),
    )
    meta = _as_dict(files)
    meta["files"] = {k: str(v) for k, v in files.files.items()}
    meta_path.write_bytes(orjson.dumps(meta))
    return files


def _as_dict(files: CorpusFiles) -> dict[str, Any]:
    return {name: getattr(files, name) for name in CorpusFiles.__slots__}


def check_keys(checked: list[tuple[str, tuple[str, ...]]]) -> None:
    """Fail loudly if the generator's keys differ from what the pipeline's parser extracts."""
    for pattern, expected in checked:
        found = tuple(o.key for o in observables_from(parsed=parse_pattern(pattern=pattern)))
        if set(found) != set(expected):
            raise AssertionError(f"corpus keys {expected} != pipeline keys {found} for {pattern}")


def sample_objects(*, files: CorpusFiles, count: int) -> list[dict[str, Any]]:
    """The first objects of every partner's feed, `count` in all (round-robin over partners)."""
    per = -(-count // len(files.files))
    out: list[dict[str, Any]] = []
    for path in files.files.values():
        with path.open("rb") as handle:
            for _, line in zip(range(per), handle, strict=False):
                out.append(orjson.loads(line))
    return out[:count]
