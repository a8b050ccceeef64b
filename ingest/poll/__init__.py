"""Polling partners' TAXII 2.1 collections onto the raw topic."""

from igsc.outbound.guard import TargetPolicy, UnsafeTarget
from ingest.poll.poller import CollectionPoller, Topics, checkpoint_key
from ingest.poll.result import PollResult, PollTarget
from ingest.poll.runner import poll_all_once, poll_one, poll_targets

__all__ = [
    "CollectionPoller",
    "PollResult",
    "PollTarget",
    "TargetPolicy",
    "Topics",
    "UnsafeTarget",
    "checkpoint_key",
    "poll_all_once",
    "poll_one",
    "poll_targets",
]
