#!/usr/bin/env bash
# The long fault suite: ≥50,000 events published while the service is killed with kill -9 ten times at random
# moments and restarted, RabbitMQ restarted once mid-run (stop_app/start_app: needs the local broker and root), against
# a simulator failing 20% of calls with 5xx, throttling 5% and answering in 50–500 ms. Checks rows = model, the error
# queue = exactly the deliberately bad events, queues empty; prints the counts. A short version runs in CI
# (FaultSuiteTests). With a RabbitMQ cluster: scripts/cluster-fault-suite.sh (quorum queues, the leader node killed). Options: --events N (50000), --kills K (10), --no-broker-restart, --seed S, --out FILE, --verbose.
# Same set-up as the benchmark (broker, fresh virtual host, Release build): it is a mode of the same program.
exec bash "$(dirname "$0")/bench.sh" fault-suite "$@"
