#!/usr/bin/env bash
# Usage: scripts/fresh-vhost.sh NAME — (re)creates an empty RabbitMQ virtual host on the local broker, grants the
# guest user on it, and prints its AMQP URI. The tests and the benchmark run in their own virtual host so that they
# never fan out into, or are slowed by, queues bound to the inventory exchanges of `/` (a run-local.sh queue holding
# millions of copies of earlier benchmark events once halved the broker's speed), and so that queues left by a run
# that crashed are gone at the next one. Needs the local rabbitmqctl (root, as ensure-rabbitmq.sh).
set -euo pipefail
name="${1:?usage: fresh-vhost.sh NAME}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO rabbitmqctl -q delete_vhost "$name" >/dev/null 2>&1 || true
$SUDO rabbitmqctl -q add_vhost "$name" >/dev/null
$SUDO rabbitmqctl -q set_permissions -p "$name" guest ".*" ".*" ".*" >/dev/null
echo "amqp://guest:guest@localhost:5672/$name"
