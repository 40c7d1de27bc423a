from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.messaging.broker import CTL, SERVER, RabbitMQNode
from tests.messaging.postgres import PostgresServer


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started on first use (a few seconds) and stopped at the end. Its
    folder is outside pytest's (which only root may enter): as root, the server runs as the postgres user."""
    if not PostgresServer.available():
        pytest.skip("PostgreSQL 15 is not installed (Debian's postgresql-15; scripts/setup.sh installs it)")
    directory = Path(tempfile.mkdtemp(prefix="pg-tests-"))
    server = PostgresServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
