"""Hypothesis profiles of the entrance property tests (test_entrance_properties.py).

`entrance` (the default: `make test`, `make test-fast`) keeps the file under a minute on two
cores; `make fuzz` sets IGSC_FUZZ_EXAMPLES (examples per round, HYPOTHESIS_PROFILE=entrance-fuzz)
and repeats rounds with fresh seeds for FUZZ_SECONDS. Only tests that ask for these profiles
by name use them; other Hypothesis tests keep Hypothesis's defaults.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile(
    "entrance",
    max_examples=int(os.environ.get("IGSC_ENTRANCE_EXAMPLES", "16")),
    deadline=None,
    suppress_health_check=_SLOW_OK,
    # The same examples every run, so CI's verdict is about the code, not the draw; new
    # ground is explored by `make fuzz`, with a fresh seed per round.
    derandomize=True,
)
settings.register_profile(
    "entrance-fuzz",
    max_examples=int(os.environ.get("IGSC_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=_SLOW_OK,
    print_blob=True,
)
