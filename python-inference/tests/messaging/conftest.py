from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.messaging.broker import CTL, SERVER, RabbitMQNode, require_installed
from tests.messaging.postgres import BIN_DIR, PostgresServer


# The session's servers, started before the first test that uses one (see pytest_collection_finish): each a started
# server, or the error its start raised, which the fixture raises in the tests that use it.
_started: dict[str, RabbitMQNode | PostgresServer | Exception] = {}
_Server = TypeVar("_Server", RabbitMQNode, PostgresServer)


def _start_broker() -> RabbitMQNode:
    return _started_in(Path(tempfile.mkdtemp(prefix="rabbitmq-tests-")), RabbitMQNode)


def _start_postgres() -> PostgresServer:
    return _started_in(Path(tempfile.mkdtemp(prefix="pg-tests-")), PostgresServer)


def _started_in(directory: Path, server_type: type[_Server]) -> _Server:
    """A server of `server_type` started in `directory`; the folder is removed when the start fails."""
    server = server_type(directory)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server


_starters: dict[str, tuple[Callable[[], bool], Callable[[], RabbitMQNode | PostgresServer]]] = {
    "broker": (lambda: SERVER.exists() and CTL.exists(), _start_broker),
    "postgres": (PostgresServer.available, _start_postgres),
}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the servers the collected tests use before the first test runs. A start takes seconds, and tens of them
    beside the C# build in test.sh; in the fixture it would count against the first test's time limit (pytest-timeout
    counts set-up), and that test could fail for being first. A server that is not installed is left to its fixture,
    which skips or fails the tests that use it and says why."""
    used = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    for name, (installed, start) in _starters.items():
        if name in used and name not in _started and installed():
            try:
                _started[name] = start()
            except Exception as error:  # noqa: BLE001 - raised again in each test that uses it
                _started[name] = error


def pytest_sessionfinish() -> None:
    """Stop a server whose fixture never ran (every test that would use it skipped before set-up)."""
    for server in _started.values():
        if not isinstance(server, Exception):
            _stop(server)
    _started.clear()


def _take(name: str) -> RabbitMQNode | PostgresServer:
    server = _started.get(name) or _starters[name][1]()  # started here when the hook did not (a test asked late)
    if isinstance(server, Exception):
        raise RuntimeError(f"the session's {name} did not start") from server
    _started[name] = server
    return server


def _stop(server: RabbitMQNode | PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.state_dir if isinstance(server, RabbitMQNode) else server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def broker() -> Iterator[RabbitMQNode]:
    """One RabbitMQ node for the session, started before the first test that uses it (about 5 s) and stopped at the
    end.

    Without rabbitmq-server the tests that use it skip, unless TEST_REQUIRE_INFRA=1 (test.sh sets it: set-up installs
    the broker, so its absence there is a broken machine, not an optional part): then they fail, saying why."""
    require_installed((SERVER, CTL), required=os.environ.get("TEST_REQUIRE_INFRA") == "1")
    node = _take("broker")
    assert isinstance(node, RabbitMQNode)
    yield node
    del _started["broker"]
    _stop(node)
    assert not node.beam_pids(), f"beam.smp of {node.node_name} still running"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started before the first test that uses it (a few seconds) and stopped
    at the end. Its folder is outside pytest's (which only root may enter): as root, the server runs as the postgres
    user."""
    if not PostgresServer.available():
        reason = f"{BIN_DIR}/postgres not installed (Debian's postgresql-15; scripts/setup.sh installs it)"
        if os.environ.get("TEST_REQUIRE_INFRA") == "1":
            pytest.fail(f"{reason}, and TEST_REQUIRE_INFRA=1 makes it a failure, not a skip", pytrace=False)
        pytest.skip(reason)
    server = _take("postgres")
    assert isinstance(server, PostgresServer)
    yield server
    del _started["postgres"]
    _stop(server)
