"""The benchmark modules are scripts run by `make bench`; pytest must never collect them."""

collect_ignore_glob = ["*.py"]
