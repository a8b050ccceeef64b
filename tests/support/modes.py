"""Settings for running the pipeline embedded or on the real services."""

from __future__ import annotations

from pathlib import Path

from igsc.partners import Partner
from igsc.settings import Settings, load_settings
from tests.conftest import require_service


def pipeline_settings(
    *, mode: str, home: Path, namespace: str, partners: tuple[Partner, ...] = ()
) -> Settings:
    """Embedded SQLite everything, or Kafka + Elasticsearch + Redis for mode 'real'."""
    overrides: dict[str, object] = {"home": home, "namespace": namespace, "partners": partners}
    if mode == "real":
        overrides.update(
            stream_url=f"kafka://{require_service('kafka')}",
            index_url=f"http://{require_service('elasticsearch')}",
            state_url=f"redis://{require_service('redis')}/0",
        )
    return load_settings(overrides=overrides)
