#!/usr/bin/env bash
# The benchmark: starts RabbitMQ if none answers, builds Release, runs every scenario and baseline, writes
# bench/results.md. --quick runs a scaled-down version (minutes instead of tens of minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${RABBITMQ_URI:-}" ]; then
  bash scripts/ensure-rabbitmq.sh
  # Its own, empty virtual host: queues bound to the inventory exchanges elsewhere would take copies of every event.
  RABBITMQ_URI=$(bash scripts/fresh-vhost.sh flashduty-bench)
fi
export RABBITMQ_URI DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Benchmark -c Release -nologo -v quiet
dotnet src/Benchmark/bin/Release/net10.0/Benchmark.dll "$@"
