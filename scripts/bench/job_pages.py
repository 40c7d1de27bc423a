#!/usr/bin/python3
"""What one page of `GET /v1/jobs` costs the database when its owner has many jobs, with the jobs table's indexes and
listing statement before and after commit 14b817f, on SQLite and on PostgreSQL (a server of its own, started in a
temporary folder from the machine's PostgreSQL binaries and stopped at the end).

Before, a page was read through (owner, status) or (owner, id) and then sorted: every job of the owner (of that status)
was read for each page. After, (owner, created_at, id) and (owner, status, created_at, id) give the page in order.
The table has the columns of the Worker's schema (Worker/Persistence/WorkerDatabase.cs) and `--jobs` rows of one owner,
one in a thousand queued and the rest succeeded, two milliseconds apart. Each figure is the median of `--repeat`
executions of the Worker's statement (JobStore.ListStatement): on SQLite (in process) timed by the client, with the rows read;
on PostgreSQL the server's planning and execution time (EXPLAIN ANALYZE), since reading 101 rows takes this client
(psycopg in pure Python) about 5 ms whatever the plan. "sorts" is a plan that sorts the owner's jobs to find the page.

Usage: scripts/bench/job_pages.py [--jobs N] [--repeat N]   (Debian's python3 and python3-psycopg; no stack needed)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

COLUMNS = "id, owner, model, inputs, status, attempts, created_at, updated_at, result, error, callback_url, idempotency_key"
OWNER = "dotnet-user-jwts:bench"
PAGE = 101  # a page of 100 and one more, to know whether there is a next page
START = 1_796_256_000  # 2026-12-03T00:00:00Z

BEFORE_INDEXES = [
    "CREATE INDEX ix_jobs_status ON jobs (status)",
    "CREATE INDEX ix_jobs_owner_id ON jobs (owner, id)",
    "CREATE INDEX ix_jobs_owner_status ON jobs (owner, status)",
    "CREATE INDEX ix_jobs_status_updated ON jobs (status, updated_at)",
]
AFTER_INDEXES = [
    "DROP INDEX ix_jobs_status",
    "DROP INDEX ix_jobs_owner_id",
    "DROP INDEX ix_jobs_owner_status",
    "CREATE INDEX ix_jobs_owner_created ON jobs (owner, created_at, id)",
    "CREATE INDEX ix_jobs_owner_status_created ON jobs (owner, status, created_at, id)",
]


def statement(version: str, by_status: bool, deep: bool, placeholder: Callable[[str], str]) -> str:
    """The listing statement of that version, as JobStore built it (before: one text for every case)."""
    p = placeholder
    if version == "before":
        return (f"SELECT {COLUMNS} FROM jobs WHERE owner = {p('owner')} AND ({p('status')} IS NULL OR status = {p('status')})"
                f" AND ({p('after_created')} IS NULL OR created_at < {p('after_created')}"
                f" OR (created_at = {p('after_created')} AND id < {p('after_id')}))"
                f" ORDER BY created_at DESC, id DESC LIMIT {p('limit')}")
    return (f"SELECT {COLUMNS} FROM jobs WHERE owner = {p('owner')}"
            + (f" AND status = {p('status')}" if by_status else "")
            + (f" AND (created_at, id) < ({p('after_created')}, {p('after_id')})" if deep else "")
            + f" ORDER BY created_at DESC, id DESC LIMIT {p('limit')}")


def job_id(i: int) -> str:
    return f"{i:08x}-0000-7000-8000-000000000000"


def created_at(i: int) -> str:
    """The i-th job's creation time, as the Worker writes it (seven fractional digits, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(START + i * 2 // 1000)) + f".{i * 2 % 1000:03d}0000Z"


def parameters(jobs: int, by_status: bool, deep: bool) -> dict[str, object]:
    """A first page, or the page after the job half-way down the list (keyset paging reaches it after jobs / 2)."""
    half_way = jobs // 2
    return {"owner": OWNER, "status": "succeeded" if by_status else None,
            "after_created": created_at(half_way) if deep else None, "after_id": job_id(half_way) if deep else None,
            "limit": PAGE}


def rows(jobs: int) -> list[tuple[object, ...]]:
    return [(job_id(i), OWNER, "sentiment", '["a fine film"]', "queued" if i % 1000 == 0 else "succeeded", 1,
             created_at(i), created_at(i), '{"predictions":[{"label":"positive","score":0.9}]}')
            for i in range(1, jobs + 1)]


TABLE = """CREATE TABLE jobs (
    id TEXT {collate} PRIMARY KEY, owner TEXT NOT NULL, model TEXT NOT NULL, inputs TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT {collate} NOT NULL, updated_at TEXT NOT NULL, result TEXT NULL,
    error TEXT NULL, callback_url TEXT NULL, idempotency_key TEXT NULL, request_hash TEXT NULL)"""
INSERT = ("INSERT INTO jobs (id, owner, model, inputs, status, attempts, created_at, updated_at, result)"
          " VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {0})")


def median_ms(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), count


def measure_sqlite(folder: Path, jobs: int, repeat: int) -> list[tuple[str, str, str, float, str]]:
    db = sqlite3.connect(folder / "jobs.db")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(TABLE.format(collate=""))
    db.executemany(INSERT.format("?"), rows(jobs))
    db.commit()
    results = []
    for version, indexes in (("before", BEFORE_INDEXES), ("after", AFTER_INDEXES)):
        for index in indexes:
            db.execute(index)
        db.commit()
        for by_status, deep in ((True, False), (True, True), (False, False), (False, True)):
            sql = statement(version, by_status, deep, lambda name: f":{name}")
            values = parameters(jobs, by_status, deep)
            ms, count = median_ms(lambda: len(db.execute(sql, values).fetchall()), repeat)
            assert count == PAGE, count
            plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, values))
            results.append(("SQLite", version, case(by_status, deep), ms, "sorts" if "TEMP B-TREE" in plan else "in order"))
    db.close()
    return results


def measure_postgres(folder: Path, jobs: int, repeat: int) -> list[tuple[str, str, str, float, str]]:
    import psycopg  # Debian's python3-psycopg

    binaries = Path(os.environ.get("POSTGRES_BIN_DIR", "/usr/lib/postgresql/15/bin"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses to run as root
    data = folder / "data"
    if as_postgres:
        folder.parent.chmod(0o755)  # a temporary folder is its creator's alone
        shutil.chown(folder, "postgres")
    subprocess.run([*as_postgres, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run([*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start"], check=True, capture_output=True)
    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as db:
            db.execute(TABLE.format(collate='COLLATE "C"'))  # the Worker's {sortable_text} on PostgreSQL
            with db.cursor() as cursor:
                cursor.executemany(INSERT.format("%s"), rows(jobs))
            results = []
            for version, indexes in (("before", BEFORE_INDEXES), ("after", AFTER_INDEXES)):
                for index in indexes:
                    db.execute(index)
                db.execute("ANALYZE jobs")
                for by_status, deep in ((True, False), (True, True), (False, False), (False, True)):
                    sql = statement(version, by_status, deep, lambda name: f"%({name})s::{'int' if name == 'limit' else 'text'}")
                    values = parameters(jobs, by_status, deep)
                    assert len(db.execute(sql, values).fetchall()) == PAGE
                    # The server's own time: this client (psycopg in pure Python) takes longer to read the rows.
                    explained = [db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, values).fetchone()[0][0]
                                 for _ in range(repeat)]
                    ms = statistics.median(e["Planning Time"] + e["Execution Time"] for e in explained)
                    plan = json.dumps(explained[0]["Plan"])
                    results.append(("PostgreSQL", version, case(by_status, deep), ms,
                                    "sorts" if '"Node Type": "Sort"' in plan else "in order"))
            return results
    finally:
        subprocess.run([*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       check=False, capture_output=True)


def case(by_status: bool, deep: bool) -> str:
    return f"{'succeeded' if by_status else 'every status'}, {'half-way down' if deep else 'first page'}"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30_000, help="jobs of the one owner (default 30,000)")
    parser.add_argument("--repeat", type=int, default=21, help="executions of each statement (default 21)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="job-pages-") as temporary:
        folder = Path(temporary)
        (folder / "postgres").mkdir()
        measured = measure_sqlite(folder, arguments.jobs, arguments.repeat)
        measured += measure_postgres(folder / "postgres", arguments.jobs, arguments.repeat)
    print(f"One page of {PAGE - 1} of an owner's {arguments.jobs:,} jobs (median of {arguments.repeat} executions, ms):\n")
    print("| database | page | before: ms | before: plan | after: ms | after: plan | before / after |")
    print("|---|---|---|---|---|---|---|")
    by_key = {(database, version, page): (ms, plan) for database, version, page, ms, plan in measured}
    for database, version, page, _, _ in measured:
        if version == "before":
            (before, before_plan), (after, after_plan) = by_key[(database, "before", page)], by_key[(database, "after", page)]
            print(f"| {database} | {page} | {before:.2f} | {before_plan} | {after:.2f} | {after_plan} | {before / after:.0f}× |")


if __name__ == "__main__":
    main()
