"""scripts/bench/liveness.py: the services' `/alive`, asked from a process of its own for the jobs driver's probes,
against a small HTTP server of the test's own that stalls, drops a connection or never answers."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.bench.scripts import load_bench_script

liveness = load_bench_script("liveness.py", "bench_liveness")


@contextmanager
def service(answer: Callable[[int, BaseHTTPRequestHandler], bool]) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP/1.1 server whose n-th request (from 1) `answer` handles first: True to answer 200 after it,
    False to drop the connection unanswered. Yields its URL of /alive and the paths asked, in order."""
    asked: list[str] = []

    class Service(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            asked.append(self.path)
            if not answer(len(asked), self):
                self.close_connection = True
                return
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"Healthy")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alive", asked
    finally:
        server.shutdown()
        server.server_close()


def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Waits for `condition` (the process takes a moment to start, longer on a loaded machine)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_answer_is_timed_and_a_dropped_connection_is_timed_and_connected_again() -> None:
    def answer(n: int, _: BaseHTTPRequestHandler) -> bool:
        if n == 2:
            time.sleep(0.15)  # one stalled answer
        return n != 4  # one dropped connection, without an answer

    with service(answer) as (url, asked):
        probes = liveness.LivenessProbes({"Worker 1": url}, 0.025)
        assert probes.wait_for_readings()
        until(lambda: len(asked) >= 7)
        readings = probes.stop()

    waits = [ms for _, ms in readings["Worker 1"]]
    assert probes.failures == {"Worker 1": 1}  # the dropped connection, timed as a reading too
    assert set(asked) == {"/alive"} and len(waits) >= 5, (waits, asked)
    assert waits[1] >= 150, waits  # the stalled answer, timed
    # The dropped connection is not waited on for the 30 s timeout (a second is room for a loaded machine), and the
    # readings after it reached the service again.
    assert max(waits[2:]) < 1000 and len(asked) >= 5 and len(asked) >= len(waits) - 1, (waits, asked)
    starts = [started for started, _ in readings["Worker 1"]]
    assert starts == sorted(starts) and abs(starts[0] - time.time()) < 10  # wall-clock seconds, in order


def test_the_asking_runs_in_a_session_of_its_own_and_each_service_has_its_own_readings() -> None:
    with service(lambda *_: True) as (first, _), service(lambda *_: True) as (second, _):
        probes = liveness.LivenessProbes({"Worker 1": first, "gateway": second}, 0.025)
        assert probes.wait_for_readings()
        until(lambda: all(len(values) >= 3 for values in probes.readings.values()))
        pid = probes.pid
        # The scheduler gives a session of its own a group of its own: the driver's load does not hold it.
        assert pid != os.getpid() and os.getsid(pid) == pid != os.getsid(0)
        readings = probes.stop()

    assert probes._child.returncode == 0  # it ended on being asked to
    assert set(readings) == {"Worker 1", "gateway"}
    assert all(len(values) >= 3 for values in readings.values()), readings


def test_an_ask_still_waiting_when_stopped_counts_once_with_its_wait_so_far_and_the_process_ends_at_once() -> None:
    release = threading.Event()

    def answer(n: int, _: BaseHTTPRequestHandler) -> bool:
        if n == 2:
            release.wait(10)  # never answers while the probes run
        return True

    with service(answer) as (url, asked):
        probes = liveness.LivenessProbes({"gateway": url}, 0.025)
        until(lambda: len(asked) >= 2)
        time.sleep(0.3)
        stopping = time.monotonic()
        readings = probes.stop()
        stopped_in = time.monotonic() - stopping
        release.set()

    assert stopped_in < 3, stopped_in  # not held by the ask under way
    (first, waiting) = readings["gateway"]
    assert first[1] < waiting[1] and waiting[1] >= 300, readings  # the last: the ask under way, with its wait so far


def test_a_service_that_refuses_every_connection_is_not_taken_for_one_that_answers() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again: nothing listens there
    probes = liveness.LivenessProbes({"Worker 1": f"http://127.0.0.1:{port}/alive"}, 0.025)
    try:
        assert not probes.wait_for_readings(0.5)  # refused asks are no answer
        until(lambda: probes.failures["Worker 1"] >= 3)
    finally:
        readings = probes.stop()
    assert len(readings["Worker 1"]) >= probes.failures["Worker 1"] >= 3  # each refusal timed and counted
