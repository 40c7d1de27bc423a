"""A real PostgreSQL server for the tests, from the machine's binaries (Debian's postgresql-15): initdb into a
temporary folder, started on a free loopback port, stopped by its process id. PostgreSQL refuses to run as root, so
as root the folder belongs to the `postgres` user and both programs run through `setpriv`, which execs in place (the
process started is the server). Trust authentication on 127.0.0.1, but for the roles a test restricts (`restrict`): it
lives for one test session."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

BIN_DIR = Path(os.environ.get("POSTGRES_BIN_DIR", "/usr/lib/postgresql/15/bin"))
SERVICE_USER = "postgres"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = _free_port()
        self._as_root = os.geteuid() == 0
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return (BIN_DIR / "postgres").exists() and (os.geteuid() != 0 or shutil.which("setpriv") is not None)

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(BIN_DIR / program), *args]
        if self._as_root:
            command = ["setpriv", f"--reuid={SERVICE_USER}", f"--regid={SERVICE_USER}", "--init-groups", *command]
        return command

    def start(self) -> None:
        if self._as_root:
            shutil.chown(self.directory, SERVICE_USER, SERVICE_USER)
        subprocess.run(
            self._command("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                          "--locale=C", "--no-sync", "--no-instructions"),
            check=True, capture_output=True, cwd="/tmp",
        )
        log = open(self.directory / "server.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
        self._process = subprocess.Popen(
            self._command("postgres", "-D", str(self.data), "-c", "listen_addresses=127.0.0.1", "-p", str(self.port),
                          "-k", str(self.directory), "-c", "fsync=off", "-c", "synchronous_commit=off"),
            stdout=log, stderr=subprocess.STDOUT, cwd="/tmp",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.execute("SELECT 1")
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise RuntimeError((self.directory / "server.log").read_text(errors="replace")) from None
                time.sleep(0.1)

    def conninfo(self, database: str = "postgres", schema: str | None = None) -> str:
        info = f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
        return f"{info} options='-c search_path={schema}'" if schema else info

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=2) as connection:
            connection.execute(sql)

    def databases_named(self, name: str) -> int:
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=2) as connection:
            return len(connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall())

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restrict(self, role: str, method: str, database: str = "all") -> None:
        """Connections of `role` (which exists) over TCP to `database` ("all": to any) are authenticated by `method`
        ("scram-sha-256": with its password; "reject": not at all); every other connection keeps trust. Returns once
        the server refuses the role there without a password (a reload is a signal the server takes in its own time)."""
        import psycopg

        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host {database} {role} 127.0.0.1/32 {method}\n" + hba.read_text())
        self.execute("SELECT pg_reload_conf()")
        target = "postgres" if database == "all" else database
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user={role} dbname={target}", connect_timeout=2).close()
            except psycopg.OperationalError:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server still lets {role} into {target} without a password")
            time.sleep(0.05)

    def create_schema(self) -> tuple[str, str]:
        """A new, empty schema; its name and a connection string whose search_path is it."""
        name = f"analytics_{uuid.uuid4().hex}"
        self.execute(f"CREATE SCHEMA {name}")
        return name, self.conninfo(schema=name)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
