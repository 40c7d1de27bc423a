"""The services' liveness (`GET /alive` of each Worker replica and of the gateway), asked from a process of its own.

The jobs driver (jobs.py, WaitProbes with --probe-alive) used to ask from its own threads, and a freeze of the driver
then read as a stall of the services, or hid one between two readings (docs/performance.md, "Who stalls: the
services' liveness, and a timer of its own"). Here the asking runs in a process started in a session of its own, as the
host watch's timer does (procstat.py `watch`), so the scheduler gives it a group of its own and the driver's load does
not hold it. Standard library only.

    liveness.py INTERVAL NAME=URL [NAME=URL ...]

asks every URL every INTERVAL seconds over a kept connection (a dropped one is timed and connected again) and writes a
line per ask: `<index of the NAME=URL argument> <wall clock the ask began> <milliseconds it took> <ok|failed|waiting>`
(failed: refused, dropped or not HTTP; its time counts as a reading all the same). On SIGTERM it writes each ask still
under way (`waiting`) with its wait so far, and nothing after, then ends; it also ends if its parent goes.
`LivenessProbes` is the driver's side: it starts the process and collects its readings by name, and counts the failed
asks, so that a service that is down is not read as one that answers quickly."""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TextIO

from procstat import silence, start_helper, stop_helper  # (this script's folder is on the path)


class Asker:
    """One thread per URL, each asking it, timing the answer and writing the reading; `stop` writes the readings still
    under way with their wait so far, and makes every later one go unwritten."""

    def __init__(self, urls: list[str], interval_s: float, out: TextIO) -> None:
        self.urls, self.interval_s, self.out = urls, interval_s, out
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._under_way: dict[int, tuple[float, float]] = {}  # index -> (wall clock, perf counter) the ask began

    def _write(self, index: int, started: float, ms: float, outcome: str) -> None:
        self.out.write(f"{index} {started:.6f} {ms:.3f} {outcome}\n")
        self.out.flush()

    def ask_forever(self, index: int) -> None:
        parts = urllib.parse.urlsplit(self.urls[index])
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            while not self._stopped.is_set():
                with self._lock:
                    began = self._under_way[index] = (time.time(), time.perf_counter())
                outcome = "ok"
                try:
                    connection.request("GET", parts.path or "/")
                    connection.getresponse().read()
                except (OSError, http.client.HTTPException):
                    connection.close()  # timed all the same; the next ask connects again
                    outcome = "failed"
                with self._lock:
                    del self._under_way[index]
                    if self._stopped.is_set():  # counted by stop, with its wait so far
                        break
                    self._write(index, began[0], (time.perf_counter() - began[1]) * 1000, outcome)
                self._stopped.wait(self.interval_s)
        finally:
            connection.close()

    def start(self) -> None:
        for index in range(len(self.urls)):
            threading.Thread(target=self.ask_forever, args=(index,), name=f"alive-{index}", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            now = time.perf_counter()
            for index, (started, clock) in sorted(self._under_way.items()):
                self._write(index, started, (now - clock) * 1000, "waiting")


def main(arguments: list[str]) -> int:
    if len(arguments) < 2 or not all("=" in value for value in arguments[1:]):
        sys.exit("usage: liveness.py INTERVAL NAME=URL [NAME=URL ...]")
    asker = Asker([value.split("=", 1)[1] for value in arguments[1:]], float(arguments[0]), sys.stdout)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    parent = os.getppid()
    asker.start()
    try:
        while not stopped.wait(0.1) and os.getppid() == parent:
            pass
        asker.stop()
    except BrokenPipeError:
        silence(sys.stdout)
    return 0


class LivenessProbes:
    """The driver's side: runs liveness.py for `alive` (name -> URL) in a session of its own, and a thread here
    collects its lines; `stop` asks it to end and returns each name's readings (wall-clock start in seconds,
    milliseconds), those still under way counted with their wait so far; `failures` counts each service's failed asks."""

    def __init__(self, alive: dict[str, str], interval_s: float) -> None:
        self.names = list(alive)
        self.readings: dict[str, list[tuple[float, float]]] = {name: [] for name in self.names}
        self.failures: dict[str, int] = dict.fromkeys(self.names, 0)
        self._answered: set[str] = set()
        self._first = threading.Event()
        self._child = start_helper(Path(__file__).resolve(), str(interval_s),
                                   *(f"{name}={url}" for name, url in alive.items()))
        self._reader = threading.Thread(target=self._read, name="liveness-reader", daemon=True)
        self._reader.start()

    def wait_for_readings(self, timeout_s: float = 10) -> bool:
        """Waits until every service has answered once, a failed ask not counting (the process takes a moment to
        start): False if one has not within `timeout_s`."""
        return self._first.wait(timeout_s)

    @property
    def pid(self) -> int:
        return self._child.pid

    def _read(self) -> None:
        assert self._child.stdout
        for line in self._child.stdout:  # until the process ends
            index, started, ms, outcome = line.split()
            name = self.names[int(index)]
            self.readings[name].append((float(started), float(ms)))
            if outcome == "failed":
                self.failures[name] += 1
            elif outcome == "ok":
                self._answered.add(name)
                if len(self._answered) == len(self.names):
                    self._first.set()

    def stop(self) -> dict[str, list[tuple[float, float]]]:
        stop_helper(self._child)  # it writes the asks under way and ends
        self._reader.join(5)
        return {name: list(values) for name, values in self.readings.items()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
