"""The kernel's CPU accounts under /proc, read one way by every benchmark script. Standard library only: the scripts
run under Debian's python3 and under python-inference's virtual environment, and import this from their own folder.

The kernel counts CPU in ticks (USER_HZ, 100 a second here), so a window of a few ticks reads coarsely."""

from __future__ import annotations

import os
from typing import NamedTuple

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
