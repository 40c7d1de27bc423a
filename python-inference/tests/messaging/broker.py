"""A throwaway RabbitMQ node for the tests: Debian's rabbitmq-server run as the current user on free
loopback ports, with its own node name and state folder, configured as the AppHost runs it
(AppHost/Messaging/LocalRabbitMQServerExtensions.cs)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import aio_pika
import pytest

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
USER = "test"


def require_installed(paths: Iterable[Path], *, required: bool) -> None:
    """Skip the test when a broker binary is missing, or fail it when the broker is `required`."""
    missing = [str(path) for path in paths if not path.exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (Debian's rabbitmq-server; scripts/setup.sh installs it)"
    if required:
        pytest.fail(f"{reason}, and TEST_REQUIRE_INFRA=1 makes a missing broker a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RabbitMQNode:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.node_name = f"rabbit-pytest-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.password = secrets.token_hex(12)  # hex: needs no escaping in the URL
        self.log_path = state_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            # Distribution and epmd on loopback, as the AppHost's local broker (docs/security.md).
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1,::1",
            "HOME": str(state_dir),  # the Erlang cookie
            "RABBITMQ_CONFIG_FILE": str(state_dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(state_dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(state_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(state_dir / "log"),
            "RABBITMQ_PID_FILE": str(state_dir / "rabbitmq.pid"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_CONF_ENV_FILE": str(state_dir / "rabbitmq-env.conf"),
            # rabbitmqctl's Erlang VM without busy-waiting schedulers (the server's default already). With them, on
            # two cores beside the C# build, one call took 12-20 s instead of under 2 s: its schedulers spin for
            # the CPU that the one doing the work needs.
            "RABBITMQ_CTL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
        }

    @property
    def url(self) -> str:
        """As Aspire's connection string gives it: no trailing vhost slash."""
        return f"amqp://{USER}:{self.password}@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        (self.state_dir / "rabbitmq.conf").write_text(
            f"default_user = {USER}\ndefault_pass = {self.password}\nloopback_users = none\n"
        )
        (self.state_dir / "enabled_plugins").write_text("[].")
        (self.state_dir / "rabbitmq-env.conf").write_text("")
        with self.log_path.open("wb") as log:
            # Its own session (process group), so stop() reaches the shell script, beam.smp and their helpers.
            self._process = subprocess.Popen(
                [str(SERVER)], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not asyncio.run(self._accepts_connections()):
            if self._process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self._process.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rabbitmq-server accepted no AMQP connection in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.25)

    async def _accepts_connections(self) -> bool:
        try:
            connection = await aio_pika.connect(self.url, timeout=2)
        except Exception:  # noqa: BLE001 - not up yet
            return False
        await connection.close()
        return True

    def ctl(self, *args: str, timeout: float = 30.0) -> str:
        completed = subprocess.run(
            [str(CTL), "-n", self.node_name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return completed.stdout

    def stop(self, timeout: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        # beam.smp leaves after the script; make sure none of this node's is left (epmd, shared, may stay).
        deadline = time.monotonic() + 10
        while self.beam_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in self.beam_pids():
            os.kill(pid, signal.SIGKILL)

    def beam_pids(self) -> list[int]:
        """This node's beam.smp processes, found by the home folder on their command line: its own state folder. (The
        node name is not there: rabbitmq-server passes it in the environment.)"""
        home = [b"-home", str(self.state_dir).encode()]
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if command[0].endswith(b"beam.smp") and any(
                command[i : i + 2] == home for i in range(len(command) - 1)
            ):
                pids.append(int(entry.name))
        return pids

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


class TcpForwarder:
    """A loopback port that refuses connections until `open()`, then forwards them to `target_port`:
    a broker that comes up after the service, without booting a second node."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._thread.start()
        self._server: asyncio.AbstractServer | None = None
        self.accepted = 0  # TCP connections accepted: a client's connection attempts, seen as they happen

    def open(self) -> None:
        start = asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(5)

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._target_port)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
