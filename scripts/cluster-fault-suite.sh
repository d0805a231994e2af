#!/usr/bin/env bash
# The long cluster fault test (the fault suite's cluster step): the service on quorum queues over a three-node
# cluster (scripts/cluster.sh), the node leading its queue killed with kill -9 while 100,000 events stream in and
# started again later; rows = model, the error queue = exactly the bad events; prints the longest stall. The short
# version (20,000 events, a clean stop) runs with the tests (ClusterFaultTests). Leaves the machine's own broker alone.
# Options: --events N (100000), --stop (a clean stop instead of kill -9), --keep (leave the cluster running).
set -euo pipefail
cd "$(dirname "$0")/.."
events=100000 kill=1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --stop) kill=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "usage: cluster-fault-suite.sh [--events N] [--stop] [--keep]" >&2; exit 2 ;;
  esac
done
bash scripts/cluster.sh up >/dev/null
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 CLUSTER_FAULT_EVENTS="$events" CLUSTER_FAULT_KILL="$kill" KEEP_CLUSTER=1
dotnet build tests/Consumer.Tests -c Release -nologo -v quiet
status=0
dotnet test tests/Consumer.Tests -c Release --no-build -nologo --filter ClusterFaultTests --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "cluster up in|Passed|Failed|Error Message|Exception" || status=1
if [ "$keep" -eq 0 ]; then bash scripts/cluster.sh down; fi
exit $status
