"""Runs a load command (wrk) and says where the machine's CPU went meanwhile: per process of the benchmark's stack
(named with --role name=pid,pid...; the dashboard, DCP, RabbitMQ and wrk are recognised by their command line) and
everything else, from /proc before and after. Prints a Markdown table and, with --json, writes the figures.
Usage: cpu_split.py [--role NAME=PID[,PID]]... [--json FILE] -- COMMAND..."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from procstat import CPUS, TICK_S, machine, own_ticks, parse_stat  # this script's folder is on the path

# Processes of the stack that the benchmark script does not name itself, by what their command line contains.
PATTERNS = [
    ("dashboard", "Aspire.Dashboard"),
    ("dcp (orchestrator)", "/dcp"),
    ("rabbitmq", "beam.smp"),
    ("rabbitmq", "epmd"),
    ("rabbitmq", "erl_child_setup"),
    ("rabbitmq", "inet_gethost"),
    ("wrk", "wrk "),
]


def snapshot() -> dict[int, tuple[str, int, int]]:
    """pid -> (command line, CPU ticks used so far: user + system, all threads; parent pid)."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        comm, fields = parse_stat(stat)
        processes[int(entry.name)] = (cmdline or f"[{comm}]", own_ticks(fields), int(fields[1]))
    return processes


def role_of(pid: int, cmdline: str, roles: dict[int, str], ours: bool) -> str:
    if pid in roles:
        return roles[pid]
    if ours:
        for name, pattern in PATTERNS:
            if pattern in cmdline:
                return name
    program = os.path.basename(cmdline.split()[0]) if cmdline else "?"
    return f"{'stack' if ours else 'not this benchmark'}: {program}"


def descends(pid: int, roots: set[int], processes: dict[int, tuple[str, int, int]]) -> bool:
    seen = set()
    while pid > 1 and pid not in seen:
        if pid in roots:
            return True
        seen.add(pid)
        pid = processes.get(pid, ("", 0, 0))[2]
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", action="append", default=[], help="NAME=PID[,PID...]")
    parser.add_argument("--stack", type=int, action="append", default=[],
                        help="a pid whose descendants belong to the benchmark (the AppHost)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    roles: dict[int, str] = {}
    for item in args.role:
        name, _, pids = item.partition("=")
        for pid in filter(None, pids.split(",")):
            roles[int(pid)] = name

    before, machine_before, started = snapshot(), machine(), time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    after, machine_after, elapsed = snapshot(), machine(), time.monotonic() - started
    sys.stdout.write(result.stdout)

    found = re.search(r"^\s*(\d+) requests in", result.stdout, re.MULTILINE)
    requests = int(found.group(1)) if found else 0
    used: dict[str, float] = {}
    roots = set(args.stack) | set(roles) | {os.getpid()}
    for pid, (cmdline, ticks, _) in after.items():
        spent = ticks - before.get(pid, (cmdline, 0, 0))[1]
        if spent > 0:
            role = role_of(pid, cmdline, roles, descends(pid, roots, after))
            used[role] = used.get(role, 0.0) + spent * TICK_S
    all_ticks = max(1, machine_after.total - machine_before.total)
    busy = (machine_after.busy - machine_before.busy) / all_ticks * 100 * CPUS
    stolen = (machine_after.stolen - machine_before.stolen) / all_ticks * 100 * CPUS
    rows = sorted(used.items(), key=lambda item: -item[1])
    print(f"\n| process | CPU s | % of one core | share of the busy CPU | CPU ms per request |"
          f"  ({elapsed:.1f} s, {requests} requests, {CPUS} cores, machine busy {busy:.0f} % of one core,"
          f" {stolen:.0f} % stolen by the host)")
    print("|---|---|---|---|---|")
    total = sum(used.values()) or 1
    for role, seconds in rows:
        if seconds / elapsed >= 0.005:
            per_request = f"{seconds / requests * 1000:.3f}" if requests else "-"
            print(f"| {role} | {seconds:.2f} | {seconds / elapsed * 100:.0f} % | {seconds / total * 100:.0f} % | {per_request} |")
    unaccounted = busy / 100 * elapsed - sum(used.values())
    if unaccounted > 0.005 * elapsed:
        print(f"| (processes that came and went, kernel threads) | {unaccounted:.2f} | {unaccounted / elapsed * 100:.0f} % | | |")
    if args.json:
        args.json.write_text(json.dumps({"seconds": elapsed, "cpus": CPUS, "machine_busy_percent_of_core": busy,
                                         "machine_stolen_percent_of_core": stolen,
                                         "requests": requests,
                                         "cpu_seconds": dict(rows)}, indent=1))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
