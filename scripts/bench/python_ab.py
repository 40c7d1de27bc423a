"""python-inference alone, revision against revision: its CPU per prediction over gRPC and over HTTP/JSON.

Each revision's python-inference (a `git archive` of it, or `.` for the working tree, with this checkout's generated
stubs and venv) is started in turn, without the stack: no broker, no Worker, no telemetry endpoint, so nothing else
shares the two cores but the load. Per round and revision it serves `--seconds` of gRPC `PredictBatch` calls of one
input (what the gateway sends, from a grpc.aio client in a process of its own, `--concurrency` in flight) and as long
of `GET /predict` from wrk (`--concurrency` connections), after a warm-up of each; the server's CPU comes from
/proc/<pid>/stat. Rounds rotate the revisions' order, and the table gives medians with ratios against the first
revision: the CPU per call is the steady figure (the rate follows the machine's hour).

Usage: scripts/bench/python_ab.sh [--rounds N] [--seconds S] [--concurrency C] REVISION...   e.g. HEAD~1 .
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from procstat import TICK_S, process_ticks  # this script's folder is on the path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "python-inference"
PYTHON = SERVICE / ".venv" / "bin" / "python"
SENTENCE = "what a wonderful day, I loved every minute of it"


@dataclass(frozen=True)
class Cell:
    revision: str
    transport: str
    calls: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_us_per_call(self) -> float:
        return 1e6 * self.cpu_seconds / self.calls


def process_cpu_seconds(pid: int) -> float:
    """User plus system time of the process, all its threads, from /proc."""
    return process_ticks(pid) * TICK_S


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wrk_requests(output: str) -> int:
    """The request count of wrk's summary line ("12345 requests in 8.00s, ..."); 0 when it has none."""
    match = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def wrk_errors(output: str) -> int:
    """Non-2xx answers and socket errors from wrk's summary."""
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return errors + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)


def table(cells: list[Cell], revisions: list[str]) -> str:
    """Medians per revision and transport, with ratios against the first revision's."""
    lines = [
        "| revision | transport | rounds | calls/s (median) | vs first | server CPU µs per call (median) | vs first |",
        "|---|---|---|---|---|---|---|",
    ]
    for transport in ("grpc", "http"):
        baseline: tuple[float, float] | None = None
        for revision in revisions:
            own = [cell for cell in cells if cell.revision == revision and cell.transport == transport]
            if not own:
                continue
            rate = statistics.median(cell.rate for cell in own)
            cpu = statistics.median(cell.cpu_us_per_call for cell in own)
            if baseline is None:
                baseline = (rate, cpu)
                versus = ("baseline", "baseline")
            else:
                versus = (f"{rate / baseline[0]:.3f}×", f"{cpu / baseline[1]:.3f}×")
            lines.append(
                f"| {revision} | {transport} | {len(own)} | {rate:,.0f} | {versus[0]} | {cpu:,.0f} | {versus[1]} |"
            )
    return "\n".join(lines)


def materialize(revision: str, into: Path) -> Path:
    """python-inference as of `revision` (`.`: the working tree), runnable with this checkout's stubs and venv."""
    if revision == ".":
        return SERVICE
    if subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", revision, "--", "protos"]).returncode != 0:
        raise SystemExit(f"python_ab: protos/ differ between {revision} and the working tree: the stubs would not fit")
    target = into / re.sub(r"[^A-Za-z0-9_.-]", "_", revision)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "python-inference"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target)
    service = target / "python-inference"
    shutil.copytree(SERVICE / ".generated", service / ".generated")
    return service


class Server:
    """One python-inference (uvicorn) of a materialized tree on free loopback ports; its output goes to `log` (a pipe
    nobody read would stall it once full), emptied first so that the end shown if it does not start is its own."""

    def __init__(self, service: Path, cache: Path, log: Path) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "ConnectionStrings__", "services__", "WORKER_"))
        }
        environment |= {
            "MODEL_CACHE_DIR": str(cache),
            "GRPC_PORT": str(self.grpc_port),
            "GRPC_HOST": "127.0.0.1",
            "PYTHONPATH": str(service),
        }
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(PYTHON), "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(self.http_port),
                 "--log-level", "warning"],
                cwd=service,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300  # the first start trains the models into the cache
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                ending = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise SystemExit(f"python_ab: python-inference of {service} did not start; its output ends:\n{ending}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def measure_http(server: Server, revision: str, seconds: float, concurrency: int) -> Cell:
    url = f"http://127.0.0.1:{server.http_port}/predict?text={urllib.request.quote(SENTENCE)}"
    wrk = ["wrk", "-t2", f"-c{concurrency}", "--timeout", "5s", url]
    subprocess.run([*wrk[:1], "-d3s", *wrk[1:]], check=True, capture_output=True)  # warm-up
    before = process_cpu_seconds(server.process.pid)
    output = subprocess.run([*wrk[:1], f"-d{seconds:g}s", *wrk[1:]], check=True, capture_output=True, text=True).stdout
    cpu = process_cpu_seconds(server.process.pid) - before
    if wrk_errors(output):
        raise SystemExit(f"python_ab: {revision} answered errors over HTTP:\n{output}")
    return Cell(revision, "http", wrk_requests(output), seconds, cpu)


def measure_grpc(server: Server, revision: str, seconds: float, concurrency: int) -> Cell:
    load = [str(PYTHON), __file__, "grpc-load", "--port", str(server.grpc_port), "--pid", str(server.process.pid),
            "--concurrency", str(concurrency)]
    subprocess.run([*load, "--seconds", "3"], check=True, capture_output=True)  # warm-up
    output = subprocess.run([*load, "--seconds", f"{seconds:g}"], check=True, capture_output=True, text=True).stdout
    counted = json.loads(output)
    return Cell(revision, "grpc", counted["calls"], counted["seconds"], counted["server_cpu_seconds"])


def grpc_load(port: int, pid: int, seconds: float, concurrency: int) -> None:
    """Keep `concurrency` PredictBatch calls of one input in flight for `seconds`; print the calls answered and the
    server's (`pid`) CPU over the same window (this process's start-up, outside it, would dilute it)."""
    sys.path.insert(0, str(SERVICE))
    import grpc

    from app.rpc.stubs import inference_pb2 as pb
    from app.rpc.stubs import inference_pb2_grpc as pb_grpc

    request = pb.PredictBatchRequest(model="sentiment", inputs=[pb.ModelInput(text=SENTENCE)])

    async def main() -> dict[str, float]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.InferenceStub(channel)
            await stub.PredictBatch(request, timeout=10)
            calls = 0
            cpu_before = process_cpu_seconds(pid)
            started = time.monotonic()
            deadline = started + seconds

            async def caller() -> None:
                nonlocal calls
                while time.monotonic() < deadline:
                    answer = await stub.PredictBatch(request, timeout=10)
                    assert len(answer.predictions) == 1
                    calls += 1

            await asyncio.gather(*(caller() for _ in range(concurrency)))
            return {
                "calls": calls,
                "seconds": time.monotonic() - started,
                "server_cpu_seconds": process_cpu_seconds(pid) - cpu_before,
            }

    print(json.dumps(asyncio.run(main())))


def main(argv: list[str]) -> int:
    if argv[:1] == ["grpc-load"]:
        parser = argparse.ArgumentParser(prog="python_ab.py grpc-load")
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--pid", type=int, required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--concurrency", type=int, required=True)
        options = parser.parse_args(argv[1:])
        grpc_load(options.port, options.pid, options.seconds, options.concurrency)
        return 0
    parser = argparse.ArgumentParser(prog="python_ab.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench")
    parser.add_argument("revisions", nargs="+", help="git revisions; `.` is the working tree")
    options = parser.parse_args(argv)
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="python-ab-") as scratch:
        trees = {revision: materialize(revision, Path(scratch)) for revision in options.revisions}
        cache = Path(scratch) / "model-cache"
        for round_index in range(options.rounds):
            shift = round_index % len(options.revisions)
            for revision in options.revisions[shift:] + options.revisions[:shift]:
                server = Server(trees[revision], cache, Path(scratch) / "python-inference.log")
                try:
                    for measure in (measure_grpc, measure_http):
                        cell = measure(server, revision, options.seconds, options.concurrency)
                        cells.append(cell)
                        print(
                            f"round {round_index + 1} {revision} {cell.transport}: {cell.rate:,.0f} calls/s, "
                            f"{cell.cpu_us_per_call:,.0f} µs of CPU per call",
                            file=sys.stderr,
                        )
                finally:
                    server.stop()
    described = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h"], capture_output=True, text=True
    ).stdout.strip()
    load = os.getloadavg()[0]
    report = (
        f"python-inference alone, {options.rounds} rounds of {options.seconds:g} s per transport, "
        f"{options.concurrency} in flight, checkout {described}, load average {load:.2f} after\n\n"
        + table(cells, options.revisions)
    )
    options.out.mkdir(parents=True, exist_ok=True)
    path = options.out / f"python-ab-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.md"
    path.write_text(report + "\n")
    print(report)
    print(f"\n(written to {path.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
