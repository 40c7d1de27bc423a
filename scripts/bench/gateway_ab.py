"""Drives wrk at each variant of scripts/bench/gateway_ab.sh in rotating rounds and reports, per variant, its own CPU,
python-inference's, the dashboard's and the whole machine's per request (from /proc), and the share of each round
python-inference's event loop (its main thread) spent on a core and runnable but waiting for one (the scheduler's
schedstat), with the medians over rounds.
Usage: gateway_ab.py --token T --python PID --dashboard PID [--rounds N] [--seconds S] [--warmup S] [--connections C]
                     LABEL=PID=URL..."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import time
from pathlib import Path

from procstat import CPUS, TICK_S, machine  # this script's folder is on the path
from procstat import process_ticks as ticks


def loop_times(pid: int) -> tuple[int, int]:
    """(ns on a core, ns runnable but waiting for one) of process pid's main thread, python-inference's event loop; the
    scheduler's own account in /proc/PID/task/PID/schedstat. (0, 0) for no process."""
    if pid <= 0:
        return 0, 0
    running, waiting, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(running), int(waiting)


def wrk(url: str, token: str, seconds: int, connections: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", "scripts/bench/wrk.lua",
         "-H", f"Authorization: Bearer {token}", url], capture_output=True, text=True, check=True).stdout
    return json.loads(re.search(r"WRK_RESULT (\{.*\})", output).group(1))


def measure(pid: int, url: str, args: argparse.Namespace) -> dict:
    own, python, dashboard, busy = ticks(pid), ticks(args.python), ticks(args.dashboard), machine()
    loop, started = loop_times(args.python), time.monotonic_ns()
    result = wrk(url, args.token, args.seconds, args.connections)
    loop2, ended = loop_times(args.python), time.monotonic_ns()
    own2, python2, dashboard2, busy2 = ticks(pid), ticks(args.python), ticks(args.dashboard), machine()
    requests = max(result["requests"], 1)
    per_request = lambda before, after: (after - before) * 1000 * TICK_S / requests  # noqa: E731
    return {
        "req_s": result["requests"] / (result["duration_us"] / 1e6),
        "own_ms": per_request(own, own2),
        "python_ms": per_request(python, python2),
        "dashboard_ms": per_request(dashboard, dashboard2),
        "machine_ms": per_request(busy.busy, busy2.busy),
        "busy_cores": (busy2.busy - busy.busy) / max(busy2.total - busy.total, 1) * CPUS,
        # Shares of the round's wall time: python-inference's event loop on a core, and runnable but waiting for one.
        "loop_running": (loop2[0] - loop[0]) / max(ended - started, 1),
        "loop_waiting": (loop2[1] - loop[1]) / max(ended - started, 1),
        "p99_ms": result["p99_us"] / 1000,
        "errors": result["non_2xx"] + result["socket_errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--python", type=int, required=True)
    parser.add_argument("--dashboard", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("variants", nargs="+", help="LABEL=PID=URL")
    args = parser.parse_args()
    variants = {}
    for spec in args.variants:
        label, pid, url = spec.split("=", 2)
        variants[label] = (int(pid), url)
    labels = list(variants)
    print(f"{args.rounds} rounds of {args.seconds} s per variant at {args.connections} connections, "
          f"after {args.warmup} s of warm-up each (the first round may still include .NET's tiered compilation)\n")
    for label in labels:
        wrk(variants[label][1], args.token, args.warmup, args.connections)
    rows: dict[str, list[dict]] = {label: [] for label in labels}
    for number in range(args.rounds):
        # Each round starts one variant later and alternates direction, so no variant always follows the same one.
        order = labels[number % len(labels):] + labels[:number % len(labels)]
        for label in order[::-1] if number % 2 else order:
            row = measure(*variants[label], args)
            rows[label].append(row)
            print(f"round {number + 1}, {label}: {row['req_s']:,.0f} req/s, p99 {row['p99_ms']:.1f} ms; CPU ms per request: "
                  f"own {row['own_ms']:.3f}, python-inference {row['python_ms']:.3f}, dashboard {row['dashboard_ms']:.3f}, "
                  f"whole machine {row['machine_ms']:.3f} ({row['busy_cores']:.2f} cores busy); python-inference's loop "
                  f"running {row['loop_running']:.0%}, waiting for a core {row['loop_waiting']:.0%}; errors {row['errors']}",
                  flush=True)
    direct = statistics.median(row["req_s"] for row in rows["direct"]) if "direct" in rows else None
    print("\n| variant | req/s | vs direct | own CPU ms / request (min–max) | python-inference | dashboard | whole machine | "
          "cores busy | python-inference's loop running / waiting for a core |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label in labels:
        median = lambda key: statistics.median(row[key] for row in rows[label])  # noqa: E731, B023
        own = [row["own_ms"] for row in rows[label]]
        versus = f"{median('req_s') / direct:.2f}×" if direct else ""
        print(f"| {label} | {median('req_s'):,.0f} | {versus} | {median('own_ms'):.3f} ({min(own):.3f}–{max(own):.3f}) | "
              f"{median('python_ms'):.3f} | {median('dashboard_ms'):.3f} | {median('machine_ms'):.3f} | {median('busy_cores'):.2f} | "
              f"{median('loop_running'):.0%} / {median('loop_waiting'):.0%} |")
    print("\n(medians over the rounds; 'own' is the variant's process, python-inference's for direct; the loop's shares are of"
          " the round's wall time, from the scheduler's /proc/PID/task/PID/schedstat: what is left is the loop idle or"
          " blocked, and 'waiting for a core' is time it could have run had a core been free)")


if __name__ == "__main__":
    main()
