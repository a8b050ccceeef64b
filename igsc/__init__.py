"""igsc: cross-border cyber threat intelligence sharing and joint response."""

__version__ = "0.1.0"
