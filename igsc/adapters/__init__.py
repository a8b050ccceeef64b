"""Adapters for the Stream, Index and State ports: one module each."""
