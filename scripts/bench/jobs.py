"""Jobs per second end to end, beside the raw rate of the same broker (run by scripts/bench/jobs.sh and run.sh).

End to end = POST /api/v1/jobs through the gateway (JWT, validation) → Worker (SQLite + outbox, publish with
confirms) → RabbitMQ (persistent) → a Worker replica (manual ack after the result is committed) → python-inference
→ result recorded.

The submissions come from wrk (scripts/bench/jobs.lua), a native client: a Python client spent 1.7-1.9 ms of CPU per
job on the two cores it shared with the stack it measured. wrk holds `concurrency` connections, one submission in
flight on each, sends exactly `jobs` submissions and writes down every answer (status and job id); this script then
counts from the server's own records: accepted = the 202s, completed / failed / lost (accepted, never finished) from
the jobs API, duplicated from the Worker's audit log (a job announced completed twice) and from the jobs API (a job
of this phase that no 202 accounts for). jobs/s runs from the first job's `createdAt` to the last one's `updatedAt`
(its result committed), submit → result is each job's `updatedAt - createdAt`, submit p50 / p99 is wrk's latency.

Raw = a plain aio-pika client on the same broker, in the same run: persistent messages, publisher confirms,
manual acks, the same number of messages in flight as job submissions. It stays in Python: it measures the broker
alone, not our stack, and runs before the jobs (outside their CPU figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import aio_pika
import httpx

# (this script's folder is on the path)
from liveness import LivenessProbes
from procstat import (CPUS, TICK_S, own_ticks, percentile, process_stats, read_watch, start_helper, stop_helper,
                      watch_summary)


class CpuMeter:
    """CPU seconds (user + system) spent by named process trees: each pid and its descendants (PostgreSQL's backends
    count with their postmaster), except descendants named as trees of their own (the services under the
    orchestrator). Read from /proc, before and after a phase."""

    def __init__(self, trees: dict[str, list[int]]) -> None:
        self.trees = trees

    def snapshot(self) -> dict[str, float]:
        # (parent, CPU seconds of the process and of its children that ended)
        stats = {pid: (int(fields[1]), sum(int(value) for value in fields[11:15]) * TICK_S)
                 for pid, (_, fields) in process_stats().items()}
        children: dict[int, list[int]] = {}
        for pid, (parent, _) in stats.items():
            children.setdefault(parent, []).append(pid)
        totals = {}
        named = {pid for roots in self.trees.values() for pid in roots}
        for name, roots in self.trees.items():
            seen, stack = set(), list(roots)
            while stack:
                pid = stack.pop()
                if pid in stats and pid not in seen and (pid in roots or pid not in named):
                    seen.add(pid)
                    stack.extend(children.get(pid, []))
            totals[name] = sum(stats[pid][1] for pid in seen)
        return totals


class PostgresCounters:
    """Commits and statements the Worker's (and python-inference's) databases saw: pg_stat_database, the server's
    flushes of its WAL (pg_stat_wal: each commit that wrote waits for one, shared by the commits that arrive during it;
    asynchronous commits leave theirs to the WAL writer), and pg_stat_statements when the server preloads it, with the
    time the server spent in each (planning counts only with pg_stat_statements.track_planning on). A statement is one
    round trip unless it was batched."""

    def __init__(self, conninfo: str) -> None:
        import psycopg  # Debian's python3-psycopg; only needed with --postgres

        self.connection = psycopg.connect(conninfo, autocommit=True)
        preloaded = self.connection.execute("SHOW shared_preload_libraries").fetchone()[0]
        self.statements = "pg_stat_statements" in preloaded
        if self.statements:
            self.connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def snapshot(self) -> dict:
        time.sleep(1.5)  # backends report their counts to the statistics system about once a second
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        databases = {name: (commits, rollbacks) for name, commits, rollbacks in self.connection.execute(
            "SELECT datname, xact_commit, xact_rollback FROM pg_stat_database WHERE datname IN ('workerdb', 'analyticsdb')")}
        (wal_syncs,) = self.connection.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
        queries = {}
        if self.statements:
            queries = {(database, query): (calls, ms) for database, query, calls, ms in self.connection.execute(
                "SELECT d.datname, s.query, s.calls, s.total_exec_time + s.total_plan_time"
                " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                " WHERE d.datname IN ('workerdb', 'analyticsdb')")}
        return {"databases": databases, "wal_syncs": wal_syncs, "queries": queries}

    @staticmethod
    def per_job(before: dict, after: dict, jobs: int) -> dict:
        commits = {name: (after["databases"][name][0] - before["databases"].get(name, (0, 0))[0]) / jobs
                   for name in after["databases"]}
        calls: dict[str, float] = {}  # "database: statement"
        times: dict[str, float] = {}  # the same keys: microseconds of the server's time per job
        for (database, query), (count, ms) in after["queries"].items():
            count_before, ms_before = before["queries"].get((database, query), (0, 0.0))
            if count > count_before:
                calls[f"{database}: {query}"] = (count - count_before) / jobs
                times[f"{database}: {query}"] = (ms - ms_before) * 1000 / jobs
        wal_syncs = (after["wal_syncs"] - before["wal_syncs"]) / jobs
        return {"commits_per_job": commits, "wal_syncs_per_job": wal_syncs, "statements_per_job": calls,
                "statement_us_per_job": times}


class EventBacklog:
    """The events waiting in the queues of the events fanout. Their consumers (the Worker's audit trail,
    python-inference's analytics) are part of what a job costs, and may fall behind the jobs: a profiled phase starts
    once these queues are empty (the warm-up's events consumed) and reads the CPU only when they are empty again,
    and says what was still queued when its last job was done. Ready messages only (a passive declare), so up to a
    consumer's prefetch may still be in hand when it reads 0."""

    QUEUES = ("events.audit", "events.analytics")

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url

    async def drain(self, limit_s: float = 120) -> dict:
        """Waits until every queue reads empty twice in a row; what was queued at first, and how long it took."""
        started = time.monotonic()
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            first = await self._depths(connection)
            empty_before = False
            while time.monotonic() - started < limit_s:
                empty = not any((await self._depths(connection)).values())
                if empty and empty_before:
                    break
                empty_before = empty
                await asyncio.sleep(0.25)
        return {"queued": first, "drain_s": time.monotonic() - started}

    async def _depths(self, connection: aio_pika.abc.AbstractConnection) -> dict[str, int]:
        depths = {}
        for name in self.QUEUES:
            channel = await connection.channel()  # a passive declare of a missing queue closes its channel
            try:
                queue = await channel.declare_queue(name, passive=True)
                depths[name] = queue.declaration_result.message_count or 0
            except aio_pika.exceptions.ChannelClosed:
                continue
            await channel.close()
        return depths


class BackgroundSampler:
    """A daemon thread running `_run` until `stop`, which waits for it."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(5)


class HostWatch(BackgroundSampler):
    """Whether the machine itself stopped beside the measured submissions. Always on through them, since it costs next
    to nothing: a process of its own (procstat.py's `watch`) times its own 25 ms sleep and reads /proc/stat once per
    sleep, and a thread here collects its lines.
    - Its timer waking late means no core ran it for that long. It runs in a session of its own, so the scheduler gives
      it a group of its own (autogroup), which is owed a core as soon as it wakes: however busy the cores are with the
      stack and the driver, it waits for them only briefly, and a stop of tens of milliseconds is the whole machine's.
      (Until 2026-12-07 evening the timer ran in the driver, where the driver's own threads and its share of the cores
      could hold it as well.)
    - Steal is the time the hypervisor gave this guest's cores to another guest.
    An episode of slow submissions through which the timer woke late by about its length, or most of a core was stolen,
    points to the host, not the stack (docs/performance.md, "The slowest submissions in the full benchmark, and
    the hypervisor's share"). The kernel counts CPU in ticks of 10 ms, so a window of a few ticks reads coarsely."""

    INTERVAL_S = 0.025

    def __init__(self) -> None:
        super().__init__("host-watch")
        self.late: list[tuple[float, float]] = []  # (wall clock the sleep began, milliseconds it woke late)
        self.machine: list[tuple[float, int, int]] = []  # (wall clock, busy ticks, stolen ticks): procstat.machine
        self._child: subprocess.Popen | None = None
        self._watching = threading.Event()

    def start(self) -> None:
        """Starts the watch and returns once it has read the machine a first time (or after 10 s)."""
        self._child = start_helper(Path(__file__).with_name("procstat.py"), "watch", str(self.INTERVAL_S))
        super().start()
        self._watching.wait(10)

    def _run(self) -> None:
        assert self._child and self._child.stdout
        try:
            for line in self._child.stdout:  # until the watch ends
                machine_samples, late = read_watch([line])
                self.machine += machine_samples
                self.late += late
                if machine_samples:
                    self._watching.set()
        finally:
            self._watching.set()

    def stop(self) -> None:
        if self._child:
            stop_helper(self._child)  # it writes its last sample and ends
        super().stop()

    def during(self, begin: float, end: float) -> dict | None:
        """From `begin` to `end` (wall-clock seconds): the most the timer woke late in a sleep under way then, and the
        machine's busy and stolen cores from the last sample at or before `begin` to the first at or after `end`."""
        before = [sample for sample in self.machine if sample[0] <= begin]
        after = [sample for sample in self.machine if sample[0] >= end]
        if not before or not after or after[0][0] <= before[-1][0]:
            return None
        (t0, busy0, stolen0), (t1, busy1, stolen1) = before[-1], after[0]
        late = [ms for started, ms in self.late
                if started < end and started + self.INTERVAL_S + ms / 1000 > begin]
        seconds = t1 - t0
        return {"timer_late_ms": max(late, default=0.0), "window_ms": seconds * 1000,
                "busy_cores": (busy1 - busy0) * TICK_S / seconds, "stolen_cores": (stolen1 - stolen0) * TICK_S / seconds}

    def summary(self, window_s: float = 0.1) -> dict | None:
        """Through the whole watch: the cores stolen on average and at most over any `window_s`, and how late the timer
        woke (p50, p99, most): procstat.watch_summary."""
        return watch_summary(self.machine, self.late, self.INTERVAL_S, window_s)


class CpuTimeline(BackgroundSampler):
    """Whose work filled the cores, every 50 ms beside the measured submissions (with --probes): every process's CPU
    from /proc/PID/stat, so that an episode of slow submissions can say which processes ran through it (HostWatch says
    whether the machine itself stalled then). A sweep of /proc costs about 2 ms of CPU, so 4 % of a core at this rate.
    The kernel counts CPU in ticks of 10 ms, so a window shorter than a few ticks reads coarsely."""

    INTERVAL_S = 0.05

    def __init__(self) -> None:
        super().__init__("cpu-timeline")
        # (wall-clock time, each process's ticks by pid)
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.names: dict[int, str] = {}

    def _name(self, pid: int, comm: str) -> str:
        if comm.startswith("python"):
            if pid == os.getpid():
                return "jobs.py (driver)"
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    if b"uvicorn" in file.read():
                        return "python-inference"
            except OSError:
                pass
        return comm

    def sample(self) -> None:
        at = time.time()
        ticks: dict[int, int] = {}
        for pid, (comm, fields) in process_stats().items():
            ticks[pid] = own_ticks(fields)
            if pid not in self.names:
                self.names[pid] = self._name(pid, comm)
        self.samples.append((at, ticks))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.INTERVAL_S)

    def during(self, begin: float, end: float, top: int = 3) -> dict | None:
        """The cores each process (by name, replicas added up) used from the last sample at or before `begin` to the
        first at or after `end` (wall-clock seconds), the busiest `top` first."""
        before = [sample for sample in self.samples if sample[0] <= begin]
        after = [sample for sample in self.samples if sample[0] >= end]
        if not before or not after:
            return None
        (t0, ticks0), (t1, ticks1) = before[-1], after[0]
        seconds = t1 - t0
        if seconds <= 0:
            return None
        cores: dict[str, float] = {}
        for pid, count in ticks1.items():
            used = count - ticks0.get(pid, 0)
            if used > 0:
                name = self.names.get(pid, str(pid))
                cores[name] = cores.get(name, 0.0) + used * TICK_S / seconds
        busiest = sorted(cores.items(), key=lambda item: -item[1])[:top]
        return {"window_ms": seconds * 1000, "busiest": [{"name": name, "cores": value} for name, value in busiest]}


class WaitProbes:
    """What a submission waits on that the load does not decide, timed beside the measured single-input submissions
    so that the slowest of them (`submission_tail`) can be put beside what was slow with them (scripts/chaos has the
    same idea, its StallProbes):
    - a 4 KiB write synced to the disk (in --probe-folder, by default the system's temporary folder, on the one file
      system this machine has);
    - a persistent message the broker confirms;
    - the store: on PostgreSQL one row updated and committed, which waits for the WAL's flush as an admission's commit
      does; on SQLite the database's write lock taken and given back (a transaction begun IMMEDIATE and rolled back:
      nothing written), which an admission's writer waits for too;
    - the services' liveness, `GET /alive` of each Worker replica and of the gateway (--probe-alive), which waits for
      nothing but the process itself: a stall of every replica at once with the machine running says the replicas
      share what stopped them (`service_stalls`). These are asked from a process of their own (liveness.py), so that
      a freeze of this driver neither hides a stall nor makes one;
    and the CPU timeline (`cpu`) says whose work filled the cores then (HostWatch, always on, says whether the machine
    itself stalled). Each probe waits `INTERVAL_S` between readings; a reading is (wall-clock start in seconds,
    milliseconds), and one still waiting when the probes stop counts with its wait so far. About 40 synced writes and
    40 confirmed messages a second: a few per cent of what the jobs themselves ask of the disk and the broker."""

    INTERVAL_S = 0.025
    DISK, BROKER = "disk sync", "broker confirm"
    POSTGRES, SQLITE = "PostgreSQL commit", "SQLite write lock"
    QUEUE = "bench.wait-probe"

    def __init__(self, amqp_url: str, folder: str, postgres_conninfo: str | None = None,
                 sqlite_path: str | None = None, alive: dict[str, str] | None = None) -> None:
        self.amqp_url, self.folder = amqp_url, folder
        self.postgres_conninfo, self.sqlite_path = postgres_conninfo, sqlite_path
        self.alive = dict(alive or {})  # probe name -> URL of a service's /alive
        self.readings: dict[str, list[tuple[float, float]]] = {self.DISK: [], self.BROKER: []}
        if postgres_conninfo:
            self.readings[self.POSTGRES] = []
        if sqlite_path:
            self.readings[self.SQLITE] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._broker: asyncio.Task | None = None
        self._liveness: LivenessProbes | None = None  # the services' /alive, asked from a process of its own
        self._under_way: dict[str, float] = {}  # a probe's reading that has not ended: its start
        self.cpu = CpuTimeline()

    def _begin(self, name: str) -> tuple[float, float]:
        with self._lock:
            started = time.time()
            self._under_way[name] = started
            return started, time.perf_counter()

    def _end(self, name: str, reading: tuple[float, float]) -> None:
        with self._lock:
            self._under_way.pop(name, None)
            if not self._stop.is_set():  # once stopped, the reading was counted with its wait so far
                self.readings[name].append((reading[0], (time.perf_counter() - reading[1]) * 1000))

    def _timed(self, name: str, wait) -> None:
        while not self._stop.is_set():
            reading = self._begin(name)
            wait()
            self._end(name, reading)
            self._stop.wait(self.INTERVAL_S)

    def _disk(self) -> None:
        path = os.path.join(self.folder, ".bench-wait-probe")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        block = b"\0" * 4096
        try:
            self._timed(self.DISK, lambda: (os.pwrite(descriptor, block, 0), os.fdatasync(descriptor)))
        finally:
            os.close(descriptor)
            os.unlink(path)

    def _postgres(self) -> None:
        import psycopg  # Debian's python3-psycopg

        with psycopg.connect(self.postgres_conninfo, autocommit=True) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS bench_wait_probe (at timestamptz)")
            connection.execute("INSERT INTO bench_wait_probe VALUES (now())")
            try:
                self._timed(self.POSTGRES, lambda: connection.execute("UPDATE bench_wait_probe SET at = now()"))
            finally:
                connection.execute("DROP TABLE bench_wait_probe")

    def _sqlite(self) -> None:
        import sqlite3

        # No busy timeout: SQLite's own handler sleeps 1 ms growing to 100 ms between tries, which would round a wait
        # up by tens of milliseconds. Tried again every millisecond instead, for up to 30 s.
        connection = sqlite3.connect(self.sqlite_path, timeout=0, isolation_level=None)

        def take_the_lock() -> None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.001)
            connection.execute("ROLLBACK")

        try:
            self._timed(self.SQLITE, take_the_lock)
        finally:
            connection.close()

    async def _confirms(self, ready: asyncio.Future) -> None:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await channel.declare_queue(self.QUEUE, durable=True, arguments={"x-max-length": 1})
            ready.set_result(None)
            try:
                while not self._stop.is_set():
                    reading = self._begin(self.BROKER)
                    await channel.default_exchange.publish(
                        aio_pika.Message(b"probe", delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=self.QUEUE)
                    self._end(self.BROKER, reading)
                    await asyncio.sleep(self.INTERVAL_S)
            finally:
                await channel.queue_delete(self.QUEUE)

    async def start(self) -> None:
        self.cpu.start()
        if self.alive:
            self._liveness = LivenessProbes(self.alive, self.INTERVAL_S)
            if not await asyncio.to_thread(self._liveness.wait_for_readings):
                self._liveness.stop()
                raise OSError(f"a service's /alive did not answer within 10 s: {self.alive}")
        targets = ([("disk", self._disk, ())] + ([("postgres", self._postgres, ())] if self.postgres_conninfo else [])
                   + ([("sqlite", self._sqlite, ())] if self.sqlite_path else []))
        for name, target, arguments in targets:
            thread = threading.Thread(target=target, args=arguments, name=f"wait-probe-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        ready = asyncio.get_running_loop().create_future()
        self._broker = asyncio.create_task(self._confirms(ready))
        await asyncio.wait([ready, self._broker], return_when=asyncio.FIRST_COMPLETED)
        if self._broker.done():
            self._broker.result()  # it failed before its first reading: say why

    async def stop(self) -> dict[str, list[tuple[float, float]]]:
        """Stops the probes and returns their readings; a reading still under way counts with its wait so far."""
        with self._lock:
            self._stop.set()
            stopped = time.time()
            for name, started in self._under_way.items():
                self.readings[name].append((started, (stopped - started) * 1000))
            readings = {name: list(values) for name, values in self.readings.items()}
        self.cpu.stop()
        if self._liveness:
            readings |= await asyncio.to_thread(self._liveness.stop)
            if failed := {name: count for name, count in self._liveness.failures.items() if count}:
                print(f"\n**Failed asks of `/alive`** (refused, dropped or not HTTP; timed as readings all the same): "
                      + ", ".join(f"{name}: {count}" for name, count in failed.items()))
        if self._broker:
            await asyncio.wait([self._broker], timeout=5)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, 5)
        return readings


async def raw_broker_rate(amqp_url: str, messages: int, in_flight: int) -> tuple[float, float]:
    """Messages per second published (persistent, confirmed) and then consumed (manual acks)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=in_flight)
        queue = await channel.declare_queue(f"bench.raw.{uuid.uuid4().hex[:8]}", durable=True, auto_delete=False)
        body = b'{"jobId":"00000000-0000-7000-8000-000000000000"}'
        semaphore = asyncio.Semaphore(in_flight)

        async def publish(i: int) -> None:
            async with semaphore:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(i)),
                    routing_key=queue.name,
                )

        started = time.perf_counter()
        await asyncio.gather(*(publish(i) for i in range(messages)))
        published = messages / (time.perf_counter() - started)

        received = 0
        done = asyncio.Event()
        started = time.perf_counter()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == messages:
                done.set()

        await queue.consume(on_message)
        await done.wait()
        consumed = messages / (time.perf_counter() - started)
        await queue.delete(if_unused=False, if_empty=False)
        return published, consumed


WRK_SCRIPT = Path(__file__).with_name("jobs.lua")
WRK_THREADS = 1  # one event loop sends a thousand submissions a second with a few percent of a core


@dataclass
class Answers:
    """What the gateway answered to the submissions, from wrk's answer files (scripts/bench/jobs.lua)."""

    accepted: list[str] = field(default_factory=list)  # job ids of the 202s, in answer order per thread
    rejected: Counter = field(default_factory=Counter)  # status → how many (a 202 without an id counts as status 0)
    samples: list[str] = field(default_factory=list)  # the first few rejections, status and body
    answered_at: dict[str, float] = field(default_factory=dict)  # job id of a 202 → when it came (epoch seconds)


def parse_answers(lines) -> Answers:
    """Lines of jobs.lua's answer files: "<status> <job id or -> <when> [body]"."""
    answers = Answers()
    for line in lines:
        parts = line.rstrip("\n").split(" ", 3)
        if not parts[0]:
            continue
        status, job = int(parts[0]), (parts[1] if len(parts) > 1 else "-")
        if status == 202 and job != "-":
            answers.accepted.append(job)
            answers.answered_at[job] = float(parts[2])
            continue
        answers.rejected[0 if status == 202 else status] += 1
        if len(answers.samples) < 5:
            answers.samples.append(line.rstrip("\n"))
    return answers


def parse_wrk_result(output: str) -> dict:
    """The one line of JSON that jobs.lua's done() prints (after wrk's own summary)."""
    for line in output.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line[len("WRK_RESULT "):])
    raise ValueError("wrk printed no WRK_RESULT line: " + output[-500:])


def count_jobs(accepted: list[str], finished: dict[str, dict], completions: dict[str, int] | None,
               others: set[str], unanswered: int) -> dict:
    """Every accepted job against what the system holds once the phase drained (as the chaos run's JobLedger does):
    completed = succeeded and announced at most once; failed; lost = accepted and never finished (unknown to the jobs
    API or still queued / running when the wait ended); duplicated = announced completed more than once in the
    Worker's audit log (when it was read), plus the jobs of this phase that no 202 accounts for beyond the
    submissions that got no answer (each may have created a job nobody heard of)."""
    wanted = set(accepted)
    completed = failed = lost = twice = 0
    for job in wanted:
        outcome = finished.get(job)
        announced = (completions or {}).get(job, 1)
        if outcome is None:
            lost += 1
        elif announced > 1:
            twice += 1
        elif outcome["status"] == "succeeded":
            completed += 1
        else:
            failed += 1
    extra = max(0, len(others - wanted) - unanswered)
    return {"accepted": len(wanted), "completed": completed, "failed": failed, "lost": lost,
            "duplicated": twice + extra + (len(accepted) - len(wanted))}


def timing(jobs: list[dict]) -> dict:
    """Throughput and submit → result latency from the jobs' own timestamps: from the first one created to the last
    result committed (updatedAt), and each job's updatedAt - createdAt."""
    created = [datetime.fromisoformat(job["createdAt"]) for job in jobs]
    updated = [datetime.fromisoformat(job["updatedAt"]) for job in jobs]
    elapsed = max((max(updated) - min(created)).total_seconds(), 1e-6)
    latencies = [(end - begin).total_seconds() for begin, end in zip(created, updated)]
    return {"jobs_per_s": len(jobs) / elapsed, "elapsed_s": elapsed,
            "e2e_p50_ms": statistics.median(latencies) * 1000, "e2e_p99_ms": percentile(latencies, 0.99) * 1000}


def waits_during(begin: float, end: float, readings: list[tuple[float, float]]) -> float | None:
    """The longest of a probe's readings (wall-clock start in seconds, milliseconds) under way at some moment from
    `begin` to `end` (seconds), or None when none was (the probe had no reading then: not a wait of zero)."""
    overlapping = [ms for start, ms in readings if start < end and start + ms / 1000 > begin]
    return max(overlapping) if overlapping else None


def probe_summary(waited: list[float]) -> dict:
    """How many readings a probe took through the phase, and their p50, p99 and longest (ms)."""
    return {"readings": len(waited), "p50_ms": percentile(waited, 0.5), "p99_ms": percentile(waited, 0.99),
            "max_ms": max(waited)}


STALL_MS = 50  # a service's /alive answering this late is a stall (service_stalls)
# What the machine did through a stall (service_stalls), the first that holds: a third of a core or more stolen; the
# host watch's timer late by half the stall or more; its own work on 90 % or more of its cores; none of these.
STOLEN, LATE, FULL, NONE = "the host took cores", "the machine stopped", "the cores were full", "none of these"


def service_stalls(probes: dict[str, list[tuple[float, float]]], names: list[str], host: HostWatch | None,
                   since: float, threshold_ms: float = STALL_MS) -> list[dict]:
    """Every stall of the services' liveness probes (`names`, WaitProbes' --probe-alive) from wall-clock `since` on: a
    reading of `threshold_ms` or more, merged with any other probe's that overlaps it. Each stall says how long each
    service's reading under way then took, who it held (`stalled`), and what the machine did through it (`host`, and
    `cause`: STOLEN, LATE, FULL or NONE; None without a host watch). A stall with none of these is the stack's own, and
    not explained by the machine: a process that waited for something other than a core."""
    spans = sorted((start, start + ms / 1000) for name in names for start, ms in probes.get(name, [])
                   if ms >= threshold_ms and start + ms / 1000 >= since)
    windows: list[list[float]] = []
    for begin, end in spans:
        if windows and begin <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([begin, end])
    stalls = []
    for begin, end in windows:
        waits = {name: waits_during(begin, end, probes.get(name, [])) for name in names}
        longest = max((wait for wait in waits.values() if wait is not None), default=0.0)
        watch = host.during(begin, end) if host else None
        cause = None if watch is None else (
            STOLEN if watch["stolen_cores"] >= 0.3 else LATE if watch["timer_late_ms"] >= longest / 2
            else FULL if watch["busy_cores"] >= 0.9 * CPUS else NONE)
        stalls.append({"at_s": begin - since, "longest_ms": longest, "waits_ms": waits, "host": watch, "cause": cause,
                       "stalled": [name for name, wait in waits.items() if wait is not None and wait >= threshold_ms]})
    return stalls


def stall_summary(stalls: list[dict]) -> dict:
    """The stalls (service_stalls) by what the machine did through them, and those with none of it by who they held."""
    causes = Counter(stall["cause"] for stall in stalls)
    own = Counter(" + ".join(stall["stalled"]) for stall in stalls if stall["cause"] == NONE)
    return {"stalls": len(stalls), "causes": {cause: causes[cause] for cause in (STOLEN, LATE, FULL, NONE)},
            "unknown": causes[None], "stack_own": dict(own.most_common())}


def submission_tail(done: list[dict], answered_at: dict[str, float],
                    probes: dict[str, list[tuple[float, float]]] | None, cpu: CpuTimeline | None = None,
                    host: HostWatch | None = None, top: int = 8, alive: list[str] | None = None) -> dict:
    """When the slowest submissions were, and what each probe waited then. A submission is timed here from its job's
    arrival at a Worker replica (createdAt, set as the replica receives it) to its answer at wrk (jobs.lua): the
    admission's commit, the publish and its confirm, and the way back through the gateway; wrk's latency adds the way
    in. Those at or above the p99 of these times are merged into episodes wherever their times overlap (one slow
    commit holds every submission that shares it), and the longest episodes are listed with each probe's longest
    reading under way during them, whether the machine itself stalled then (`host`) and, with a CPU timeline, whose
    work filled the cores. With liveness probes (`alive`, their names) every stall of theirs through the phase is
    listed too (service_stalls), the longest `top` first, with a count of all."""
    spans = sorted((datetime.fromisoformat(job["createdAt"]).timestamp(), answered_at[job["id"]])
                   for job in done if job["id"] in answered_at)
    if not spans:
        return {}
    waits = [(end - begin) * 1000 for begin, end in spans]
    p99 = percentile(waits, 0.99)
    episodes: list[dict] = []
    for (begin, end), ms in zip(spans, waits):
        if ms < p99:
            continue
        if episodes and begin <= episodes[-1]["end"]:
            episode = episodes[-1]
            episode["end"] = max(episode["end"], end)
            episode["submissions"] += 1
            episode["slowest_ms"] = max(episode["slowest_ms"], ms)
        else:
            episodes.append({"begin": begin, "end": end, "submissions": 1, "slowest_ms": ms})
    phase_start = spans[0][0]
    longest = [{"at_s": episode["begin"] - phase_start, "began_unix_s": episode["begin"],
                "lasted_ms": (episode["end"] - episode["begin"]) * 1000,
                "submissions": episode["submissions"], "slowest_ms": episode["slowest_ms"],
                "waits_ms": {name: waits_during(episode["begin"], episode["end"], readings)
                             for name, readings in (probes or {}).items()}}
               | ({"host": host.during(episode["begin"], episode["end"])} if host else {})
               | ({"cpu": cpu.during(episode["begin"], episode["end"])} if cpu else {})
               for episode in sorted(episodes, key=lambda episode: -episode["slowest_ms"])[:top]]
    summary = {name: probe_summary([ms for _, ms in readings]) for name, readings in (probes or {}).items() if readings}
    tail = {"p50_ms": statistics.median(waits), "p99_ms": p99, "slow": sum(1 for ms in waits if ms >= p99),
            "episodes": len(episodes), "longest": longest, "probes": summary}
    if host:
        tail["host"] = host.summary()
    if alive and probes:
        stalls = service_stalls(probes, alive, host, phase_start)
        tail["stalls"] = {"threshold_ms": STALL_MS, "probes": alive, "summary": stall_summary(stalls),
                          "longest": sorted(stalls, key=lambda stall: -stall["longest_ms"])[:top]}
    return tail


@dataclass
class Submission:
    answers: Answers
    wrk: dict  # parse_wrk_result
    seconds: float  # from wrk's start until every submission was answered
    cpu_s: float  # wrk's user + system CPU


def submit_with_wrk(gateway: str, token: str, jobs: int, inputs: int, concurrency: int) -> Submission:
    """Runs wrk until each of its threads has sent its share of `jobs` submissions and heard every answer, then stops
    it (SIGINT: wrk otherwise runs out its duration, here only a bound)."""
    connections = max(WRK_THREADS, min(concurrency, jobs))  # no connection without a submission (jobs.lua: delay())
    threads = min(WRK_THREADS, jobs)
    bound = 120 + jobs // 5
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder:
        answers_prefix = f"{folder}/answers"
        environment = os.environ | {"JOBS_COUNT": str(jobs), "JOBS_INPUTS": str(inputs), "JOBS_THREADS": str(threads),
                                    "JOBS_RUN": uuid.uuid4().hex[:8], "JOBS_IDS": answers_prefix}
        with open(f"{folder}/wrk.out", "w+", encoding="utf-8") as output:
            started = time.perf_counter()
            process = subprocess.Popen(
                ["wrk", f"-t{threads}", f"-c{connections}", f"-d{bound}s", "--timeout", "60s",
                 "-H", f"Authorization: Bearer {token}", "-s", str(WRK_SCRIPT), f"{gateway.rstrip('/')}/api/v1/jobs"],
                stdout=output, stderr=subprocess.STDOUT, env=environment)
            markers = [Path(f"{answers_prefix}.{n}.done") for n in range(threads)]
            while process.poll() is None and not all(marker.exists() for marker in markers):
                time.sleep(0.01)
            seconds = time.perf_counter() - started
            # wrk's SIGINT handler only sets a flag; its main thread then leaves sleep(duration) early only if the
            # signal interrupted that sleep. A SIGINT that lands before main has begun sleeping (its threads can be
            # done that soon with a few jobs on a loaded machine) leaves it sleeping the whole bound: ask again until
            # it has exited.
            # (wait4 with WNOHANG, not Popen.poll: the rusage of the reaped process is the CPU this returns.)
            asked = float("-inf")
            while True:
                reaped, status, usage = os.wait4(process.pid, os.WNOHANG)
                if reaped:
                    break
                if time.perf_counter() - asked >= 0.5:
                    process.send_signal(signal.SIGINT)
                    asked = time.perf_counter()
                time.sleep(0.01)
            process.returncode = os.waitstatus_to_exitcode(status)
            output.seek(0)
            result = parse_wrk_result(output.read())
        lines = []
        for n in range(threads):
            with open(f"{answers_prefix}.{n}", encoding="utf-8") as file:
                lines.extend(file)
    return Submission(parse_answers(lines), result, seconds, usage.ru_utime + usage.ru_stime)


@dataclass
class Audit:
    """The Worker's audit log, read as the gateway acting for an admin (the key the AppHost gave both)."""

    url: str
    key: str

    def token(self) -> str:
        import jwt  # Debian's python3-jwt

        now = int(time.time())
        # The Worker refuses a token that lives longer than 5 minutes (Auth:MaxTokenLifetime): one a minute, each call.
        return jwt.encode({"iss": "gateway", "aud": "worker", "sub": "bench-auditor", "scope": "admin",
                           "iat": now, "exp": now + 60}, self.key, algorithm="HS256")

    async def completions(self, jobs: list[str]) -> dict[str, int]:
        """How many job.completed records the audit log holds for each job (it is written after the result, by a
        consumer of the Worker's events: a job with none yet is read again, for up to 10 s)."""
        counts: dict[str, int] = {}
        semaphore = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            async def read(job: str) -> None:
                async with semaphore:
                    for _ in range(20):
                        response = await client.get(f"/v1/audit/jobs/{job}",
                                                    headers={"authorization": f"Bearer {self.token()}"})
                        response.raise_for_status()
                        counts[job] = sum(1 for record in response.json() if record["type"] == "job.completed")
                        if counts[job]:
                            return
                        await asyncio.sleep(0.5)

            await asyncio.gather(*(read(job) for job in jobs))
        return counts


async def jobs_rate(gateway: str, token: str, jobs: int, batch: int, concurrency: int,
                    cpu: CpuMeter | None = None, postgres: PostgresCounters | None = None,
                    audit: Audit | None = None, backlog: EventBacklog | None = None, phase_file: str | None = None,
                    probes: WaitProbes | None = None, patience: float = 60) -> dict:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=60) as client:
        # A phase starts with its events queues empty (the warm-up's events consumed), and a profile ends with them
        # empty again: the events of its own jobs, and only those, are consumed within it.
        backlog_before = await backlog.drain() if backlog else None
        # The watch and the probes start first (each waits for its first reading), outside the measured window.
        host = HostWatch()
        host.start()
        if probes:
            await probes.start()
        if phase_file:  # the measured jobs start now (jobs.sh --trace starts its recordings)
            with open(phase_file, "w", encoding="utf-8") as file:
                file.write("single\n")
        database_before = postgres.snapshot() if postgres else None
        cpu_before = cpu.snapshot() if cpu else None
        wall_start = datetime.now().astimezone() - timedelta(milliseconds=5)
        # wrk runs in a thread of its own: nothing else runs meanwhile (but the watch and the probes), and the event
        # loop stays free.
        submission = await asyncio.to_thread(submit_with_wrk, gateway, token, jobs, batch, concurrency)
        readings = await probes.stop() if probes else None
        host.stop()
        accepted = submission.answers.accepted

        # Polls the unfinished jobs (a short list while processing keeps up), and lists the finished ones only once
        # none of this phase is left: the polling is load on the stack being measured, and must not grow with the
        # number of jobs. Gives up after `patience` seconds without progress (what is left counts as lost).
        wanted = set(accepted)
        finished: dict[str, dict] = {}
        others: set[str] = set()  # jobs created since this phase began that no 202 names

        async def listed(status: str, stop_before: datetime | None = None) -> list[dict]:
            items, page_token = [], None
            while True:
                params = {"status": status, "pageSize": 100} | ({"pageToken": page_token} if page_token else {})
                page = (await client.get("/api/v1/jobs", params=params)).json()
                items.extend(page["items"])
                page_token = page.get("nextPageToken")
                # Newest first: past this phase's start there is nothing of this phase.
                if not page_token or (stop_before and page["items"]
                                      and datetime.fromisoformat(page["items"][-1]["createdAt"]) < stop_before):
                    return items

        async def collect() -> None:
            for status in ("succeeded", "failed"):
                for job in await listed(status, wall_start):
                    if job["id"] in wanted:
                        finished[job["id"]] = job
                    elif datetime.fromisoformat(job["createdAt"]) >= wall_start:
                        others.add(job["id"])

        progress, last_progress = -1, time.monotonic()
        cpu_done: dict[str, float] | None = None
        events: dict | None = None
        database_done: dict | None = None
        while wanted and len(finished) < len(wanted):
            await asyncio.sleep(0.25)
            unfinished = [job for status in ("queued", "running") for job in await listed(status)]
            pending = sum(1 for job in unfinished if job["id"] in wanted)
            if not pending:
                # Every job is done: the CPU of the phase ends here, before the reads that check the results (a
                # thousand jobs' pages through the gateway and the Worker are work of the benchmark, not of the jobs).
                if cpu and cpu_done is None:
                    # ...and their events consumed, which is work of the jobs too (EventBacklog).
                    events = await backlog.drain() if backlog else None
                    cpu_done = cpu.snapshot()
                if postgres and database_done is None:
                    database_done = postgres.snapshot()  # likewise for the statements
                await collect()
            if len(wanted) - pending + len(finished) > progress:
                progress, last_progress = len(wanted) - pending + len(finished), time.monotonic()
            elif time.monotonic() - last_progress > patience:
                if pending:
                    await collect()  # what did finish; the rest is lost
                break

        profile = {}
        if cpu and cpu_before:
            # The load client is wrk (its own CPU, from the kernel's accounting of the child) and this script, which
            # polled for the results (a few list calls a second) and waited for wrk's answers.
            cpu_after = cpu_done or cpu.snapshot()
            spent = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
            spent["jobs.py (polls results)"] = spent.pop("load client") - submission.cpu_s
            spent["wrk (load client)"] = submission.cpu_s
            profile["cpu_ms_per_job"] = {name: value * 1000 / jobs for name, value in spent.items()}
            if events is not None:
                profile["events_backlog"] = events | {"before": backlog_before}
        if postgres and database_before:
            profile |= PostgresCounters.per_job(database_before, database_done or postgres.snapshot(), jobs)
        completions, audit_error = None, None
        if audit:
            try:
                completions = await audit.completions([job for job in accepted if job in finished])
            except (httpx.HTTPError, KeyError, ValueError) as error:  # the figures stand; the table says so
                audit_error = f"{type(error).__name__}: {error}"
        unanswered = submission.wrk["issued"] - submission.wrk["answered"]
        tally = count_jobs(accepted, finished, completions, others, unanswered)
        done = [finished[job] for job in wanted if job in finished]
        figures = timing(done) if done else {"jobs_per_s": 0.0, "elapsed_s": 0.0, "e2e_p50_ms": 0.0, "e2e_p99_ms": 0.0}
        tail = submission_tail(done, submission.answers.answered_at, readings, probes.cpu if probes else None, host,
                               alive=list(probes.alive) if probes else None)
        return {
            "jobs_per_s": figures["jobs_per_s"],
            "items_per_s": figures["jobs_per_s"] * batch,
            "submits_per_s": len(accepted) / submission.seconds,
            "submit_p50_ms": submission.wrk["p50_us"] / 1000,
            "submit_p99_ms": submission.wrk["p99_us"] / 1000,
            "e2e_p50_ms": figures["e2e_p50_ms"],
            "e2e_p99_ms": figures["e2e_p99_ms"],
            "submitted": jobs,
            "rejected": sum(submission.answers.rejected.values()),
            "rejections": submission.answers.samples,
            "unanswered": unanswered,
            "socket_errors": submission.wrk["socket_errors"],
            "duplicates_audited": completions is not None,
            "audit_error": audit_error,
            "tail": tail,
        } | tally | ({"profile": profile} if profile else {})


def healthy(result: dict) -> bool:
    """Every submission accepted, every accepted job completed once."""
    return (result["accepted"] == result["submitted"] == result["completed"] and result["failed"] == 0
            and result["lost"] == 0 and result["duplicated"] == 0 and result["unanswered"] == 0)


def ledger(result: dict) -> str:
    """accepted / completed / failed / lost / duplicated, of the submissions sent."""
    return (f"{result['accepted']} of {result['submitted']} / {result['completed']} / {result['failed']} / "
            f"{result['lost']} / {result['duplicated']}")


def print_profile(result: dict) -> None:
    """What one phase cost per job: CPU by process (all of the stack shares the machine) and, on PostgreSQL,
    commits and statements."""
    profile = result.get("profile")
    if not profile:
        return
    if "cpu_ms_per_job" in profile:
        cpu = profile["cpu_ms_per_job"]
        print("\nCPU per single-input job (ms, user + system, each process with its children):\n")
        print("| " + " | ".join(cpu) + " | total |")
        print("|" + "---|" * (len(cpu) + 1))
        print("| " + " | ".join(f"{value:.2f}" for value in cpu.values()) + f" | {sum(cpu.values()):.2f} |")
        if "events_backlog" in profile:
            backlog = profile["events_backlog"]
            queued = ", ".join(f"{name} {count}" for name, count in backlog["queued"].items())
            before = backlog["before"]
            waited = ", ".join(f"{name} {count}" for name, count in before["queued"].items())
            print(f"\nEvents queued before the phase: {waited} (consumed in {before['drain_s']:.1f} s, before it began). "
                  f"Still queued when its last job was done: {queued}; consumed {backlog['drain_s']:.1f} s later, and "
                  "counted above.")
    if "commits_per_job" in profile:
        commits = ", ".join(f"{name} {value:.2f}" for name, value in sorted(profile["commits_per_job"].items()))
        print(f"\nPostgreSQL commits per single-input job: {commits}")
    if "wal_syncs_per_job" in profile:
        print(f"PostgreSQL WAL flushes per single-input job (the whole server): {profile['wal_syncs_per_job']:.3f}")
    statements = profile.get("statements_per_job")
    if statements:
        total: dict[str, float] = {}
        for key, calls in statements.items():
            database = key.split(": ", 1)[0]
            total[database] = total.get(database, 0) + calls
        times = profile.get("statement_us_per_job", {})
        # pg_stat_statements keeps one entry per number of parameters, so a multi-row statement is many entries: the
        # table adds them up by shape. The server's time is wall clock, so waits for locks count too.
        shapes: dict[str, list[float]] = {}
        for key, calls in statements.items():
            database, query = key.split(": ", 1)
            figures = shapes.setdefault(f"{database}: {statement_shape(query)}", [0.0, 0.0])
            figures[0] += calls
            figures[1] += times.get(key, 0)
        server = sum(figures[1] for figures in shapes.values())
        print("PostgreSQL statements per single-input job (pg_stat_statements): "
              + ", ".join(f"{name} {value:.2f}" for name, value in sorted(total.items()))
              + f"; the server's time in them {server:.0f} µs per job\n")
        print("| database | statement (rows and lists of parameters shortened) | per job | server time per job (µs) | per call (µs) |")
        print("|---|---|---|---|---|")
        for key in sorted(shapes, key=lambda key: -shapes[key][1])[:24]:
            database, text = key.split(": ", 1)
            calls, micros = shapes[key]
            text = (text[:120] + "…") if len(text) > 120 else text
            print(f"| {database} | `{text.replace('|', '/')}` | {calls:.3f} | {micros:.1f} | {micros / calls:.0f} |")


def print_tail(result: dict) -> None:
    """When the slowest single-input submissions were (submission_tail), whether the machine itself stalled then, and
    what each probe waited then."""
    tail = result.get("tail")
    if not tail:
        return
    print(f"\nSingle-input submissions, from the job's arrival at a Worker to its answer at wrk: p50 {tail['p50_ms']:.0f} / "
          f"p99 {tail['p99_ms']:.0f} ms (wrk, from sending: {result['submit_p50_ms']:.0f} / "
          f"{result['submit_p99_ms']:.0f} ms). The {tail['slow']} at or above that p99 fall in {tail['episodes']} "
          "episodes (their times overlapping); the longest:")
    host, probes = tail.get("host"), list(tail["probes"])
    columns = ["at (s into the phase)", "lasted (ms)", "slow submissions", "slowest (ms)"]
    if host:
        columns += ["host watch's timer late (ms)", "machine busy / stolen (cores)"]
    columns += [f"longest {name} under way (ms)" for name in probes]
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for episode in tail["longest"]:
        cells = [f"{episode['at_s']:.2f}", f"{episode['lasted_ms']:.0f}", str(episode["submissions"]),
                 f"{episode['slowest_ms']:.0f}"]
        if host:
            watch = episode.get("host")
            cells += ["–", "–"] if watch is None else [
                f"{watch['timer_late_ms']:.0f}", f"{watch['busy_cores']:.2f} / {watch['stolen_cores']:.2f}"]
        cells += ["none" if (wait := episode["waits_ms"].get(name)) is None else f"{wait:.0f}" for name in probes]
        print("| " + " | ".join(cells) + " |")
    if host:
        print(f"\nThrough the submissions ({host['seconds']:.1f} s), the hypervisor took {host['stolen_cores']:.2f} of the "
              f"{CPUS} cores on average and at most {host['stolen_cores_most']:.2f} over {host['window_ms']:.0f} ms "
              f"(steal); the host watch's own {host['timer_interval_ms']:.0f} ms sleep (a process in a scheduler group of its own) woke late by p50 "
              f"{host['timer_late_p50_ms']:.1f} / p99 {host['timer_late_p99_ms']:.1f} / at most {host['timer_late_max_ms']:.0f} ms. "
              "An episode through which that timer woke late by about its length, or most of a core was stolen, "
              "points to the machine, not the stack.")
    processes = [episode for episode in tail["longest"] if episode.get("cpu")]
    if processes:
        print("\nWhose work filled the cores through each of those episodes (from the samples of /proc before and after it):\n")
        print("| at (s into the phase) | window (ms) | busiest processes (cores) |")
        print("|---|---|---|")
        for episode in processes:
            cpu = episode["cpu"]
            busiest = ", ".join(f"{process['name']} {process['cores']:.2f}" for process in cpu["busiest"])
            print(f"| {episode['at_s']:.2f} | {cpu['window_ms']:.0f} | {busiest} |")
    if probes:
        print("\n| probe, through the submissions | readings | p50 (ms) | p99 (ms) | max (ms) |")
        print("|---|---|---|---|---|")
        for name, figures in tail["probes"].items():
            print(f"| {name} | {figures['readings']} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | "
                  f"{figures['max_ms']:.0f} |")
    print_stalls(tail.get("stalls"))


def print_stalls(stalls: dict | None) -> None:
    """The services' liveness stalls of submission_tail: a table of the longest and a sentence for all."""
    if not stalls:
        return
    summary, names = stalls["summary"], stalls["probes"]
    if not summary["stalls"]:
        print(f"\nThe services' `/alive`, asked every {WaitProbes.INTERVAL_S * 1000:.0f} ms: no stall (no reading of "
              f"{stalls['threshold_ms']:.0f} ms or more).")
        return
    causes = ", ".join(f"{cause}: {count}" for cause, count in summary["causes"].items())
    own = "; ".join(f"{who}: {count}" for who, count in summary["stack_own"].items())
    count = summary["stalls"]
    print(f"\nThe services' `/alive`, asked every {WaitProbes.INTERVAL_S * 1000:.0f} ms: {count} stall{'s' * (count != 1)} "
          f"(a reading of {stalls['threshold_ms']:.0f} ms or more, overlapping ones merged). What the machine did "
          f"through them (the first that holds: a third of a core or more stolen; the host watch's timer late by half "
          f"the stall or more; 90 % of the cores busy): {causes}."
          + (f" Those with none of these held {own}." if own else "")
          + (f" {summary['unknown']} without the host watch." if summary["unknown"] else ""))
    if not stalls["longest"]:
        return
    columns = (["at (s into the phase)"] + [f"{name} (ms)" for name in names]
               + ["host watch's timer late (ms)", "machine busy / stolen (cores)", "what the machine did"])
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for stall in stalls["longest"]:
        watch = stall["host"]
        cells = ([f"{stall['at_s']:.2f}"]
                 + ["–" if (wait := stall["waits_ms"].get(name)) is None else f"{wait:.0f}" for name in names]
                 + (["–", "–", "unknown"] if watch is None else [
                     f"{watch['timer_late_ms']:.0f}", f"{watch['busy_cores']:.2f} / {watch['stolen_cores']:.2f}",
                     stall["cause"]]))
        print("| " + " | ".join(cells) + " |")


def statement_shape(query: str) -> str:
    """A statement with its parameters unnumbered and its repeated rows and lists shortened to one: `IN ($…)`."""
    text = re.sub(r"\$\d+", "$", " ".join(query.split()))
    text = re.sub(r"\(\$(, \$)*\)(, \(\$(, \$)*\))+", lambda match: match.group(0).split("), (")[0] + "), …", text)
    return re.sub(r"IN \(\$(, \$)*\)", "IN ($…)", text)


def print_comparison(runs: dict[str, dict]) -> None:
    """One table for several providers measured one after the other, and each against the first."""
    print("| provider | raw publish (msg/s) | raw consume (msg/s) | 1-input jobs/s (vs raw publish) | submit p50 / p99 (ms) | "
          "submit → result p50 / p99 (ms) | 100-input jobs/s (items/s) | submit p50 / p99 (ms) | failed | lost / duplicated |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        single, batched = run["single"], run["batched"]
        print(f"| {name} | {run['raw_publish_per_s']:,.0f} | {run['raw_consume_per_s']:,.0f} | "
              f"{single['jobs_per_s']:,.1f} ({single['jobs_per_s'] / run['raw_publish_per_s']:.3f}) | "
              f"{single['submit_p50_ms']:.0f} / {single['submit_p99_ms']:.0f} | "
              f"{single['e2e_p50_ms']:.0f} / {single['e2e_p99_ms']:.0f} | "
              f"{batched['jobs_per_s']:,.1f} ({batched['items_per_s']:,.0f}) | "
              f"{batched['submit_p50_ms']:.0f} / {batched['submit_p99_ms']:.0f} | "
              f"{single['failed'] + batched['failed']:.0f} | "
              f"{single['lost'] + batched['lost']} / {single['duplicated'] + batched['duplicated']} |")
    names = list(runs)
    base = runs[names[0]]
    for name in names[1:]:
        run = runs[name]
        print(f"| **{name} / {names[0]}** | {run['raw_publish_per_s'] / base['raw_publish_per_s']:.2f} | "
              f"{run['raw_consume_per_s'] / base['raw_consume_per_s']:.2f} | "
              f"**{run['single']['jobs_per_s'] / base['single']['jobs_per_s']:.2f}×** | "
              f"{run['single']['submit_p50_ms'] / base['single']['submit_p50_ms']:.2f} / "
              f"{run['single']['submit_p99_ms'] / base['single']['submit_p99_ms']:.2f} | "
              f"{run['single']['e2e_p50_ms'] / base['single']['e2e_p50_ms']:.2f} / "
              f"{run['single']['e2e_p99_ms'] / base['single']['e2e_p99_ms']:.2f} | "
              f"**{run['batched']['jobs_per_s'] / base['batched']['jobs_per_s']:.2f}×** | "
              f"{run['batched']['submit_p50_ms'] / base['batched']['submit_p50_ms']:.2f} / "
              f"{run['batched']['submit_p99_ms'] / base['batched']['submit_p99_ms']:.2f} | | |")


def named_pids(values: list[str]) -> dict[str, list[int]]:
    trees: dict[str, list[int]] = {}
    for value in values:
        name, _, pids = value.partition("=")
        trees.setdefault(name, []).extend(int(pid) for pid in pids.replace(",", " ").split())
    return trees


def postgres_conninfo(connection_string: str) -> str:
    """libpq's form of an Npgsql connection string (Host=...;Port=...;Username=...;Password=...;Database=...)."""
    keywords = {"host": "host", "port": "port", "username": "user", "password": "password", "database": "dbname"}
    parts = []
    for item in connection_string.split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() in keywords:
            parts.append(f"{keywords[key.strip().lower()]}='{value.strip()}'")
    return " ".join(parts)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway")
    parser.add_argument("--token")
    parser.add_argument("--amqp")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=50, help="single-input jobs submitted before measuring")
    parser.add_argument("--json", help="also write the figures to this file (scripts/bench/run.sh reads it)")
    parser.add_argument("--cpu", action="append", default=[], metavar="NAME=PID[,PID]",
                        help="profile: CPU per single-input job of these processes (with their children)")
    parser.add_argument("--postgres", metavar="CONNECTION_STRING",
                        help="profile: commits (and statements, if pg_stat_statements is preloaded) per single-input job")
    parser.add_argument("--phase-file", help="write 'single' to this file when the measured single-input jobs start "
                                             "(jobs.sh --trace starts its recordings then)")
    parser.add_argument("--worker", metavar="URL", help="the Worker's address, to count jobs done twice in its audit log")
    parser.add_argument("--worker-key", metavar="KEY", help="the key the gateway signs its tokens for the Worker with "
                                                            "(Auth__Callers__gateway__SigningKey): the audit log wants "
                                                            "an admin's token")
    parser.add_argument("--probes", action="store_true",
                        help="time a synced disk write, a confirmed publish (and, with --probe-postgres, a commit; "
                             "with --probe-sqlite, the write lock) every 25 ms beside the single-input submissions, "
                             "and put them beside the slowest")
    parser.add_argument("--probe-postgres", metavar="CONNECTION_STRING",
                        help="with --probes: the stack's PostgreSQL (a table of the probe's own, dropped after)")
    parser.add_argument("--probe-sqlite", metavar="PATH",
                        help="with --probes: the Worker's SQLite database (its write lock taken and given back)")
    parser.add_argument("--probe-alive", action="append", default=[], metavar="NAME=URL",
                        help="with --probes: a service's liveness (GET URL, its /alive) to time as well, under NAME; "
                             "repeat for each (jobs.sh gives every Worker replica and the gateway)")
    parser.add_argument("--probe-folder", default=tempfile.gettempdir(),
                        help="with --probes: where the synced write goes (the stores' file system; default: %(default)s)")
    parser.add_argument("--compare", nargs="+", metavar="NAME=FILE",
                        help="only print one table of earlier runs' --json files, the first as the baseline")
    args = parser.parse_args()

    if args.compare:
        runs = {}
        for value in args.compare:
            name, _, path = value.partition("=")
            with open(path, encoding="utf-8") as file:
                runs[name] = json.load(file)
        print_comparison(runs)
        return 0
    if not (args.gateway and args.token and args.amqp):
        parser.error("--gateway, --token and --amqp are required (unless --compare)")

    cpu = CpuMeter(named_pids(args.cpu) | {"load client": [os.getpid()]}) if args.cpu else None
    postgres = PostgresCounters(postgres_conninfo(args.postgres)) if args.postgres else None
    audit = Audit(args.worker, args.worker_key) if args.worker and args.worker_key else None
    published, consumed = await raw_broker_rate(args.amqp, args.jobs * 5, args.concurrency)
    # Warm-up: connection pools, model cache, first calls. .NET's tiered compilation goes on re-compiling hot methods
    # for thousands of jobs on a busy machine (docs/performance.md, "Where the CPU went"): jobs.sh turns it off.
    if args.warmup > 0:
        await jobs_rate(args.gateway, args.token, args.warmup, 1, args.concurrency)
        await jobs_rate(args.gateway, args.token, max(1, args.warmup // 100), 100, args.concurrency)
    backlog = EventBacklog(args.amqp) if cpu else None
    probes = WaitProbes(args.amqp, args.probe_folder,
                        postgres_conninfo(args.probe_postgres) if args.probe_postgres else None, args.probe_sqlite,
                        dict(value.split("=", 1) for value in args.probe_alive)) if args.probes else None
    single = await jobs_rate(args.gateway, args.token, args.jobs, 1, args.concurrency, cpu, postgres, audit, backlog,
                             args.phase_file, probes)
    batched = await jobs_rate(args.gateway, args.token, max(10, args.jobs // 10), 100, args.concurrency, audit=audit)

    print(f"\n{args.concurrency} requests in flight (wrk); {args.jobs} jobs of 1 input, {max(10, args.jobs // 10)} jobs of 100 inputs.\n")
    print("| measurement | jobs/s | items/s | vs raw broker (msg/s) | submit p50 / p99 (ms) | submit → result p50 / p99 (ms) | "
          "accepted / completed / failed / lost / duplicated |")
    print("|---|---|---|---|---|---|---|")
    print(f"| raw broker: publish, persistent + confirms | {published:,.0f} | | 1.00 | | | |")
    print(f"| raw broker: consume, manual acks | {consumed:,.0f} | | {consumed / published:.2f} | | | |")
    for name, result in (("jobs, 1 input each", single), ("jobs, 100 inputs each", batched)):
        print(f"| {name} | {result['jobs_per_s']:,.1f} | {result['items_per_s']:,.0f} | "
              f"{result['jobs_per_s'] / published:.3f} | {result['submit_p50_ms']:.0f} / {result['submit_p99_ms']:.0f} | "
              f"{result['e2e_p50_ms']:.0f} / {result['e2e_p99_ms']:.0f} | {ledger(result)} |")
    if not audit:
        print("\n(duplicated: jobs no 202 accounts for only; without --worker and --worker-key the audit log was not read)")
    for name, result in (("1-input", single), ("100-input", batched)):
        if result["audit_error"]:
            print(f"\n**{name} jobs: the Worker's audit log could not be read** ({result['audit_error']}): duplicated "
                  "counts only the jobs no 202 accounts for")
    for name, result in (("1-input", single), ("100-input", batched)):
        if result["rejected"] or result["unanswered"] or result["socket_errors"]:
            print(f"\n{name} submissions: {result['rejected']} answered other than 202 (first: {result['rejections']}), "
                  f"{result['unanswered']} never answered, {result['socket_errors']} socket errors (wrk)")
    print_tail(single)
    print_profile(single)
    if args.json:
        figures = {"raw_publish_per_s": published, "raw_consume_per_s": consumed, "concurrency": args.concurrency,
                   "single": single | {"jobs": args.jobs, "inputs": 1},
                   "batched": batched | {"jobs": max(10, args.jobs // 10), "inputs": 100}}
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=2)
    return 0 if healthy(single) and healthy(batched) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
