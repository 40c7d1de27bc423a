#!/usr/bin/env bash
# Breaks the stack on purpose under a steady load and proves nothing was lost (docs/reliability.md): builds Release,
# starts its own AppHost (free loopback ports, local RabbitMQ, the dashboard), runs every scenario one after another
# (python-inference killed and slow, a Worker replica killed and the broker restarted, the queue and a quota filled,
# the disk stalled, a soak), prints one Markdown table, writes it and a JSON file to artifacts/chaos/, and stops what
# it started.
# Exits 1 when a job was lost or done twice, a valid request got a 5xx outside a fault window, or something did not
# recover; 2 when the run itself failed.
# Usage: scripts/chaos/run.sh [--quick] [--soak-only SECONDS | --slow-only | --disk-only] [--postgres] [--out DIR]
#   --quick      each fault once with short windows and a 20 s soak (about 3 minutes): for development, not the figures
#   --soak-only  no faults: the warm-up, the saturation measurement and a soak of SECONDS (to look into growth)
#   --slow-only  only the python-inference-slow scenario, no soak (to look into the other routes' latency meanwhile)
#   --disk-only  only the disk-stall scenario, no soak (root only, as the scenario is)
#   --postgres   the Worker's jobs and python-inference's counts in PostgreSQL (the machine's, run locally, its data on
#                the state's file system too) instead of SQLite files
# CHAOS_WORKER_<key>=<value> in the environment gives the Worker <key>=<value>, and CHAOS_GATEWAY_<key>=<value> the
# gateway, to compare a setting on and off (e.g. CHAOS_WORKER_Logging__LogLevel__Default=Debug,
# CHAOS_GATEWAY_Inference__Transport=Grpc); the AppHost's own environment does not reach its services.
# (assumes scripts/setup.sh has run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[[ -x python-inference/.venv/bin/python ]] || { echo "$(basename "$0"): run scripts/setup.sh first" >&2; exit 1; }
source scripts/bench/lib.sh
echo "building (Release)..." >&2
build_quietly scripts/chaos/Chaos -c Release  # exits 2 with the build's errors

# The state's own file system, which the disk-stall scenario freezes (fsfreeze) for a few seconds: ext4 in a sparse
# file through a loop device, mounted for the run and removed after it, holding the broker's data and the databases
# (LocalState:Root). Root only (a loop device, mount, fsfreeze). Without it, and for --soak-only and --slow-only
# (which stall nothing), the state stays in the temporary folder and the report says the scenario was skipped.
disk_dir="" loop=""
state_disk() {
  local tool
  for tool in losetup mkfs.ext4 mount fsfreeze; do command -v "$tool" >/dev/null || return 1; done
  disk_dir=$(mktemp -d /tmp/chaos-state-disk.XXXXXX)
  truncate -s 8G "$disk_dir/image"
  loop=$(losetup --find --show --direct-io=on "$disk_dir/image" 2>/dev/null || losetup --find --show "$disk_dir/image") || return 1
  # Few inodes and every table written now: no background initialisation writing to the disk during the run.
  mkfs.ext4 -q -N 16384 -E lazy_itable_init=0,lazy_journal_init=0 "$loop" || return 1
  mkdir "$disk_dir/mnt" && mount "$loop" "$disk_dir/mnt" || return 1
  chmod 0711 "$disk_dir" "$disk_dir/mnt"  # a root run's local PostgreSQL runs as postgres and must pass through
}
remove_state_disk() {
  [[ -n "$disk_dir" ]] || return 0
  if mountpoint -q "$disk_dir/mnt"; then
    fsfreeze --unfreeze "$disk_dir/mnt" 2>/dev/null || true
    umount "$disk_dir/mnt" || umount --lazy "$disk_dir/mnt" || true
  fi
  [[ -z "$loop" ]] || losetup --detach "$loop" 2>/dev/null || true
  rm -rf "$disk_dir"
}
trap remove_state_disk EXIT
disk_args=()
if [[ $EUID -eq 0 && " $* " != *" --soak-only "* && " $* " != *" --slow-only "* ]]; then
  if state_disk; then
    disk_args=(--state-disk "$disk_dir/mnt")
  else
    echo "$(basename "$0"): could not make the state's own file system; the disk-stall scenario is skipped" >&2
    remove_state_disk; disk_dir="" loop=""
  fi
fi

# The driver starts the AppHost in its own process (Aspire.Hosting.Testing) and stops it on exit; Release all through.
export DOTNET_ENVIRONMENT=Development ASPIRE_ALLOW_UNSECURED_TRANSPORT=true
status=0
dotnet scripts/chaos/Chaos/bin/Release/net10.0/Chaos.dll "$@" "${disk_args[@]}" || status=$?
exit "$status"
