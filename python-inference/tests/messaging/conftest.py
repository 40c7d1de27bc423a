from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.messaging.broker import CTL, SERVER, RabbitMQNode, require_installed


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQNode]:
    """One RabbitMQ node for the session, started on first use (about 5 s) and stopped at the end.

    Without rabbitmq-server the tests that use it skip, unless TEST_REQUIRE_INFRA=1 (test.sh sets it: set-up installs
    the broker, so its absence there is a broken machine, not an optional part): then they fail, saying why."""
    require_installed((SERVER, CTL), required=os.environ.get("TEST_REQUIRE_INFRA") == "1")
    node = RabbitMQNode(tmp_path_factory.mktemp("rabbitmq"))
    node.start()
    try:
        yield node
    finally:
        node.stop()
        assert not node.beam_pids(), f"beam.smp of {node.node_name} still running"
