"""`make bench`: a runnable benchmark package (python -m tests.benchmarks.run), not tests."""
