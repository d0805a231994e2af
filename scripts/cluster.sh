#!/usr/bin/env bash
# A three-node RabbitMQ cluster on one machine, from Debian's rabbitmq-server package, without systemd: for the tests,
# the fault suite and a local trial of RabbitMq__QueueType=quorum. It never touches the machine's own broker (node
# rabbit@<host>, AMQP 5672, distribution 25672): its nodes are rabbit-c1..c3@localhost on AMQP 5681-5683 and
# distribution 25681-25683, each with its own data, log and config under $RABBITMQ_CLUSTER_DIR, no plugins (so no
# management listener either), and the cluster's own Erlang cookie. Run as root (or as the owner of the directory).
#
#   cluster.sh up                 start the three nodes (installs rabbitmq-server if missing) and print the addresses
#   cluster.sh down               stop the three nodes and delete their data
#   cluster.sh stop-node N [--kill]   stop node N (1-3) gracefully, or with kill -9
#   cluster.sh start-node N       start node N again (it rejoins with its data)
#   cluster.sh uri                print the nodes' AMQP URIs, comma-separated (for tests; the service takes one URI in
#                                 RabbitMq__Uri and the nodes as host:port in RabbitMq__Nodes: printed on stderr)
#   cluster.sh leader QUEUE [VHOST]   print the node number (1-3) that leads a quorum queue
#   cluster.sh ctl N ARGS...      rabbitmqctl against node N
#
# Environment: RABBITMQ_CLUSTER_DIR (default /var/tmp/flashduty-rabbitmq-cluster), RABBITMQ_CLUSTER_PORT_BASE
# (default 5680: nodes listen on BASE+N and 20000+BASE+N).
set -euo pipefail

DIR="${RABBITMQ_CLUSTER_DIR:-/var/tmp/flashduty-rabbitmq-cluster}"
BASE="${RABBITMQ_CLUSTER_PORT_BASE:-5680}"
BIN=/usr/lib/rabbitmq/bin
NODES=(1 2 3)

node_name() { echo "rabbit-c$1@localhost"; }
amqp_port() { echo $((BASE + $1)); }
dist_port() { echo $((20000 + BASE + $1)); }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_node() {
  case "${1:-}" in 1|2|3) ;; *) echo "cluster.sh: node must be 1, 2 or 3 (got '${1:-}')" >&2; exit 2 ;; esac
}

# The environment of node N: every path of its own, the cluster's cookie (HOME), no /etc/rabbitmq/rabbitmq-env.conf.
node_env() {
  local n=$1 d="$DIR/c$1"
  echo HOME="$DIR" RABBITMQ_NODENAME="$(node_name "$n")" RABBITMQ_USE_LONGNAME=false \
    RABBITMQ_NODE_PORT="$(amqp_port "$n")" RABBITMQ_DIST_PORT="$(dist_port "$n")" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config" RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" \
    RABBITMQ_PID_FILE="$d/pid" RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand"
}

ctl() {
  local n=$1; shift
  # shellcheck disable=SC2046
  env $(node_env "$n") "$BIN/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

prepare() {
  if [ ! -x "$BIN/rabbitmq-server" ]; then
    echo "cluster: installing rabbitmq-server from apt"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  mkdir -p "$DIR"
  if [ ! -f "$DIR/.erlang.cookie" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/.erlang.cookie"
    chmod 400 "$DIR/.erlang.cookie"
  fi
  echo "[]." >"$DIR/enabled_plugins"
  echo "[]." >"$DIR/advanced.config"
  : >"$DIR/rabbitmq-env.conf"
  # classic_config: a node started with an empty database joins the first listed node that answers.
  cat >"$DIR/rabbitmq.conf" <<EOF
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $(node_name 1)
cluster_formation.classic_config.nodes.2 = $(node_name 2)
cluster_formation.classic_config.nodes.3 = $(node_name 3)
# A node cut off from the others pauses (and closes its clients' connections) rather than go on alone: the journal lock
# with quorum queues is an exclusive queue on the holder's node, and only this keeps two holders from each side of a
# partition (README, "Running against a RabbitMQ cluster").
cluster_partition_handling = pause_minority
log.console = false
log.file.level = info
EOF
}

start_node() {
  local n=$1 d="$DIR/c$1"
  mkdir -p "$d/mnesia" "$d/log"
  if port_open "$(amqp_port "$n")"; then return 0; fi
  # shellcheck disable=SC2046
  env $(node_env "$n") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 "$BIN/rabbitmq-server" -detached >"$d/log/startup.log" 2>&1 || true
}

await_node() {
  local n=$1
  for _ in $(seq 1 90); do
    # Right after -detached, await_startup can exit 69 before the node has registered with epmd: retry.
    if ctl "$n" -q await_startup >/dev/null 2>&1 && port_open "$(amqp_port "$n")"; then return 0; fi
    sleep 1
  done
  echo "cluster: node $n did not start within 90 s; see $DIR/c$n/log" >&2
  return 1
}

uris() {
  local out=()
  for n in "${NODES[@]}"; do out+=("amqp://guest:guest@localhost:$(amqp_port "$n")/"); done
  (IFS=,; echo "${out[*]}")
  echo "service: RabbitMq__Uri=amqp://guest:guest@localhost:$(amqp_port 1)/ RabbitMq__Nodes=localhost:$(amqp_port 1),localhost:$(amqp_port 2),localhost:$(amqp_port 3) RabbitMq__QueueType=quorum" >&2
}

cmd="${1:-}"
shift || true
case "$cmd" in
  up)
    started=$(date +%s.%N)
    prepare
    # Node 1 first: started together, three empty nodes can each find nobody and form three clusters.
    start_node 1
    await_node 1
    start_node 2 & start_node 3 & wait
    await_node 2 & p2=$!
    await_node 3 & p3=$!
    wait $p2 && wait $p3
    running=$(ctl 1 -q cluster_status --formatter json | grep -o '"running_nodes":\[[^]]*\]' | grep -o 'rabbit-c[0-9]' | sort -u | wc -l)
    if [ "$running" -ne 3 ]; then
      echo "cluster: only $running of 3 nodes in the cluster; see $DIR/c*/log" >&2
      exit 1
    fi
    echo "cluster: 3 nodes up in $(echo "$(date +%s.%N) - $started" | bc | cut -c1-4) s" >&2
    uris
    ;;
  down)
    for n in "${NODES[@]}"; do
      if [ -f "$DIR/c$n/pid" ]; then
        ctl "$n" -q stop >/dev/null 2>&1 &
      fi
    done
    wait
    for n in "${NODES[@]}"; do
      if [ -f "$DIR/c$n/pid" ] && kill -0 "$(cat "$DIR/c$n/pid")" 2>/dev/null; then kill -9 "$(cat "$DIR/c$n/pid")" || true; fi
    done
    rm -rf "$DIR"
    echo "cluster: down" >&2
    ;;
  stop-node)
    check_node "${1:-}"
    if [ "${2:-}" = "--kill" ]; then
      kill -9 "$(cat "$DIR/c$1/pid")"
      while port_open "$(amqp_port "$1")"; do sleep 0.1; done
    else
      ctl "$1" -q stop
    fi
    echo "cluster: node $1 stopped" >&2
    ;;
  start-node)
    check_node "${1:-}"
    start_node "$1"
    await_node "$1"
    echo "cluster: node $1 up" >&2
    ;;
  uri)
    uris
    ;;
  leader)
    queue="${1:?usage: cluster.sh leader QUEUE [VHOST]}"
    vhost="${2:-/}"
    for n in "${NODES[@]}"; do
      if port_open "$(amqp_port "$n")"; then
        leader=$(ctl "$n" -q list_queues -p "$vhost" name leader --no-table-headers 2>/dev/null | awk -v q="$queue" '$1 == q {print $2}')
        if [ -n "$leader" ]; then echo "$leader" | sed -E 's/^rabbit-c([0-9])@.*/\1/'; exit 0; fi
      fi
    done
    echo "cluster: no leader known for queue '$queue' in vhost '$vhost'" >&2
    exit 1
    ;;
  ctl)
    check_node "${1:-}"
    n=$1; shift
    ctl "$n" "$@"
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
