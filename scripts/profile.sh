#!/usr/bin/env bash
# Where the service's time and memory go while it drains a backlog: runs the benchmark's backlog scenario (pipeline
# only) and attaches dotnet-counters to the service for the drain, then prints CPU, allocation rate, GC pauses and heap
# sizes, and the broker's CPU beside the service's. Needs dotnet-counters (dotnet tool install -g dotnet-counters).
#   bash scripts/profile.sh [--backlog N | --scenario NAME] [SERVICE_X=y ...]   (SERVICE_X=y reaches the service as X=y)
# --scenario runs another of the benchmark's scenarios (fullsync, burst, ...) instead of the backlog.
set -euo pipefail
cd "$(dirname "$0")/.."
backlog=300000 scenario=backlog
if [ "${1:-}" = "--backlog" ]; then backlog=$2; shift 2; fi
if [ "${1:-}" = "--scenario" ]; then scenario=$2; shift 2; fi
counters=$(command -v dotnet-counters || echo "$HOME/.dotnet/tools/dotnet-counters")
[ -x "$counters" ] || { echo "dotnet-counters not found: dotnet tool install -g dotnet-counters" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Samples once a second, for as long as the service runs: dotnet-counters, and both processes' CPU from /proc.
(
  pid=""
  while [ -z "$pid" ]; do pid=$(pgrep -f "Benchmark/bin/Release/net10.0/Consumer.dll" | head -1 || true); sleep 0.2; done
  "$counters" collect -p "$pid" --refresh-interval 1 --format csv -o "$out/counters.csv" >/dev/null 2>&1 &
  beam=$(pgrep -f beam.smp | head -1 || true)
  ticks() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0; }
  b0=$(ticks "$beam"); s0=$(ticks "$pid")
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    b1=$(ticks "$beam"); s1=$(ticks "$pid")
    echo "$((b1 - b0)) $((s1 - s0))" >>"$out/cpu.txt"
    b0=$b1; s0=$s1
  done
) &
sampler=$!

if [ "$scenario" = backlog ]; then
  env "$@" bash scripts/bench.sh --only backlog --no-baselines --backlog "$backlog" --out "$out/results.md" | grep -E "drained|rows do not match" || true
else
  env "$@" bash scripts/bench.sh --quick --only "$scenario" --no-baselines --out "$out/results.md" | grep -E "this service|rows do not match" || true
fi
wait "$sampler" 2>/dev/null || true

python3 - "$out" <<'EOF'
import collections, csv, os, sys
out = sys.argv[1]
hz = os.sysconf("SC_CLK_TCK")
cpu = [tuple(int(x) for x in l.split()) for l in open(os.path.join(out, "cpu.txt")) if l.strip()]
busy = [c for c in cpu if c[1] > 0]
if busy:
    print(f"CPU while draining (1 = one core): service {sum(c[1] for c in busy) / len(busy) / hz:.2f}, broker {sum(c[0] for c in busy) / len(busy) / hz:.2f}")
series = collections.defaultdict(list)
path = os.path.join(out, "counters.csv")
if os.path.exists(path):
    for row in list(csv.reader(open(path)))[1:]:
        if len(row) == 5:
            series[row[2]].append(float(row[4]))
def show(label, name, scale=1.0, unit=""):
    values = series.get(name)
    if values:
        print(f"{label:44s} mean {sum(values) / len(values) / scale:9.2f}{unit}   max {max(values) / scale:9.2f}{unit}")
show("allocated", "dotnet.gc.heap.total_allocated (By / 1 sec)", 1e6, " MB/s")
if series.get("dotnet.gc.heap.total_allocated (By / 1 sec)"):
    print(f"{'allocated in all':44s} {sum(series['dotnet.gc.heap.total_allocated (By / 1 sec)']) / 1e6:9.0f} MB")
show("GC pause (fraction of wall time)", "dotnet.gc.pause.time (s / 1 sec)")
for gen in ("gen0", "gen1", "gen2"):
    show(f"{gen} collections", f"dotnet.gc.collections ({{collection}} / 1 sec)[gc.heap.generation={gen}]", 1, "/s")
for gen in ("gen1", "gen2", "loh"):
    show(f"{gen} size after last GC", f"dotnet.gc.last_collection.heap.size (By)[gc.heap.generation={gen}]", 1e6, " MB")
show("GC committed", "dotnet.gc.last_collection.memory.committed_size (By)", 1e6, " MB")
show("working set", "dotnet.process.memory.working_set (By)", 1e6, " MB")
show("lock contentions", "dotnet.monitor.lock_contentions ({contention} / 1 sec)", 1, "/s")
EOF
