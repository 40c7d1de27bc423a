#!/usr/bin/env bash
# Installs what the stack needs on Debian 12 (bookworm), the one system it is tested on. Idempotent: quiet and quick
# when nothing is missing. Uses sudo only when not root. Called by ./run.sh, and by ./test.sh with --tests (which also
# sets up what only the tests use: the Kubernetes schema validator from npm, and a check for kubectl); safe to run by hand.
set -euo pipefail

for_tests=0
case "${1:-}" in
  --tests) for_tests=1 ;;
  "") ;;
  *) printf 'usage: %s [--tests]\n' "$0" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/python-inference/.venv"
say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# RabbitMQ for the 'local' broker runtime, PostgreSQL 15 for the 'local' database runtime (and the store tests), and the Python stack from Debian's packages, which is what
# python-inference runs on where no Python package index is reachable; wrk, the benchmarks' load generator, whose jobs
# script (scripts/bench/jobs.lua) the tests run against a small server.
apt_packages=(
  rabbitmq-server
  postgresql-15
  python3 python3-venv python3-pip
  python3-fastapi python3-starlette python3-pydantic python3-uvicorn python3-uvloop python3-httptools
  python3-sklearn python3-scipy python3-numpy python3-httpx python3-pytest python3-pytest-timeout python3-jsonschema
  python3-aio-pika python3-psycopg python3-jwt
  python3-grpcio python3-protobuf protobuf-compiler python3-grpc-tools
  curl ca-certificates
  wrk
)

# Another system's package names and versions may differ (PostgreSQL 15, Python 3.11, scikit-learn 1.2 are
# bookworm's): say so once, and go on.
check_system() {
  local id="" version_id=""
  [[ -r /etc/os-release ]] && { id="$(. /etc/os-release && echo "${ID:-}")"; version_id="$(. /etc/os-release && echo "${VERSION_ID:-}")"; }
  [[ "$id" == debian && "$version_id" == 12 ]] \
    || say "warning: this is ${id:-an unknown system} ${version_id}; the project is tested on Debian 12 (bookworm) only, and its package names and versions may not exist here"
}

install_apt_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0

  command -v apt-get >/dev/null || die "missing ${missing[*]}, and this is not a Debian machine; install them by hand."
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  say "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # Debian starts a service when its package is installed: a system-wide RabbitMQ (and its epmd on every interface)
  # and a PostgreSQL cluster that nothing here uses, since the AppHost and the tests run their own. A policy-rc.d that
  # answers 101 ("not allowed") keeps them stopped through this install (a policy-rc.d already there is left alone);
  # their units are disabled after it.
  # Removed again on the way out too, should the install be interrupted: left behind, it would stop every service
  # that later installs and upgrades start.
  local policy=/usr/sbin/policy-rc.d ours=0 remove
  if [[ ! -e "$policy" ]]; then
    remove="rm -f $policy"
    ((${#sudo[@]} == 0)) || remove="sudo $remove"
    trap "$remove" EXIT
    printf '#!/bin/sh\n# written by %s for one install: no service starts\nexit 101\n' "$0" | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    ours=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  if ((ours)); then
    $remove
    trap - EXIT
  fi
  ((status == 0)) || die "apt-get install ${missing[*]} failed"
  # The policy only holds for the install: the packages still enable their units, which would start at the next boot.
  # On a machine that runs systemd, disable those of the packages just installed.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    local units=()
    [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && units+=(rabbitmq-server.service epmd.socket epmd.service)
    [[ " ${missing[*]} " == *" postgresql-15 "* ]] && units+=(postgresql.service)
    if ((${#units[@]} > 0)); then
      say "disabling ${units[*]}: the stack runs its own broker and database"
      "${sudo[@]}" systemctl disable --now --quiet "${units[@]}" 2>/dev/null || true
    fi
  fi
}

check_dotnet() {
  command -v dotnet >/dev/null || die ".NET SDK 10 is required (https://dot.net); it is not on PATH."
  local major
  major="$(dotnet --version 2>/dev/null | cut -d. -f1)"
  [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 10)) || die ".NET SDK 10 or newer is required; found '$(dotnet --version 2>/dev/null)'."
}

package_index_reachable() {
  [[ "${SETUP_OFFLINE:-}" == 1 ]] && return 1
  local index="${PIP_INDEX_URL:-https://pypi.org/simple}"
  curl -fsS -o /dev/null --max-time 5 "${index%/}/pip/" 2>/dev/null
}

setup_python() {
  if [[ ! -x "$venv/bin/python" ]]; then
    say "creating $venv (with the system's site packages)"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
  fi

  # pip runs only where an index answers and only when pyproject.toml changed since the last install;
  # offline, Debian's python3-* packages above are the dependencies.
  local stamp="$venv/.installed-pyproject" digest
  digest="$(sha256sum "$root/python-inference/pyproject.toml" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]] && package_index_reachable; then
    say "installing python-inference's dependencies with pip"
    "$venv/bin/python" -m pip install -q -e "$root/python-inference[test]"
    echo "$digest" >"$stamp"
  fi

  "$venv/bin/python" -c "import fastapi, uvicorn, sklearn, joblib, numpy, httpx, jwt, psycopg, pytest, jsonschema, aio_pika, grpc, grpc_tools, google.protobuf" 2>/dev/null \
    || die "python-inference's dependencies are not importable from $venv (no package index reachable and Debian's packages incomplete?)"

  generate_python_stubs

  # Train (or load) the models once now, so the first start of the service is quick.
  (cd "$root/python-inference" && "$venv/bin/python" -m app.ml.warm) >/dev/null \
    || die "training the models failed; run: cd python-inference && .venv/bin/python -m app.ml.warm"
}

# python-inference's stubs for protos/*.proto (C# compiles them itself, at build time). Generated, never edited, never
# committed: written to python-inference/.generated/protos (git-ignored), again whenever a .proto or a generator changes.
# protoc writes the messages (Debian's protoc matches Debian's protobuf runtime), grpc_tools the service stubs.
generate_python_stubs() {
  local out="$root/python-inference/.generated/protos" stamp digest
  stamp="$out/.stamp"
  local protos=()
  mapfile -t protos < <(cd "$root/protos" && find . -name '*.proto' | sed 's|^\./||' | sort)
  ((${#protos[@]} > 0)) || die "no .proto files under $root/protos"
  command -v protoc >/dev/null || die "protoc not found (Debian package protobuf-compiler)"
  digest="$( (cd "$root/protos" && sha256sum "${protos[@]}"; protoc --version; declare -f generate_python_stubs;
              "$venv/bin/python" -c 'import grpc_tools, grpc, google.protobuf as p; print(grpc.__version__, p.__version__)') \
            | sha256sum | cut -d' ' -f1)"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$digest" ]] && return 0

  say "generating python-inference's gRPC stubs from protos/"
  # grpcio owns the Python package `grpc`, so protos/grpc/<name>/ is generated as grpc_<name>/ (as grpcio's own
  # health package does: grpc_health.v1); nothing imports those files, so no import path changes.
  local stage
  stage="$(mktemp -d)"
  cp -r "$root/protos/." "$stage/"
  if [[ -d "$stage/grpc" ]]; then
    for dir in "$stage"/grpc/*/; do mv "$dir" "$stage/grpc_$(basename "$dir")"; done
    rmdir "$stage/grpc"
  fi
  local protos=() services=()
  mapfile -t protos < <(cd "$stage" && find . -name '*.proto' | sed 's|^\./||' | sort)
  mapfile -t services < <(cd "$stage" && grep -l '^service ' "${protos[@]}")
  # The well-known types (google/protobuf/any.proto) come with grpc_tools; protobuf-compiler has none.
  local well_known
  well_known="$("$venv/bin/python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$stage" && protoc -I . -I "$well_known" --python_out="$out" "${protos[@]}") || die "protoc failed"
  (cd "$stage" && "$venv/bin/python" -m grpc_tools.protoc -I . -I "$well_known" --grpc_python_out="$out" "${services[@]}") \
    || die "grpc_tools.protoc failed"
  rm -rf "$stage"
  echo "$digest" >"$stamp"
}

# The gateway serves https://localhost:8443 with ASP.NET Core's development certificate, and in Development
# accepts tokens from `dotnet user-jwts`, whose signing key lives in the Gateway's user secrets (never in the
# repository). Both are made here, once per machine and user.
setup_development_keys() {
  if ! dotnet dev-certs https --check >/dev/null 2>&1; then
    say "creating the ASP.NET Core HTTPS development certificate"
    dotnet dev-certs https >/dev/null
    # Trust for .NET clients; curl and Python also need SSL_CERT_DIR (see docs/security.md, "TLS and dual stack").
    dotnet dev-certs https --trust >/dev/null 2>&1 || true
  fi

  if ! dotnet user-jwts key --project "$root/Gateway" 2>/dev/null | grep -q "Signing Key"; then
    say "creating the Gateway's development token signing key (dotnet user-jwts, in user secrets)"
    dotnet user-jwts key --project "$root/Gateway" --reset --force >/dev/null
  fi
}

# The Kubernetes schema validator the deployment tests run (scripts/k8s): npm ci, only when the lock file changed.
# Tests only: ./run.sh needs neither npm nor Node.js.
setup_k8s_validator() {
  local dir="$root/scripts/k8s" stamp digest
  stamp="$dir/node_modules/.installed-lock"
  digest="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$digest" ]] && return 0
  command -v npm >/dev/null || install_apt_packages npm
  say "installing the Kubernetes schema validator (npm ci in scripts/k8s)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $dir"
  echo "$digest" >"$stamp"
}

# The deployment tests render the published kustomize base with `kubectl kustomize` (kubectl 1.14 or newer). Debian 12
# has no kubectl package, so it is not installed here.
check_kubectl() {
  command -v kubectl >/dev/null \
    || die "kubectl is required by the tests (tests/Deployment.Tests render the kustomize base with 'kubectl kustomize'); install it as https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ says, then run ./test.sh again"
}

check_system
install_apt_packages "${apt_packages[@]}"
check_dotnet
setup_development_keys
setup_python
if ((for_tests)); then
  check_kubectl
  setup_k8s_validator
fi
