"""Respond: cross-border rules open incidents; playbooks hand each country a ticket."""
