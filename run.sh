#!/usr/bin/env bash
# One entry point for people and CI.
#   ./run.sh demo     set up, start every service on SQLite, load the demo portfolio, report
#   ./run.sh test     set up, then lint, type-check, buf lint and run the default test suite
#                     (everything but the suites with their own commands below)
#   ./run.sh soak     set up, then run the soak suite (pytest marker "soak", minutes)
#   ./run.sh chaos    set up, then run the kill-and-restart suite (pytest marker "chaos")
#   ./run.sh scaleout set up, then 3 replicas per service on PostgreSQL with events on
#                     JetStream, replicas SIGKILLed and NATS restarted (marker "scaleout")
#   ./run.sh fuzz     set up, then fuzz every unary RPC 1,000 times (pytest marker "fuzz")
#   ./run.sh keys     set up, then the operator CLI and key-rotation suite (marker "keys")
#   ./run.sh load     set up, then the load runs: 10,000 push streams, 5 x 5,000 gateway calls
#   ./run.sh security set up, then all forged credentials, BOLA via the gateway, lockout
#   ./run.sh metrics  set up, then scrape every process under load (pytest marker "metrics")
#   ./run.sh bench    set up, then run the benchmarks (results in bench/results/)
#   ./run.sh setup    only set up (.venv, dependencies, generated code)
#   ./run.sh contracts  build dist/crm_contracts-<ver>-py3-none-any.whl, then pip-install it in a
#                     fresh venv and call a service with it (pytest marker "contracts")
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

# The default suite: everything but the long suites with their own commands below (keys and
# metrics take under a minute, so they run here too, and alone with their own commands).
DEFAULT_SUITE="not soak and not chaos and not fuzz and not contracts and not load and not security and not scaleout"

log() { printf '\n== %s\n' "$*"; }

setup() {
  if ! command -v python3 >/dev/null; then
    log "installing python3"; apt-get update -qq && apt-get install -y -qq python3 python3-venv
  fi
  if [ ! -x "$PY" ]; then
    log "creating virtual environment"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv
      rm -rf "$VENV"; python3 -m venv "$VENV"
    fi
  fi
  # requirements-dev.lock: the runtime lock's pins plus codegen, tests, lint, buf and kubectl,
  # every file checked against its hash (the image installs requirements.lock only).
  local stamp="$VENV/.lock-installed"
  if [ ! -f "$stamp" ] || ! cmp -s requirements-dev.lock "$stamp"; then
    log "installing pinned dependencies (requirements-dev.lock)"
    "$PY" -m pip install -q --upgrade pip >/dev/null
    "$PY" -m pip install -q --require-hashes -r requirements-dev.lock
    cp requirements-dev.lock "$stamp"
  fi
  # Source roots on the path: the runtime, each service, the gateway, generated code, demo.
  local site
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf '%s\n' "$ROOT/gen/python" "$ROOT/runtime" "$ROOT/services/client" \
    "$ROOT/services/risk" "$ROOT/services/notify" "$ROOT/services/feedback" \
    "$ROOT/gateway" "$ROOT/console" "$ROOT/demo" "$ROOT/simulation" "$ROOT" "$ROOT/admin" "$ROOT/importer" \
    > "$site/crm-src.pth"
  "$PY" tools/gen_protos.py >/dev/null
}

ensure_postgres() {
  # Use the server on 127.0.0.1:5432 when it answers; otherwise install and start one.
  if [ -n "${CRM_TEST_POSTGRES_URL:-}" ]; then return; fi
  if "$PY" - <<'PYEOF'
import asyncio, sys
from crm_runtime.testing import postgres_available
sys.exit(0 if asyncio.run(postgres_available()) else 1)
PYEOF
  then return; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing PostgreSQL"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  # A fresh Debian cluster refuses passwordless TCP logins: give the test user a password.
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'crm-test'\"" >/dev/null
  export CRM_TEST_POSTGRES_URL="postgresql://postgres:crm-test@127.0.0.1:5432/postgres"
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_nats() {
  # Events on JetStream: use the server on 127.0.0.1:4222 when it answers; otherwise install
  # Debian's nats-server and start it with JetStream (state under var/nats).
  if [ -n "${CRM_TEST_NATS_URL:-}" ] || port_answers 4222; then return; fi
  if ! command -v nats-server >/dev/null; then
    log "installing nats-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  fi
  mkdir -p "$ROOT/var/nats"
  log "starting nats-server with JetStream on 127.0.0.1:4222"
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$ROOT/var/nats" >"$ROOT/var/nats/server.log" 2>&1 &
  for _ in $(seq 1 30); do port_answers 4222 && break; sleep 0.5; done
}

ensure_redis() {
  # Cluster-wide rate limits: use the server on 127.0.0.1:6379 when it answers; else start one.
  if [ -n "${CRM_TEST_REDIS_URL:-}" ] || port_answers 6379; then return; fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  log "starting redis-server on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 1 30); do port_answers 6379 && break; sleep 0.5; done
}

ensure_chromium() {
  # Browser tests drive Debian's Chromium headless through Playwright (no browser download);
  # a CJK font lets the console's Chinese labels render in its screenshots.
  if command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; then return; fi
  log "installing chromium and a CJK font"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    fonts-wqy-zenhei >/dev/null
}

run_tests() {
  ensure_postgres; ensure_nats; ensure_redis; ensure_chromium
  log "ruff"; "$VENV/bin/ruff" check .
  log "mypy"; "$VENV/bin/mypy" runtime services gateway console demo simulation admin importer
  log "import contracts"; "$VENV/bin/lint-imports" --no-cache
  log "buf lint"; "$VENV/bin/buf" lint
  log "buf breaking"; "$PY" tools/buf_breaking.py
  # Two workers (pytest-xdist): most tests wait on service processes and stores rather than
  # compute, so two run side by side in well under the time of one after the other.
  run_pytest -n "${CRM_TEST_WORKERS:-2}" -m "$DEFAULT_SUITE" "$@"
}

run_pytest() {
  # A later -m from the command line replaces ours. "No tests ran" (status 5) is a failure:
  # a marker or path typo must not pass as a green suite.
  log "pytest $*"
  set +e
  "$VENV/bin/pytest" -q -p no:cacheprovider "$@"
  local status=$?
  set -e
  if [ "$status" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
  exit "$status"
}

ensure_h2load() {
  # The benchmarks drive unary RPCs with h2load (Debian's nghttp2-client).
  command -v h2load >/dev/null && return
  log "installing h2load (nghttp2-client)"
  apt-get install -y -q nghttp2-client >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q nghttp2-client >/dev/null; }
}

cmd=${1:-help}; shift || true
case "$cmd" in
  setup) setup ;;
  test) setup; run_tests "$@" ;;
  soak) setup; ensure_postgres; ensure_nats; ensure_redis; run_pytest -m soak "$@" ;;
  chaos) setup; ensure_postgres; ensure_nats; ensure_redis; run_pytest -m chaos "$@" ;;
  scaleout) setup; ensure_postgres; ensure_nats; run_pytest -m scaleout -s tests/chaos "$@" ;;
  fuzz) setup; run_pytest -m fuzz -s "$@" ;;
  contracts) setup; "$PY" tools/build_contracts.py; run_pytest -m contracts tests/contracts "$@" ;;
  keys) setup; ensure_postgres; run_pytest -m keys "$@" ;;
  load) setup; run_pytest -m load -s "$@" ;;
  security) setup; run_pytest -m security -s "$@" ;;
  metrics) setup; run_pytest -m metrics -s "$@" ;;
  demo) setup; exec "$PY" -m crm_demo "$@" ;;
  bench) setup; ensure_h2load; ensure_postgres; ensure_nats; exec "$PY" -m bench "$@" ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
