"""Granular markings: remove fields a reader is not cleared for, keep the rest consistent."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from igsc.tlp import TLP_MARKING_IDS, Tlp

Path = tuple[str | int, ...]
_INDEX = re.compile(r"^\[(\d+)\]$")


def parse_selector(selector: str) -> Path:
    """STIX selector (`a.b.[2].c`) as a path; a malformed part truncates it (hides more)."""
    path: list[str | int] = []
    for part in selector.split("."):
        index = _INDEX.match(part)
        if index:
            path.append(int(index.group(1)))
        elif part and not part.startswith("["):
            path.append(part)
        else:
            break
    return tuple(path)


def _sort_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return isinstance(part, str) and part in container
    return isinstance(container, list) and isinstance(part, int) and part < len(container)


def _delete(obj: Any, path: Path) -> None:
    parent = obj
    for part in path[:-1]:
        if not _has(parent, part):
            return
        parent = parent[part]
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent.pop(last, None)
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        del parent[last]


def _removed_before(prefix: Path, index: int, hidden: set[Path]) -> int:
    """How many elements before `index` of the list at `prefix` are removed."""
    count = 0
    for h in hidden:
        if len(h) == len(prefix) + 1 and h[:-1] == prefix:
            last = h[-1]
            if isinstance(last, int) and last < index:
                count += 1
    return count


def _remap(path: Path, hidden: set[Path]) -> Path | None:
    """Where a surviving selector's path points after the hidden paths are removed."""
    out: list[str | int] = []
    for depth, part in enumerate(path):
        if path[: depth + 1] in hidden:
            return None
        if isinstance(part, int):
            out.append(part - _removed_before(path[:depth], part, hidden))
        else:
            out.append(part)
    return tuple(out)


def _selector_text(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path)


def _kept_markings(markings: list[Any], hidden: set[Path]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for marking in markings:
        selectors = []
        for selector in marking.get("selectors", ()):
            new_path = _remap(parse_selector(selector), hidden)
            if new_path:
                selectors.append(_selector_text(new_path))
        if selectors:
            kept.append({**marking, "selectors": selectors})
    return kept


def redact(obj: dict[str, Any], *, cleared: Callable[[Tlp], bool]) -> dict[str, Any]:
    """obj without the fields whose granular TLP marking the reader is not cleared for."""
    markings = obj.get("granular_markings")
    if not markings:
        return obj
    hidden: set[Path] = set()
    visible_markings: list[Any] = []
    for marking in markings:
        ref = marking.get("marking_ref")
        if ref is None or cleared(TLP_MARKING_IDS.get(ref, Tlp.RED)):
            visible_markings.append(marking)
            continue
        hidden.update(p for p in map(parse_selector, marking.get("selectors", ())) if p)
    if not hidden:
        return obj
    out = copy.deepcopy(obj)
    for path in sorted(hidden, key=_sort_key, reverse=True):
        _delete(out, path)
    kept = _kept_markings(visible_markings, hidden)
    if kept:
        out["granular_markings"] = kept
    else:
        out.pop("granular_markings", None)
    return out
