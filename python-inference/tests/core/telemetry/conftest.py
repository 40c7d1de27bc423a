from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.telemetry.collector import OtlpCollector


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    collector = OtlpCollector()
    collector.thread.start()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()
