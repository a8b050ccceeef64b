"""One healthy partner and four misbehaving ones, polled at once: nobody waits on anybody."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from igsc.wiring import build_state, build_stream
from ingest.poll import checkpoint_key, poll_all_once
from tests.unit.ingest.poll.taxii_fakes import (
    COLLECTION,
    LocalServer,
    Reply,
    Seen,
    TinyTaxii,
    indicator,
    make_settings,
    partner,
    read_topic,
)

READ_TIMEOUT_S = 1.5
OLD_CHECKPOINT = b"2024-01-01T00:00:00.000000Z"


def _misbehaving(reply: Callable[[], Reply]) -> Callable[[Seen], Reply]:
    """A TAXII server whose discovery works but whose objects endpoint misbehaves."""
    tiny = TinyTaxii([indicator(i) for i in range(3)])

    def app(seen: Seen) -> Reply:
        return reply() if seen.path.endswith("/objects/") else tiny(seen)

    app.tiny = tiny  # type: ignore[attr-defined]
    return app


def test_one_partner_failing_hanging_or_sending_garbage_never_delays_the_others(
    tmp_path: Path,
) -> None:
    healthy = TinyTaxii([indicator(i) for i in range(40)])
    behaviours = {
        "errors": _misbehaving(lambda: Reply(status=500, body={"title": "boom"})),
        "throttled": _misbehaving(
            lambda: Reply(status=429, body={"title": "slow"}, headers={"Retry-After": "1"})
        ),
        "garbage": _misbehaving(lambda: Reply(body=b"<html>not json")),
        "hangs": _misbehaving(lambda: Reply(body={}, delay_s=READ_TIMEOUT_S * 3)),
    }
    with ExitStack() as stack:
        servers = {"healthy": stack.enter_context(LocalServer(healthy))}
        healthy.base = servers["healthy"].base
        for name, app in behaviours.items():
            servers[name] = stack.enter_context(LocalServer(app))
            app.tiny.base = servers[name].base  # type: ignore[attr-defined]
        settings = make_settings(
            home=tmp_path,
            partners=[partner(name, f"{s.base}/taxii2/") for name, s in servers.items()],
            connect_timeout_s=1.0,
            read_timeout_s=READ_TIMEOUT_S,
            max_retries=1,
            backoff_base_s=0.05,
            concurrency=5,
        )
        stream, state = build_stream(settings), build_state(settings)
        keys = {
            name: checkpoint_key(partner=name, api_root=f"{s.base}/api/", collection=COLLECTION)
            for name, s in servers.items()
        }
        state.put_many(items={keys[name]: OLD_CHECKPOINT for name in behaviours})

        started = time.monotonic()
        results = {
            r.partner: r for r in poll_all_once(settings=settings, stream=stream, state=state)
        }
        wall = time.monotonic() - started

    for name, result in results.items():
        print(f"{name:10s} {result.duration_s:6.2f} s  error={result.error}")
    print(f"poll_all_once wall time {wall:.2f} s")

    good = results["healthy"]
    assert good.error is None and good.published == 40
    assert good.duration_s < 3.0
    # The hanging partner really used its read timeout on each of its two attempts...
    assert results["hangs"].duration_s >= 2 * READ_TIMEOUT_S
    # ...and the healthy one finished long before it.
    assert good.duration_s < results["hangs"].duration_s / 2
    assert results["throttled"].duration_s >= 1.0  # waited Retry-After between its attempts
    for name in behaviours:
        assert results[name].error is not None, name
        assert results[name].published == 0
        stored = state.get_many(keys=[keys[name]])[keys[name]]
        assert stored == OLD_CHECKPOINT, name
    assert "HTTP 500" in str(results["errors"].error)
    assert "HTTP 429" in str(results["throttled"].error)
    assert "Timeout" in str(results["hangs"].error)
    envelopes = read_topic(stream, f"{settings.namespace}.raw")
    assert {e["partner"] for e in envelopes} == {"healthy"}
    assert len(envelopes) == 40
