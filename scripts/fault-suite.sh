#!/usr/bin/env bash
# The long fault suite: ≥50,000 events published while the service is killed with kill -9 ten times at random
# moments and restarted, RabbitMQ restarted once mid-run (stop_app/start_app: needs the local broker and root), against
# a simulator failing 20% of calls with 5xx, throttling 5% and answering in 50–500 ms. Checks rows = model, the error
# queue = exactly the deliberately bad events, queues empty; prints the counts. A short version runs in CI
# (FaultSuiteTests). Options: --events N (50000), --kills K (10), --no-broker-restart, --seed S, --out FILE, --verbose.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RABBITMQ_URI:-}" ]; then
  bash scripts/ensure-rabbitmq.sh
  RABBITMQ_URI=$(bash scripts/fresh-vhost.sh flashduty-faults)
fi
export RABBITMQ_URI DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Benchmark -c Release -nologo -v quiet
dotnet src/Benchmark/bin/Release/net10.0/Benchmark.dll fault-suite "$@"
