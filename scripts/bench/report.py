"""The report of scripts/bench/run.sh: one Markdown table with ratios against the baselines of the same run (python-
inference directly; the raw broker), the same figures as JSON, and a PNG plot of throughput and p99 by scenario.
Runs on Debian's /usr/bin/python3; the plot needs python3-matplotlib (run.sh installs it), imported only to draw it,
so the tables and their tests need nothing more than Python."""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path
from typing import Any


def load_scenarios(path: Path) -> list[dict[str, Any]]:
    """One row per scenario and sampling setting; a scenario measured in rounds (alternating with its baseline) is
    the round with the median throughput, the others kept under `rounds`."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for s in rows:
        s.setdefault("sampling", "every request traced")
        seconds = s["duration_us"] / 1e6
        s["requests_per_s"] = s["requests"] / seconds
        s["items_per_s"] = s["requests_per_s"] * s["inputs"]
        s["p50_ms"], s["p99_ms"] = s["p50_us"] / 1000, s["p99_us"] / 1000
    scenarios: list[dict[str, Any]] = []
    for s in rows:
        key = (s["sampling"], s["group"], s["connections"])
        if any((t["sampling"], t["group"], t["connections"]) == key for t in scenarios):
            continue
        rounds = [t for t in rows if (t["sampling"], t["group"], t["connections"]) == key]
        if len(rounds) == 1:
            scenarios.append(s)
            continue
        ordered = sorted(rounds, key=lambda t: t["items_per_s"])
        median = dict(ordered[(len(ordered) - 1) // 2])
        median["rounds"] = [{k: t[k] for k in ("round", "items_per_s", "p50_ms", "p99_ms") + _LOOP if k in t}
                            for t in rounds]
        scenarios.append(median)
    # Within a sampling setting: the direct singles, the gateway's singles by connections (batching on, then off), the
    # direct batches, the gateway's batches, whatever order they were measured in.
    settings = list(dict.fromkeys(s["sampling"] for s in scenarios))
    return sorted(scenarios, key=lambda s: (settings.index(s["sampling"]), _PLACE.get(s["group"], len(_PLACE)),
                                           s["connections"], s["group"] == "gateway-unbatched"))


# python-inference's event loop over a scenario's measured seconds: the share on a core, and runnable but waiting for
# one (from the scheduler's /proc/PID/task/PID/schedstat; runs from before 2026-12-07 have neither).
_LOOP = ("loop_running", "loop_waiting")


def loop_shares(s: dict[str, Any]) -> str:
    if not all(key in s for key in _LOOP):
        return ""
    return f"{s['loop_running']:.0%} / {s['loop_waiting']:.0%}"


def stolen(s: dict[str, Any]) -> str:
    """The cores the hypervisor took from this guest through the scenario, on average (runs from before 2026-12-07,
    15:30 UTC have none) and, from the host watch through it (runs from before 2026-12-07, 19:30 UTC have none), the
    most over 100 ms and the most the watch's 25 ms timer woke late."""
    if "stolen_cores" not in s:
        return ""
    if "stolen_cores_most" not in s:
        return f"{s['stolen_cores']:.2f}"
    return f"{s['stolen_cores']:.2f} / {s['stolen_cores_most']:.2f} / {s['timer_late_max_ms']:.0f}"


_PLACE = {"direct-single": 0, "gateway-batched": 1, "gateway-unbatched": 1, "direct-batch": 2, "gateway-batch": 3}


def find(scenarios: list[dict[str, Any]], sampling: str, group: str, connections: int | None = None) -> dict[str, Any] | None:
    return next((s for s in scenarios if s["sampling"] == sampling and s["group"] == group
                 and connections in (None, s["connections"])), None)


def baseline_of(scenarios: list[dict[str, Any]], s: dict[str, Any]) -> dict[str, Any] | None:
    """Under the same sampling setting, singles compare with python-inference's singles at the same connections;
    batches with its batches."""
    if s["inputs"] == 1:
        return find(scenarios, s["sampling"], "direct-single", s["connections"])
    return find(scenarios, s["sampling"], "direct-batch")


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def markdown(scenarios: list[dict[str, Any]], jobs: dict[str, Any] | None, meta: dict[str, str]) -> str:
    lines = [
        f"Run of `{meta.get('command', 'scripts/bench/run.sh')}` ({meta.get('mode')}; gateway → python-inference over "
        f"{meta.get('transport')}, jobs in {meta.get('provider')}; {meta.get('duration_s')} s per scenario; the direct "
        f"singles and the gateway's with batching off, and batches of 100 directly and through the gateway, each pair "
        f"in {meta.get('batch_rounds')} alternating rounds of {meta.get('batch_duration_s')} s compared by medians), "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), load average "
        f"{meta.get('load_before')} before and {meta.get('load_after')} after, commit {meta.get('commit')}. The last "
        f"column is the share of each scenario's measured time python-inference's event loop ran on a core, and was "
        f"runnable but waiting for one (the scheduler's schedstat): a loop that waits is a machine out of cores. "
        f"The column after it is the host through the scenario: cores the hypervisor gave another guest (steal), on "
        f"average and at most over 100 ms, and the most a watching process's 25 ms timer woke late, in a scheduler "
        f"group of its own, so late only when the whole machine stopped (a p99 can move with these where the throughput "
        f"hardly does).",
    ]
    for sampling in dict.fromkeys(s["sampling"] for s in scenarios):
        lines += [
            "",
            f"Predictions, **{sampling}** (every service, the direct baselines included):",
            "",
            "| scenario | connections | inputs / request | req/s | items/s | p50 (ms) | p99 (ms) | vs baseline (items/s) | errors "
            "| python-inference's loop: on a core / waiting for one | the host: stolen cores, average / most over 100 ms; "
            "timer late, most (ms) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        group = [s for s in scenarios if s["sampling"] == sampling]
        for s in group:
            base = baseline_of(scenarios, s)
            versus = "baseline" if base is s else ratio(s["items_per_s"], base and base["items_per_s"])
            errors = s["non_2xx"] + s["socket_errors"]
            name = s["name"]
            if "rounds" in s:
                name += f" (median of {len(s['rounds'])}: " + " / ".join(f"{r['items_per_s']:,.0f}" for r in s["rounds"]) + ")"
            lines.append(
                f"| {name} | {s['connections']} | {s['inputs']} | {s['requests_per_s']:,.0f} | {s['items_per_s']:,.0f} | "
                f"{s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {versus} | {errors or ''} | {loop_shares(s)} | {stolen(s)} |"
            )
        for connections in sorted({s["connections"] for s in group if s["group"] == "gateway-batched"}):
            on = find(scenarios, sampling, "gateway-batched", connections)
            off = find(scenarios, sampling, "gateway-unbatched", connections)
            if on and off:
                lines.append(
                    f"| **batching on / off**, gateway singles | {connections} | 1 | | {ratio(on['items_per_s'], off['items_per_s'])}× "
                    f"| | {ratio(on['p99_ms'], off['p99_ms'])}× p99 | | | | |"
                )
    if jobs:
        published = jobs["raw_publish_per_s"]
        lines += [
            "",
            f"Jobs end to end ({jobs['concurrency']} submissions in flight from wrk, {meta.get('jobs_sampling', 'every request traced')}, "
            f"after {int(meta.get('jobs_warmup', '0')):,} single-input jobs to warm up), beside the raw broker of the same run:",
            "",
            "| scenario | jobs/s | items/s | vs raw publish (msg/s) | submit p50 / p99 (ms) | submit → result p50 / p99 (ms) | failed | lost / duplicated |",
            "|---|---|---|---|---|---|---|---|",
            f"| raw broker: publish, persistent + confirms | {published:,.0f} msg/s | | baseline | | | | |",
            f"| raw broker: consume, manual acks | {jobs['raw_consume_per_s']:,.0f} msg/s | | "
            f"{ratio(jobs['raw_consume_per_s'], published)} | | | | |",
        ]
        for key, name in (("single", "jobs, 1 input each"), ("batched", "jobs, 100 inputs each")):
            j = jobs[key]
            lines.append(
                f"| {name} ({j['jobs']}) | {j['jobs_per_s']:,.1f} | {j['items_per_s']:,.0f} | {ratio(j['jobs_per_s'], published)} | "
                f"{j['submit_p50_ms']:.0f} / {j['submit_p99_ms']:.0f} | {j['e2e_p50_ms']:.0f} / {j['e2e_p99_ms']:.0f} | {j['failed']:.0f} | "
                # (runs from before the wrk driver did not count them)
                f"{j.get('lost', '–')} / {j.get('duplicated', '–')} |"
            )
        tail = jobs["single"].get("tail")  # (runs from before jobs.lua wrote down when each answer came have none)
        if tail:
            slowest = max((episode["slowest_ms"] for episode in tail["longest"]), default=0)
            lines += [
                "",
                f"The single-input submissions from a job's arrival at a Worker to its answer at wrk: p50 "
                f"{tail['p50_ms']:.0f} / p99 {tail['p99_ms']:.0f} ms. The {tail['slow']} at or above that p99 fell in "
                f"{tail['episodes']} episodes (their times overlapping), the slowest submission {slowest:.0f} ms; when "
                "each was, and what the probes waited then (run.sh --probes), in the jobs driver's output beside this "
                "report (.jobs.md).",
            ]
            host = tail.get("host")  # (runs from before the driver watched the machine have none)
            if host:
                lines[-1] += (
                    f" Through the submissions the hypervisor took {host['stolen_cores']:.2f} of the cores on average and at "
                    f"most {host['stolen_cores_most']:.2f} over {host['window_ms']:.0f} ms, and "
                    # runs from before 2026-12-07 evening timed the driver's own sleep
                    f"{'the host watch' if host.get('timer_in') else 'the driver'}'s own "
                    f"{host['timer_interval_ms']:.0f} ms sleep woke late by p99 {host['timer_late_p99_ms']:.0f} / at most {host['timer_late_max_ms']:.0f} ms: a stall "
                    "of the machine, not of the stack, where those are about as long as the slowest episodes."
                )
    return "\n".join(lines) + "\n"


def plot(scenarios: list[dict[str, Any]], jobs: dict[str, Any] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(dict.fromkeys(s["sampling"] for s in scenarios))
    bars = [(f"{s['name']}\n({s['connections']} conn.{'' if s['sampling'] == settings[0] else ', ' + _short(s['sampling'])})",
             s["items_per_s"], s["p99_ms"], s["group"]) for s in scenarios]
    if jobs:
        bars.append(("raw broker publish\n(msg/s)", jobs["raw_publish_per_s"], 0.0, "broker"))
        for key, name in (("single", "jobs, 1 input"), ("batched", "jobs, 100 inputs")):
            bars.append((f"{name}\n(items/s; submit p99)", jobs[key]["items_per_s"], jobs[key]["submit_p99_ms"], "jobs"))
    colours = {"direct-single": "#7f7f7f", "direct-batch": "#7f7f7f", "gateway-batched": "#2ca02c",
               "gateway-unbatched": "#d62728", "gateway-batch": "#1f77b4", "broker": "#7f7f7f", "jobs": "#9467bd"}
    labels = [b[0] for b in bars]
    colour = [colours.get(b[3], "#1f77b4") for b in bars]
    figure, (throughput, p99) = plt.subplots(2, 1, figsize=(max(13, 0.5 * len(bars)), 9), sharex=True)
    throughput.bar(labels, [b[1] for b in bars], color=colour)
    throughput.set_yscale("log")
    throughput.set_ylabel("items/s (log scale)")
    throughput.set_title("Throughput and p99 latency by scenario (grey: baselines)")
    for index, bar in enumerate(bars):
        throughput.annotate(f"{bar[1]:,.0f}", (index, bar[1]), ha="center", va="bottom", fontsize=8)
    p99.bar(labels, [b[2] for b in bars], color=colour)
    p99.set_ylabel("p99 latency (ms)")
    for index, bar in enumerate(bars):
        if bar[2]:
            p99.annotate(f"{bar[2]:,.0f}", (index, bar[2]), ha="center", va="bottom", fontsize=8)
    p99.tick_params(axis="x", labelrotation=60, labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def _short(sampling: str) -> str:
    """A sampling setting as a bar's label has room for: "10% of traces kept, none exported" → "10% kept, no export"."""
    return sampling.replace(" of traces kept", " kept").replace("none exported", "no export")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=Path, required=True)
    parser.add_argument("--jobs", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="path without extension: .md, .json and .png are written")
    parser.add_argument("--meta", nargs="*", default=[], help="key=value pairs describing the run")
    args = parser.parse_args()
    meta = dict(item.split("=", 1) for item in args.meta)
    scenarios = load_scenarios(args.scenarios)
    jobs = json.loads(args.jobs.read_text()) if args.jobs and args.jobs.exists() else None
    table = markdown(scenarios, jobs, meta)
    args.out.with_suffix(".md").write_text(table)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "scenarios": scenarios, "jobs": jobs}, indent=2))
    plot(scenarios, jobs, args.out.with_suffix(".png"))
    print(table)
    print(f"written: {args.out}.md, {args.out}.json, {args.out}.png")


if __name__ == "__main__":
    main()
