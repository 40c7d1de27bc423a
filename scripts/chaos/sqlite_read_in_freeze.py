#!/usr/bin/env python3
"""Whether a SQLite read waits for a frozen file system: the mechanism behind a read of jobs held through the chaos
run's disk stall (docs/reliability.md, "A read through a frozen disk, on SQLite").

A database in WAL mode keeps its wal-index in the `-shm` file, mapped into every process that opens it. A read
transaction that starts after a commit records the new end of the WAL in a read mark there, a store into that mapping;
the first store into a page of a frozen file system waits in the page fault until it is thawed (ext4 blocks page
faults that would dirty a page while frozen, and freezing cleans every page first). A read that finds a read mark at
the current end of the WAL writes nothing and is not held, which is why the Worker's writer reads once after each
commit (the third case).

For each case it makes a fresh ext4 file system in a sparse file through a loop device (root only: losetup, mkfs.ext4,
mount, fsfreeze), opens one writer and several readers, optionally commits, freezes the file system, starts one read
per reader, thaws after the freeze, and prints how long each read took. Only Python's own sqlite3 module.

Usage: sudo scripts/chaos/sqlite_read_in_freeze.py [--freeze SECONDS] [--readers N] [--rounds N]
"""

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


@contextlib.contextmanager
def scratch_file_system():
    """A fresh ext4 file system mounted on a temporary folder, unmounted and removed afterwards."""
    folder = tempfile.mkdtemp(prefix="sqlite-freeze.")
    image, mount_point = os.path.join(folder, "disk.img"), os.path.join(folder, "mnt")
    os.mkdir(mount_point)
    mounted = False
    try:
        with open(image, "wb") as disk:
            disk.truncate(64 * 1024 * 1024)
        subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
        subprocess.run(["mount", "-o", "loop", image, mount_point], check=True)
        mounted = True
        yield mount_point
    finally:
        if mounted:
            subprocess.run(["fsfreeze", "--unfreeze", mount_point], check=False, stderr=subprocess.DEVNULL)
            subprocess.run(["umount", mount_point], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def one_case(commit_first: bool, writer_reads: bool, freeze_s: float, readers: int) -> list[float]:
    """Milliseconds each reader's read took when it started while the file system was frozen."""
    with scratch_file_system() as mount_point:
        path = os.path.join(mount_point, "jobs.db")
        writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, body TEXT)")
        writer.execute("INSERT INTO jobs (body) VALUES ('first')")
        connections = [sqlite3.connect(path, isolation_level=None, check_same_thread=False) for _ in range(readers)]
        for connection in connections:  # each has read once since the last commit: a read mark at the WAL's end
            connection.execute("SELECT count(*) FROM jobs").fetchone()
        if commit_first:
            writer.execute("INSERT INTO jobs (body) VALUES ('second')")
        if writer_reads:  # what the Worker's turn to write ends with (SqliteDialect.MarkTheWalsEnd)
            writer.execute("PRAGMA schema_version").fetchone()

        took: list[float] = []
        lock = threading.Lock()

        def read(connection: sqlite3.Connection) -> None:
            started = time.monotonic()
            connection.execute("SELECT count(*) FROM jobs").fetchone()
            with lock:
                took.append((time.monotonic() - started) * 1000)

        subprocess.run(["fsfreeze", "--freeze", mount_point], check=True)
        try:
            threads = [threading.Thread(target=read, args=(connection,)) for connection in connections]
            for thread in threads:
                thread.start()
            time.sleep(freeze_s)
        finally:
            subprocess.run(["fsfreeze", "--unfreeze", mount_point], check=True)
        for thread in threads:
            thread.join()
        for connection in [*connections, writer]:
            connection.close()
        return sorted(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--freeze", type=float, default=2.0, help="seconds the file system stays frozen (2)")
    parser.add_argument("--readers", type=int, default=3, help="connections that each start one read in the freeze (3)")
    parser.add_argument("--rounds", type=int, default=2, help="times each case runs (2)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("sqlite_read_in_freeze.py: needs root (a loop device, mount, fsfreeze)", file=sys.stderr)
        return 2

    print(f"SQLite {sqlite3.sqlite_version}, WAL mode; the file system frozen {args.freeze:g} s; "
          f"{args.readers} readers each start one read in the freeze\n")
    print("| before the freeze | round | each read (ms) | held through the freeze |")
    print("|---|---|---|---|")
    cases = (
        (False, False, "no commit since the readers' last read"),
        (True, False, "a commit after the readers' last read"),
        (True, True, "a commit, then one read on the writer's connection"),
    )
    for commit_first, writer_reads, label in cases:
        for round_number in range(1, args.rounds + 1):
            took = one_case(commit_first, writer_reads, args.freeze, args.readers)
            held = sum(1 for ms in took if ms >= args.freeze * 1000 * 0.9)
            print(f"| {label} | {round_number} | {', '.join(f'{ms:,.1f}' for ms in took)} | {held} of {len(took)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
