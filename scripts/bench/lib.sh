# What every benchmark script needs around the AppHost it starts; sourced, not run.
# Sets APPHOST (the `dotnet run` pid), GATEWAY (the gateway's HTTP address), GATEWAY_PID and DASHBOARD_PORT once
# apphost_start returns.

# A stack already on 8080 would be measured instead of the one the script starts (for the scripts on fixed ports).
refuse_if_gateway_answers() {
  if curl -s -m 1 http://localhost:8080/alive >/dev/null 2>&1; then
    echo "$(basename "$0"): something already answers on localhost:8080; stop it first (the run would measure it)" >&2
    exit 1
  fi
}

# The DCP processes (Aspire's orchestrator) of the AppHost started by `dotnet run` with pid $1: its API server
# watches the AppHost (--monitor <AppHost pid>), the controllers watch the API server.
orchestrator_pids() {
  local host api
  host=$(pgrep -P "$1" | head -n 1) || return 0
  api=$(pgrep -f -- "start-apiserver --monitor $host( |$)" | head -n 1) || return 0
  if [[ -n "$api" ]]; then echo "$api $(pgrep -f -- "run-controllers .*--monitor $api( |$)" | tr '\n' ' ')"; fi
}

# A TCP port free right now on both 127.0.0.1 and ::1 (the gateway listens on both loopback families).
free_port() {
  /usr/bin/python3 - <<'PY'
import socket
while True:
    v4 = socket.socket(socket.AF_INET)
    v4.bind(("127.0.0.1", 0))
    port = v4.getsockname()[1]
    try:
        v6 = socket.socket(socket.AF_INET6)
        v6.bind(("::1", port))
    except OSError:
        continue
    v6.close(); v4.close()
    print(port)
    break
PY
}

# Installs a Debian package when its command or module is missing ($1 package, $2 check command); fails clearly.
ensure_package() {
  local package="$1"; shift
  "$@" >/dev/null 2>&1 && return 0
  echo "$(basename "$0"): installing $package (apt-get)" >&2
  if ! { apt-get install -y -q "$package" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$package" >/dev/null 2>&1; }; } \
    || ! "$@" >/dev/null 2>&1; then
    echo "$(basename "$0"): $package is needed and could not be installed; run: apt-get install -y $package" >&2
    exit 1
  fi
}

# `dotnet build` of $@ with only its errors shown, and those only when it fails (then the script stops): with its output
# sent to /dev/null, a failed build ended the script without a word.
build_quietly() {
  local built
  if ! built=$(dotnet build "$@" -nologo -v quiet -clp:ErrorsOnly 2>&1); then
    echo "$built" >&2
    echo "$(basename "$0"): dotnet build $* failed" >&2
    exit 2
  fi
}

# The processes of this worktree's service $1 (Gateway or Worker), as built in configuration $2, one pid a line
# (two gateways with UNBATCHED_GATEWAY=1, a Worker per replica); service_pid gives the first.
service_pids() { pgrep -f "^$PWD/$1/bin/$2/.*/$1$"; }
service_pid() { service_pids "$1" "$2" | head -n 1; }

# This worktree's python-inference (uvicorn) process.
inference_pid() {
  local pid
  for pid in $(pgrep -f "uvicorn app.main:app"); do
    if [[ "$(readlink "/proc/$pid/cwd")" == "$PWD/python-inference" ]]; then echo "$pid"; return 0; fi
  done
}

# The dashboard the AppHost started (apphost_start's DASHBOARD_PORT): the orchestrator listens on that port and proxies
# it, so the dashboard is the Aspire.Dashboard process that orchestrator started.
dashboard_pid() {
  local proxy
  proxy=$(listener_pid "$DASHBOARD_PORT")
  [[ -z "$proxy" ]] || pgrep -P "$proxy" -f Aspire.Dashboard | head -n 1
}

# The process listening on loopback TCP port $1.
listener_pid() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2; }

# One variable of process $1's environment ($2 the name).
process_env() { tr '\0' '\n' <"/proc/$1/environ" | sed -n "s/^$2=//p" | head -n 1; }

# Sets probe_args to jobs.py's --probes and its store, as the running stack's Worker ($2 its build configuration)
# keeps the jobs ($1 the provider): its PostgreSQL (the connection string) or its SQLite database (the file); and the
# liveness of every Worker replica, on its own port (the first of its ASPNETCORE_URLS, not the orchestrator's proxy),
# and of the gateway apphost_start started.
probe_arguments() {
  local worker replica=0 pid url
  worker=$(service_pid Worker "$2")
  if [[ "$1" == postgres ]]; then
    probe_args=(--probes --probe-postgres "$(process_env "$worker" ConnectionStrings__workerdb)")
  else
    probe_args=(--probes --probe-sqlite "$(process_env "$worker" Jobs__DatabasePath)")
  fi
  for pid in $(service_pids Worker "$2"); do
    url=$(process_env "$pid" ASPNETCORE_URLS)
    url=${url%%;*}
    replica=$((replica + 1))
    probe_args+=(--probe-alive "Worker $replica /alive=${url/localhost/127.0.0.1}/alive")
  done
  probe_args+=(--probe-alive "gateway /alive=$GATEWAY/alive")
}

# Exits unless every process given runs with this script's trace sampling (OTEL_TRACES_SAMPLER_ARG, or none): the
# figures are only those of the setting measured (project and executable resources inherit the AppHost's environment).
require_sampling() {
  local pid
  for pid in "$@"; do
    if [[ "$(process_env "$pid" OTEL_TRACES_SAMPLER_ARG)" != "${OTEL_TRACES_SAMPLER_ARG:-}" ]]; then
      echo "$(basename "$0"): process $pid does not run with OTEL_TRACES_SAMPLER_ARG=${OTEL_TRACES_SAMPLER_ARG:-(unset)}" >&2
      exit 1
    fi
  done
}

# Exits unless every process given ($2…) exports its telemetry ($1 on: OTEL_EXPORTER_OTLP_ENDPOINT set) or does not ($1
# off: the variable empty, as AppHost:ExportTelemetry=false leaves it).
require_export() {
  local want="$1" pid endpoint; shift
  for pid in "$@"; do
    endpoint=$(process_env "$pid" OTEL_EXPORTER_OTLP_ENDPOINT)
    if [[ ( "$want" == on && -z "$endpoint" ) || ( "$want" == off && -n "$endpoint" ) ]]; then
      echo "$(basename "$0"): process $pid runs with OTEL_EXPORTER_OTLP_ENDPOINT='$endpoint' (telemetry export should be $want)" >&2
      exit 1
    fi
  done
}

# Starts the AppHost (configuration $1, then AppHost arguments) on free ports: the gateway's HTTP and HTTPS, the
# dashboard and its OTLP and resource endpoints, all on loopback; the other resources get free ports from Aspire.
# Waits (at most $APPHOST_START_TIMEOUT s, 600 by default: a loaded machine is slow) until the gateway is healthy.
# Output goes to $APPHOST_LOG. Sets GATEWAY (its address) and GATEWAY_PID. With UNBATCHED_GATEWAY=1 the AppHost also starts gateway-unbatched, the
# gateway with batching off (AppHost:UnbatchedGatewayPort), and this waits for it too and sets UNBATCHED and UNBATCHED_PID.
apphost_start() {
  local configuration="$1"; shift
  local http https unbatched_port="" unbatched_arguments=()
  http=$(free_port) https=$(free_port) DASHBOARD_PORT=$(free_port)
  UNBATCHED="" UNBATCHED_PID=""
  if [[ "${UNBATCHED_GATEWAY:-0}" == 1 ]]; then
    unbatched_port=$(free_port)
    unbatched_arguments=(--AppHost:UnbatchedGatewayPort="$unbatched_port")
  fi
  APPHOST_LOG="${APPHOST_LOG:-$(mktemp)}"
  dashboard_store
  env ASPNETCORE_ENVIRONMENT=Development DOTNET_ENVIRONMENT=Development ASPIRE_ALLOW_UNSECURED_TRANSPORT=true \
    "${DASHBOARD_STORE_ENV[@]}" \
    ASPNETCORE_URLS="http://127.0.0.1:$DASHBOARD_PORT" \
    ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL="http://127.0.0.1:$(free_port)" \
    ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL="http://127.0.0.1:$(free_port)" \
    ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL="http://127.0.0.1:$(free_port)" \
    dotnet run -c "$configuration" --project AppHost --no-build --no-launch-profile -- \
    --Gateway:HttpPort="$http" --Gateway:HttpsPort="$https" "${unbatched_arguments[@]}" "$@" >"$APPHOST_LOG" 2>&1 &
  APPHOST=$!
  GATEWAY="http://127.0.0.1:$http"
  [[ -z "$unbatched_port" ]] || UNBATCHED="http://127.0.0.1:$unbatched_port"
  local deadline=$((SECONDS + ${APPHOST_START_TIMEOUT:-600})) url
  for url in "$GATEWAY" ${UNBATCHED:+"$UNBATCHED"}; do
    until curl -fs -m 2 "$url/health" >/dev/null 2>&1; do
      if ((SECONDS > deadline)) || ! kill -0 "$APPHOST" 2>/dev/null; then
        echo "$(basename "$0"): the gateway at $url did not become healthy; the AppHost's log ends:" >&2
        tail -n 30 "$APPHOST_LOG" >&2
        return 1
      fi
      sleep 0.5
    done
  done
  # By the port each listens on: both gateways run the same binary.
  GATEWAY_PID=$(listener_pid "$http")
  [[ -z "$unbatched_port" ]] || UNBATCHED_PID=$(listener_pid "$unbatched_port")
  APPHOST_WATCHED="$(orchestrator_pids "$APPHOST") $(service_pids Gateway "$configuration" | tr "\n" " ") $(inference_pid) $(service_pids Worker "$configuration" | tr "\n" " ")"
}

# Stops the AppHost apphost_start started and waits (at most 60 s) until its orchestrator and services are gone.
apphost_stop() {
  [[ -n "${APPHOST:-}" ]] || return 0
  kill -TERM "$APPHOST" 2>/dev/null || true # a background job ignores SIGINT; dotnet run passes TERM on
  wait "$APPHOST" 2>/dev/null || true
  local pid alive
  for _ in $(seq 1 300); do
    alive=""
    for pid in ${APPHOST_WATCHED:-}; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ -z "$alive" ]] && break
    sleep 0.2
  done
  APPHOST="" APPHOST_WATCHED=""
  [[ -z "${DASHBOARD_DATA:-}" ]] || rm -rf "$DASHBOARD_DATA"
  DASHBOARD_DATA=""
}

# Where the dashboard apphost_start starts keeps what the services export: a SQLite database that lives as long as the
# run, not one of the ten runs Aspire keeps under ~/.aspire/dashboard. On this VM's disk its writes and checkpoints
# cost the machine steal, I/O wait and interrupts, worth 5-9 % of the unbatched gateway's throughput (measured:
# docs/performance.md, "The dashboard's database in memory"), so it goes in memory, on /dev/shm, when that is a tmpfs
# with 2 GiB free. BENCH_DASHBOARD_STORE=disk keeps Aspire's temporary database (under $TMPDIR) instead, and
# ASPIRE_DASHBOARD_PERSISTENCE_MODE=Run keeps the run under ~/.aspire/dashboard to inspect. Sets DASHBOARD_STORE_ENV
# (the AppHost's environment for it) and DASHBOARD_DATA (the folder in memory, removed by apphost_stop).
dashboard_store() {
  local folder owner
  DASHBOARD_DATA=""
  DASHBOARD_STORE_ENV=(ASPIRE_DASHBOARD_PERSISTENCE_MODE="${ASPIRE_DASHBOARD_PERSISTENCE_MODE:-None}")
  [[ -z "${ASPIRE_DASHBOARD_PERSISTENCE_MODE:-}" && "${BENCH_DASHBOARD_STORE:-memory}" == memory ]] || return 0
  [[ "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]] || return 0
  (($(df --output=avail -BM /dev/shm | tail -n 1 | tr -dc 0-9) >= 2048)) || return 0
  for folder in /dev/shm/bench-dashboard.*; do # left by a run that was killed: its pid is in the name
    owner=${folder#/dev/shm/bench-dashboard.}
    [[ -d "$folder" ]] && ! kill -0 "${owner%%.*}" 2>/dev/null && rm -rf "$folder"
  done
  DASHBOARD_DATA=$(mktemp -d "/dev/shm/bench-dashboard.$$.XXXXXX")
  DASHBOARD_STORE_ENV=(ASPIRE_DASHBOARD_PERSISTENCE_MODE=Run ASPIRE_DASHBOARD_DATA_DIRECTORY="$DASHBOARD_DATA")
}

# One subject sends every request of a benchmark: lift its rate limits and upstream concurrency slots (32 per caller;
# 64 connections are one caller here). Project resources inherit the AppHost's environment, so call it before apphost_start.
bench_lift_limits() {
  local policy
  for policy in predict batch jobs rpc; do
    export "RateLimiting__Policies__${policy}__TokenLimit=1000000" "RateLimiting__Policies__${policy}__TokensPerPeriod=1000000"
  done
  export UpstreamLimits__MaxConcurrentCallsPerCaller=100000 UpstreamLimits__MaxConcurrentCalls=100000
}
