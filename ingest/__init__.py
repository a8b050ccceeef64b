"""Ingest: getting STIX from partners onto the raw topic."""
