#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on localhost:5672: installs Debian's rabbitmq-server if missing and starts
# it without systemd. Idempotent. Needs root (or sudo) only when it has to install or start the broker.
set -euo pipefail

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# RabbitMQ's own Prometheus endpoint (port 15692): the dashboard's queue-depth panel, and PrometheusScrapeTests, read it.
prometheus_plugin() {
  if grep -q rabbitmq_prometheus /etc/rabbitmq/enabled_plugins 2>/dev/null; then return 0; fi
  # Not fatal: the broker on 5672 may not be this machine's (a container's, say), or the CLI may be missing.
  if command -v rabbitmq-plugins >/dev/null 2>&1 && $SUDO rabbitmq-plugins enable rabbitmq_prometheus >/dev/null 2>&1; then
    echo "rabbitmq: rabbitmq_prometheus enabled (metrics on :15692)"
  else
    echo "rabbitmq: could not enable rabbitmq_prometheus here (PrometheusScrapeTests needs RabbitMQ's metrics on :15692)" >&2
  fi
}

if port_open; then
  echo "rabbitmq: already answering on localhost:5672"
  prometheus_plugin
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "rabbitmq: installing rabbitmq-server from apt"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rabbitmq-server >/dev/null
fi

echo "rabbitmq: starting"
# A package install may have started it through invoke-rc.d already; starting twice is refused harmlessly.
$SUDO rabbitmq-server -detached >/dev/null 2>&1 || true
# Right after -detached, await_startup can exit 69 before the node has registered: retry.
for _ in $(seq 1 60); do
  if $SUDO rabbitmqctl await_startup >/dev/null 2>&1 && port_open; then
    echo "rabbitmq: up"
    prometheus_plugin
    exit 0
  fi
  sleep 1
done
echo "rabbitmq: did not start within 60 s; see /var/log/rabbitmq" >&2
exit 1
