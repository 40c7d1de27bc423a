"""Jobs per second end to end, beside the raw rate of the same broker (run by scripts/bench/jobs.sh).

End to end = POST /api/v1/jobs through the gateway (JWT, validation) → Worker (SQLite + outbox, publish with
confirms) → RabbitMQ (persistent) → a Worker replica (manual ack after the result is committed) → python-inference
→ result recorded. The clock stops at the last job's `updatedAt` (when its result was committed).

Raw = a plain aio-pika client on the same broker, in the same run: persistent messages, publisher confirms,
manual acks, the same number of messages in flight as job submissions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime

import aio_pika
import httpx


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class CpuMeter:
    """CPU seconds (user + system) spent by named process trees: each pid and its descendants (PostgreSQL's backends
    count with their postmaster), except descendants named as trees of their own (the services under the
    orchestrator). Read from /proc, before and after a phase."""

    def __init__(self, trees: dict[str, list[int]]) -> None:
        self.trees = trees
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self) -> dict[str, float]:
        stats: dict[int, tuple[int, float]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as file:
                        fields = file.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), counted from state = 0
                stats[int(entry)] = (int(fields[1]), sum(int(value) for value in fields[11:15]) / self.tick)
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
    """Commits and statements the Worker's (and python-inference's) databases saw: pg_stat_database, and
    pg_stat_statements when the server preloads it. A statement is one round trip unless it was batched."""

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
        queries = {}
        if self.statements:
            queries = {(database, query): calls for database, query, calls in self.connection.execute(
                "SELECT d.datname, s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                " WHERE d.datname IN ('workerdb', 'analyticsdb')")}
        return {"databases": databases, "queries": queries}

    @staticmethod
    def per_job(before: dict, after: dict, jobs: int) -> dict:
        commits = {name: (after["databases"][name][0] - before["databases"].get(name, (0, 0))[0]) / jobs
                   for name in after["databases"]}
        calls: dict[str, float] = {}  # "database: statement"
        for (database, query), count in after["queries"].items():
            delta = count - before["queries"].get((database, query), 0)
            if delta > 0:
                calls[f"{database}: {query}"] = delta / jobs
        return {"commits_per_job": commits, "statements_per_job": calls}


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


async def jobs_rate(gateway: str, token: str, jobs: int, batch: int, concurrency: int,
                    cpu: CpuMeter | None = None, postgres: PostgresCounters | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway, headers=headers, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(concurrency)
        submit_latencies: list[float] = []
        ids: list[str] = []
        run = uuid.uuid4().hex[:8]

        async def submit(i: int) -> None:
            inputs = [f"Review {i}-{k}: the staff were lovely and the room was clean." for k in range(batch)]
            async with semaphore:
                begun = time.perf_counter()
                response = await client.post("/api/v1/jobs", json={"model": "sentiment", "inputs": inputs},
                                             headers={"idempotency-key": f"{run}-{i}"})
                submit_latencies.append(time.perf_counter() - begun)
            if response.status_code != 202:
                raise RuntimeError(f"submission {i}: {response.status_code} {response.text}")
            ids.append(response.json()["id"])

        database_before = postgres.snapshot() if postgres else None
        cpu_before = cpu.snapshot() if cpu else None
        wall_start = datetime.now().astimezone()
        started = time.perf_counter()
        await asyncio.gather(*(submit(i) for i in range(jobs)))
        submitted = time.perf_counter() - started

        # Polls the unfinished jobs (a short list while processing keeps up), and lists the finished ones only once
        # none is left: the polling is load on the stack being measured, and must not grow with the number of jobs.
        wanted = set(ids)
        finished: dict[str, dict] = {}

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

        while len(finished) < jobs:
            await asyncio.sleep(0.25)
            unfinished = [job for status in ("queued", "running") for job in await listed(status)]
            if any(job["id"] in wanted for job in unfinished):
                continue
            for status in ("succeeded", "failed"):
                finished |= {job["id"]: job for job in await listed(status, wall_start) if job["id"] in wanted}

        profile = {}
        if cpu and cpu_before:
            # Includes the polling for results above (a few list calls a second).
            cpu_after = cpu.snapshot()
            profile["cpu_ms_per_job"] = {name: (cpu_after[name] - cpu_before[name]) * 1000 / jobs for name in cpu_after}
        if postgres and database_before:
            profile |= PostgresCounters.per_job(database_before, postgres.snapshot(), jobs)
        failed = sum(1 for job in finished.values() if job["status"] != "succeeded")
        ends = [datetime.fromisoformat(job["updatedAt"]) for job in finished.values()]
        latencies = [(datetime.fromisoformat(j["updatedAt"]) - datetime.fromisoformat(j["createdAt"])).total_seconds()
                     for j in finished.values()]
        elapsed = (max(ends) - wall_start).total_seconds()
        return {
            "jobs_per_s": jobs / elapsed,
            "items_per_s": jobs * batch / elapsed,
            "submits_per_s": jobs / submitted,
            "submit_p50_ms": statistics.median(submit_latencies) * 1000,
            "submit_p99_ms": percentile(submit_latencies, 0.99) * 1000,
            "e2e_p50_ms": statistics.median(latencies) * 1000,
            "e2e_p99_ms": percentile(latencies, 0.99) * 1000,
            "failed": failed,
        } | ({"profile": profile} if profile else {})


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
    if "commits_per_job" in profile:
        commits = ", ".join(f"{name} {value:.2f}" for name, value in sorted(profile["commits_per_job"].items()))
        print(f"\nPostgreSQL commits per single-input job: {commits}")
    statements = profile.get("statements_per_job")
    if statements:
        total: dict[str, float] = {}
        for key, calls in statements.items():
            database = key.split(": ", 1)[0]
            total[database] = total.get(database, 0) + calls
        print("PostgreSQL statements per single-input job (pg_stat_statements): "
              + ", ".join(f"{name} {value:.2f}" for name, value in sorted(total.items())) + "\n")
        print("| database | statement | per job |")
        print("|---|---|---|")
        for key, calls in sorted(statements.items(), key=lambda item: -item[1])[:25]:
            database, query = key.split(": ", 1)
            text = " ".join(query.split())
            text = (text[:110] + "…") if len(text) > 110 else text
            print(f"| {database} | `{text.replace('|', '/')}` | {calls:.3f} |")


def print_comparison(runs: dict[str, dict]) -> None:
    """One table for several providers measured one after the other, and each against the first."""
    print("| provider | raw publish (msg/s) | raw consume (msg/s) | 1-input jobs/s (vs raw publish) | submit p50 / p99 (ms) | "
          "submit → result p50 / p99 (ms) | 100-input jobs/s (items/s) | submit p50 / p99 (ms) | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        single, batched = run["single"], run["batched"]
        print(f"| {name} | {run['raw_publish_per_s']:,.0f} | {run['raw_consume_per_s']:,.0f} | "
              f"{single['jobs_per_s']:,.1f} ({single['jobs_per_s'] / run['raw_publish_per_s']:.3f}) | "
              f"{single['submit_p50_ms']:.0f} / {single['submit_p99_ms']:.0f} | "
              f"{single['e2e_p50_ms']:.0f} / {single['e2e_p99_ms']:.0f} | "
              f"{batched['jobs_per_s']:,.1f} ({batched['items_per_s']:,.0f}) | "
              f"{batched['submit_p50_ms']:.0f} / {batched['submit_p99_ms']:.0f} | "
              f"{single['failed'] + batched['failed']:.0f} |")
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
              f"{run['batched']['submit_p99_ms'] / base['batched']['submit_p99_ms']:.2f} | |")


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
    published, consumed = await raw_broker_rate(args.amqp, args.jobs * 5, args.concurrency)
    # Warm-up: connection pools, model cache, first calls. .NET's tiered compilation goes on re-compiling hot methods
    # for thousands of jobs on a busy machine (docs/performance.md, "Where the CPU went"): jobs.sh turns it off.
    await jobs_rate(args.gateway, args.token, args.warmup, 1, args.concurrency)
    await jobs_rate(args.gateway, args.token, max(1, args.warmup // 100), 100, args.concurrency)
    if args.phase_file:
        with open(args.phase_file, "w", encoding="utf-8") as file:
            file.write("single\n")
    single = await jobs_rate(args.gateway, args.token, args.jobs, 1, args.concurrency, cpu, postgres)
    batched = await jobs_rate(args.gateway, args.token, max(10, args.jobs // 10), 100, args.concurrency)

    print(f"\n{args.concurrency} requests in flight; {args.jobs} jobs of 1 input, {max(10, args.jobs // 10)} jobs of 100 inputs.\n")
    print("| measurement | jobs/s | items/s | vs raw broker (msg/s) | submit p50 / p99 (ms) | submit → result p50 / p99 (ms) | failed |")
    print("|---|---|---|---|---|---|---|")
    print(f"| raw broker: publish, persistent + confirms | {published:,.0f} | | 1.00 | | | |")
    print(f"| raw broker: consume, manual acks | {consumed:,.0f} | | {consumed / published:.2f} | | | |")
    for name, result in (("jobs, 1 input each", single), ("jobs, 100 inputs each", batched)):
        print(f"| {name} | {result['jobs_per_s']:,.1f} | {result['items_per_s']:,.0f} | "
              f"{result['jobs_per_s'] / published:.3f} | {result['submit_p50_ms']:.0f} / {result['submit_p99_ms']:.0f} | "
              f"{result['e2e_p50_ms']:.0f} / {result['e2e_p99_ms']:.0f} | {result['failed']:.0f} |")
    print_profile(single)
    if args.json:
        figures = {"raw_publish_per_s": published, "raw_consume_per_s": consumed, "concurrency": args.concurrency,
                   "single": single | {"jobs": args.jobs, "inputs": 1},
                   "batched": batched | {"jobs": max(10, args.jobs // 10), "inputs": 100}}
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=2)
    return 0 if single["failed"] == 0 and batched["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
