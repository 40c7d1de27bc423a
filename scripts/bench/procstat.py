"""The kernel's CPU accounts under /proc, read one way by every benchmark script. Standard library only: the scripts
run under Debian's python3 and under python-inference's virtual environment, and import this from their own folder.

The kernel counts CPU in ticks (USER_HZ, 100 a second here), so a window of a few ticks reads coarsely."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, TextIO

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
TICK_S = 1 / TICKS_PER_S
CPUS = os.cpu_count() or 1


class Machine(NamedTuple):
    """The whole machine's CPU so far, in ticks of all its cores (/proc/stat's first line)."""

    busy: int  # user, nice, system, irq, softirq: this guest's own work (guest time is inside user and nice)
    idle: int  # idle and iowait
    stolen: int  # steal: the hypervisor gave this guest's cores to another guest

    @property
    def total(self) -> int:
        return self.busy + self.idle + self.stolen


def parse_machine(line: str) -> Machine:
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    return Machine(user + nice + system + irq + softirq, idle + iowait, steal)


def machine() -> Machine:
    with open("/proc/stat", encoding="ascii") as file:
        return parse_machine(file.readline())


def parse_stat(stat: str) -> tuple[str, list[str]]:
    """A /proc/PID/stat line: the process's name, and the fields after it (state = 0, ppid = 1, utime = 11,
    stime = 12, cutime = 13, cstime = 14). The name is in parentheses and may hold spaces and parentheses itself."""
    return stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()


def own_ticks(fields: list[str]) -> int:
    """User + system ticks of a process's own threads, from its parse_stat fields."""
    return int(fields[11]) + int(fields[12])


def process_ticks(pid: int) -> int:
    """User + system ticks process pid has used so far (all its threads); 0 for no process (pid 0 or less)."""
    if pid <= 0:
        return 0
    with open(f"/proc/{pid}/stat", "rb") as file:
        return own_ticks(parse_stat(file.read().decode("utf-8", "replace"))[1])


def process_stats() -> dict[int, tuple[str, list[str]]]:
    """Every process's parse_stat. A process that ends during the sweep is left out."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stats[int(entry)] = parse_stat(file.read().decode("utf-8", "replace"))
            except OSError:
                continue
    return stats


def watch(interval_s: float, out: TextIO) -> None:
    """The machine's own stalls, for a process of their own (HostWatch in jobs.py starts one, in a session of its own
    so that the scheduler gives it a group of its own, and stops it with SIGTERM): until then, every `interval_s` one
    line `M <wall clock> <busy ticks> <stolen ticks>` (machine) and, after a timed sleep of `interval_s`, one line
    `L <wall clock the sleep began> <milliseconds it woke late>`; a last `M` line once stopped, so that every sleep lies
    between two. It ends by itself if the process that started it goes."""
    stopped = False

    def stop(*_: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    parent = os.getppid()

    def sample() -> None:
        now = machine()
        out.write(f"M {time.time():.6f} {now.busy} {now.stolen}\n")

    try:
        while not stopped and os.getppid() == parent:
            sample()
            started, clock = time.time(), time.perf_counter()
            time.sleep(interval_s)
            out.write(f"L {started:.6f} {max(0.0, (time.perf_counter() - clock - interval_s) * 1000):.3f}\n")
            out.flush()
        sample()
        out.flush()
    except BrokenPipeError:
        silence(out)


def silence(out: TextIO) -> None:
    """A helper whose reader went first has nothing left to tell: `out` goes to /dev/null, so that the interpreter's
    last flush says nothing."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def start_helper(script: Path, *arguments: str) -> subprocess.Popen:
    """One of the benchmark's helper processes (this file's `watch`, liveness.py), run by this interpreter in a session
    of its own, so that the scheduler gives it a group of its own and the driver's load does not hold it; its lines come
    on its stdout."""
    return subprocess.Popen([sys.executable, str(script), *arguments], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)


def stop_helper(child: subprocess.Popen) -> None:
    """Asks a helper to end (SIGTERM: it writes its last lines first) and waits for it; kills it after 5 s."""
    child.terminate()
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def read_watch(lines: Iterable[str]) -> tuple[list[tuple[float, int, int]], list[tuple[float, float]]]:
    """A watch's lines as (machine samples: wall clock, busy, stolen ticks) and (sleeps: wall clock, ms late)."""
    machine_samples: list[tuple[float, int, int]] = []
    late: list[tuple[float, float]] = []
    for line in lines:
        kind, *values = line.split()
        if kind == "M":
            machine_samples.append((float(values[0]), int(values[1]), int(values[2])))
        elif kind == "L":
            late.append((float(values[0]), float(values[1])))
    return machine_samples, late


def percentile(values: list[float], fraction: float) -> float:
    """The value at that rank of `values` (nearest rank, no interpolation): the benchmarks' p50 and p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def watch_summary(machine_samples: list[tuple[float, int, int]], late: list[tuple[float, float]], interval_s: float,
                  window_s: float = 0.1) -> dict | None:
    """Through a whole watch: the cores stolen on average and at most over any `window_s`, and how late the timer woke
    (p50, p99, most). None for a watch with too little to say."""
    if len(machine_samples) < 2 or not late:
        return None
    (t0, _, stolen0), (t1, _, stolen1) = machine_samples[0], machine_samples[-1]
    most, j = 0.0, 0
    for i, (started, _, stolen) in enumerate(machine_samples):
        j = max(j, i + 1)
        while j < len(machine_samples) and machine_samples[j][0] - started < window_s:
            j += 1
        if j == len(machine_samples):
            break
        most = max(most, (machine_samples[j][2] - stolen) * TICK_S / (machine_samples[j][0] - started))
    lateness = [ms for _, ms in late]
    return {"seconds": t1 - t0, "stolen_cores": (stolen1 - stolen0) * TICK_S / max(t1 - t0, 1e-6),
            "stolen_cores_most": most, "window_ms": window_s * 1000, "timer_interval_ms": interval_s * 1000,
            "timer_in": "a process of its own",
            "timer_late_p50_ms": percentile(lateness, 0.5),
            "timer_late_p99_ms": percentile(lateness, 0.99), "timer_late_max_ms": max(lateness)}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        watch(float(sys.argv[2]), sys.stdout)
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":  # a watch's lines on stdin, its watch_summary on stdout
        print(json.dumps(watch_summary(*read_watch(sys.stdin), interval_s=float(sys.argv[2]))))
    else:
        sys.exit("usage: procstat.py watch SECONDS | procstat.py summary SECONDS < lines")
