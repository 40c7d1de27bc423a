"""scripts/bench/lib.sh's choice of where a benchmark's dashboard keeps its database (dashboard_store): in a folder of
the run's own in memory (/dev/shm) when that is a tmpfs with 2 GiB free, removed by apphost_stop; otherwise, or when
asked, where Aspire puts it. Run in bash against the real /dev/shm; the folders it makes carry this test's pid."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.bench.scripts import BENCH

SHM = Path("/dev/shm")


def memory_has_room() -> bool:
    """What dashboard_store checks: /dev/shm is a tmpfs with at least 2 GiB free."""
    if not SHM.is_dir() or subprocess.run(["stat", "-f", "-c", "%T", str(SHM)], capture_output=True,
                                          text=True).stdout.strip() != "tmpfs":
        return False
    stat = os.statvfs(SHM)
    return stat.f_bavail * stat.f_frsize >= 2048 * 1024 * 1024


def run_lib(script: str, **environment: str) -> list[str]:
    """`script` run by bash after sourcing lib.sh, as the benchmarks do (set -euo pipefail); its output's lines."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("ASPIRE_DASHBOARD_PERSISTENCE_MODE", "BENCH_DASHBOARD_STORE")} | environment
    result = subprocess.run(["bash", "-c", f'set -euo pipefail; source "{BENCH}/lib.sh"; {script}'],
                            capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_dashboard_keeps_its_run_in_memory_in_a_folder_of_its_own_that_apphost_stop_removes() -> None:
    stale = SHM / f"bench-dashboard.{dead_pid()}.stale"  # left by a run that was killed
    alive = SHM / f"bench-dashboard.{os.getpid()}.alive"  # another run's, still going
    if memory_has_room():
        stale.mkdir()
        alive.mkdir()
    try:
        folder, environment, after_stop = run_lib(
            'dashboard_store; echo "$DASHBOARD_DATA"; echo "${DASHBOARD_STORE_ENV[*]}";'
            f' APPHOST={dead_pid()}; apphost_stop; echo "${{DASHBOARD_DATA:-removed}}"')
        if memory_has_room():
            assert folder.startswith(str(SHM / "bench-dashboard.")), folder
            assert environment == f"ASPIRE_DASHBOARD_PERSISTENCE_MODE=Run ASPIRE_DASHBOARD_DATA_DIRECTORY={folder}"
            assert not Path(folder).exists() and after_stop == "removed"  # apphost_stop took it away
            assert not stale.exists() and alive.is_dir()
        else:
            assert (folder, environment) == ("", "ASPIRE_DASHBOARD_PERSISTENCE_MODE=None")
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def test_asked_for_the_disk_or_for_a_run_to_keep_the_dashboard_goes_where_aspire_puts_it() -> None:
    script = 'dashboard_store; echo "${DASHBOARD_DATA:-none}"; echo "${DASHBOARD_STORE_ENV[*]}"'

    assert run_lib(script, BENCH_DASHBOARD_STORE="disk") == ["none", "ASPIRE_DASHBOARD_PERSISTENCE_MODE=None"]
    assert run_lib(script, ASPIRE_DASHBOARD_PERSISTENCE_MODE="Run") == ["none", "ASPIRE_DASHBOARD_PERSISTENCE_MODE=Run"]
