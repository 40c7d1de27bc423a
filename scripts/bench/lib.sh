# What every benchmark script needs around the AppHost it starts; sourced, not run.

# A stack already on 8080 would be measured instead of the one the script starts.
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
