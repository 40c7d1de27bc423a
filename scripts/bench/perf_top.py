"""Where a process's on-CPU time went, from `perf script -F comm,tid,ip,sym,dso` of a `perf record -g` of it (.NET
frames named through perf maps): by component (the first frame from the leaf up that matches, so nothing counts
twice), then the top inclusive frames of the product's own code and the libraries it calls. Every thread counts:
RabbitMQ.Client, the OpenTelemetry exporters and the GC run on threads of their own. The tiered JIT's background
thread is counted in the thread table and left out of the rest (which then shows the work itself).
Usage: perf_top.py FILE [N] [--per JOBS] (with --per, also ms of CPU per job at the sampling rate --hz, default 999)"""

from __future__ import annotations

import argparse
import re
from collections import Counter

# Innermost first: the first pattern met walking from the leaf towards the thread's start names the sample.
COMPONENTS = [
    ("logging (console, OpenTelemetry log records)", r"Microsoft\.Extensions\.Logging|LoggerMessage|OpenTelemetry\.Logs|SimpleConsoleFormatter|ConsoleLogger"),
    ("OpenTelemetry metrics", r"OpenTelemetry\.Metrics|System\.Diagnostics\.Metrics"),
    ("OpenTelemetry spans and export", r"OpenTelemetry|System\.Diagnostics\.Activity|System\.Diagnostics\.DiagnosticSource|DiagnosticListener"),
    ("Npgsql", r"\bNpgsql"),
    ("SQLite", r"Microsoft\.Data\.Sqlite|SQLitePCL|libe_sqlite3|libsqlite3"),
    ("Dapper", r"\bDapper\."),
    ("RabbitMQ.Client", r"RabbitMQ\.Client"),
    ("gRPC client", r"Grpc\.|Google\.Protobuf"),
    ("JWT, authentication", r"IdentityModel|JwtBearer|Authentication"),
    ("resilience (Polly)", r"Polly|Http\.Resilience"),
    ("JSON (System.Text.Json)", r"System\.Text\.Json"),
    ("HttpClient", r"System\.Net\.Http|Microsoft\.Extensions\.Http|ServiceDiscovery"),
    ("Kestrel, hosting", r"Server\.Kestrel|AspNetCore\.Hosting"),
    ("routing, endpoints, DI", r"AspNetCore\.(Routing|Http)|DependencyInjection|RequestDelegateFactory"),
    ("our code (Worker, Gateway, ServiceDefaults)", r"\b(Worker|Gateway|ServiceDefaults)\.[A-Z]"),
    ("sockets", r"System\.Net\.Sockets"),
    ("threading, async machinery", r"System\.Threading|System\.Runtime\.CompilerServices"),
]
LIBRARY = re.compile(r"\b(Worker|Gateway|ServiceDefaults|Npgsql|Dapper|RabbitMQ\.Client|OpenTelemetry|Grpc|"
                     r"Microsoft\.Extensions\.Logging|Microsoft\.AspNetCore|Microsoft\.Data\.Sqlite|System\.Text\.Json|"
                     r"System\.Diagnostics\.(Activity|Metrics))")


def component(frames: list[str]) -> str:
    for frame in frames:
        for name, pattern in COMPONENTS:
            if re.search(pattern, frame):
                return name
    leaf = frames[0] if frames else ""
    if "kernel" in leaf:
        return "kernel (unattributed)"
    if "libcoreclr" in leaf or "libclrjit" in leaf:
        return "runtime (GC, JIT, stubs), unattributed"
    return "other"


def short(frame: str) -> str:
    frame = re.sub(r"^\s*[0-9a-f]+\s+", "", frame).strip()
    frame = re.sub(r"\s*\([^()]*\)$", "", frame)  # the dso
    frame = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "", frame)
    frame = re.sub(r"\[[A-Za-z.]+\]\s*", "", frame)
    return frame[:140]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("top", nargs="?", type=int, default=25)
    parser.add_argument("--per", type=int, help="jobs done during the recording")
    parser.add_argument("--hz", type=int, default=999)
    args = parser.parse_args()
    components: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = working = 0
    for block in open(args.file, errors="replace").read().split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        total += 1
        thread = re.sub(r"\s+\d+$", "", lines[0].strip()).strip()
        threads[thread] += 1
        if "Tiered Com" in thread:
            continue
        working += 1
        frames = lines[1:]
        components[component(frames)] += 1
        for frame in {short(f) for f in frames if LIBRARY.search(f)}:
            inclusive[frame] += 1
    total = total or 1
    share_of = {"all": total, "work": working or 1}
    scale = (1000 / args.hz / args.per) if args.per else None

    def cell(count: int, of: str = "work") -> str:
        return f"{count / share_of[of] * 100:.1f} %" + (f" | {count * scale:.2f}" if scale else "")

    extra = " | ms per job" if scale else ""
    print(f"\n{total} on-CPU samples\n\n| thread | share{extra} |\n|---|---|" + ("---|" if scale else ""))
    for name, count in threads.most_common(8):
        print(f"| {name} | {cell(count, 'all')} |")
    print(f"\n(below: the {working} samples of the other threads)")
    print(f"\n| component (innermost frame that matches) | share{extra} |\n|---|---|" + ("---|" if scale else ""))
    for name, count in components.most_common():
        print(f"| {name} | {cell(count)} |")
    print(f"\n| top {args.top} inclusive frames (ours and the libraries') | share{extra} |\n|---|---|" + ("---|" if scale else ""))
    for frame, count in inclusive.most_common(args.top):
        print(f"| `{frame}` | {cell(count)} |")


if __name__ == "__main__":
    main()
