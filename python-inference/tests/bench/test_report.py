"""The full benchmark's report (scripts/bench/report.py): a scenario measured in rounds is its median round, and each
row says how much of its measured time python-inference's event loop ran and waited for a core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.bench.scripts import load_bench_script

report = load_bench_script("report.py", "bench_report")


def row(group: str, requests: int, *, round_: int = 0, loop: tuple[float, float] | None = None) -> dict[str, Any]:
    """One scenarios.jsonl line as run.sh writes it: 10 s of singles at 16 connections."""
    line: dict[str, Any] = {
        "sampling": "every request traced", "name": group, "group": group, "connections": 16, "inputs": 1,
        "round": round_, "requests": requests, "duration_us": 10_000_000, "p50_us": 9_000, "p99_us": 30_000,
        "non_2xx": 0, "socket_errors": 0,
    }
    if loop is not None:
        line["loop_running"], line["loop_waiting"] = loop
    return line


def scenarios_file(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "scenarios.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rounds_are_their_median_round_with_its_loop_shares(tmp_path: Path) -> None:
    rows = [
        row("direct-single", 11_000, round_=1, loop=(0.47, 0.14)),
        row("gateway-unbatched", 10_000, round_=1, loop=(0.30, 0.43)),
        row("direct-single", 10_500, round_=2, loop=(0.46, 0.20)),
        row("gateway-unbatched", 9_000, round_=2, loop=(0.29, 0.45)),
        row("direct-single", 12_000, round_=3, loop=(0.45, 0.19)),
        row("gateway-unbatched", 9_500, round_=3, loop=(0.31, 0.41)),
    ]
    direct, unbatched = report.load_scenarios(scenarios_file(tmp_path, rows))
    assert (direct["requests"], direct["loop_running"], direct["loop_waiting"]) == (11_000, 0.47, 0.14)
    assert (unbatched["requests"], unbatched["loop_running"], unbatched["loop_waiting"]) == (9_500, 0.31, 0.41)
    assert [r["loop_waiting"] for r in unbatched["rounds"]] == [0.43, 0.45, 0.41]

    table = report.markdown([direct, unbatched], None, {}).splitlines()
    assert "python-inference's loop: on a core / waiting for one" in table[4]
    assert table[6].endswith("| baseline |  | 47% / 14% |  |")
    assert table[7].endswith("| 0.86 |  | 31% / 41% |  |")


def test_a_run_from_before_the_loop_was_measured_leaves_the_column_empty(tmp_path: Path) -> None:
    (direct,) = report.load_scenarios(scenarios_file(tmp_path, [row("direct-single", 11_000)]))
    assert report.markdown([direct], None, {}).splitlines()[6].endswith("| baseline |  |  |  |")


def test_each_row_has_the_host_s_steal_through_its_scenario_when_run_sh_read_it(tmp_path: Path) -> None:
    line = row("direct-single", 11_000, loop=(0.47, 0.14)) | {"stolen_cores": 0.083}
    (direct,) = report.load_scenarios(scenarios_file(tmp_path, [line]))

    assert report.markdown([direct], None, {}).splitlines()[6].endswith("| 47% / 14% | 0.08 |")


def jobs_figures(tail: dict[str, Any] | None) -> dict[str, Any]:
    phase = {"jobs": 10_000, "jobs_per_s": 1_400.0, "items_per_s": 1_400.0, "submit_p50_ms": 21.0, "submit_p99_ms": 47.0,
             "e2e_p50_ms": 25.0, "e2e_p99_ms": 54.0, "failed": 0, "lost": 0, "duplicated": 0}
    return {"raw_publish_per_s": 4_400.0, "raw_consume_per_s": 2_000.0, "concurrency": 32,
            "single": phase | ({"tail": tail} if tail is not None else {}), "batched": phase | {"jobs": 1_000}}


def test_the_jobs_section_sums_up_the_slowest_submissions_episodes_when_the_driver_timed_them() -> None:
    tail = {"p50_ms": 11.0, "p99_ms": 33.0, "slow": 100, "episodes": 6, "probes": {},
            "longest": [{"slowest_ms": 47.0}, {"slowest_ms": 43.0}]}

    text = report.markdown([], jobs_figures(tail), {})

    assert ("from a job's arrival at a Worker to its answer at wrk: p50 11 / p99 33 ms. The 100 at or above that p99 "
            "fell in 6 episodes (their times overlapping), the slowest submission 47 ms") in text
    assert "arrival at a Worker" not in report.markdown([], jobs_figures(None), {})  # a run from before: no line


def test_the_jobs_section_says_whether_the_machine_stalled_when_the_driver_watched_it() -> None:
    tail = {"p50_ms": 11.0, "p99_ms": 33.0, "slow": 100, "episodes": 6, "probes": {},
            "longest": [{"slowest_ms": 121.0}],
            "host": {"seconds": 7.2, "stolen_cores": 0.08, "stolen_cores_most": 1.0, "window_ms": 100.0, "timer_interval_ms": 25.0,
                     "timer_late_p50_ms": 0.1, "timer_late_p99_ms": 9.6, "timer_late_max_ms": 112.0}}

    text = report.markdown([], jobs_figures(tail), {})

    assert "the hypervisor took 0.08 of the cores on average and at most 1.00 over 100 ms" in text
    assert "the driver's own 25 ms sleep woke late by p99 10 / at most 112 ms" in text  # a run from before the watch's process
    watched = tail | {"host": tail["host"] | {"timer_in": "a process of its own"}}
    assert "the host watch's own 25 ms sleep woke late by p99 10" in report.markdown([], jobs_figures(watched), {})
    without = {key: value for key, value in tail.items() if key != "host"}
    assert "the hypervisor took" not in report.markdown([], jobs_figures(without), {})  # a run from before the watch


def test_every_row_of_the_predictions_table_has_as_many_cells_as_its_header(tmp_path: Path) -> None:
    rows = [row("direct-single", 11_000, loop=(0.47, 0.14)) | {"stolen_cores": 0.01},
            row("gateway-batched", 40_000) | {"stolen_cores": 0.0}, row("gateway-unbatched", 10_000)]
    table = report.markdown(report.load_scenarios(scenarios_file(tmp_path, rows)), None, {}).splitlines()[4:]

    cells = [line.count("|") for line in table if line.startswith("|")]
    assert len(cells) == 6 and set(cells) == {cells[0]}, table  # header, rule, three rows, batching on / off


def test_the_host_column_has_the_watch_s_figures_when_the_scenario_had_a_watch(tmp_path: Path) -> None:
    rows = [row("direct-single", 11_000) | {"stolen_cores": 0.01, "stolen_cores_most": 0.8, "timer_late_max_ms": 97.6},
            row("gateway-batched", 40_000) | {"stolen_cores": 0.02}]  # a run from before the watch
    text = report.markdown(report.load_scenarios(scenarios_file(tmp_path, rows)), None, {})

    assert "| 0.01 / 0.80 / 98 |" in text and "| 0.02 |" in text
    assert "timer late, most (ms) |" in text
