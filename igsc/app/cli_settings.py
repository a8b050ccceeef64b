"""The settings every `igsc` subcommand runs with (shared by the command modules)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from igsc.settings import Settings, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from --config, else $IGSC_CONFIG, else defaults; IGSC_* variables win."""
    config = args.config or os.environ.get("IGSC_CONFIG")
    settings = load_settings(config_file=Path(config) if config else None)
    logging.getLogger().setLevel(settings.log_level)
    return settings
