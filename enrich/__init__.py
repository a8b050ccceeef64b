"""Enrich stage: parse STIX patterns and turn indicators into canonical observables."""
