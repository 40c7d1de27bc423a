"""The jobs benchmark's driver (scripts/bench/jobs.py and the wrk script it runs, scripts/bench/jobs.lua): how it reads
wrk's answers and output, and how it counts and times the jobs from the server's records. The benchmark itself runs
against a whole stack (scripts/bench/jobs.sh); these check its arithmetic, and that wrk sends exactly the
submissions asked for and writes down every answer (against a small HTTP server of the test's own)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import pytest

from tests.bench.scripts import load_bench_script

AUDIT_KEY = "a-key-of-the-gateway-for-the-worker-32b"
jobs = load_bench_script("jobs.py", "bench_jobs")


def job(identifier: str, created: str, updated: str, status: str = "succeeded") -> dict:
    return {"id": identifier, "status": status, "createdAt": f"2026-12-02T12:00:{created}+00:00",
            "updatedAt": f"2026-12-02T12:00:{updated}+00:00"}


def test_answers_count_a_202_with_an_id_as_accepted_and_anything_else_as_rejected() -> None:
    answers = jobs.parse_answers([
        "202 a 1796644800.250000\n",
        "202 b 1796644800.5\n",
        "503 - 1796644800.6 {\"title\": \"Service unavailable\"}\n",
        "202 - 1796644800.7\n",
        "\n",
        "400 - 1796644800.8 {\"code\": \"validation_failed\"}\n",
        "503 - 1796644800.9 again\n",
    ])

    assert answers.accepted == ["a", "b"]
    assert answers.answered_at == {"a": 1796644800.25, "b": 1796644800.5}
    assert answers.rejected == Counter({503: 2, 0: 1, 400: 1})
    assert answers.samples[0] == '503 - 1796644800.6 {"title": "Service unavailable"}'
    assert len(answers.samples) == 4


def test_the_wrk_result_is_the_json_line_after_wrk_s_own_summary() -> None:
    output = ("Running 2m test @ http://127.0.0.1:1/api/v1/jobs\n  1 threads and 32 connections\n"
              "  1000 requests in 1.20s, 300.00KB read\n"
              'WRK_RESULT {"requests": 1000, "issued": 1000, "answered": 1000, "p50_us": 2500, "p99_us": 9100}\n')

    result = jobs.parse_wrk_result(output)

    assert result["p50_us"] == 2500 and result["p99_us"] == 9100 and result["issued"] == result["answered"] == 1000
    with pytest.raises(ValueError, match="no WRK_RESULT"):
        jobs.parse_wrk_result("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_percentile_is_the_value_at_that_rank() -> None:
    values = [float(n) for n in range(100, 0, -1)]  # 100 … 1, unordered on purpose

    assert jobs.percentile(values, 0.5) == 51
    assert jobs.percentile(values, 0.99) == 100
    assert jobs.percentile([7.0], 0.99) == 7


def test_every_accepted_job_completed_once_is_a_clean_count() -> None:
    finished = {name: job(name, "00", "01") for name in "abc"}

    tally = jobs.count_jobs(["a", "b", "c"], finished, {"a": 1, "b": 1, "c": 1}, others=set(), unanswered=0)

    assert tally == {"accepted": 3, "completed": 3, "failed": 0, "lost": 0, "duplicated": 0}


def test_an_accepted_job_that_never_finished_is_lost_and_a_failed_one_is_failed() -> None:
    finished = {"a": job("a", "00", "01"), "b": job("b", "00", "02", status="failed")}

    tally = jobs.count_jobs(["a", "b", "c"], finished, None, others=set(), unanswered=0)

    assert tally == {"accepted": 3, "completed": 1, "failed": 1, "lost": 1, "duplicated": 0}


def test_a_job_the_audit_log_shows_completed_twice_is_duplicated_not_completed() -> None:
    finished = {name: job(name, "00", "01") for name in "ab"}

    tally = jobs.count_jobs(["a", "b"], finished, {"a": 2, "b": 1}, others=set(), unanswered=0)

    assert tally["completed"] == 1 and tally["duplicated"] == 1


def test_jobs_of_the_phase_that_no_202_accounts_for_are_duplicated_beyond_the_unanswered_submissions() -> None:
    finished = {"a": job("a", "00", "01")}

    # Two jobs of this phase nobody was told about: one may come from the submission that got no answer.
    assert jobs.count_jobs(["a"], finished, None, others={"x", "y"}, unanswered=1)["duplicated"] == 1
    assert jobs.count_jobs(["a"], finished, None, others={"x", "y"}, unanswered=2)["duplicated"] == 0
    # The same id accepted twice (two submissions, one job) is a duplicate too.
    assert jobs.count_jobs(["a", "a"], finished, None, others=set(), unanswered=0)["duplicated"] == 1


def test_throughput_runs_from_the_first_job_created_to_the_last_result_committed() -> None:
    done = [job("a", "00.000", "00.100"), job("b", "00.500", "01.000"), job("c", "01.000", "02.000")]

    figures = jobs.timing(done)

    assert figures["elapsed_s"] == pytest.approx(2.0)
    assert figures["jobs_per_s"] == pytest.approx(1.5)
    assert figures["e2e_p50_ms"] == pytest.approx(500)
    assert figures["e2e_p99_ms"] == pytest.approx(1000)


def at(seconds: float) -> datetime:
    return datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=seconds)


def test_the_wait_beside_an_episode_is_the_longest_reading_under_way_during_it() -> None:
    begin, end = at(1.0).timestamp(), at(1.2).timestamp()
    readings = [(at(0.5).timestamp(), 100.0),  # ended at 0.6: before it
                (at(0.9).timestamp(), 150.0),  # 0.9 to 1.05: began before it, overlapped
                (at(1.1).timestamp(), 40.0),  # inside it
                (at(1.2).timestamp(), 900.0)]  # began as it ended: not during it

    assert jobs.waits_during(begin, end, readings) == 150.0
    assert jobs.waits_during(begin, end, readings[:1]) is None  # no reading under way: not "zero"


def test_the_slowest_submissions_are_merged_where_their_times_overlap_and_put_beside_the_probes() -> None:
    # 100 submissions of 20 ms, one every 10 ms from 0 to 1 s, but for two of 300 ms at 0.30 and 0.35 s (one
    # episode: their times overlap) and one of 150 ms at 0.70 s (another).
    slow = {30: 300, 35: 300, 70: 150}
    done = [job(f"j{n}", f"{n / 100:06.3f}", "59.000") for n in range(100)]
    answered = {f"j{n}": at(n / 100).timestamp() + slow.get(n, 20) / 1000 for n in range(100)}
    for entry in done:
        entry["createdAt"] = at(int(entry["id"][1:]) / 100).isoformat()
    probes = {"disk sync": [(at(0.31).timestamp(), 240.0), (at(0.9).timestamp(), 1.0)],
              "broker confirm": [(at(0.71).timestamp(), 2.0)]}

    tail = jobs.submission_tail(done, answered, probes)

    assert (tail["p50_ms"], tail["p99_ms"], tail["slow"], tail["episodes"]) == (pytest.approx(20), pytest.approx(300), 2, 1)
    (episode,) = tail["longest"]
    assert episode["at_s"] == pytest.approx(0.30)
    assert episode["began_unix_s"] == pytest.approx(at(0.30).timestamp())  # to line it up with other records of the run
    assert episode["lasted_ms"] == pytest.approx(350)  # from 0.30 to 0.65 s
    assert (episode["submissions"], episode["slowest_ms"]) == (2, pytest.approx(300))
    assert episode["waits_ms"] == {"disk sync": 240.0, "broker confirm": None}
    assert tail["probes"]["disk sync"] == {"readings": 2, "p50_ms": 240.0, "p99_ms": 240.0, "max_ms": 240.0}


def test_episodes_that_do_not_overlap_are_listed_apart_the_slowest_first() -> None:
    # 40 submissions of 20 ms, every 10 ms; the p99 of 40 is the slowest, and two tie for it, apart in time.
    slow = {5: 200, 30: 200}
    done = [{"id": f"j{n}", "createdAt": at(n / 100).isoformat()} for n in range(40)]
    answered = {f"j{n}": at(n / 100).timestamp() + slow.get(n, 20) / 1000 for n in range(40)}

    tail = jobs.submission_tail(done, answered, probes=None)

    assert (tail["slow"], tail["episodes"]) == (2, 2)
    assert [round(episode["at_s"], 2) for episode in tail["longest"]] == [0.05, 0.30]
    assert all(episode["waits_ms"] == {} for episode in tail["longest"]) and tail["probes"] == {}


def test_each_episode_has_the_host_beside_it_and_the_table_has_no_empty_column_without_probes(capsys) -> None:
    slow = {5: 200, 30: 200}
    done = [{"id": f"j{n}", "createdAt": at(n / 100).isoformat()} for n in range(40)]
    answered = {f"j{n}": at(n / 100).timestamp() + slow.get(n, 20) / 1000 for n in range(40)}
    watch = jobs.HostWatch()
    watch.machine = [(at(n / 100).timestamp(), 2 * n, n // 10) for n in range(60)]
    watch.late = [(at(n / 100).timestamp(), 1.0) for n in range(59)]

    tail = jobs.submission_tail(done, answered, probes=None, host=watch)
    jobs.print_tail({"tail": tail, "submit_p50_ms": 20.0, "submit_p99_ms": 200.0})

    assert all(episode["host"]["timer_late_ms"] == 1.0 for episode in tail["longest"])
    assert tail["host"]["seconds"] == pytest.approx(0.59, rel=1e-3)
    printed = capsys.readouterr().out
    (header,) = [line for line in printed.splitlines() if line.startswith("| at (s into the phase)")]
    assert header.count("|") == 7 and "host watch's timer late (ms)" in header  # six columns, none of them empty
    assert "|  |" not in printed and "the hypervisor took" in printed


def test_the_sqlite_probe_waits_for_a_writer_that_holds_the_lock_and_writes_nothing_itself(tmp_path) -> None:
    import sqlite3

    database = tmp_path / "jobs.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE jobs (id TEXT)")
    probes = jobs.WaitProbes("amqp://unused", str(tmp_path), sqlite_path=str(database))
    thread = threading.Thread(target=probes._sqlite)
    holder.execute("BEGIN IMMEDIATE")  # the Worker's writer, in the middle of a write
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    holder.execute("INSERT INTO jobs VALUES ('a')")
    holder.execute("COMMIT")
    held_ms = (time.monotonic() - started) * 1000  # 300 ms on a quiet machine, more on a loaded one
    deadline = time.monotonic() + 10  # a few readings after the lock is free: 25 ms apart, longer on a loaded machine
    while len(probes.readings[jobs.WaitProbes.SQLITE]) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    readings = asyncio.run(probes.stop())
    thread.join(10)

    waits = [ms for _, ms in readings[jobs.WaitProbes.SQLITE]]
    # The first reading waited out the held lock, and took it soon after it was given back (it tries every
    # millisecond; 100 ms of room for a loaded machine); the ones after found the lock free (the fastest of them at
    # once: a loaded machine may hold one of them between two of its steps).
    assert 250 <= waits[0] <= held_ms + 100, (waits, held_ms)
    assert len(waits) >= 3 and min(waits[1:]) < 50, waits
    assert holder.execute("SELECT id FROM jobs").fetchall() == [("a",)]  # the probe rolled back: nothing of its own
    holder.close()


def test_the_cpu_through_an_episode_runs_from_the_sample_before_it_to_the_one_after_replicas_added_up() -> None:
    timeline = jobs.CpuTimeline()
    tick, t0 = jobs.TICK_S, at(0).timestamp()
    timeline.names = {1: "Worker", 2: "Aspire.Dashboar", 3: "Worker", 4: "wrk"}
    timeline.samples = [
        (t0, {1: 10, 2: 50, 4: 7}),
        (t0 + 0.05, {1: 12, 2: 58, 4: 7}),
        (t0 + 0.10, {1: 20, 2: 60, 3: 1, 4: 7}),  # pid 3 began meanwhile: all of its ticks count
        (t0 + 0.15, {1: 21, 2: 60, 3: 1, 4: 7}),
    ]

    cpu = timeline.during(t0 + 0.01, t0 + 0.09)

    assert cpu["window_ms"] == pytest.approx(100)
    # The two Worker replicas as one; a process that used nothing (wrk) is not listed.
    assert cpu["busiest"] == [{"name": "Worker", "cores": pytest.approx(11 * tick / 0.1)},
                              {"name": "Aspire.Dashboar", "cores": pytest.approx(10 * tick / 0.1)}]
    assert timeline.during(t0 + 0.12, t0 + 0.2) is None  # no sample after it yet


def test_the_cpu_timeline_samples_every_process_naming_the_driver_and_python_inference(tmp_path) -> None:
    import subprocess
    import sys

    # A python process whose command line says uvicorn stands for python-inference.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(10)", "uvicorn", "app.main:app"])
    try:
        timeline = jobs.CpuTimeline()
        timeline.sample()
        timeline.sample()
    finally:
        stand_in.kill()
        stand_in.wait()

    (first, ticks), second = timeline.samples
    assert second[0] >= first and os.getpid() in ticks and stand_in.pid in ticks
    assert timeline.names[os.getpid()] == "jobs.py (driver)"
    assert timeline.names[stand_in.pid] == "python-inference"


def test_the_host_through_an_episode_is_the_timer_s_latest_wake_and_the_machine_from_the_sample_before_to_the_one_after() -> None:
    watch = jobs.HostWatch()
    tick, t0 = jobs.TICK_S, at(0).timestamp()
    watch.machine = [(t0, 1000, 50), (t0 + 0.05, 1008, 50), (t0 + 0.10, 1012, 60), (t0 + 0.15, 1020, 60)]
    watch.late = [(t0, 0.2),  # slept from 0 to 25 ms: before the episode
                  (t0 + 0.03, 80.0),  # from 30 ms, 25 ms asked and 80 late: woke at 135 ms, through the episode
                  (t0 + 0.14, 3.0)]  # began after it ended

    host = watch.during(t0 + 0.06, t0 + 0.09)

    assert host["timer_late_ms"] == 80.0
    assert host["window_ms"] == pytest.approx(50)  # from the sample at 50 ms to the one at 100 ms
    assert host["busy_cores"] == pytest.approx(4 * tick / 0.05)
    assert host["stolen_cores"] == pytest.approx(10 * tick / 0.05)
    assert watch.during(t0 + 0.12, t0 + 0.2) is None  # no sample after it yet


def test_the_host_summary_has_the_steal_on_average_and_the_most_over_a_window_and_the_timer_s_lateness() -> None:
    watch = jobs.HostWatch()
    tick, t0 = jobs.TICK_S, at(0).timestamp()
    # 1 s sampled every 25 ms; 10 ticks (a core for 100 ms) stolen between 500 and 600 ms, nothing else.
    watch.machine = [(t0 + n * 0.025, 100 * n, 10 if n >= 24 else 0) for n in range(41)]
    watch.late = [(t0 + n * 0.025, 90.0 if n == 20 else 0.5) for n in range(40)]

    summary = watch.summary(window_s=0.1)

    assert summary["seconds"] == pytest.approx(1.0, rel=1e-3)
    assert summary["stolen_cores"] == pytest.approx(10 * tick / 1.0, rel=1e-3)
    assert summary["stolen_cores_most"] == pytest.approx(10 * tick / 0.1, rel=1e-3)  # the window that holds it
    assert summary["timer_late_p50_ms"] == 0.5 and summary["timer_late_max_ms"] == 90.0
    assert summary["timer_interval_ms"] == pytest.approx(25.0)
    assert jobs.HostWatch().summary() is None  # never started: nothing to say


def stall_watch(t0: float, late_at: float, late_ms: float, stolen_from: float, stolen_ticks: int,
                full_from: float = 9.0) -> object:
    """A HostWatch sampled every 25 ms over 2 s: its timer late by `late_ms` in the sleep begun at `late_at` s,
    `stolen_ticks` stolen in the 100 ms from `stolen_from` s, and every core busy in the 100 ms from `full_from` s; one
    core busy the rest of the time."""
    watch = jobs.HostWatch()
    full = round(0.1 * (jobs.CPUS - 1) / jobs.TICK_S)  # the ticks that fill the other cores for 100 ms

    def busy(n: int) -> float:
        return n * 0.025 / jobs.TICK_S + (full if n * 0.025 >= full_from + 0.1 - 1e-9 else 0)

    watch.machine = [(t0 + n * 0.025, busy(n), stolen_ticks if n * 0.025 >= stolen_from + 0.1 else 0) for n in range(81)]
    watch.late = [(t0 + n * 0.025, late_ms if abs(n * 0.025 - late_at) < 1e-9 else 0.2) for n in range(80)]
    return watch


def test_the_services_stalls_merge_where_they_overlap_and_say_whether_the_machine_stopped() -> None:
    t0 = at(0).timestamp()
    names = ["Worker 1", "Worker 2", "gateway"]
    probes = {
        # 0.50 s: both replicas held 100 ms together, the gateway not; the machine ran (the stack's own).
        "Worker 1": [(t0 + 0.50, 100.0), (t0 + 0.70, 2.0), (t0 + 1.20, 90.0), (t0 + 1.80, 60.0)],
        "Worker 2": [(t0 + 0.52, 95.0), (t0 + 1.21, 85.0)],
        # 1.20 s: everything held and the timer woke 80 ms late; 1.80 s: steal; 1.50 s: every core busy.
        "gateway": [(t0 + 0.50, 3.0), (t0 + 1.22, 80.0), (t0 + 1.51, 70.0), (t0 - 0.5, 400.0)],  # the last: before
        "disk sync": [(t0 + 0.50, 300.0)],  # not a service: no stall of its own
    }
    watch = stall_watch(t0, late_at=1.2, late_ms=80.0, stolen_from=1.775, stolen_ticks=5, full_from=1.5)

    stalls = jobs.service_stalls(probes, names, watch, since=t0)

    assert [round(stall["at_s"], 2) for stall in stalls] == [0.50, 1.20, 1.51, 1.80]
    first, second, third, fourth = stalls
    assert first["waits_ms"] == {"Worker 1": 100.0, "Worker 2": 95.0, "gateway": 3.0}
    assert first["stalled"] == ["Worker 1", "Worker 2"] and first["cause"] == jobs.NONE  # the machine ran
    assert first["longest_ms"] == 100.0
    assert second["stalled"] == names and second["cause"] == jobs.LATE  # the timer, 80 ms late
    assert third["stalled"] == ["gateway"] and third["cause"] == jobs.FULL
    assert third["host"]["busy_cores"] == pytest.approx(jobs.CPUS, rel=0.05)
    assert fourth["stalled"] == ["Worker 1"] and fourth["cause"] == jobs.STOLEN  # half a core stolen
    assert fourth["host"]["timer_late_ms"] == pytest.approx(0.2)
    assert jobs.stall_summary(stalls) == {
        "stalls": 4, "causes": {jobs.STOLEN: 1, jobs.FULL: 1, jobs.LATE: 1, jobs.NONE: 1}, "unknown": 0,
        "stack_own": {"Worker 1 + Worker 2": 1}}
    # Without the host watch nothing is said of the machine.
    assert all(stall["cause"] is None for stall in jobs.service_stalls(probes, names, None, since=t0))


def test_the_services_stalls_are_printed_one_cell_under_each_heading(capsys) -> None:
    t0 = at(0).timestamp()
    done = [{"id": f"j{n}", "createdAt": at(n / 100).isoformat()} for n in range(100)]
    answered = {f"j{n}": at(n / 100).timestamp() + (0.2 if n == 50 else 0.02) for n in range(100)}
    probes = {"Worker 1": [(t0 + 0.50, 100.0)], "Worker 2": [(t0 + 0.52, 95.0)], "gateway": [(t0 + 0.50, 3.0)],
              "disk sync": [(t0 + 0.50, 1.0)]}
    watch = stall_watch(t0, late_at=1.2, late_ms=80.0, stolen_from=1.775, stolen_ticks=5)

    tail = jobs.submission_tail(done, answered, probes, host=watch, alive=["Worker 1", "Worker 2", "gateway"])
    jobs.print_tail({"tail": tail, "submit_p50_ms": 20.0, "submit_p99_ms": 200.0})

    assert tail["stalls"]["summary"]["stack_own"] == {"Worker 1 + Worker 2": 1}
    printed = capsys.readouterr().out
    assert "1 stall (a reading of 50 ms or more" in printed and "none of these: 1." in printed
    assert "Those with none of these held Worker 1 + Worker 2: 1." in printed
    table = [line for line in printed.split("The services' `/alive`")[1].splitlines() if line.startswith("|")]
    header, _, row = table
    assert header.startswith("| at (s into the phase) | Worker 1 (ms) | Worker 2 (ms) | gateway (ms) |")
    assert row.count("|") == header.count("|") and row.endswith("| none of these |")

    jobs.print_stalls({"threshold_ms": 50, "probes": ["gateway"], "longest": [],
                       "summary": jobs.stall_summary([])})
    assert capsys.readouterr().out.strip() == "The services' `/alive`, asked every 25 ms: no stall (no reading of 50 ms or more)."


def test_the_host_watch_reads_the_machine_and_times_its_sleep_until_stopped() -> None:
    watch = jobs.HostWatch()
    watch.start()
    time.sleep(0.2)
    child = watch._child
    # A process of its own, in a session of its own: the scheduler gives it a group of its own.
    assert child.pid != os.getpid() and os.getsid(child.pid) == child.pid != os.getsid(0)
    watch.stop()

    assert child.returncode == 0  # it wrote its last sample and ended on being asked to

    assert len(watch.late) >= 3 and all(ms >= 0 for _, ms in watch.late)
    assert len(watch.machine) == len(watch.late) + 1  # a last sample once stopped, so every sleep lies between two
    assert all(later[1] >= earlier[1] and later[2] >= earlier[2] for earlier, later in zip(watch.machine, watch.machine[1:]))
    count = len(watch.late)
    time.sleep(0.1)
    assert len(watch.late) == count  # stopped: no reading after


def test_a_probe_reading_still_waiting_when_the_probes_stop_counts_once_with_its_wait_so_far(tmp_path) -> None:
    probes = jobs.WaitProbes("amqp://unused", str(tmp_path))
    release, began = threading.Event(), threading.Event()

    def wait() -> None:
        began.set()
        release.wait(10)

    probes.readings["stuck"] = []
    thread = threading.Thread(target=probes._timed, args=("stuck", wait))
    thread.start()
    assert began.wait(10)
    time.sleep(0.2)
    readings = asyncio.run(probes.stop())
    release.set()
    thread.join(10)

    (only,) = readings["stuck"]
    assert only[1] >= 200
    assert probes.readings["stuck"] == [only]  # the wait that ended after the stop was not counted again


def test_postgres_counts_per_job_are_the_differences_of_two_snapshots_with_the_server_s_time_in_microseconds() -> None:
    before = {"databases": {"workerdb": (100, 0)}, "wal_syncs": 1000,
              "queries": {("workerdb", "COMMIT"): (50, 10.0), ("workerdb", "SELECT 1"): (7, 1.0)}}
    after = {"databases": {"workerdb": (300, 0), "analyticsdb": (20, 0)}, "wal_syncs": 1046,
             "queries": {("workerdb", "COMMIT"): (250, 30.0), ("workerdb", "SELECT 1"): (7, 1.0),
                         ("analyticsdb", "INSERT"): (10, 500.0)}}

    counts = jobs.PostgresCounters.per_job(before, after, 100)

    assert counts["commits_per_job"] == {"workerdb": 2.0, "analyticsdb": 0.2}
    assert counts["wal_syncs_per_job"] == pytest.approx(0.46)  # the whole server's flushes, shared by its commits
    # A statement that did not run in the phase is left out; the times are milliseconds in, microseconds out.
    assert counts["statements_per_job"] == {"workerdb: COMMIT": 2.0, "analyticsdb: INSERT": 0.1}
    assert counts["statement_us_per_job"] == {"workerdb: COMMIT": pytest.approx(200.0), "analyticsdb: INSERT": 5000.0}


def test_a_healthy_phase_accepted_and_completed_every_submission_once() -> None:
    clean = {"submitted": 2, "accepted": 2, "completed": 2, "failed": 0, "lost": 0, "duplicated": 0, "unanswered": 0}

    assert jobs.healthy(clean)
    for broken in ({"accepted": 1, "completed": 1}, {"lost": 1}, {"duplicated": 1}, {"failed": 1},
                   {"unanswered": 1}):
        assert not jobs.healthy(clean | broken)


class _Gateway(BaseHTTPRequestHandler):
    """Answers POST /api/v1/jobs as the gateway does (202 and the job's id), every `reject_every`th with a 503; lists
    the jobs (GET /api/v1/jobs?status=, newest first, pages of pageSize), each finished by the time it is listed
    but the `stuck`th submission (1-based), which stays queued; and serves the audit trail of a job (GET
    /v1/audit/jobs/{id}), with two job.completed records for the `twice`th submission."""

    protocol_version = "HTTP/1.1"
    received: list[dict] = []
    lock = threading.Lock()
    reject_every = 0
    stuck = 0
    twice = 0
    finished_listings = 0  # pages of finished jobs served: the reads that check a phase's results

    def _reply(self, status: int, answer: object) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = parse_qs(url.query)
        with self.lock:
            jobs_by_id = {r["id"]: (n + 1, r) for n, r in enumerate(self.received) if r["id"]}
        if url.path.startswith("/v1/audit/jobs/"):
            # The Worker's rules for a caller's token (Worker/Security/CallerAuthenticationExtensions.cs).
            try:
                claims = jwt.decode(self.headers.get("authorization", "").removeprefix("Bearer "), AUDIT_KEY,
                                    algorithms=["HS256"], audience="worker", issuer="gateway",
                                    options={"require": ["exp", "iat", "sub"]})
            except jwt.InvalidTokenError as error:
                return self._reply(401, {"title": str(error)})
            if claims["exp"] - claims["iat"] > 300 or "admin" not in claims["scope"].split():
                return self._reply(401 if claims["exp"] - claims["iat"] > 300 else 403, {"title": "refused"})
            number, _ = jobs_by_id[url.path.rsplit("/", 1)[1]]
            completions = [{"type": "job.completed"}] * (2 if number == self.twice else 1)
            return self._reply(200, [{"type": "job.created"}, *completions])
        status = query["status"][0]
        if status in ("succeeded", "failed"):
            with self.lock:
                type(self).finished_listings += 1
        items = [{"id": job, "status": "queued" if number == self.stuck else "succeeded", "createdAt": r["created"],
                  "updatedAt": r["created"] if number == self.stuck else datetime.now(timezone.utc).isoformat()}
                 for job, (number, r) in jobs_by_id.items()]
        items = sorted((item for item in items if item["status"] == status), key=lambda item: item["createdAt"],
                       reverse=True)
        start, size = int(query.get("pageToken", ["0"])[0]), int(query["pageSize"][0])
        self._reply(200, {"items": items[start:start + size],
                          "nextPageToken": str(start + size) if start + size < len(items) else None})

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        with self.lock:
            number = len(self.received) + 1
            rejected = bool(self.reject_every) and number % self.reject_every == 0
            identifier = str(uuid.uuid4())
            self.received.append({"created": datetime.now(timezone.utc).isoformat(), "path": self.path, "key": self.headers.get("idempotency-key"),
                                  "authorization": self.headers.get("authorization"), "inputs": body["inputs"],
                                  "model": body["model"], "id": None if rejected else identifier})
        status, answer = (503, {"title": "busy"}) if rejected else (202, {"id": identifier, "status": "queued"})
        self._reply(status, answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway():
    _Gateway.received = []
    _Gateway.reject_every = _Gateway.stuck = _Gateway.twice = _Gateway.finished_listings = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Gateway
    finally:
        server.shutdown()
        server.server_close()


needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None,
                               reason="wrk not installed (Debian's wrk; scripts/bench/run.sh and jobs.sh install it)")


@needs_wrk
@pytest.mark.parametrize(("count", "inputs", "concurrency"), [(37, 1, 8), (3, 100, 32)])
def test_wrk_sends_exactly_the_submissions_asked_for_and_writes_down_every_job_id(gateway, count: int, inputs: int,
                                                                                  concurrency: int) -> None:
    url, server = gateway

    submission = jobs.submit_with_wrk(url, "secret-token", count, inputs, concurrency)

    assert len(server.received) == count
    assert {request["path"] for request in server.received} == {"/api/v1/jobs"}
    assert {request["authorization"] for request in server.received} == {"Bearer secret-token"}
    assert {request["model"] for request in server.received} == {"sentiment"}
    assert len({request["key"] for request in server.received}) == count
    assert all(len(request["inputs"]) == inputs for request in server.received)
    texts = [text for request in server.received for text in request["inputs"]]
    assert len(set(texts)) == len(texts)  # every input distinct: nothing a cache could answer
    assert sorted(submission.answers.accepted) == sorted(request["id"] for request in server.received)
    assert submission.wrk["issued"] == submission.wrk["answered"] == submission.wrk["requests"] == count
    assert submission.wrk["p50_us"] > 0 and submission.wrk["p99_us"] >= submission.wrk["p50_us"]
    assert submission.cpu_s >= 0


@needs_wrk
def test_wrk_writes_down_rejections_apart_from_the_accepted_jobs(gateway) -> None:
    url, server = gateway
    server.reject_every = 4

    submission = jobs.submit_with_wrk(url, "secret-token", 20, 1, 4)

    assert len(server.received) == 20
    assert sorted(submission.answers.accepted) == sorted(r["id"] for r in server.received if r["id"])
    assert submission.answers.rejected == Counter({503: 5})
    assert submission.answers.samples[0].startswith("503 - ") and "busy" in submission.answers.samples[0]


@needs_wrk
def test_a_phase_counts_from_the_server_what_became_of_every_accepted_job(gateway) -> None:
    url, server = gateway
    server.stuck, server.twice = 3, 5  # the 3rd submission never finishes, the 5th is announced completed twice

    result = asyncio.run(jobs.jobs_rate(url, "secret-token", 40, 1, 8, audit=jobs.Audit(url, AUDIT_KEY), patience=1))

    assert (result["submitted"], result["accepted"], result["completed"]) == (40, 40, 38)
    assert (result["failed"], result["lost"], result["duplicated"], result["unanswered"]) == (0, 1, 1, 0)
    assert result["duplicates_audited"] and result["audit_error"] is None
    assert result["jobs_per_s"] > 0 and result["e2e_p99_ms"] >= result["e2e_p50_ms"] >= 0
    assert result["submit_p99_ms"] >= result["submit_p50_ms"] > 0
    assert not jobs.healthy(result)


class _ListingsAsCpu:
    """Stands in for CpuMeter: the stack's "CPU" is the number of pages of finished jobs the gateway has served."""

    def __init__(self, server: type[_Gateway]) -> None:
        self.server = server

    def snapshot(self) -> dict[str, float]:
        with self.server.lock:
            return {"stack": float(self.server.finished_listings), "load client": 0.0}


class _ListingsAsStatements:
    """Stands in for PostgresCounters: "commits" are the pages of finished jobs the gateway has served."""

    def __init__(self, server: type[_Gateway]) -> None:
        self.server = server

    def snapshot(self) -> dict:
        with self.server.lock:
            return {"databases": {"workerdb": (self.server.finished_listings, 0)}, "wal_syncs": 0, "queries": {}}


@needs_wrk
def test_a_phase_s_cpu_and_statements_end_when_its_jobs_are_done_not_after_the_reads_that_check_them(gateway) -> None:
    url, server = gateway

    result = asyncio.run(jobs.jobs_rate(url, "secret-token", 250, 1, 8, cpu=_ListingsAsCpu(server),
                                        postgres=_ListingsAsStatements(server)))

    assert result["completed"] == 250
    assert server.finished_listings >= 3  # 250 results, read in pages of 100 once every job was done
    assert result["profile"]["cpu_ms_per_job"]["stack"] == 0
    assert result["profile"]["commits_per_job"]["workerdb"] == 0


# A stand-in for wrk with the real one's flaw: its SIGINT handler only sets a flag, and its main thread sleeps out the
# duration unless a SIGINT interrupts that sleep. This one writes its answers, then ignores the first SIGINT as wrk
# does when the signal lands before its sleep has begun, and reports only after a second.
_WRK_THAT_MISSES_A_SIGINT = """#!/bin/bash
set -u
interrupts=0
trap 'interrupts=$((interrupts + 1))' INT
for ((n = 0; n < JOBS_THREADS; n++)); do
    echo "202 job-$n 1796644800.5" > "$JOBS_IDS.$n"
    touch "$JOBS_IDS.$n.done"
done
while ((interrupts < 2)); do sleep 0.05; done
echo 'WRK_RESULT {"requests": 2}'
"""


def test_wrk_is_asked_to_stop_again_when_it_slept_through_the_first_sigint(tmp_path, monkeypatch) -> None:
    wrk = tmp_path / "wrk"
    wrk.write_text(_WRK_THAT_MISSES_A_SIGINT, encoding="utf-8")
    wrk.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")

    submission = jobs.submit_with_wrk("http://127.0.0.1:9", "secret-token", 2, 1, 2)

    assert sorted(submission.answers.accepted) == [f"job-{n}" for n in range(min(jobs.WRK_THREADS, 2))]
    assert submission.wrk == {"requests": 2}
