"""scripts/bench/procstat.py, the one reader of the kernel's CPU accounts that the benchmark scripts share: the parsing
against lines as the kernel writes them, and the readers against this machine's own /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.bench.scripts import BENCH, load_bench_script

procstat = load_bench_script("procstat.py", "bench_procstat")


def test_the_machine_line_splits_into_own_work_idle_and_stolen() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice: guest time is already inside user and nice
    machine = procstat.parse_machine("cpu  100 2 30 4000 50 6 7 80 9 1\n")

    assert machine == procstat.Machine(busy=100 + 2 + 30 + 6 + 7, idle=4000 + 50, stolen=80)
    assert machine.total == 145 + 4050 + 80


def test_a_process_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    fields_after_name = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"
    comm, fields = procstat.parse_stat(f"4242 (a (b) c) {fields_after_name}\n")

    assert comm == "a (b) c"
    assert fields[0] == "S" and fields[1] == "1"
    assert procstat.own_ticks(fields) == 11 + 12  # utime + stime, not the children's cutime and cstime


def test_this_process_is_read_from_proc_and_its_cpu_grows_when_it_works() -> None:
    before = procstat.process_ticks(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass

    assert procstat.process_ticks(os.getpid()) >= before + 5  # 100 ms of CPU, in ticks of 10 ms, less rounding
    assert procstat.process_ticks(0) == 0
    assert os.getpid() in procstat.process_stats()


def test_the_machine_reading_only_moves_forward() -> None:
    first = procstat.machine()
    time.sleep(0.05)
    second = procstat.machine()

    assert all(later >= earlier for earlier, later in zip(first, second))
    assert second.total > first.total  # the clock ran on every core, counted as one of the three


def test_a_script_run_from_its_folder_finds_the_shared_module() -> None:
    # As the benchmarks start them: a script file of that folder, which comes first on its path. cpu_split.py imports
    # procstat at start, and its help needs nothing else.
    result = subprocess.run([sys.executable, str(BENCH / "cpu_split.py"), "--help"], capture_output=True, text=True,
                            cwd="/", timeout=30)

    assert result.returncode == 0, result.stderr


def test_a_watch_s_lines_sum_up_to_the_steal_and_the_timer_s_lateness() -> None:
    # 1 s sampled every 25 ms; a core stolen for 100 ms from 500 ms, and one sleep that woke 90 ms late.
    tick = procstat.TICK_S
    stolen_ticks = round(0.1 / tick)
    lines = []
    for n in range(40):
        lines.append(f"M {n * 0.025:.6f} {n * 3} {stolen_ticks if n >= 24 else 0}\n")
        lines.append(f"L {n * 0.025:.6f} {90.0 if n == 20 else 0.5}\n")
    lines.append(f"M 1.0 120 {stolen_ticks}\n")

    summary = procstat.watch_summary(*procstat.read_watch(lines), interval_s=0.025)

    assert summary["seconds"] == 1.0 and summary["timer_interval_ms"] == 25.0
    assert summary["stolen_cores"] == pytest.approx(stolen_ticks * tick)
    assert summary["stolen_cores_most"] == pytest.approx(stolen_ticks * tick / 0.1, rel=0.05)
    assert summary["timer_late_max_ms"] == 90.0 and summary["timer_late_p50_ms"] == 0.5
    assert procstat.watch_summary(*procstat.read_watch(lines[:1]), interval_s=0.025) is None  # too little to say


def test_the_watch_and_its_summary_run_from_the_command_line_as_run_sh_runs_them(tmp_path) -> None:
    script = str(BENCH / "procstat.py")
    watch = subprocess.Popen([sys.executable, script, "watch", "0.025"], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    time.sleep(0.3)
    watch.terminate()
    lines, _ = watch.communicate(timeout=10)
    summary = subprocess.run([sys.executable, script, "summary", "0.025"], input=lines, capture_output=True,
                             text=True, check=True, timeout=30).stdout

    figures = json.loads(summary)
    assert watch.returncode == 0 and figures["timer_in"] == "a process of its own"
    assert figures["seconds"] > 0.1 and figures["timer_late_max_ms"] >= 0 and figures["stolen_cores_most"] >= 0
    empty = subprocess.run([sys.executable, script, "summary", "0.025"], input="", capture_output=True, text=True,
                           check=True, timeout=30).stdout
    assert json.loads(empty) is None  # run.sh's jq then adds nothing
