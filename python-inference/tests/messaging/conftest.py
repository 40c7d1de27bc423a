from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.messaging.broker import CTL, SERVER, RabbitMQNode, require_installed
from tests.messaging.postgres import BIN_DIR, PostgresServer


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started on first use (a few seconds) and stopped at the end. Its
    folder is outside pytest's (which only root may enter): as root, the server runs as the postgres user."""
    if not PostgresServer.available():
        reason = f"{BIN_DIR}/postgres not installed (Debian's postgresql-15; scripts/setup.sh installs it)"
        if os.environ.get("TEST_REQUIRE_INFRA") == "1":
            pytest.fail(f"{reason}, and TEST_REQUIRE_INFRA=1 makes it a failure, not a skip", pytrace=False)
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="pg-tests-"))
    server = PostgresServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
