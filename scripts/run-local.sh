#!/usr/bin/env bash
# Runs the service's main job end to end on this machine, without Docker:
#   RabbitMQ (installed from apt if missing) → the Flashduty simulator with the example schemas → the service →
#   sample events from the publisher CLI → the mapping rows read back from Flashduty.
# Ctrl-C stops what it started. With --once it exits after printing the rows.
# To use a real Flashduty account instead of the simulator, set Flashduty__BaseUrl, Flashduty__AppKey and
# Flashduty__SchemaIds__0 (a schema with source label host and result labels among owner, team, service).
set -euo pipefail
cd "$(dirname "$0")/.."
ONCE=0; [ "${1:-}" = "--once" ] && ONCE=1
LOGS=".local/logs"; mkdir -p "$LOGS"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

bash scripts/ensure-rabbitmq.sh
echo "building (Release)…"
dotnet build Consumer.sln -c Release -nologo -v quiet >"$LOGS/build.log" 2>&1 || { tail -n 30 "$LOGS/build.log"; exit 1; }
BIN=Release/net10.0

if [ -z "${Flashduty__BaseUrl:-}" ]; then
  export Flashduty__BaseUrl="http://127.0.0.1:5080" Flashduty__AppKey="local-dev-key"
  export Flashduty__SchemaIds__0="665f1a2b3c4d5e6f7a8b9c01" Flashduty__SchemaIds__1="665f1a2b3c4d5e6f7a8b9c02"
  echo "starting the Flashduty simulator on $Flashduty__BaseUrl (logs: $LOGS/simulator.log)"
  dotnet "src/Flashduty.Simulator/bin/$BIN/Flashduty.Simulator.dll" --urls "$Flashduty__BaseUrl" \
    --Simulator:SeedFile="$PWD/src/Flashduty.Simulator/example-seed.json" --Simulator:AppKeys:0="$Flashduty__AppKey" \
    --Simulator:Faults:LatencyMs=30 >"$LOGS/simulator.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do curl -sf "$Flashduty__BaseUrl/_sim/stats" >/dev/null && break; sleep 0.2; done
else
  echo "using Flashduty at $Flashduty__BaseUrl"
fi
: "${Flashduty__AppKey:?Flashduty__AppKey is required with Flashduty__BaseUrl}"

HEALTH_PORT="${Health__Port:-8080}"
echo "starting the service (health on :$HEALTH_PORT, logs: $LOGS/service.log)"
Health__Port="$HEALTH_PORT" Sync__RetryInterval="00:00:02" \
  dotnet "src/Consumer/bin/$BIN/Consumer.dll" --contentRoot "$PWD/src/Consumer/bin/$BIN" >"$LOGS/service.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$HEALTH_PORT/health/ready" >/dev/null && break
  if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then echo "the service stopped:"; tail -n 20 "$LOGS/service.log"; exit 1; fi
  sleep 0.3
done
echo "service ready"

PUB="dotnet src/Publisher/bin/$BIN/Publisher.dll"
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "publishing sample events"
$PUB host-provisioned --host web-01 --owner alice --team sre --service checkout
$PUB host-provisioned --host web-02 --owner alice --team sre --service checkout --raw
$PUB host-provisioned --host db-01 --owner carol --team data --service postgres --label rack=r12 --raw
$PUB owner-changed --host web-02 --owner bob --previous-owner alice
$PUB host-provisioned --host tmp-01 --owner dave --team sre --service batch --at "$NOW"
$PUB host-decommissioned --host tmp-01 --raw

echo "waiting for Flashduty to hold the rows…"
SCHEMA="$Flashduty__SchemaIds__0"
for _ in $(seq 1 60); do
  out=$($PUB rows --schema "$SCHEMA" 2>/dev/null || true)
  if echo "$out" | grep -q "web-02 *bob" && ! echo "$out" | grep -q "tmp-01"; then break; fi
  sleep 0.5
done
echo
echo "== schema $SCHEMA =="
$PUB rows --schema "$SCHEMA"
if [ -n "${Flashduty__SchemaIds__1:-}" ]; then
  echo
  echo "== schema $Flashduty__SchemaIds__1 =="
  $PUB rows --schema "$Flashduty__SchemaIds__1"
fi

[ "$ONCE" = 1 ] && exit 0
echo
echo "running; publish more with: $PUB --help    (Ctrl-C stops everything this script started)"
wait
