from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.messaging.broker import CTL, SERVER, RabbitMQNode


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQNode]:
    """One RabbitMQ node for the session, started on first use (about 5 s) and stopped at the end."""
    if not (SERVER.exists() and CTL.exists()):
        pytest.skip(f"{SERVER} is not installed (Debian's rabbitmq-server; scripts/setup.sh installs it)")
    node = RabbitMQNode(tmp_path_factory.mktemp("rabbitmq"))
    node.start()
    try:
        yield node
    finally:
        node.stop()
        assert not node.beam_pids(), f"beam.smp of {node.node_name} still running"
