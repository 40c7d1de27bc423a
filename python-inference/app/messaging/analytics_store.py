"""Where the analytics consumer keeps its counts: SQLite (one file, the default: nothing to install) or
PostgreSQL (`Database__Provider=postgres`, database `analyticsdb`), which every python-inference replica shares, so
`/v1/stats` is the same whichever replica answers. One store; what differs between the two databases is in
`_Dialect` (placeholders, how a write transaction begins, the schema lock, which errors are worth a retry).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.core.config import Settings
from app.schemas.events import Event, JobCompletedData, JobFailedData, PredictionMadeData



@dataclass
class ModelCounts:
    predictions: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    jobs_completed: int = 0
    jobs_failed: int = 0


@dataclass
class AnalyticsSnapshot:
    models: dict[str, ModelCounts] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


# (model, metric, key, delta); `key` is the label or version for those metrics, else "".
Effect = tuple[str, str, str, int]


def event_effects(event: Event) -> list[Effect]:
    """The per-model counts an event adds; none for event types without per-model meaning."""
    data = event.data
    if isinstance(data, PredictionMadeData):
        return [
            (data.model, "predictions", "", data.count),
            (data.model, "version", data.version, data.count),
            *((data.model, "label", label, count) for label, count in data.labels.items()),
        ]
    if isinstance(data, JobCompletedData):
        return [(data.model, "jobs_completed", "", 1)]
    if isinstance(data, JobFailedData):
        return [(data.model, "jobs_failed", "", 1)]
    return []


# Each entry upgrades the schema by one version (recorded in schema_version); never edit a shipped entry, add one.
_MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, type TEXT NOT NULL, recorded_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS event_counts (type TEXT PRIMARY KEY, count BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS model_counts (model TEXT NOT NULL, metric TEXT NOT NULL, key TEXT NOT NULL,"
        " count BIGINT NOT NULL, PRIMARY KEY (model, metric, key))",
    ],
]


class _Cursor(Protocol):
    rowcount: int

    def execute(self, sql: str, parameters: Sequence[Any] = ...) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class _Connection(Protocol):
    def cursor(self) -> Any: ...

    def close(self) -> None: ...


class _Dialect(Protocol):
    transient_errors: tuple[type[BaseException], ...]
    begin_write: str
    schema_lock: str | None
    mark_after_commit: str | None

    def connect(self) -> _Connection: ...

    def sql(self, text: str) -> str: ...


class _Sqlite:
    """One file in WAL mode: readers never block the writer. BEGIN IMMEDIATE takes the write lock first."""

    transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    begin_write = "BEGIN IMMEDIATE"
    schema_lock = None  # BEGIN IMMEDIATE is the lock
    # One read on the writer's connection after each commit leaves a read mark at the WAL's new end. A read that had to
    # set that mark itself would store into the -shm file's mapping, on the database's file system, and wait out a
    # frozen or stalled disk there (the Worker does the same: docs/reliability.md, "A read through a frozen disk").
    mark_after_commit = "PRAGMA schema_version"

    def __init__(self, path: Path) -> None:
        self.path = path

    def connect(self) -> _Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def sql(self, text: str) -> str:
        return text


# The database every PostgreSQL server is made with, which by default any role may connect to: where a missing database
# is created from.
MAINTENANCE_DATABASE = "postgres"


class _Postgres:
    """psycopg 3 in autocommit mode, so transactions are the explicit BEGIN/COMMIT the store writes (as in SQLite)."""

    begin_write = "BEGIN"
    mark_after_commit = None  # shared memory that is no file of the data's file system
    # pg_advisory_xact_lock key for the analytics schema ("MLGA"): one replica migrates, the others wait.
    schema_lock = "SELECT pg_advisory_xact_lock(1296844609)"

    def __init__(self, conninfo: str) -> None:
        # Imported only here (Debian's python3-psycopg): with SQLite, the default, no start pays its import (~0.4 s).
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover - exercised where psycopg is absent
            raise RuntimeError("Database__Provider=postgres needs psycopg 3 (Debian: python3-psycopg)") from error
        self._psycopg = psycopg
        self.conninfo = conninfo
        self.transient_errors = (psycopg.OperationalError,)

    def connect(self) -> _Connection:
        try:
            return self._psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
        except self._psycopg.OperationalError as refused:
            self._create_database_if_missing(refused)
        return self._psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)

    def _create_database_if_missing(self, refused: Exception) -> None:
        """Creates the connection string's database when the server has none of that name, as Aspire does for a
        server it runs itself and a deployment from the manifest does not (microsoft/aspire#14695); returns when the
        caller should connect again, else raises. Asked on the `postgres` database with the same role and password
        (libpq's refusal carries no SQLSTATE to tell a missing database from any other); when the name exists there,
        another replica made it meanwhile (or the refusal was about something else, which the next connection
        raises again). When the `postgres` database cannot be reached, `refused` is raised again. A role that may not
        create databases gets an OperationalError, as any refusal to connect, that says what to create: an error worth
        another try, so the events wait for the database rather than being dropped, and one the consumer's log line
        shows whole."""
        from psycopg import conninfo as libpq, errors, sql

        settings = libpq.conninfo_to_dict(self.conninfo)
        role = settings.get("user")
        name = settings.get("dbname") or role
        if not name or name == MAINTENANCE_DATABASE:
            raise refused
        try:
            maintenance = self._psycopg.connect(
                libpq.make_conninfo(self.conninfo, dbname=MAINTENANCE_DATABASE), autocommit=True, connect_timeout=5
            )
        except self._psycopg.OperationalError:
            raise refused from None  # the server or the role is what failed, not the database
        with maintenance:
            if maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return  # made meanwhile by another replica, or the refusal was about something else: connect again
            try:
                # The role creating it owns it, and so its schema public (PostgreSQL 15 on), where the tables go.
                maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                pass  # another replica's, created meanwhile
            except errors.InsufficientPrivilege as denied:
                owner = f" OWNER {_quoted(role)}" if role else ""
                raise self._psycopg.OperationalError(
                    f"The database {_quoted(name)} does not exist, and the role {_quoted(role or '')} may not create it: "
                    f"create it on the server (CREATE DATABASE {_quoted(name)}{owner}) or give the role CREATEDB."
                ) from denied

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def postgres_conninfo(connection_string: str) -> str:
    """libpq's form of the connection string Aspire injects (`Host=...;Port=...;Username=...;Password=...;
    Database=...`, Npgsql's keywords); a `postgresql://` URI or a libpq `key=value` string is passed through."""
    if connection_string.startswith(("postgres://", "postgresql://")) or ";" not in connection_string:
        return connection_string
    keywords = {
        "host": "host",
        "server": "host",
        "port": "port",
        "username": "user",
        "user id": "user",
        "userid": "user",
        "user": "user",
        "password": "password",
        "database": "dbname",
        "ssl mode": "sslmode",
        "sslmode": "sslmode",
        "timeout": "connect_timeout",
    }
    parts = []
    for item in connection_string.split(";"):
        key, sep, value = item.partition("=")
        libpq_key = keywords.get(key.strip().lower())
        if sep and libpq_key:
            quoted = value.strip().replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{libpq_key}='{quoted}'")
    return " ".join(parts)


def _values(rows: Sequence[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """The `(?, ?), (?, ?)` of a multi-row insert of `rows` (all of one width), and its parameters in order."""
    placeholders = "(" + ", ".join("?" * len(rows[0])) + ")"
    return ", ".join([placeholders] * len(rows)), [value for row in rows for value in row]


class AnalyticsStore:
    """Counts per event type and per model, each event once. Calls may come from worker threads. The writes take one
    lock and one connection within the process, the database's transactions across processes; the reads
    (`snapshot`) have a connection and a lock of their own, so a write held by a stalled disk holds no read."""

    # Event ids are kept long past any redelivery (RabbitMQ gives up on an unacked delivery after 30 min).
    PROCESSED_ID_RETENTION_S = 7 * 24 * 3600

    def __init__(self, path: Path | None = None, *, dialect: _Dialect | None = None) -> None:
        if dialect is None:
            assert path is not None, "a SQLite store needs a path"
            dialect = _Sqlite(path)
        self.path = path
        self._dialect = dialect
        self._lock = threading.Lock()
        self._db: _Connection | None = None
        self._read_lock = threading.Lock()
        self._reader: _Connection | None = None
        self._migrated = False

    @classmethod
    def postgres(cls, connection_string: str) -> AnalyticsStore:
        return cls(dialect=_Postgres(postgres_conninfo(connection_string)))

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalyticsStore:
        if settings.DATABASE_PROVIDER == "postgres":
            assert settings.ANALYTICS_DATABASE, "validated by Settings.from_env"
            return cls.postgres(settings.ANALYTICS_DATABASE)
        return cls(settings.ANALYTICS_DB_PATH)

    @property
    def transient_errors(self) -> tuple[type[BaseException], ...]:
        """Errors worth another try (locked, busy, I/O, a lost connection); anything else is not."""
        return self._dialect.transient_errors

    def _cursor(self) -> _Cursor:
        if self._db is None:
            db = self._dialect.connect()
            try:
                self._migrate(db.cursor())
            except BaseException:
                db.close()
                raise
            self._db = db
            self._migrated = True
        return self._db.cursor()  # type: ignore[no-any-return]

    def _migrate(self, cursor: _Cursor) -> None:
        sql = self._dialect.sql
        cursor.execute(self._dialect.begin_write)
        try:
            if self._dialect.schema_lock:
                cursor.execute(self._dialect.schema_lock)
            cursor.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
            cursor.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version = int(cursor.fetchone()[0])
            for number, statements in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in statements:
                    cursor.execute(statement)
                cursor.execute(sql("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"), (number, int(time.time())))
            cutoff = int(time.time()) - self.PROCESSED_ID_RETENTION_S
            cursor.execute(sql("DELETE FROM processed_events WHERE recorded_at < ?"), (cutoff,))
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def _run(self, work: Any) -> Any:
        """`work(cursor)` under the process lock; a broken connection is dropped, so the next call reconnects."""
        with self._lock:
            try:
                return work(self._cursor())
            except self._dialect.transient_errors:
                self._drop()
                raise

    def _read(self, work: Any) -> Any:
        """`work(cursor)` on the reading connection, under its own lock. Opened once the schema is in place (the
        writing connection migrates it, once per process: only the first read before any write waits for the writer's
        lock); a broken one is dropped, so the next read reconnects."""
        with self._read_lock:
            if self._reader is None:
                if not self._migrated:
                    with self._lock:
                        self._cursor()
                self._reader = self._dialect.connect()
            try:
                return work(self._reader.cursor())
            except self._dialect.transient_errors:
                reader, self._reader = self._reader, None
                _close_quietly(reader)
                raise

    def prepare(self) -> None:
        """Connects and migrates now, as the first write or read would: a missing PostgreSQL database is created (or
        its refusal raised) when the service starts rather than at its first event."""
        self._run(lambda cursor: None)

    def record(self, event: Event) -> bool:
        """Count `event` unless its id was counted before; False for such a duplicate."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[Event]) -> list[bool]:
        """`record` for many events in one transaction (the consumer's group commit): for each, True if this call
        counted it, False for a duplicate (of an earlier delivery or of an event before it in `events`). If any
        fails, nothing is counted and the error is raised."""
        sql = self._dialect.sql
        if not events:
            return []

        def work(cursor: _Cursor) -> list[bool]:
            cursor.execute(self._dialect.begin_write)
            try:
                # One insert for all the ids (one round trip on PostgreSQL, where one per event was most of this
                # store's statements), each id once. Concurrent replicas: the loser's insert waits for the winner's
                # commit, then leaves the row out of what it returns; sorted, two inserts take the ids' locks in
                # the same order and cannot deadlock.
                first: dict[str, int] = {}
                for index, event in enumerate(events):
                    first.setdefault(str(event.envelope.id), index)
                now = int(time.time())
                rows = sorted((event_id, events[index].envelope.type, now) for event_id, index in first.items())
                values, parameters = _values(rows)
                cursor.execute(
                    sql(
                        f"INSERT INTO processed_events (id, type, recorded_at) VALUES {values}"
                        " ON CONFLICT DO NOTHING RETURNING id"
                    ),
                    parameters,
                )
                stored = {str(row[0]) for row in cursor.fetchall()}
                recorded = [
                    first[event_id] == index and event_id in stored
                    for index, event_id in enumerate(str(event.envelope.id) for event in events)
                ]
                counted = [event for event, inserted in zip(events, recorded) if inserted]
                # One upsert per counter the events touch, not one per event.
                types = Counter(event.envelope.type for event in counted)
                if types:
                    cursor.execute(*self._upsert("event_counts", ("type",), sorted(types.items())))
                deltas: dict[tuple[str, str, str], int] = {}
                for event in counted:
                    for model, metric, key, delta in event_effects(event):
                        deltas[(model, metric, key)] = deltas.get((model, metric, key), 0) + delta
                effects = [(*counter, delta) for counter, delta in deltas.items() if delta]
                if effects:
                    cursor.execute(*self._upsert("model_counts", ("model", "metric", "key"), sorted(effects)))
                cursor.execute("COMMIT")
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the connection may be gone; the original error matters
                    pass
                raise
            if self._dialect.mark_after_commit:
                try:
                    cursor.execute(self._dialect.mark_after_commit).fetchone()
                except self._dialect.transient_errors:  # committed already; only the mark is lost
                    pass
            return recorded

        result: list[bool] = self._run(work)
        return result

    def _upsert(self, table: str, key: tuple[str, ...], rows: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
        """One statement adding each row's count to its counter (the keys are distinct, as one statement requires;
        sorted, so that concurrent replicas lock the counters in the same order)."""
        values, parameters = _values(rows)
        text = (
            f"INSERT INTO {table} ({', '.join((*key, 'count'))}) VALUES {values}"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET count = {table}.count + excluded.count"
        )
        return self._dialect.sql(text), parameters

    def snapshot(self) -> AnalyticsSnapshot:
        def work(cursor: _Cursor) -> AnalyticsSnapshot:
            cursor.execute("SELECT type, count FROM event_counts ORDER BY type")
            events = {event_type: int(count) for event_type, count in cursor.fetchall()}
            cursor.execute("SELECT model, metric, key, count FROM model_counts ORDER BY model, metric, key")
            models: dict[str, ModelCounts] = {}
            for model, metric, key, count in cursor.fetchall():
                counts = models.setdefault(model, ModelCounts())
                if metric == "label":
                    counts.labels[key] = int(count)
                elif metric == "version":
                    counts.versions[key] = int(count)
                elif metric in ("predictions", "jobs_completed", "jobs_failed"):
                    setattr(counts, metric, int(count))
            return AnalyticsSnapshot(models, events)

        result: AnalyticsSnapshot = self._read(work)
        return result

    def _drop(self) -> None:
        db, self._db = self._db, None
        _close_quietly(db)

    def close(self) -> None:
        with self._read_lock:
            reader, self._reader = self._reader, None
            _close_quietly(reader)
        with self._lock:
            self._drop()


def _close_quietly(db: _Connection | None) -> None:
    if db is not None:
        try:
            db.close()
        except Exception:  # noqa: BLE001 - already broken
            pass
