"""Outbound HTTP from igsc: the SSRF guard and the guarded requests session."""
